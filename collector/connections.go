package collector

import (
	"cmp"
	"maps"
	"slices"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/monero-ops/monero_exporter/health"
	"github.com/monero-ops/monero_exporter/snapshot"
)

// The connections collector: the node's P2P connections. The peers and
// sync health checks read the same answer, so its snapshot.Collector lives
// in the snapshot package.

// The states monerod gives a P2P connection; each is always exported (0 when
// none) so that series do not come and go.
var connectionStates = []string{"before_handshake", "synchronizing", "standby", "idle", "normal"}

var (
	connectionsDesc   = desc("connections", "P2P connections by direction and state, from get_connections.", "direction", "state")
	connAheadDesc     = desc("connections_ahead", "P2P connections whose peer reports a height above ours now, from get_connections (monerod refreshes a peer's height about once a minute).")
	connLagMedianDesc = desc("connection_height_lag_median_blocks", "Median over the connections now of our height minus the peer's (negative: peers are ahead), from get_connections; peers that have not told their height yet are left out. Absent without such peers.")
	connAgeMedianDesc = desc("connection_age_median_seconds", "Median time the P2P connections open now have been open, from get_connections.live_time. Absent without connections.")
	connRecvRateDesc  = desc("connections_receive_rate_bytes_per_second", "Current receive rate of all P2P connections together, from get_connections.current_download (monerod's average over the last seconds).")
	connSendRateDesc  = desc("connections_send_rate_bytes_per_second", "Current send rate of all P2P connections together, from get_connections.current_upload (monerod's average over the last seconds).")
)

func init() {
	registerCollector(Definition{
		Name:     snapshot.Connections.Name,
		Default:  true,
		Summary:  "P2P connections now by direction and state, how many peers are ahead, their median height lag and age, and their total rates",
		Note:     "The peers and sync health checks make the same call even with this collector off",
		Snapshot: snapshot.Connections,
		descs:    []*prometheus.Desc{connectionsDesc, connAheadDesc, connLagMedianDesc, connAgeMedianDesc, connRecvRateDesc, connSendRateDesc},
		emit:     emitConnections,
		neededByHealth: func(h health.Config) bool {
			return h.NeedsConnections()
		},
	})
}

func emitConnections(ch chan<- prometheus.Metric, s *snapshot.Snapshot) {
	if s.Connections == nil || s.Info == nil {
		return
	}
	type key struct{ direction, state string }
	counts := map[key]int{}
	for _, dir := range []string{"incoming", "outgoing"} {
		for _, st := range connectionStates {
			counts[key{dir, st}] = 0
		}
	}
	n := len(s.Connections)
	lags, ages := make([]float64, 0, n), make([]float64, 0, n)
	var ahead int
	var recv, send float64
	for _, c := range s.Connections {
		dir := "outgoing"
		if c.Incoming {
			dir = "incoming"
		}
		counts[key{dir, c.State}]++
		if c.Height > 0 {
			lags = append(lags, float64(s.Info.Height)-float64(c.Height))
		}
		if c.Height > s.Info.Height {
			ahead++
		}
		ages = append(ages, float64(c.LiveTime))
		recv += float64(c.CurrentDownload) * 1024 // monerod reports kB/s
		send += float64(c.CurrentUpload) * 1024
	}
	for _, k := range slices.SortedFunc(maps.Keys(counts), func(a, b key) int {
		return cmp.Or(cmp.Compare(a.direction, b.direction), cmp.Compare(a.state, b.state))
	}) {
		ch <- gauge(connectionsDesc, float64(counts[k]), k.direction, k.state)
	}
	ch <- gauge(connAheadDesc, float64(ahead))
	if len(lags) > 0 {
		slices.Sort(lags)
		ch <- gauge(connLagMedianDesc, quantile(lags, 0.5))
	}
	if len(ages) > 0 {
		slices.Sort(ages)
		ch <- gauge(connAgeMedianDesc, quantile(ages, 0.5))
	}
	ch <- gauge(connRecvRateDesc, recv)
	ch <- gauge(connSendRateDesc, send)
}
