package collector

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/monero-ops/monero_exporter/monerod"
	"github.com/monero-ops/monero_exporter/snapshot"
)

// The peerlist collector: the public entries of the node's peer lists.

var peerlistLastSeenDesc = desc("peerlist_last_seen_age_seconds", "Time since each public peer-list entry was last seen, from get_peer_list.", "list")

func init() {
	registerCollector(Definition{
		Name:    "peerlist",
		Default: false,
		Summary: "how recently the entries of the white and grey peer lists were seen",
		Note:    "A node keeps thousands of entries",
		Snapshot: snapshot.Collector{
			Methods:          []string{monerod.MethodGetPeerList},
			UnrestrictedOnly: true,
			Fetch: func(ctx context.Context, c *monerod.Client, cur, _ *snapshot.Snapshot) (err error) {
				cur.PeerList, err = snapshot.RPC(cur, monerod.MethodGetPeerList, func() (*monerod.PeerList, error) { return c.GetPeerList(ctx) })
				return err
			},
		},
		descs: []*prometheus.Desc{peerlistLastSeenDesc},
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
		ages := make([]float64, 0, len(l.peers))
		for _, p := range l.peers {
			ages = append(ages, float64(max(now-p.LastSeen, 0)))
		}
		ch <- histogram(peerlistLastSeenDesc, lastSeenBuckets, ages, l.name)
	}
}
