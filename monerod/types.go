package monerod

import (
	"fmt"
	"math/big"
	"strings"
)

// status is embedded in every result: monerod says "OK" on success.
type status struct {
	Status    string `json:"status"`
	Untrusted bool   `json:"untrusted"`
}

func (s *status) rpcStatus() string { return s.Status }

// rawInfo is get_info as monerod sends it.
type rawInfo struct {
	status
	AdjustedTime          uint64 `json:"adjusted_time"`
	AltBlocksCount        uint64 `json:"alt_blocks_count"`
	BlockSizeLimit        uint64 `json:"block_size_limit"`
	BlockSizeMedian       uint64 `json:"block_size_median"`
	BlockWeightLimit      uint64 `json:"block_weight_limit"`
	BlockWeightMedian     uint64 `json:"block_weight_median"`
	BusySyncing           bool   `json:"busy_syncing"`
	DatabaseSize          uint64 `json:"database_size"`
	FreeSpace             uint64 `json:"free_space"`
	GreyPeerlistSize      uint64 `json:"grey_peerlist_size"`
	Height                uint64 `json:"height"`
	IncomingConnections   uint64 `json:"incoming_connections_count"`
	Nettype               string `json:"nettype"`
	Offline               bool   `json:"offline"`
	OutgoingConnections   uint64 `json:"outgoing_connections_count"`
	Restricted            bool   `json:"restricted"`
	RPCConnections        uint64 `json:"rpc_connections_count"`
	StartTime             uint64 `json:"start_time"`
	Synchronized          bool   `json:"synchronized"`
	Target                uint64 `json:"target"`
	TargetHeight          uint64 `json:"target_height"`
	TopBlockHash          string `json:"top_block_hash"`
	TxCount               uint64 `json:"tx_count"`
	TxPoolSize            uint64 `json:"tx_pool_size"`
	UpdateAvailable       bool   `json:"update_available"`
	Version               string `json:"version"`
	WhitePeerlistSize     uint64 `json:"white_peerlist_size"`
	WideDifficulty        string `json:"wide_difficulty"`
	WideCumulativeDiff    string `json:"wide_cumulative_difficulty"`
	Difficulty            uint64 `json:"difficulty"`
	CumulativeDifficulty  uint64 `json:"cumulative_difficulty"`
	DifficultyTop64       uint64 `json:"difficulty_top64"`
	WasBootstrapEverUsed  bool   `json:"was_bootstrap_ever_used"`
	HeightWithoutBootstrp uint64 `json:"height_without_bootstrap"`
}

func (r *rawInfo) rpcStatus() string { return r.Status }

// Info is get_info. A restricted node masks some fields with made-up values
// (zero counts, a maximal free space, a rounded database size, an empty
// version); those fields are nil here when Restricted is true, so that no
// caller mistakes them for readings.
type Info struct {
	Height            uint64
	TargetHeight      uint64
	Synchronized      bool
	BusySyncing       bool
	Offline           bool
	Restricted        bool
	Nettype           string
	TopBlockHash      string
	Difficulty        float64 // from wide_difficulty; exceeds uint64 in time
	TargetSeconds     uint64
	TxPoolSize        uint64
	TxCount           uint64
	BlockWeightLimit  uint64
	BlockWeightMedian uint64
	AdjustedTime      uint64

	// Masked on restricted nodes: nil there.
	Version             *string
	UpdateAvailable     *bool
	AltBlocks           *uint64
	IncomingConnections *uint64
	OutgoingConnections *uint64
	RPCConnections      *uint64
	WhitePeerlistSize   *uint64
	GreyPeerlistSize    *uint64
	StartTime           *uint64
	DatabaseSize        *uint64
	FreeSpace           *uint64
}

func (r *rawInfo) info() (*Info, error) {
	diff, err := parseWideDifficulty(r.WideDifficulty, r.Difficulty)
	if err != nil {
		return nil, err
	}
	in := &Info{
		Height:            r.Height,
		TargetHeight:      r.TargetHeight,
		Synchronized:      r.Synchronized,
		BusySyncing:       r.BusySyncing,
		Offline:           r.Offline,
		Restricted:        r.Restricted,
		Nettype:           r.Nettype,
		TopBlockHash:      r.TopBlockHash,
		Difficulty:        diff,
		TargetSeconds:     r.Target,
		TxPoolSize:        r.TxPoolSize,
		TxCount:           r.TxCount,
		BlockWeightLimit:  r.BlockWeightLimit,
		BlockWeightMedian: r.BlockWeightMedian,
		AdjustedTime:      r.AdjustedTime,
	}
	if !r.Restricted {
		in.Version = &r.Version
		in.UpdateAvailable = &r.UpdateAvailable
		in.AltBlocks = &r.AltBlocksCount
		in.IncomingConnections = &r.IncomingConnections
		in.OutgoingConnections = &r.OutgoingConnections
		in.RPCConnections = &r.RPCConnections
		in.WhitePeerlistSize = &r.WhitePeerlistSize
		in.GreyPeerlistSize = &r.GreyPeerlistSize
		in.StartTime = &r.StartTime
		in.DatabaseSize = &r.DatabaseSize
		in.FreeSpace = &r.FreeSpace
	}
	return in, nil
}

// parseWideDifficulty reads monerod's hex difficulty ("0x1f3a..."), falling
// back to the 64-bit field when the node is too old to send it.
func parseWideDifficulty(wide string, narrow uint64) (float64, error) {
	if wide == "" {
		return float64(narrow), nil
	}
	hex, ok := strings.CutPrefix(wide, "0x")
	if !ok {
		return 0, fmt.Errorf("%w: wide_difficulty %q is not 0x-prefixed hex", ErrBadResponse, wide)
	}
	// At most 128 bits, digits only: SetString would also take a sign
	// ("0x-1") and any number of digits (+Inf as a float64).
	if hex == "" || len(hex) > 32 || strings.TrimLeft(hex, "0123456789abcdefABCDEF") != "" {
		return 0, fmt.Errorf("%w: wide_difficulty %q is not a 128-bit hex number", ErrBadResponse, wide)
	}
	n, ok := new(big.Int).SetString(hex, 16)
	if !ok {
		return 0, fmt.Errorf("%w: wide_difficulty %q is not hex", ErrBadResponse, wide)
	}
	f, _ := new(big.Float).SetInt(n).Float64()
	return f, nil
}

// BlockHeader is a block header as get_last_block_header returns it.
type BlockHeader struct {
	Hash         string `json:"hash"`
	PrevHash     string `json:"prev_hash"`
	Height       uint64 `json:"height"`
	Timestamp    int64  `json:"timestamp"`
	MajorVersion uint64 `json:"major_version"`
	MinorVersion uint64 `json:"minor_version"`
	BlockSize    uint64 `json:"block_size"`
	BlockWeight  uint64 `json:"block_weight"`
	NumTxes      uint64 `json:"num_txes"`
	Reward       uint64 `json:"reward"` // atomic units
	Depth        uint64 `json:"depth"`
	OrphanStatus bool   `json:"orphan_status"`
	MinerTxHash  string `json:"miner_tx_hash"`
}

type blockHeaderResult struct {
	status
	BlockHeader BlockHeader `json:"block_header"`
}

// HardForkInfo is hard_fork_info.
type HardForkInfo struct {
	status
	Version        uint64 `json:"version"`
	Enabled        bool   `json:"enabled"`
	State          uint64 `json:"state"`
	Threshold      uint64 `json:"threshold"`
	Voting         uint64 `json:"voting"`
	Votes          uint64 `json:"votes"`
	Window         uint64 `json:"window"`
	EarliestHeight uint64 `json:"earliest_height"`
}

// Version is get_version: the RPC interface version (major<<16 | minor),
// the one version a restricted node still tells.
type Version struct {
	status
	Version uint32 `json:"version"`
	Release bool   `json:"release"`
}

// String renders the RPC version as "major.minor".
func (v *Version) String() string {
	return fmt.Sprintf("%d.%d", v.Version>>16, v.Version&0xffff)
}

// Connection is one peer connection from get_connections.
type Connection struct {
	Incoming        bool   `json:"incoming"`
	State           string `json:"state"`
	Height          uint64 `json:"height"`
	LiveTime        uint64 `json:"live_time"`
	AvgDownload     uint64 `json:"avg_download"`
	AvgUpload       uint64 `json:"avg_upload"`
	CurrentDownload uint64 `json:"current_download"`
	CurrentUpload   uint64 `json:"current_upload"`
	RecvCount       uint64 `json:"recv_count"`
	SendCount       uint64 `json:"send_count"`
	RecvIdleTime    uint64 `json:"recv_idle_time"`
	SendIdleTime    uint64 `json:"send_idle_time"`
	PruningSeed     uint32 `json:"pruning_seed"`
	RPCPort         uint16 `json:"rpc_port"`
	Localhost       bool   `json:"localhost"`
	LocalIP         bool   `json:"local_ip"`
	SSL             bool   `json:"ssl"`
}

type connectionsResult struct {
	status
	Connections []Connection `json:"connections"`
}
