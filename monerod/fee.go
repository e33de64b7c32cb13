package monerod

import (
	"context"
)

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
