package main

import (
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/monero-ops/monero_exporter/internal/fixtures"
	"github.com/monero-ops/monero_exporter/internal/testenv"
)

// A collector that fails says why at warn once when it starts failing and
// once when it works again, not at every scrape; its
// monero_scrape_collector_success says so meanwhile.
func TestFailingCollectorLoggedOnce(t *testing.T) {
	var failing atomic.Bool
	stats := fixtures.Load(t, fixtures.Busy, "/get_transaction_pool_stats")
	srv := fixtures.NewServer(t, fixtures.Busy, map[string]http.HandlerFunc{
		"/get_transaction_pool_stats": func(w http.ResponseWriter, _ *http.Request) {
			if failing.Load() {
				http.Error(w, "overloaded", http.StatusInternalServerError)
				return
			}
			_, _ = w.Write(stats)
		},
	})
	exp := startExporter(t, "--monerod.rpc-url="+srv.URL)
	lines := func(msg string) []string {
		var out []string
		for _, l := range strings.Split(exp.Logs.String(), "\n") {
			if strings.Contains(l, "level=WARN") && strings.Contains(l, `msg="`+msg+`"`) {
				out = append(out, l)
			}
		}
		return out
	}
	success := func() float64 {
		_, mfs := scrape(t, exp.URL, nil)
		return testenv.MustValue(t, mfs, "monero_scrape_collector_success", "collector", "txpool")
	}

	if success() != 1 {
		t.Fatal("txpool fails on a healthy node")
	}
	failing.Store(true)
	for range 3 {
		if success() != 0 {
			t.Fatal("the failure is not in monero_scrape_collector_success")
		}
	}
	failed := lines("collector failing")
	if len(failed) != 1 || !strings.Contains(failed[0], "collector=txpool") || !strings.Contains(failed[0], "HTTP 500") {
		t.Errorf("three failing scrapes logged %q, want one warning that says why", failed)
	}
	failing.Store(false)
	for range 3 {
		if success() != 1 {
			t.Fatal("txpool does not recover")
		}
	}
	if again := lines("collector works again"); len(again) != 1 || !strings.Contains(again[0], "collector=txpool") {
		t.Errorf("the recovery logged %q, want one warning", again)
	}
	if n := len(lines("collector failing")); n != 1 {
		t.Errorf("%d failure warnings in all", n)
	}
}
