package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/monero-ops/monero_exporter/collector"
	"github.com/monero-ops/monero_exporter/internal/exportertest"
	"github.com/monero-ops/monero_exporter/internal/monerodtest"
	"github.com/monero-ops/monero_exporter/internal/testenv"
)

var update = flag.Bool("update", false, "rewrite testdata/metrics.prom from a real node")

// startExporter serves the exporter's handler, configured by args, in this
// process (exportertest.Serve: its debug log captured, a handler's panic
// failing the test).
func startExporter(t *testing.T, args ...string) *exportertest.Server {
	t.Helper()
	return exportertest.Serve(t, func(logger *slog.Logger) (http.Handler, error) {
		cfg, err := parseConfig(args, io.Discard)
		if err != nil {
			return nil, err
		}
		return newHandler(cfg, logger)
	})
}

func scrape(t *testing.T, url string, header map[string]string) (string, map[string]*dto.MetricFamily) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, url+"/metrics", nil)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, body := testenv.Fetch(t, nil, req)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %d %s", resp.StatusCode, body)
	}
	mfs, err := testenv.ParseExposition(string(body))
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return string(body), mfs
}

func TestIntegrationMetricsMatchTheNode(t *testing.T) {
	monerodtest.Require(t)
	node := monerodtest.Start(t, monerodtest.Options{})
	node.Mine(t, 5)
	// Every collector on, the off-by-default ones too, so that the golden
	// file lists every family the mixin may use.
	args := []string{"--monerod.rpc-url=" + node.URL()}
	for _, d := range collector.Definitions() {
		args = append(args, "--collector."+d.Name)
	}
	url := startExporter(t, args...).URL
	body, mfs := scrape(t, url, nil)

	var info struct {
		Height       uint64 `json:"height"`
		TxPoolSize   uint64 `json:"tx_pool_size"`
		DatabaseSize uint64 `json:"database_size"`
	}
	node.RPC(t, "get_info", nil, &info)
	var hdr struct {
		BlockHeader struct {
			Timestamp int64  `json:"timestamp"`
			Reward    uint64 `json:"reward"`
			Weight    uint64 `json:"block_weight"`
		} `json:"block_header"`
	}
	node.RPC(t, "get_last_block_header", nil, &hdr)
	var hf struct {
		Version uint64 `json:"version"`
	}
	node.RPC(t, "hard_fork_info", nil, &hf)

	checks := []struct {
		name   string
		labels []string
		want   float64
	}{
		{"monero_up", nil, 1},
		{"monero_height", nil, float64(info.Height)},
		{"monero_tx_pool_transactions", nil, float64(info.TxPoolSize)},
		{"monero_last_block_timestamp_seconds", nil, float64(hdr.BlockHeader.Timestamp)},
		{"monero_last_block_weight_bytes", nil, float64(hdr.BlockHeader.Weight)},
		{"monero_last_block_reward_xmr", nil, float64(hdr.BlockHeader.Reward) / 1e12},
		{"monero_hard_fork_version", nil, float64(hf.Version)},
		{"monero_synchronized", nil, 1},
		{"monero_offline", nil, 1},
		{"monero_node_info", []string{"nettype", "fakechain", "restricted", "false"}, 1},
		{"monero_rpc_call_success", []string{"method", "get_info"}, 1},
		{"monero_exporter_build_info", nil, 1},
	}
	for _, c := range checks {
		if got := testenv.MustValue(t, mfs, c.name, c.labels...); got != c.want {
			t.Errorf("%s%v = %g, monerod says %g", c.name, c.labels, got, c.want)
		}
	}
	if age := testenv.MustValue(t, mfs, "monero_last_block_age_seconds"); age < 0 || age > 120 {
		t.Errorf("last block age %g s for a block mined just now", age)
	}
	if n := testenv.MustValue(t, mfs, "monero_exporter_rpc_requests_total", "method", "get_info", "outcome", "success"); n < 1 {
		t.Errorf("rpc_requests_total{get_info,success} = %g", n)
	}
	for _, name := range []string{"go_goroutines", "process_resident_memory_bytes", "monero_database_size_bytes", "monero_free_space_bytes"} {
		if _, ok := mfs[name]; !ok {
			t.Errorf("%s missing", name)
		}
	}

	// A block mined now shows in the very next scrape: no stale snapshot.
	node.Mine(t, 1)
	_, mfs = scrape(t, url, nil)
	if got := testenv.MustValue(t, mfs, "monero_height"); got != float64(info.Height+1) {
		t.Errorf("after mining, height %g, want %d", got, info.Height+1)
	}

	// promtool's linter accepts the whole exposition.
	cmd := exec.Command(testenv.RequireTool(t, "promtool", "prometheus"), "check", "metrics")
	cmd.Stdin = strings.NewReader(body)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
	checkGolden(t, body, mfs)
}

// checkGolden keeps testdata/metrics.prom, a real scrape, in step with what
// the exporter emits: a family added, removed or retyped fails the test
// until the file is regenerated with -update. The mixin's tests read it.
func checkGolden(t *testing.T, body string, mfs map[string]*dto.MetricFamily) {
	t.Helper()
	path := filepath.Join("testdata", "metrics.prom")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	golden, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run the test with -update)", err)
	}
	want, err := testenv.ParseExposition(string(golden))
	if err != nil {
		t.Fatal(err)
	}
	sig := func(m map[string]*dto.MetricFamily) []string {
		var out []string
		for name, mf := range m {
			if strings.HasPrefix(name, "monero_") {
				out = append(out, fmt.Sprintf("%s %s", name, mf.GetType()))
			}
		}
		sort.Strings(out)
		return out
	}
	if got, want := strings.Join(sig(mfs), "\n"), strings.Join(sig(want), "\n"); got != want {
		t.Errorf("metric families differ from testdata/metrics.prom (rerun with -update if intended):\ngot:\n%s\nwant:\n%s", got, want)
	}
}

func TestIntegrationRestrictedNode(t *testing.T) {
	monerodtest.Require(t)
	t.Parallel()
	node := monerodtest.Start(t, monerodtest.Options{Restricted: true})
	exp := startExporter(t, "--monerod.rpc-url="+node.URL())
	url, logs := exp.URL, exp.Logs
	for range 2 {
		_, mfs := scrape(t, url, nil)
		if testenv.MustValue(t, mfs, "monero_up") != 1 {
			t.Fatal("restricted node not up")
		}
		for _, name := range []string{"monero_free_space_bytes", "monero_database_size_bytes", "monero_peers", "monero_start_time_seconds"} {
			if _, ok := mfs[name]; ok {
				t.Errorf("%s exported from a restricted node", name)
			}
		}
		if mf := mfs["monero_exporter_rpc_requests_total"]; mf != nil {
			for _, m := range mf.GetMetric() {
				for _, l := range m.GetLabel() {
					if l.GetName() == "outcome" && l.GetValue() != "success" {
						t.Errorf("a call was refused or failed: %v", m)
					}
				}
			}
		}
	}
	if strings.Contains(logs.String(), "level=ERROR") {
		t.Errorf("errors logged:\n%s", logs)
	}
}

func TestIntegrationFrozenStoppedAndBack(t *testing.T) {
	monerodtest.Require(t)
	t.Parallel()
	node := monerodtest.Start(t, monerodtest.Options{KeepFakechain: true})
	url := startExporter(t, "--monerod.rpc-url="+node.URL(), "--monerod.timeout-offset=0.2s").URL
	if _, mfs := scrape(t, url, nil); testenv.MustValue(t, mfs, "monero_up") != 1 {
		t.Fatal("not up at start")
	}

	node.Freeze(t)
	start := time.Now()
	_, mfs := scrape(t, url, map[string]string{"X-Prometheus-Scrape-Timeout-Seconds": "1"})
	took := time.Since(start)
	if took > 1500*time.Millisecond {
		t.Errorf("scrape of a frozen node took %s with a 1s scrape timeout", took)
	}
	if testenv.MustValue(t, mfs, "monero_up") != 0 || testenv.MustValue(t, mfs, "monero_rpc_call_success", "method", "get_info") != 0 {
		t.Error("a frozen node is reported up")
	}
	if _, ok := mfs["monero_height"]; ok {
		t.Error("node metrics exported while the node is frozen")
	}
	if n := testenv.MustValue(t, mfs, "monero_exporter_rpc_requests_total", "method", "get_info", "outcome", "timeout"); n < 1 {
		t.Errorf("timeouts counted: %g", n)
	}
	node.Thaw(t)
	if _, mfs := scrape(t, url, nil); testenv.MustValue(t, mfs, "monero_up") != 1 {
		t.Error("not up after thaw")
	}

	node.Stop(t)
	if _, mfs := scrape(t, url, nil); testenv.MustValue(t, mfs, "monero_up") != 0 {
		t.Error("a stopped node is reported up")
	}
	node.Restart(t)
	if _, mfs := scrape(t, url, nil); testenv.MustValue(t, mfs, "monero_up") != 1 {
		t.Error("not up after restart")
	}
}

func TestIntegrationLoginPasswordNeverShown(t *testing.T) {
	monerodtest.Require(t)
	const secret = "pw-9f3b1c"
	node := monerodtest.Start(t, monerodtest.Options{Login: "alice:" + secret})

	t.Setenv("MONEROD_RPC_PASSWORD", "wrong-"+secret)
	exp := startExporter(t, "--monerod.rpc-url="+node.URL(), "--monerod.rpc-user=alice")
	url, logs := exp.URL, exp.Logs
	body, mfs := scrape(t, url, nil)
	if testenv.MustValue(t, mfs, "monero_up") != 0 {
		t.Fatal("up with a wrong password")
	}
	if testenv.MustValue(t, mfs, "monero_exporter_rpc_requests_total", "method", "get_info", "outcome", "unauthorized") < 1 {
		t.Error("401 not counted as unauthorized")
	}
	landing, err := http.Get(url + "/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(landing.Body)
	landing.Body.Close()
	for where, text := range map[string]string{"metrics": body, "logs": logs.String(), "landing page": string(page)} {
		if strings.Contains(text, secret) {
			t.Errorf("the password appears in the %s", where)
		}
	}

	t.Setenv("MONEROD_RPC_PASSWORD", secret)
	exp = startExporter(t, "--monerod.rpc-url="+node.URL(), "--monerod.rpc-user=alice")
	url, logs = exp.URL, exp.Logs
	body, mfs = scrape(t, url, nil)
	if testenv.MustValue(t, mfs, "monero_up") != 1 {
		t.Fatal("not up with the right password")
	}
	if strings.Contains(body, secret) || strings.Contains(logs.String(), secret) {
		t.Error("the password appears in metrics or logs")
	}
}

// TestIntegrationHealthAgreesWithMetrics: /health, /api/v1 and the health
// metrics answer from the same snapshot logic, on a real node, fresh and stale.
func TestIntegrationHealthAgreesWithMetrics(t *testing.T) {
	monerodtest.Require(t)
	t.Parallel()
	node := monerodtest.Start(t, monerodtest.Options{})
	node.Mine(t, 3)
	// An offline node has no peers: count only the checks it can pass.
	url := startExporter(t, "--monerod.rpc-url="+node.URL(), "--health.checks=monerod,last_block,sync", "--health.last-block-max-age=1h").URL
	get := func(path string) (int, string) {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, url+path, nil)
		resp, b := testenv.Fetch(t, nil, req)
		return resp.StatusCode, string(b)
	}
	code, body := get("/health")
	if code != 200 || !strings.Contains(body, `"status":"pass"`) {
		t.Fatalf("fresh node: /health %d %s", code, body)
	}
	_, mfs := scrape(t, url, nil)
	if testenv.MustValue(t, mfs, "monero_health_status", "check", "overall", "status", "ok") != 1 {
		t.Error("metrics disagree with /health on a fresh node")
	}
	if code, body := get("/api/v1/health"); code != 200 || !strings.Contains(body, `"OK"`) {
		t.Errorf("/api/v1/health %d %s", code, body)
	}

	// Same node, a max age the last block exceeds two seconds later (ages
	// count in whole seconds, as the older service did).
	stale := startExporter(t, "--monerod.rpc-url="+node.URL(), "--health.checks=monerod,last_block,sync", "--health.last-block-max-age=1s").URL
	time.Sleep(2100 * time.Millisecond)
	resp, err := http.Get(stale + "/health")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("stale: /health %d, want 503", resp.StatusCode)
	}
	_, mfs = scrape(t, stale, nil)
	if testenv.MustValue(t, mfs, "monero_health_status", "check", "overall", "status", "error") != 1 ||
		testenv.MustValue(t, mfs, "monero_health_status", "check", "last_block", "status", "error") != 1 {
		t.Error("metrics disagree with /health on a stale node")
	}
	if resp, err := http.Get(stale + "/health?strict_status_code=1"); err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("strict_status_code=1: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	if resp, err := http.Get(stale + "/health?strict_status_code=yes"); err != nil || resp.StatusCode != http.StatusBadRequest {
		t.Errorf("strict_status_code=yes: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
}

// A fleet behind --rpc-login: a reference node with the same login answers
// only when --chain.reference-login sends it, and the password shows
// nowhere.
func TestIntegrationReferenceLogin(t *testing.T) {
	monerodtest.Require(t)
	t.Parallel()
	const secret = "fleet-pw-71c2"
	node := monerodtest.Start(t, monerodtest.Options{Login: "alice:" + secret})
	ref := monerodtest.Start(t, monerodtest.Options{Login: "alice:" + secret})
	ref.Mine(t, 2)
	pwFile := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pwFile, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"--monerod.rpc-url=" + node.URL(), "--monerod.rpc-user=alice", "--monerod.rpc-password-file=" + pwFile, "--chain.reference=" + ref.RPCAddr}
	refName := ref.RPCAddr

	_, mfs := scrape(t, startExporter(t, args...).URL, nil)
	if up := testenv.MustValue(t, mfs, "monero_reference_up", "reference", refName); up != 0 {
		t.Errorf("monero_reference_up = %v without --chain.reference-login: the reference was sent a login", up)
	}

	exp := startExporter(t, append(args, "--chain.reference-login")...)
	body, mfs := scrape(t, exp.URL, nil)
	if up := testenv.MustValue(t, mfs, "monero_reference_up", "reference", refName); up != 1 {
		t.Fatalf("monero_reference_up = %v with --chain.reference-login", up)
	}
	if h := testenv.MustValue(t, mfs, "monero_reference_height", "reference", refName); h != 3 {
		t.Errorf("monero_reference_height = %v, want 3 (genesis and 2 mined)", h)
	}
	if strings.Contains(body, secret) || strings.Contains(exp.Logs.String(), secret) {
		t.Error("the password appears in metrics or logs")
	}
}
