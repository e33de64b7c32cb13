// Package txblob reads the few facts the exporter needs from a serialized
// Monero transaction: its fee, how many inputs and outputs it has, and where
// its prunable part (ring signatures, range proofs) begins.
//
// monerod's /get_transactions gives each transaction as hex, whole or split
// into its pruned part (the prefix and the RingCT base, which holds the
// fee) and its prunable part. Reading the fee from the pruned part saves
// asking monerod for the decoded JSON, which it sends twice and which is
// larger than the transaction itself.
package txblob

import (
	"errors"
	"fmt"
	"math/bits"
)

// Tx is what Parse reads of a transaction.
type Tx struct {
	// Version is 1 (amounts in clear) or 2 (RingCT).
	Version uint64
	// Fee is in atomic units: the RingCT fee field (0 for a miner
	// transaction), or for version 1 the inputs' amounts minus the
	// outputs'.
	Fee uint64
	// Inputs and Outputs count the transaction's inputs and outputs.
	Inputs, Outputs int
	// PrunedSize is the length of the pruned part: the prefix and, for
	// version 2, the RingCT base. What follows is prunable.
	PrunedSize int
}

// ErrMalformed is wrapped by every error of Parse.
var ErrMalformed = errors.New("malformed transaction")

// Input and output variant tags (cryptonote_basic.h).
const (
	tagGen          = 0xff
	tagToScript     = 0x00
	tagToScripthash = 0x01
	tagToKey        = 0x02
	tagToTaggedKey  = 0x03
)

// RingCT types (rctTypes.h) and the size of their per-output amount data.
const (
	rctNull            = 0
	rctFull            = 1
	rctSimple          = 2
	rctBulletproof     = 3
	rctBulletproof2    = 4
	rctCLSAG           = 5
	rctBulletproofPlus = 6
)

const keySize = 32

// Parse reads a transaction blob, whole or only its pruned part: nothing
// past the RingCT base is read. It never panics on bad input.
func Parse(b []byte) (Tx, error) {
	r := reader{b: b}
	var tx Tx
	tx.Version = r.varint()
	if r.err == nil && (tx.Version == 0 || tx.Version > 2) {
		return Tx{}, fmt.Errorf("%w: version %d", ErrMalformed, tx.Version)
	}
	r.varint() // unlock_time
	var in, out uint64
	tx.Inputs = r.count(1)
	for i := 0; i < tx.Inputs && r.err == nil; i++ {
		switch tag := r.byte(); tag {
		case tagGen:
			r.varint() // height
		case tagToKey:
			in = r.add(in, r.varint()) // amount: 0 under RingCT
			for n := r.count(1); n > 0 && r.err == nil; n-- {
				r.varint() // key offset
			}
			r.skip(keySize) // key image
		case tagToScript:
			r.skip(keySize) // prev
			r.varint()      // prevout
			r.skip(r.count(1))
		case tagToScripthash:
			r.skip(keySize) // prev
			r.varint()      // prevout
			r.skip(r.count(keySize) * keySize)
			r.skip(r.count(1)) // script
			r.skip(r.count(1)) // sigset
		default:
			r.fail(fmt.Errorf("input %d: unknown type %#x", i, tag))
		}
	}
	tx.Outputs = r.count(2)
	for i := 0; i < tx.Outputs && r.err == nil; i++ {
		out = r.add(out, r.varint())
		switch tag := r.byte(); tag {
		case tagToKey:
			r.skip(keySize)
		case tagToTaggedKey:
			r.skip(keySize + 1) // key and view tag
		case tagToScript:
			r.skip(r.count(keySize) * keySize)
			r.skip(r.count(1))
		case tagToScripthash:
			r.skip(keySize)
		default:
			r.fail(fmt.Errorf("output %d: unknown type %#x", i, tag))
		}
	}
	r.skip(r.count(1)) // extra
	if tx.Version == 1 {
		// The signatures are the prunable part; the fee is what the
		// inputs hold beyond the outputs (nothing for a miner's).
		if r.err == nil && in >= out {
			tx.Fee = in - out
		}
	} else {
		switch typ := r.byte(); typ {
		case rctNull:
		case rctFull, rctSimple, rctBulletproof, rctBulletproof2, rctCLSAG, rctBulletproofPlus:
			tx.Fee = r.varint()
			if typ == rctSimple {
				r.skip(tx.Inputs * keySize) // pseudo outputs
			}
			ecdh := 2 * keySize // mask and amount
			if typ >= rctBulletproof2 {
				ecdh = 8 // amount only
			}
			r.skip(tx.Outputs * (ecdh + keySize)) // ecdhInfo and outPk
		default:
			r.fail(fmt.Errorf("unknown RingCT type %d", typ))
		}
	}
	if r.err != nil {
		return Tx{}, fmt.Errorf("%w: %w", ErrMalformed, r.err)
	}
	tx.PrunedSize = r.off
	return tx, nil
}

// reader walks a blob; the first error sticks and stops it.
type reader struct {
	b   []byte
	off int
	err error
}

func (r *reader) fail(err error) {
	if r.err == nil {
		r.err = err
	}
}

func (r *reader) byte() byte {
	if r.err != nil {
		return 0
	}
	if r.off >= len(r.b) {
		r.fail(fmt.Errorf("truncated at byte %d", r.off))
		return 0
	}
	c := r.b[r.off]
	r.off++
	return c
}

func (r *reader) skip(n int) {
	if r.err != nil {
		return
	}
	if n < 0 || n > len(r.b)-r.off {
		r.fail(fmt.Errorf("truncated at byte %d: %d more bytes expected", r.off, n))
		return
	}
	r.off += n
}

// varint reads Monero's varint: 7 bits a byte, least significant first.
func (r *reader) varint() uint64 {
	var v uint64
	for shift := uint(0); ; shift += 7 {
		c := r.byte()
		if r.err != nil {
			return 0
		}
		if shift == 63 && c > 1 || shift > 63 {
			r.fail(fmt.Errorf("varint at byte %d overflows 64 bits", r.off))
			return 0
		}
		v |= uint64(c&0x7f) << shift
		if c < 0x80 {
			if c == 0 && shift > 0 {
				r.fail(fmt.Errorf("varint at byte %d is not in its shortest form", r.off))
				return 0
			}
			return v
		}
	}
}

// count reads the length of a list whose elements take at least `least` bytes
// each, refusing one the rest of the blob cannot hold.
func (r *reader) count(least int) int {
	n := r.varint()
	if r.err == nil && n > uint64(len(r.b)-r.off)/uint64(least) {
		r.fail(fmt.Errorf("list of %d at byte %d longer than the blob", n, r.off))
		return 0
	}
	return int(n)
}

// add sums amounts, failing on overflow.
func (r *reader) add(a, b uint64) uint64 {
	s, carry := bits.Add64(a, b, 0)
	if carry != 0 {
		r.fail(errors.New("amounts overflow"))
	}
	return s
}
