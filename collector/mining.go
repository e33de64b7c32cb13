package collector

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/monero-ops/monero_exporter/monerod"
	"github.com/monero-ops/monero_exporter/snapshot"
)

// The mining collector: the node's own miner.

var (
	miningActiveDesc     = desc("mining_active", "1 when the node is mining, from mining_status.active.")
	miningThreadsDesc    = desc("mining_threads", "Mining threads, from mining_status.threads_count.")
	miningHashrateDesc   = desc("mining_hashrate_hashes_per_second", "The node's own mining hash rate, from mining_status.speed.")
	miningBackgroundDesc = desc("mining_background", "1 when background mining is enabled, from mining_status.")
)

func init() {
	registerCollector(Definition{
		Name:    "mining",
		Default: true,
		Summary: "whether the node mines, with how many threads and at what hash rate",
		Snapshot: snapshot.Collector{
			Methods:          []string{monerod.MethodMiningStatus},
			UnrestrictedOnly: true,
			Fetch: func(ctx context.Context, c *monerod.Client, cur, _ *snapshot.Snapshot) (err error) {
				cur.Mining, err = snapshot.RPC(cur, monerod.MethodMiningStatus, func() (*monerod.MiningStatus, error) { return c.GetMiningStatus(ctx) })
				return err
			},
		},
		descs: []*prometheus.Desc{miningActiveDesc, miningThreadsDesc, miningHashrateDesc, miningBackgroundDesc},
		emit:  emitMining,
	})
}

func emitMining(ch chan<- prometheus.Metric, s *snapshot.Snapshot) {
	m := s.Mining
	if m == nil {
		return
	}
	ch <- gauge(miningActiveDesc, b2f(m.Active))
	ch <- gauge(miningThreadsDesc, float64(m.ThreadsCount))
	ch <- gauge(miningHashrateDesc, float64(m.Speed))
	ch <- gauge(miningBackgroundDesc, b2f(m.BackgroundMining))
}
