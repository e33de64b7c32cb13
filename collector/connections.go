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
	connectionsDesc  = desc("connections", "P2P connections by direction and state, from get_connections.", "direction", "state")
	connLagDesc      = desc("connection_height_lag_blocks", "Our height minus each peer's height, from get_connections (negative: the peer is ahead; refreshed by monerod about once a minute).")
	connAgeDesc      = desc("connection_age_seconds", "How long each P2P connection has been open, from get_connections.live_time.")
	connRecvRateDesc = desc("connection_receive_rate_bytes_per_second", "Current receive rate of each P2P connection, from get_connections.current_download.")
	connSendRateDesc = desc("connection_send_rate_bytes_per_second", "Current send rate of each P2P connection, from get_connections.current_upload.")
)

func init() {
	registerCollector(Definition{
		Name:     snapshot.Connections.Name,
		Default:  true,
		Summary:  "P2P connections by direction and state, and their height lag, age and rates",
		Note:     "The peers and sync health checks make the same call even with this collector off",
		Snapshot: snapshot.Connections,
		descs:    []*prometheus.Desc{connectionsDesc, connLagDesc, connAgeDesc, connRecvRateDesc, connSendRateDesc},
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
	recv, send := make([]float64, 0, n), make([]float64, 0, n)
	for _, c := range s.Connections {
		dir := "outgoing"
		if c.Incoming {
			dir = "incoming"
		}
		counts[key{dir, c.State}]++
		lags = append(lags, float64(s.Info.Height)-float64(c.Height))
		ages = append(ages, float64(c.LiveTime))
		recv = append(recv, float64(c.CurrentDownload)*1024) // monerod reports kB/s
		send = append(send, float64(c.CurrentUpload)*1024)
	}
	for _, k := range slices.SortedFunc(maps.Keys(counts), func(a, b key) int {
		return cmp.Or(cmp.Compare(a.direction, b.direction), cmp.Compare(a.state, b.state))
	}) {
		ch <- gauge(connectionsDesc, float64(counts[k]), k.direction, k.state)
	}
	ch <- histogram(connLagDesc, lagBuckets, lags)
	ch <- histogram(connAgeDesc, connAgeBuckets, ages)
	ch <- histogram(connRecvRateDesc, rateBuckets, recv)
	ch <- histogram(connSendRateDesc, rateBuckets, send)
}
