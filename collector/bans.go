package collector

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/monero-ops/monero_exporter/monerod"
	"github.com/monero-ops/monero_exporter/snapshot"
)

// The bans collector: the hosts the node bans.

var (
	bansDesc            = desc("bans", "Hosts banned by the node, from get_bans.")
	banRemainingMinDesc = desc("ban_remaining_min_seconds", "Time left on the ban that ends first, from get_bans. Absent without bans.")
	banRemainingMaxDesc = desc("ban_remaining_max_seconds", "Time left on the ban that ends last, from get_bans. Absent without bans.")
)

func init() {
	registerCollector(Definition{
		Name:    "bans",
		Default: true,
		Summary: "how many hosts the node bans, and the shortest and longest time left on a ban",
		Snapshot: snapshot.Collector{
			Methods:          []string{monerod.MethodGetBans},
			UnrestrictedOnly: true,
			Fetch: func(ctx context.Context, c *monerod.Client, cur, _ *snapshot.Snapshot) (err error) {
				cur.Bans, err = snapshot.RPC(cur, monerod.MethodGetBans, func() ([]monerod.Ban, error) { return c.GetBans(ctx) })
				return err
			},
		},
		descs: []*prometheus.Desc{bansDesc, banRemainingMinDesc, banRemainingMaxDesc},
		emit:  emitBans,
	})
}

func emitBans(ch chan<- prometheus.Metric, s *snapshot.Snapshot) {
	if s.Bans == nil {
		return
	}
	ch <- gauge(bansDesc, float64(len(s.Bans)))
	if len(s.Bans) == 0 {
		return
	}
	lo, hi := s.Bans[0].Seconds, s.Bans[0].Seconds
	for _, b := range s.Bans[1:] {
		lo, hi = min(lo, b.Seconds), max(hi, b.Seconds)
	}
	ch <- gauge(banRemainingMinDesc, float64(lo))
	ch <- gauge(banRemainingMaxDesc, float64(hi))
}
