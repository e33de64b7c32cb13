package snapshot_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/monero-ops/monero_exporter/internal/fixtures"
	"github.com/monero-ops/monero_exporter/internal/monerodtest"
	"github.com/monero-ops/monero_exporter/monerod"
	"github.com/monero-ops/monero_exporter/snapshot"
)

func serveFixture(t *testing.T, set, name string, before func()) http.HandlerFunc {
	body := fixtures.Load(t, set, name)
	return func(w http.ResponseWriter, _ *http.Request) {
		if before != nil {
			before()
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}
}

func methods(s *snapshot.Snapshot) []string {
	var out []string
	for _, c := range s.Calls {
		out = append(out, c.Method)
	}
	return out
}

func TestTipBoundAnswersReusedWhileTipUnchanged(t *testing.T) {
	srv := fixtures.NewServer(t, "unrestricted", nil)
	src := monerodtest.Source(t, srv.URL, snapshot.Config{})
	first := src.Get(t.Context())
	if !first.Up() || first.LastBlock == nil || first.HardFork == nil {
		t.Fatalf("first snapshot incomplete: %+v", first)
	}
	if first.LastBlock.Hash != first.Info.TopBlockHash {
		t.Fatalf("fixture tip mismatch")
	}
	second := src.Get(t.Context())
	if got := methods(second); len(got) != 1 || got[0] != monerod.MethodGetInfo {
		t.Fatalf("second snapshot called %v, want only get_info", got)
	}
	if second.LastBlock != first.LastBlock || second.HardFork != first.HardFork {
		t.Fatal("tip-bound answers were not reused")
	}
	if srv.Calls("get_last_block_header") != 1 || srv.Calls("hard_fork_info") != 1 || srv.Calls("get_info") != 2 {
		t.Fatalf("calls: header %d, hard fork %d, info %d", srv.Calls("get_last_block_header"), srv.Calls("hard_fork_info"), srv.Calls("get_info"))
	}
}

func TestTipChangeRefetches(t *testing.T) {
	info := string(fixtures.Load(t, "unrestricted", "get_info"))
	var tip atomic.Value
	tip.Store("")
	srv := fixtures.NewServer(t, "unrestricted", map[string]http.HandlerFunc{
		"get_info": func(w http.ResponseWriter, _ *http.Request) {
			body := info
			if h := tip.Load().(string); h != "" {
				i := strings.Index(body, `"top_block_hash": "`) + len(`"top_block_hash": "`)
				body = body[:i] + h + body[i+64:]
			}
			_, _ = w.Write([]byte(body))
		},
	})
	src := monerodtest.Source(t, srv.URL, snapshot.Config{})
	src.Get(t.Context())
	tip.Store(strings.Repeat("b", 64)) // a new block arrived
	snap := src.Get(t.Context())
	if srv.Calls("get_last_block_header") != 2 || srv.Calls("hard_fork_info") != 2 {
		t.Fatalf("a new tip did not refetch: header %d hard fork %d", srv.Calls("get_last_block_header"), srv.Calls("hard_fork_info"))
	}
	// The header answered is not the new tip (a race monerod can show):
	// it must not be cached under the new hash.
	src.Get(t.Context())
	if srv.Calls("get_last_block_header") != 3 {
		t.Fatalf("a header of another tip was cached (calls %d)", srv.Calls("get_last_block_header"))
	}
	if snap.LastBlock == nil {
		t.Fatal("no header")
	}
}

func TestConcurrentGetsShareOneFetch(t *testing.T) {
	gate := make(chan struct{})
	srv := fixtures.NewServer(t, "unrestricted", map[string]http.HandlerFunc{
		"get_info": serveFixture(t, "unrestricted", "get_info", func() { <-gate }),
	})
	src := monerodtest.Source(t, srv.URL, snapshot.Config{})
	const n = 20
	snaps := make([]*snapshot.Snapshot, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { snaps[i] = src.Get(t.Context()) })
	}
	time.Sleep(100 * time.Millisecond) // let every Get join
	close(gate)
	wg.Wait()
	if got := srv.Calls("get_info"); got != 1 {
		t.Fatalf("%d concurrent Gets made %d get_info calls, want 1", n, got)
	}
	for i, s := range snaps {
		if s != snaps[0] || !s.Up() {
			t.Fatalf("Get %d got another or a failed snapshot", i)
		}
	}
	// Once it is done, the next Get asks again: no stale serving.
	src.Get(t.Context())
	if got := srv.Calls("get_info"); got != 2 {
		t.Fatalf("a Get after the shared fetch made %d calls in all, want 2", got)
	}
}

func TestJoinerWithShortDeadlineReturnsInTime(t *testing.T) {
	release := make(chan struct{})
	srv := fixtures.NewServer(t, "unrestricted", map[string]http.HandlerFunc{
		"get_info": serveFixture(t, "unrestricted", "get_info", func() { <-release }),
	})
	defer close(release)
	src := monerodtest.Source(t, srv.URL, snapshot.Config{})
	go src.Get(t.Context()) // the leader, with a long deadline
	time.Sleep(20 * time.Millisecond)
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	snap := src.Get(ctx)
	if took := time.Since(start); took > time.Second {
		t.Fatalf("joiner waited %s past its 50ms deadline", took)
	}
	if snap.Up() || !errors.Is(snap.InfoErr, snapshot.ErrNoAnswer) || !errors.Is(snap.InfoErr, monerod.ErrTimeout) {
		t.Fatalf("joiner snapshot: up=%t err=%v", snap.Up(), snap.InfoErr)
	}
}

func TestRestrictedNodeIsNotAskedWhatItRefuses(t *testing.T) {
	srv := fixtures.NewServer(t, "restricted", nil)
	src := monerodtest.Source(t, srv.URL, snapshot.Config{Collectors: []snapshot.Collector{snapshot.Connections}})
	for range 3 {
		snap := src.Get(t.Context())
		if !snap.Up() || !snap.Info.Restricted {
			t.Fatalf("snapshot: %+v", snap)
		}
		if st := snap.Collectors[snapshot.Connections.Name]; !st.Skipped || st.Err != nil {
			t.Fatalf("connections on a restricted node: %+v", st)
		}
		if snap.Version == nil {
			t.Fatal("no get_version on a restricted node")
		}
	}
	if got := srv.Calls("get_connections"); got != 0 {
		t.Fatalf("get_connections asked %d times of a restricted node", got)
	}
	if got := srv.Calls("get_version"); got != 1 {
		t.Fatalf("get_version asked %d times, want once (reused with the tip)", got)
	}
}

func TestRefusedCollectorSkippedAfterFirstRefusal(t *testing.T) {
	srv := fixtures.NewServer(t, "unrestricted", map[string]http.HandlerFunc{
		"get_connections": serveFixture(t, fixtures.Errors, "method_not_found", nil),
	})
	var refusals atomic.Int64
	src := monerodtest.Source(t, srv.URL, snapshot.Config{
		Collectors: []snapshot.Collector{snapshot.Connections},
		OnRefused:  func(string, error) { refusals.Add(1) },
	})
	for range 4 {
		snap := src.Get(t.Context())
		if st := snap.Collectors[snapshot.Connections.Name]; !st.Skipped || st.Err != nil {
			t.Fatalf("refused collector: %+v, want skipped without error", st)
		}
		if !snap.Up() {
			t.Fatal("a refused collector made the node look down")
		}
	}
	if srv.Calls("get_connections") != 1 || refusals.Load() != 1 {
		t.Fatalf("get_connections asked %d times, refusal told %d times; want 1 and 1", srv.Calls("get_connections"), refusals.Load())
	}
}

func TestUnreachableNode(t *testing.T) {
	srv := fixtures.NewServer(t, "unrestricted", nil)
	url := srv.URL
	srv.Close()
	src := monerodtest.Source(t, url, snapshot.Config{Collectors: []snapshot.Collector{snapshot.Connections}, P2PAddress: strings.TrimPrefix(url, "http://")})
	snap := src.Get(t.Context())
	if snap.Up() || !errors.Is(snap.InfoErr, monerod.ErrUnreachable) {
		t.Fatalf("up=%t err=%v", snap.Up(), snap.InfoErr)
	}
	if st := snap.Collectors[snapshot.InfoCollector]; st.Err == nil {
		t.Fatal("info reported success")
	}
	if !snap.P2PChecked || snap.P2PErr == nil {
		t.Fatalf("p2p dial to a closed port: checked=%t err=%v", snap.P2PChecked, snap.P2PErr)
	}
	// The node's kind is unknown, so nothing but get_info was asked.
	if got := methods(snap); len(got) != 1 {
		t.Fatalf("calls to an unreachable node of unknown kind: %v", got)
	}
}

func TestNewRejectsBadCollectors(t *testing.T) {
	fetch := snapshot.Connections.Fetch
	for name, cs := range map[string][]snapshot.Collector{
		"no name":             {{Fetch: fetch}},
		"no fetch":            {{Name: "x"}},
		"tip-bound, no carry": {{Name: "x", Fetch: fetch, TipBound: true}},
		"twice":               {snapshot.Connections, snapshot.Connections},
		"named info":          {{Name: snapshot.InfoCollector, Fetch: fetch}},
	} {
		if _, err := snapshot.New(snapshot.Config{Client: &monerod.Client{}, Collectors: cs}); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// A node restarted without --restricted-rpc has its collectors asked in the
// very first snapshot that sees it unrestricted.
func TestRestrictionLiftedAsksCollectorsAtOnce(t *testing.T) {
	restricted := fixtures.Load(t, fixtures.Restricted, "get_info")
	open := fixtures.Load(t, fixtures.Unrestricted, "get_info")
	var lifted atomic.Bool
	srv := fixtures.NewServer(t, fixtures.Unrestricted, map[string]http.HandlerFunc{
		"get_info": func(w http.ResponseWriter, _ *http.Request) {
			if lifted.Load() {
				_, _ = w.Write(open)
				return
			}
			_, _ = w.Write(restricted)
		},
	})
	src := monerodtest.Source(t, srv.URL, snapshot.Config{Collectors: []snapshot.Collector{snapshot.Connections}})
	src.Get(t.Context())
	if snap := src.Get(t.Context()); !snap.Collectors[snapshot.Connections.Name].Skipped || srv.Calls("get_connections") != 0 {
		t.Fatal("connections asked of a restricted node")
	}
	lifted.Store(true)
	snap := src.Get(t.Context())
	if st := snap.Collectors[snapshot.Connections.Name]; st.Skipped || st.Err != nil || snap.Connections == nil {
		t.Fatalf("first unrestricted snapshot: connections %+v", st)
	}
	if srv.Calls("get_connections") != 1 {
		t.Fatalf("get_connections asked %d times", srv.Calls("get_connections"))
	}
}

func TestDaemonVersion(t *testing.T) {
	v := "0.18.0.0-release"
	empty := ""
	for _, tc := range []struct {
		snap *snapshot.Snapshot
		want string
	}{
		{&snapshot.Snapshot{}, ""},
		{&snapshot.Snapshot{Info: &monerod.Info{Version: &v}}, v},
		{&snapshot.Snapshot{Info: &monerod.Info{Version: &empty}}, ""},
		{&snapshot.Snapshot{Info: &monerod.Info{Restricted: true}, Version: &monerod.Version{Version: 3<<16 | 10}}, "rpc-3.10"},
	} {
		if got := tc.snap.DaemonVersion(); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.snap.Info, got, tc.want)
		}
	}
}

// TestObserveSeesEachSnapshotOnce: an observer sees every snapshot in which
// monerod answered, once, before any Get returns it, however many Gets
// share it; not the snapshots of a node that did not answer.
func TestObserveSeesEachSnapshotOnce(t *testing.T) {
	gate := make(chan struct{})
	var down atomic.Bool
	srv := fixtures.NewServer(t, "unrestricted", map[string]http.HandlerFunc{
		"get_info": func(w http.ResponseWriter, r *http.Request) {
			if down.Load() {
				http.Error(w, "down", http.StatusServiceUnavailable)
				return
			}
			serveFixture(t, "unrestricted", "get_info", func() { <-gate })(w, r)
		},
	})
	src := monerodtest.Source(t, srv.URL, snapshot.Config{})
	var mu sync.Mutex
	seen := map[*snapshot.Snapshot]int{}
	src.Observe(func(s *snapshot.Snapshot) {
		mu.Lock()
		seen[s]++
		mu.Unlock()
	})
	var wg sync.WaitGroup
	snaps := make([]*snapshot.Snapshot, 10)
	for i := range snaps {
		wg.Go(func() {
			snaps[i] = src.Get(t.Context())
			mu.Lock()
			defer mu.Unlock()
			if seen[snaps[i]] != 1 {
				t.Errorf("Get returned a snapshot observed %d times", seen[snaps[i]])
			}
		})
	}
	time.Sleep(100 * time.Millisecond) // let every Get join
	close(gate)
	wg.Wait()
	src.Get(t.Context())
	down.Store(true)
	if src.Get(t.Context()).Up() {
		t.Fatal("the node should be down")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 2 {
		t.Fatalf("%d snapshots observed, want 2 (shared, then the next; not the failed one)", len(seen))
	}
	for s, n := range seen {
		if n != 1 || !s.Up() {
			t.Errorf("snapshot observed %d times, up %t", n, s.Up())
		}
	}
}

// OnFailing hears of each collector that starts failing, and of its
// recovery, once each however many snapshots fail; a collector not asked
// while the node is down keeps its state.
func TestOnFailingToldOfChangesOnly(t *testing.T) {
	var down, connsDown atomic.Bool
	srv := fixtures.NewServer(t, fixtures.Unrestricted, map[string]http.HandlerFunc{
		monerod.MethodGetInfo: func(w http.ResponseWriter, r *http.Request) {
			if down.Load() {
				http.Error(w, "down", http.StatusServiceUnavailable)
				return
			}
			serveFixture(t, fixtures.Unrestricted, monerod.MethodGetInfo, nil)(w, r)
		},
		monerod.MethodGetConnections: func(w http.ResponseWriter, r *http.Request) {
			if connsDown.Load() {
				http.Error(w, "busy", http.StatusInternalServerError)
				return
			}
			serveFixture(t, fixtures.Unrestricted, monerod.MethodGetConnections, nil)(w, r)
		},
	})
	var mu sync.Mutex
	var told []string
	src := monerodtest.Source(t, srv.URL, snapshot.Config{
		Collectors: []snapshot.Collector{snapshot.Connections},
		OnFailing: func(name string, err error) {
			mu.Lock()
			defer mu.Unlock()
			state := "works"
			if err != nil {
				state = "fails"
			}
			told = append(told, name+" "+state)
		},
	})
	expect := func(want ...string) {
		t.Helper()
		mu.Lock()
		defer mu.Unlock()
		if strings.Join(told, ", ") != strings.Join(want, ", ") {
			t.Errorf("told %q, want %q", told, want)
		}
		told = nil
	}
	src.Get(t.Context())
	expect()
	connsDown.Store(true)
	for range 3 {
		src.Get(t.Context())
	}
	expect("connections fails")
	down.Store(true) // connections not asked: still failing
	for range 3 {
		src.Get(t.Context())
	}
	expect("info fails")
	down.Store(false)
	connsDown.Store(false)
	src.Get(t.Context())
	src.Get(t.Context())
	expect("connections works", "info works")
}
