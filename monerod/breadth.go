package monerod

import (
	"context"
	"encoding/json"
	"fmt"
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

// NetStats is /get_net_stats: the node's P2P traffic since it started.
type NetStats struct {
	status
	StartTime       int64  `json:"start_time"`
	TotalBytesIn    uint64 `json:"total_bytes_in"`
	TotalBytesOut   uint64 `json:"total_bytes_out"`
	TotalPacketsIn  uint64 `json:"total_packets_in"`
	TotalPacketsOut uint64 `json:"total_packets_out"`
}

// GetNetStats calls /get_net_stats (refused by restricted nodes).
func (c *Client) GetNetStats(ctx context.Context) (*NetStats, error) {
	var r NetStats
	if err := c.CallPath(ctx, "/"+MethodGetNetStats, nil, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// Peer is one entry of the node's peer lists.
type Peer struct {
	LastSeen int64  `json:"last_seen"`
	RPCPort  uint16 `json:"rpc_port"`
}

// PeerList is /get_peer_list. monerod leaves out empty lists.
type PeerList struct {
	status
	WhiteList []Peer `json:"white_list"`
	GrayList  []Peer `json:"gray_list"`
}

// GetPeerList calls /get_peer_list (refused by restricted nodes).
func (c *Client) GetPeerList(ctx context.Context) (*PeerList, error) {
	var r PeerList
	if err := c.CallPath(ctx, "/"+MethodGetPeerList, map[string]bool{"public_only": true}, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// Ban is one banned host from get_bans.
type Ban struct {
	Seconds uint64 `json:"seconds"` // left until the ban ends
}

type bansResult struct {
	status
	Bans []Ban `json:"bans"`
}

// GetBans calls get_bans (refused by restricted nodes). No bans is an empty
// list.
func (c *Client) GetBans(ctx context.Context) ([]Ban, error) {
	var r bansResult
	if err := c.CallJSONRPC(ctx, MethodGetBans, nil, &r); err != nil {
		return nil, err
	}
	if r.Bans == nil {
		r.Bans = []Ban{}
	}
	return r.Bans, nil
}

// RPCAccess is the node's own count of one RPC method's use.
type RPCAccess struct {
	RPC     string `json:"rpc"`
	Count   uint64 `json:"count"`
	Time    uint64 `json:"time"` // microseconds in all
	Credits uint64 `json:"credits"`
}

type rpcAccessResult struct {
	status
	Data []RPCAccess `json:"data"`
}

// RPCAccessTracking calls rpc_access_tracking (refused by restricted nodes).
func (c *Client) RPCAccessTracking(ctx context.Context) ([]RPCAccess, error) {
	var r rpcAccessResult
	if err := c.CallJSONRPC(ctx, MethodRPCAccessTracking, nil, &r); err != nil {
		return nil, err
	}
	if r.Data == nil {
		r.Data = []RPCAccess{}
	}
	return r.Data, nil
}

// MiningStatus is /mining_status.
type MiningStatus struct {
	status
	Active             bool   `json:"active"`
	Speed              uint64 `json:"speed"` // hashes per second
	ThreadsCount       uint64 `json:"threads_count"`
	BackgroundMining   bool   `json:"is_background_mining_enabled"`
	BlockTargetSeconds uint64 `json:"block_target"`
}

// GetMiningStatus calls /mining_status (refused by restricted nodes).
func (c *Client) GetMiningStatus(ctx context.Context) (*MiningStatus, error) {
	var r MiningStatus
	if err := c.CallPath(ctx, "/"+MethodMiningStatus, nil, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// FeeEstimate is get_fee_estimate: fees per byte in atomic units.
type FeeEstimate struct {
	status
	Fee              uint64   `json:"fee"`
	Fees             []uint64 `json:"fees"` // by priority: slow, normal, fast, fastest
	QuantizationMask uint64   `json:"quantization_mask"`
}

// GetFeeEstimate calls get_fee_estimate.
func (c *Client) GetFeeEstimate(ctx context.Context) (*FeeEstimate, error) {
	var r FeeEstimate
	if err := c.CallJSONRPC(ctx, MethodGetFeeEstimate, nil, &r); err != nil {
		return nil, err
	}
	return &r, nil
}
