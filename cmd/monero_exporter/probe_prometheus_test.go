package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/monero-ops/monero_exporter/internal/fixtures"
	"github.com/monero-ops/monero_exporter/internal/monerodtest"
	"github.com/monero-ops/monero_exporter/internal/testenv"
	"github.com/monero-ops/monero_exporter/modules"
)

var examplesDir = filepath.Join("..", "..", "examples")

// The example modules file loads with the exporter's own rules, next to the
// files it names.
func TestExampleModulesFileLoads(t *testing.T) {
	dir := t.TempDir()
	b, err := os.ReadFile(filepath.Join(examplesDir, "monero_exporter.yml"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "monero_exporter.yml")
	writeFile(t, path, string(b))
	writeFile(t, filepath.Join(dir, "rpc-password"), "example-pw\n")
	caFile, _, _ := monerodtest.NewTLS(t)
	ca, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "monerod-ca.pem"), string(ca))
	cfg, err := modules.Load(path, moduleOptions())
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Modules) != 3 || cfg.Modules["fleet"].Password() != "example-pw" {
		t.Errorf("modules: %v", cfg.Modules)
	}
	if _, err := cfg.Modules["fleet"].Target("node1.nodes.example"); err != nil {
		t.Errorf("the example's own target: %v", err)
	}
}

// Every metric of the exporter's own registry in multi-target mode is in
// docs/metrics.md.
func TestProbeMetricsDocumented(t *testing.T) {
	e := startProbeExporter(t, "modules:\n  a:\n    allowed_targets: ['*']\n")
	_, own, _ := do(t, http.MethodGet, e.url+"/metrics", nil)
	doc := testenv.ReadFile(t, metricsDoc)
	n := 0
	for name := range families(t, own) {
		if strings.HasPrefix(name, "monero_exporter_config_") || strings.HasPrefix(name, "monero_exporter_probe_") {
			n++
			if !strings.Contains(doc, "`"+name+"`") {
				t.Errorf("docs/metrics.md lacks %s", name)
			}
		}
	}
	if n != 5 {
		t.Errorf("found %d reload and probe metrics, want 5", n)
	}
}

// TestProbeRelabelWithPrometheus runs examples/prometheus-probe.yml in a
// real Prometheus against an exporter probing two fake nodes: each node is
// an instance of its own, with its own height, and the exporter's own
// metrics come from their job.
func TestProbeRelabelWithPrometheus(t *testing.T) {
	prometheusBin := testenv.RequireTool(t, "prometheus", "prometheus")
	node1 := newCountingNode(t, fixtures.Busy, nil)         // height 92
	node2 := newCountingNode(t, fixtures.Unrestricted, nil) // height 71
	e := startProbeExporter(t, "modules:\n  fleet:\n    allowed_targets: ['127.0.0.1']\n")
	exporterAddr := strings.TrimPrefix(e.url, "http://")

	b, err := os.ReadFile(filepath.Join(examplesDir, "prometheus-probe.yml"))
	if err != nil {
		t.Fatal(err)
	}
	config := strings.NewReplacer(
		"node1.nodes.example:18081", node1.addr(),
		"node2.nodes.example:18081", node2.addr(),
		"monero_exporter:18091", exporterAddr,
		"scrape_interval: 30s", "scrape_interval: 1s",
		"evaluation_interval: 30s", "evaluation_interval: 1s",
		"scrape_timeout: 10s", "scrape_timeout: 1s",
	).Replace(string(b))
	for _, gone := range []string{"nodes.example", "monero_exporter:18091", "30s", "10s"} {
		if strings.Contains(config, gone) {
			t.Fatalf("the example changed: %q is still in the configuration after rewriting\n%s", gone, config)
		}
	}
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "prometheus.yml"), config)
	rules, err := os.ReadFile(filepath.Join("..", "..", "alerts", "monero-alerts.yml"))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "monero-alerts.yml"), string(rules))

	promAddr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	startPrometheus(t, prometheusBin, dir, promAddr)
	base := "http://" + promAddr

	want := map[string]float64{node1.addr(): 92, node2.addr(): 71}
	waitQuery(t, base, `monero_height{job="monero"}`, "each node as its instance with its height", func(got map[string]float64) bool {
		return len(got) == len(want) && got[node1.addr()] == want[node1.addr()] && got[node2.addr()] == want[node2.addr()]
	})
	// The exporter's own scrape may come before the second probe.
	waitQuery(t, base, `monero_exporter_probe_targets{job="monero_exporter"}`, "the exporter's own job with 2 targets held", func(got map[string]float64) bool {
		return len(got) == 1 && got[exporterAddr] == 2
	})
	if got, raw := promQuery(t, base, `monero_exporter_probe_targets{job="monero"}`); len(got) != 0 {
		t.Errorf("the probes carry the exporter's own metrics:\n%s", raw)
	}
}

// startPrometheus runs Prometheus on the configuration in dir until the test
// ends; only that process is stopped, by its PID.
func startPrometheus(t *testing.T, bin, dir, addr string) {
	t.Helper()
	logPath := filepath.Join(dir, "prometheus.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"), "--web.listen-address="+addr)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		logFile.Close()
		if t.Failed() {
			if b, err := os.ReadFile(logPath); err == nil {
				t.Logf("prometheus log:\n%s", b)
			}
		}
	})
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		resp, err := http.Get("http://" + addr + "/-/ready")
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("Prometheus not ready: %v", err)
		}
	}
}

// waitQuery waits until an instant query's values by instance satisfy ok.
func waitQuery(t *testing.T, base, query, what string, ok func(map[string]float64) bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(250 * time.Millisecond) {
		got, raw := promQuery(t, base, query)
		if ok(got) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("Prometheus does not show %s; last answer to %s:\n%s", what, query, raw)
		}
	}
}

// promQuery returns an instant query's values by instance, and the raw answer.
func promQuery(t *testing.T, base, query string) (map[string]float64, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, base+"/api/v1/query?query="+url.QueryEscape(query), nil)
	if err != nil {
		t.Fatal(err)
	}
	_, b := testenv.Fetch(t, nil, req)
	var r struct {
		Data struct {
			Result []struct {
				Metric map[string]string `json:"metric"`
				Value  [2]any            `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("query %s: %v\n%s", query, err, b)
	}
	out := map[string]float64{}
	for _, s := range r.Data.Result {
		var v float64
		if str, ok := s.Value[1].(string); ok {
			_, _ = fmt.Sscan(str, &v)
		}
		out[s.Metric["instance"]] = v
	}
	return out, string(b)
}
