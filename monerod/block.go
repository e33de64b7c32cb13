package monerod

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/monero-ops/monero_exporter/internal/txblob"
)

// Block is what the exporter reads of one block: its header and the hashes
// of its transactions (the miner transaction excluded).
type Block struct {
	Header   BlockHeader
	TxHashes []string
}

type getBlockResult struct {
	status
	BlockHeader BlockHeader `json:"block_header"`
	TxHashes    []string    `json:"tx_hashes"`
}

// GetBlock calls get_block for the block with the given hash.
func (c *Client) GetBlock(ctx context.Context, hash string) (*Block, error) {
	var r getBlockResult
	if err := c.CallJSONRPC(ctx, MethodGetBlock, map[string]string{"hash": hash}, &r); err != nil {
		return nil, err
	}
	return &Block{Header: r.BlockHeader, TxHashes: r.TxHashes}, nil
}

// Tx is what the exporter reads of one transaction: its size, fee, inputs
// and outputs, and for a pool transaction when the node received it.
type Tx struct {
	Hash    string
	Size    uint64 // bytes of the whole transaction
	Fee     uint64 // atomic units
	Inputs  int
	Outputs int
	// InPool tells a transaction still in the pool from a mined one.
	InPool bool
	// ReceiveTime is when the node received a pool transaction (Unix
	// time); 0 for a mined one, and on a restricted node, which hides it.
	ReceiveTime int64
}

// rawTx is one transaction of /get_transactions. Asked with split, monerod
// gives it in two parts, the pruned one (prefix and RingCT base, which
// holds the fee) and the prunable one (signatures and proofs), of which
// only the length is used; an older node, or a miner transaction, may come
// whole in as_hex.
type rawTx struct {
	TxHash            string  `json:"tx_hash"`
	AsHex             string  `json:"as_hex"`
	Pruned            string  `json:"pruned_as_hex"`
	Prunable          hexSize `json:"prunable_as_hex"`
	InPool            bool    `json:"in_pool"`
	ReceivedTimestamp uint64  `json:"received_timestamp"`
}

// hexSize is the size in bytes of a hex string, read without keeping the
// string: the prunable part is most of a transaction, and only its length
// is used.
type hexSize int

func (h *hexSize) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*h = 0
		return nil
	}
	if len(b) < 2 || b[0] != '"' || b[len(b)-1] != '"' || len(b)%2 != 0 {
		return errors.New("not a hex string")
	}
	for _, c := range b[1 : len(b)-1] {
		switch {
		case '0' <= c && c <= '9', 'a' <= c && c <= 'f', 'A' <= c && c <= 'F':
		default:
			return errors.New("not a hex string")
		}
	}
	*h = hexSize((len(b) - 2) / 2)
	return nil
}

type getTransactionsResult struct {
	status
	Txs       []rawTx  `json:"txs"`
	MissedTxs []string `json:"missed_tx"`
}

// MaxTransactionsPerCall is the most transactions one /get_transactions
// call asks for: a restricted monerod refuses more
// (RESTRICTED_TRANSACTIONS_COUNT), and a block may hold more.
const MaxTransactionsPerCall = 100

// GetTransactions calls /get_transactions for hashes, in batches of
// MaxTransactionsPerCall, and returns what it reads of those the node
// knows, in the order asked: a hash it does not know (a pool transaction
// dropped meanwhile) is left out. The fee, inputs and outputs are read
// from each transaction's blob (split form, no JSON decoding asked).
func (c *Client) GetTransactions(ctx context.Context, hashes []string) ([]Tx, error) {
	out := make([]Tx, 0, len(hashes))
	for batch := range slices.Chunk(hashes, MaxTransactionsPerCall) {
		txs, err := c.getTransactions(ctx, batch)
		if err != nil {
			return nil, err
		}
		out = append(out, txs...)
	}
	return out, nil
}

func (c *Client) getTransactions(ctx context.Context, hashes []string) ([]Tx, error) {
	params := map[string]any{"txs_hashes": hashes, "split": true}
	var r getTransactionsResult
	if err := c.CallPath(ctx, "/"+MethodGetTransactions, params, &r); err != nil {
		return nil, err
	}
	if len(r.Txs)+len(r.MissedTxs) != len(hashes) {
		return nil, fmt.Errorf("%s: %w: %d transactions and %d missed for %d hashes", MethodGetTransactions, ErrBadResponse, len(r.Txs), len(r.MissedTxs), len(hashes))
	}
	out := make([]Tx, 0, len(r.Txs))
	for _, raw := range r.Txs {
		tx, err := raw.tx()
		if err != nil {
			return nil, fmt.Errorf("%s: %w: transaction %s: %w", MethodGetTransactions, ErrBadResponse, raw.TxHash, err)
		}
		out = append(out, tx)
	}
	return out, nil
}

func (raw *rawTx) tx() (Tx, error) {
	blobHex, prunable := raw.AsHex, 0
	if blobHex == "" {
		blobHex, prunable = raw.Pruned, int(raw.Prunable)
	}
	blob, err := hex.DecodeString(blobHex)
	if err != nil {
		return Tx{}, err
	}
	p, err := txblob.Parse(blob)
	if err != nil {
		return Tx{}, err
	}
	tx := Tx{
		Hash: raw.TxHash, Size: uint64(len(blob) + prunable), Fee: p.Fee,
		Inputs: p.Inputs, Outputs: p.Outputs, InPool: raw.InPool,
	}
	if raw.InPool && raw.ReceivedTimestamp <= math.MaxInt64 {
		tx.ReceiveTime = int64(raw.ReceivedTimestamp)
	}
	return tx, nil
}

// MaxHeadersPerCall is the most block headers GetBlockHeadersRange asks
// for in one call; a restricted monerod refuses more than 1000.
const MaxHeadersPerCall = 1000

type headersRangeResult struct {
	status
	Headers []BlockHeader `json:"headers"`
}

// GetBlockHeadersRange calls get_block_headers_range for the blocks from
// height start to end, both included (allowed on restricted nodes, up to
// MaxHeadersPerCall). The headers come oldest first, one per height.
func (c *Client) GetBlockHeadersRange(ctx context.Context, start, end uint64) ([]BlockHeader, error) {
	if end < start || end-start >= MaxHeadersPerCall {
		return nil, fmt.Errorf("%s: heights %d to %d: not 1 to %d blocks", MethodGetHeadersRange, start, end, MaxHeadersPerCall)
	}
	var r headersRangeResult
	if err := c.CallJSONRPC(ctx, MethodGetHeadersRange, map[string]uint64{"start_height": start, "end_height": end}, &r); err != nil {
		return nil, err
	}
	if uint64(len(r.Headers)) != end-start+1 {
		return nil, fmt.Errorf("%s: %w: %d headers for heights %d to %d", MethodGetHeadersRange, ErrBadResponse, len(r.Headers), start, end)
	}
	for i, h := range r.Headers {
		if h.Height != start+uint64(i) {
			return nil, fmt.Errorf("%s: %w: header %d has height %d, want %d", MethodGetHeadersRange, ErrBadResponse, i, h.Height, start+uint64(i))
		}
	}
	return r.Headers, nil
}

// GetBlockHeaderByHeight calls get_block_header_by_height for the block at
// height (counted from 0, the genesis block; allowed on restricted nodes).
// A node whose chain is shorter answers with an error.
func (c *Client) GetBlockHeaderByHeight(ctx context.Context, height uint64) (*BlockHeader, error) {
	var r blockHeaderResult
	if err := c.CallJSONRPC(ctx, MethodHeaderByHeight, map[string]uint64{"height": height}, &r); err != nil {
		return nil, err
	}
	if r.BlockHeader.Height != height || r.BlockHeader.Hash == "" {
		return nil, fmt.Errorf("%s: %w: asked for height %d, got a header of height %d with hash %q", MethodHeaderByHeight, ErrBadResponse, height, r.BlockHeader.Height, r.BlockHeader.Hash)
	}
	return &r.BlockHeader, nil
}
