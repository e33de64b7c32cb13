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
// "/" is asked twice: as curl asks (the old service's combined JSON) and as
// a browser asks (the page).
var endpoints = []struct{ path, accept, file string }{
	{PathRoot, "*/*", "root"},
	{PathRoot, browserAccept, "root_browser"},
	{PathV1, "", "api_v1"},
	{PathV1Health, "", "api_v1_health"},
	{PathV1Monerod, "", "api_v1_monerod"},
	{PathV1MonerodHealth, "", "api_v1_monerod_health"},
	{PathV1LastBlock, "", "api_v1_last_block"},
	{PathV1LastBlockHealth, "", "api_v1_last_block_health"},
	{PathHealth, "", "health"},
}

// browserAccept is what Firefox sends for a page.
const browserAccept = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"

// goldenState is a node state every endpoint is recorded in, with the code
// /health answers (the other endpoints always answer 200).
type goldenState struct {
	name       string
	snap       *snapshot.Snapshot
	cfg        func(*Config)
	healthCode int
}

// goldenConfig is how the command configures the checks: the P2P port is
// always dialled (and shown), counted only when considered.
func goldenConfig() Config {
	cfg := testConfig()
	cfg.P2PAddress = "127.0.0.1:18080"
	return cfg
}

// goldenStates are built from snapshots rather than from a node: the states
// a real node cannot be brought to on demand (busy, a P2P port that times
// out), and every other one with exact values (no clock, no ports) as the
// reference that the integration test's recordings of real nodes
// (testdata/golden/regtest) are read beside.
func goldenStates() []goldenState {
	p2pOK := withP2P(nil)
	refused := withP2P(&net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED})
	timedOut := withP2P(&net.OpError{Op: "dial", Net: "tcp4", Err: timeoutErr{}})
	consider := func(c *Config) { c.ConsiderP2P = true }
	env := func(offset, unit string) func(*Config) {
		return func(c *Config) {
			if _, err := c.SetOffsetFromEnv(offset, unit); err != nil {
				panic(err)
			}
		}
	}
	return []goldenState{
		{"healthy", snap(p2pOK), nil, http.StatusOK},
		// A stale tip at the peers' best height: the network is slow.
		{"stale", snap(stale, p2pOK), nil, http.StatusOK},
		{"stale_peer_ahead", snap(stale, peerAhead, p2pOK), nil, http.StatusServiceUnavailable},
		{"tip_in_future", snap(p2pOK, func(s *snapshot.Snapshot) { s.LastBlock.Timestamp = testTime().Add(30 * time.Second).Unix() }), nil, http.StatusOK},
		{"unreachable", snap(unreachable, refused), nil, http.StatusServiceUnavailable},
		{"timeout", snap(timedOutRPC, p2pOK), nil, http.StatusServiceUnavailable},
		{"wrong_login", snap(wrongLogin, p2pOK), nil, http.StatusServiceUnavailable},
		{"restricted", snap(restricted, p2pOK), nil, http.StatusOK},
		{"daemon_busy", snap(hardForkBusy, p2pOK), nil, http.StatusServiceUnavailable},
		{"no_peers", snap(noPeers, p2pOK), nil, http.StatusServiceUnavailable},
		{"p2p_refused", snap(refused), nil, http.StatusOK},
		{"p2p_refused_considered", snap(refused), consider, http.StatusServiceUnavailable},
		{"p2p_timeout_considered", snap(timedOut), consider, http.StatusServiceUnavailable},
		{"offset_from_env", snap(stale, p2pOK), env("2820", "seconds"), http.StatusOK},
		{"offset_days", snap(stale, p2pOK), env("2", "days"), http.StatusOK},
		{"offset_days_unreachable", snap(unreachable, refused), env("2", "days"), http.StatusServiceUnavailable},
		{"bad_offset_unit", snap(p2pOK), env("10", "Hours"), http.StatusOK},
		{"bad_offset_unit_unreachable", snap(unreachable, refused), env("10", "Hours"), http.StatusServiceUnavailable},
		// OFFSET is /api/v1's alone: /health compares as always.
		{"bad_offset", snap(p2pOK), env("abc", ""), http.StatusOK},
	}
}

// timeoutErr is a net.Error that timed out, as a dial past its deadline.
type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

func serve(t *testing.T, h http.Handler, method, target string) *httptest.ResponseRecorder {
	t.Helper()
	return serveAccept(t, h, method, target, "")
}

func serveAccept(t *testing.T, h http.Handler, method, target, accept string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// testLinks are the page's links in the golden files.
var testLinks = []Link{{Address: "/metrics", Text: "Metrics"}, {Address: PathHealth, Text: "Health (probe)"}}

// TestGolden records every endpoint in every state. Run with -update to
// rewrite the files after an intended change, and review the diff.
func TestGolden(t *testing.T) {
	for _, st := range goldenStates() {
		cfg := goldenConfig()
		if st.cfg != nil {
			st.cfg(&cfg)
		}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		h := NewHandler(fixedGetter{st.snap}, cfg, time.Second, nil, testLinks...)
		for _, ep := range endpoints {
			t.Run(st.name+"/"+ep.file, func(t *testing.T) {
				rec := serveAccept(t, h, http.MethodGet, ep.path, ep.accept)
				checkGolden(t, filepath.Join("testdata", "golden", st.name), ep.file, ep.path, rec, st.healthCode, nil)
			})
		}
	}
}

// checkGolden compares a response with its golden file under dir, after
// normalize (when not nil) has replaced what changes from run to run.
// Golden JSON is indented for review; the bytes and the order of the keys
// are compared as served.
func checkGolden(t *testing.T, dir, file, path string, rec *httptest.ResponseRecorder, healthCode int, normalize func([]byte) []byte) {
	t.Helper()
	wantCode, wantType, ext := http.StatusOK, ContentTypeV1, ".json"
	switch {
	case path == PathHealth:
		wantCode, wantType = healthCode, ContentTypeHealth
	case strings.HasSuffix(file, "_browser"):
		wantType, ext = ContentTypeHTML, ".html"
	}
	if rec.Code != wantCode {
		t.Errorf("code = %d, want %d", rec.Code, wantCode)
	}
	if got := rec.Header().Get("Content-Type"); got != wantType {
		t.Errorf("Content-Type = %q, want %q", got, wantType)
	}
	body := rec.Body.Bytes()
	got := body
	if ext == ".json" {
		if !json.Valid(body) || bytes.Count(body, []byte("\n")) != 1 || !bytes.HasSuffix(body, []byte("}\n")) {
			t.Fatalf("body is not one line of JSON: %q", body)
		}
		if normalize != nil {
			body = normalize(body)
		}
		var pretty bytes.Buffer
		if err := json.Indent(&pretty, body, "", "    "); err != nil {
			t.Fatalf("%v: %s", err, body)
		}
		got = pretty.Bytes()
	} else if normalize != nil {
		got = normalize(body)
	}
	file = filepath.Join(dir, file+ext)
	if *update {
		if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(file, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (go test -update rewrites it):\n--- got\n%s\n--- want\n%s", file, got, want)
	}
}

// TestV1Shapes checks the old service's keys, their order and types
// directly, independently of the golden files: a healthy node, as
// monero_health_check answered for it.
func TestV1Shapes(t *testing.T) {
	h := NewHandler(fixedGetter{snap(withP2P(nil))}, goldenConfig(), time.Second, nil)
	const (
		lastBlock = `{"block_age":"0:08:23","block_recent":true,"block_recent_offset":12,"block_recent_offset_unit":"minutes",` +
			`"block_timestamp":"2020-01-07T14:58:14","check_timestamp":"2020-01-07T15:06:37","hash":"` + testTipHash + `",` +
			`"health":{"status":"OK"},"host":"127.0.0.1:18081"}`
		monerod = `{"health":{"status":"OK"},"host":"127.0.0.1","p2p":{"host":"127.0.0.1:18080","status":"OK"},` +
			`"rpc":{"host":"127.0.0.1:18081","status":"OK"},"version":16}`
		combined = `{"health":{"status":"OK"},"host":"127.0.0.1","last_block":` + lastBlock + `,"monerod":` + monerod + `}`
	)
	for path, want := range map[string]string{
		PathRoot:              combined,
		PathV1:                combined,
		PathV1Health:          `{"status":"OK"}`,
		PathV1MonerodHealth:   `{"status":"OK"}`,
		PathV1LastBlockHealth: `{"status":"OK"}`,
		PathV1Monerod:         monerod,
		PathV1LastBlock:       lastBlock,
	} {
		rec := serve(t, h, http.MethodGet, path)
		if got := rec.Body.String(); got != `{"result":`+want+"}\n" {
			t.Errorf("%s:\n got %s\nwant %s", path, got, `{"result":`+want+"}")
		}
		if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != ContentTypeV1 {
			t.Errorf("%s: %d %q", path, rec.Code, rec.Header().Get("Content-Type"))
		}
	}
}

// lastBlockOf and monerodOf decode the old API's bodies.
type v1LastBlockDecoded struct {
	BlockAge       any      `json:"block_age"`
	BlockRecent    bool     `json:"block_recent"`
	Offset         any      `json:"block_recent_offset"`
	OffsetUnit     string   `json:"block_recent_offset_unit"`
	BlockTimestamp string   `json:"block_timestamp"`
	Hash           string   `json:"hash"`
	Error          *v1Error `json:"error"`
	Health         v1Status `json:"health"`
	Host           string   `json:"host"`
}

type v1MonerodDecoded struct {
	Health  v1Status `json:"health"`
	Host    string   `json:"host"`
	RPC     v1Part   `json:"rpc"`
	P2P     *v1Part  `json:"p2p"`
	Version any      `json:"version"`
}

func lastBlockOf(t *testing.T, h http.Handler) v1LastBlockDecoded {
	t.Helper()
	var body struct{ Result v1LastBlockDecoded }
	decode(t, serve(t, h, http.MethodGet, PathV1LastBlock), &body)
	return body.Result
}

func monerodOf(t *testing.T, h http.Handler) v1MonerodDecoded {
	t.Helper()
	var body struct{ Result v1MonerodDecoded }
	decode(t, serve(t, h, http.MethodGet, PathV1Monerod), &body)
	return body.Result
}

func TestV1Failures(t *testing.T) {
	refused := withP2P(&net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED})
	t.Run("unreachable", func(t *testing.T) {
		h := NewHandler(fixedGetter{snap(unreachable, refused)}, goldenConfig(), time.Second, nil)
		r := lastBlockOf(t, h)
		if r.BlockRecent || r.BlockTimestamp != "---" || r.Hash != "---" || r.Health.Status != "UNKNOWN" ||
			r.OffsetUnit != "minutes" || r.Offset != float64(12) || r.BlockAge != float64(-1) || r.Host != "127.0.0.1:18081" {
			t.Errorf("last_block = %+v", r)
		}
		const wantErr = `-341: Could not establish a connection, original error: 'get_info: monerod unreachable: Post "http://127.0.0.1:18081/json_rpc": dial tcp 127.0.0.1:18081: connect: connection refused'.`
		if r.Error == nil || r.Error.Message != "Cannot determine status." || r.Error.Error != wantErr {
			t.Errorf("error = %+v, want %q", r.Error, wantErr)
		}
		m := monerodOf(t, h)
		if m.Version != float64(-1) || m.Health.Status != "UNKNOWN" || m.Host != "127.0.0.1" {
			t.Errorf("monerod = %+v", m)
		}
		if m.RPC.Status != "UNKNOWN" || m.RPC.Error == nil || m.RPC.Error.Error != wantErr || m.RPC.Error.Message != "Cannot determine status." {
			t.Errorf("rpc = %+v", m.RPC)
		}
		if m.P2P == nil || m.P2P.Status != "ERROR" || m.P2P.Host != "127.0.0.1:18080" ||
			*m.P2P.Error != (v1Error{Error: "[Errno 111] Connection refused", Message: "Status is 'ERROR'."}) {
			t.Errorf("p2p = %+v", m.P2P)
		}
	})
	t.Run("stale", func(t *testing.T) {
		h := NewHandler(fixedGetter{snap(stale, withP2P(nil))}, goldenConfig(), time.Second, nil)
		body := serve(t, h, http.MethodGet, PathV1LastBlock).Body.String()
		for _, want := range []string{
			`"block_age":"0:47:05"`,
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
	t.Run("errors in python-monerorpc's words", func(t *testing.T) {
		for _, tc := range []struct {
			err  error
			want string
		}{
			{fmt.Errorf("get_info: %w", monerod.ErrUnauthorized), "-344: Received HTTP status code '401'."},
			{fmt.Errorf("get_info: %w: %w", monerod.ErrBadResponse, &monerod.HTTPStatusError{StatusCode: 500}), "-344: Received HTTP status code '500'."},
			{fmt.Errorf("hard_fork_info: %w: %w", monerod.ErrBadResponse, &monerod.RPCError{Code: -32700, Message: "Parse error"}), "-32700: Parse error"},
			{
				fmt.Errorf("get_info: %w: context deadline exceeded", monerod.ErrTimeout),
				"-341: Connection timeout, original error: 'get_info: timed out waiting for monerod: context deadline exceeded'.",
			},
			{
				fmt.Errorf("get_info: %w: x509: certificate signed by unknown authority", monerod.ErrTLS),
				"-341: Could not establish a connection, original error: 'get_info: TLS handshake with monerod failed: x509: certificate signed by unknown authority'.",
			},
			{fmt.Errorf("get_info: %w: decode JSON: unexpected EOF", monerod.ErrBadResponse), "get_info: bad response from monerod: decode JSON: unexpected EOF"},
		} {
			if got := v1ErrText(tc.err); got != tc.want {
				t.Errorf("v1ErrText(%v) = %q, want %q", tc.err, got, tc.want)
			}
		}
		for err, want := range map[error]string{
			&net.OpError{Op: "dial", Net: "tcp4", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}: "[Errno 111] Connection refused",
			&net.OpError{Op: "dial", Net: "tcp4", Err: syscall.EHOSTUNREACH}:                                "[Errno 113] No route to host",
			&net.OpError{Op: "dial", Net: "tcp4", Err: timeoutErr{}}:                                        "timed out",
			&net.OpError{Op: "dial", Net: "tcp4", Err: &net.DNSError{Err: "no such host", Name: "node"}}:    "dial tcp4: lookup node: no such host",
		} {
			if got := v1P2PErrText(err); got != want {
				t.Errorf("v1P2PErrText(%v) = %q, want %q", err, got, want)
			}
		}
	})
	t.Run("combined has no error key at its level", func(t *testing.T) {
		h := NewHandler(fixedGetter{snap(unreachable, refused)}, goldenConfig(), time.Second, nil)
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
		consider := func(c *Config) { c.ConsiderP2P = true }
		for _, tc := range []struct {
			name         string
			snap         *snapshot.Snapshot
			cfg          func(*Config)
			want, wantMo string
		}{
			{"ok", snap(withP2P(nil)), nil, "OK", "OK"},
			{"stale", snap(stale, withP2P(nil)), nil, "ERROR", "OK"},
			{"unknown last block", snap(withP2P(nil), func(s *snapshot.Snapshot) { s.LastBlock, s.LastBlockErr = nil, monerod.ErrTimeout }), nil, "UNKNOWN", "OK"},
			{"error over unknown", snap(hardForkBusy, withP2P(nil), func(s *snapshot.Snapshot) { s.LastBlock, s.LastBlockErr = nil, monerod.ErrTimeout }), nil, "ERROR", "ERROR"},
			{"peers and sync do not count", snap(noPeers, withP2P(nil), func(s *snapshot.Snapshot) { s.Info.Synchronized = false }), nil, "OK", "OK"},
			{"warn is OK", snap(restricted, withP2P(nil)), nil, "OK", "OK"},
			{"p2p refused, not considered", snap(refused), nil, "OK", "OK"},
			{"p2p refused, considered", snap(refused), consider, "ERROR", "ERROR"},
			{"p2p timed out, considered", snap(withP2P(&net.OpError{Op: "dial", Net: "tcp4", Err: timeoutErr{}})), consider, "UNKNOWN", "UNKNOWN"},
		} {
			cfg := goldenConfig()
			if tc.cfg != nil {
				tc.cfg(&cfg)
			}
			h := NewHandler(fixedGetter{tc.snap}, cfg, time.Second, nil)
			want := `{"result":{"status":"` + tc.want + `"}}`
			if got := strings.TrimSpace(serve(t, h, http.MethodGet, PathV1Health).Body.String()); got != want {
				t.Errorf("%s: /api/v1/health = %s, want %s", tc.name, got, want)
			}
			want = `{"result":{"status":"` + tc.wantMo + `"}}`
			if got := strings.TrimSpace(serve(t, h, http.MethodGet, PathV1MonerodHealth).Body.String()); got != want {
				t.Errorf("%s: /api/v1/monerod/health = %s, want %s", tc.name, got, want)
			}
		}
	})
}

// TestV1Offset checks how block_recent_offset is echoed, by the old
// service's rules: the number it compared with once it had the block, the
// environment's text before that.
func TestV1Offset(t *testing.T) {
	for _, tc := range []struct {
		name         string
		offset, unit string
		snap         *snapshot.Snapshot
		want         string
	}{
		{"unset, answering", "", "", snap(), `"block_recent_offset":12,"block_recent_offset_unit":"minutes"`},
		{"unset, down", "", "", snap(unreachable), `"block_recent_offset":12,"block_recent_offset_unit":"minutes"`},
		{"set, answering", "10", "", snap(), `"block_recent_offset":10,"block_recent_offset_unit":"minutes"`},
		{"set, down", "10", "", snap(unreachable), `"block_recent_offset":"10","block_recent_offset_unit":"minutes"`},
		{"days, down", "2", "days", snap(unreachable), `"block_recent_offset":"2","block_recent_offset_unit":"days"`},
		{"unit alone, down", "", "hours", snap(unreachable), `"block_recent_offset":12,"block_recent_offset_unit":"hours"`},
		{"bad unit, answering", "10", "Hours", snap(), `"block_recent_offset":12,"block_recent_offset_unit":"minutes"`},
		{"bad unit, down", "10", "Hours", snap(unreachable), `"block_recent_offset":"10","block_recent_offset_unit":"Hours"`},
		{"not an integer", " abc", "", snap(), `"block_age":-1,"block_recent":false,"block_recent_offset":" abc","block_recent_offset_unit":"minutes","block_timestamp":"2020-01-07T14:58:14"`},
	} {
		cfg := goldenConfig()
		if _, err := cfg.SetOffsetFromEnv(tc.offset, tc.unit); err != nil {
			t.Fatal(err)
		}
		h := NewHandler(fixedGetter{tc.snap}, cfg, time.Second, nil)
		if body := serve(t, h, http.MethodGet, PathV1LastBlock).Body.String(); !strings.Contains(body, tc.want) {
			t.Errorf("%s: %s lacks %s", tc.name, body, tc.want)
		}
	}
}

func decode(t *testing.T, rec *httptest.ResponseRecorder, v any) {
	t.Helper()
	if err := json.Unmarshal(rec.Body.Bytes(), v); err != nil {
		t.Fatalf("decoding %q: %v", rec.Body.String(), err)
	}
}

func TestProbe(t *testing.T) {
	healthy := NewHandler(fixedGetter{snap()}, testConfig(), time.Second, nil)
	failing := NewHandler(fixedGetter{snap(stale, peerAhead)}, testConfig(), time.Second, nil)
	slowNetwork := NewHandler(fixedGetter{snap(stale)}, testConfig(), time.Second, nil)
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
		{"stale at peers' best", slowNetwork, "GET", "/health", 200, "warn"},
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
				if tc.code == 405 && rec.Header().Get("Allow") != "GET, HEAD, OPTIONS" {
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
	cfg := goldenConfig()
	cfg.ConsiderP2P = true
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
		{"GET", "/", 200},
		{"POST", "/", 405},
		{"GET", "//", 404},
		{"OPTIONS", "/api/v1/nothing", 404},
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

// OPTIONS on every path answers as Flask did: 200, the methods, no body,
// without asking monerod.
func TestOptions(t *testing.T) {
	g := deadlineGetter{got: make(chan time.Duration, 100)}
	h := NewHandler(g, testConfig(), time.Second, nil)
	for _, path := range []string{PathRoot, PathV1, PathV1 + "/", PathV1Health, PathV1Monerod, PathV1MonerodHealth, PathV1LastBlock, PathV1LastBlockHealth, PathHealth} {
		rec := serve(t, h, http.MethodOptions, path)
		if rec.Code != http.StatusOK || rec.Header().Get("Allow") != "GET, HEAD, OPTIONS" || rec.Body.Len() != 0 {
			t.Errorf("OPTIONS %s: %d, Allow %q, body %q", path, rec.Code, rec.Header().Get("Allow"), rec.Body.String())
		}
	}
	if len(g.got) != 0 {
		t.Errorf("OPTIONS asked monerod %d times", len(g.got))
	}
}

// Strings in the old API's bodies are not HTML-escaped, as Python's json
// left them; error bodies, which repeat the request's path, are.
func TestNoHTMLEscaping(t *testing.T) {
	s := snap(withP2P(nil), func(s *snapshot.Snapshot) {
		s.HardFork, s.HardForkErr = nil, fmt.Errorf("hard_fork_info: %w: %w", monerod.ErrBadResponse, &monerod.RPCError{Code: -1, Message: "<busy> & co"})
	})
	h := NewHandler(fixedGetter{s}, goldenConfig(), time.Second, nil)
	if body := serve(t, h, http.MethodGet, PathV1Monerod).Body.String(); !strings.Contains(body, `"-1: <busy> & co"`) {
		t.Errorf("body %s, want <, > and & as they are", body)
	}
}

func TestRootNegotiation(t *testing.T) {
	h := NewHandler(fixedGetter{snap(stale, peerAhead, withP2P(nil))}, goldenConfig(), time.Second, nil, testLinks...)
	for _, tc := range []struct {
		name, accept string
		html         bool
	}{
		{"no Accept (the old service's clients)", "", false},
		{"curl", "*/*", false},
		{"JSON", "application/json", false},
		{"JSON first", "application/json, text/html", false},
		{"both alike", "text/html, application/json", false},
		{"HTML below JSON", "text/html;q=0.5, application/json", false},
		{"HTML refused", "text/html;q=0, */*", false},
		{"Firefox", browserAccept, true},
		{"Chrome", "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7", true},
		{"HTML alone", "text/html", true},
		{"text of any kind over the rest", "text/*, */*;q=0.1", true},
		{"HTML above JSON", "application/json;q=0.5, TEXT/HTML", true},
	} {
		for _, method := range []string{http.MethodGet, http.MethodHead} {
			rec := serveAccept(t, h, method, "/", tc.accept)
			ct := rec.Header().Get("Content-Type")
			if (ct == ContentTypeHTML) != tc.html || rec.Code != http.StatusOK {
				t.Errorf("%s %s (Accept %q): %d %q, want HTML %t", method, tc.name, tc.accept, rec.Code, ct, tc.html)
			}
			if rec.Header().Get("Vary") != "Accept" {
				t.Errorf("%s: Vary %q", tc.name, rec.Header().Get("Vary"))
			}
			if method == http.MethodHead && rec.Body.Len() != 0 {
				t.Errorf("HEAD %s: body %q", tc.name, rec.Body.String())
			}
		}
	}
	// The page shows the node's checks from one snapshot, and the links.
	page := serveAccept(t, h, http.MethodGet, "/", browserAccept).Body.String()
	for _, want := range []string{
		`<h2>monerod 127.0.0.1:18081 (0.18.0.0-release): <span class="fail">fail</span></h2>`,
		`<tr><td>last_block</td><td>yes</td><td class="fail">fail</td><td>2825 s</td><td>Node doesn&#39;t have recent blocks</td></tr>`,
		`<tr><td>p2p</td><td><span class="muted">no</span></td><td class="pass">pass</td><td>3 ms</td><td></td></tr>`,
		`/api/v1 answers <span class="ERROR">ERROR</span>`,
		`<li><a href="/metrics">Metrics</a></li>`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %s:\n%s", want, page)
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
		if ep.path == PathV1Monerod && !strings.Contains(body, `"host":"127.0.0.1:18081"`) {
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

// TestChainCountsOnlyWhenListed: with reference nodes configured and the
// node on a fork, every body of the APIs stays as for a healthy node
// (the golden files) until the operator lists the chain check; then /health
// and the old API's combined status fail, and its monerod and last_block
// parts stay as they were.
func TestChainCountsOnlyWhenListed(t *testing.T) {
	forked := snap(withP2P(nil), withChain(ref("node2", testHeight, otherHash, nil), ref("node3", testHeight+1, otherHash, nil)))
	cfg := goldenConfig()
	cfg.References = []string{"node2", "node3"}
	h := NewHandler(fixedGetter{forked}, cfg, time.Second, nil, testLinks...)
	for _, ep := range endpoints {
		if strings.HasSuffix(ep.file, "_browser") {
			continue // the page shows every check, counted or not
		}
		t.Run("not listed/"+ep.file, func(t *testing.T) {
			rec := serveAccept(t, h, http.MethodGet, ep.path, ep.accept)
			checkGolden(t, filepath.Join("testdata", "golden", "healthy"), ep.file, ep.path, rec, http.StatusOK, nil)
		})
	}

	cfg.Checks = []string{CheckMonerod, CheckLastBlock, CheckPeers, CheckSync, CheckChain}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	h = NewHandler(fixedGetter{forked}, cfg, time.Second, nil, testLinks...)
	for path, want := range map[string]string{
		PathV1Health:          `{"result":{"status":"ERROR"}}`,
		PathV1MonerodHealth:   `{"result":{"status":"OK"}}`,
		PathV1LastBlockHealth: `{"result":{"status":"OK"}}`,
	} {
		if got := strings.TrimSpace(serve(t, h, http.MethodGet, path).Body.String()); got != want {
			t.Errorf("%s: %s, want %s", path, got, want)
		}
	}
	if body := serve(t, h, http.MethodGet, PathV1).Body.String(); !strings.HasPrefix(body, `{"result":{"health":{"status":"ERROR"}`) {
		t.Errorf("%s: %s", PathV1, body)
	}
	rec := serve(t, h, http.MethodGet, PathHealth)
	var body probeBody
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatal(err)
	}
	chain := body.Checks[CheckChain]
	if rec.Code != http.StatusServiceUnavailable || body.Status != "fail" || len(chain) != 1 ||
		chain[0].Status != "fail" || chain[0].Output != OutputOnFork+" (node2, node3)" || chain[0].ObservedValue != float64(1) {
		t.Errorf("/health: %d %s", rec.Code, rec.Body)
	}
}
