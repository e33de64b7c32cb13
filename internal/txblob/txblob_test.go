package txblob_test

import (
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"testing"

	"github.com/monero-ops/monero_exporter/internal/fixtures"
	"github.com/monero-ops/monero_exporter/internal/txblob"
)

// decoded is what monerod's own JSON of a transaction says, to check Parse
// against.
type decoded struct {
	Version int               `json:"version"`
	Vin     []json.RawMessage `json:"vin"`
	Vout    []json.RawMessage `json:"vout"`
	RCT     struct {
		Type   int    `json:"type"`
		TxnFee uint64 `json:"txnFee"`
	} `json:"rct_signatures"`
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func check(t *testing.T, name string, blob []byte, asJSON string, fee uint64) {
	t.Helper()
	var d decoded
	if err := json.Unmarshal([]byte(asJSON), &d); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	tx, err := txblob.Parse(blob)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if tx.Version != uint64(d.Version) || tx.Fee != fee || tx.Fee != d.RCT.TxnFee || tx.Inputs != len(d.Vin) || tx.Outputs != len(d.Vout) {
		t.Errorf("%s: parsed %+v; monerod says version %d, fee %d (JSON %d), %d inputs, %d outputs",
			name, tx, d.Version, fee, d.RCT.TxnFee, len(d.Vin), len(d.Vout))
	}
	if tx.PrunedSize <= 0 || tx.PrunedSize > len(blob) {
		t.Errorf("%s: pruned size %d of %d bytes", name, tx.PrunedSize, len(blob))
	}
	// The pruned part alone is enough.
	if again, err := txblob.Parse(blob[:tx.PrunedSize]); err != nil || again != tx {
		t.Errorf("%s: pruned part alone gives %+v, %v", name, again, err)
	}
	if _, err := txblob.Parse(blob[:tx.PrunedSize-1]); !errors.Is(err, txblob.ErrMalformed) {
		t.Errorf("%s: a truncated pruned part gives %v", name, err)
	}
}

// Parse reads what monerod itself decodes, on every transaction recorded
// from a real node: mined ones, pool ones of two to four outputs, and a
// miner transaction.
func TestParseRecorded(t *testing.T) {
	var mined struct {
		Txs []struct {
			TxHash   string `json:"tx_hash"`
			AsHex    string `json:"as_hex"`
			Pruned   string `json:"pruned_as_hex"`
			Prunable string `json:"prunable_as_hex"`
			AsJSON   string `json:"as_json"`
		} `json:"txs"`
	}
	for _, set := range []string{fixtures.Busy, fixtures.Unrestricted} {
		if err := json.Unmarshal(fixtures.Load(t, set, "/get_transactions"), &mined); err != nil {
			t.Fatal(err)
		}
		for _, tx := range mined.Txs {
			var d decoded
			_ = json.Unmarshal([]byte(tx.AsJSON), &d)
			// monerod gives a miner transaction, which has nothing to
			// prune, in the split form.
			check(t, set+" "+tx.TxHash, mustHex(t, tx.AsHex+tx.Pruned+tx.Prunable), tx.AsJSON, d.RCT.TxnFee)
		}
	}
	outputs := map[int]bool{}
	for _, set := range []string{fixtures.Busy, fixtures.Pool} {
		var pool struct {
			Transactions []struct {
				IDHash   string `json:"id_hash"`
				TxBlob   string `json:"tx_blob"`
				TxJSON   string `json:"tx_json"`
				Fee      uint64 `json:"fee"`
				BlobSize int    `json:"blob_size"`
			} `json:"transactions"`
		}
		if err := json.Unmarshal(fixtures.Load(t, set, "/get_transaction_pool"), &pool); err != nil {
			t.Fatal(err)
		}
		for _, tx := range pool.Transactions {
			blob := mustHex(t, tx.TxBlob)
			if len(blob) != tx.BlobSize {
				t.Fatalf("%s: blob of %d bytes, blob_size %d", tx.IDHash, len(blob), tx.BlobSize)
			}
			check(t, set+" "+tx.IDHash, blob, tx.TxJSON, tx.Fee)
			var d decoded
			_ = json.Unmarshal([]byte(tx.TxJSON), &d)
			outputs[len(d.Vout)] = true
		}
	}
	if !outputs[2] || !outputs[3] || !outputs[4] {
		t.Errorf("the recorded pools hold transactions of %v outputs, want 2, 3 and 4", outputs)
	}
}

// The pruned part's length is where monerod splits the transaction in
// /get_transactions (split form).
func TestPrunedSizeIsMonerodsSplit(t *testing.T) {
	var res struct {
		Txs []struct {
			Pruned   string `json:"pruned_as_hex"`
			Prunable string `json:"prunable_as_hex"`
		} `json:"txs"`
	}
	if err := json.Unmarshal(fixtures.Load(t, fixtures.Pool, "/get_transactions"), &res); err != nil || len(res.Txs) == 0 {
		t.Fatalf("%d transactions: %v", len(res.Txs), err)
	}
	for i, tx := range res.Txs {
		pruned := mustHex(t, tx.Pruned)
		whole := append(pruned, mustHex(t, tx.Prunable)...)
		p, err := txblob.Parse(whole)
		if err != nil || p.PrunedSize != len(pruned) {
			t.Errorf("transaction %d: pruned size %d, monerod's pruned part %d bytes (%v)", i, p.PrunedSize, len(pruned), err)
		}
	}
}

// appendVarint is Monero's varint, which encoding/binary's uvarint is.
func appendVarint(b []byte, v uint64) []byte { return binary.AppendUvarint(b, v) }

// A version 1 transaction (amounts in clear, no RingCT) pays what its
// inputs hold beyond its outputs.
func TestParseVersion1(t *testing.T) {
	b := appendVarint(nil, 1)
	b = appendVarint(b, 0)
	b = appendVarint(b, 2) // inputs
	for _, amount := range []uint64{7_000, 5_000} {
		b = append(b, 0x02)
		b = appendVarint(b, amount)
		b = appendVarint(b, 1)
		b = appendVarint(b, 12345)
		b = append(b, make([]byte, 32)...)
	}
	b = appendVarint(b, 1) // outputs
	b = appendVarint(b, 11_000)
	b = append(b, 0x02)
	b = append(b, make([]byte, 32)...)
	b = appendVarint(b, 3)
	b = append(b, 1, 2, 3)
	prefix := len(b)
	b = append(b, make([]byte, 128)...) // signatures: prunable
	tx, err := txblob.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if want := (txblob.Tx{Version: 1, Fee: 1_000, Inputs: 2, Outputs: 1, PrunedSize: prefix}); tx != want {
		t.Errorf("parsed %+v, want %+v", tx, want)
	}
}

func TestParseRejects(t *testing.T) {
	for name, b := range map[string][]byte{
		"empty":           nil,
		"version 0":       {0x00, 0x00},
		"version 3":       {0x03, 0x00},
		"long varint":     {0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x02},
		"padded varint":   {0x82, 0x00},
		"too many inputs": {0x02, 0x00, 0xff, 0xff, 0x03},
		"unknown input":   {0x02, 0x00, 0x01, 0x07},
		"unknown RingCT":  {0x02, 0x00, 0x00, 0x00, 0x00, 0x09},
	} {
		if tx, err := txblob.Parse(b); !errors.Is(err, txblob.ErrMalformed) {
			t.Errorf("%s: %+v, %v", name, tx, err)
		}
	}
}

func FuzzParse(f *testing.F) {
	var pool struct {
		Transactions []struct {
			TxBlob string `json:"tx_blob"`
		} `json:"transactions"`
	}
	_ = json.Unmarshal(fixtures.Load(f, fixtures.Pool, "/get_transaction_pool"), &pool)
	for _, tx := range pool.Transactions {
		b, _ := hex.DecodeString(tx.TxBlob)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		tx, err := txblob.Parse(b)
		if err == nil && (tx.PrunedSize > len(b) || tx.Inputs < 0 || tx.Outputs < 0) {
			t.Fatalf("%+v from %d bytes", tx, len(b))
		}
	})
}
