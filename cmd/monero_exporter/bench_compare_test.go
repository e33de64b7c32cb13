//go:build bench

package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/monero-ops/monero_exporter/internal/monerodtest"
	"github.com/monero-ops/monero_exporter/internal/testenv"
)

// A contender is an exporter binary compared under the same load: ours or
// another Monero exporter, given by BENCH_COMPARE.
type contender struct {
	label, bin string
	// args makes the command line from monerod's URL and the address to
	// listen on.
	args func(rpcURL, listen string) []string
	path string // the metrics path
}

// compareContenders reads BENCH_COMPARE: entries separated by ";", each
// "LABEL=COMMAND" with placeholders {rpc} (monerod's URL), {rpchost},
// {rpcport}, {listen} ("127.0.0.1:P") and {port}, and optionally
// "LABEL@/PATH=COMMAND" when the metrics are not at /metrics. The bench
// builds nothing from it: the commands are binaries built elsewhere.
func compareContenders(t *testing.T, spec string) []contender {
	t.Helper()
	var out []contender
	for entry := range strings.SplitSeq(spec, ";") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		label, command, ok := strings.Cut(entry, "=")
		if !ok || strings.TrimSpace(command) == "" {
			t.Fatalf("BENCH_COMPARE: %q is not LABEL=COMMAND", entry)
		}
		label, path, _ := strings.Cut(strings.TrimSpace(label), "@")
		if path == "" {
			path = "/metrics"
		}
		words := strings.Fields(command)
		out = append(out, contender{label: label, bin: words[0], path: path, args: func(rpcURL, listen string) []string {
			u, err := url.Parse(rpcURL)
			if err != nil {
				t.Fatal(err)
			}
			_, port, _ := net.SplitHostPort(listen)
			r := strings.NewReplacer("{rpc}", rpcURL, "{rpchost}", u.Hostname(), "{rpcport}", u.Port(),
				"{listen}", listen, "{port}", port)
			args := make([]string, len(words)-1)
			for i, w := range words[1:] {
				args[i] = r.Replace(w)
			}
			return args
		}})
	}
	return out
}

// benchCompare measures this tree's exporter and every BENCH_COMPARE
// contender against the same regtest node, one after the other (see
// benchContender): the sequential median of the metrics path, then
// loadClients clients asking it only, for loadSeconds. An answer is complete
// when it is a 200 with as many metric families as the contender's idle
// answer. BENCH_ROUNDS repeats the whole, in the same order, so that a
// passing load on the machine shows as a spread between rounds; the ratios
// are of the medians over rounds.
func benchCompare(t *testing.T, node *monerodtest.Node, spec string, samples, loadSeconds, loadClients int) {
	t.Helper()
	ours := contender{label: "monero_exporter", bin: testenv.ExporterBinary(t), path: "/metrics", args: func(rpcURL, listen string) []string {
		return []string{"--monerod.rpc-url=" + rpcURL, "--web.listen-address=" + listen, "--log.level=warn"}
	}}
	contenders := append([]contender{ours}, compareContenders(t, spec)...)
	rounds := envInt("BENCH_ROUNDS", 1)

	var b strings.Builder
	fmt.Fprintf(&b, "\nexporters compared on one regtest node (%d sequential scrapes; then %d clients on the metrics path for %ds; RPC calls counted by a proxy in separate runs; %d rounds)\n",
		samples, loadClients, loadSeconds, rounds)
	fmt.Fprintf(&b, "%-28s %5s %8s %9s %6s %10s %8s %10s %6s %9s %9s %9s\n",
		"exporter", "round", "families", "median", "calls", "complete/s", "complete", "incomplete", "errors", "calls/req", "cpu/req", "node/req")
	perSec := make([][]float64, len(contenders))
	for round := 1; round <= rounds; round++ {
		for i, c := range contenders {
			r := benchContender(t, node, c, samples, loadSeconds, loadClients)
			perSec[i] = append(perSec[i], r.completePerSec)
			fmt.Fprintf(&b, "%-28s %5d %8d %9s %6.2f %10.0f %8d %10d %6d %9.3f %9s %9s\n",
				c.label, round, r.families, fmtDur(r.median), r.callsPerScrape, r.completePerSec, r.complete, r.incomplete, r.errors, r.callsPerRequest,
				fmtDur(r.cpuPerAnswer), fmtDur(r.nodeCPUPerAnswer))
		}
	}
	ourMedian := medianOf(perSec[0])
	for i, c := range contenders[1:] {
		fmt.Fprintf(&b, "complete answers per second, median over rounds, this tree / %s: %.0f / %.0f = %.2fx\n",
			c.label, ourMedian, medianOf(perSec[i+1]), ourMedian/max(medianOf(perSec[i+1]), 1e-9))
	}
	fmt.Print(b.String())
}

func medianOf(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

type contenderResult struct {
	families                        int
	median                          time.Duration
	callsPerScrape, callsPerRequest float64
	complete, incomplete, errors    int64
	completePerSec                  float64
	// CPU time of the contender and of monerod per answer under load.
	cpuPerAnswer, nodeCPUPerAnswer time.Duration
}

// benchContender measures c twice. Behind the counting proxy: the RPC calls
// of a sequential scrape, and per request under a short load. Then straight
// to monerod, so that the proxy's own cost (paid per RPC call, more by
// exporters that make more) weighs on no one: the sequential median and the
// load's complete answers.
func benchContender(t *testing.T, node *monerodtest.Node, c contender, samples, loadSeconds, loadClients int) contenderResult {
	t.Helper()
	var r contenderResult
	proxy, calls, closeProxy := countingProxy(t, node.URL())
	withContender(t, c, proxy, func(get getter, _ int) {
		families := idleFamilies(t, c, get)
		const sequential = 50
		before := calls.Load()
		timeN(t, sequential, get.ok(c))
		r.callsPerScrape = float64(calls.Load()-before) / sequential
		before = calls.Load()
		complete, incomplete, _ := loadOn(t, get, families, max(3, loadSeconds/5), loadClients)
		r.callsPerRequest = float64(calls.Load()-before) / float64(max(complete+incomplete, 1))
	})
	// monerod serves 25 connections per address: the proxy's must not
	// take the places of the contender's own.
	closeProxy()
	withContender(t, c, node.URL(), func(get getter, pid int) {
		r.families = idleFamilies(t, c, get)
		r.median = percentile(timeN(t, samples, get.ok(c)), 50)
		cpu0, nodeCPU0 := testenv.CPUTime(t, pid), testenv.CPUTime(t, node.PID())
		r.complete, r.incomplete, r.errors = loadOn(t, get, r.families, loadSeconds, loadClients)
		answers := time.Duration(max(r.complete+r.incomplete, 1))
		r.cpuPerAnswer = (testenv.CPUTime(t, pid) - cpu0) / answers
		r.nodeCPUPerAnswer = (testenv.CPUTime(t, node.PID()) - nodeCPU0) / answers
		r.completePerSec = float64(r.complete) / float64(loadSeconds)
	})
	return r
}

// A getter asks the contender for its metrics once and counts the metric
// families of the answer.
type getter func() (status, families int, err error)

// ok is get as timeN wants it: an error unless a 200.
func (get getter) ok(c contender) func() error {
	return func() error {
		status, _, err := get()
		if err == nil && status != http.StatusOK {
			err = fmt.Errorf("%s: %d", c.label, status)
		}
		return err
	}
}

// withContender runs c against monerod at rpcURL while fn measures it (pid
// is c's process).
func withContender(t *testing.T, c contender, rpcURL string, fn func(get getter, pid int)) {
	t.Helper()
	proc, addr := testenv.StartServer(t, 15*time.Second, c.bin, func(listen string) []string {
		return c.args(rpcURL, listen)
	}, func(listen string) error { return testenv.HTTPOK("http://" + listen + c.path) })
	defer func() { _ = proc.Stop() }()
	target := "http://" + addr + c.path
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 128}, Timeout: 10 * time.Second}
	// Bodies are read into buffers used again, so that the load's own
	// cost, on the same cores, grows little with the size of an answer.
	buffers := sync.Pool{New: func() any { return new(bytes.Buffer) }}
	fn(func() (int, int, error) {
		resp, err := client.Get(target)
		if err != nil {
			return 0, 0, err
		}
		defer resp.Body.Close()
		buf, _ := buffers.Get().(*bytes.Buffer)
		defer buffers.Put(buf)
		buf.Reset()
		_, err = buf.ReadFrom(resp.Body)
		return resp.StatusCode, bytes.Count(buf.Bytes(), typeLine), err
	}, proc.PID())
}

var typeLine = []byte("\n# TYPE ")

// idleFamilies warms c up and counts the metric families of its answer.
func idleFamilies(t *testing.T, c contender, get getter) int {
	t.Helper()
	for range 20 { // warm up connections and caches
		_, _, _ = get()
	}
	status, families, err := get()
	if err != nil || status != http.StatusOK {
		t.Fatalf("%s: idle scrape: %d %v", c.label, status, err)
	}
	return families
}

// loadOn has clients ask get for seconds and sorts the answers: complete (a
// 200 with at least families families), incomplete, or failed.
func loadOn(t *testing.T, get getter, families, seconds, clients int) (complete, incomplete, failed int64) {
	t.Helper()
	var ok, partial, bad atomic.Int64
	ctx, cancel := context.WithTimeout(t.Context(), time.Duration(seconds)*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			for ctx.Err() == nil {
				status, got, err := get()
				switch {
				case ctx.Err() != nil:
				case err != nil:
					bad.Add(1)
				case status == http.StatusOK && got >= families:
					ok.Add(1)
				default:
					partial.Add(1)
				}
			}
		})
	}
	wg.Wait()
	return ok.Load(), partial.Load(), bad.Load()
}

// countingProxy forwards to monerod at target and counts the requests; its
// transport keeps as many connections as its clients open, so that it does
// not shelter monerod from a contender's concurrency. stop closes them.
func countingProxy(t *testing.T, target string) (proxyURL string, calls *atomic.Int64, stop func()) {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	var n atomic.Int64
	rp := httputil.NewSingleHostReverseProxy(u)
	transport := &http.Transport{MaxIdleConnsPerHost: 256}
	rp.Transport = transport
	rp.ErrorLog = log.New(io.Discard, "", 0) // the contender's answer tells
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		rp.ServeHTTP(w, r)
	}))
	return srv.URL, &n, func() {
		srv.Close()
		transport.CloseIdleConnections()
	}
}
