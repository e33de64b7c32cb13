//go:build bench

package main

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/monero-ops/monero_exporter/internal/fixtures"
	"github.com/monero-ops/monero_exporter/internal/testenv"
)

// benchBinary is an exporter binary the bench measures.
type benchBinary struct{ label, path string }

// benchBinaries builds the exporter of this tree and, when BENCH_BASELINE
// names a git revision, the exporter of that revision too, so that one run
// measures both against the same node ("before" and "after").
func benchBinaries(t *testing.T) []benchBinary {
	t.Helper()
	dir := t.TempDir()
	var out []benchBinary
	if rev := os.Getenv("BENCH_BASELINE"); rev != "" {
		src := filepath.Join(dir, "baseline-src")
		if b, err := exec.Command("git", "worktree", "add", "--detach", src, rev).CombinedOutput(); err != nil {
			t.Fatalf("git worktree add %s: %v\n%s", rev, err, b)
		}
		t.Cleanup(func() { _ = exec.Command("git", "worktree", "remove", "--force", src).Run() })
		bin := filepath.Join(dir, "baseline")
		build := exec.Command("go", "build", "-o", bin, "./cmd/monero_exporter")
		build.Dir = src
		if b, err := build.CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", rev, err, b)
		}
		out = append(out, benchBinary{"before (" + rev + ")", bin})
	}
	bin := testenv.ExporterBinary(t)
	label := "this tree"
	if len(out) > 0 {
		label = "after (this tree)"
	}
	return append(out, benchBinary{label, bin})
}

// startBenchExporter runs bin against a monerod at rpcURL and returns its
// base URL and process id.
func startBenchExporter(t *testing.T, bin, rpcURL string, extra ...string) (string, int) {
	t.Helper()
	proc, addr := testenv.StartServer(t, 10*time.Second, bin, func(addr string) []string {
		args := []string{"--monerod.rpc-url=" + rpcURL, "--web.listen-address=" + addr, "--log.level=warn"}
		return append(append(args, extra...), strings.Fields(os.Getenv("BENCH_ARGS"))...)
	}, func(addr string) error { return testenv.HTTPOK("http://" + addr + "/-/healthy") })
	return "http://" + addr, proc.PID()
}

// TestBenchMainnet is the mainnet section of `make bench`: each exporter
// binary against a fake monerod of mainnet size (1,000 connections, 1,000
// white and 5,000 grey peers, 1,000 bans, a 150-transaction tip) at pool
// sizes of 0 to 100,000 transactions, the pool and chain moving as on
// mainnet. Per steady scrape it prints the bytes read from monerod, the RPC
// calls, median and p99 latency, the exporter's CPU time, its resident
// memory (its peak, the warm-up included) and how many collectors succeeded
// at the last scrape. The steady scrapes start once the exporter knows the
// pool (warm-up: the scrapes before, and what they read). It asserts
// nothing about speed.
func TestBenchMainnet(t *testing.T) {
	scrapes := envInt("BENCH_MAINNET_SCRAPES", 20)
	sizes := []int{0, 1000, 20000, 100000}
	if s := os.Getenv("BENCH_MAINNET_POOLS"); s != "" {
		sizes = nil
		for _, f := range strings.Split(s, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil {
				t.Fatalf("BENCH_MAINNET_POOLS: %v", err)
			}
			sizes = append(sizes, n)
		}
	}
	bins := benchBinaries(t)

	var b strings.Builder
	fmt.Fprintf(&b, "\nmonero_exporter against a fake mainnet node (%d steady scrapes, 1 s apart, default collectors)\n", scrapes)
	fmt.Fprintf(&b, "%-22s %8s %7s %12s %12s %6s %10s %10s %10s %9s %10s\n",
		"binary", "pool", "warm-up", "warm-up read", "read/scrape", "calls", "median", "p99", "cpu/scrape", "RSS MiB", "collectors")
	for _, size := range sizes {
		for _, bin := range bins {
			r := benchMainnetOne(t, bin.path, size, scrapes)
			fmt.Fprintf(&b, "%-22s %8d %7d %12s %12s %6.1f %10s %10s %10s %9.1f %10s\n",
				bin.label, size, r.warmup, fmtBytes(r.warmupBytes), fmtBytes(r.bytesPerScrape), r.callsPerScrape, fmtDur(r.median), fmtDur(r.p99),
				fmtDur(r.cpuPerScrape), r.maxRSS, r.collectors)
		}
	}
	fmt.Print(b.String())
}

type mainnetResult struct {
	warmup         int     // scrapes before the steady ones
	warmupBytes    float64 // read from monerod by them
	bytesPerScrape float64
	callsPerScrape float64
	median, p99    time.Duration
	cpuPerScrape   time.Duration
	maxRSS         float64
	collectors     string // "succeeded of total" at the last scrape
}

func benchMainnetOne(t *testing.T, bin string, pool, scrapes int) mainnetResult {
	t.Helper()
	node := fixtures.NewMainnet(t, fixtures.DefaultMainnet(pool))
	base, pid := startBenchExporter(t, bin, node.URL)
	var last string
	scrape := func() (string, error) {
		req, _ := http.NewRequest(http.MethodGet, base+"/metrics", nil)
		req.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", "10")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		return string(body), err
	}
	// The first scrapes fetch what later ones reuse; an exporter that
	// learns the pool's transactions a bounded number a scrape
	// (monero_tx_pool_known_transactions) is steady once it knows the
	// pool.
	warmup := 0
	for ; warmup < 3 || (warmup < maxWarmup && learning(t, last)); warmup++ {
		body, err := scrape()
		if err != nil {
			t.Fatal(err)
		}
		last = body
		time.Sleep(time.Second)
	}
	bytes0, calls0, cpu0 := node.BytesSent(), node.TotalCalls(), testenv.CPUTime(t, pid)
	var took []time.Duration
	for range scrapes {
		start := time.Now()
		body, err := scrape()
		if err != nil {
			t.Fatal(err)
		}
		took = append(took, time.Since(start))
		last = body
		time.Sleep(time.Second - min(time.Since(start), time.Second))
	}
	r := mainnetResult{
		warmup:         warmup,
		warmupBytes:    float64(bytes0),
		bytesPerScrape: float64(node.BytesSent()-bytes0) / float64(scrapes),
		callsPerScrape: float64(node.TotalCalls()-calls0) / float64(scrapes),
		cpuPerScrape:   (testenv.CPUTime(t, pid) - cpu0) / time.Duration(scrapes),
		maxRSS:         testenv.PeakRSS(t, pid),
	}
	slices.Sort(took)
	r.median, r.p99 = percentile(took, 50), percentile(took, 99)
	ok, total := 0, 0
	sc := bufio.NewScanner(strings.NewReader(last))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if rest, found := strings.CutPrefix(sc.Text(), "monero_scrape_collector_success{"); found {
			total++
			if strings.HasSuffix(rest, " 1") {
				ok++
			}
		}
	}
	r.collectors = fmt.Sprintf("%d of %d", ok, total)
	return r
}

// maxWarmup bounds the scrapes an exporter gets to learn the pool: enough
// for 100,000 transactions at 2000 a scrape.
const maxWarmup = 60

// learning reports whether a scrape shows an exporter still learning the
// pool's transactions: fewer known than in the pool. An exporter without
// monero_tx_pool_known_transactions (one that reads the whole pool) never is.
func learning(t *testing.T, body string) bool {
	t.Helper()
	if body == "" {
		return true
	}
	mfs, err := testenv.ParseExposition(body)
	if err != nil {
		t.Fatal(err)
	}
	known, pool := testenv.Series(mfs, "monero_tx_pool_known_transactions"), testenv.Series(mfs, "monero_tx_pool_transactions")
	return known != nil && pool != nil && testenv.Value(known) < testenv.Value(pool)
}

func fmtBytes(n float64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", n/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", n/(1<<10))
	}
	return fmt.Sprintf("%.0f B", n)
}
