package collector

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/monero-ops/monero_exporter/monerod"
	"github.com/monero-ops/monero_exporter/snapshot"
)

// The bans collector: the hosts the node bans.

var (
	bansDesc         = desc("bans", "Hosts banned by the node, from get_bans.")
	banRemainingDesc = desc("ban_remaining_seconds", "Time left on each ban, from get_bans.")
)

func init() {
	registerCollector(Definition{
		Name:    "bans",
		Default: true,
		Summary: "the hosts the node bans and the time left on their bans",
		Snapshot: snapshot.Collector{
			Methods:          []string{monerod.MethodGetBans},
			UnrestrictedOnly: true,
			Fetch: func(ctx context.Context, c *monerod.Client, cur, _ *snapshot.Snapshot) (err error) {
				cur.Bans, err = snapshot.RPC(cur, monerod.MethodGetBans, func() ([]monerod.Ban, error) { return c.GetBans(ctx) })
				return err
			},
		},
		descs: []*prometheus.Desc{bansDesc, banRemainingDesc},
		emit:  emitBans,
	})
}

func emitBans(ch chan<- prometheus.Metric, s *snapshot.Snapshot) {
	if s.Bans == nil {
		return
	}
	left := make([]float64, 0, len(s.Bans))
	for _, b := range s.Bans {
		left = append(left, float64(b.Seconds))
	}
	ch <- gauge(bansDesc, float64(len(s.Bans)))
	ch <- histogram(banRemainingDesc, banBuckets, left)
}
