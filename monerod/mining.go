package monerod

import (
	"context"
)

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
