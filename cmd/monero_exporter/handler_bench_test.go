package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/common/promslog"

	"github.com/monero-ops/monero_exporter/internal/fixtures"
)

// BenchmarkMetricsHandler serves /metrics in-process against a fake node
// replaying a busy node's answers: the exporter's own cost per scrape, with
// loopback HTTP to the fake included.
func BenchmarkMetricsHandler(b *testing.B) {
	srv := memoryNode(b)
	cfg, err := parseConfig([]string{"--monerod.rpc-url=" + srv.URL}, io.Discard)
	if err != nil {
		b.Fatal(err)
	}
	h, err := newHandler(cfg, promslog.NewNopLogger())
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
		req.Header.Set("Accept-Encoding", "gzip")
		h.ServeHTTP(w, req)
		if w.Code != 200 {
			b.Fatal(w.Code)
		}
	}
}

// memoryNode answers like the busy fixture node from memory, so that the
// benchmark measures the exporter and not the fake's file reads.
func memoryNode(b *testing.B) *httptest.Server {
	answers := map[string][]byte{}
	for _, name := range []string{
		"get_info", "get_last_block_header", "hard_fork_info", "get_connections", "get_bans",
		"get_fee_estimate", "get_block", "rpc_access_tracking", "/get_transaction_pool_stats", "/get_transaction_pool",
		"/get_transactions", "/get_net_stats", "/mining_status", "/get_peer_list",
	} {
		answers[name] = fixtures.Load(b, fixtures.Busy, name)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := r.URL.Path
		if key == "/json_rpc" {
			var req struct{ Method string }
			_ = json.NewDecoder(r.Body).Decode(&req)
			key = req.Method
		}
		_, _ = w.Write(answers[key])
	}))
	b.Cleanup(srv.Close)
	return srv
}
