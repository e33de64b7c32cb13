package main

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/monero-ops/monero_exporter/internal/fixtures"
	"github.com/monero-ops/monero_exporter/internal/testenv"
)

// countingNode is a fake monerod replaying a fixture set that counts the
// TCP connections made to it (a refused probe must make none) and those
// open now (a dropped target's must close).
type countingNode struct {
	*httptest.Server
	fx    *fixtures.Server
	conns atomic.Int64
	live  atomic.Int64
}

func newCountingNode(t *testing.T, set string, overrides map[string]http.HandlerFunc) *countingNode {
	t.Helper()
	n := &countingNode{fx: fixtures.NewServer(t, set, overrides)}
	n.Server = httptest.NewUnstartedServer(n.fx)
	n.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		switch s {
		case http.StateNew:
			n.conns.Add(1)
			n.live.Add(1)
		case http.StateClosed, http.StateHijacked:
			n.live.Add(-1)
		}
	}
	n.Start()
	t.Cleanup(n.Close)
	return n
}

// addr is the node's host:port.
func (n *countingNode) addr() string { return strings.TrimPrefix(n.URL, "http://") }

// probeExporter is an exporter started with a --config.file.
type probeExporter struct {
	url    string
	exp    *exporter
	config string // the file's path
	logs   *testenv.SyncBuffer
}

// startProbeExporter writes config to a file and serves an exporter with
// it. The single node is an address where nothing listens.
func startProbeExporter(t *testing.T, config string, args ...string) *probeExporter {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "monero_exporter.yml")
	writeFile(t, path, config)
	args = append([]string{"--monerod.rpc-url=127.0.0.1:" + strconv.Itoa(testenv.FreePort(t)), "--config.file=" + path}, args...)
	cfg, err := parseConfig(args, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	logs := &testenv.SyncBuffer{}
	exp, err := newHandler(cfg, slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(exp)
	t.Cleanup(func() {
		srv.Close()
		exp.probes.close()
	})
	return &probeExporter{url: srv.URL, exp: exp, config: path, logs: logs}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// do sends a request and returns the status, the body and the content type.
func do(t *testing.T, method, u string, header map[string]string) (int, string, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, b := testenv.Fetch(t, nil, req)
	return resp.StatusCode, string(b), resp.Header.Get("Content-Type")
}

// probeQuery is the query string of a probe.
func probeQuery(module, target string) string {
	q := url.Values{}
	if module != "" {
		q.Set(paramModule, module)
	}
	if target != "" {
		q.Set(paramTarget, target)
	}
	return q.Encode()
}

// families parses the text exposition format.
func families(t *testing.T, body string) map[string]*dto.MetricFamily {
	t.Helper()
	mfs, err := testenv.ParseExposition(body)
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, body)
	}
	return mfs
}

// Without --config.file nothing may make the exporter connect elsewhere:
// /probe, /-/reload and the target parameters of the health endpoints are
// 404s, and the page / shows a browser does not offer /probe.
func TestProbeWithoutConfigFile(t *testing.T) {
	node := newCountingNode(t, fixtures.Busy, nil)
	other := newCountingNode(t, fixtures.Busy, nil)
	u := startExporter(t, "--monerod.rpc-url="+node.URL).URL
	q := "?" + probeQuery("default", other.addr())
	for _, tc := range []struct{ method, path, ctype string }{
		{http.MethodGet, "/probe" + q, "text/plain"},
		{http.MethodGet, "/probe", "text/plain"},
		{http.MethodGet, "/health" + q, "application/json"},
		{http.MethodGet, "/api/v1/monerod" + q, "application/json"},
		{http.MethodGet, "/health?" + paramTarget + "=" + other.addr(), "application/json"},
		{http.MethodPost, "/-/reload", "text/plain"},
	} {
		code, body, ctype := do(t, tc.method, u+tc.path, nil)
		if code != http.StatusNotFound || !strings.HasPrefix(ctype, tc.ctype) || !strings.Contains(body, "--config.file") {
			t.Errorf("%s %s: %d %s %q, want 404 naming --config.file", tc.method, tc.path, code, ctype, body)
		}
	}
	if n := other.conns.Load(); n != 0 {
		t.Errorf("the exporter connected %d times to a target", n)
	}
	// The single node is still served.
	if code, body, _ := do(t, http.MethodGet, u+"/api/v1/monerod", nil); code != http.StatusOK || !strings.Contains(body, `"version":`) {
		t.Errorf("/api/v1/monerod: %d %s", code, body)
	}
	if _, page, _ := do(t, http.MethodGet, u+"/", map[string]string{"Accept": "text/html"}); !strings.Contains(page, `href="/metrics"`) || strings.Contains(page, "/probe") {
		t.Errorf("the page / shows a browser without --config.file: it must link /metrics and not /probe:\n%s", page)
	}
}

const probeConfig = `
modules:
  default:
    allowed_targets: ["127.0.0.1"]
  fleet:
    timeout: 5s
    collectors: [txpool]
    health: {checks: [monerod]}
    allowed_targets: ["127.0.0.0/8", "*.nodes.example"]
  remote:
    allowed_targets: ["*.nodes.example", "10.0.0.0/8"]
  tls:
    tls: {insecure_skip_verify: true}
    allowed_targets: ["*"]
`

// A probe with an unknown module, a malformed target or one the module does
// not allow is refused with a one-line reason, and no connection is made:
// on /probe and on the health endpoints alike.
func TestProbeRefusedWithoutConnecting(t *testing.T) {
	node := newCountingNode(t, fixtures.Busy, nil)
	e := startProbeExporter(t, probeConfig)
	addr := node.addr()
	for _, tc := range []struct {
		name, query string
		code        int
		reason      string
	}{
		{"unknown module", probeQuery("nope", addr), 400, `unknown module "nope"`},
		{"missing target", probeQuery("fleet", ""), 400, `module "fleet": bad target: the target parameter is missing`},
		{"two targets", probeQuery("fleet", addr) + "&target=" + addr, 400, "give one target parameter"},
		{"two modules", probeQuery("fleet", addr) + "&module=fleet", 400, "give one module parameter"},
		{"credentials", probeQuery("fleet", "monero:hunter2@"+addr), 400, "must not carry credentials"},
		{"credentials in URL", probeQuery("fleet", "http://monero:hunter2@"+addr), 400, "must not carry credentials"},
		{"query in URL", probeQuery("fleet", "http://"+addr+"/?x=1"), 400, "must not have a query"},
		{"bad port", probeQuery("fleet", "127.0.0.1:99999"), 400, "not a number in 1-65535"},
		{"scheme", probeQuery("fleet", "ftp://"+addr), 400, "scheme must be http or https"},
		{"newline", probeQuery("fleet", addr+"\n"), 400, "control characters"},
		{"too long", probeQuery("fleet", strings.Repeat("a", 600)), 400, "longer than 512"},
		{"tls module, http target", probeQuery("tls", addr), 400, "the module sets tls"},
		{"not allowed", probeQuery("remote", addr), 403, `module "remote": target not allowed: host "127.0.0.1" matches none of the module's allowed_targets`},
		{"name not resolved for a CIDR", probeQuery("fleet", "localhost:"+strconv.Itoa(node.Listener.Addr().(*net.TCPAddr).Port)), 403, `host "localhost"`},
		{"default module, not allowed", probeQuery("", "10.0.0.1"), 403, `module "default": target not allowed`},
		{"malformed query", "target=%zz", 400, "query string is malformed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body, ctype := do(t, http.MethodGet, e.url+"/probe?"+tc.query, nil)
			if code != tc.code || !strings.Contains(body, tc.reason) || strings.Count(body, "\n") != 1 || !strings.HasPrefix(ctype, "text/plain") {
				t.Errorf("/probe: %d %s %q, want %d with %q on one line", code, ctype, body, tc.code, tc.reason)
			}
			if strings.Contains(body, "hunter2") {
				t.Errorf("/probe repeats the credentials: %q", body)
			}
			for _, path := range []string{"/health", "/api/v1", "/api/v1/last_block/health"} {
				code, body, ctype := do(t, http.MethodGet, e.url+path+"?"+tc.query, nil)
				var msg struct {
					Error struct{ Error, Message string }
				}
				if err := json.Unmarshal([]byte(body), &msg); err != nil || code != tc.code || !strings.Contains(msg.Error.Message, tc.reason) ||
					ctype != "application/json" || strings.Contains(body, "hunter2") {
					t.Errorf("%s: %d %s %q, want %d with %q", path, code, ctype, body, tc.code, tc.reason)
				}
			}
		})
	}
	if n := node.conns.Load(); n != 0 {
		t.Fatalf("refused probes made %d connections to the node", n)
	}
	// No node was made for a refused probe.
	if s := e.exp.probes.cache.Stats(); s.Built != 0 {
		t.Fatalf("refused probes built %d nodes", s.Built)
	}
	// Without a module named default, a probe must name one.
	e2 := startProbeExporter(t, "modules:\n  fleet:\n    allowed_targets: ['*']\n")
	if code, body, _ := do(t, http.MethodGet, e2.url+"/probe?target="+addr, nil); code != 400 || !strings.Contains(body, "module parameter is missing") {
		t.Errorf("no module: %d %q", code, body)
	}
}

// A probe answers with the target's monero_ metrics only, OpenMetrics when
// asked, within the module's timeout; the exporter's own metrics, the
// reload state and the cache among them, stay on /metrics.
func TestProbeScrapesTheTarget(t *testing.T) {
	node := newCountingNode(t, fixtures.Busy, nil)
	e := startProbeExporter(t, probeConfig)

	code, body, ctype := do(t, http.MethodGet, e.url+"/probe?"+probeQuery("fleet", node.addr()), nil)
	if code != http.StatusOK || !strings.HasPrefix(ctype, "text/plain") {
		t.Fatalf("/probe: %d %s\n%s", code, ctype, body)
	}
	mfs := families(t, body)
	if v := testenv.MustValue(t, mfs, "monero_up"); v != 1 {
		t.Errorf("monero_up %v", v)
	}
	if v := testenv.MustValue(t, mfs, "monero_height"); v != 92 {
		t.Errorf("monero_height %v, want the fixture's 92", v)
	}
	// The module's collectors and checks, not the flags'.
	if testenv.MustValue(t, mfs, "monero_scrape_collector_success", "collector", "txpool") != 1 || mfs["monero_bans"] != nil {
		t.Error("the module's collectors were not the ones used")
	}
	for name := range mfs {
		if !strings.HasPrefix(name, "monero_") || strings.HasPrefix(name, "monero_exporter_") {
			t.Errorf("/probe shows %s, which is the exporter's own", name)
		}
	}

	// OpenMetrics, as Prometheus asks for it.
	_, om, ctype := do(t, http.MethodGet, e.url+"/probe?"+probeQuery("fleet", node.addr()), map[string]string{
		"Accept": "application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.3",
	})
	if !strings.HasPrefix(ctype, "application/openmetrics-text") || !strings.HasSuffix(om, "# EOF\n") {
		t.Errorf("not OpenMetrics: %s", ctype)
	}

	// The default module, and the node of each (module, target) pair.
	if code, _, _ := do(t, http.MethodGet, e.url+"/probe?target="+node.addr(), nil); code != http.StatusOK {
		t.Errorf("default module: %d", code)
	}
	_, own, _ := do(t, http.MethodGet, e.url+"/metrics", nil)
	omfs := families(t, own)
	if testenv.MustValue(t, omfs, "monero_exporter_config_last_reload_successful") != 1 ||
		testenv.MustValue(t, omfs, "monero_exporter_config_last_reload_success_timestamp_seconds") < float64(time.Now().Add(-time.Minute).Unix()) ||
		testenv.MustValue(t, omfs, "monero_exporter_probe_targets") != 2 ||
		testenv.MustValue(t, omfs, "monero_exporter_rpc_requests_total", "method", "get_info", "outcome", "success") < 3 {
		t.Errorf("/metrics lacks the probe's own metrics:\n%s", own)
	}
	if !strings.Contains(own, "monero_up 0") {
		t.Error("/metrics does not show its own node (down) any more")
	}
	if _, page, _ := do(t, http.MethodGet, e.url+"/", map[string]string{"Accept": "text/html"}); !strings.Contains(page, `href="/probe"`) {
		t.Error("the page / shows a browser does not link /probe")
	}
}

// Concurrent probes of one target share its snapshot; a slow node is cut
// off at the module's timeout, or the scrape timeout when shorter.
func TestProbeSharesAndTimesOut(t *testing.T) {
	var slow atomic.Bool
	node := newCountingNode(t, fixtures.Busy, map[string]http.HandlerFunc{
		"get_info": func(w http.ResponseWriter, r *http.Request) {
			if slow.Load() {
				select {
				case <-time.After(3 * time.Second):
				case <-r.Context().Done():
				}
			} else {
				time.Sleep(50 * time.Millisecond)
			}
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"jsonrpc":"2.0","id":"0","result":` + string(fixtureResult(t, "get_info")) + `}`))
		},
	})
	e := startProbeExporter(t, probeConfig+`
  quick:
    timeout: 300ms
    allowed_targets: ["127.0.0.1"]
`)
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			if code, body, _ := do(t, http.MethodGet, e.url+"/probe?"+probeQuery("fleet", node.addr()), nil); code != 200 || !strings.Contains(body, "monero_up 1") {
				t.Errorf("%d %s", code, body)
			}
		})
	}
	wg.Wait()
	if n := node.fx.Calls("get_info"); n > 3 {
		t.Errorf("10 concurrent probes asked get_info %d times; they should share", n)
	}

	slow.Store(true)
	for _, tc := range []struct {
		module string
		header map[string]string
		max    time.Duration
	}{
		{"quick", nil, 1500 * time.Millisecond},
		{"fleet", map[string]string{"X-Prometheus-Scrape-Timeout-Seconds": "0.6"}, 1500 * time.Millisecond},
	} {
		start := time.Now()
		code, body, _ := do(t, http.MethodGet, e.url+"/probe?"+probeQuery(tc.module, node.addr()), tc.header)
		if took := time.Since(start); code != 200 || !strings.Contains(body, "monero_up 0") || took > tc.max {
			t.Errorf("module %s, slow node: %d after %v\n%s", tc.module, code, took, body)
		}
	}
}

// fixtureResult is the "result" of a recorded JSON-RPC answer.
func fixtureResult(t *testing.T, method string) json.RawMessage {
	t.Helper()
	var v struct {
		Result json.RawMessage `json:"result"`
	}
	if err := json.Unmarshal(fixtures.Load(t, fixtures.Busy, method), &v); err != nil {
		t.Fatal(err)
	}
	return v.Result
}

// /health and /api/v1 answer for the target named, with the module's
// checks; without parameters for the exporter's own node.
func TestHealthForATarget(t *testing.T) {
	node := newCountingNode(t, fixtures.Busy, nil)
	e := startProbeExporter(t, probeConfig)
	q := "?" + probeQuery("fleet", node.addr())

	code, body, ctype := do(t, http.MethodGet, e.url+"/health"+q, nil)
	var h struct {
		Status string                     `json:"status"`
		Checks map[string]json.RawMessage `json:"checks"`
	}
	if err := json.Unmarshal([]byte(body), &h); err != nil || code != 200 || ctype != "application/health+json" || h.Status != "pass" || len(h.Checks) != 1 {
		t.Errorf("/health for the target, whose module counts only monerod: %d %s %s", code, ctype, body)
	}
	if code, _, _ := do(t, http.MethodGet, e.url+"/health", nil); code != http.StatusServiceUnavailable {
		t.Errorf("/health for the exporter's own node, which is down: %d", code)
	}
	_, body, _ = do(t, http.MethodGet, e.url+"/api/v1/monerod"+q, nil)
	if !strings.Contains(body, `"version":16`) {
		t.Errorf("/api/v1/monerod for the target: %s", body)
	}
	_, body, _ = do(t, http.MethodGet, e.url+"/api/v1/monerod", nil)
	if !strings.Contains(body, `"version":-1`) {
		t.Errorf("/api/v1/monerod for the exporter's own node, which is down: %s", body)
	}
	// The health answer and a probe of the same target share its node.
	do(t, http.MethodGet, e.url+"/probe"+q, nil)
	if s := e.exp.probes.cache.Stats(); s.Len != 1 {
		t.Errorf("the health endpoints and /probe hold %d nodes for one target", s.Len)
	}
}

// A reload (SIGHUP's function, and POST /-/reload) takes a good file, keeps
// the nodes of unchanged modules and drops those of changed ones; a bad
// file keeps the previous modules, answers 500 with the reason, and logs it.
func TestProbeReload(t *testing.T) {
	node := newCountingNode(t, fixtures.Busy, nil)
	e := startProbeExporter(t, probeConfig)
	probe := func(module string) int {
		code, _, _ := do(t, http.MethodGet, e.url+"/probe?"+probeQuery(module, node.addr()), nil)
		return code
	}
	ownMetric := func(name string, labels ...string) float64 {
		_, own, _ := do(t, http.MethodGet, e.url+"/metrics", nil)
		return testenv.MustValue(t, families(t, own), name, labels...)
	}
	if probe("fleet") != 200 || probe("default") != 200 {
		t.Fatal("probes before the reload failed")
	}

	// A bad file: 500 with the reason, the old modules stay.
	writeFile(t, e.config, strings.Replace(probeConfig, "timeout: 5s", "timeout: 5 parsecs", 1))
	code, body, _ := do(t, http.MethodPost, e.url+"/-/reload", nil)
	if code != http.StatusInternalServerError || !strings.Contains(body, `module "fleet": timeout: unknown unit " parsecs"`) {
		t.Errorf("POST /-/reload of a bad file: %d %q", code, body)
	}
	if !strings.Contains(e.logs.String(), "level=ERROR") || !strings.Contains(e.logs.String(), "parsecs") {
		t.Errorf("the failed reload is not logged at error level:\n%s", e.logs)
	}
	if err := e.exp.probes.reload(); err == nil {
		t.Error("reload (SIGHUP) of a bad file: no error")
	}
	if probe("fleet") != 200 || ownMetric("monero_exporter_config_last_reload_successful") != 0 {
		t.Error("after a failed reload: the old module is gone, or the failure is not shown")
	}

	// A good file changing one module: its node is dropped, the other kept.
	writeFile(t, e.config, strings.Replace(probeConfig, "timeout: 5s", "timeout: 4s", 1)+"  new:\n    allowed_targets: ['127.0.0.1']\n")
	if code, body, _ := do(t, http.MethodPost, e.url+"/-/reload", nil); code != http.StatusOK {
		t.Fatalf("POST /-/reload of a good file: %d %q", code, body)
	}
	if s := e.exp.probes.cache.Stats(); s.Len != 1 || s.Dropped["config"] != 1 {
		t.Errorf("after changing module fleet: %+v", s)
	}
	if ownMetric("monero_exporter_config_last_reload_successful") != 1 || probe("new") != 200 {
		t.Error("the new file is not in effect")
	}

	// The SIGHUP path: a module removed.
	writeFile(t, e.config, "modules:\n  new:\n    allowed_targets: ['127.0.0.1']\n")
	if err := e.exp.probes.reload(); err != nil {
		t.Fatal(err)
	}
	if probe("fleet") != 400 || probe("new") != 200 {
		t.Error("after removing module fleet")
	}
	if v := ownMetric("monero_exporter_probe_targets_dropped_total", "reason", "config"); v != 2 {
		t.Errorf("dropped for config: %v, want 2 (fleet changed, then default removed)", v)
	}

	// GET is not a reload.
	if code, _, _ := do(t, http.MethodGet, e.url+"/-/reload", nil); code != http.StatusMethodNotAllowed {
		t.Errorf("GET /-/reload: %d", code)
	}
}

// A changed password file is a changed module: the reload drops the nodes
// that logged in with the old password.
func TestProbeReloadPasswordFile(t *testing.T) {
	node := newCountingNode(t, fixtures.Busy, nil)
	dir := t.TempDir()
	pw := filepath.Join(dir, "pw")
	writeFile(t, pw, "pw-first-7f3a\n")
	e := startProbeExporter(t, "modules:\n  default:\n    user: u\n    password_file: "+pw+"\n    allowed_targets: ['127.0.0.1']\n")
	do(t, http.MethodGet, e.url+"/probe?target="+node.addr(), nil)
	if err := e.exp.probes.reload(); err != nil || e.exp.probes.cache.Stats().Len != 1 {
		t.Fatalf("an unchanged file dropped the node: %v", err)
	}
	writeFile(t, pw, "pw-second-9c1d\n")
	if err := e.exp.probes.reload(); err != nil || e.exp.probes.cache.Stats().Len != 0 {
		t.Fatalf("a changed password kept the node: %v", err)
	}
	if strings.Contains(e.logs.String(), "pw-first") || strings.Contains(e.logs.String(), "pw-second") {
		t.Errorf("a password is in the log:\n%s", e.logs)
	}
}

// A real SIGHUP reloads the file.
func TestProbeReloadOnSIGHUP(t *testing.T) {
	e := startProbeExporter(t, probeConfig)
	watchReloads(t.Context(), e.exp.probes)
	writeFile(t, e.config, "modules:\n  sighup:\n    allowed_targets: ['127.0.0.1']\n")
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for e.exp.probes.modules.Load().Modules["sighup"] == nil {
		if time.Now().After(deadline) {
			t.Fatal("SIGHUP did not reload the file")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// An exporter whose file is bad at start does not start.
func TestProbeBadFileAtStart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.yml")
	writeFile(t, path, "modules:\n  a:\n    allowed_targets: []\n")
	var stderr bytes.Buffer
	if code := run([]string{"--config.file=" + path, "--web.listen-address=127.0.0.1:0"}, io.Discard, &stderr); code != 1 ||
		!strings.Contains(stderr.String(), `module "a": allowed_targets: is empty`) {
		t.Fatalf("exit %d, %s", code, stderr.String())
	}
	for _, bad := range [][]string{{"--probe.max-targets=0"}, {"--probe.target-idle-timeout=0s"}} {
		if _, err := parseConfig(bad, io.Discard); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}
