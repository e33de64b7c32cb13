package collector

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/monero-ops/monero_exporter/monerod"
	"github.com/monero-ops/monero_exporter/snapshot"
)

// The peerlist collector: the public entries of the node's peer lists.

var peerlistSeenDesc = desc("peerlist_seen_entries", "Public entries of the node's peer lists now that were last seen within the period (10m, 1h, 1d, 7d, 30d), by list, from get_peer_list last_seen. Cumulative: an entry seen 5 minutes ago counts in every period.", "list", "within")

// seenPeriods are the periods of monero_peerlist_seen_entries' within label.
var seenPeriods = []struct {
	label   string
	seconds int64
}{{"10m", 600}, {"1h", 3600}, {"1d", 86400}, {"7d", 7 * 86400}, {"30d", 30 * 86400}}

func init() {
	registerCollector(Definition{
		Name:    "peerlist",
		Default: false,
		Summary: "how many entries of the white and grey peer lists were seen within the last 10 minutes, hour, day, week and month",
		Note:    "A node keeps thousands of entries",
		Snapshot: snapshot.Collector{
			Methods:          []string{monerod.MethodGetPeerList},
			UnrestrictedOnly: true,
			Fetch: func(ctx context.Context, c *monerod.Client, cur, _ *snapshot.Snapshot) (err error) {
				cur.PeerList, err = snapshot.RPC(cur, monerod.MethodGetPeerList, func() (*monerod.PeerList, error) { return c.GetPeerList(ctx) })
				return err
			},
		},
		descs: []*prometheus.Desc{peerlistSeenDesc},
		emit:  emitPeerList,
	})
}

func emitPeerList(ch chan<- prometheus.Metric, s *snapshot.Snapshot) {
	if s.PeerList == nil {
		return
	}
	now := s.Time.Unix()
	for _, l := range []struct {
		name  string
		peers []monerod.Peer
	}{{"white", s.PeerList.WhiteList}, {"grey", s.PeerList.GrayList}} {
		for _, p := range seenPeriods {
			var n int
			for _, peer := range l.peers {
				if now-peer.LastSeen <= p.seconds {
					n++
				}
			}
			ch <- gauge(peerlistSeenDesc, float64(n), l.name, p.label)
		}
	}
}
