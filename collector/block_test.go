package collector

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"testing"

	dto "github.com/prometheus/client_model/go"

	"github.com/monero-ops/monero_exporter/internal/fixtures"
	"github.com/monero-ops/monero_exporter/internal/testenv"
	"github.com/monero-ops/monero_exporter/monerod"
)

// chain is a fake monerod whose chain grows as the test says: the busy
// fixtures, with get_info, get_last_block_header, get_block and
// get_block_headers_range answering for the current tip out of a list of
// headers (the ones recorded on the busy node, or made up).
type chain struct {
	t       testing.TB
	mu      sync.Mutex
	first   uint64           // height of headers[0]
	headers []map[string]any // as monerod sends them
	tip     uint64
	ranges  [][2]uint64 // the get_block_headers_range calls
	failing bool        // get_block fails
	refuse  bool        // get_block_headers_range is refused
	srv     *fixtures.Server
}

// recordedChain serves the busy node's last ten blocks (heights 82 to 91;
// 91, the recorded tip, holds five transactions), its tip at tip.
func recordedChain(t testing.TB, tip uint64) *chain {
	t.Helper()
	var r struct {
		Result struct {
			Headers []map[string]any `json:"headers"`
		} `json:"result"`
	}
	if err := json.Unmarshal(fixtures.Load(t, fixtures.Busy, monerod.MethodGetHeadersRange), &r); err != nil {
		t.Fatal(err)
	}
	return newChain(t, 82, r.Result.Headers, tip)
}

// madeUpChain serves n blocks of two minutes each, weighing 1000 bytes
// more at each height, its tip at tip.
func madeUpChain(t testing.TB, n int, tip uint64) *chain {
	t.Helper()
	hash := func(h int) string { return fmt.Sprintf("%064x", h+1) }
	headers := make([]map[string]any, n)
	for h := range headers {
		headers[h] = map[string]any{
			"height": h, "hash": hash(h), "prev_hash": hash(h - 1), "timestamp": 1795000000 + 120*h,
			"block_weight": 1000 * h, "block_size": 1000 * h, "num_txes": 0, "reward": 600000000000, "major_version": 16,
		}
	}
	return newChain(t, 0, headers, tip)
}

func newChain(t testing.TB, first uint64, headers []map[string]any, tip uint64) *chain {
	c := &chain{t: t, first: first, headers: headers, tip: tip}
	block := fixtures.Load(t, fixtures.Busy, monerod.MethodGetBlock)
	var recorded struct {
		Result struct {
			Header map[string]any `json:"block_header"`
		} `json:"result"`
	}
	if err := json.Unmarshal(block, &recorded); err != nil {
		t.Fatal(err)
	}
	var info map[string]any
	if err := json.Unmarshal(fixtures.Load(t, fixtures.Busy, monerod.MethodGetInfo), &info); err != nil {
		t.Fatal(err)
	}
	c.srv = fixtures.NewServer(t, fixtures.Busy, map[string]http.HandlerFunc{
		monerod.MethodGetInfo: func(w http.ResponseWriter, r *http.Request) {
			id, _ := c.params(r, nil)
			c.mu.Lock()
			res := info["result"].(map[string]any)
			res["height"], res["top_block_hash"] = c.tip+1, c.header(c.tip)["hash"]
			b, _ := json.Marshal(map[string]any{"id": id, "jsonrpc": "2.0", "result": res})
			c.mu.Unlock()
			_, _ = w.Write(b)
		},
		monerod.MethodLastBlockHeader: func(w http.ResponseWriter, r *http.Request) {
			id, _ := c.params(r, nil)
			c.mu.Lock()
			defer c.mu.Unlock()
			c.answer(w, id, map[string]any{"block_header": c.header(c.tip)})
		},
		monerod.MethodGetBlock: func(w http.ResponseWriter, r *http.Request) {
			var p struct {
				Hash string `json:"hash"`
			}
			id, _ := c.params(r, &p)
			if p.Hash == recorded.Result.Header["hash"] {
				_, _ = w.Write(block) // with its transactions
				return
			}
			c.mu.Lock()
			defer c.mu.Unlock()
			for _, h := range c.headers {
				if h["hash"] == p.Hash && !c.failing {
					c.answer(w, id, map[string]any{"block_header": h})
					return
				}
			}
			_, _ = fmt.Fprintf(w, `{"id":%q,"jsonrpc":"2.0","error":{"code":-5,"message":"Internal error: can't get block by hash."}}`, id)
		},
		monerod.MethodGetHeadersRange: func(w http.ResponseWriter, r *http.Request) {
			var p struct {
				Start uint64 `json:"start_height"`
				End   uint64 `json:"end_height"`
			}
			id, _ := c.params(r, &p)
			c.mu.Lock()
			defer c.mu.Unlock()
			c.ranges = append(c.ranges, [2]uint64{p.Start, p.End})
			if c.refuse {
				_, _ = fmt.Fprintf(w, `{"id":%q,"jsonrpc":"2.0","error":{"code":-32601,"message":"Method not found"}}`, id)
				return
			}
			if p.Start < c.first || p.End > c.tip || p.Start > p.End {
				_, _ = fmt.Fprintf(w, `{"id":%q,"jsonrpc":"2.0","error":{"code":-2,"message":"Invalid start/end heights."}}`, id)
				return
			}
			c.answer(w, id, map[string]any{"headers": c.headers[p.Start-c.first : p.End-c.first+1]})
		},
	})
	return c
}

// params decodes a JSON-RPC request's params into p (when not nil) and
// returns its id.
func (c *chain) params(r *http.Request, p any) (string, error) {
	var req struct {
		ID     string          `json:"id"`
		Params json.RawMessage `json:"params"`
	}
	body, _ := io.ReadAll(r.Body)
	if err := json.Unmarshal(body, &req); err != nil {
		c.t.Error(err)
	}
	if p != nil {
		if err := json.Unmarshal(req.Params, p); err != nil {
			c.t.Error(err)
		}
	}
	return req.ID, nil
}

func (c *chain) answer(w http.ResponseWriter, id string, result map[string]any) {
	result["status"] = "OK"
	b, err := json.Marshal(map[string]any{"id": id, "jsonrpc": "2.0", "result": result})
	if err != nil {
		c.t.Error(err)
	}
	_, _ = w.Write(b)
}

func (c *chain) header(h uint64) map[string]any { return c.headers[h-c.first] }

func (c *chain) setTip(h uint64) {
	c.mu.Lock()
	c.tip = h
	c.mu.Unlock()
}

func (c *chain) rangeCalls() [][2]uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.ranges)
}

// hist returns the sample count and sum of a histogram family.
func hist(t *testing.T, mfs map[string]*dto.MetricFamily, name string) (uint64, float64) {
	t.Helper()
	h := testenv.MustSeries(t, mfs, name).GetHistogram()
	if h == nil {
		t.Fatalf("%s is not a histogram", name)
	}
	return h.GetSampleCount(), h.GetSampleSum()
}

func headerNum(t *testing.T, h map[string]any, key string) float64 {
	t.Helper()
	f, ok := h[key].(float64)
	if !ok {
		i, ok := h[key].(int)
		if !ok {
			t.Fatalf("header %s: %v", key, h[key])
		}
		f = float64(i)
	}
	return f
}

// TestBlockEventsObservedOnce: each block is observed once, by the first
// snapshot that shows it, however many scrapes and probes share it or come
// after; the blocks before the exporter started are not; several blocks
// between two snapshots are all observed.
func TestBlockEventsObservedOnce(t *testing.T) {
	ch := recordedChain(t, 82)
	c := newCollector(t, ch.srv.URL, "last_block")
	expect := func(mfs map[string]*dto.MetricFamily, blocks, txs uint64) {
		t.Helper()
		for _, name := range []string{"monero_block_weight_bytes", "monero_block_interval_seconds"} {
			if n, _ := hist(t, mfs, name); n != blocks {
				t.Errorf("%s counts %d blocks, want %d", name, n, blocks)
			}
		}
		for _, name := range []string{
			"monero_block_transaction_fee_per_byte_xmr", "monero_block_transaction_size_bytes",
			"monero_block_transaction_inputs", "monero_block_transaction_outputs",
		} {
			if n, _ := hist(t, mfs, name); n != txs {
				t.Errorf("%s counts %d transactions, want %d", name, n, txs)
			}
		}
	}
	// Started at 82: that block is the past.
	expect(testenv.Gather(t, c), 0, 0)
	expect(testenv.Gather(t, c), 0, 0)

	// One block: its header comes with get_block, no range asked; many
	// scrapes and probes at once count it once.
	ch.setTip(83)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() { testenv.Gather(t, c) })
		wg.Go(func() { c.source.Get(t.Context()) })
	}
	wg.Wait()
	mfs := testenv.Gather(t, c)
	expect(mfs, 1, 0)
	if _, sum := hist(t, mfs, "monero_block_weight_bytes"); sum != headerNum(t, ch.header(83), "block_weight") {
		t.Errorf("weight sum %g, block 83 weighs %g", sum, headerNum(t, ch.header(83), "block_weight"))
	}
	if got := ch.rangeCalls(); len(got) != 0 {
		t.Errorf("get_block_headers_range asked %v for one block", got)
	}

	// Eight blocks, the last with transactions, shown first to a health
	// probe: the next scrape has them all, once.
	ch.setTip(91)
	c.source.Get(t.Context())
	for range 3 {
		mfs = testenv.Gather(t, c)
	}
	expect(mfs, 9, 5)
	if got := ch.rangeCalls(); !slices.Equal(got, [][2]uint64{{83, 91}}) {
		t.Errorf("get_block_headers_range asked %v, want heights 83 to 91 once", got)
	}
	var weights, interval float64
	for h := uint64(83); h <= 91; h++ {
		weights += headerNum(t, ch.header(h), "block_weight")
	}
	interval = headerNum(t, ch.header(91), "timestamp") - headerNum(t, ch.header(82), "timestamp")
	if _, sum := hist(t, mfs, "monero_block_weight_bytes"); sum != weights {
		t.Errorf("weight sum %g, blocks 83-91 weigh %g", sum, weights)
	}
	if _, sum := hist(t, mfs, "monero_block_interval_seconds"); sum != interval {
		t.Errorf("interval sum %g, want %g (from block 82 to 91)", sum, interval)
	}
	if n := ch.srv.Calls(monerod.MethodGetBlock); n != 3 {
		t.Errorf("get_block asked %d times for 3 tips", n)
	}
	if n := ch.srv.Calls("/get_transactions"); n != 1 {
		t.Errorf("/get_transactions asked %d times; only block 91 has transactions", n)
	}
}

// TestBlockEventsBounded: after a long gap, the latest maxNewBlocks blocks
// are counted, with one range call; a chain that got shorter (a
// reorganisation) counts nothing twice.
func TestBlockEventsBounded(t *testing.T) {
	ch := madeUpChain(t, 400, 50)
	c := newCollector(t, ch.srv.URL, "last_block")
	testenv.Gather(t, c)
	ch.setTip(350)
	mfs := testenv.Gather(t, c)
	if n, sum := hist(t, mfs, "monero_block_interval_seconds"); n != maxNewBlocks || sum != 120*maxNewBlocks {
		t.Errorf("intervals: %d, sum %g; want %d of 120 s", n, sum, maxNewBlocks)
	}
	if n, _ := hist(t, mfs, "monero_block_weight_bytes"); n != maxNewBlocks {
		t.Errorf("weights: %d, want %d", n, maxNewBlocks)
	}
	if got := ch.rangeCalls(); !slices.Equal(got, [][2]uint64{{350 - maxNewBlocks, 350}}) {
		t.Errorf("ranges %v", got)
	}
	ch.setTip(340) // back: nothing new
	testenv.Gather(t, c)
	ch.setTip(352) // 341 to 350 were counted already: 351 and 352 are new
	mfs = testenv.Gather(t, c)
	if n, _ := hist(t, mfs, "monero_block_weight_bytes"); n != maxNewBlocks+2 {
		t.Errorf("weights after a reorganisation: %d, want %d", n, maxNewBlocks+2)
	}
	if got := ch.rangeCalls(); len(got) != 2 || got[1] != [2]uint64{340, 352} {
		t.Errorf("ranges %v", got)
	}
}

// TestBlockParentKeptWhenACallFails: a failed get_block leaves the previous
// tip as the parent, so that the blocks it missed are counted by the next
// snapshot.
func TestBlockParentKeptWhenACallFails(t *testing.T) {
	ch := madeUpChain(t, 20, 5)
	c := newCollector(t, ch.srv.URL, "last_block")
	testenv.Gather(t, c)
	ch.setTip(7)
	ch.mu.Lock()
	ch.failing = true
	ch.mu.Unlock()
	mfs := testenv.Gather(t, c)
	if testenv.MustSeries(t, mfs, "monero_scrape_collector_success", "collector", "last_block").GetGauge().GetValue() != 0 {
		t.Error("the failed get_block is not reported")
	}
	ch.mu.Lock()
	ch.failing = false
	ch.mu.Unlock()
	mfs = testenv.Gather(t, c)
	if n, sum := hist(t, mfs, "monero_block_interval_seconds"); n != 2 || sum != 240 {
		t.Errorf("intervals after the failure: %d, sum %g; want blocks 6 and 7", n, sum)
	}
}

// TestBlockRangeRefused: a node that refuses get_block_headers_range keeps
// the collector, counting the blocks that come one at a time.
func TestBlockRangeRefused(t *testing.T) {
	ch := madeUpChain(t, 20, 5)
	ch.refuse = true
	c := newCollector(t, ch.srv.URL, "last_block")
	testenv.Gather(t, c)
	ch.setTip(8) // three blocks: the range is refused, they are not counted
	mfs := testenv.Gather(t, c)
	if testenv.MustSeries(t, mfs, "monero_scrape_collector_success", "collector", "last_block").GetGauge().GetValue() != 1 ||
		testenv.MustSeries(t, mfs, "monero_rpc_call_success", "method", monerod.MethodGetHeadersRange).GetGauge().GetValue() != 0 {
		t.Error("the refused range should show in rpc_call_success, not fail the collector")
	}
	ch.setTip(9) // one block: counted
	mfs = testenv.Gather(t, c)
	if n, _ := hist(t, mfs, "monero_block_interval_seconds"); n != 1 {
		t.Errorf("%d blocks counted, want 1", n)
	}
	if testenv.MustSeries(t, mfs, "monero_scrape_collector_skipped", "collector", "last_block").GetGauge().GetValue() != 0 {
		t.Error("last_block skipped after the refused range")
	}
}
