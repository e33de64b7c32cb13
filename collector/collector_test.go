package collector

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/monero-ops/monero_exporter/health"
	"github.com/monero-ops/monero_exporter/internal/fixtures"
	"github.com/monero-ops/monero_exporter/internal/monerodtest"
	"github.com/monero-ops/monero_exporter/internal/testenv"
	"github.com/monero-ops/monero_exporter/monerod"
	"github.com/monero-ops/monero_exporter/snapshot"
)

func newCollector(t testing.TB, url string, names ...string) *Collector {
	t.Helper()
	fetch, err := SnapshotCollectors(names, nil)
	if err != nil {
		t.Fatal(err)
	}
	src := monerodtest.Source(t, url, snapshot.Config{Collectors: fetch})
	return New(src, Options{Timeout: 5 * time.Second, Collectors: names})
}

// Values as recorded from a real unrestricted regtest node (see
// internal/fixtures/testdata/unrestricted).
const unrestrictedWant = `
# HELP monero_up 1 when monerod answered get_info in this scrape, else 0 (and the node metrics are absent).
# TYPE monero_up gauge
monero_up 1
# HELP monero_height Blockchain height (number of blocks) known to the node, from get_info.height.
# TYPE monero_height gauge
monero_height 71
# HELP monero_target_height Height the node is syncing towards, from get_info.target_height; monerod reports 0 when it knows no higher chain.
# TYPE monero_target_height gauge
monero_target_height 0
# HELP monero_synchronized 1 when monerod considers itself synchronized (get_info.synchronized).
# TYPE monero_synchronized gauge
monero_synchronized 1
# HELP monero_offline 1 when monerod runs with --offline (get_info.offline).
# TYPE monero_offline gauge
monero_offline 1
# HELP monero_difficulty Network difficulty for the next block, from get_info.wide_difficulty.
# TYPE monero_difficulty gauge
monero_difficulty 1
# HELP monero_node_info Facts about the node, value 1. version is the daemon version from get_info; a restricted node hides it, so there it is the RPC version from get_version ("rpc-MAJOR.MINOR").
# TYPE monero_node_info gauge
monero_node_info{nettype="fakechain",restricted="false",version="0.18.0.0-unknown"} 1
# HELP monero_peers Open P2P connections by direction, from get_info incoming/outgoing_connections_count. Unrestricted nodes only.
# TYPE monero_peers gauge
monero_peers{direction="incoming"} 0
monero_peers{direction="outgoing"} 0
# HELP monero_hard_fork_version Current hard-fork version of the chain, from hard_fork_info.version.
# TYPE monero_hard_fork_version gauge
monero_hard_fork_version 16
# HELP monero_last_block_transactions Transactions in the last block, coinbase excluded, from get_last_block_header.num_txes.
# TYPE monero_last_block_transactions gauge
monero_last_block_transactions 0
# HELP monero_block_weight_limit_bytes Maximum block weight currently allowed, from get_info.block_weight_limit.
# TYPE monero_block_weight_limit_bytes gauge
monero_block_weight_limit_bytes 600000
`

func TestCollectUnrestricted(t *testing.T) {
	srv := fixtures.NewServer(t, "unrestricted", nil)
	c := newCollector(t, srv.URL)
	names := []string{
		"monero_up", "monero_height", "monero_target_height", "monero_synchronized", "monero_offline",
		"monero_difficulty", "monero_node_info", "monero_peers", "monero_hard_fork_version",
		"monero_last_block_transactions", "monero_block_weight_limit_bytes",
	}
	if err := testutil.CollectAndCompare(c, strings.NewReader(unrestrictedWant), names...); err != nil {
		t.Fatal(err)
	}
	// Every unrestricted-only family is there.
	got := testenv.Gather(t, c)
	for _, name := range []string{
		"monero_database_size_bytes", "monero_free_space_bytes", "monero_start_time_seconds",
		"monero_rpc_connections", "monero_peerlist_entries", "monero_alt_blocks", "monero_update_available",
		"monero_last_block_age_seconds", "monero_last_block_reward_xmr", "monero_transactions_total",
		"monero_scrape_duration_seconds", "monero_rpc_call_success", "monero_scrape_collector_success",
	} {
		if _, ok := got[name]; !ok {
			t.Errorf("%s missing", name)
		}
	}
	if got["monero_transactions_total"].GetType() != dto.MetricType_COUNTER {
		t.Error("monero_transactions_total is not a counter")
	}
	reward := got["monero_last_block_reward_xmr"].GetMetric()[0].GetGauge().GetValue()
	if reward < 1 || reward > 100 {
		t.Errorf("reward %g XMR is not in XMR units", reward)
	}
}

func TestCollectRestrictedLeavesMaskedFieldsOut(t *testing.T) {
	srv := fixtures.NewServer(t, "restricted", nil)
	c := newCollector(t, srv.URL, "connections")
	got := testenv.Gather(t, c)
	for _, name := range []string{
		"monero_database_size_bytes", "monero_free_space_bytes", "monero_start_time_seconds",
		"monero_rpc_connections", "monero_peerlist_entries", "monero_peers", "monero_alt_blocks", "monero_update_available",
	} {
		if _, ok := got[name]; ok {
			t.Errorf("%s exported from a restricted node, which masks it", name)
		}
	}
	want := `
# HELP monero_node_info Facts about the node, value 1. version is the daemon version from get_info; a restricted node hides it, so there it is the RPC version from get_version ("rpc-MAJOR.MINOR").
# TYPE monero_node_info gauge
monero_node_info{nettype="fakechain",restricted="true",version="rpc-3.10"} 1
# HELP monero_up 1 when monerod answered get_info in this scrape, else 0 (and the node metrics are absent).
# TYPE monero_up gauge
monero_up 1
# HELP monero_scrape_collector_skipped 1 when the collector was not asked because the node does not offer what it needs (restricted RPC), else 0.
# TYPE monero_scrape_collector_skipped gauge
monero_scrape_collector_skipped{collector="connections"} 1
monero_scrape_collector_skipped{collector="info"} 0
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), "monero_node_info", "monero_up", "monero_scrape_collector_skipped"); err != nil {
		t.Fatal(err)
	}
	if srv.Calls("get_connections") != 0 {
		t.Fatal("get_connections was asked of a restricted node")
	}
}

func TestCollectNodeDown(t *testing.T) {
	srv := fixtures.NewServer(t, "unrestricted", nil)
	url := srv.URL
	srv.Close()
	c := newCollector(t, url)
	got := testenv.Gather(t, c)
	if v := got["monero_up"].GetMetric()[0].GetGauge().GetValue(); v != 0 {
		t.Fatalf("monero_up = %g", v)
	}
	for name := range got {
		switch name {
		case "monero_up", "monero_scrape_duration_seconds", "monero_rpc_call_success", "monero_rpc_call_duration_seconds",
			"monero_scrape_collector_success", "monero_scrape_collector_duration_seconds", "monero_scrape_collector_skipped":
		default:
			t.Errorf("%s exported while the node is down", name)
		}
	}
	want := `
# HELP monero_rpc_call_success 1 when the RPC calls of this method made to monerod in this scrape all succeeded, else 0. Calls whose answer is reused (it changes only with the tip, or the pool is the same) are not listed.
# TYPE monero_rpc_call_success gauge
monero_rpc_call_success{method="get_info"} 0
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), "monero_rpc_call_success"); err != nil {
		t.Fatal(err)
	}
}

func TestLastBlockAgeNeverNegative(t *testing.T) {
	now := time.Now()
	snap := &snapshot.Snapshot{
		Time:       now,
		Info:       &monerod.Info{},
		LastBlock:  &monerod.BlockHeader{Timestamp: now.Add(time.Hour).Unix()}, // a clock ahead of ours
		Collectors: map[string]snapshot.CollectorStatus{},
	}
	ch := make(chan prometheus.Metric, 100)
	(&Collector{}).Emit(ch, snap)
	close(ch)
	for m := range ch {
		if strings.Contains(m.Desc().String(), `"monero_last_block_age_seconds"`) {
			var d dto.Metric
			if err := m.Write(&d); err != nil {
				t.Fatal(err)
			}
			if d.GetGauge().GetValue() != 0 {
				t.Fatalf("age of a future block = %g, want 0", d.GetGauge().GetValue())
			}
			return
		}
	}
	t.Fatal("no monero_last_block_age_seconds")
}

// TestLint runs promlint over every collector's metrics, health's too, on
// each recorded node.
func TestLint(t *testing.T) {
	for _, set := range []string{fixtures.Unrestricted, fixtures.Restricted, fixtures.Busy} {
		srv := fixtures.NewServer(t, set, nil)
		c := newCollector(t, srv.URL, Names()...)
		hc := health.DefaultConfig()
		c.health = &hc
		problems, err := testutil.CollectAndLint(c)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range problems {
			t.Errorf("%s: %s: %s", set, p.Metric, p.Text)
		}
	}
}

// Requests that get the same snapshot share its gathered families (the same
// metrics, not copies); each has its own scrape duration, and what they get
// is what Collect gives.
func TestGathererSharesSnapshotFamilies(t *testing.T) {
	info := fixtures.Load(t, fixtures.Busy, "get_info")
	release := make(chan struct{})
	srv := fixtures.NewServer(t, fixtures.Busy, map[string]http.HandlerFunc{
		"get_info": func(w http.ResponseWriter, _ *http.Request) {
			<-release
			_, _ = w.Write(info)
		},
	})
	c := newCollector(t, srv.URL, Names()...)

	// The second request asks while the first one's get_info is under way,
	// so it joins that fetch (snapshot.Source.Get).
	gathered := make([][]*dto.MetricFamily, 2)
	var wg sync.WaitGroup
	gather := func(i int) {
		mfs, err := c.Gatherer(t.Context()).Gather()
		if err != nil {
			t.Error(err)
		}
		gathered[i] = mfs
	}
	wg.Go(func() { gather(0) })
	testenv.Eventually(t, "get_info asked", 5*time.Second, func() (bool, string) {
		return srv.Calls("get_info") == 1, "no call yet"
	})
	wg.Go(func() { gather(1) })
	time.Sleep(time.Second) // for the second to join the fetch
	close(release)
	wg.Wait()
	if t.Failed() {
		return
	}
	if n := srv.Calls("get_info"); n != 1 {
		t.Fatalf("two requests made %d get_info calls, want 1 shared", n)
	}

	byName := make([]map[string]*dto.MetricFamily, 2)
	for i, mfs := range gathered {
		byName[i] = map[string]*dto.MetricFamily{}
		for j, mf := range mfs {
			if j > 0 && mfs[j-1].GetName() >= mf.GetName() {
				t.Fatalf("request %d: %s after %s: not sorted or twice", i, mf.GetName(), mfs[j-1].GetName())
			}
			byName[i][mf.GetName()] = mf
		}
		if byName[i]["monero_scrape_duration_seconds"] == nil || byName[i]["monero_up"] == nil {
			t.Fatalf("request %d: no monero_up or monero_scrape_duration_seconds", i)
		}
	}
	if byName[0]["monero_height"].GetMetric()[0] != byName[1]["monero_height"].GetMetric()[0] {
		t.Error("the two requests got copies of monero_height, not the snapshot's shared metric")
	}
	if byName[0]["monero_scrape_duration_seconds"] == byName[1]["monero_scrape_duration_seconds"] {
		t.Error("the two requests share a scrape duration")
	}

	// Collect (which fetches a snapshot of its own, the node's second, so
	// fewer RPC calls) gives the same families.
	collected := testenv.Gather(t, c)
	for name := range collected {
		if byName[0][name] == nil {
			t.Errorf("%s: from Collect, not from Gatherer", name)
		}
	}
	if len(collected) != len(byName[0]) {
		t.Errorf("Collect gives %d families, Gatherer %d", len(collected), len(byName[0]))
	}
}
