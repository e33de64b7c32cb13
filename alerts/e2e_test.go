package alerts

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/monero-ops/monero_exporter/internal/monerodtest"
	"github.com/monero-ops/monero_exporter/internal/testenv"
)

// TestEndToEndWithPrometheus runs the real parts together: a regtest
// monerod, the exporter binary, and Debian's Prometheus scraping it every
// second with the alert rules loaded (rendered with a 15 s last-block age).
// It reads everything back through Prometheus's HTTP API.
func TestEndToEndWithPrometheus(t *testing.T) {
	monerodtest.Require(t)
	prometheusBin := testenv.RequireTool(t, "prometheus", "prometheus")
	promtool := testenv.RequireTool(t, "promtool", "prometheus")
	dir := t.TempDir()

	// The slow part first, so that the blocks mined below are fresh when
	// Prometheus first sees them.
	exporterBin := testenv.ExporterBinary(t)
	// The rules below assume the exporter's health uses the same 15 s
	// max age: a binary without the flag cannot run this test.
	if help, err := exec.Command(exporterBin, "--help").CombinedOutput(); err != nil || !bytes.Contains(help, []byte("--health.last-block-max-age")) {
		t.Fatalf("%s --help: %v; it must offer --health.last-block-max-age:\n%s", exporterBin, err, help)
	}

	node := monerodtest.Start(t, monerodtest.Options{})
	_, exporterAddr := testenv.StartServer(t, 15*time.Second, exporterBin, func(addr string) []string {
		return []string{"--monerod.rpc-url=" + node.URL(), "--web.listen-address=" + addr, "--log.level=warn", "--health.last-block-max-age=15s"}
	}, func(addr string) error { return testenv.HTTPOK("http://" + addr + "/-/healthy") })

	// The rules as an operator would render them with a 15 s max age;
	// `for:` long enough that the alerts stay pending during the test.
	cfg := loadConfig(t, ConfigFile)
	cfg.Selector = `job="monero"`
	cfg.LastBlockTooOld.MaxAge = Duration(15 * time.Second)
	cfg.LastBlockTooOld.For = Duration(5 * time.Minute)
	cfg.MonerodDown.For = Duration(5 * time.Minute)
	renderTo(t, cfg, dir)
	config := fmt.Sprintf(`global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files:
  - %s
scrape_configs:
  - job_name: monero
    static_configs:
      - targets: ['%s']
`, RulesFile, exporterAddr)
	configPath := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(configPath, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	run(t, dir, promtool, "check", "config", configPath)
	_, promAddr := testenv.StartServer(t, 20*time.Second, prometheusBin, func(addr string) []string {
		return []string{"--config.file=" + configPath, "--storage.tsdb.path=" + filepath.Join(dir, "data"), "--web.listen-address=" + addr}
	}, func(addr string) error { return testenv.HTTPOK("http://" + addr + "/-/ready") })
	prom := &promAPI{base: "http://" + promAddr}

	// A fresh chain's tip is the genesis block of 1970: mine fresh blocks.
	node.Mine(t, 5)
	var info struct {
		Height uint64 `json:"height"`
	}
	node.RPC(t, "get_info", nil, &info)

	testenv.Eventually(t, "monero_up is 1 and the height is monerod's", 20*time.Second, func() (bool, string) {
		up, okUp := prom.value(t, `monero_up{job="monero"}`)
		height, okHeight := prom.value(t, `monero_height{job="monero"}`)
		return okUp && up == 1 && okHeight && height == float64(info.Height),
			fmt.Sprintf("monero_up %v (%v), monero_height %v (%v), monerod's height %d", up, okUp, height, okHeight, info.Height)
	})
	instance := exporterAddr
	testenv.Eventually(t, "no MoneroLastBlockTooOld right after mining", 10*time.Second, func() (bool, string) {
		a := prom.alert(t, "MoneroLastBlockTooOld", instance)
		return a == nil, fmt.Sprintf("%+v", a)
	})
	if a := prom.alert(t, "MoneroDaemonDown", instance); a != nil {
		t.Errorf("MoneroDaemonDown active while monerod answers: %+v", a)
	}

	// No more blocks: the tip ages past 15 s and the alert turns pending.
	testenv.Eventually(t, "MoneroLastBlockTooOld pending", 30*time.Second, func() (bool, string) {
		a := prom.alert(t, "MoneroLastBlockTooOld", instance)
		return a != nil && a.State == "pending", fmt.Sprintf("%+v", a)
	})
	a := prom.alert(t, "MoneroLastBlockTooOld", instance)
	if a == nil || a.Labels["severity"] != cfg.LastBlockTooOld.Severity || !strings.Contains(a.Annotations["description"], instance) {
		t.Errorf("MoneroLastBlockTooOld: %+v", a)
	}

	// monerod gone: monero_up drops to 0 and MoneroDaemonDown turns pending.
	node.Stop(t)
	testenv.Eventually(t, "monero_up 0 and MoneroDaemonDown pending", 15*time.Second, func() (bool, string) {
		up, ok := prom.value(t, `monero_up{job="monero"}`)
		a := prom.alert(t, "MoneroDaemonDown", instance)
		return ok && up == 0 && a != nil && a.State == "pending", fmt.Sprintf("monero_up %v (%v), alert %+v", up, ok, a)
	})
	if a := prom.alert(t, "MoneroExporterDown", instance); a != nil {
		t.Errorf("MoneroExporterDown active while the exporter answers: %+v", a)
	}
}

// promAPI reads a Prometheus server's HTTP API.
type promAPI struct {
	base string
}

// promAlert is one entry of /api/v1/alerts.
type promAlert struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	State       string            `json:"state"`
	Value       string            `json:"value"`
}

func (p *promAPI) get(t *testing.T, path string, v any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, p.base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, body := testenv.Fetch(t, nil, req)
	var env struct {
		Status string          `json:"status"`
		Error  string          `json:"error"`
		Data   json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(body, &env); err != nil || env.Status != "success" {
		t.Fatalf("prometheus %s: HTTP %d, %s %v", path, resp.StatusCode, body, err)
	}
	if err := json.Unmarshal(env.Data, v); err != nil {
		t.Fatalf("prometheus %s: %v", path, err)
	}
}

// value returns the value of an instant query that yields at most one
// series, and whether there was one.
func (p *promAPI) value(t *testing.T, query string) (float64, bool) {
	t.Helper()
	var data struct {
		ResultType string `json:"resultType"`
		Result     []struct {
			Value [2]any `json:"value"`
		} `json:"result"`
	}
	p.get(t, "/api/v1/query?query="+url.QueryEscape(query), &data)
	switch len(data.Result) {
	case 0:
		return 0, false
	case 1:
		s, _ := data.Result[0].Value[1].(string)
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			t.Fatalf("%s: value %v", query, data.Result[0].Value)
		}
		return v, true
	default:
		t.Fatalf("%s: %d series, want one", query, len(data.Result))
		return 0, false
	}
}

// alert returns the active (pending or firing) alert name for instance, or
// nil.
func (p *promAPI) alert(t *testing.T, name, instance string) *promAlert {
	t.Helper()
	var data struct {
		Alerts []promAlert `json:"alerts"`
	}
	p.get(t, "/api/v1/alerts", &data)
	for _, a := range data.Alerts {
		if a.Labels["alertname"] == name && a.Labels["instance"] == instance {
			return &a
		}
	}
	return nil
}
