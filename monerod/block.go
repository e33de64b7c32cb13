package monerod

import (
	"context"
	"encoding/json"
	"fmt"
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

// GetTransactions calls /get_transactions for hashes, decoding each as JSON.
func (c *Client) GetTransactions(ctx context.Context, hashes []string) ([]Tx, error) {
	if len(hashes) == 0 {
		return []Tx{}, nil
	}
	params := map[string]any{"txs_hashes": hashes, "decode_as_json": true}
	var r getTransactionsResult
	if err := c.CallPath(ctx, "/"+MethodGetTransactions, params, &r); err != nil {
		return nil, err
	}
	if len(r.MissedTxs) > 0 {
		return nil, fmt.Errorf("%s: %w: %d transactions missing", MethodGetTransactions, ErrBadResponse, len(r.MissedTxs))
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
