package targets

import (
	"errors"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/monero-ops/monero_exporter/internal/testenv"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// value records whether it was closed.
type value struct {
	name   string
	closed atomic.Int32
}

func (v *value) Close() error {
	v.closed.Add(1)
	return nil
}

func newCache(size int, idle time.Duration) (*Cache[*value], *testenv.Clock) {
	clk := testenv.NewClock(time.Unix(1_700_000_000, 0))
	return New[*value](Options{MaxSize: size, IdleTimeout: idle, Now: clk.Now}), clk
}

// get uses key and releases it at once, returning the value.
func get(t *testing.T, c *Cache[*value], key string, version any) *value {
	t.Helper()
	v, release, err := c.Get(key, version, func() (*value, error) { return &value{name: key}, nil })
	if err != nil {
		t.Fatal(err)
	}
	release()
	return v
}

func TestGetReusesAndRebuildsOnNewVersion(t *testing.T) {
	c, _ := newCache(10, 0)
	a := get(t, c, "a", 1)
	if get(t, c, "a", 1) != a {
		t.Fatal("the same key and version built a new value")
	}
	b := get(t, c, "b", 1)
	if b == a {
		t.Fatal("another key got the same value")
	}
	a2 := get(t, c, "a", 2)
	if a2 == a || a.closed.Load() != 1 || a2.closed.Load() != 0 {
		t.Fatalf("a new version: same value %v, old closed %d times", a2 == a, a.closed.Load())
	}
	s := c.Stats()
	if s.Len != 2 || s.Built != 3 || s.Closed != 1 || s.Dropped[ReasonConfig] != 1 {
		t.Fatalf("stats %+v", s)
	}
}

func TestBuildError(t *testing.T) {
	c, _ := newCache(10, 0)
	_, release, err := c.Get("a", 1, func() (*value, error) { return nil, errors.New("no") })
	if err == nil || release != nil {
		t.Fatal("a failed build returned a value")
	}
	if s := c.Stats(); s.Len != 0 || s.Built != 0 {
		t.Fatalf("a failed build is held: %+v", s)
	}
}

func TestMaxSizeDropsLeastRecentlyUsed(t *testing.T) {
	c, _ := newCache(3, 0)
	vs := map[string]*value{}
	for _, k := range []string{"a", "b", "c"} {
		vs[k] = get(t, c, k, 0)
	}
	get(t, c, "a", 0) // a is now the most recently used; b the least
	vs["d"] = get(t, c, "d", 0)
	if vs["b"].closed.Load() != 1 || vs["a"].closed.Load()+vs["c"].closed.Load()+vs["d"].closed.Load() != 0 {
		t.Fatal("not the least recently used value was dropped")
	}
	if get(t, c, "b", 0) == vs["b"] {
		t.Fatal("a dropped value came back")
	}
	if s := c.Stats(); s.Len != 3 || s.Dropped[ReasonFull] != 2 {
		t.Fatalf("stats %+v", s)
	}
}

func TestIdleTimeout(t *testing.T) {
	c, clk := newCache(10, time.Minute)
	a := get(t, c, "a", 0)
	clk.Advance(40 * time.Second)
	b := get(t, c, "b", 0)
	clk.Advance(30 * time.Second) // a idle for 70 s, b for 30 s
	if s := c.Stats(); s.Len != 1 || s.Dropped[ReasonIdle] != 1 || a.closed.Load() != 1 || b.closed.Load() != 0 {
		t.Fatalf("after a minute idle: stats %+v, a closed %d, b closed %d", s, a.closed.Load(), b.closed.Load())
	}
	clk.Advance(20 * time.Second)
	if get(t, c, "b", 0) != b {
		t.Fatal("b, used 50 s ago, was dropped")
	}
}

// A value dropped while in use stays open until its last user is done.
func TestDroppedInUseClosedOnRelease(t *testing.T) {
	c, _ := newCache(1, 0)
	a, releaseA, _ := c.Get("a", 0, func() (*value, error) { return &value{}, nil })
	a2, releaseA2, _ := c.Get("a", 0, func() (*value, error) { return &value{}, nil })
	if a2 != a {
		t.Fatal("not shared")
	}
	get(t, c, "b", 0) // drops a: the cache holds one
	if a.closed.Load() != 0 {
		t.Fatal("closed while in use")
	}
	releaseA()
	releaseA() // twice is once
	if a.closed.Load() != 0 {
		t.Fatal("closed while still in use by the second user")
	}
	releaseA2()
	if a.closed.Load() != 1 {
		t.Fatalf("closed %d times after the last release", a.closed.Load())
	}
	if s := c.Stats(); s.Closed != 1 {
		t.Fatalf("stats %+v", s)
	}
}

// Concurrent first uses of one key end up sharing one value; the extra
// ones built meanwhile are closed unused.
func TestConcurrentGetShares(t *testing.T) {
	c, _ := newCache(10, 0)
	var built []*value
	var mu sync.Mutex
	start := make(chan struct{})
	got := make([]*value, 20)
	releases := make([]func(), 20)
	var wg sync.WaitGroup
	for i := range got {
		wg.Go(func() {
			<-start
			v, release, err := c.Get("a", 0, func() (*value, error) {
				v := &value{}
				mu.Lock()
				built = append(built, v)
				mu.Unlock()
				time.Sleep(5 * time.Millisecond)
				return v, nil
			})
			if err != nil {
				t.Error(err)
			}
			got[i], releases[i] = v, release
		})
	}
	close(start)
	wg.Wait()
	for i := range got {
		if got[i] != got[0] {
			t.Fatal("concurrent users got different values")
		}
		releases[i]()
	}
	closed := 0
	for _, v := range built {
		closed += int(v.closed.Load())
	}
	if got[0].closed.Load() != 0 || closed != len(built)-1 {
		t.Fatalf("built %d, closed %d (the shared one %d times)", len(built), closed, got[0].closed.Load())
	}
}

func TestRetainAndClose(t *testing.T) {
	c, _ := newCache(10, 0)
	a, b := get(t, c, "a", "old"), get(t, c, "b", "kept")
	c.Retain(func(v any) bool { return v == "kept" })
	if a.closed.Load() != 1 || b.closed.Load() != 0 || c.Stats().Len != 1 {
		t.Fatal("Retain did not drop only the rejected version")
	}
	c.Close()
	if b.closed.Load() != 1 || c.Stats().Len != 0 {
		t.Fatal("Close left a value")
	}
}

func TestMetrics(t *testing.T) {
	c, clk := newCache(2, time.Minute)
	for i := range 3 {
		get(t, c, strconv.Itoa(i), 0)
	}
	clk.Advance(2 * time.Minute)
	want := `
# HELP monero_exporter_probe_targets Targets of /probe the exporter holds a client and a snapshot for.
# TYPE monero_exporter_probe_targets gauge
monero_exporter_probe_targets 0
# HELP monero_exporter_probe_targets_created_total Targets of /probe for which a client and a snapshot source were made.
# TYPE monero_exporter_probe_targets_created_total counter
monero_exporter_probe_targets_created_total 3
# HELP monero_exporter_probe_targets_dropped_total Targets of /probe dropped, by reason: idle (not probed for --probe.target-idle-timeout), full (--probe.max-targets reached), config (their module changed).
# TYPE monero_exporter_probe_targets_dropped_total counter
monero_exporter_probe_targets_dropped_total{reason="config"} 0
monero_exporter_probe_targets_dropped_total{reason="full"} 1
monero_exporter_probe_targets_dropped_total{reason="idle"} 2
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want)); err != nil {
		t.Fatal(err)
	}
	if problems, err := testutil.CollectAndLint(c); err != nil || len(problems) > 0 {
		t.Fatalf("lint: %v %v", problems, err)
	}
}
