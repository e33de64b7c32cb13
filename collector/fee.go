package collector

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/monero-ops/monero_exporter/monerod"
	"github.com/monero-ops/monero_exporter/snapshot"
)

// The fee collector: the node's fee estimate.

var (
	feePerByteDesc      = desc("fee_per_byte_xmr", "Estimated fee per byte in XMR by priority, from get_fee_estimate.", "priority")
	feeQuantizationDesc = desc("fee_quantization_xmr", "Fees are rounded up to a multiple of this amount in XMR, from get_fee_estimate.quantization_mask.")
)

// feePriorities name get_fee_estimate's fees array, in its order.
var feePriorities = []string{"slow", "normal", "fast", "fastest"}

func init() {
	registerCollector(Definition{
		Name:    "fee",
		Default: true,
		Summary: "the estimated fee per byte by priority",
		Snapshot: snapshot.Collector{
			Methods:  []string{monerod.MethodGetFeeEstimate},
			TipBound: true,
			Carry: func(prev, cur *snapshot.Snapshot) bool {
				cur.Fee = prev.Fee
				return prev.Fee != nil
			},
			Fetch: func(ctx context.Context, c *monerod.Client, cur, _ *snapshot.Snapshot) (err error) {
				cur.Fee, err = snapshot.RPC(cur, monerod.MethodGetFeeEstimate, func() (*monerod.FeeEstimate, error) { return c.GetFeeEstimate(ctx) })
				return err
			},
		},
		descs: []*prometheus.Desc{feePerByteDesc, feeQuantizationDesc},
		emit:  emitFee,
	})
}

func emitFee(ch chan<- prometheus.Metric, s *snapshot.Snapshot) {
	f := s.Fee
	if f == nil {
		return
	}
	if len(f.Fees) == len(feePriorities) {
		for i, p := range feePriorities {
			ch <- gauge(feePerByteDesc, xmr(f.Fees[i]), p)
		}
	} else {
		ch <- gauge(feePerByteDesc, xmr(f.Fee), "slow") // nodes before the priority list
	}
	ch <- gauge(feeQuantizationDesc, xmr(f.QuantizationMask))
}
