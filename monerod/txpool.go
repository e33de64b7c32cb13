package monerod

import (
	"context"
)

// TxPoolStats is pool_stats from /get_transaction_pool_stats.
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

// PoolTx is what the exporter keeps of one transaction in the pool: the
// blob and its JSON, the bulk of /get_transaction_pool, are not decoded.
type PoolTx struct {
	BlobSize        uint64 `json:"blob_size"`
	Weight          uint64 `json:"weight"`
	Fee             uint64 `json:"fee"` // atomic units
	ReceiveTime     int64  `json:"receive_time"`
	Relayed         bool   `json:"relayed"`
	DoubleSpendSeen bool   `json:"double_spend_seen"`
	KeptByBlock     bool   `json:"kept_by_block"`
}

type txPoolResult struct {
	status
	Transactions []PoolTx `json:"transactions"`
}

// GetTxPool calls /get_transaction_pool. An empty pool is an empty list.
func (c *Client) GetTxPool(ctx context.Context) ([]PoolTx, error) {
	var r txPoolResult
	if err := c.CallPath(ctx, "/"+MethodGetTxPool, nil, &r); err != nil {
		return nil, err
	}
	if r.Transactions == nil {
		r.Transactions = []PoolTx{}
	}
	return r.Transactions, nil
}
