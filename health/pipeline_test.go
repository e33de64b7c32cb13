package health

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/monero-ops/monero_exporter/internal/fixtures"
	"github.com/monero-ops/monero_exporter/internal/monerodtest"
	"github.com/monero-ops/monero_exporter/monerod"
	"github.com/monero-ops/monero_exporter/snapshot"
)

// These tests run the whole path without a real node: answers recorded
// from a real monerod, replayed by a fake server, read by the real client
// into a real snapshot, evaluated and served.

// recordedMaxAge keeps the recorded blocks, mined when the fixtures were
// recorded, recent enough for checks that are not about their age.
const recordedMaxAge = 100 * 365 * 24 * time.Hour

// healthSource is the snapshot source health needs of a monerod at rawURL:
// it fetches the connections collector's data, and dials p2p when set.
func healthSource(t *testing.T, rawURL, p2p string) *snapshot.Source {
	t.Helper()
	return monerodtest.Source(t, rawURL, snapshot.Config{Collectors: []snapshot.Collector{snapshot.Connections}, P2PAddress: p2p, Timeout: 2 * time.Second})
}

func fixtureConfig(addr string) Config {
	cfg := DefaultConfig()
	cfg.LastBlockMaxAge, cfg.V1LastBlockMaxAge = recordedMaxAge, recordedMaxAge
	cfg.DaemonAddress = addr
	cfg.ExporterVersion = "test"
	return cfg
}

func evaluateOnce(t *testing.T, src *snapshot.Source, cfg Config) Report {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return Evaluate(src.Get(ctx), cfg)
}

func wantStatuses(t *testing.T, rep Report, want map[string]Status) {
	t.Helper()
	for check, st := range want {
		res, ok := rep.Result(check)
		if !ok {
			t.Errorf("no %s result", check)
			continue
		}
		if res.Status != st {
			t.Errorf("%s = %v (%s; %v), want %v", check, res.Status, res.Output, res.Err, st)
		}
	}
}

func TestFixtureUnrestricted(t *testing.T) {
	srv := fixtures.NewServer(t, fixtures.Unrestricted, nil)
	cfg := fixtureConfig(srv.Listener.Addr().String())
	rep := evaluateOnce(t, healthSource(t, srv.URL, ""), cfg)
	// An offline node has no peers.
	wantStatuses(t, rep, map[string]Status{CheckMonerod: StatusOK, CheckLastBlock: StatusOK, CheckPeers: StatusError, CheckSync: StatusOK})
	if rep.Peers == nil || rep.Peers.Total != 0 {
		t.Errorf("peers = %+v, want none", rep.Peers)
	}
	if rep.Overall != StatusError {
		t.Errorf("overall = %v, want error", rep.Overall)
	}
	// The recorded block is older than a second by now.
	cfg.LastBlockMaxAge = time.Second
	wantStatuses(t, evaluateOnce(t, healthSource(t, srv.URL, ""), cfg), map[string]Status{CheckLastBlock: StatusError})
}

func TestFixtureRestricted(t *testing.T) {
	srv := fixtures.NewServer(t, fixtures.Restricted, nil)
	cfg := fixtureConfig(srv.Listener.Addr().String())
	src := healthSource(t, srv.URL, "")
	for i := range 2 { // the first snapshot learns the node is restricted
		rep := evaluateOnce(t, src, cfg)
		wantStatuses(t, rep, map[string]Status{CheckMonerod: StatusOK, CheckLastBlock: StatusOK, CheckPeers: StatusWarn, CheckSync: StatusOK})
		if rep.Peers != nil || rep.Overall != StatusWarn {
			t.Errorf("snapshot %d: peers %+v, overall %v; want none, warn", i, rep.Peers, rep.Overall)
		}
	}
	if n := srv.Calls(monerod.MethodGetConnections); n != 0 {
		t.Errorf("get_connections asked %d times of a restricted node", n)
	}
	h := NewHandler(src, cfg, 5*time.Second, nil)
	rec := serve(t, h, "GET", "/health")
	var body struct {
		Status, Description string
	}
	decode(t, rec, &body)
	if rec.Code != 200 || body.Status != "warn" || !strings.HasPrefix(body.Description, "monero_exporter test, monerod rpc-") {
		t.Errorf("/health: %d %+v", rec.Code, body)
	}
}

func TestFixtureBusyLeaf(t *testing.T) {
	srv := fixtures.NewServer(t, fixtures.BusyLeaf, nil)
	cfg := fixtureConfig(srv.Listener.Addr().String())
	rep := evaluateOnce(t, healthSource(t, srv.URL, ""), cfg)

	// Work out from the recorded answers what the peers check must find.
	var info struct {
		Result struct{ Height uint64 } `json:"result"`
	}
	var conns struct {
		Result struct {
			Connections []struct {
				State  string
				Height uint64
			}
		} `json:"result"`
	}
	if err := json.Unmarshal(fixtures.Load(t, fixtures.BusyLeaf, "get_info"), &info); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(fixtures.Load(t, fixtures.BusyLeaf, "get_connections"), &conns); err != nil {
		t.Fatal(err)
	}
	want := PeerStats{Total: len(conns.Result.Connections)}
	for _, c := range conns.Result.Connections {
		want.MaxHeight = max(want.MaxHeight, c.Height)
		if c.State == "normal" && absDiff(c.Height, info.Result.Height) <= cfg.MaxBlocksBehind {
			want.Synced++
		}
	}
	if want.Total == 0 {
		t.Fatal("fixture busy_leaf has no peer")
	}
	if rep.Peers == nil || *rep.Peers != want {
		t.Errorf("peers = %+v, want %+v", rep.Peers, want)
	}
	res, _ := rep.Result(CheckPeers)
	if (res.Status == StatusOK) != (want.Synced >= cfg.MinPeers) {
		t.Errorf("peers check %v with %d synced peers", res.Status, want.Synced)
	}
}

func TestFixtureDaemonNotOK(t *testing.T) {
	busy := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"id":"0","jsonrpc":"2.0","result":{"status":"BUSY","untrusted":false,"version":16}}`))
	}
	srv := fixtures.NewServer(t, fixtures.Unrestricted, map[string]http.HandlerFunc{monerod.MethodHardForkInfo: busy})
	cfg := fixtureConfig(srv.Listener.Addr().String())
	src := healthSource(t, srv.URL, "")
	rep := evaluateOnce(t, src, cfg)
	wantStatuses(t, rep, map[string]Status{CheckMonerod: StatusError, CheckLastBlock: StatusOK})

	h := NewHandler(src, cfg, 5*time.Second, nil)
	// Not the old service's answer (it passed "BUSY" through as the rpc
	// status, and called the daemon UNKNOWN): a busy daemon is not healthy.
	if m := monerodOf(t, h); m.Health.Status != "ERROR" || m.RPC.Status != "ERROR" || m.RPC.Error == nil ||
		!strings.Contains(m.RPC.Error.Error, `status "BUSY"`) || m.RPC.Error.Message != "Status is 'ERROR'." {
		t.Errorf("/api/v1/monerod = %+v", m)
	}
}

func TestFixtureSlowDaemon(t *testing.T) {
	release := make(chan struct{})
	slow := func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}
	srv := fixtures.NewServer(t, fixtures.Unrestricted, map[string]http.HandlerFunc{monerod.MethodHardForkInfo: slow})
	defer close(release)
	cfg := fixtureConfig(srv.Listener.Addr().String())
	h := NewHandler(healthSource(t, srv.URL, ""), cfg, 300*time.Millisecond, nil)
	start := time.Now()
	rec := serve(t, h, "GET", PathV1MonerodHealth)
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("answered after %v, want about the 300ms timeout", took)
	}
	if got := strings.TrimSpace(rec.Body.String()); got != `{"result":{"status":"UNKNOWN"}}` {
		t.Errorf("a daemon that does not answer in time: %s, want UNKNOWN", got)
	}
}

func TestFixtureConnectionsRefused(t *testing.T) {
	// An unrestricted node (or a proxy in front of it) refusing
	// get_connections hides its peers like a restricted one.
	refuse := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(fixtures.Load(t, fixtures.Errors, "method_not_found"))
	}
	srv := fixtures.NewServer(t, fixtures.Unrestricted, map[string]http.HandlerFunc{monerod.MethodGetConnections: refuse})
	cfg := fixtureConfig(srv.Listener.Addr().String())
	src := healthSource(t, srv.URL, "")
	for range 2 {
		wantStatuses(t, evaluateOnce(t, src, cfg), map[string]Status{CheckPeers: StatusWarn, CheckSync: StatusOK})
	}
}

func TestUnreachableDaemon(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	cfg := fixtureConfig(addr)
	h := NewHandler(healthSource(t, "http://"+addr, ""), cfg, 2*time.Second, nil)

	rec := serve(t, h, "GET", "/health")
	if rec.Code != http.StatusServiceUnavailable {
		t.Errorf("/health code %d, want 503", rec.Code)
	}
	var lb struct {
		Result struct {
			Error  v1Error
			Health v1Status
			Hash   string
		} `json:"result"`
	}
	decode(t, serve(t, h, "GET", PathV1LastBlock), &lb)
	if lb.Result.Health.Status != "UNKNOWN" || lb.Result.Hash != "---" ||
		lb.Result.Error.Message != "Cannot determine status." ||
		!strings.HasPrefix(lb.Result.Error.Error, "-341: Could not establish a connection, original error: 'get_info: monerod unreachable") {
		t.Errorf("/api/v1/last_block = %+v", lb.Result)
	}
	if got := strings.TrimSpace(serve(t, h, "GET", PathV1Health).Body.String()); got != `{"result":{"status":"UNKNOWN"}}` {
		t.Errorf("/api/v1/health = %s", got)
	}
}

func TestP2PDial(t *testing.T) {
	srv := fixtures.NewServer(t, fixtures.Unrestricted, nil)
	open, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer open.Close()
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := closed.Addr().String()
	closed.Close()

	for _, tc := range []struct {
		addr string
		want Status
	}{
		{open.Addr().String(), StatusOK},
		{closedAddr, StatusError},
	} {
		cfg := fixtureConfig(srv.Listener.Addr().String())
		cfg.P2PAddress = tc.addr
		cfg.Checks = []string{CheckP2P}
		rep := evaluateOnce(t, healthSource(t, srv.URL, tc.addr), cfg)
		wantStatuses(t, rep, map[string]Status{CheckP2P: tc.want})
		if rep.Overall != tc.want {
			t.Errorf("%s: overall %v, want %v", tc.addr, rep.Overall, tc.want)
		}
	}
}

// TestSharedSnapshot checks that the handler and a concurrent reader of the
// same source see the same snapshot's verdict (what keeps /metrics and
// /health in agreement), and that concurrent requests are race-free.
func TestSharedSnapshot(t *testing.T) {
	srv := fixtures.NewServer(t, fixtures.Unrestricted, nil)
	cfg := fixtureConfig(srv.Listener.Addr().String())
	h := NewHandler(healthSource(t, srv.URL, ""), cfg, 5*time.Second, nil)
	ts := httptest.NewServer(h)
	defer ts.Close()
	done := make(chan error, 20)
	for i := range 20 {
		path := endpoints[i%len(endpoints)].path
		go func() {
			resp, err := http.Get(ts.URL + path)
			if err == nil {
				resp.Body.Close()
			}
			done <- err
		}()
	}
	for range 20 {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}
