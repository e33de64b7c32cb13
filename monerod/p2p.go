package monerod

import (
	"context"
)

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
