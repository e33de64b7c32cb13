package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/monero-ops/monero_exporter/internal/fixtures"
	"github.com/monero-ops/monero_exporter/internal/testenv"
)

// The exporter often sits on a network anything can reach. While it is
// abused at once by 2,000 idle connections, 200 clients trickling their
// headers a byte a second, a 1 MiB header and 200 clients flooding
// /health, a Prometheus-style scrape still gets a whole answer within its
// timeout, the exporter stays under 64 MiB resident, monerod sees no more
// calls than the shared snapshots need, and once the abuse stops the
// exporter's goroutines and file descriptors return to where they were.
func TestServerHoldsUnderAbuse(t *testing.T) {
	node := fixtures.NewServer(t, fixtures.Busy, nil)
	proc, addr := testenv.StartServer(t, 10*time.Second, testenv.ExporterBinary(t), func(addr string) []string {
		return []string{"--monerod.rpc-url=" + node.URL, "--web.listen-address=" + addr, "--log.level=warn"}
	}, func(addr string) error { return testenv.HTTPOK("http://" + addr + "/-/healthy") })
	pid := proc.PID()
	base := "http://" + addr

	scrape := func() error {
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/metrics", nil)
		req.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", "5")
		resp, err := (&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}).Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("status %s", resp.Status)
		}
		if !strings.Contains(string(body), "\nmonero_up 1\n") || !strings.Contains(string(body), "\nprocess_resident_memory_bytes ") {
			return fmt.Errorf("incomplete answer of %d bytes", len(body))
		}
		return nil
	}
	for range 3 {
		if err := scrape(); err != nil {
			t.Fatal(err)
		}
	}
	baseGoroutines, baseFDs := goroutinesOf(t, base), fdsOf(t, pid)

	ctx, stop := context.WithTimeout(t.Context(), 10*time.Second)
	defer stop()
	var wg sync.WaitGroup
	var conns []net.Conn
	var connsMu sync.Mutex
	hold := func(c net.Conn) {
		connsMu.Lock()
		conns = append(conns, c)
		connsMu.Unlock()
	}
	// 2,000 connections that never send anything.
	wg.Go(func() {
		for range 2000 {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Errorf("idle connection: %v", err)
				return
			}
			hold(c)
		}
	})
	// 200 clients sending a request's headers one byte a second.
	for range 200 {
		wg.Go(func() {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Errorf("slow client: %v", err)
				return
			}
			hold(c)
			msg := "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: " + strings.Repeat("a", 100)
			for i := 0; ctx.Err() == nil && i < len(msg); i++ {
				if _, err := c.Write([]byte{msg[i]}); err != nil {
					return // closed by the server: what it should do
				}
				select {
				case <-ctx.Done():
				case <-time.After(time.Second):
				}
			}
		})
	}
	// A 1 MiB header.
	wg.Go(func() {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/metrics", nil)
		req.Header.Set("X-Big", strings.Repeat("b", 1<<20))
		resp, err := (&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}).Do(req)
		if err != nil {
			t.Errorf("1 MiB header: %v", err)
			return
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
			t.Errorf("1 MiB header: %s, want 431", resp.Status)
		}
	})
	// 200 clients asking /health as fast as they can.
	var healthServed atomic.Int64
	flood := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 200}}
	for range 200 {
		wg.Go(func() {
			for ctx.Err() == nil {
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/health", nil)
				resp, err := flood.Do(req)
				if err != nil {
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				healthServed.Add(1)
			}
		})
	}

	// Meanwhile: Prometheus scrapes every second, and the memory is watched.
	var maxRSS float64
	scrapes := 0
	for ctx.Err() == nil {
		start := time.Now()
		if err := scrape(); err != nil && ctx.Err() == nil {
			t.Errorf("scrape under abuse after %s: %v", time.Since(start).Round(time.Millisecond), err)
		}
		scrapes++
		maxRSS = max(maxRSS, testenv.RSS(t, pid))
		select {
		case <-ctx.Done():
		case <-time.After(time.Second - min(time.Since(start), time.Second)):
		}
	}
	maxRSS = max(maxRSS, testenv.RSS(t, pid))
	wg.Wait()
	flood.CloseIdleConnections()
	connsMu.Lock()
	for _, c := range conns {
		c.Close()
	}
	connsMu.Unlock()

	t.Logf("%d scrapes, %d /health answers, peak RSS %.1f MiB; monerod get_info calls %d",
		scrapes, healthServed.Load(), maxRSS, node.Calls("get_info"))
	if maxRSS >= 64 {
		t.Errorf("resident memory reached %.1f MiB under abuse, want under 64 MiB", maxRSS)
	}
	requests := float64(healthServed.Load() + int64(scrapes))
	if calls := float64(node.Calls("get_info")); calls > 0.25*requests {
		t.Errorf("monerod answered %.0f get_info calls for %.0f requests: the snapshots were not shared", calls, requests)
	}

	// Once the abuse stops, the exporter lets go of it all.
	deadline := time.Now().Add(20 * time.Second)
	for {
		g, fds := goroutinesOf(t, base), fdsOf(t, pid)
		if g <= baseGoroutines+5 && fds <= baseFDs+5 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the abuse: %d goroutines (baseline %d), %d file descriptors (baseline %d)", g, baseGoroutines, fds, baseFDs)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// goroutinesOf reads go_goroutines from the exporter.
func goroutinesOf(t *testing.T, base string) int {
	t.Helper()
	return int(testenv.MustValue(t, testenv.Scrape(t, base+"/metrics"), "go_goroutines"))
}

// fdsOf counts a process's open file descriptors.
func fdsOf(t *testing.T, pid int) int {
	t.Helper()
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}
