package collector

import (
	"context"
	"maps"
	"slices"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/monero-ops/monero_exporter/monerod"
	"github.com/monero-ops/monero_exporter/snapshot"
)

// The rpc_access collector: monerod's own count of the RPC requests it
// served.

var (
	rpcAccessRequestsDesc = desc("rpc_access_requests_total", "RPC requests monerod served, by method, from rpc_access_tracking.", "method")
	rpcAccessTimeDesc     = desc("rpc_access_time_seconds_total", "Time monerod spent serving RPC requests, by method, from rpc_access_tracking.", "method")
	rpcAccessCreditsDesc  = desc("rpc_access_credits_total", "RPC payment credits charged, by method, from rpc_access_tracking.", "method")
)

func init() {
	registerCollector(Definition{
		Name:    "rpc_access",
		Default: false,
		Summary: "the RPC requests monerod served, the time it spent on them and the credits it charged, by method",
		Note:    "One series per RPC method monerod has served, each a label value",
		Snapshot: snapshot.Collector{
			Methods:          []string{monerod.MethodRPCAccessTracking},
			UnrestrictedOnly: true,
			Fetch: func(ctx context.Context, c *monerod.Client, cur, _ *snapshot.Snapshot) (err error) {
				cur.RPCAccess, err = snapshot.RPC(cur, monerod.MethodRPCAccessTracking, func() ([]monerod.RPCAccess, error) { return c.RPCAccessTracking(ctx) })
				return err
			},
		},
		descs: []*prometheus.Desc{rpcAccessRequestsDesc, rpcAccessTimeDesc, rpcAccessCreditsDesc},
		emit:  emitRPCAccess,
	})
}

func emitRPCAccess(ch chan<- prometheus.Metric, s *snapshot.Snapshot) {
	if s.RPCAccess == nil {
		return
	}
	// Sum by method so that a repeated entry cannot make duplicate series.
	byMethod := map[string]monerod.RPCAccess{}
	for _, a := range s.RPCAccess {
		t := byMethod[a.RPC]
		t.Count += a.Count
		t.Time += a.Time
		t.Credits += a.Credits
		byMethod[a.RPC] = t
	}
	for _, m := range slices.Sorted(maps.Keys(byMethod)) {
		a := byMethod[m]
		ch <- counter(rpcAccessRequestsDesc, float64(a.Count), m)
		ch <- counter(rpcAccessTimeDesc, float64(a.Time)/1e6, m)
		ch <- counter(rpcAccessCreditsDesc, float64(a.Credits), m)
	}
}
