package main

// Faults only a fake node can show (slow answers, bad bodies, errors of
// one call): internal/fixtures behind a switch (exportertest.Fake). For
// each fault the exporter keeps serving, answers within the request's
// deadline, says the truth in monero_up, monero_rpc_call_success and the
// request counters, health says the node cannot be vouched for, and
// nothing leaks: the exporter's goroutines return to what it had at start
// and its connections to the node stay within --monerod.max-connections.
// The harness is internal/exportertest.

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/monero-ops/monero_exporter/internal/exportertest"
	"github.com/monero-ops/monero_exporter/internal/testenv"
)

// TestFaultFakeNode: faults only a fake can show, one fake and one exporter
// each. The exporter first sees a healthy node, then the fault, then the
// healthy node again.
func TestFaultFakeNode(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		fault func(t *testing.T, f *exportertest.Fake) http.HandlerFunc
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
		{name: "http_500", fault: func(*testing.T, *exportertest.Fake) http.HandlerFunc { return exportertest.HTTP500 }, outcome: "bad_response"},
		{name: "malformed_json", fault: func(*testing.T, *exportertest.Fake) http.HandlerFunc { return exportertest.MalformedJSON }, outcome: "bad_response"},
		{name: "truncated_json", fault: func(t *testing.T, _ *exportertest.Fake) http.HandlerFunc { return exportertest.TruncatedJSON(t) }, outcome: "bad_response"},
		{name: "truncated_body", fault: func(t *testing.T, _ *exportertest.Fake) http.HandlerFunc { return exportertest.TruncatedBody(t) }, outcome: "bad_response"},
		{name: "jsonrpc_parse_error", fault: func(_ *testing.T, f *exportertest.Fake) http.HandlerFunc {
			return f.JSONRPCError(-32700, "Parse error", "")
		}, outcome: "bad_response"},
		{name: "jsonrpc_internal_error", fault: func(_ *testing.T, f *exportertest.Fake) http.HandlerFunc {
			return f.JSONRPCError(-32603, "Internal error", "")
		}, outcome: "bad_response"},
		{
			name: "body_over_cap", fault: func(*testing.T, *exportertest.Fake) http.HandlerFunc { return exportertest.HugeBody },
			args: []string{"--monerod.max-response-size=64KiB"}, outcome: "too_large",
		},
		{name: "slow", fault: func(*testing.T, *exportertest.Fake) http.HandlerFunc { return exportertest.Slow }, outcome: "timeout", crowd: true},
		{name: "hard_fork_info_error", fault: func(_ *testing.T, f *exportertest.Fake) http.HandlerFunc {
			return f.JSONRPCError(-32603, "Internal error", "hard_fork_info")
		}, hardForkOnly: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			const maxConns = 4
			fake := exportertest.NewFake(t)
			e := exportertest.StartFaultExporter(t, startExporter, maxConns, append([]string{"--monerod.rpc-url=" + fake.URL}, c.args...)...)
			fault := c.fault(t, fake)

			if c.hardForkOnly {
				fake.Set(fault)
				mfs := e.Scrape(t)
				exportertest.ExpectUp(t, mfs)
				if testenv.MustValue(t, mfs, "monero_rpc_call_success", "method", "hard_fork_info") != 0 {
					t.Error("rpc_call_success{hard_fork_info} 1 for a JSON-RPC error")
				}
				if exportertest.Requests(mfs, "hard_fork_info", "bad_response") < 1 {
					t.Errorf("the JSON-RPC error of hard_fork_info is not counted as bad_response: %v", exportertest.Outcomes(mfs, "hard_fork_info"))
				}
				if _, ok := mfs["monero_hard_fork_version"]; ok {
					t.Error("monero_hard_fork_version exported without an answer")
				}
				exportertest.ExpectHealth(t, mfs, "monerod", "error")
				e.ExpectHealthFails(t, "ERROR")
			} else {
				exportertest.ExpectUp(t, e.Scrape(t))
				fake.Set(fault)
				exportertest.ExpectDown(t, e.Scrape(t), c.outcome)
				e.ExpectHealthFails(t, "UNKNOWN")
				if c.crowd {
					e.Crowd(t)
				}
			}
			e.ExpectNoLeak(t, fake.LiveConns, maxConns)

			// The next scrape after the node heals is up again.
			fake.Set(nil)
			mfs := e.Scrape(t)
			exportertest.ExpectUp(t, mfs)
			exportertest.ExpectHealth(t, mfs, "monerod", "ok")
			e.ExpectNoLeak(t, fake.LiveConns, maxConns)
		})
	}
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
	fake := exportertest.NewFake(t)
	modes := []struct {
		name  string
		fault http.HandlerFunc
		up    bool
	}{
		{"ok", nil, true},
		{"http_500", exportertest.HTTP500, false},
		{"garbage", exportertest.MalformedJSON, false},
		{"slow", exportertest.Slow, false},
	}
	// The scrapes of a healthy node have all the time they need (no
	// timing is asserted here, and the machine may be busy); the slow ones
	// have 5 ms.
	cfg, err := parseConfig([]string{
		"--monerod.rpc-url=" + fake.URL, "--monerod.max-connections=" + strconv.Itoa(maxConns),
		"--monerod.timeout-offset=0", "--monerod.timeout=10s",
	}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	leaks := exportertest.NewLeaks(t, maxConns)
	var heapAt [2]uint64
	// The handler is called directly, on this goroutine: a panic in it
	// fails the test as it is raised (no net/http recovers it here).
	leaks.Do(func() {
		// Warnings and errors only, kept to a bounded size: a log that
		// grows with the scrapes would read as a leak.
		logs := &testenv.SyncBuffer{Max: 64 << 10}
		h, err := newHandler(cfg, slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn})))
		if err != nil {
			t.Fatal(err)
		}
		leaks.Baseline()
		for i := range total {
			m := modes[i%len(modes)]
			fake.Set(m.fault)
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
				heapAt[0] = exportertest.LiveHeap()
			case total:
				heapAt[1] = exportertest.LiveHeap()
			}
		}
		fake.Set(nil)
		if strings.Contains(logs.String(), "panic") {
			t.Errorf("panic logged:\n%s", logs)
		}
	})
	t.Logf("live heap after %d scrapes: %d bytes; after %d: %d bytes", measure, heapAt[0], total, heapAt[1])
	if heapAt[1] > heapAt[0]+slack {
		t.Errorf("the live heap grew by %d bytes between scrape %d and scrape %d", heapAt[1]-heapAt[0], measure, total)
	}
	leaks.ExpectNoLeak(t, fake.LiveConns, maxConns)
}
