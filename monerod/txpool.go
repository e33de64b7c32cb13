package monerod

import (
	"context"
	"fmt"
)

// TxPoolStats is pool_stats from /get_transaction_pool_stats. The sizes
// are weights on recent nodes (blob sizes on older ones), which differ for
// transactions of more than two outputs.
type TxPoolStats struct {
	BytesMax        uint64 `json:"bytes_max"`
	BytesMed        uint64 `json:"bytes_med"`
	BytesMin        uint64 `json:"bytes_min"`
	BytesTotal      uint64 `json:"bytes_total"`
	FeeTotal        uint64 `json:"fee_total"` // atomic units
	Num10m          uint64 `json:"num_10m"`
	NumDoubleSpends uint64 `json:"num_double_spends"`
	NumFailing      uint64 `json:"num_failing"`
	NumNotRelayed   uint64 `json:"num_not_relayed"`
	Oldest          int64  `json:"oldest"` // unix time; 0 when empty
	TxsTotal        uint64 `json:"txs_total"`
	// Histo98pc is the age in seconds that the oldest 2% of the pool's
	// transactions have reached (the 98th percentile of their ages); 0 when
	// the pool holds fewer than 50, for which monerod does not tell it.
	Histo98pc uint64 `json:"histo_98pc"`
	// Histo spreads the pool by age, from the youngest: with Histo98pc
	// set, nine bins of equal width up to it, then a tenth for the older
	// ones; otherwise up to ten bins of equal width up to the oldest. Empty
	// with fewer than two transactions. The edges move with every call.
	Histo []TxPoolHistoBin `json:"histo"`
}

// TxPoolHistoBin is one bin of TxPoolStats.Histo.
type TxPoolHistoBin struct {
	Txs   uint64 `json:"txs"`
	Bytes uint64 `json:"bytes"`
}

type txPoolStatsResult struct {
	status
	PoolStats TxPoolStats `json:"pool_stats"`
}

// GetTxPoolStats calls /get_transaction_pool_stats.
func (c *Client) GetTxPoolStats(ctx context.Context) (*TxPoolStats, error) {
	var r txPoolStatsResult
	if err := c.CallPath(ctx, "/"+MethodGetTxPoolStats, nil, &r); err != nil {
		return nil, err
	}
	return &r.PoolStats, nil
}

// TxHash is a transaction's hash, as monerod's binary answers give it.
type TxHash [32]byte

// txPoolHashesBin is /get_transaction_pool_hashes.bin, which despite its
// name answers JSON: its tx_hashes is one string of the raw 32-byte hashes
// end to end (absent when the pool is empty). That takes half the bytes of
// /get_transaction_pool_hashes's list of hex strings, but is not JSON that
// encoding/json reads (see readEpeeObject).
type txPoolHashesBin struct {
	st     string
	hashes []TxHash
}

func (r *txPoolHashesBin) rpcStatus() string { return r.st }

func (r *txPoolHashesBin) decodeBody(b []byte) error {
	obj, err := readEpeeObject(b)
	if err != nil {
		return err
	}
	if st, ok := obj["status"]; ok && st.str {
		r.st = string(st.b)
	}
	blob, err := epeeBlob(obj, "tx_hashes")
	if err != nil {
		return err
	}
	if len(blob)%len(TxHash{}) != 0 {
		return fmt.Errorf("tx_hashes: %d bytes, not a whole number of hashes", len(blob))
	}
	r.hashes = make([]TxHash, len(blob)/len(TxHash{}))
	for i := range r.hashes {
		copy(r.hashes[i][:], blob[i*len(TxHash{}):])
	}
	return nil
}

// GetTxPoolHashes calls /get_transaction_pool_hashes.bin: the hashes of
// the pool's transactions (a restricted node lists the public ones only),
// in no particular order. An empty pool is an empty list.
func (c *Client) GetTxPoolHashes(ctx context.Context) ([]TxHash, error) {
	var r txPoolHashesBin
	if err := c.CallPath(ctx, "/"+MethodGetTxPoolHashes, nil, &r); err != nil {
		return nil, err
	}
	return r.hashes, nil
}
