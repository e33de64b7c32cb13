package main

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/monero-ops/monero_exporter/internal/fixtures"
	"github.com/monero-ops/monero_exporter/snapshot"
)

func fixtureExporter(t *testing.T, overrides map[string]http.HandlerFunc, args ...string) (*fixtures.Server, string) {
	t.Helper()
	srv := fixtures.NewServer(t, fixtures.Busy, overrides)
	url, _ := startExporter(t, append([]string{"--monerod.rpc-url=" + srv.URL}, args...)...)
	return srv, url
}

// response is what get keeps of an answer whose body it read and closed.
type response struct {
	StatusCode int
	Header     http.Header
}

func get(t *testing.T, url string, header map[string]string) (*response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	// A transport that leaves Accept-Encoding and decompression to us.
	resp, err := (&http.Transport{DisableCompression: true}).RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return &response{StatusCode: resp.StatusCode, Header: resp.Header}, b
}

func TestMetricsCompressionOnlyWhenEnabledAndAccepted(t *testing.T) {
	_, plain := fixtureExporter(t, nil)
	resp, body := get(t, plain+"/metrics", map[string]string{"Accept-Encoding": "gzip"})
	if resp.Header.Get("Content-Encoding") != "" || !bytes.Contains(body, []byte("monero_up 1")) {
		t.Fatalf("compressed without --web.compression: %q", resp.Header.Get("Content-Encoding"))
	}

	_, gz := fixtureExporter(t, nil, "--web.compression")
	resp, body = get(t, gz+"/metrics", map[string]string{"Accept-Encoding": "deflate, gzip;q=0.8"})
	if resp.Header.Get("Content-Encoding") != "gzip" {
		t.Fatal("not compressed although enabled and accepted")
	}
	zr, err := gzip.NewReader(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	text, err := io.ReadAll(zr)
	if err != nil || !bytes.Contains(text, []byte("monero_up 1")) {
		t.Fatalf("gzip body: %v", err)
	}
	for _, ae := range []string{"gzip;q=0", "identity", ""} {
		if resp, _ := get(t, gz+"/metrics", map[string]string{"Accept-Encoding": ae}); resp.Header.Get("Content-Encoding") != "" {
			t.Errorf("Accept-Encoding %q got gzip", ae)
		}
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
// answer. (That a shared snapshot is encoded once: TestSnapshotBodies.)
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
		p := expfmt.NewTextParser(model.UTF8Validation)
		mfs, err := p.TextToMetricFamilies(bytes.NewReader(b))
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

func TestSnapshotBodies(t *testing.T) {
	var bodies snapshotBodies
	var encodings atomic.Int64
	encode := func(s string) func() ([]byte, error) {
		return func() ([]byte, error) {
			encodings.Add(1)
			time.Sleep(10 * time.Millisecond) // let the others arrive meanwhile
			return []byte(s), nil
		}
	}
	text, proto := expfmt.NewFormat(expfmt.TypeTextPlain), expfmt.NewFormat(expfmt.TypeProtoDelim)
	a, b := &snapshot.Snapshot{}, &snapshot.Snapshot{}
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			if got, _ := bodies.get(a, text, encode("a")); string(got) != "a" {
				t.Errorf("got %q", got)
			}
		})
	}
	wg.Wait()
	if n := encodings.Load(); n != 1 {
		t.Fatalf("10 requests sharing a snapshot encoded it %d times", n)
	}
	if got, _ := bodies.get(a, proto, encode("a-proto")); string(got) != "a-proto" || encodings.Load() != 2 {
		t.Fatalf("another format: %q, %d encodings", got, encodings.Load())
	}
	if got, _ := bodies.get(b, text, encode("b")); string(got) != "b" || encodings.Load() != 3 {
		t.Fatalf("a new snapshot: %q, %d encodings", got, encodings.Load())
	}
}

func TestAcceptsGzip(t *testing.T) {
	for header, want := range map[string]bool{
		"gzip": true, "GZIP": true, "br, gzip": true, "gzip;q=0.5": true, "deflate, gzip ; q=1": true,
		"": false, "identity": false, "gzip;q=0": false, "gzip; q=0.000": false, "gzip;q=abc": false, "x-gzip": false,
	} {
		if got := acceptsGzip(header); got != want {
			t.Errorf("acceptsGzip(%q) = %t, want %t", header, got, want)
		}
	}
}
