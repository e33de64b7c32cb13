package collector

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/monero-ops/monero_exporter/internal/monerodtest"
	"github.com/monero-ops/monero_exporter/internal/testenv"
)

// TestIntegrationBreadthMatchesNode fills a real regtest node's pool with
// wallet transfers, mines some into a block, and checks each collector's
// values against what monerod answers directly.
func TestIntegrationCollectorsMatchNode(t *testing.T) {
	monerodtest.Require(t)
	monerodtest.RequireWallet(t)
	node := monerodtest.Start(t, monerodtest.Options{})
	wallet := monerodtest.StartWallet(t, node)
	wallet.Fund(t, node, 20)
	c := newCollector(t, node.URL(), Names()...)
	testenv.Gather(t, c) // the exporter starts: what came before is not counted
	for i := range 3 {
		wallet.Transfer(t, monerodtest.DonationAddress, uint64(i+1)*1e12)
	}
	node.Mine(t, 1) // the tip now holds these transfers
	for i := range 2 {
		wallet.Refresh(t)
		wallet.Transfer(t, monerodtest.DonationAddress, uint64(i+1)*1e11)
	}
	mfs := testenv.Gather(t, c)
	n := 0
	for name := range mfs {
		if strings.HasPrefix(name, "monero_") {
			n++
		}
	}
	t.Logf("%d monero_ families from an unrestricted regtest node with a busy pool", n)
	if n < 60 {
		t.Errorf("only %d monero_ families", n)
	}

	var stats struct {
		PoolStats struct {
			BytesTotal float64 `json:"bytes_total"`
			FeeTotal   float64 `json:"fee_total"`
			TxsTotal   uint64  `json:"txs_total"`
		} `json:"pool_stats"`
	}
	node.Post(t, "/get_transaction_pool_stats", nil, &stats)
	// Which transfers a mined block takes is monerod's choice: compare with
	// what it says, and only require that both pool and tip hold some.
	if stats.PoolStats.TxsTotal == 0 {
		t.Fatal("the pool is empty after the transfers")
	}
	if got := testenv.MustSeries(t, mfs, "monero_tx_pool_size_bytes").GetGauge().GetValue(); got != stats.PoolStats.BytesTotal {
		t.Errorf("pool bytes %g, monerod says %g", got, stats.PoolStats.BytesTotal)
	}
	if got := testenv.MustSeries(t, mfs, "monero_tx_pool_fees_xmr").GetGauge().GetValue(); !near(got, stats.PoolStats.FeeTotal/1e12) {
		t.Errorf("pool fees %g, monerod says %g", got, stats.PoolStats.FeeTotal/1e12)
	}
	var inBands float64
	for _, m := range mfs["monero_tx_pool_fee_band_transactions"].GetMetric() {
		inBands += m.GetGauge().GetValue()
	}
	if inBands != float64(stats.PoolStats.TxsTotal) {
		t.Errorf("fee bands hold %g transactions, pool has %d", inBands, stats.PoolStats.TxsTotal)
	}

	var hdr struct {
		BlockHeader struct {
			Hash        string  `json:"hash"`
			NumTxes     uint64  `json:"num_txes"`
			Reward      float64 `json:"reward"`
			BlockWeight float64 `json:"block_weight"`
		} `json:"block_header"`
	}
	node.RPC(t, "get_last_block_header", nil, &hdr)
	var block struct {
		TxHashes []string `json:"tx_hashes"`
	}
	node.RPC(t, "get_block", map[string]string{"hash": hdr.BlockHeader.Hash}, &block)
	var txs struct {
		Txs []struct {
			AsJSON string `json:"as_json"`
		} `json:"txs"`
	}
	node.Post(t, "/get_transactions", map[string]any{"txs_hashes": block.TxHashes, "decode_as_json": true}, &txs)
	var fees float64
	for _, tx := range txs.Txs {
		var j struct {
			RCT struct {
				Fee float64 `json:"txnFee"`
			} `json:"rct_signatures"`
		}
		if err := json.Unmarshal([]byte(tx.AsJSON), &j); err != nil {
			t.Fatal(err)
		}
		fees += j.RCT.Fee
	}
	if hdr.BlockHeader.NumTxes == 0 || len(txs.Txs) != int(hdr.BlockHeader.NumTxes) {
		t.Fatalf("tip holds %d transactions (%d fetched), want some", hdr.BlockHeader.NumTxes, len(txs.Txs))
	}
	if got := testenv.MustSeries(t, mfs, "monero_last_block_fees_xmr").GetGauge().GetValue(); !near(got, fees/1e12) || fees == 0 {
		t.Errorf("last block fees %g, monerod says %g", got, fees/1e12)
	}
	if got := testenv.MustSeries(t, mfs, "monero_last_block_subsidy_xmr").GetGauge().GetValue(); !near(got, (hdr.BlockHeader.Reward-fees)/1e12) {
		t.Errorf("subsidy %g, want %g", got, (hdr.BlockHeader.Reward-fees)/1e12)
	}
	// The one block mined since the exporter started, and its
	// transactions, observed once.
	if n, sum := hist(t, mfs, "monero_block_weight_bytes"); n != 1 || sum != hdr.BlockHeader.BlockWeight {
		t.Errorf("block weight histogram: %d blocks weighing %g, want the tip's %g", n, sum, hdr.BlockHeader.BlockWeight)
	}
	if n, _ := hist(t, mfs, "monero_block_interval_seconds"); n != 1 {
		t.Errorf("block interval histogram counts %d blocks, want 1", n)
	}
	if n, _ := hist(t, mfs, "monero_block_transaction_inputs"); n != hdr.BlockHeader.NumTxes {
		t.Errorf("inputs histogram counts %d transactions, the tip holds %d", n, hdr.BlockHeader.NumTxes)
	}

	var fee struct {
		Fees []float64 `json:"fees"`
	}
	node.RPC(t, "get_fee_estimate", nil, &fee)
	if got := testenv.MustSeries(t, mfs, "monero_fee_per_byte_xmr", "priority", "normal").GetGauge().GetValue(); !near(got, fee.Fees[1]/1e12) {
		t.Errorf("normal fee %g, monerod says %g", got, fee.Fees[1]/1e12)
	}
	var mining struct {
		Active  bool    `json:"active"`
		Threads float64 `json:"threads_count"`
	}
	node.Post(t, "/mining_status", nil, &mining)
	if got := testenv.MustSeries(t, mfs, "monero_mining_threads").GetGauge().GetValue(); got != mining.Threads {
		t.Errorf("mining threads %g, monerod says %g", got, mining.Threads)
	}
	// An offline node: no peers, no bans, no traffic.
	if got := testenv.MustSeries(t, mfs, "monero_connections", "direction", "outgoing", "state", "normal").GetGauge().GetValue(); got != 0 {
		t.Errorf("an offline node has %g outgoing connections", got)
	}
	if got := testenv.MustSeries(t, mfs, "monero_bans").GetGauge().GetValue(); got != 0 {
		t.Errorf("bans %g", got)
	}
	var access struct {
		Data []struct {
			RPC   string  `json:"rpc"`
			Count float64 `json:"count"`
		} `json:"data"`
	}
	node.RPC(t, "rpc_access_tracking", nil, &access)
	for _, d := range access.Data {
		if d.RPC == "get_fee_estimate" {
			// Our scrape asked once, the test once more since.
			if got := testenv.MustSeries(t, mfs, "monero_rpc_access_requests_total", "method", d.RPC).GetCounter().GetValue(); got != d.Count-1 {
				t.Errorf("rpc_access{get_fee_estimate} %g, monerod now says %g", got, d.Count)
			}
		}
	}
	for _, p := range Names() {
		if testenv.MustSeries(t, mfs, "monero_scrape_collector_success", "collector", p).GetGauge().GetValue() != 1 {
			t.Errorf("collector %s failed on an unrestricted node", p)
		}
	}

	node.Mine(t, 3) // several blocks between two scrapes: read as a range
	mfs = testenv.Gather(t, c)
	if testenv.MustSeries(t, mfs, "monero_rpc_call_success", "method", "get_block_headers_range").GetGauge().GetValue() != 1 {
		t.Error("get_block_headers_range failed or was not asked for 3 blocks")
	}
	testenv.Gather(t, c)
	if n, _ := hist(t, testenv.Gather(t, c), "monero_block_weight_bytes"); n != 4 {
		t.Errorf("block weight histogram counts %d blocks after 3 more, want 4", n)
	}
}

func TestIntegrationRestrictedSkipsRefusedCollectors(t *testing.T) {
	monerodtest.Require(t)
	t.Parallel()
	node := monerodtest.Start(t, monerodtest.Options{Restricted: true})
	c := newCollector(t, node.URL(), Names()...)
	for range 2 {
		mfs := testenv.Gather(t, c)
		if testenv.MustSeries(t, mfs, "monero_up").GetGauge().GetValue() != 1 {
			t.Fatal("restricted node reported down")
		}
		for _, p := range Names() {
			skipped := testenv.MustSeries(t, mfs, "monero_scrape_collector_skipped", "collector", p).GetGauge().GetValue()
			ok := testenv.MustSeries(t, mfs, "monero_scrape_collector_success", "collector", p).GetGauge().GetValue()
			wantSkipped := map[string]bool{"connections": true, "net": true, "peerlist": true, "bans": true, "rpc_access": true, "mining": true}[p]
			if ok != 1 || (skipped == 1) != wantSkipped {
				t.Errorf("%s on a restricted node: success %g skipped %g", p, ok, skipped)
			}
		}
	}
}
