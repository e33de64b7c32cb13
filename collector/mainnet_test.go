package collector

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strconv"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/monero-ops/monero_exporter/internal/fixtures"
	"github.com/monero-ops/monero_exporter/internal/monerodtest"
	"github.com/monero-ops/monero_exporter/internal/testenv"
	"github.com/monero-ops/monero_exporter/monerod"
)

// The collectors against a fake monerod of mainnet size (1,000
// connections, 1,000 + 5,000 peers, 1,000 bans, a 150-transaction tip):
// what they show equals what the fake serves, whatever the pool's size,
// and what they read stays small. Bytes and calls are counted, not timed.

// defaultNames are the collectors on without flags.
func defaultNames() []string {
	var names []string
	for _, d := range Definitions() {
		if d.Default {
			names = append(names, d.Name)
		}
	}
	return names
}

// mainnetNode starts a fake of mainnet size with poolTxs transactions
// whose clock the test moves; blocks only when withBlocks.
func mainnetNode(t *testing.T, poolTxs int, withBlocks bool, restricted bool) (*fixtures.Mainnet, *testenv.Clock) {
	t.Helper()
	clk := testenv.NewClock(time.Unix(1_800_000_000, 0))
	cfg := fixtures.DefaultMainnet(poolTxs)
	cfg.Now, cfg.Restricted = clk.Now, restricted
	if !withBlocks {
		cfg.BlockInterval = -1
	}
	return fixtures.NewMainnet(t, cfg), clk
}

func sumBands(mfs map[string]*dto.MetricFamily) float64 {
	var n float64
	for _, m := range mfs["monero_tx_pool_fee_band_transactions"].GetMetric() {
		n += m.GetGauge().GetValue()
	}
	return n
}

// TestTxPoolMainnet: at every pool size the txpool collector succeeds at
// every scrape, learns the pool at most maxNewPoolTxs transactions a
// scrape, then shows what the fake serves; a steady scrape reads little;
// the whole pool is never asked.
func TestTxPoolMainnet(t *testing.T) {
	for _, size := range []int{0, 1000, 20000} {
		t.Run(strconv.Itoa(size), func(t *testing.T) {
			node, clk := mainnetNode(t, size, false, false)
			c := newCollector(t, node.URL, defaultNames()...)
			var mfs map[string]*dto.MetricFamily
			gather := func() {
				t.Helper()
				mfs = testenv.Gather(t, c)
				for _, st := range []string{"info", "txpool", "last_block", "connections", "bans"} {
					if v := testenv.MustValue(t, mfs, "monero_scrape_collector_success", "collector", st); v != 1 {
						t.Fatalf("collector %s failed at a pool of %d", st, size)
					}
				}
			}
			known := -1.0
			for scrapes := 1; ; scrapes++ {
				gather()
				k := testenv.MustValue(t, mfs, "monero_tx_pool_known_transactions")
				if k-max(known, 0) > maxNewPoolTxs {
					t.Fatalf("learnt %g transactions in one scrape", k-max(known, 0))
				}
				if k == float64(size) {
					break
				}
				// Each scrape learns some (fewer when the deadline nears,
				// as on a loaded machine).
				if k == known || scrapes > 100 {
					t.Fatalf("after %d scrapes %g of %d transactions known", scrapes, k, size)
				}
				known = k
			}
			checkPool := func() {
				t.Helper()
				want := node.Pool()
				for name, v := range map[string]float64{
					"monero_tx_pool_transactions":       float64(want.Txs),
					"monero_tx_pool_known_transactions": float64(want.Txs),
					"monero_tx_pool_size_bytes":         float64(want.Bytes),
					"monero_tx_pool_fees_xmr":           float64(want.Fees) / 1e12,
				} {
					if got := testenv.MustValue(t, mfs, name); !near(got, v) {
						t.Errorf("%s = %g, the fake serves %g", name, got, v)
					}
				}
				if got := sumBands(mfs); got != float64(want.Txs) {
					t.Errorf("the fee bands hold %g transactions, the pool %d", got, want.Txs)
				}
				oldest := testenv.Series(mfs, "monero_tx_pool_oldest_timestamp_seconds")
				switch {
				case want.Txs == 0 && oldest != nil:
					t.Error("an oldest transaction in an empty pool")
				case want.Txs > 0 && (oldest == nil || testenv.Value(oldest) != float64(want.Oldest)):
					t.Errorf("oldest %v, the fake's arrived at %d", oldest, want.Oldest)
				}
			}
			checkPool()
			if size >= 50 {
				stats, err := monerodtest.Client(t, node.URL, monerod.Config{}).GetTxPoolStats(t.Context())
				if err != nil {
					t.Fatal(err)
				}
				if got := testenv.MustValue(t, mfs, "monero_tx_pool_age_p98_seconds"); got != float64(stats.Histo98pc) || got == 0 {
					t.Errorf("age p98 %g, the fake's histo_98pc %d", got, stats.Histo98pc)
				}
			}

			// The pool unchanged: nothing listed or fetched again.
			listed, fetched := node.Calls("/get_transaction_pool_hashes.bin"), node.Calls("/get_transactions")
			gather()
			if node.Calls("/get_transaction_pool_hashes.bin") != listed || node.Calls("/get_transactions") != fetched {
				t.Error("the unchanged pool was listed or fetched again")
			}

			// A second on mainnet: a few arrivals. Listed again, the new
			// ones fetched, all of it in little more than the connections'
			// and bans' answers.
			for range 5 {
				clk.Advance(time.Second)
				before := node.BytesSent()
				gather()
				read := node.BytesSent() - before
				t.Logf("steady scrape at %d: %d bytes from the node", size, read)
				if read > 2<<20 {
					t.Errorf("a steady scrape at %d read %d bytes, want at most 2 MiB", size, read)
				}
				checkPool()
			}
			if n := node.Calls("/get_transaction_pool"); n != 0 {
				t.Errorf("the whole pool was read %d times", n)
			}
		})
	}
}

// TestLastBlockRestrictedMainnet: on a restricted node, which refuses more
// than 100 hashes in one /get_transactions, a 150-transaction tip is read
// in two batches, once, and the collector succeeds.
func TestLastBlockRestrictedMainnet(t *testing.T) {
	node, _ := mainnetNode(t, 10, false, true)
	c := newCollector(t, node.URL, defaultNames()...)
	for range 3 {
		mfs := testenv.Gather(t, c)
		if v := testenv.MustValue(t, mfs, "monero_scrape_collector_success", "collector", "last_block"); v != 1 {
			t.Fatal("last_block fails on a restricted node with a 150-transaction tip")
		}
		if _, ok := mfs["monero_last_block_fees_xmr"]; !ok {
			t.Fatal("no fees of the tip")
		}
		if v := testenv.MustValue(t, mfs, "monero_scrape_collector_success", "collector", "txpool"); v != 1 {
			t.Fatal("txpool fails on a restricted node")
		}
		if _, ok := mfs["monero_tx_pool_age_median_seconds"]; ok {
			t.Error("a median age from a node that hides arrival times")
		}
	}
	if _, txs := node.Tip(); txs != 150 {
		t.Fatalf("tip of %d transactions", txs)
	}
	// One get_block; the tip's 150 transactions in 100 + 50, the pool's
	// 10 in one batch.
	if node.Calls("get_block") != 1 || node.Calls("/get_transactions") != 3 {
		t.Errorf("get_block %d, /get_transactions %d calls for one tip over 3 scrapes", node.Calls("get_block"), node.Calls("/get_transactions"))
	}
}

// TestSteadyScrapeAsksOnlyWhatCanChange reviews the calls of the default
// collectors against a steady mainnet node: what changes only with the
// tip (the last header, hard_fork_info, the fee estimate, the tip block
// and its transactions) is asked again only when the tip moves, and the
// pool is listed only when it changes.
func TestSteadyScrapeAsksOnlyWhatCanChange(t *testing.T) {
	node, clk := mainnetNode(t, 100, true, false)
	c := newCollector(t, node.URL, defaultNames()...)
	methods := func() []string {
		var out []string
		for _, call := range c.source.Get(t.Context()).Calls {
			out = append(out, call.Method)
		}
		slices.Sort(out)
		return slices.Compact(out)
	}
	methods()
	steady := []string{
		monerod.MethodGetBans, monerod.MethodGetConnections, monerod.MethodGetInfo,
		monerod.MethodGetNetStats, monerod.MethodGetTxPoolStats, monerod.MethodMiningStatus,
	}
	if got := methods(); !slices.Equal(got, steady) {
		t.Errorf("nothing moved: asked %v, want %v", got, steady)
	}
	clk.Advance(time.Second)
	h0, _ := node.Tip()
	if h, _ := node.Tip(); h != h0 {
		t.Skip("a block came within the second") // not with this seed
	}
	withPool := append(slices.Clone(steady), monerod.MethodGetTransactions, monerod.MethodGetTxPoolHashes)
	slices.Sort(withPool)
	if got := methods(); !slices.Equal(got, withPool) {
		t.Errorf("the pool moved: asked %v, want %v", got, withPool)
	}
	for {
		clk.Advance(10 * time.Second)
		if h, _ := node.Tip(); h != h0 {
			break
		}
	}
	got := methods()
	for _, m := range []string{
		monerod.MethodLastBlockHeader, monerod.MethodHardForkInfo, monerod.MethodGetFeeEstimate,
		monerod.MethodGetBlock, monerod.MethodGetTransactions,
	} {
		if !slices.Contains(got, m) {
			t.Errorf("the tip moved, %s not asked: %v", m, got)
		}
	}
	if got := methods(); !slices.Equal(got, steady) {
		t.Errorf("the new tip again, nothing moved: asked %v, want %v", got, steady)
	}
}

// TestTxPoolLearnsWithinTheDeadline: on a slow node the txpool collector
// stops fetching new transactions when the deadline nears, without
// failing, and goes on at the next scrape.
func TestTxPoolLearnsWithinTheDeadline(t *testing.T) {
	node, _ := mainnetNode(t, 1500, false, false)
	target, err := url.Parse(node.URL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/get_transactions" {
			time.Sleep(150 * time.Millisecond)
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(slow.Close)
	c := newCollector(t, slow.URL, "txpool")
	last := 0.0
	for range 3 {
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		mfs := testenv.GatherFrom(t, c.Gatherer(ctx))
		cancel()
		if v := testenv.MustValue(t, mfs, "monero_scrape_collector_success", "collector", "txpool"); v != 1 {
			t.Fatal("txpool failed on a slow node instead of stopping in time")
		}
		known := testenv.MustValue(t, mfs, "monero_tx_pool_known_transactions")
		if known <= last || known >= 1500 {
			t.Fatalf("%g transactions known after %g: want some more each scrape, not all 1500 in a second", known, last)
		}
		last = known
	}
}

// TestTxPoolForgetsWhatLeft: the transactions a block takes from the pool
// are forgotten at the next scrape; what the collector knows stays the
// pool.
func TestTxPoolForgetsWhatLeft(t *testing.T) {
	node, clk := mainnetNode(t, 1000, true, false)
	c := newCollector(t, node.URL, "txpool")
	testenv.Gather(t, c)
	h0, _ := node.Tip()
	for blocks := 0; blocks < 3; {
		clk.Advance(20 * time.Second)
		mfs := testenv.Gather(t, c)
		if h, _ := node.Tip(); h != h0 {
			blocks, h0 = blocks+1, h
		}
		want := node.Pool()
		if known := testenv.MustValue(t, mfs, "monero_tx_pool_known_transactions"); known != float64(want.Txs) || sumBands(mfs) != float64(want.Txs) {
			t.Fatalf("%g known, %g in the bands; the pool holds %d", known, sumBands(mfs), want.Txs)
		}
	}
}
