package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/monero-ops/monero_exporter/internal/fixtures"
)

// memoryTargets is how many nodes the memory test probes.
const memoryTargets = 100

// liveHeap is the heap in use after full collections.
func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// probeRounds probes every node rounds times, as Prometheus would every
// scrape interval, a few probes at a time.
func probeRounds(t *testing.T, e *probeExporter, nodes []*countingNode, rounds int) {
	t.Helper()
	for range rounds {
		work := make(chan *countingNode)
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				for n := range work {
					req := httptest.NewRequest(http.MethodGet, "/probe?"+probeQuery("fleet", n.addr()), nil)
					req.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", "10")
					rec := httptest.NewRecorder()
					e.exp.ServeHTTP(rec, req)
					if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "\nmonero_up 1\n") {
						t.Errorf("probe of %s: %d\n%s", n.addr(), rec.Code, rec.Body)
					}
				}
			})
		}
		for _, n := range nodes {
			work <- n
		}
		close(work)
		wg.Wait()
		if t.Failed() {
			t.FailNow()
		}
	}
}

// liveConns is the connections open to all nodes, once the closes the
// exporter made have reached the servers.
func liveConns(nodes []*countingNode, atMost int64) int64 {
	var n int64
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		n = 0
		for _, node := range nodes {
			n += node.live.Load()
		}
		if n <= atMost || time.Now().After(deadline) {
			return n
		}
	}
}

// 100 nodes probed again and again: the memory held stays flat once every
// node has its client and snapshot; with fewer places than nodes the cache
// stays at its size and closes what it drops; idle targets go, and their
// connections with them.
func TestProbeHundredTargetsMemoryBounded(t *testing.T) {
	nodes := make([]*countingNode, memoryTargets)
	for i := range nodes {
		nodes[i] = newCountingNode(t, fixtures.Unrestricted, nil)
	}
	const maxConns = 2
	config := fmt.Sprintf("modules:\n  fleet:\n    max_connections: %d\n    allowed_targets: ['127.0.0.1']\n", maxConns)
	base := liveHeap()

	// Every node held: the heap after 8 more rounds is what it was after
	// the first 2.
	e := startProbeExporter(t, config)
	probeRounds(t, e, nodes, 2)
	warm := liveHeap()
	probeRounds(t, e, nodes, 8)
	after := liveHeap()
	s := e.exp.probes.cache.Stats()
	conns := liveConns(nodes, memoryTargets*maxConns)
	t.Logf("%d targets, 10 rounds: live heap %.1f MiB before, %.1f MiB after 2 rounds (%.1f KiB a target), %.1f MiB after 10; %d targets held, %d connections open",
		memoryTargets, mib(base), mib(warm), float64(warm-min(base, warm))/memoryTargets/1024, mib(after), s.Len, conns)
	if s.Len != memoryTargets || s.Built != memoryTargets {
		t.Errorf("cache %+v, want all %d targets held, each built once", s, memoryTargets)
	}
	if after > warm+4<<20 {
		t.Errorf("the live heap grew by %.1f MiB from round 2 to round 10", mib(after-warm))
	}
	if conns > memoryTargets*maxConns {
		t.Errorf("%d connections open to %d nodes, more than max_connections %d each", conns, memoryTargets, maxConns)
	}
	// Dropped targets close their connections.
	e.exp.probes.cache.Close()
	if n := liveConns(nodes, 0); n != 0 {
		t.Errorf("%d connections still open after every target was dropped", n)
	}

	// Fewer places than nodes: every probe may drop another target; the
	// cache stays at its size, every dropped client is closed, and so are
	// its connections.
	small := startProbeExporter(t, config, "--probe.max-targets=20")
	probeRounds(t, small, nodes, 3)
	s = small.exp.probes.cache.Stats()
	conns = liveConns(nodes, 20*maxConns)
	heapSmall := liveHeap()
	t.Logf("--probe.max-targets=20, %d targets, 3 rounds: %d built, %d dropped (full), %d closed, %d held, %d connections open, live heap %.1f MiB",
		memoryTargets, s.Built, s.Dropped["full"], s.Closed, s.Len, conns, mib(heapSmall))
	if s.Len != 20 || s.Closed != s.Built-20 || s.Dropped["full"] != s.Built-20 {
		t.Errorf("cache %+v, want 20 held and every other one closed", s)
	}
	if conns > 20*maxConns {
		t.Errorf("%d connections open with 20 targets held", conns)
	}
	small.exp.probes.cache.Close()
	if n := liveConns(nodes, 0); n != 0 {
		t.Errorf("%d connections still open after every target was dropped", n)
	}

	// An idle timeout shorter than the test: the exporter's own scrape
	// sweeps the cache.
	idle := startProbeExporter(t, config, "--probe.target-idle-timeout=300ms")
	probeRounds(t, idle, nodes, 1)
	time.Sleep(400 * time.Millisecond)
	rec := httptest.NewRecorder()
	idle.exp.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if !strings.Contains(rec.Body.String(), "\nmonero_exporter_probe_targets 0\n") ||
		!strings.Contains(rec.Body.String(), fmt.Sprintf("monero_exporter_probe_targets_dropped_total{reason=\"idle\"} %d\n", memoryTargets)) {
		t.Errorf("idle targets not dropped:\n%s", grepLines(rec.Body.String(), "monero_exporter_probe"))
	}
	if n := liveConns(nodes, 0); n != 0 {
		t.Errorf("%d connections still open after the idle targets were dropped", n)
	}
}

func mib(b uint64) float64 { return float64(b) / (1 << 20) }

func grepLines(s, substr string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
