package monerod

import (
	"context"
)

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
