package main

// Faults of the node, against a real regtest monerod where a real node can
// show the fault, and against a fake (internal/fixtures behind a switch)
// where only a fake can (slow answers, bad bodies). For each fault the
// exporter keeps serving, answers within the request's deadline, says the
// truth in monero_up, monero_rpc_call_success and the request counters,
// health says the node cannot be vouched for, and nothing leaks: the
// exporter's goroutines return to what it had at start and its
// connections to the node stay within --monerod.max-connections.
//
// Goroutines are counted per exporter through a pprof label set when it is
// started: every goroutine it spawns (server, snapshot fetches, the
// client's connections) inherits the label, so the count holds while other
// tests run in parallel.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/monero-ops/monero_exporter/internal/fixtures"
	"github.com/monero-ops/monero_exporter/internal/monerodtest"
	"github.com/monero-ops/monero_exporter/internal/testenv"
)

const (
	// faultLabelKey is the pprof label that marks an exporter's goroutines.
	faultLabelKey = "monero_exporter_fault_test"
	// faultScrapeTimeout is the X-Prometheus-Scrape-Timeout-Seconds the
	// fault scrapes send; with the default offset of 0.25 s the exporter
	// has 0.75 s to ask the node.
	faultScrapeTimeout = "1"
	// faultScrapeBound is when a scrape with that header must have been
	// answered: Prometheus's timeout plus a margin for a test machine
	// loaded by other packages' tests. A scrape that ignored the header
	// would take faultHealthTimeout, past the bound.
	faultScrapeBound = 1500 * time.Millisecond
	// faultHealthTimeout is --monerod.timeout, the deadline of /health
	// (no header) and of a scrape that ignored the header.
	faultHealthTimeout = "2s"
	// faultHealthBound is when /health must have been answered.
	faultHealthBound = 2500 * time.Millisecond
	// faultSettle is how long goroutines and connections get to wind down.
	faultSettle = 10 * time.Second
	// monerodtestIdleConns is what monerodtest's own client may keep open to
	// a node (its transport's MaxIdleConnsPerHost); those sockets belong to
	// this process too.
	monerodtestIdleConns = 4
)

var faultLabelSeq atomic.Int64

// faultExporter is an exporter under test, served over HTTP by
// startExporter, whose goroutines carry a label of their own.
type faultExporter struct {
	url      string
	logs     *syncBuffer
	label    string
	maxConns int
	client   *http.Client
	base     faultGoroutines // at start, before any request
}

// startFaultExporter starts an exporter with --monerod.max-connections
// maxConns and --monerod.timeout=faultHealthTimeout, plus args.
func startFaultExporter(t *testing.T, maxConns int, args ...string) *faultExporter {
	t.Helper()
	e := &faultExporter{
		maxConns: maxConns,
		label:    fmt.Sprintf("%s#%d", t.Name(), faultLabelSeq.Add(1)),
		// No keep-alive: the test's own connections to the exporter
		// would otherwise hold server goroutines that look like a leak.
		client: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}},
	}
	args = append([]string{"--monerod.max-connections=" + strconv.Itoa(maxConns), "--monerod.timeout=" + faultHealthTimeout}, args...)
	pprof.Do(context.Background(), pprof.Labels(faultLabelKey, e.label), func(context.Context) {
		e.url, e.logs = startExporter(t, args...)
	})
	e.base = e.goroutines()
	t.Cleanup(func() {
		if strings.Contains(e.logs.String(), "panic") {
			t.Errorf("the exporter logged a panic:\n%s", e.logs)
		}
	})
	return e
}

type faultResponse struct {
	code int
	body string
	took time.Duration
}

// get fetches path; it may be called from any goroutine.
func (e *faultExporter) get(path string, header map[string]string) (faultResponse, error) {
	req, err := http.NewRequest(http.MethodGet, e.url+path, nil)
	if err != nil {
		return faultResponse{}, err
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	start := time.Now()
	resp, err := e.client.Do(req)
	if err != nil {
		return faultResponse{}, fmt.Errorf("GET %s: %w", path, err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return faultResponse{}, fmt.Errorf("GET %s: reading the body: %w", path, err)
	}
	return faultResponse{code: resp.StatusCode, body: string(b), took: time.Since(start)}, nil
}

// scrape scrapes /metrics with Prometheus's timeout header set to
// faultScrapeTimeout and checks that the answer came within
// faultScrapeBound.
func (e *faultExporter) scrape(t *testing.T) map[string]*dto.MetricFamily {
	t.Helper()
	r, err := e.get("/metrics", map[string]string{"X-Prometheus-Scrape-Timeout-Seconds": faultScrapeTimeout})
	if err != nil {
		t.Fatal(err)
	}
	mfs, err := faultCheckScrape(r)
	if err != nil {
		t.Fatal(err)
	}
	return mfs
}

// faultCheckScrape checks one answer of /metrics: 200, in time, parsable.
func faultCheckScrape(r faultResponse) (map[string]*dto.MetricFamily, error) {
	if r.code != http.StatusOK {
		return nil, fmt.Errorf("GET /metrics: %d %s", r.code, r.body)
	}
	if r.took > faultScrapeBound {
		// What the exporter says it spent waiting for monerod tells
		// whether the time went there or elsewhere.
		var said []string
		for _, l := range strings.Split(r.body, "\n") {
			if strings.HasPrefix(l, "monero_scrape_duration_seconds") || strings.HasPrefix(l, "monero_rpc_call_duration_seconds") {
				said = append(said, l)
			}
		}
		return nil, fmt.Errorf("GET /metrics took %s with a scrape timeout of %ss; %s", r.took, faultScrapeTimeout, strings.Join(said, "; "))
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(strings.NewReader(r.body))
	if err != nil {
		return nil, fmt.Errorf("parse /metrics: %w", err)
	}
	return mfs, nil
}

// faultHas reports whether name has a series whose labels include want.
func faultHas(mfs map[string]*dto.MetricFamily, name string, want ...string) bool {
	return testenv.Series(mfs, name, want...) != nil
}

// faultRequests returns a series of monero_exporter_rpc_requests_total, 0 when absent.
func faultRequests(t *testing.T, mfs map[string]*dto.MetricFamily, method, outcome string) float64 {
	t.Helper()
	if !faultHas(mfs, "monero_exporter_rpc_requests_total", "method", method, "outcome", outcome) {
		return 0
	}
	return value(t, mfs, "monero_exporter_rpc_requests_total", "method", method, "outcome", outcome)
}

// faultExpectUp checks a scrape of a node that answered.
func faultExpectUp(t *testing.T, mfs map[string]*dto.MetricFamily) {
	t.Helper()
	if value(t, mfs, "monero_up") != 1 {
		t.Fatalf("monero_up 0 for a node that answers; get_info calls: %v", faultOutcomes(mfs, "get_info"))
	}
	if value(t, mfs, "monero_rpc_call_success", "method", "get_info") != 1 {
		t.Error("monero_up 1 but rpc_call_success{get_info} 0")
	}
	if _, ok := mfs["monero_height"]; !ok {
		t.Error("monero_up 1 but monero_height absent")
	}
}

// faultExpectDown checks a scrape of a node that could not be asked: not up,
// get_info failed with outcome (when not empty), no node metric, the
// monerod check unknown.
func faultExpectDown(t *testing.T, mfs map[string]*dto.MetricFamily, outcome string) {
	t.Helper()
	if value(t, mfs, "monero_up") != 0 {
		t.Error("monero_up 1 for a node that cannot be asked")
	}
	if value(t, mfs, "monero_rpc_call_success", "method", "get_info") != 0 {
		t.Error("rpc_call_success{get_info} 1 for a node that cannot be asked")
	}
	for _, name := range []string{"monero_height", "monero_synchronized", "monero_node_info"} {
		if _, ok := mfs[name]; ok {
			t.Errorf("%s exported while the node cannot be asked", name)
		}
	}
	if outcome != "" && faultRequests(t, mfs, "get_info", outcome) < 1 {
		t.Errorf("no get_info call counted with outcome %q; counted: %v", outcome, faultOutcomes(mfs, "get_info"))
	}
	faultExpectHealth(t, mfs, "monerod", "unknown")
	if value(t, mfs, "monero_health_status", "check", "overall", "status", "ok") != 0 {
		t.Error("health overall ok for a node that cannot be asked")
	}
}

// faultExpectHealth checks that monero_health_status says status for check,
// and only that.
func faultExpectHealth(t *testing.T, mfs map[string]*dto.MetricFamily, check, status string) {
	t.Helper()
	for _, s := range []string{"ok", "warn", "error", "unknown"} {
		want := 0.0
		if s == status {
			want = 1
		}
		if got := value(t, mfs, "monero_health_status", "check", check, "status", s); got != want {
			t.Errorf("monero_health_status{check=%q,status=%q} = %g, want %g", check, s, got, want)
		}
	}
}

// faultOutcomes lists the request counter of method by outcome, for messages.
func faultOutcomes(mfs map[string]*dto.MetricFamily, method string) map[string]float64 {
	out := map[string]float64{}
	for _, m := range mfs["monero_exporter_rpc_requests_total"].GetMetric() {
		var meth, outcome string
		for _, l := range m.GetLabel() {
			switch l.GetName() {
			case "method":
				meth = l.GetValue()
			case "outcome":
				outcome = l.GetValue()
			}
		}
		if meth == method {
			out[outcome] = m.GetCounter().GetValue()
		}
	}
	return out
}

// expectHealthFails checks /health (503, status fail, the monerod component
// fail, in time) and the old API's verdict on monerod (v1: UNKNOWN or ERROR).
func (e *faultExporter) expectHealthFails(t *testing.T, v1 string) {
	t.Helper()
	r, err := e.get("/health", nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.took > faultHealthBound {
		t.Errorf("/health took %s with --monerod.timeout=%s", r.took, faultHealthTimeout)
	}
	var body struct {
		Status string `json:"status"`
		Checks map[string][]struct {
			Status string `json:"status"`
			Output string `json:"output"`
		} `json:"checks"`
	}
	if err := json.Unmarshal([]byte(r.body), &body); err != nil {
		t.Fatalf("/health: %d %q: %v", r.code, r.body, err)
	}
	if r.code != http.StatusServiceUnavailable || body.Status != "fail" {
		t.Errorf("/health: %d %q, want 503 and status fail", r.code, r.body)
	}
	if c := body.Checks["monerod"]; len(c) != 1 || c[0].Status != "fail" || c[0].Output == "" {
		t.Errorf("/health: monerod check %+v, want one component failing with an output", c)
	}
	r, err = e.get("/api/v1/monerod/health", nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"result":{"status":"` + v1 + `"}}`; r.code != http.StatusOK || strings.TrimSpace(r.body) != want {
		t.Errorf("/api/v1/monerod/health: %d %q, want 200 %s", r.code, r.body, want)
	}
}

// faultGoroutines is what an exporter's labelled goroutines are doing.
type faultGoroutines struct {
	// conns counts the client's open connections (one readLoop each).
	conns int
	// other counts every other goroutine, listed in stacks.
	other  int
	stacks []string
}

// goroutines counts the exporter's goroutines from the goroutine profile.
func (e *faultExporter) goroutines() faultGoroutines {
	var buf bytes.Buffer
	_ = pprof.Lookup("goroutine").WriteTo(&buf, 1)
	want := fmt.Sprintf("%q:%q", faultLabelKey, e.label)
	var g faultGoroutines
	// After a "goroutine profile: total N" line, records are separated by
	// blank lines: "N @ addrs", then "# labels: {...}" when the goroutines
	// have labels, then the stack.
	_, profile, _ := strings.Cut(buf.String(), "\n")
	for _, rec := range strings.Split(profile, "\n\n") {
		lines := strings.SplitN(rec, "\n", 3)
		if len(lines) < 3 || !strings.HasPrefix(lines[1], "# labels: ") || !strings.Contains(lines[1], want) {
			continue
		}
		n, err := strconv.Atoi(strings.Fields(lines[0])[0])
		if err != nil {
			continue
		}
		switch {
		case strings.Contains(lines[2], "net/http.(*persistConn).readLoop"):
			g.conns += n
		case strings.Contains(lines[2], "net/http.(*persistConn).writeLoop"):
			// the other half of a counted connection
		default:
			g.other += n
			g.stacks = append(g.stacks, rec)
		}
	}
	return g
}

// expectNoLeak waits for the exporter's goroutines to return to what it had
// at start and its client connections to stay within --monerod.max-connections.
// conns, when not nil, counts the connections some other way (the fake's
// side, or the process's sockets) and must stay within connBound.
func (e *faultExporter) expectNoLeak(t *testing.T, conns func() int, connBound int) {
	t.Helper()
	deadline := time.Now().Add(faultSettle)
	for {
		g := e.goroutines()
		other := -1
		if conns != nil {
			other = conns()
		}
		if g.other <= e.base.other && g.conns <= e.maxConns && other <= connBound {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("after %s: %d goroutines (at start %d), %d client connections (max %d), %d connections counted otherwise (max %d); goroutines:\n%s",
				faultSettle, g.other, e.base.other, g.conns, e.maxConns, other, connBound, strings.Join(g.stacks, "\n\n"))
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// faultSocketsTo counts this process's open TCP sockets whose peer is
// 127.0.0.1:port (any state: CLOSE_WAIT is a socket left open too). It
// returns -1 where /proc cannot tell.
func faultSocketsTo(port int) int {
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	inodes := map[string]bool{}
	for _, fd := range fds {
		if l, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name())); err == nil && strings.HasPrefix(l, "socket:[") {
			inodes[strings.TrimSuffix(strings.TrimPrefix(l, "socket:["), "]")] = true
		}
	}
	b, err := os.ReadFile("/proc/self/net/tcp")
	if err != nil {
		return -1
	}
	peer := fmt.Sprintf("0100007F:%04X", port)
	n := 0
	for _, line := range strings.Split(string(b), "\n")[1:] {
		// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
		f := strings.Fields(line)
		if len(f) >= 10 && f[2] == peer && inodes[f[9]] {
			n++
		}
	}
	return n
}

// faultNodeSockets counts the process's sockets to node's RPC port.
func faultNodeSockets(t *testing.T, node *monerodtest.Node) func() int {
	t.Helper()
	_, p, err := net.SplitHostPort(node.RPCAddr)
	if err != nil {
		t.Fatal(err)
	}
	port, _ := strconv.Atoi(p)
	return func() int { return faultSocketsTo(port) }
}

// faultFake is a fake monerod replaying the unrestricted fixtures until a
// fault is switched on; it counts its live connections.
type faultFake struct {
	*httptest.Server
	replay *fixtures.Server
	fault  atomic.Pointer[http.HandlerFunc]
	live   atomic.Int64
}

func newFaultFake(t *testing.T) *faultFake {
	t.Helper()
	f := &faultFake{replay: fixtures.NewServer(t, fixtures.Unrestricted, nil)}
	f.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h := f.fault.Load(); h != nil {
			(*h)(w, r)
			return
		}
		f.replay.ServeHTTP(w, r)
	}))
	f.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		switch s {
		case http.StateNew:
			f.live.Add(1)
		case http.StateClosed, http.StateHijacked:
			f.live.Add(-1)
		}
	}
	f.Config.ErrorLog = nil
	f.Start()
	t.Cleanup(f.Close)
	return f
}

// set switches a fault on, or off with nil.
func (f *faultFake) set(h http.HandlerFunc) {
	if h == nil {
		f.fault.Store(nil)
		return
	}
	f.fault.Store(&h)
}

func (f *faultFake) liveConns() int { return int(f.live.Load()) }

// faultJSONRPCMethod returns the method of a JSON-RPC request ("" for other
// paths), leaving the body readable.
func faultJSONRPCMethod(r *http.Request) string {
	if r.URL.Path != "/json_rpc" {
		return ""
	}
	b, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(b))
	var req struct {
		Method string `json:"method"`
	}
	_ = json.Unmarshal(b, &req)
	return req.Method
}

// The faults a fake shows. Those of a whole node apply to every request.
func faultHTTP500(w http.ResponseWriter, _ *http.Request) {
	http.Error(w, "Internal Server Error", http.StatusInternalServerError)
}

func faultMalformedJSON(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, `{"jsonrpc":"2.0","id":"0","result":{"status":"OK",,"height":}`)
}

// faultTruncatedJSON answers a well-framed body holding the first half of a
// real answer.
func faultTruncatedJSON(t *testing.T) http.HandlerFunc {
	half := fixtures.Load(t, fixtures.Unrestricted, "get_info")
	half = half[:len(half)/2]
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(half)
	}
}

// faultTruncatedBody promises 4096 bytes, sends 100 and closes the connection.
func faultTruncatedBody(t *testing.T) http.HandlerFunc {
	part := fixtures.Load(t, fixtures.Unrestricted, "get_info")[:100]
	return func(w http.ResponseWriter, _ *http.Request) {
		conn, buf, err := http.NewResponseController(w).Hijack()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		defer conn.Close()
		fmt.Fprintf(buf, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 4096\r\n\r\n%s", part)
		_ = buf.Flush()
	}
}

// faultJSONRPCError answers every JSON-RPC call (or only method, when not
// empty) with a JSON-RPC error; the rest is replayed.
func (f *faultFake) faultJSONRPCError(code int, message, method string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if m := faultJSONRPCMethod(r); m == "" || (method != "" && m != method) {
			f.replay.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"jsonrpc":"2.0","id":"0","error":{"code":%d,"message":%q}}`, code, message)
	}
}

// faultHugeBody sends a JSON answer of 16 MiB, stopping when the client hangs up.
func faultHugeBody(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	if _, err := io.WriteString(w, `{"jsonrpc":"2.0","id":"0","result":{"status":"OK","pad":"`); err != nil {
		return
	}
	chunk := bytes.Repeat([]byte("x"), 64<<10)
	for range 256 {
		if _, err := w.Write(chunk); err != nil {
			return
		}
	}
	_, _ = io.WriteString(w, `"}}`)
}

// faultSlow answers only after the client gave up (or a minute). It reads
// the request first: net/http notices a client hanging up only then.
func faultSlow(_ http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	select {
	case <-r.Context().Done():
	case <-time.After(time.Minute):
	}
}

// TestFaultFakeNode: faults only a fake can show, one fake and one exporter
// each. The exporter first sees a healthy node, then the fault, then the
// healthy node again.
func TestFaultFakeNode(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		fault func(t *testing.T, f *faultFake) http.HandlerFunc
		args  []string
		// outcome is the get_info call's outcome in the request counter.
		outcome string
		// hardForkOnly: the node answers get_info but refuses
		// hard_fork_info, asked only when the tip changes, so the fault is
		// on from the first scrape.
		hardForkOnly bool
		// crowd: send several scrapes and probes at once.
		crowd bool
	}{
		{name: "http_500", fault: func(*testing.T, *faultFake) http.HandlerFunc { return faultHTTP500 }, outcome: "bad_response"},
		{name: "malformed_json", fault: func(*testing.T, *faultFake) http.HandlerFunc { return faultMalformedJSON }, outcome: "bad_response"},
		{name: "truncated_json", fault: func(t *testing.T, _ *faultFake) http.HandlerFunc { return faultTruncatedJSON(t) }, outcome: "bad_response"},
		{name: "truncated_body", fault: func(t *testing.T, _ *faultFake) http.HandlerFunc { return faultTruncatedBody(t) }, outcome: "bad_response"},
		{name: "jsonrpc_parse_error", fault: func(_ *testing.T, f *faultFake) http.HandlerFunc {
			return f.faultJSONRPCError(-32700, "Parse error", "")
		}, outcome: "bad_response"},
		{name: "jsonrpc_internal_error", fault: func(_ *testing.T, f *faultFake) http.HandlerFunc {
			return f.faultJSONRPCError(-32603, "Internal error", "")
		}, outcome: "bad_response"},
		{name: "body_over_cap", fault: func(*testing.T, *faultFake) http.HandlerFunc { return faultHugeBody },
			args: []string{"--monerod.max-response-size=64KiB"}, outcome: "too_large"},
		{name: "slow", fault: func(*testing.T, *faultFake) http.HandlerFunc { return faultSlow }, outcome: "timeout", crowd: true},
		{name: "hard_fork_info_error", fault: func(_ *testing.T, f *faultFake) http.HandlerFunc {
			return f.faultJSONRPCError(-32603, "Internal error", "hard_fork_info")
		}, hardForkOnly: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			const maxConns = 4
			fake := newFaultFake(t)
			e := startFaultExporter(t, maxConns, append([]string{"--monerod.rpc-url=" + fake.URL}, c.args...)...)
			fault := c.fault(t, fake)

			if c.hardForkOnly {
				fake.set(fault)
				mfs := e.scrape(t)
				faultExpectUp(t, mfs)
				if value(t, mfs, "monero_rpc_call_success", "method", "hard_fork_info") != 0 {
					t.Error("rpc_call_success{hard_fork_info} 1 for a JSON-RPC error")
				}
				if faultRequests(t, mfs, "hard_fork_info", "bad_response") < 1 {
					t.Errorf("the JSON-RPC error of hard_fork_info is not counted as bad_response: %v", faultOutcomes(mfs, "hard_fork_info"))
				}
				if _, ok := mfs["monero_hard_fork_version"]; ok {
					t.Error("monero_hard_fork_version exported without an answer")
				}
				faultExpectHealth(t, mfs, "monerod", "error")
				e.expectHealthFails(t, "ERROR")
			} else {
				faultExpectUp(t, e.scrape(t))
				fake.set(fault)
				faultExpectDown(t, e.scrape(t), c.outcome)
				e.expectHealthFails(t, "UNKNOWN")
				if c.crowd {
					faultCrowd(t, e)
				}
			}
			e.expectNoLeak(t, fake.liveConns, maxConns)

			// The next scrape after the node heals is up again.
			fake.set(nil)
			mfs := e.scrape(t)
			faultExpectUp(t, mfs)
			faultExpectHealth(t, mfs, "monerod", "ok")
			e.expectNoLeak(t, fake.liveConns, maxConns)
		})
	}
}

// faultCrowd sends 6 scrapes and 2 health probes at once to a node that
// cannot answer: every one answers in time and says the node is down.
func faultCrowd(t *testing.T, e *faultExporter) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 8 {
		wg.Go(func() {
			if i < 2 {
				r, err := e.get("/health", nil)
				switch {
				case err != nil:
					errs <- err
				case r.code != http.StatusServiceUnavailable || r.took > faultHealthBound:
					errs <- fmt.Errorf("/health in a crowd: %d after %s", r.code, r.took)
				}
				return
			}
			r, err := e.get("/metrics", map[string]string{"X-Prometheus-Scrape-Timeout-Seconds": faultScrapeTimeout})
			if err == nil {
				_, err = faultCheckScrape(r)
			}
			if err == nil && !strings.Contains(r.body, "\nmonero_up 0\n") {
				err = errors.New("a scrape in a crowd says the node is up")
			}
			if err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestFaultNodeNotStartedYet: the exporter starts before monerod, then
// monerod comes up on the port it was told.
func TestFaultNodeNotStartedYet(t *testing.T) {
	monerodtest.Require(t)
	t.Parallel()
	const maxConns = 8
	port := monerodtest.FreePort(t)
	e := startFaultExporter(t, maxConns, fmt.Sprintf("--monerod.rpc-url=127.0.0.1:%d", port))
	mfs := e.scrape(t)
	faultExpectDown(t, mfs, "unreachable")
	e.expectHealthFails(t, "UNKNOWN")
	if r, err := e.get("/-/healthy", nil); err != nil || r.code != http.StatusOK {
		t.Errorf("/-/healthy while monerod is down: %+v %v", r, err)
	}
	e.expectNoLeak(t, func() int { return faultSocketsTo(port) }, 0)

	node := monerodtest.Start(t, monerodtest.Options{RPCPort: port})
	faultExpectUp(t, e.scrape(t))
	e.expectNoLeak(t, faultNodeSockets(t, node), maxConns+monerodtestIdleConns)
}

// TestFaultNodeStoppedAndStartedAgain: monerod stops mid-run (its kept-alive
// connections die with it) and comes back on the same port.
func TestFaultNodeStoppedAndStartedAgain(t *testing.T) {
	monerodtest.Require(t)
	t.Parallel()
	const maxConns = 8
	node := monerodtest.Start(t, monerodtest.Options{KeepFakechain: true})
	e := startFaultExporter(t, maxConns, "--monerod.rpc-url="+node.URL())
	faultExpectUp(t, e.scrape(t))

	node.Stop(t)
	mfs := e.scrape(t)
	faultExpectDown(t, mfs, "unreachable")
	e.expectHealthFails(t, "UNKNOWN")
	e.expectNoLeak(t, faultNodeSockets(t, node), 0)

	node.Restart(t)
	faultExpectUp(t, e.scrape(t))
	e.expectNoLeak(t, faultNodeSockets(t, node), maxConns+monerodtestIdleConns)
}

// TestFaultNodeFrozen: SIGSTOP, monerod accepts connections and never
// answers; every request still answers by its deadline, a crowd of them
// too, and the exporter lets go of what it waited on before the node is
// resumed.
func TestFaultNodeFrozen(t *testing.T) {
	monerodtest.Require(t)
	t.Parallel()
	const maxConns = 8
	node := monerodtest.Start(t, monerodtest.Options{KeepFakechain: true})
	e := startFaultExporter(t, maxConns, "--monerod.rpc-url="+node.URL())
	faultExpectUp(t, e.scrape(t))

	node.Freeze(t)
	faultExpectDown(t, e.scrape(t), "timeout")
	e.expectHealthFails(t, "UNKNOWN")
	faultCrowd(t, e)
	// Still frozen: nothing the exporter started may still be waiting.
	e.expectNoLeak(t, faultNodeSockets(t, node), maxConns+monerodtestIdleConns)

	node.Thaw(t)
	faultExpectUp(t, e.scrape(t))
	e.expectNoLeak(t, faultNodeSockets(t, node), maxConns+monerodtestIdleConns)
}

// TestFaultPasswordChanged: monerod is restarted with another --rpc-login
// password; the exporter's calls get 401, counted as unauthorized, and
// health cannot tell. Back to the old password, it is up again.
func TestFaultPasswordChanged(t *testing.T) {
	monerodtest.Require(t)
	t.Parallel()
	const maxConns = 8
	node := monerodtest.Start(t, monerodtest.Options{Login: "alice:old", KeepFakechain: true})
	// A password file rather than MONEROD_RPC_PASSWORD: t.Setenv would
	// forbid t.Parallel.
	pwFile := filepath.Join(t.TempDir(), "password")
	if err := os.WriteFile(pwFile, []byte("old\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	e := startFaultExporter(t, maxConns, "--monerod.rpc-url="+node.URL(), "--monerod.rpc-user=alice", "--monerod.rpc-password-file="+pwFile)
	mfs := e.scrape(t)
	faultExpectUp(t, mfs)
	before := faultRequests(t, mfs, "get_info", "unauthorized")

	node.RestartWith(t, monerodtest.Options{Login: "alice:new"})
	mfs = e.scrape(t)
	faultExpectDown(t, mfs, "unauthorized")
	if after := faultRequests(t, mfs, "get_info", "unauthorized"); after <= before {
		t.Errorf("unauthorized get_info calls: %g before the change, %g after", before, after)
	}
	e.expectHealthFails(t, "UNKNOWN")
	e.expectNoLeak(t, faultNodeSockets(t, node), maxConns+monerodtestIdleConns)

	node.RestartWith(t, monerodtest.Options{Login: "alice:old"})
	faultExpectUp(t, e.scrape(t))
	e.expectNoLeak(t, faultNodeSockets(t, node), maxConns+monerodtestIdleConns)
}

// TestFaultConnectionLimit: others hold the 25 RPC connections monerod
// accepts from one address. Whatever monerod then does with the exporter's
// calls, the exporter answers in time and says what happened; once they
// let go, it is up again.
func TestFaultConnectionLimit(t *testing.T) {
	monerodtest.Require(t)
	t.Parallel()
	const maxConns = 8
	node := monerodtest.Start(t, monerodtest.Options{KeepFakechain: true})
	sockets := faultNodeSockets(t, node)

	hold := func() []net.Conn {
		var conns []net.Conn
		for range 25 {
			c, err := net.DialTimeout("tcp", node.RPCAddr, 5*time.Second)
			if err != nil {
				t.Fatalf("holding connections: %v", err)
			}
			conns = append(conns, c)
		}
		return conns
	}
	release := func(conns []net.Conn) {
		for _, c := range conns {
			c.Close()
		}
	}
	// consistent checks that a scrape tells the truth, whichever it is.
	consistent := func(mfs map[string]*dto.MetricFamily) float64 {
		t.Helper()
		up := value(t, mfs, "monero_up")
		if up == 1 {
			faultExpectUp(t, mfs)
		} else {
			faultExpectDown(t, mfs, "")
		}
		return up
	}

	// A cold exporter: every connection it opens is one too many.
	cold := startFaultExporter(t, maxConns, "--monerod.rpc-url="+node.URL())
	held := hold()
	mfs := cold.scrape(t)
	up := consistent(mfs)
	t.Logf("cold exporter, 25 connections held by others: monero_up %g, get_info calls %v", up, faultOutcomes(mfs, "get_info"))
	if up == 0 {
		cold.expectHealthFails(t, "UNKNOWN")
	}
	cold.expectNoLeak(t, nil, 0)
	release(held)
	faultEventuallyUp(t, cold)
	cold.expectNoLeak(t, sockets, maxConns+monerodtestIdleConns)

	// A warm exporter keeps the connections it has.
	warm := startFaultExporter(t, maxConns, "--monerod.rpc-url="+node.URL())
	faultExpectUp(t, warm.scrape(t))
	held = hold()
	for range 3 {
		mfs := warm.scrape(t)
		t.Logf("warm exporter, 25 connections taken by others: monero_up %g, get_info calls %v", consistent(mfs), faultOutcomes(mfs, "get_info"))
	}
	release(held)
	faultEventuallyUp(t, warm)
	warm.expectNoLeak(t, nil, 0)
	cold.expectNoLeak(t, sockets, 2*maxConns+monerodtestIdleConns)
}

// faultEventuallyUp scrapes until the node is up, for up to 5 s: monerod
// notices closed connections on its own time.
func faultEventuallyUp(t *testing.T, e *faultExporter) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		mfs := e.scrape(t)
		if value(t, mfs, "monero_up") == 1 {
			faultExpectUp(t, mfs)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not up 5 s after the node recovered; get_info: %v", faultOutcomes(mfs, "get_info"))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestFaultRestrictedNodeStartsRefusing: a node restarted with
// --restricted-rpc refuses what the connections, net, bans and mining
// collectors ask; they are shown skipped (not failed), the node stays up,
// and the refused calls are not made again. Restarted unrestricted, they
// come back.
func TestFaultRestrictedNodeStartsRefusing(t *testing.T) {
	monerodtest.Require(t)
	t.Parallel()
	const maxConns = 8
	names := []string{"connections", "net", "bans", "mining"}
	calls := map[string]string{"connections": "get_connections", "net": "get_net_stats", "bans": "get_bans", "mining": "mining_status"}
	node := monerodtest.Start(t, monerodtest.Options{KeepFakechain: true})
	e := startFaultExporter(t, maxConns, "--monerod.rpc-url="+node.URL())
	expectCollectors := func(mfs map[string]*dto.MetricFamily, skipped float64) {
		t.Helper()
		for _, p := range names {
			if got := value(t, mfs, "monero_scrape_collector_skipped", "collector", p); got != skipped {
				t.Errorf("scrape_collector_skipped{%s} = %g, want %g", p, got, skipped)
			}
			if got := value(t, mfs, "monero_scrape_collector_success", "collector", p); got != 1 {
				t.Errorf("scrape_collector_success{%s} = %g, want 1", p, got)
			}
			if got := faultHas(mfs, "monero_rpc_call_success", "method", calls[p]); got == (skipped == 1) {
				t.Errorf("rpc_call_success{%s} listed: %v, with the collector skipped: %g", calls[p], got, skipped)
			}
		}
	}
	mfs := e.scrape(t)
	faultExpectUp(t, mfs)
	expectCollectors(mfs, 0)
	faultExpectHealth(t, mfs, "monerod", "ok")

	node.RestartWith(t, monerodtest.Options{Restricted: true})
	mfs = e.scrape(t)
	faultExpectUp(t, mfs)
	if value(t, mfs, "monero_node_info", "restricted", "true") != 1 {
		t.Error("the restarted node is not shown restricted")
	}
	// The first scrape asked, was refused, and skips.
	for _, p := range names {
		if value(t, mfs, "monero_scrape_collector_skipped", "collector", p) != 1 {
			t.Errorf("scrape_collector_skipped{%s} is not 1 on the first scrape of the restricted node", p)
		}
	}
	if faultRequests(t, mfs, "get_connections", "method_not_available") < 1 {
		t.Errorf("the refused get_connections is not counted: %v", faultOutcomes(mfs, "get_connections"))
	}
	for _, name := range []string{"monero_peers", "monero_start_time_seconds", "monero_free_space_bytes", "monero_connections", "monero_net_sent_bytes_total", "monero_bans", "monero_mining_active"} {
		if _, ok := mfs[name]; ok {
			t.Errorf("%s exported from a restricted node", name)
		}
	}
	faultExpectHealth(t, mfs, "monerod", "ok")
	faultExpectHealth(t, mfs, "peers", "warn")
	asked := map[string]float64{}
	for _, p := range names {
		asked[p] = faultSum(faultOutcomes(mfs, calls[p]))
	}
	mfs = e.scrape(t)
	faultExpectUp(t, mfs)
	expectCollectors(mfs, 1)
	for _, p := range names {
		if n := faultSum(faultOutcomes(mfs, calls[p])); n != asked[p] {
			t.Errorf("%s asked again after the node refused it: %g calls, then %g", calls[p], asked[p], n)
		}
	}
	e.expectNoLeak(t, faultNodeSockets(t, node), maxConns+monerodtestIdleConns)

	// Unrestricted again: the scrape that sees get_info say so has
	// already skipped the collectors (they start beside get_info); the next
	// one asks.
	node.RestartWith(t, monerodtest.Options{})
	faultExpectUp(t, e.scrape(t))
	mfs = e.scrape(t)
	faultExpectUp(t, mfs)
	expectCollectors(mfs, 0)
	e.expectNoLeak(t, faultNodeSockets(t, node), maxConns+monerodtestIdleConns)
}

func faultSum(m map[string]float64) float64 {
	var n float64
	for _, v := range m {
		n += v
	}
	return n
}

// TestFaultFlappingNodeMemoryFlat: a few thousand scrapes of a node that
// answers, fails with 500, sends garbage and hangs, in turn. Every scrape
// tells which; the heap after 3000 scrapes is what it was after 1000, and
// no goroutine or connection is left. Not parallel: the heap is the
// process's.
func TestFaultFlappingNodeMemoryFlat(t *testing.T) {
	const (
		maxConns = 4
		total    = 3000
		measure  = 1000
		// slack absorbs the allocator's noise: a leak of even 1 KiB a
		// scrape would add 2 MiB between the two readings.
		slack = 1 << 20
	)
	fake := newFaultFake(t)
	modes := []struct {
		name  string
		fault http.HandlerFunc
		up    bool
	}{
		{"ok", nil, true},
		{"http_500", faultHTTP500, false},
		{"garbage", faultMalformedJSON, false},
		{"slow", faultSlow, false},
	}
	// The scrapes of a healthy node have all the time they need (no
	// timing is asserted here, and the machine may be busy); the slow ones
	// have 5 ms.
	cfg, err := parseConfig([]string{"--monerod.rpc-url=" + fake.URL, "--monerod.max-connections=" + strconv.Itoa(maxConns),
		"--monerod.timeout-offset=0", "--monerod.timeout=10s"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	e := &faultExporter{maxConns: maxConns, label: fmt.Sprintf("%s#%d", t.Name(), faultLabelSeq.Add(1))}
	var heapAt [2]uint64
	pprof.Do(context.Background(), pprof.Labels(faultLabelKey, e.label), func(context.Context) {
		// Warnings and errors only, kept to a bounded size: a log that
		// grows with the scrapes would read as a leak.
		logs := &faultLog{max: 64 << 10}
		h, err := newHandler(cfg, slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn})))
		if err != nil {
			t.Fatal(err)
		}
		e.base = e.goroutines()
		for i := range total {
			m := modes[i%len(modes)]
			fake.set(m.fault)
			req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
			if m.name == "slow" {
				req.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", "0.005")
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			body := rec.Body.String()
			want := "\nmonero_up 0\n"
			if m.up {
				want = "\nmonero_up 1\n"
			}
			if rec.Code != http.StatusOK || !strings.Contains(body, want) {
				t.Fatalf("scrape %d (%s): %d, want %q in:\n%s", i, m.name, rec.Code, strings.TrimSpace(want), body)
			}
			switch i + 1 {
			case measure:
				heapAt[0] = faultLiveHeap()
			case total:
				heapAt[1] = faultLiveHeap()
			}
		}
		fake.set(nil)
		if strings.Contains(logs.String(), "panic") {
			t.Errorf("panic logged:\n%s", logs)
		}
	})
	t.Logf("live heap after %d scrapes: %d bytes; after %d: %d bytes", measure, heapAt[0], total, heapAt[1])
	if heapAt[1] > heapAt[0]+slack {
		t.Errorf("the live heap grew by %d bytes between scrape %d and scrape %d", heapAt[1]-heapAt[0], measure, total)
	}
	e.expectNoLeak(t, fake.liveConns, maxConns)
}

// faultLog keeps the first max bytes written to it.
type faultLog struct {
	mu  sync.Mutex
	max int
	b   bytes.Buffer
}

func (l *faultLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if room := l.max - l.b.Len(); room > 0 {
		l.b.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func (l *faultLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// faultLiveHeap is the heap in use after a full collection.
func faultLiveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}
