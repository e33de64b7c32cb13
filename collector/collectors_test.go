package collector

import (
	"encoding/json"
	"maps"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/monero-ops/monero_exporter/internal/fixtures"
	"github.com/monero-ops/monero_exporter/internal/testenv"
	"github.com/monero-ops/monero_exporter/monerod"
	"github.com/monero-ops/monero_exporter/snapshot"
)

// raw decodes a fixture generically, independent of the monerod package's
// types, so that the expectations below are not derived from the code under
// test. JSON-RPC answers are unwrapped to their "result".
func raw(t *testing.T, set, name string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(fixtures.Load(t, set, name), &m); err != nil {
		t.Fatal(err)
	}
	if r, ok := m["result"].(map[string]any); ok {
		return r
	}
	return m
}

func num(v any) float64 { f, _ := v.(float64); return f }

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }

func TestTxPoolCollector(t *testing.T) {
	srv := fixtures.NewServer(t, fixtures.Busy, nil)
	mfs := testenv.Gather(t, newCollector(t, srv.URL, "txpool"))
	stats := raw(t, fixtures.Busy, "/get_transaction_pool_stats")["pool_stats"].(map[string]any)
	for name, want := range map[string]float64{
		"monero_tx_pool_size_bytes":                    num(stats["bytes_total"]),
		"monero_tx_pool_fees_xmr":                      num(stats["fee_total"]) / 1e12,
		"monero_tx_pool_failing_transactions":          num(stats["num_failing"]),
		"monero_tx_pool_double_spend_transactions":     num(stats["num_double_spends"]),
		"monero_tx_pool_not_relayed_transactions":      num(stats["num_not_relayed"]),
		"monero_tx_pool_transactions_older_10m":        num(stats["num_10m"]),
		"monero_tx_pool_oldest_timestamp_seconds":      num(stats["oldest"]),
		"monero_tx_pool_transaction_size_median_bytes": num(stats["bytes_med"]),
		"monero_tx_pool_transaction_size_max_bytes":    num(stats["bytes_max"]),
		"monero_scrape_collector_success{txpool}":      1,
		"monero_scrape_collector_skipped{txpool}":      0,
	} {
		var got float64
		switch {
		case strings.HasSuffix(name, "{txpool}"):
			got = testenv.MustSeries(t, mfs, strings.TrimSuffix(name, "{txpool}"), "collector", "txpool").GetGauge().GetValue()
		default:
			got = testenv.MustSeries(t, mfs, name).GetGauge().GetValue()
		}
		if !near(got, want) {
			t.Errorf("%s = %g, fixture says %g", name, got, want)
		}
	}
	if num(stats["txs_total"]) == 0 {
		t.Fatal("the busy fixture's pool is empty: the fee bands are not exercised")
	}
	var inBands float64
	for _, m := range mfs["monero_tx_pool_fee_band_transactions"].GetMetric() {
		inBands += m.GetGauge().GetValue()
	}
	if inBands != num(stats["txs_total"]) {
		t.Errorf("the fee bands hold %g transactions, the pool %g", inBands, num(stats["txs_total"]))
	}
	var rates []float64
	for _, tx := range raw(t, fixtures.Busy, "/get_transaction_pool")["transactions"].([]any) {
		m := tx.(map[string]any)
		rates = append(rates, num(m["fee"])/1e12/num(m["blob_size"]))
	}
	slices.Sort(rates)
	if got := testenv.MustSeries(t, mfs, "monero_tx_pool_fee_per_byte_median_xmr").GetGauge().GetValue(); !near(got, rates[len(rates)/2]) && !near(got, (rates[len(rates)/2-1]+rates[len(rates)/2])/2) {
		t.Errorf("median fee per byte %g, pool says %v", got, rates)
	}
	if got := testenv.MustSeries(t, mfs, "monero_tx_pool_known_transactions").GetGauge().GetValue(); got != num(stats["txs_total"]) {
		t.Errorf("%g transactions known of %g", got, num(stats["txs_total"]))
	}
	if srv.Calls("/get_transaction_pool") != 0 {
		t.Errorf("/get_transaction_pool asked %d times", srv.Calls("/get_transaction_pool"))
	}
}

// TestTxPoolGauges checks the pool's bands and quantiles on a pool made up
// for them.
func TestTxPoolGauges(t *testing.T) {
	now := time.Unix(1795324100, 0)
	pool := []struct {
		size, fee uint64
		received  int64
	}{
		{1000, 4000000, now.Unix() - 10},    // 4e-9 XMR/B: the lowest band
		{1000, 5000000, now.Unix() - 20},    // 5e-9: on the edge, same band
		{2000, 40000000, now.Unix() - 30},   // 2e-8
		{1500, 300000000, now.Unix() - 40},  // 2e-7
		{1000, 1000000000, now.Unix() + 50}, // 1e-6, from a clock ahead: age 0
		{100, 100000000, now.Unix() - 3600}, // 1e-6
		{100, 30000000000, now.Unix() - 60}, // 3e-4: above every edge
		{50, 50, now.Unix() - 70},           // 1e-12
	}
	txs := &snapshot.PoolTxs{Known: len(pool)}
	for _, tx := range pool {
		txs.FeePerByte = append(txs.FeePerByte, float64(tx.fee)/1e12/float64(tx.size))
		txs.ReceiveTimes = append(txs.ReceiveTimes, tx.received)
	}
	slices.Sort(txs.FeePerByte)
	slices.Sort(txs.ReceiveTimes)
	snap := &snapshot.Snapshot{
		Time:        now,
		TxPoolStats: &monerod.TxPoolStats{TxsTotal: uint64(len(pool)), BytesMed: 1000, BytesMax: 2000, Oldest: now.Unix() - 3600, Histo98pc: 3500},
		TxPoolTxs:   txs,
		Collectors:  map[string]snapshot.CollectorStatus{},
	}
	mfs := emitted(t, snap, "txpool")
	bands := map[string]float64{}
	for _, m := range mfs["monero_tx_pool_fee_band_transactions"].GetMetric() {
		bands[m.GetLabel()[0].GetValue()] = m.GetGauge().GetValue()
	}
	want := map[string]float64{"5e-09": 3, "1e-08": 0, "2e-08": 1, "5e-08": 0, "1e-07": 0, "2e-07": 1, "5e-07": 0, "1e-06": 2, "5e-06": 0, "2e-05": 0, "+Inf": 1}
	if !maps.Equal(bands, want) {
		t.Errorf("bands %v, want %v", bands, want)
	}
	// Rates sorted: 1e-12 4e-9 5e-9 2e-8 2e-7 1e-6 1e-6 3e-4; median
	// between 2e-8 and 2e-7, p90 between 1e-6 and 3e-4 (rank 6.3).
	for name, want := range map[string]float64{
		"monero_tx_pool_fee_per_byte_median_xmr":       (2e-8 + 2e-7) / 2,
		"monero_tx_pool_fee_per_byte_p90_xmr":          1e-6 + 0.3*(3e-4-1e-6),
		"monero_tx_pool_age_median_seconds":            35, // 0 10 20 30 40 60 70 3600
		"monero_tx_pool_oldest_age_seconds":            3600,
		"monero_tx_pool_age_p98_seconds":               3500,
		"monero_tx_pool_known_transactions":            8,
		"monero_tx_pool_transaction_size_median_bytes": 1000,
		"monero_tx_pool_transaction_size_max_bytes":    2000,
	} {
		if got := testenv.MustSeries(t, mfs, name).GetGauge().GetValue(); !near(got, want) {
			t.Errorf("%s = %g, want %g", name, got, want)
		}
	}

	// A restricted node hides arrival times: no median age.
	txs.ReceiveTimes = nil
	if _, ok := emitted(t, snap, "txpool")["monero_tx_pool_age_median_seconds"]; ok {
		t.Error("a median age without arrival times")
	}

	// An empty pool: zero in every band, no quantile of nothing.
	snap.TxPoolTxs, snap.TxPoolStats = &snapshot.PoolTxs{}, &monerod.TxPoolStats{}
	mfs = emitted(t, snap, "txpool")
	for _, name := range []string{
		"monero_tx_pool_fee_per_byte_median_xmr", "monero_tx_pool_fee_per_byte_p90_xmr", "monero_tx_pool_age_median_seconds",
		"monero_tx_pool_oldest_age_seconds", "monero_tx_pool_transaction_size_median_bytes", "monero_tx_pool_transaction_size_max_bytes",
		"monero_tx_pool_age_p98_seconds",
	} {
		if _, ok := mfs[name]; ok {
			t.Errorf("%s exported for an empty pool", name)
		}
	}
	if n := len(mfs["monero_tx_pool_fee_band_transactions"].GetMetric()); n != len(feeBandEdges)+1 {
		t.Errorf("%d bands for an empty pool", n)
	}
}

// The pool's hashes are listed only when its stats change, and each
// transaction is fetched once; the whole pool is never read.
func TestTxPoolListedOnlyWhenPoolChanges(t *testing.T) {
	srv := fixtures.NewServer(t, fixtures.Busy, nil)
	c := newCollector(t, srv.URL, "txpool")
	for range 3 {
		testenv.Gather(t, c)
	}
	if got := srv.Calls("/get_transaction_pool_stats"); got != 3 {
		t.Fatalf("stats asked %d times in 3 scrapes", got)
	}
	if got := srv.Calls("/" + monerod.MethodGetTxPoolHashes); got != 1 {
		t.Errorf("the unchanged pool was listed %d times in 3 scrapes, want 1", got)
	}
	if got := srv.Calls("/get_transactions"); got != 1 {
		t.Errorf("get_transactions asked %d times for one pool, want 1", got)
	}
	if got := srv.Calls("/get_transaction_pool"); got != 0 {
		t.Errorf("the whole pool read %d times", got)
	}
}

func TestLastBlockCollector(t *testing.T) {
	srv := fixtures.NewServer(t, fixtures.Busy, nil)
	c := newCollector(t, srv.URL, "last_block")
	mfs := testenv.Gather(t, c)
	var fees float64
	txs := raw(t, fixtures.Busy, "/get_transactions")["txs"].([]any)
	for _, tx := range txs {
		m := tx.(map[string]any)
		var j map[string]any
		if err := json.Unmarshal([]byte(m["as_json"].(string)), &j); err != nil {
			t.Fatal(err)
		}
		fees += num(j["rct_signatures"].(map[string]any)["txnFee"])
	}
	if len(txs) == 0 {
		t.Fatal("the busy fixture's tip has no transactions")
	}
	reward := num(raw(t, fixtures.Busy, "get_block")["block_header"].(map[string]any)["reward"])
	if got := testenv.MustSeries(t, mfs, "monero_last_block_fees_xmr").GetGauge().GetValue(); !near(got, fees/1e12) {
		t.Errorf("fees %g XMR, transactions say %g", got, fees/1e12)
	}
	if got := testenv.MustSeries(t, mfs, "monero_last_block_subsidy_xmr").GetGauge().GetValue(); !near(got, (reward-fees)/1e12) {
		t.Errorf("subsidy %g XMR, want %g", got, (reward-fees)/1e12)
	}
	// The tip at start is the past: nothing observed.
	if n, _ := hist(t, mfs, "monero_block_transaction_size_bytes"); n != 0 {
		t.Errorf("the tip at start counted: %d transactions", n)
	}
	// The tip is unchanged: the next scrapes reuse the block.
	testenv.Gather(t, c)
	testenv.Gather(t, c)
	if srv.Calls("get_block") != 1 || srv.Calls("/get_transactions") != 1 || srv.Calls(monerod.MethodGetHeadersRange) != 0 {
		t.Errorf("get_block %d, get_transactions %d, get_block_headers_range %d calls for one tip",
			srv.Calls("get_block"), srv.Calls("/get_transactions"), srv.Calls(monerod.MethodGetHeadersRange))
	}
}

func TestConnectionsCollector(t *testing.T) {
	srv := fixtures.NewServer(t, fixtures.Busy, nil)
	mfs := testenv.Gather(t, newCollector(t, srv.URL, "connections"))
	conns := raw(t, fixtures.Busy, "get_connections")["connections"].([]any)
	height := num(raw(t, fixtures.Busy, "get_info")["height"])
	want := map[[2]string]float64{}
	for _, c := range conns {
		m := c.(map[string]any)
		dir := "outgoing"
		if m["incoming"].(bool) {
			dir = "incoming"
		}
		want[[2]string{dir, m["state"].(string)}]++
	}
	if len(conns) == 0 {
		t.Fatal("the busy fixture has no connections")
	}
	for _, dir := range []string{"incoming", "outgoing"} {
		for _, st := range connectionStates {
			got := testenv.MustSeries(t, mfs, "monero_connections", "direction", dir, "state", st).GetGauge().GetValue()
			if got != want[[2]string{dir, st}] {
				t.Errorf("connections{%s,%s} = %g, want %g", dir, st, got, want[[2]string{dir, st}])
			}
		}
	}
	var lags []float64
	for _, c := range conns {
		if h := num(c.(map[string]any)["height"]); h > 0 {
			lags = append(lags, height-h)
		}
	}
	slices.Sort(lags)
	if len(lags) == 0 {
		t.Fatal("no peer in the busy fixture told its height")
	}
	if got := testenv.MustSeries(t, mfs, "monero_connection_height_lag_median_blocks").GetGauge().GetValue(); got < lags[0] || got > lags[len(lags)-1] {
		t.Errorf("median lag %g, connections say %v", got, lags)
	}
}

// TestConnectionGauges checks the connections' summaries on connections
// made up for them.
func TestConnectionGauges(t *testing.T) {
	snap := &snapshot.Snapshot{
		Time: time.Now(),
		Info: &monerod.Info{Height: 100},
		Connections: []monerod.Connection{
			{State: "normal", Height: 100, LiveTime: 60, CurrentDownload: 1, CurrentUpload: 2},
			{State: "normal", Height: 103, LiveTime: 600, Incoming: true, CurrentDownload: 3},
			{State: "synchronizing", Height: 90, LiveTime: 10},
			{State: "before_handshake", Height: 0, LiveTime: 1}, // no height yet
		},
		Collectors: map[string]snapshot.CollectorStatus{},
	}
	mfs := emitted(t, snap, "connections")
	for name, want := range map[string]float64{
		"monero_connections_ahead":                         1,
		"monero_connection_height_lag_median_blocks":       0, // -3 0 10
		"monero_connection_age_median_seconds":             35,
		"monero_connections_receive_rate_bytes_per_second": 4096,
		"monero_connections_send_rate_bytes_per_second":    2048,
	} {
		if got := testenv.MustSeries(t, mfs, name).GetGauge().GetValue(); got != want {
			t.Errorf("%s = %g, want %g", name, got, want)
		}
	}
	snap.Connections = []monerod.Connection{}
	mfs = emitted(t, snap, "connections")
	for _, name := range []string{"monero_connection_height_lag_median_blocks", "monero_connection_age_median_seconds"} {
		if _, ok := mfs[name]; ok {
			t.Errorf("%s exported without connections", name)
		}
	}
	if testenv.MustSeries(t, mfs, "monero_connections_ahead").GetGauge().GetValue() != 0 {
		t.Error("peers ahead without connections")
	}
}

func TestSmallCollectors(t *testing.T) {
	srv := fixtures.NewServer(t, fixtures.Busy, nil)
	mfs := testenv.Gather(t, newCollector(t, srv.URL, "net", "bans", "mining", "fee",
		"rpc_access", "peerlist"))
	net := raw(t, fixtures.Busy, "/get_net_stats")
	mining := raw(t, fixtures.Busy, "/mining_status")
	fee := raw(t, fixtures.Busy, "get_fee_estimate")
	b2f := func(v any) float64 {
		if v.(bool) {
			return 1
		}
		return 0
	}
	checks := map[string]float64{
		"monero_net_received_bytes_total":          num(net["total_bytes_in"]),
		"monero_net_sent_bytes_total":              num(net["total_bytes_out"]),
		"monero_net_received_packets_total":        num(net["total_packets_in"]),
		"monero_net_sent_packets_total":            num(net["total_packets_out"]),
		"monero_mining_active":                     b2f(mining["active"]),
		"monero_mining_threads":                    num(mining["threads_count"]),
		"monero_mining_hashrate_hashes_per_second": num(mining["speed"]),
		"monero_mining_background":                 b2f(mining["is_background_mining_enabled"]),
		"monero_fee_quantization_xmr":              num(fee["quantization_mask"]) / 1e12,
		"monero_bans":                              float64(len(asList(raw(t, fixtures.Busy, "get_bans")["bans"]))),
	}
	for name, want := range checks {
		m := testenv.MustSeries(t, mfs, name)
		got := m.GetGauge().GetValue()
		if m.Counter != nil {
			got = m.GetCounter().GetValue()
		}
		if !near(got, want) {
			t.Errorf("%s = %g, fixture says %g", name, got, want)
		}
	}
	if num(net["total_bytes_in"]) == 0 {
		t.Error("the busy fixture shows no traffic: net is not exercised")
	}
	for i, p := range feePriorities {
		want := num(fee["fees"].([]any)[i]) / 1e12
		if got := testenv.MustSeries(t, mfs, "monero_fee_per_byte_xmr", "priority", p).GetGauge().GetValue(); !near(got, want) {
			t.Errorf("fee{%s} = %g, want %g", p, got, want)
		}
	}
	for _, e := range raw(t, fixtures.Busy, "rpc_access_tracking")["data"].([]any) {
		m := e.(map[string]any)
		method := m["rpc"].(string)
		if got := testenv.MustSeries(t, mfs, "monero_rpc_access_requests_total", "method", method).GetCounter().GetValue(); got != num(m["count"]) {
			t.Errorf("rpc_access{%s} = %g, want %g", method, got, num(m["count"]))
		}
		if got := testenv.MustSeries(t, mfs, "monero_rpc_access_time_seconds_total", "method", method).GetCounter().GetValue(); !near(got, num(m["time"])/1e6) {
			t.Errorf("rpc_access_time{%s} = %g, want %g", method, got, num(m["time"])/1e6)
		}
	}
	pl := raw(t, fixtures.Busy, "/get_peer_list")
	for list, key := range map[string]string{"white": "white_list", "grey": "gray_list"} {
		if got := testenv.MustSeries(t, mfs, "monero_peerlist_seen_entries", "list", list, "within", "30d").GetGauge().GetValue(); got > float64(len(asList(pl[key]))) {
			t.Errorf("peerlist %s counts %g, list has %d", list, got, len(asList(pl[key])))
		}
	}
}

// TestPeerListAndBanGauges checks the peer lists' and bans' summaries on
// entries made up for them.
func TestPeerListAndBanGauges(t *testing.T) {
	now := time.Unix(1795324100, 0)
	ago := func(d time.Duration) monerod.Peer { return monerod.Peer{LastSeen: now.Add(-d).Unix()} }
	snap := &snapshot.Snapshot{
		Time: now,
		PeerList: &monerod.PeerList{
			WhiteList: []monerod.Peer{ago(time.Minute), ago(10 * time.Minute), ago(2 * time.Hour), ago(-time.Minute)},
			GrayList:  []monerod.Peer{ago(3 * 24 * time.Hour), ago(60 * 24 * time.Hour)},
		},
		Bans:       []monerod.Ban{{Seconds: 300}, {Seconds: 86400}, {Seconds: 60}},
		Collectors: map[string]snapshot.CollectorStatus{},
	}
	mfs := emitted(t, snap, "peerlist", "bans")
	for _, tc := range []struct {
		list, within string
		want         float64
	}{
		{"white", "10m", 3},
		{"white", "1h", 3},
		{"white", "1d", 4},
		{"white", "30d", 4},
		{"grey", "1d", 0},
		{"grey", "7d", 1},
		{"grey", "30d", 1},
	} {
		if got := testenv.MustSeries(t, mfs, "monero_peerlist_seen_entries", "list", tc.list, "within", tc.within).GetGauge().GetValue(); got != tc.want {
			t.Errorf("%s list seen within %s: %g, want %g", tc.list, tc.within, got, tc.want)
		}
	}
	for name, want := range map[string]float64{"monero_bans": 3, "monero_ban_remaining_min_seconds": 60, "monero_ban_remaining_max_seconds": 86400} {
		if got := testenv.MustSeries(t, mfs, name).GetGauge().GetValue(); got != want {
			t.Errorf("%s = %g, want %g", name, got, want)
		}
	}
	snap.Bans = []monerod.Ban{}
	mfs = emitted(t, snap, "bans")
	if _, ok := mfs["monero_ban_remaining_min_seconds"]; ok || testenv.MustSeries(t, mfs, "monero_bans").GetGauge().GetValue() != 0 {
		t.Error("no bans, yet a time left or a count")
	}
}

// emitted gathers the metrics the named collectors make of snap.
func emitted(t *testing.T, snap *snapshot.Snapshot, names ...string) map[string]*dto.MetricFamily {
	t.Helper()
	c := New(nil, Options{Collectors: names})
	return testenv.Gather(t, snapshotMetrics{c, snap})
}

func asList(v any) []any { l, _ := v.([]any); return l }

func TestRestrictedNodeSkipsRefusedCollectors(t *testing.T) {
	srv := fixtures.NewServer(t, fixtures.Restricted, nil)
	all := Names()
	c := newCollector(t, srv.URL, all...)
	for range 2 {
		mfs := testenv.Gather(t, c)
		if testenv.MustSeries(t, mfs, "monero_up").GetGauge().GetValue() != 1 {
			t.Fatal("a restricted node is reported down")
		}
		for _, p := range []string{"connections", "net", "peerlist", "bans", "rpc_access", "mining"} {
			if testenv.MustSeries(t, mfs, "monero_scrape_collector_skipped", "collector", p).GetGauge().GetValue() != 1 ||
				testenv.MustSeries(t, mfs, "monero_scrape_collector_success", "collector", p).GetGauge().GetValue() != 1 {
				t.Errorf("%s not shown as skipped without error on a restricted node", p)
			}
		}
		for _, p := range []string{"txpool", "last_block", "fee"} {
			if testenv.MustSeries(t, mfs, "monero_scrape_collector_skipped", "collector", p).GetGauge().GetValue() != 0 ||
				testenv.MustSeries(t, mfs, "monero_scrape_collector_success", "collector", p).GetGauge().GetValue() != 1 {
				t.Errorf("%s should work on a restricted node", p)
			}
		}
	}
	for _, name := range []string{"get_connections", "/get_net_stats", "/get_peer_list", "get_bans", "rpc_access_tracking", "/mining_status"} {
		if srv.Calls(name) != 0 {
			t.Errorf("%s asked of a restricted node", name)
		}
	}
}
