package exportertest

// The harness of the fault tests (cmd/monero_exporter/faults_*_test.go):
// an exporter served in this process whose goroutines carry a pprof label
// of their own, checks of what it says about a node that cannot answer,
// and a fake node that can be switched to a fault.
//
// Goroutines are counted per exporter through the pprof label set when it
// is started: every goroutine it spawns (server, snapshot fetches, the
// client's connections) inherits the label, so the count holds while other
// tests run in parallel.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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

	"github.com/monero-ops/monero_exporter/internal/fixtures"
	"github.com/monero-ops/monero_exporter/internal/monerodtest"
	"github.com/monero-ops/monero_exporter/internal/testenv"
)

const (
	// labelKey is the pprof label that marks an exporter's goroutines.
	labelKey = "monero_exporter_fault_test"
	// ScrapeTimeout is the X-Prometheus-Scrape-Timeout-Seconds the fault
	// scrapes send; with the default offset of 0.25 s the exporter has
	// 0.75 s to ask the node.
	ScrapeTimeout = "1"
	// ScrapeBound is when a scrape with that header must have been
	// answered: Prometheus's timeout plus a margin for a test machine
	// loaded by other packages' tests. A scrape that ignored the header
	// would take HealthTimeout, past the bound. (1.5 s was seen passed by
	// 0.2 s with the exporter's own wait at 0.72 s, on a machine with a
	// load average of 8: the margin is for the machine, not the exporter.)
	ScrapeBound = 2 * time.Second
	// HealthTimeout is --monerod.timeout, the deadline of /health (no
	// header) and of a scrape that ignored the header.
	HealthTimeout = "3s"
	// HealthBound is when /health must have been answered.
	HealthBound = 4 * time.Second
	// Settle is how long goroutines and connections get to wind down.
	Settle = 10 * time.Second
)

var labelSeq atomic.Int64

// Leaks counts the goroutines of one exporter, those started under Do.
type Leaks struct {
	label    string
	maxConns int
	base     Goroutines // at start, before any request
}

// NewLeaks is a goroutine count for an exporter whose client may keep
// maxConns connections to the node.
func NewLeaks(t testing.TB, maxConns int) *Leaks {
	return &Leaks{label: fmt.Sprintf("%s#%d", t.Name(), labelSeq.Add(1)), maxConns: maxConns}
}

// Do runs f with the label: the goroutines it starts, and theirs, count.
func (l *Leaks) Do(f func()) {
	pprof.Do(context.Background(), pprof.Labels(labelKey, l.label), func(context.Context) { f() })
}

// Baseline takes the count that ExpectNoLeak returns to.
func (l *Leaks) Baseline() { l.base = l.Count() }

// Goroutines is what an exporter's labelled goroutines are doing.
type Goroutines struct {
	// Conns counts the client's open connections (one readLoop each).
	Conns int
	// Other counts every other goroutine, listed in Stacks.
	Other  int
	Stacks []string
}

// Count counts the exporter's goroutines from the goroutine profile.
func (l *Leaks) Count() Goroutines {
	var buf bytes.Buffer
	_ = pprof.Lookup("goroutine").WriteTo(&buf, 1)
	want := fmt.Sprintf("%q:%q", labelKey, l.label)
	var g Goroutines
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
			g.Conns += n
		case strings.Contains(lines[2], "net/http.(*persistConn).writeLoop"):
			// the other half of a counted connection
		default:
			g.Other += n
			g.Stacks = append(g.Stacks, rec)
		}
	}
	return g
}

// ExpectNoLeak waits, up to Settle, for the exporter's goroutines to return
// to the baseline and its client connections to be within maxConns. conns,
// when not nil, counts the connections some other way (the fake's side, or
// the process's sockets) and must come within connBound.
func (l *Leaks) ExpectNoLeak(t testing.TB, conns func() int, connBound int) {
	t.Helper()
	testenv.Eventually(t, "the exporter's goroutines and connections to settle", Settle, func() (bool, string) {
		g := l.Count()
		other := -1
		if conns != nil {
			other = conns()
		}
		return g.Other <= l.base.Other && g.Conns <= l.maxConns && other <= connBound,
			fmt.Sprintf("%d goroutines (at start %d), %d client connections (max %d), %d connections counted otherwise (max %d); goroutines:\n%s",
				g.Other, l.base.Other, g.Conns, l.maxConns, other, connBound, strings.Join(g.Stacks, "\n\n"))
	})
}

// FaultExporter is an exporter under test, served over HTTP, whose
// goroutines carry a label of their own.
type FaultExporter struct {
	*Server
	*Leaks
	client *http.Client
}

// StartFaultExporter serves an exporter with start (which builds it from
// its command line, see Serve) under a label of its own, with
// --monerod.max-connections maxConns and --monerod.timeout=HealthTimeout,
// plus args.
func StartFaultExporter(t *testing.T, start func(t *testing.T, args ...string) *Server, maxConns int, args ...string) *FaultExporter {
	t.Helper()
	e := &FaultExporter{
		Leaks: NewLeaks(t, maxConns),
		// No keep-alive: the test's own connections to the exporter
		// would otherwise hold server goroutines that look like a leak.
		client: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}},
	}
	args = append([]string{"--monerod.max-connections=" + strconv.Itoa(maxConns), "--monerod.timeout=" + HealthTimeout}, args...)
	e.Do(func() { e.Server = start(t, args...) })
	e.Baseline()
	return e
}

// Response is one answer of the exporter, and how long it took.
type Response struct {
	Code int
	Body string
	Took time.Duration
}

// Get fetches path; it may be called from any goroutine.
func (e *FaultExporter) Get(path string, header map[string]string) (Response, error) {
	req, err := http.NewRequest(http.MethodGet, e.URL+path, nil)
	if err != nil {
		return Response{}, err
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	start := time.Now()
	resp, err := e.client.Do(req)
	if err != nil {
		return Response{}, fmt.Errorf("GET %s: %w", path, err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return Response{}, fmt.Errorf("GET %s: reading the body: %w", path, err)
	}
	return Response{Code: resp.StatusCode, Body: string(b), Took: time.Since(start)}, nil
}

// Scrape scrapes /metrics with Prometheus's timeout header set to
// ScrapeTimeout and checks the answer (CheckScrape).
func (e *FaultExporter) Scrape(t *testing.T) map[string]*dto.MetricFamily {
	t.Helper()
	r, err := e.Get("/metrics", map[string]string{"X-Prometheus-Scrape-Timeout-Seconds": ScrapeTimeout})
	if err != nil {
		t.Fatal(err)
	}
	mfs, err := CheckScrape(r)
	if err != nil {
		t.Fatal(err)
	}
	return mfs
}

// CheckScrape checks one answer of /metrics: 200, within ScrapeBound,
// parsable.
func CheckScrape(r Response) (map[string]*dto.MetricFamily, error) {
	if r.Code != http.StatusOK {
		return nil, fmt.Errorf("GET /metrics: %d %s", r.Code, r.Body)
	}
	if r.Took > ScrapeBound {
		// What the exporter says it spent waiting for monerod tells
		// whether the time went there or elsewhere.
		var said []string
		for _, l := range strings.Split(r.Body, "\n") {
			if strings.HasPrefix(l, "monero_scrape_duration_seconds") || strings.HasPrefix(l, "monero_rpc_call_duration_seconds") {
				said = append(said, l)
			}
		}
		return nil, fmt.Errorf("GET /metrics took %s with a scrape timeout of %ss; %s", r.Took, ScrapeTimeout, strings.Join(said, "; "))
	}
	mfs, err := testenv.ParseExposition(r.Body)
	if err != nil {
		return nil, fmt.Errorf("parse /metrics: %w", err)
	}
	return mfs, nil
}

// Requests returns a series of monero_exporter_rpc_requests_total, 0 when
// absent.
func Requests(mfs map[string]*dto.MetricFamily, method, outcome string) float64 {
	m := testenv.Series(mfs, "monero_exporter_rpc_requests_total", "method", method, "outcome", outcome)
	if m == nil {
		return 0
	}
	return testenv.Value(m)
}

// ExpectUp checks a scrape of a node that answered.
func ExpectUp(t *testing.T, mfs map[string]*dto.MetricFamily) {
	t.Helper()
	if testenv.MustValue(t, mfs, "monero_up") != 1 {
		t.Fatalf("monero_up 0 for a node that answers; get_info calls: %v", Outcomes(mfs, "get_info"))
	}
	if testenv.MustValue(t, mfs, "monero_rpc_call_success", "method", "get_info") != 1 {
		t.Error("monero_up 1 but rpc_call_success{get_info} 0")
	}
	if _, ok := mfs["monero_height"]; !ok {
		t.Error("monero_up 1 but monero_height absent")
	}
}

// ExpectDown checks a scrape of a node that could not be asked: not up,
// get_info failed with outcome (when not empty), no node metric, the
// monerod check unknown.
func ExpectDown(t *testing.T, mfs map[string]*dto.MetricFamily, outcome string) {
	t.Helper()
	if testenv.MustValue(t, mfs, "monero_up") != 0 {
		t.Error("monero_up 1 for a node that cannot be asked")
	}
	if testenv.MustValue(t, mfs, "monero_rpc_call_success", "method", "get_info") != 0 {
		t.Error("rpc_call_success{get_info} 1 for a node that cannot be asked")
	}
	for _, name := range []string{"monero_height", "monero_synchronized", "monero_node_info"} {
		if _, ok := mfs[name]; ok {
			t.Errorf("%s exported while the node cannot be asked", name)
		}
	}
	if outcome != "" && Requests(mfs, "get_info", outcome) < 1 {
		t.Errorf("no get_info call counted with outcome %q; counted: %v", outcome, Outcomes(mfs, "get_info"))
	}
	ExpectHealth(t, mfs, "monerod", "unknown")
	if testenv.MustValue(t, mfs, "monero_health_status", "check", "overall", "status", "ok") != 0 {
		t.Error("health overall ok for a node that cannot be asked")
	}
}

// ExpectHealth checks that monero_health_status says status for check, and
// only that.
func ExpectHealth(t *testing.T, mfs map[string]*dto.MetricFamily, check, status string) {
	t.Helper()
	for _, s := range []string{"ok", "warn", "error", "unknown"} {
		want := 0.0
		if s == status {
			want = 1
		}
		if got := testenv.MustValue(t, mfs, "monero_health_status", "check", check, "status", s); got != want {
			t.Errorf("monero_health_status{check=%q,status=%q} = %g, want %g", check, s, got, want)
		}
	}
}

// Outcomes lists the request counter of method by outcome, for messages.
func Outcomes(mfs map[string]*dto.MetricFamily, method string) map[string]float64 {
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

// Sum adds up the values of m.
func Sum(m map[string]float64) float64 {
	var n float64
	for _, v := range m {
		n += v
	}
	return n
}

// ExpectHealthFails checks /health (503, status fail, the monerod component
// fail, within HealthBound) and the old API's verdict on monerod (v1:
// UNKNOWN or ERROR).
func (e *FaultExporter) ExpectHealthFails(t *testing.T, v1 string) {
	t.Helper()
	r, err := e.Get("/health", nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.Took > HealthBound {
		t.Errorf("/health took %s with --monerod.timeout=%s", r.Took, HealthTimeout)
	}
	var body struct {
		Status string `json:"status"`
		Checks map[string][]struct {
			Status string `json:"status"`
			Output string `json:"output"`
		} `json:"checks"`
	}
	if err := json.Unmarshal([]byte(r.Body), &body); err != nil {
		t.Fatalf("/health: %d %q: %v", r.Code, r.Body, err)
	}
	if r.Code != http.StatusServiceUnavailable || body.Status != "fail" {
		t.Errorf("/health: %d %q, want 503 and status fail", r.Code, r.Body)
	}
	if c := body.Checks["monerod"]; len(c) != 1 || c[0].Status != "fail" || c[0].Output == "" {
		t.Errorf("/health: monerod check %+v, want one component failing with an output", c)
	}
	r, err = e.Get("/api/v1/monerod/health", nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"result":{"status":"` + v1 + `"}}`; r.Code != http.StatusOK || strings.TrimSpace(r.Body) != want {
		t.Errorf("/api/v1/monerod/health: %d %q, want 200 %s", r.Code, r.Body, want)
	}
}

// Crowd sends 6 scrapes and 2 health probes at once to a node that cannot
// answer: every one answers in time and says the node is down.
func (e *FaultExporter) Crowd(t *testing.T) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 8 {
		wg.Go(func() {
			if i < 2 {
				r, err := e.Get("/health", nil)
				switch {
				case err != nil:
					errs <- err
				case r.Code != http.StatusServiceUnavailable || r.Took > HealthBound:
					errs <- fmt.Errorf("/health in a crowd: %d after %s", r.Code, r.Took)
				}
				return
			}
			r, err := e.Get("/metrics", map[string]string{"X-Prometheus-Scrape-Timeout-Seconds": ScrapeTimeout})
			if err == nil {
				_, err = CheckScrape(r)
			}
			if err == nil && !strings.Contains(r.Body, "\nmonero_up 0\n") {
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

// EventuallyUp scrapes until the node is up, for up to 5 s: monerod
// notices closed connections on its own time.
func (e *FaultExporter) EventuallyUp(t *testing.T) {
	t.Helper()
	var mfs map[string]*dto.MetricFamily
	testenv.Eventually(t, "the node up again", 5*time.Second, func() (bool, string) {
		mfs = e.Scrape(t)
		return testenv.MustValue(t, mfs, "monero_up") == 1, fmt.Sprintf("get_info: %v", Outcomes(mfs, "get_info"))
	})
	ExpectUp(t, mfs)
}

// SocketsTo counts this process's open TCP sockets whose peer is
// 127.0.0.1:port (any state: CLOSE_WAIT is a socket left open too). It
// returns -1 where /proc cannot tell.
func SocketsTo(port int) int {
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

// NodeSockets counts the process's sockets to node's RPC port.
func NodeSockets(t *testing.T, node *monerodtest.Node) func() int {
	t.Helper()
	_, p, err := net.SplitHostPort(node.RPCAddr)
	if err != nil {
		t.Fatal(err)
	}
	port, _ := strconv.Atoi(p)
	return func() int { return SocketsTo(port) }
}

// LiveHeap is the heap in use after a full collection.
func LiveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// Fake is a fake monerod replaying the unrestricted fixtures until a fault
// is switched on; it counts its live connections.
type Fake struct {
	*httptest.Server
	replay *fixtures.Server
	fault  atomic.Pointer[http.HandlerFunc]
	live   atomic.Int64
}

// NewFake starts a Fake, closed when the test ends.
func NewFake(t *testing.T) *Fake {
	t.Helper()
	f := &Fake{replay: fixtures.NewServer(t, fixtures.Unrestricted, nil)}
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
	f.Start()
	t.Cleanup(f.Close)
	return f
}

// Set switches a fault on, or off with nil.
func (f *Fake) Set(h http.HandlerFunc) {
	if h == nil {
		f.fault.Store(nil)
		return
	}
	f.fault.Store(&h)
}

// LiveConns counts the connections open to the fake.
func (f *Fake) LiveConns() int { return int(f.live.Load()) }

// jsonRPCMethod returns the method of a JSON-RPC request ("" for other
// paths), leaving the body readable.
func jsonRPCMethod(r *http.Request) string {
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

// HTTP500 answers 500.
func HTTP500(w http.ResponseWriter, _ *http.Request) {
	http.Error(w, "Internal Server Error", http.StatusInternalServerError)
}

// MalformedJSON answers a body that is not JSON.
func MalformedJSON(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, `{"jsonrpc":"2.0","id":"0","result":{"status":"OK",,"height":}`)
}

// TruncatedJSON answers a well-framed body holding the first half of a
// real answer.
func TruncatedJSON(t *testing.T) http.HandlerFunc {
	half := fixtures.Load(t, fixtures.Unrestricted, "get_info")
	half = half[:len(half)/2]
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(half)
	}
}

// TruncatedBody promises 4096 bytes, sends 100 and closes the connection.
func TruncatedBody(t *testing.T) http.HandlerFunc {
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

// JSONRPCError answers every JSON-RPC call (or only method, when not
// empty) with a JSON-RPC error; the rest is replayed.
func (f *Fake) JSONRPCError(code int, message, method string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if m := jsonRPCMethod(r); m == "" || (method != "" && m != method) {
			f.replay.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"jsonrpc":"2.0","id":"0","error":{"code":%d,"message":%q}}`, code, message)
	}
}

// HugeBody sends a JSON answer of 16 MiB, stopping when the client hangs
// up.
func HugeBody(w http.ResponseWriter, _ *http.Request) {
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

// Slow answers only after the client gave up (or a minute). It reads the
// request first: net/http notices a client hanging up only then.
func Slow(_ http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	select {
	case <-r.Context().Done():
	case <-time.After(time.Minute):
	}
}
