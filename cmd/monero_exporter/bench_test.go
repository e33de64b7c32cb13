//go:build bench

package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/monero-ops/monero_exporter/internal/monerodtest"
	"github.com/monero-ops/monero_exporter/internal/testenv"
)

// TestBenchReport is `make bench`: it measures the exporter, built as the
// real binary and run as its own process, against a regtest monerod, and
// prints figures. It asserts nothing about speed (machines differ); it runs
// only with the bench build tag (make bench).
func TestBenchReport(t *testing.T) {
	monerodtest.Require(t)
	samples := envInt("BENCH_SAMPLES", 500)
	loadSeconds := envInt("BENCH_LOAD_SECONDS", 30)
	loadClients := envInt("BENCH_LOAD_CLIENTS", 50)

	node := monerodtest.Start(t, monerodtest.Options{})
	node.Mine(t, 20)

	// Every binary against the same node, one after the other: with
	// BENCH_BASELINE set, the figures before and after a change.
	// One subtest each, so that each exporter stops (and lets go of its
	// connections to monerod) before the next starts.
	for _, bin := range benchBinaries(t) {
		t.Run(bin.label, func(t *testing.T) { benchRegtestOne(t, bin, node, samples, loadSeconds, loadClients) })
	}
	// With BENCH_COMPARE set, other exporters against the same node.
	if spec := os.Getenv("BENCH_COMPARE"); spec != "" {
		benchCompare(t, node, spec, samples, loadSeconds, loadClients)
	}
}

func benchRegtestOne(t *testing.T, bin benchBinary, node *monerodtest.Node, samples, loadSeconds, loadClients int) {
	t.Helper()
	base, pid := startBenchExporter(t, bin.path, node.URL())

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 128}}
	get := func(url string) error {
		resp, err := client.Get(url)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode >= 500 && !strings.Contains(url, "/health") {
			return fmt.Errorf("%s: %s", url, resp.Status)
		}
		return nil
	}
	rpcClient := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	rpc := func(call string) func() error {
		path, body := call, []byte("{}")
		if method, ok := strings.CutPrefix(call, "json_rpc "); ok {
			path, body = "/json_rpc", []byte(`{"jsonrpc":"2.0","id":"0","method":"`+method+`"}`)
		}
		return func() error {
			resp, err := rpcClient.Post(node.URL()+path, "application/json", bytes.NewReader(body))
			if err != nil {
				return err
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			return resp.Body.Close()
		}
	}
	for range 20 { // warm up connections and caches
		_ = get(base + "/metrics")
	}
	idleRSS := testenv.RSS(t, pid)

	type row struct {
		name     string
		med, p99 time.Duration
	}
	var rows []row
	measure := func(name string, fn func() error) row {
		d := timeN(t, samples, fn)
		r := row{name, percentile(d, 50), percentile(d, 99)}
		rows = append(rows, r)
		return r
	}
	healthy := measure("GET /-/healthy (HTTP floor)", func() error { return get(base + "/-/healthy") })
	var slowest row
	for _, m := range benchRPCMethods {
		if r := measure("RPC "+m+" direct to monerod", rpc(m)); r.med > slowest.med {
			slowest = r
		}
	}
	callsBefore := rpcRequests(t, base)
	scrape := measure("GET /metrics", func() error { return get(base + "/metrics") })
	callsPerScrape := (rpcRequests(t, base) - callsBefore) / float64(samples)
	if benchHealthPath != "" {
		measure("GET "+benchHealthPath, func() error { return get(base + benchHealthPath) })
	}

	// Load: many clients at once, for a fixed time.
	callsBefore = rpcRequests(t, base)
	var served, failed atomic.Int64
	ctx, cancel := context.WithTimeout(t.Context(), time.Duration(loadSeconds)*time.Second)
	var wg sync.WaitGroup
	for i := range loadClients {
		wg.Go(func() {
			path := "/metrics"
			if benchHealthPath != "" && i%5 == 4 {
				path = benchHealthPath
			}
			for ctx.Err() == nil {
				if err := get(base + path); err != nil {
					if ctx.Err() == nil {
						failed.Add(1)
					}
					continue
				}
				served.Add(1)
			}
		})
	}
	wg.Wait()
	cancel()
	callsUnderLoad := rpcRequests(t, base) - callsBefore
	loadRSS := testenv.RSS(t, pid)

	var b strings.Builder
	fmt.Fprintf(&b, "\nmonero_exporter bench: %s (%d samples each; regtest monerod on loopback)\n", bin.label, samples)
	fmt.Fprintf(&b, "%-44s %10s %10s\n", "what", "median", "p99")
	for _, r := range rows {
		fmt.Fprintf(&b, "%-44s %10s %10s\n", r.name, fmtDur(r.med), fmtDur(r.p99))
	}
	floor := healthy.med + slowest.med
	fmt.Fprintf(&b, "\nscrape median / (HTTP floor + slowest RPC) = %s / (%s + %s) = %.2fx\n",
		fmtDur(scrape.med), fmtDur(healthy.med), fmtDur(slowest.med), float64(scrape.med)/float64(floor))
	fmt.Fprintf(&b, "RPC calls per sequential scrape: %.2f\n", callsPerScrape)
	fmt.Fprintf(&b, "\nload: %d clients for %ds: %d requests served (%.0f/s), %d errors, %.0f RPC calls = %.3f per request\n",
		loadClients, loadSeconds, served.Load(), float64(served.Load())/float64(loadSeconds), failed.Load(),
		callsUnderLoad, callsUnderLoad/float64(max(served.Load(), 1)))
	fmt.Fprintf(&b, "resident memory: idle %.1f MiB, after load %.1f MiB\n", idleRSS, loadRSS)
	fmt.Print(b.String())
}

// What /metrics asks of monerod, and the health endpoint, for the bench.
var (
	benchRPCMethods = []string{
		"json_rpc get_info", "json_rpc get_last_block_header", "json_rpc hard_fork_info",
		"json_rpc get_connections", "json_rpc get_bans", "/get_transaction_pool_stats", "/get_net_stats", "/mining_status",
	}
	benchHealthPath = "/health"
)

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

func timeN(t *testing.T, n int, fn func() error) []time.Duration {
	t.Helper()
	out := make([]time.Duration, 0, n)
	for range n {
		start := time.Now()
		if err := fn(); err != nil {
			t.Fatal(err)
		}
		out = append(out, time.Since(start))
	}
	slices.Sort(out)
	return out
}

func percentile(sorted []time.Duration, p int) time.Duration {
	return sorted[min(len(sorted)-1, len(sorted)*p/100)]
}

func fmtDur(d time.Duration) string { return fmt.Sprintf("%.3fms", float64(d)/1e6) }

// rpcRequests sums monero_exporter_rpc_requests_total from the exporter.
func rpcRequests(t *testing.T, base string) float64 {
	t.Helper()
	var sum float64
	for _, m := range testenv.Scrape(t, base+"/metrics")["monero_exporter_rpc_requests_total"].GetMetric() {
		sum += m.GetCounter().GetValue()
	}
	return sum
}
