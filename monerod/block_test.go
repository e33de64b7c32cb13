package monerod

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/monero-ops/monero_exporter/internal/fixtures"
)

// TestGetBlockHeadersRange reads the answer recorded from a real node, as
// monerod sends it, and the range it was asked for.
func TestGetBlockHeadersRange(t *testing.T) {
	var params struct {
		Params struct {
			Start uint64 `json:"start_height"`
			End   uint64 `json:"end_height"`
		} `json:"params"`
	}
	srv := fixtures.NewServer(t, fixtures.Busy, map[string]http.HandlerFunc{
		MethodGetHeadersRange: func(w http.ResponseWriter, r *http.Request) {
			if err := json.NewDecoder(r.Body).Decode(&params); err != nil {
				t.Error(err)
			}
			_, _ = w.Write(fixtures.Load(t, fixtures.Busy, MethodGetHeadersRange))
		},
	})
	c := newTestClient(t, srv.URL, nil)
	hs, err := c.GetBlockHeadersRange(t.Context(), 82, 91)
	if err != nil {
		t.Fatal(err)
	}
	if params.Params.Start != 82 || params.Params.End != 91 {
		t.Errorf("asked %+v", params.Params)
	}
	if len(hs) != 10 || hs[0].Height != 82 || hs[9].Height != 91 {
		t.Fatalf("%d headers, %+v", len(hs), hs)
	}
	// The recorded tip: a block with transactions, heavier than the rest.
	tip := hs[9]
	if tip.BlockWeight != 10916 || tip.NumTxes != 5 || tip.Timestamp != 1795323966 || tip.PrevHash != hs[8].Hash {
		t.Errorf("tip header %+v", tip)
	}

	// An answer that does not cover the range asked is refused.
	for _, rng := range [][2]uint64{{81, 91}, {82, 92}, {83, 92}} {
		if _, err := c.GetBlockHeadersRange(t.Context(), rng[0], rng[1]); !errors.Is(err, ErrBadResponse) {
			t.Errorf("heights %v answered with 82-91: %v", rng, err)
		}
	}
	for _, rng := range [][2]uint64{{5, 4}, {0, MaxHeadersPerCall}} {
		if _, err := c.GetBlockHeadersRange(t.Context(), rng[0], rng[1]); err == nil {
			t.Errorf("heights %v accepted", rng)
		}
	}
	if n := srv.Calls(MethodGetHeadersRange); n != 4 {
		t.Errorf("%d calls, want 4 (bad ranges are not sent)", n)
	}
}

// TestGetTransactionsBatches: a restricted monerod refuses more than 100
// hashes in one /get_transactions; a block may hold more.
func TestGetTransactionsBatches(t *testing.T) {
	recorded := fixtures.Load(t, fixtures.Busy, "/"+MethodGetTransactions)
	var rec struct {
		Txs []json.RawMessage `json:"txs"`
	}
	if err := json.Unmarshal(recorded, &rec); err != nil || len(rec.Txs) == 0 {
		t.Fatalf("fixture: %v", err)
	}
	var mu sync.Mutex
	var sizes []int
	srv := fixtures.NewServer(t, fixtures.Busy, map[string]http.HandlerFunc{
		"/" + MethodGetTransactions: func(w http.ResponseWriter, r *http.Request) {
			var req struct {
				Hashes []string `json:"txs_hashes"`
			}
			body, _ := io.ReadAll(r.Body)
			if err := json.Unmarshal(body, &req); err != nil {
				t.Error(err)
			}
			mu.Lock()
			sizes = append(sizes, len(req.Hashes))
			mu.Unlock()
			if len(req.Hashes) > 100 {
				// What a restricted monerod answers.
				_, _ = io.WriteString(w, `{"credits":0,"status":"Too many transactions requested in restricted mode","top_hash":"","untrusted":false}`)
				return
			}
			// One recorded transaction per hash asked, renamed after it.
			txs := make([]string, len(req.Hashes))
			for i, h := range req.Hashes {
				var tx map[string]any
				_ = json.Unmarshal(rec.Txs[i%len(rec.Txs)], &tx)
				tx["tx_hash"] = h
				b, _ := json.Marshal(tx)
				txs[i] = string(b)
			}
			fmt.Fprintf(w, `{"status":"OK","txs":[%s]}`, strings.Join(txs, ","))
		},
	})
	c := newTestClient(t, srv.URL, nil)
	hashes := make([]string, 250)
	for i := range hashes {
		hashes[i] = fmt.Sprintf("%064x", i)
	}
	txs, err := c.GetTransactions(t.Context(), hashes)
	if err != nil {
		t.Fatal(err)
	}
	if len(txs) != len(hashes) || txs[0].Hash != hashes[0] || txs[249].Hash != hashes[249] {
		t.Fatalf("%d transactions, first %q last %q", len(txs), txs[0].Hash, txs[len(txs)-1].Hash)
	}
	if fmt.Sprint(sizes) != "[100 100 50]" {
		t.Errorf("batches %v, want [100 100 50]", sizes)
	}
	if txs[0].Size == 0 || txs[0].Inputs == 0 || txs[0].Outputs == 0 {
		t.Errorf("transaction not decoded: %+v", txs[0])
	}
	// No hash, no call.
	if txs, err := c.GetTransactions(t.Context(), nil); err != nil || txs == nil || len(txs) != 0 {
		t.Errorf("no hashes: %v, %v", txs, err)
	}
	if len(sizes) != 3 {
		t.Errorf("%d calls in all", len(sizes))
	}
}

// TestGetBlockHeaderByHeight answers with a header recorded from a real
// node (one of get_block_headers_range's, the same object monerod puts in
// get_block_header_by_height's block_header), and checks the height asked.
func TestGetBlockHeaderByHeight(t *testing.T) {
	var recorded struct {
		Result struct {
			Headers []json.RawMessage `json:"headers"`
		} `json:"result"`
	}
	if err := json.Unmarshal(fixtures.Load(t, fixtures.Busy, MethodGetHeadersRange), &recorded); err != nil || len(recorded.Result.Headers) < 10 {
		t.Fatalf("fixture: %v", err)
	}
	header90 := recorded.Result.Headers[8] // heights 82 to 91
	var mu sync.Mutex
	var asked []uint64
	srv := fixtures.NewServer(t, fixtures.Busy, map[string]http.HandlerFunc{
		MethodHeaderByHeight: func(w http.ResponseWriter, r *http.Request) {
			var req struct {
				Params struct {
					Height uint64 `json:"height"`
				} `json:"params"`
			}
			if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
				t.Error(err)
			}
			mu.Lock()
			asked = append(asked, req.Params.Height)
			mu.Unlock()
			if req.Params.Height > 91 {
				// What monerod answers past its tip.
				fmt.Fprintf(w, `{"error":{"code":-2,"message":"Requested block height: %d greater than current top block height: 91"},"id":"0","jsonrpc":"2.0"}`, req.Params.Height)
				return
			}
			// Always the header of height 90, whatever was asked.
			fmt.Fprintf(w, `{"id":"0","jsonrpc":"2.0","result":{"block_header":%s,"credits":0,"status":"OK","top_hash":"","untrusted":false}}`, header90)
		},
	})
	c := newTestClient(t, srv.URL, nil)
	h, err := c.GetBlockHeaderByHeight(t.Context(), 90)
	if err != nil {
		t.Fatal(err)
	}
	var want BlockHeader
	if err := json.Unmarshal(header90, &want); err != nil {
		t.Fatal(err)
	}
	if *h != want || h.Height != 90 || len(h.Hash) != 64 {
		t.Errorf("header %+v, want %+v", h, want)
	}
	// An answer for another height is refused, and so is a height past the
	// node's tip, as a bad response that carries monerod's error.
	if _, err := c.GetBlockHeaderByHeight(t.Context(), 89); !errors.Is(err, ErrBadResponse) || !strings.Contains(err.Error(), "height 90") {
		t.Errorf("asked 89, answered 90: %v", err)
	}
	var rpcErr *RPCError
	if _, err := c.GetBlockHeaderByHeight(t.Context(), 500); !errors.Is(err, ErrBadResponse) || !errors.As(err, &rpcErr) || rpcErr.Code != -2 {
		t.Errorf("past the tip: %v", err)
	}
	if fmt.Sprint(asked) != "[90 89 500]" {
		t.Errorf("asked heights %v", asked)
	}
}
