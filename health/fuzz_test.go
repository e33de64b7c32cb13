package health

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/monero-ops/monero_exporter/snapshot"
)

// countingGetter hands out a fixed snapshot and counts the requests that
// asked for one.
type countingGetter struct {
	snap  *snapshot.Snapshot
	calls atomic.Int64
}

func (g *countingGetter) Get(context.Context) *snapshot.Snapshot {
	g.calls.Add(1)
	return g.snap
}

// fuzzStates are the node states FuzzQuery serves, picked by a byte; the
// bool says whether /health fails (503 unless strict_status_code=1).
var fuzzStates = []struct {
	snap  *snapshot.Snapshot
	fails bool
}{
	{snap(), false},
	{snap(stale), false}, // at its peers' best height: warn
	{snap(stale, peerAhead), true},
	{snap(unreachable), true},
	{snap(restricted), false},
	{nil, true}, // a Getter with nothing to hand out
}

// fuzzKnownPaths are the paths the handler serves, trailing slash aside.
var fuzzKnownPaths = map[string]bool{
	PathRoot: true, PathHealth: true, PathV1: true, PathV1Health: true, PathV1Monerod: true,
	PathV1MonerodHealth: true, PathV1LastBlock: true, PathV1LastBlockHealth: true,
}

// FuzzQuery sends arbitrary requests (method, path, query string) to the
// handler, as net/http's server would hand them over: whatever the request
// line, no panic; the code is one of 200, 400, 404, 405, 503 as the path,
// method and strict_status_code say; the body is JSON of the endpoint's
// content type and the length it announces; a 400 names the parameter; a
// request refused with 400, 404 or 405 asks monerod nothing.
func FuzzQuery(f *testing.F) {
	queries := []string{
		"", "strict_status_code=1", "strict_status_code=0", "strict_status_code=2",
		"strict_status_code", "strict_status_code=", "strict_status_code=1&strict_status_code=1",
		"strict_status_code=%31", "strict%5Fstatus%5Fcode=true", "strict_status_code=1;x=2",
		"strict_status_code=2;x", "%zz", "a=b&strict_status_code=1", "STRICT_STATUS_CODE=yes",
		"strict_status_code=1#frag", "&&=&", "strict_status_code=<script>",
	}
	paths := []string{
		"/health", "/health/", "/api/v1", "/api/v1/", "/api/v1/health", "/api/v1/monerod",
		"/api/v1/monerod/health/", "/api/v1/last_block", "/api/v1/last_block/health",
		"/", "/health//", "/api/v1/nothing", "/api/v1/<script>", "/api/v1/%2e%2e/health",
		"/HEALTH", "/api/v1%2Fhealth", "//health", "/metrics",
	}
	for i, p := range paths {
		for j, q := range queries {
			method := []string{"GET", "HEAD", "POST", "OPTIONS", "get"}[(i+j)%5]
			f.Add(uint8(i+j), method, p, q)
		}
	}
	cfg := testConfig()
	if err := cfg.Validate(); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, state uint8, method, path, query string) {
		// What a client can put on the request line; net/http's server
		// answers anything it cannot parse itself.
		target := path
		if query != "" {
			target += "?" + query
		}
		raw := method + " " + target + " HTTP/1.1\r\nHost: exporter.example\r\n\r\n"
		req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw)))
		if err != nil || !strings.HasPrefix(req.RequestURI, "/") {
			return
		}
		st := fuzzStates[int(state)%len(fuzzStates)]
		g := &countingGetter{snap: st.snap}
		h := NewHandler(g, cfg, time.Second, nil)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)

		desc := req.Method + " " + req.RequestURI
		res := rec.Result()
		body := rec.Body.Bytes()

		// What the request should get.
		p := req.URL.Path
		if trimmed := strings.TrimSuffix(p, "/"); trimmed != "" && trimmed != "/" {
			p = trimmed
		}
		vals, hasStrict := req.URL.Query()[strictParam]
		badStrict := hasStrict && (len(vals) != 1 || vals[0] != "1")
		_, malformed := url.ParseQuery(req.URL.RawQuery)
		var want []int
		switch {
		case !fuzzKnownPaths[p]:
			want = []int{http.StatusNotFound}
		case req.Method == http.MethodOptions:
			// As Flask answered: the methods, no body, monerod not asked.
			if res.StatusCode != http.StatusOK || res.Header.Get("Allow") != "GET, HEAD, OPTIONS" ||
				res.Header.Get("Content-Length") != "0" || len(body) != 0 || g.calls.Load() != 0 {
				t.Fatalf("%s: %d, Allow %q, Content-Length %q, body %q, %d snapshots", desc, res.StatusCode,
					res.Header.Get("Allow"), res.Header.Get("Content-Length"), body, g.calls.Load())
			}
			return
		case req.Method != http.MethodGet && req.Method != http.MethodHead:
			want = []int{http.StatusMethodNotAllowed}
		case p == PathHealth && malformed != nil:
			want = []int{http.StatusBadRequest}
		case p == PathHealth && badStrict:
			want = []int{http.StatusBadRequest}
		case p == PathHealth && st.fails && !hasStrict:
			want = []int{http.StatusServiceUnavailable}
		default:
			want = []int{http.StatusOK}
		}
		ok := false
		for _, c := range want {
			ok = ok || res.StatusCode == c
		}
		if !ok {
			t.Fatalf("%s: code %d, want one of %v; body %s", desc, res.StatusCode, want, body)
		}

		wantType := ContentTypeV1
		if p == PathHealth && (res.StatusCode == http.StatusOK || res.StatusCode == http.StatusServiceUnavailable) {
			wantType = ContentTypeHealth
		}
		if ct := res.Header.Get("Content-Type"); ct != wantType {
			t.Fatalf("%s: Content-Type %q, want %q", desc, ct, wantType)
		}
		n, err := strconv.Atoi(res.Header.Get("Content-Length"))
		if err != nil || n <= 0 {
			t.Fatalf("%s: Content-Length %q", desc, res.Header.Get("Content-Length"))
		}
		if req.Method == http.MethodHead {
			if len(body) != 0 {
				t.Fatalf("%s: body %q for HEAD", desc, body)
			}
		} else {
			if n != len(body) {
				t.Fatalf("%s: Content-Length %d for %d bytes", desc, n, len(body))
			}
			if !json.Valid(body) {
				t.Fatalf("%s: body is not JSON: %q", desc, body)
			}
			// An error body may repeat the path: HTML stays escaped there.
			if res.StatusCode != http.StatusOK && res.StatusCode != http.StatusServiceUnavailable && strings.ContainsAny(string(body), "<>&") {
				t.Fatalf("%s: unescaped HTML in %s", desc, body)
			}
		}

		switch res.StatusCode {
		case http.StatusOK, http.StatusServiceUnavailable:
			if g.calls.Load() != 1 {
				t.Fatalf("%s: %d snapshots asked for, want 1", desc, g.calls.Load())
			}
			return
		case http.StatusMethodNotAllowed:
			if a := res.Header.Get("Allow"); a != "GET, HEAD, OPTIONS" {
				t.Fatalf("%s: Allow %q", desc, a)
			}
		}
		if g.calls.Load() != 0 {
			t.Fatalf("%s: a refused request asked for a snapshot", desc)
		}
		if req.Method == http.MethodHead {
			return
		}
		var e struct {
			Error *struct{ Error, Message string } `json:"error"`
		}
		if err := json.Unmarshal(body, &e); err != nil || e.Error == nil || e.Error.Error != http.StatusText(res.StatusCode) || e.Error.Message == "" {
			t.Fatalf("%s: error body %s, want {\"error\":{\"error\":%q,\"message\":...}}", desc, body, http.StatusText(res.StatusCode))
		}
		if res.StatusCode == http.StatusBadRequest && !strings.Contains(e.Error.Message, strictParam) {
			t.Fatalf("%s: 400 message %q does not name %s", desc, e.Error.Message, strictParam)
		}
	})
}
