package collector

import (
	"encoding/json"
	"math"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"

	"github.com/monero-ops/monero_exporter/internal/fixtures"
	"github.com/monero-ops/monero_exporter/internal/testenv"
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

// metric finds the series of name whose labels include want.
func metric(t *testing.T, mfs map[string]*dto.MetricFamily, name string, want ...string) *dto.Metric {
	t.Helper()
	m := testenv.Series(mfs, name, want...)
	if m == nil {
		t.Fatalf("%s%v missing", name, want)
	}
	return m
}

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }

func TestTxPoolCollector(t *testing.T) {
	srv := fixtures.NewServer(t, fixtures.Busy, nil)
	mfs := families(t, newCollector(t, srv.URL, "txpool"))
	stats := raw(t, fixtures.Busy, "/get_transaction_pool_stats")["pool_stats"].(map[string]any)
	for name, want := range map[string]float64{
		"monero_tx_pool_size_bytes":                 num(stats["bytes_total"]),
		"monero_tx_pool_fees_xmr":                   num(stats["fee_total"]) / 1e12,
		"monero_tx_pool_failing_transactions":       num(stats["num_failing"]),
		"monero_tx_pool_double_spend_transactions":  num(stats["num_double_spends"]),
		"monero_tx_pool_not_relayed_transactions":   num(stats["num_not_relayed"]),
		"monero_tx_pool_transactions_older_10m":     num(stats["num_10m"]),
		"monero_tx_pool_oldest_timestamp_seconds":   num(stats["oldest"]),
		"monero_scrape_collector_success{txpool}":   1,
		"monero_scrape_collector_skipped{txpool}":   0,
		"monero_tx_pool_transaction_size_bytes/cnt": num(stats["txs_total"]),
	} {
		var got float64
		switch {
		case strings.HasSuffix(name, "{txpool}"):
			got = metric(t, mfs, strings.TrimSuffix(name, "{txpool}"), "collector", "txpool").GetGauge().GetValue()
		case strings.HasSuffix(name, "/cnt"):
			got = float64(metric(t, mfs, strings.TrimSuffix(name, "/cnt")).GetHistogram().GetSampleCount())
		default:
			got = metric(t, mfs, name).GetGauge().GetValue()
		}
		if !near(got, want) {
			t.Errorf("%s = %g, fixture says %g", name, got, want)
		}
	}
	if num(stats["txs_total"]) == 0 {
		t.Fatal("the busy fixture's pool is empty: the histograms are not exercised")
	}
	var sizeSum, feePerByteSum float64
	for _, tx := range raw(t, fixtures.Busy, "/get_transaction_pool")["transactions"].([]any) {
		m := tx.(map[string]any)
		sizeSum += num(m["blob_size"])
		feePerByteSum += num(m["fee"]) / 1e12 / num(m["blob_size"])
	}
	if got := metric(t, mfs, "monero_tx_pool_transaction_size_bytes").GetHistogram().GetSampleSum(); got != sizeSum {
		t.Errorf("size histogram sum %g, pool says %g", got, sizeSum)
	}
	if got := metric(t, mfs, "monero_tx_pool_transaction_fee_per_byte_xmr").GetHistogram().GetSampleSum(); !near(got, feePerByteSum) {
		t.Errorf("fee-per-byte histogram sum %g, pool says %g", got, feePerByteSum)
	}
	if srv.Calls("/get_transaction_pool") != 1 {
		t.Errorf("/get_transaction_pool asked %d times", srv.Calls("/get_transaction_pool"))
	}
}

func TestTxPoolFullListOnlyWhenPoolChanges(t *testing.T) {
	srv := fixtures.NewServer(t, fixtures.Busy, nil)
	c := newCollector(t, srv.URL, "txpool")
	for range 3 {
		families(t, c)
	}
	if got := srv.Calls("/get_transaction_pool_stats"); got != 3 {
		t.Fatalf("stats asked %d times in 3 scrapes", got)
	}
	if got := srv.Calls("/get_transaction_pool"); got != 1 {
		t.Fatalf("the unchanged pool was listed %d times in 3 scrapes, want 1", got)
	}
}

func TestLastBlockCollector(t *testing.T) {
	srv := fixtures.NewServer(t, fixtures.Busy, nil)
	c := newCollector(t, srv.URL, "last_block")
	mfs := families(t, c)
	var fees, inputs, outputs, sizes float64
	txs := raw(t, fixtures.Busy, "/get_transactions")["txs"].([]any)
	for _, tx := range txs {
		m := tx.(map[string]any)
		var j map[string]any
		if err := json.Unmarshal([]byte(m["as_json"].(string)), &j); err != nil {
			t.Fatal(err)
		}
		fees += num(j["rct_signatures"].(map[string]any)["txnFee"])
		inputs += float64(len(j["vin"].([]any)))
		outputs += float64(len(j["vout"].([]any)))
		sizes += float64(len(m["as_hex"].(string)) / 2)
	}
	if len(txs) == 0 {
		t.Fatal("the busy fixture's tip has no transactions")
	}
	reward := num(raw(t, fixtures.Busy, "get_block")["block_header"].(map[string]any)["reward"])
	if got := metric(t, mfs, "monero_last_block_fees_xmr").GetGauge().GetValue(); !near(got, fees/1e12) {
		t.Errorf("fees %g XMR, transactions say %g", got, fees/1e12)
	}
	if got := metric(t, mfs, "monero_last_block_subsidy_xmr").GetGauge().GetValue(); !near(got, (reward-fees)/1e12) {
		t.Errorf("subsidy %g XMR, want %g", got, (reward-fees)/1e12)
	}
	for name, want := range map[string]float64{
		"monero_last_block_transaction_inputs":           inputs,
		"monero_last_block_transaction_outputs":          outputs,
		"monero_last_block_transaction_size_bytes":       sizes,
		"monero_last_block_transaction_fee_per_byte_xmr": -1,
	} {
		h := metric(t, mfs, name).GetHistogram()
		if h.GetSampleCount() != uint64(len(txs)) {
			t.Errorf("%s counts %d transactions, the block has %d", name, h.GetSampleCount(), len(txs))
		}
		if want >= 0 && h.GetSampleSum() != want {
			t.Errorf("%s sum %g, want %g", name, h.GetSampleSum(), want)
		}
	}
	// The tip is unchanged: the next scrapes reuse the block.
	families(t, c)
	families(t, c)
	if srv.Calls("get_block") != 1 || srv.Calls("/get_transactions") != 1 {
		t.Errorf("get_block %d, get_transactions %d calls for one tip", srv.Calls("get_block"), srv.Calls("/get_transactions"))
	}
}

func TestConnectionsCollector(t *testing.T) {
	srv := fixtures.NewServer(t, fixtures.Busy, nil)
	mfs := families(t, newCollector(t, srv.URL, "connections"))
	conns := raw(t, fixtures.Busy, "get_connections")["connections"].([]any)
	height := num(raw(t, fixtures.Busy, "get_info")["height"])
	want := map[[2]string]float64{}
	var lagSum float64
	for _, c := range conns {
		m := c.(map[string]any)
		dir := "outgoing"
		if m["incoming"].(bool) {
			dir = "incoming"
		}
		want[[2]string{dir, m["state"].(string)}]++
		lagSum += height - num(m["height"])
	}
	if len(conns) == 0 {
		t.Fatal("the busy fixture has no connections")
	}
	for _, dir := range []string{"incoming", "outgoing"} {
		for _, st := range connectionStates {
			got := metric(t, mfs, "monero_connections", "direction", dir, "state", st).GetGauge().GetValue()
			if got != want[[2]string{dir, st}] {
				t.Errorf("connections{%s,%s} = %g, want %g", dir, st, got, want[[2]string{dir, st}])
			}
		}
	}
	h := metric(t, mfs, "monero_connection_height_lag_blocks").GetHistogram()
	if h.GetSampleCount() != uint64(len(conns)) || h.GetSampleSum() != lagSum {
		t.Errorf("lag histogram count %d sum %g, want %d and %g", h.GetSampleCount(), h.GetSampleSum(), len(conns), lagSum)
	}
}

func TestSmallCollectors(t *testing.T) {
	srv := fixtures.NewServer(t, fixtures.Busy, nil)
	mfs := families(t, newCollector(t, srv.URL, "net", "bans", "mining", "fee",
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
		m := metric(t, mfs, name)
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
		if got := metric(t, mfs, "monero_fee_per_byte_xmr", "priority", p).GetGauge().GetValue(); !near(got, want) {
			t.Errorf("fee{%s} = %g, want %g", p, got, want)
		}
	}
	for _, e := range raw(t, fixtures.Busy, "rpc_access_tracking")["data"].([]any) {
		m := e.(map[string]any)
		method := m["rpc"].(string)
		if got := metric(t, mfs, "monero_rpc_access_requests_total", "method", method).GetCounter().GetValue(); got != num(m["count"]) {
			t.Errorf("rpc_access{%s} = %g, want %g", method, got, num(m["count"]))
		}
		if got := metric(t, mfs, "monero_rpc_access_time_seconds_total", "method", method).GetCounter().GetValue(); !near(got, num(m["time"])/1e6) {
			t.Errorf("rpc_access_time{%s} = %g, want %g", method, got, num(m["time"])/1e6)
		}
	}
	pl := raw(t, fixtures.Busy, "/get_peer_list")
	for list, key := range map[string]string{"white": "white_list", "grey": "gray_list"} {
		if got := metric(t, mfs, "monero_peerlist_last_seen_age_seconds", "list", list).GetHistogram().GetSampleCount(); got != uint64(len(asList(pl[key]))) {
			t.Errorf("peerlist %s counts %d, list has %d", list, got, len(asList(pl[key])))
		}
	}
}

func asList(v any) []any { l, _ := v.([]any); return l }

func TestRestrictedNodeSkipsRefusedCollectors(t *testing.T) {
	srv := fixtures.NewServer(t, fixtures.Restricted, nil)
	all := Names()
	c := newCollector(t, srv.URL, all...)
	for range 2 {
		mfs := families(t, c)
		if metric(t, mfs, "monero_up").GetGauge().GetValue() != 1 {
			t.Fatal("a restricted node is reported down")
		}
		for _, p := range []string{"connections", "net", "peerlist", "bans", "rpc_access", "mining"} {
			if metric(t, mfs, "monero_scrape_collector_skipped", "collector", p).GetGauge().GetValue() != 1 ||
				metric(t, mfs, "monero_scrape_collector_success", "collector", p).GetGauge().GetValue() != 1 {
				t.Errorf("%s not shown as skipped without error on a restricted node", p)
			}
		}
		for _, p := range []string{"txpool", "last_block", "fee"} {
			if metric(t, mfs, "monero_scrape_collector_skipped", "collector", p).GetGauge().GetValue() != 0 ||
				metric(t, mfs, "monero_scrape_collector_success", "collector", p).GetGauge().GetValue() != 1 {
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
