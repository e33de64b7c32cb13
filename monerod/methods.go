package monerod

import (
	"context"
	"fmt"
)

// Method names, as monerod knows them and as they appear in metric labels.
const (
	MethodGetInfo           = "get_info"
	MethodLastBlockHeader   = "get_last_block_header"
	MethodHardForkInfo      = "hard_fork_info"
	MethodGetVersion        = "get_version"
	MethodGetConnections    = "get_connections"
	MethodGetTxPoolStats    = "get_transaction_pool_stats"
	MethodGetTxPoolHashes   = "get_transaction_pool_hashes.bin"
	MethodGetNetStats       = "get_net_stats"
	MethodGetPeerList       = "get_peer_list"
	MethodGetBans           = "get_bans"
	MethodRPCAccessTracking = "rpc_access_tracking"
	MethodMiningStatus      = "mining_status"
	MethodGetFeeEstimate    = "get_fee_estimate"
	MethodGetBlock          = "get_block"
	MethodGetTransactions   = "get_transactions"
	MethodGetHeadersRange   = "get_block_headers_range"
	MethodHeaderByHeight    = "get_block_header_by_height"
)

// GetInfo calls get_info.
func (c *Client) GetInfo(ctx context.Context) (*Info, error) {
	var r rawInfo
	if err := c.CallJSONRPC(ctx, MethodGetInfo, nil, &r); err != nil {
		return nil, err
	}
	info, err := r.info()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", MethodGetInfo, err)
	}
	return info, nil
}

// GetLastBlockHeader calls get_last_block_header.
func (c *Client) GetLastBlockHeader(ctx context.Context) (*BlockHeader, error) {
	var r blockHeaderResult
	if err := c.CallJSONRPC(ctx, MethodLastBlockHeader, nil, &r); err != nil {
		return nil, err
	}
	return &r.BlockHeader, nil
}

// HardForkInfo calls hard_fork_info.
func (c *Client) HardForkInfo(ctx context.Context) (*HardForkInfo, error) {
	var r HardForkInfo
	if err := c.CallJSONRPC(ctx, MethodHardForkInfo, nil, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// GetVersion calls get_version.
func (c *Client) GetVersion(ctx context.Context) (*Version, error) {
	var r Version
	if err := c.CallJSONRPC(ctx, MethodGetVersion, nil, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// GetConnections calls get_connections (refused by restricted nodes). No
// peers is an empty list: monerod then leaves the key out.
func (c *Client) GetConnections(ctx context.Context) ([]Connection, error) {
	var r connectionsResult
	if err := c.CallJSONRPC(ctx, MethodGetConnections, nil, &r); err != nil {
		return nil, err
	}
	if r.Connections == nil {
		r.Connections = []Connection{}
	}
	return r.Connections, nil
}
