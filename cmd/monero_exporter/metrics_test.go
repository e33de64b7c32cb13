package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/monero-ops/monero_exporter/internal/fixtures"
	"github.com/monero-ops/monero_exporter/internal/testenv"
	"github.com/monero-ops/monero_exporter/monerod"
)

func fixtureExporter(t *testing.T, overrides map[string]http.HandlerFunc, args ...string) (*fixtures.Server, string) {
	t.Helper()
	srv := fixtures.NewServer(t, fixtures.Busy, overrides)
	url := startExporter(t, append([]string{"--monerod.rpc-url=" + srv.URL}, args...)...).URL
	return srv, url
}

func get(t *testing.T, url string, header map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	// A transport that leaves Accept-Encoding and decompression to us.
	return testenv.Fetch(t, &http.Client{Transport: &http.Transport{DisableCompression: true}}, req)
}

// promhttp negotiates the compression: gzip or zstd as the scraper prefers,
// none when it accepts neither or --web.compression is not given.
func TestMetricsCompressionNegotiated(t *testing.T) {
	_, url := fixtureExporter(t, nil, "--web.compression")
	decode := map[string]func([]byte) ([]byte, error){
		"gzip": func(b []byte) ([]byte, error) {
			zr, err := gzip.NewReader(bytes.NewReader(b))
			if err != nil {
				return nil, err
			}
			return io.ReadAll(zr)
		},
		"zstd": func(b []byte) ([]byte, error) {
			zr, err := zstd.NewReader(bytes.NewReader(b))
			if err != nil {
				return nil, err
			}
			defer zr.Close()
			return io.ReadAll(zr)
		},
		"": func(b []byte) ([]byte, error) { return b, nil },
	}
	for ae, want := range map[string]string{
		"gzip":                 "gzip",
		"deflate, gzip;q=0.8":  "gzip",
		"zstd":                 "zstd",
		"gzip;q=0.5, zstd;q=1": "zstd",
		"identity":             "",
		"deflate":              "",
		"":                     "",
	} {
		resp, body := get(t, url+"/metrics", map[string]string{"Accept-Encoding": ae})
		got := resp.Header.Get("Content-Encoding")
		if got != want {
			t.Errorf("Accept-Encoding %q: Content-Encoding %q, want %q", ae, got, want)
			continue
		}
		text, err := decode[got](body)
		if err != nil || !bytes.Contains(text, []byte("monero_up 1")) {
			t.Errorf("Accept-Encoding %q: body does not decode to a scrape: %v", ae, err)
		}
	}

	_, plain := fixtureExporter(t, nil)
	for _, ae := range []string{"gzip", "zstd"} {
		resp, body := get(t, plain+"/metrics", map[string]string{"Accept-Encoding": ae})
		if resp.Header.Get("Content-Encoding") != "" || !bytes.Contains(body, []byte("monero_up 1")) {
			t.Errorf("without --web.compression, Accept-Encoding %s: compressed (%q)", ae, resp.Header.Get("Content-Encoding"))
		}
	}
}

// Prometheus asks for OpenMetrics first; it gets it, with the # EOF that
// tells it the answer is whole.
func TestMetricsOpenMetricsNegotiated(t *testing.T) {
	_, url := fixtureExporter(t, nil)
	resp, body := get(t, url+"/metrics", map[string]string{
		"Accept": "application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.3,*/*;q=0.1",
	})
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/openmetrics-text") {
		t.Fatalf("content type %q", ct)
	}
	if !bytes.HasSuffix(body, []byte("# EOF\n")) || !regexp.MustCompile(`(?m)^monero_up 1(\.0)?$`).Match(body) {
		t.Fatalf("not a whole OpenMetrics answer:\n%s", body)
	}
	if resp, _ := get(t, url+"/metrics", nil); !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Errorf("no Accept: content type %q, want the text format", resp.Header.Get("Content-Type"))
	}
}

func TestMetricsProtobufNegotiated(t *testing.T) {
	_, url := fixtureExporter(t, nil)
	resp, body := get(t, url+"/metrics", map[string]string{
		"Accept": "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.7,text/plain;version=0.0.4;q=0.3",
	})
	format := expfmt.ResponseFormat(resp.Header)
	if format.FormatType() != expfmt.TypeProtoDelim {
		t.Fatalf("content type %q", resp.Header.Get("Content-Type"))
	}
	dec := expfmt.NewDecoder(bytes.NewReader(body), format)
	seen := map[string]bool{}
	for {
		var mf dto.MetricFamily
		if err := dec.Decode(&mf); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			t.Fatal(err)
		}
		if seen[mf.GetName()] {
			t.Fatalf("family %s twice", mf.GetName())
		}
		seen[mf.GetName()] = true
	}
	for _, name := range []string{"monero_up", "monero_height", "go_goroutines", "process_resident_memory_bytes", "monero_exporter_rpc_requests_total"} {
		if !seen[name] {
			t.Errorf("%s missing from the protobuf answer", name)
		}
	}
}

// Concurrent scrapes share one snapshot; each still gets a whole, valid
// answer.
func TestConcurrentScrapesShareSnapshot(t *testing.T) {
	info := fixtures.Load(t, fixtures.Busy, "get_info")
	srv, url := fixtureExporter(t, map[string]http.HandlerFunc{
		"get_info": func(w http.ResponseWriter, _ *http.Request) {
			time.Sleep(200 * time.Millisecond) // keep the fetch in flight while the others join
			_, _ = w.Write(info)
		},
	})
	const n = 20
	bodies := make([][]byte, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { _, bodies[i] = get(t, url+"/metrics", nil) })
	}
	wg.Wait()
	if got := srv.Calls("get_info"); got > 2 {
		t.Errorf("%d concurrent scrapes made %d get_info calls", n, got)
	}
	callDurations := map[string]bool{} // one per snapshot the scrapes got
	for i, b := range bodies {
		mfs, err := testenv.ParseExposition(string(b))
		if err != nil {
			t.Fatalf("scrape %d: %v", i, err)
		}
		if mfs["monero_up"].GetMetric()[0].GetGauge().GetValue() != 1 {
			t.Fatalf("scrape %d: not up", i)
		}
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, "monero_rpc_call_duration_seconds{method=\"get_info\"}") {
				callDurations[line] = true
			}
		}
	}
	if len(callDurations) > srv.Calls("get_info") {
		t.Errorf("the scrapes show %d snapshots, more than the %d get_info calls made", len(callDurations), srv.Calls("get_info"))
	}
}

// Paths the exporter does not serve are 404s, also under /api/v1 (with a
// JSON error there), and / is the old service's JSON, or a page for a
// browser.
func TestUnknownPathsAre404(t *testing.T) {
	_, url := fixtureExporter(t, nil)
	for path, wantType := range map[string]string{
		"/nope":             "",
		"/metrics/extra":    "",
		"/api/v1/nope":      "application/json",
		"/api/v1/monerod/x": "application/json",
	} {
		resp, body := get(t, url+path, nil)
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s: %d, want 404", path, resp.StatusCode)
		}
		if wantType != "" && !strings.HasPrefix(resp.Header.Get("Content-Type"), wantType) {
			t.Errorf("%s: content type %q, body %s", path, resp.Header.Get("Content-Type"), body)
		}
	}
	if resp, body := get(t, url+"/", nil); resp.StatusCode != http.StatusOK || !bytes.HasPrefix(body, []byte(`{"result":{"health":`)) {
		t.Errorf("/ without Accept: %d %s", resp.StatusCode, body)
	}
	if resp, body := get(t, url+"/", map[string]string{"Accept": "text/html"}); resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte(`href="/metrics"`)) {
		t.Errorf("/ for a browser: %d %s", resp.StatusCode, body)
	}
}

// A stale tip at the peers' best height is a warning on /health and in
// monero_health_status alike (HTTP 200, status="warn"); with a peer ahead,
// an error in both (503). The recorded busy node is at height 92, and its
// one peer told height 1 at its last timed sync.
func TestStaleTipHealthAgreesWithMetrics(t *testing.T) {
	var conns map[string]any
	if err := json.Unmarshal(fixtures.Load(t, fixtures.Busy, monerod.MethodGetConnections), &conns); err != nil {
		t.Fatal(err)
	}
	result, _ := conns["result"].(map[string]any)
	list, _ := result["connections"].([]any)
	if len(list) != 1 {
		t.Fatalf("fixture busy has %d peers, want 1", len(list))
	}
	list[0].(map[string]any)["height"] = 93
	peerAhead, err := json.Marshal(conns)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		overrides map[string]http.HandlerFunc
		code      int
		probe     string // /health's status
		metric    string // monero_health_status's
	}{
		{"at the peers' best height", nil, http.StatusOK, "warn", "warn"},
		{"a peer ahead", map[string]http.HandlerFunc{monerod.MethodGetConnections: func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(peerAhead)
		}}, http.StatusServiceUnavailable, "fail", "error"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The recorded tip is older than a second, whenever this runs.
			_, url := fixtureExporter(t, tc.overrides, "--health.checks=last_block", "--health.last-block-max-age=1s")
			resp, body := get(t, url+"/health", nil)
			var probe struct {
				Status string `json:"status"`
			}
			if err := json.Unmarshal(body, &probe); err != nil || resp.StatusCode != tc.code || probe.Status != tc.probe {
				t.Errorf("/health: %d %s, want %d %s", resp.StatusCode, body, tc.code, tc.probe)
			}
			_, mfs := scrape(t, url, nil)
			for _, check := range []string{"last_block", "overall"} {
				if got := testenv.MustValue(t, mfs, "monero_health_status", "check", check, "status", tc.metric); got != 1 {
					t.Errorf("monero_health_status{check=%q,status=%q} = %g, want 1", check, tc.metric, got)
				}
			}
		})
	}
}
