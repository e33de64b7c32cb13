package monerod

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
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

// Tx is what the exporter reads of one transaction: its size, fee, and how
// many inputs and outputs it has.
type Tx struct {
	Hash    string
	Size    uint64
	Fee     uint64 // atomic units
	Inputs  int
	Outputs int
}

type rawTx struct {
	TxHash string `json:"tx_hash"`
	AsHex  string `json:"as_hex"`
	AsJSON string `json:"as_json"`
}

type getTransactionsResult struct {
	status
	Txs       []rawTx  `json:"txs"`
	MissedTxs []string `json:"missed_tx"`
}

// txJSON is the part of a transaction's decoded JSON that the exporter uses.
type txJSON struct {
	Vin           []json.RawMessage `json:"vin"`
	Vout          []json.RawMessage `json:"vout"`
	RCTSignatures struct {
		TxnFee uint64 `json:"txnFee"`
	} `json:"rct_signatures"`
}

// MaxTransactionsPerCall is the most transactions one /get_transactions
// call asks for: a restricted monerod refuses more
// (RESTRICTED_TRANSACTIONS_COUNT), and a block may hold more.
const MaxTransactionsPerCall = 100

// GetTransactions calls /get_transactions for hashes, decoding each as JSON,
// in batches of MaxTransactionsPerCall, and returns them in the order asked.
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
	params := map[string]any{"txs_hashes": hashes, "decode_as_json": true}
	var r getTransactionsResult
	if err := c.CallPath(ctx, "/"+MethodGetTransactions, params, &r); err != nil {
		return nil, err
	}
	if len(r.MissedTxs) > 0 {
		return nil, fmt.Errorf("%s: %w: %d transactions missing", MethodGetTransactions, ErrBadResponse, len(r.MissedTxs))
	}
	if len(r.Txs) != len(hashes) {
		return nil, fmt.Errorf("%s: %w: %d transactions for %d hashes", MethodGetTransactions, ErrBadResponse, len(r.Txs), len(hashes))
	}
	out := make([]Tx, 0, len(r.Txs))
	for _, raw := range r.Txs {
		var tj txJSON
		if err := json.Unmarshal([]byte(raw.AsJSON), &tj); err != nil {
			return nil, fmt.Errorf("%s: %w: transaction %s: %w", MethodGetTransactions, ErrBadResponse, raw.TxHash, err)
		}
		out = append(out, Tx{
			Hash:    raw.TxHash,
			Size:    uint64(len(raw.AsHex) / 2),
			Fee:     tj.RCTSignatures.TxnFee,
			Inputs:  len(tj.Vin),
			Outputs: len(tj.Vout),
		})
	}
	return out, nil
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
