package health

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/monero-ops/monero_exporter/monerod"
	"github.com/monero-ops/monero_exporter/snapshot"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

// endpoints maps every path the handler serves to its golden file name.
var endpoints = []struct{ path, file string }{
	{PathV1, "api_v1"},
	{PathV1Health, "api_v1_health"},
	{PathV1Monerod, "api_v1_monerod"},
	{PathV1MonerodHealth, "api_v1_monerod_health"},
	{PathV1LastBlock, "api_v1_last_block"},
	{PathV1LastBlockHealth, "api_v1_last_block_health"},
	{PathHealth, "health"},
}

// goldenStates are the node states every endpoint is recorded in, with the
// code /health answers (the /api/v1 endpoints always answer 200).
func goldenStates() []struct {
	name       string
	snap       *snapshot.Snapshot
	cfg        func(*Config)
	healthCode int
} {
	return []struct {
		name       string
		snap       *snapshot.Snapshot
		cfg        func(*Config)
		healthCode int
	}{
		{"healthy", snap(), nil, http.StatusOK},
		{"stale", snap(stale), nil, http.StatusServiceUnavailable},
		{"unreachable", snap(unreachable), nil, http.StatusServiceUnavailable},
		{"restricted", snap(restricted), nil, http.StatusOK},
		{"daemon_busy", snap(hardForkBusy), nil, http.StatusServiceUnavailable},
		{"no_peers", snap(noPeers), nil, http.StatusServiceUnavailable},
		{
			"p2p_refused", snap(withP2P(&net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED})),
			func(c *Config) { c.P2PAddress = "127.0.0.1:18080" }, http.StatusServiceUnavailable,
		},
		{"offset_from_env", snap(stale), func(c *Config) { c.OffsetUnit = "seconds" }, http.StatusServiceUnavailable},
	}
}

func serve(t *testing.T, h http.Handler, method, target string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// TestGolden records every endpoint in every state. Run with -update to
// rewrite the files after an intended change, and review the diff.
func TestGolden(t *testing.T) {
	for _, st := range goldenStates() {
		cfg := testConfig()
		if st.cfg != nil {
			st.cfg(&cfg)
		}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		h := NewHandler(fixedGetter{st.snap}, cfg, time.Second, nil)
		for _, ep := range endpoints {
			t.Run(st.name+"/"+ep.file, func(t *testing.T) {
				rec := serve(t, h, http.MethodGet, ep.path)
				wantCode, wantType := http.StatusOK, ContentTypeV1
				if ep.path == PathHealth {
					wantCode, wantType = st.healthCode, ContentTypeHealth
				}
				if rec.Code != wantCode {
					t.Errorf("code = %d, want %d", rec.Code, wantCode)
				}
				if got := rec.Header().Get("Content-Type"); got != wantType {
					t.Errorf("Content-Type = %q, want %q", got, wantType)
				}
				body := rec.Body.Bytes()
				if !json.Valid(body) || bytes.Count(body, []byte("\n")) != 1 {
					t.Fatalf("body is not one line of JSON: %q", body)
				}
				// Golden files are indented for review; the order of
				// the keys is compared as served.
				var pretty bytes.Buffer
				if err := json.Indent(&pretty, body, "", "    "); err != nil {
					t.Fatal(err)
				}
				file := filepath.Join("testdata", "golden", st.name, ep.file+".json")
				if *update {
					if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(file, pretty.Bytes(), 0o644); err != nil {
						t.Fatal(err)
					}
					return
				}
				want, err := os.ReadFile(file)
				if err != nil {
					t.Fatalf("%v (run go test -update to create it)", err)
				}
				if !bytes.Equal(pretty.Bytes(), want) {
					t.Errorf("%s differs (go test -update rewrites it):\n--- got\n%s\n--- want\n%s", file, pretty.Bytes(), want)
				}
			})
		}
	}
}

// TestV1Shapes checks the old service's documented keys and their order
// directly, independently of the golden files.
func TestV1Shapes(t *testing.T) {
	h := NewHandler(fixedGetter{snap()}, testConfig(), time.Second, nil)
	for path, want := range map[string]string{
		PathV1Health:          `{"result":{"status":"OK"}}`,
		PathV1MonerodHealth:   `{"result":{"status":"OK"}}`,
		PathV1LastBlockHealth: `{"result":{"status":"OK"}}`,
		PathV1Monerod:         `{"result":{"health":{"status":"OK"},"version":16}}`,
		PathV1LastBlock: `{"result":{"block_recent":true,"block_recent_offset":12,"block_recent_offset_unit":"minutes",` +
			`"block_timestamp":"2020-01-07T14:58:14","check_timestamp":"2020-01-07T15:06:37","hash":"` + testTipHash + `","health":{"status":"OK"}}}`,
	} {
		if got := strings.TrimSpace(serve(t, h, http.MethodGet, path).Body.String()); got != want {
			t.Errorf("%s:\n got %s\nwant %s", path, got, want)
		}
	}
	var combined struct {
		Result map[string]json.RawMessage `json:"result"`
	}
	if err := json.Unmarshal(serve(t, h, http.MethodGet, PathV1).Body.Bytes(), &combined); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"health", "last_block", "monerod"} {
		if _, ok := combined.Result[key]; !ok {
			t.Errorf("/api/v1 has no %q key", key)
		}
	}
	if len(combined.Result) != 3 {
		t.Errorf("/api/v1 has keys %v, want health, last_block, monerod", combined.Result)
	}
}

func TestV1Failures(t *testing.T) {
	t.Run("unreachable", func(t *testing.T) {
		h := NewHandler(fixedGetter{snap(unreachable)}, testConfig(), time.Second, nil)
		var lb struct {
			Result struct {
				BlockRecent     bool   `json:"block_recent"`
				BlockTimestamp  string `json:"block_timestamp"`
				Hash            string `json:"hash"`
				Error           v1Error
				Health          v1Status
				OffsetUnit      string `json:"block_recent_offset_unit"`
				BlockRecentOffs int    `json:"block_recent_offset"`
			} `json:"result"`
		}
		decode(t, serve(t, h, http.MethodGet, PathV1LastBlock), &lb)
		r := lb.Result
		if r.BlockRecent || r.BlockTimestamp != "---" || r.Hash != "---" || r.Health.Status != "UNKNOWN" ||
			r.OffsetUnit != "minutes" || r.BlockRecentOffs != 12 {
			t.Errorf("last_block = %+v", r)
		}
		if r.Error.Message != "Cannot determine daemon status. Daemon: '127.0.0.1:18081'." {
			t.Errorf("message = %q", r.Error.Message)
		}
		if !strings.Contains(r.Error.Error, "connection refused") {
			t.Errorf("error = %q, want the cause", r.Error.Error)
		}
		var mon struct {
			Result struct {
				Error   v1Error
				Health  v1Status
				Version any `json:"version"`
			} `json:"result"`
		}
		decode(t, serve(t, h, http.MethodGet, PathV1Monerod), &mon)
		if mon.Result.Version != "---" || mon.Result.Health.Status != "UNKNOWN" ||
			mon.Result.Error.Message != "Cannot determine daemon status. Daemon: '127.0.0.1:18081'." {
			t.Errorf("monerod = %+v", mon.Result)
		}
	})
	t.Run("stale", func(t *testing.T) {
		h := NewHandler(fixedGetter{snap(stale)}, testConfig(), time.Second, nil)
		body := serve(t, h, http.MethodGet, PathV1LastBlock).Body.String()
		for _, want := range []string{
			`"block_recent":false`,
			`"message":"Last block's timestamp is older than '12 [minutes]'."`,
			`"error":"Last block's age is '0:47:05'."`,
			`"health":{"status":"ERROR"}`,
		} {
			if !strings.Contains(body, want) {
				t.Errorf("body %s lacks %s", body, want)
			}
		}
	})
	t.Run("combined has no error key at its level", func(t *testing.T) {
		h := NewHandler(fixedGetter{snap(unreachable)}, testConfig(), time.Second, nil)
		var combined struct {
			Result map[string]json.RawMessage `json:"result"`
		}
		decode(t, serve(t, h, http.MethodGet, PathV1), &combined)
		if _, ok := combined.Result["error"]; ok {
			t.Errorf("/api/v1 has an error key: %s", combined.Result["error"])
		}
		if got := string(combined.Result["health"]); got != `{"status":"UNKNOWN"}` {
			t.Errorf("health = %s", got)
		}
	})
	t.Run("worst of", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			snap *snapshot.Snapshot
			want string
		}{
			{"ok", snap(), "OK"},
			{"stale", snap(stale), "ERROR"},
			{"unknown last block", snap(func(s *snapshot.Snapshot) { s.LastBlock, s.LastBlockErr = nil, monerod.ErrTimeout }), "UNKNOWN"},
			{"error over unknown", snap(hardForkBusy, func(s *snapshot.Snapshot) { s.LastBlock, s.LastBlockErr = nil, monerod.ErrTimeout }), "ERROR"},
			{"peers and sync do not count", snap(noPeers, func(s *snapshot.Snapshot) { s.Info.Synchronized = false }), "OK"},
			{"warn is OK", snap(restricted), "OK"},
		} {
			h := NewHandler(fixedGetter{tc.snap}, testConfig(), time.Second, nil)
			want := `{"result":{"status":"` + tc.want + `"}}`
			if got := strings.TrimSpace(serve(t, h, http.MethodGet, PathV1Health).Body.String()); got != want {
				t.Errorf("%s: /api/v1/health = %s, want %s", tc.name, got, want)
			}
		}
	})
}

func decode(t *testing.T, rec *httptest.ResponseRecorder, v any) {
	t.Helper()
	if err := json.Unmarshal(rec.Body.Bytes(), v); err != nil {
		t.Fatalf("decoding %q: %v", rec.Body.String(), err)
	}
}

func TestProbe(t *testing.T) {
	healthy := NewHandler(fixedGetter{snap()}, testConfig(), time.Second, nil)
	failing := NewHandler(fixedGetter{snap(stale)}, testConfig(), time.Second, nil)
	for _, tc := range []struct {
		name   string
		h      http.Handler
		method string
		target string
		code   int
		status string // body's status; "" for an error body
	}{
		{"healthy", healthy, "GET", "/health", 200, "pass"},
		{"failing", failing, "GET", "/health", 503, "fail"},
		{"strict on healthy", healthy, "GET", "/health?strict_status_code=1", 200, "pass"},
		{"strict on failing", failing, "GET", "/health?strict_status_code=1", 200, "fail"},
		{"strict 0", failing, "GET", "/health?strict_status_code=0", 400, ""},
		{"strict true", healthy, "GET", "/health?strict_status_code=true", 400, ""},
		{"strict empty", healthy, "GET", "/health?strict_status_code=", 400, ""},
		{"strict twice", healthy, "GET", "/health?strict_status_code=1&strict_status_code=1", 400, ""},
		{"other parameters ignored", healthy, "GET", "/health?foo=bar", 200, "pass"},
		{"malformed query keeps no strict", failing, "GET", "/health?strict_status_code=1;x", 400, ""},
		{"malformed escape", healthy, "GET", "/health?%zz", 400, ""},
		{"HEAD healthy", healthy, "HEAD", "/health", 200, ""},
		{"HEAD failing", failing, "HEAD", "/health", 503, ""},
		{"POST", healthy, "POST", "/health", 405, ""},
		{"PUT", healthy, "PUT", "/health", 405, ""},
		{"DELETE", healthy, "DELETE", "/health", 405, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := serve(t, tc.h, tc.method, tc.target)
			if rec.Code != tc.code {
				t.Errorf("code = %d, want %d", rec.Code, tc.code)
			}
			if tc.method == "HEAD" {
				if rec.Body.Len() != 0 {
					t.Errorf("HEAD has a body: %q", rec.Body.String())
				}
				if rec.Header().Get("Content-Type") != ContentTypeHealth || rec.Header().Get("Content-Length") == "" {
					t.Errorf("HEAD headers = %v", rec.Header())
				}
				return
			}
			if tc.status == "" {
				var e struct {
					Error v1Error `json:"error"`
				}
				decode(t, rec, &e)
				if e.Error.Error != http.StatusText(tc.code) || e.Error.Message == "" {
					t.Errorf("error body = %s", rec.Body.String())
				}
				if ct := rec.Header().Get("Content-Type"); ct != ContentTypeV1 {
					t.Errorf("error Content-Type = %q", ct)
				}
				if tc.code == 405 && rec.Header().Get("Allow") != "GET, HEAD" {
					t.Errorf("Allow = %q", rec.Header().Get("Allow"))
				}
				return
			}
			var body struct {
				Status string `json:"status"`
			}
			decode(t, rec, &body)
			if body.Status != tc.status {
				t.Errorf("status = %q, want %q", body.Status, tc.status)
			}
		})
	}
}

func TestProbeBody(t *testing.T) {
	cfg := testConfig()
	cfg.P2PAddress = "127.0.0.1:18080"
	h := NewHandler(fixedGetter{snap(withP2P(nil), restricted)}, cfg, time.Second, nil)
	rec := serve(t, h, "GET", "/health")
	var body struct {
		Status      string `json:"status"`
		Description string `json:"description"`
		Checks      map[string][]map[string]any
	}
	decode(t, rec, &body)
	if body.Status != "warn" || rec.Code != 200 {
		t.Errorf("restricted node: status %q code %d, want warn 200", body.Status, rec.Code)
	}
	if body.Description != "monero_exporter 1.2.3, monerod rpc-3.11" {
		t.Errorf("description = %q", body.Description)
	}
	if len(body.Checks) != 5 {
		t.Errorf("checks = %v, want all five", body.Checks)
	}
	for name, comps := range body.Checks {
		if len(comps) != 1 {
			t.Fatalf("%s: %d components", name, len(comps))
		}
		c := comps[0]
		if c["componentName"] != name || c["componentType"] != "internal" || c["time"] != "2020-01-07T15:06:37Z" {
			t.Errorf("%s: %v", name, c)
		}
		_, hasOutput := c["output"]
		if (c["status"] == "pass") == hasOutput {
			t.Errorf("%s: status %v with output %v (output is omitted exactly on pass)", name, c["status"], c["output"])
		}
	}
	if got := body.Checks["peers"][0]["output"]; got != OutputPeersRestricted {
		t.Errorf("peers output = %v", got)
	}

	cfg = testConfig()
	cfg.Checks = []string{CheckLastBlock}
	h = NewHandler(fixedGetter{snap(noPeers)}, cfg, time.Second, nil)
	rec = serve(t, h, "GET", "/health")
	var only struct {
		Checks map[string]any
	}
	decode(t, rec, &only)
	if rec.Code != 200 || len(only.Checks) != 1 || only.Checks["last_block"] == nil {
		t.Errorf("only last_block enabled: code %d, checks %v", rec.Code, only.Checks)
	}
}

func TestRouting(t *testing.T) {
	h := NewHandler(fixedGetter{snap()}, testConfig(), time.Second, nil)
	for _, tc := range []struct {
		method, target string
		code           int
	}{
		{"GET", "/api/v1/", 200},
		{"GET", "/api/v1/health/", 200},
		{"GET", "/api/v1/monerod/health/", 200},
		{"GET", "/api/v1/last_block/", 200},
		{"HEAD", "/api/v1", 200},
		{"GET", "/api/v1/nothing", 404},
		{"GET", "/api/v1/monerod/version", 404},
		{"GET", "/api/v2", 404},
		{"GET", "/api/v1/<script>", 404},
		{"POST", "/api/v1", 405},
		{"POST", "/api/v1/nothing", 404},
	} {
		rec := serve(t, h, tc.method, tc.target)
		if rec.Code != tc.code {
			t.Errorf("%s %s: code %d, want %d", tc.method, tc.target, rec.Code, tc.code)
		}
		if tc.code != 200 {
			if ct := rec.Header().Get("Content-Type"); ct != ContentTypeV1 || !json.Valid(rec.Body.Bytes()) {
				t.Errorf("%s %s: %q body %q, want JSON", tc.method, tc.target, ct, rec.Body.String())
			}
			if strings.Contains(rec.Body.String(), "<") {
				t.Errorf("%s %s: unescaped HTML in %q", tc.method, tc.target, rec.Body.String())
			}
		}
	}
}

// TestNoPassword checks that a password in an error or in the configured
// address never reaches a body.
func TestNoPassword(t *testing.T) {
	const secret = "s3cr3t-pw"
	leaky := snap(func(s *snapshot.Snapshot) {
		s.HardFork = nil
		s.HardForkErr = fmt.Errorf("hard_fork_info: %w: Post \"http://alice:%s@127.0.0.1:18081/json_rpc\": EOF", monerod.ErrBadResponse, secret)
		s.LastBlock = nil
		s.LastBlockErr = fmt.Errorf("get_last_block_header: %w: Post \"https://alice:%s@node/json_rpc\": reset", monerod.ErrUnreachable, secret)
		s.Connections = nil
		s.ConnectionsErr = fmt.Errorf("get_connections: %w: http://alice:%s@node", monerod.ErrTimeout, secret)
	})
	cfg := testConfig()
	cfg.DaemonAddress = "alice:" + secret + "@127.0.0.1:18081"
	h := NewHandler(fixedGetter{leaky}, cfg, time.Second, nil)
	for _, ep := range endpoints {
		body := serve(t, h, "GET", ep.path).Body.String()
		if strings.Contains(body, secret) {
			t.Errorf("%s leaks the password: %s", ep.path, body)
		}
		if ep.path == PathV1Monerod && !strings.Contains(body, "Daemon: '127.0.0.1:18081'") {
			t.Errorf("%s: address not shown without credentials: %s", ep.path, body)
		}
	}
}

// deadlineGetter records the deadline of the context it is called with.
type deadlineGetter struct {
	got chan time.Duration
}

func (g deadlineGetter) Get(ctx context.Context) *snapshot.Snapshot {
	d, ok := ctx.Deadline()
	if !ok {
		g.got <- -1
	} else {
		g.got <- time.Until(d)
	}
	return snap()
}

func TestRequestTimeout(t *testing.T) {
	g := deadlineGetter{got: make(chan time.Duration, 1)}
	h := NewHandler(g, testConfig(), 3*time.Second, nil)
	serve(t, h, "GET", "/health")
	if d := <-g.got; d <= 0 || d > 3*time.Second {
		t.Errorf("snapshot asked with %v left, want at most the 3s timeout", d)
	}
	// A 405 or 400 does not ask monerod at all.
	serve(t, h, "POST", "/health")
	serve(t, h, "GET", "/health?strict_status_code=2")
	select {
	case d := <-g.got:
		t.Errorf("a rejected request asked for a snapshot (%v)", d)
	default:
	}
}
