package collector

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/monero-ops/monero_exporter/monerod"
	"github.com/monero-ops/monero_exporter/snapshot"
)

// The net collector: the node's P2P traffic since it started.

var (
	netRecvBytesDesc   = desc("net_received_bytes_total", "P2P bytes received since monerod started, from get_net_stats.")
	netSentBytesDesc   = desc("net_sent_bytes_total", "P2P bytes sent since monerod started, from get_net_stats.")
	netRecvPacketsDesc = desc("net_received_packets_total", "P2P packets received since monerod started, from get_net_stats.")
	netSentPacketsDesc = desc("net_sent_packets_total", "P2P packets sent since monerod started, from get_net_stats.")
)

func init() {
	registerCollector(Definition{
		Name:    "net",
		Default: true,
		Summary: "P2P bytes and packets received and sent",
		Snapshot: snapshot.Collector{
			Methods:          []string{monerod.MethodGetNetStats},
			UnrestrictedOnly: true,
			Fetch: func(ctx context.Context, c *monerod.Client, cur, _ *snapshot.Snapshot) (err error) {
				cur.NetStats, err = snapshot.RPC(cur, monerod.MethodGetNetStats, func() (*monerod.NetStats, error) { return c.GetNetStats(ctx) })
				return err
			},
		},
		descs: []*prometheus.Desc{netRecvBytesDesc, netSentBytesDesc, netRecvPacketsDesc, netSentPacketsDesc},
		emit:  emitNet,
	})
}

func emitNet(ch chan<- prometheus.Metric, s *snapshot.Snapshot) {
	n := s.NetStats
	if n == nil {
		return
	}
	ch <- counter(netRecvBytesDesc, float64(n.TotalBytesIn))
	ch <- counter(netSentBytesDesc, float64(n.TotalBytesOut))
	ch <- counter(netRecvPacketsDesc, float64(n.TotalPacketsIn))
	ch <- counter(netSentPacketsDesc, float64(n.TotalPacketsOut))
}
