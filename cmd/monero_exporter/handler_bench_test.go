package main

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/prometheus/common/promslog"

	"github.com/monero-ops/monero_exporter/internal/fixtures"
)

// BenchmarkMetricsHandler serves /metrics in-process against a fake node
// replaying a busy node's answers: the exporter's own cost per scrape, with
// loopback HTTP to the fake included.
func BenchmarkMetricsHandler(b *testing.B) {
	h := benchHandler(b)
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

// benchHandler is the exporter's handler against memoryNode.
func benchHandler(b *testing.B) http.Handler {
	b.Helper()
	srv := memoryNode(b)
	cfg, err := parseConfig([]string{"--monerod.rpc-url=" + srv.URL}, io.Discard)
	if err != nil {
		b.Fatal(err)
	}
	h, err := newHandler(cfg, promslog.NewNopLogger())
	if err != nil {
		b.Fatal(err)
	}
	return h
}

// memoryNode answers like the busy fixture node from memory, so that the
// benchmark measures the exporter and not the fake's file reads: each
// distinct request is asked of the fixture server once, then answered from
// memory.
func memoryNode(b *testing.B) *httptest.Server {
	fixture := fixtures.NewServer(b, fixtures.Busy, nil)
	var mu sync.Mutex
	answers := map[string][]byte{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		key := r.URL.Path + " " + string(body)
		mu.Lock()
		answer, ok := answers[key]
		mu.Unlock()
		if !ok {
			resp, err := http.Post(fixture.URL+r.URL.Path, "application/json", bytes.NewReader(body))
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadGateway)
				return
			}
			answer, _ = io.ReadAll(resp.Body)
			resp.Body.Close()
			mu.Lock()
			answers[key] = answer
			mu.Unlock()
		}
		_, _ = w.Write(answer)
	}))
	b.Cleanup(srv.Close)
	return srv
}

// BenchmarkMetricsHandlerParallel is BenchmarkMetricsHandler under load: 50
// requests at once per core, sharing snapshots as concurrent scrapes do. Its
// figures per request are what the load part of make bench pays.
func BenchmarkMetricsHandlerParallel(b *testing.B) {
	h := benchHandler(b)
	b.ReportAllocs()
	b.SetParallelism(25)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			w := httptest.NewRecorder()
			req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
			h.ServeHTTP(w, req)
			if w.Code != http.StatusOK {
				b.Error(w.Code)
				return
			}
		}
	})
}
