package monerod

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestParseAddress(t *testing.T) {
	tests := []struct {
		in, want string
		port     int
		wantErr  string
	}{
		{in: "127.0.0.1", port: 18081, want: "http://127.0.0.1:18081"},
		{in: " node.example ", port: 18089, want: "http://node.example:18089"},
		{in: "127.0.0.1:28081", port: 18081, want: "http://127.0.0.1:28081"},
		{in: "[::1]:28081", port: 18081, want: "http://[::1]:28081"},
		{in: "::1", port: 18081, want: "http://[::1]:18081"},
		{in: "[::1]", port: 18081, want: "http://[::1]:18081"},
		{in: "http://127.0.0.1", port: 18081, want: "http://127.0.0.1:18081"},
		{in: "https://node.example", port: 443, want: "https://node.example:443"},
		{in: "https://node.example:8443/monerod/", port: 18081, want: "https://node.example:8443/monerod"},
		{in: "", port: 18081, wantErr: "empty"},
		{in: "127.0.0.1:0", port: 18081, wantErr: "1-65535"},
		{in: "127.0.0.1:99999", port: 18081, wantErr: "1-65535"},
		{in: "127.0.0.1:http", port: 18081, wantErr: "1-65535"},
		{in: "127.0.0.1", port: 0, wantErr: "out of range"},
		{in: "ftp://node", port: 18081, wantErr: "scheme"},
		{in: "http://", port: 18081, wantErr: "no host"},
		{in: "http://node/?a=b", port: 18081, wantErr: "query"},
		{in: "node/path", port: 18081, wantErr: "neither"},
		{in: "a b", port: 18081, wantErr: "neither"},
		{in: "a:b:c", port: 18081, wantErr: "cannot split"},
		{in: "http://user:hunter2@node", port: 18081, wantErr: "must not carry credentials"},
		{in: "user:hunter2@node", port: 18081, wantErr: "must not carry credentials"},
		{in: "alice:hunter2@node:18081://", port: 18081, wantErr: "must not carry credentials"},
		{in: "http://node.example:18081//", port: 18081, want: "http://node.example:18081"},
		{in: "a\nb:80", port: 18081, wantErr: "malformed"},
		{in: "[a]b]", port: 18081, wantErr: "not an IPv6"},
		{in: "[::1%]", port: 18081, wantErr: "IPv6"},
		{in: "[node]", port: 18081, wantErr: "not an IPv6"},
		{in: "node:+18081", port: 18081, wantErr: "1-65535"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			u, err := ParseAddress(tt.in, tt.port)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseAddress(%q) error = %v, want one containing %q", tt.in, err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "hunter2") {
					t.Fatalf("error repeats the password: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseAddress(%q): %v", tt.in, err)
			}
			if u.String() != tt.want {
				t.Fatalf("ParseAddress(%q) = %q, want %q", tt.in, u, tt.want)
			}
		})
	}
}

// The example of RFC 2617 section 3.5, with the POST method we use swapped
// for its GET.
func TestDigestAuthorizeRFC2617(t *testing.T) {
	h := http.Header{}
	h.Add("Www-Authenticate", `Digest realm="testrealm@host.com", qop="auth,auth-int", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41"`)
	d := parseDigestChallenge(h)
	if d == nil {
		t.Fatal("challenge not parsed")
	}
	got := d.authorizeWith("Mufasa", "Circle Of Life", "GET", "/dir/index.html", "0a4f113b")
	for _, want := range []string{`response="6629fae49393a05397450978507c4ef1"`, `nc=00000001`, `opaque="5ccc069c403ebaf9f0171e9517f40e41"`, `username="Mufasa"`} {
		if !strings.Contains(got, want) {
			t.Errorf("Authorization %q lacks %s", got, want)
		}
	}
	if second := d.authorizeWith("Mufasa", "Circle Of Life", "GET", "/dir/index.html", "0a4f113b"); !strings.Contains(second, "nc=00000002") {
		t.Errorf("nonce count did not rise: %q", second)
	}
}

func TestParseDigestChallengePrefersMD5(t *testing.T) {
	h := http.Header{}
	// The two headers monerod sends, MD5-sess first to check the choice.
	h.Add("WWW-authenticate", `Digest qop="auth",algorithm=MD5-sess,realm="monero-rpc",nonce="n2",stale=false`)
	h.Add("WWW-authenticate", `Digest qop="auth",algorithm=MD5,realm="monero-rpc",nonce="n1",stale=false`)
	d := parseDigestChallenge(h)
	if d == nil || d.algorithm != "MD5" || d.nonce != "n1" || d.realm != "monero-rpc" {
		t.Fatalf("got %+v, want the MD5 challenge", d)
	}
	only := http.Header{}
	only.Add("WWW-Authenticate", `Digest qop="auth",algorithm=MD5-sess,realm="r",nonce="n"`)
	if d := parseDigestChallenge(only); d == nil || d.algorithm != "MD5-sess" {
		t.Fatalf("MD5-sess alone: got %+v", d)
	}
	for _, bad := range []string{`Basic realm="x"`, `Digest realm="x"`, `Digest nonce="n",qop="auth-int"`, `Digest`, `Digest ,,,=`} {
		h := http.Header{}
		h.Add("WWW-Authenticate", bad)
		if d := parseDigestChallenge(h); d != nil {
			t.Errorf("%q: got %+v, want nil", bad, d)
		}
	}
}

// digestServer behaves like monerod's --rpc-login: a nonce is valid only on
// the connection that received it and the nonce count must rise by one.
type digestServer struct {
	user, pass string
	conns      atomic.Int64 // TCP connections accepted
	challenges atomic.Int64
	ok         atomic.Int64
	unauth     atomic.Int64
}

type connKey struct{}

type connState struct {
	mu    sync.Mutex
	nonce string
	nc    uint64
}

func (ds *digestServer) start(t *testing.T, body string) *httptest.Server {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st := r.Context().Value(connKey{}).(*connState)
		st.mu.Lock()
		defer st.mu.Unlock()
		if ds.valid(r, st) {
			ds.ok.Add(1)
			_, _ = io.WriteString(w, body)
			return
		}
		var b [16]byte
		_, _ = rand.Read(b[:])
		st.nonce, st.nc = hex.EncodeToString(b[:]), 0
		ds.challenges.Add(1)
		if r.Header.Get("Authorization") != "" {
			ds.unauth.Add(1)
		}
		w.Header()["WWW-authenticate"] = []string{
			`Digest qop="auth",algorithm=MD5,realm="monero-rpc",nonce="` + st.nonce + `",stale=false`,
			`Digest qop="auth",algorithm=MD5-sess,realm="monero-rpc",nonce="` + st.nonce + `",stale=false`,
		}
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = io.WriteString(w, "<html><body>Unauthorized</body></html>")
	}))
	srv.Config.ConnContext = func(ctx context.Context, _ net.Conn) context.Context {
		ds.conns.Add(1)
		return context.WithValue(ctx, connKey{}, &connState{})
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

func (ds *digestServer) valid(r *http.Request, st *connState) bool {
	scheme, rest, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	if scheme != "Digest" || st.nonce == "" {
		return false
	}
	p := parseAuthParams(rest)
	nc, err := strconv.ParseUint(p["nc"], 16, 64)
	if err != nil || p["nonce"] != st.nonce || nc != st.nc+1 || p["username"] != ds.user {
		return false
	}
	ha1 := md5hex(ds.user + ":monero-rpc:" + ds.pass)
	ha2 := md5hex(r.Method + ":" + p["uri"])
	if p["response"] != md5hex(ha1+":"+st.nonce+":"+p["nc"]+":"+p["cnonce"]+":auth:"+ha2) {
		return false
	}
	st.nc = nc
	return true
}

const okInfo = `{"id":"0","jsonrpc":"2.0","result":{"height":7,"restricted":false,"status":"OK","top_block_hash":"aa","wide_difficulty":"0x10","version":"0.18.0.0"}}`

func newTestClient(t *testing.T, rawURL string, mut func(*Config)) *Client {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{URL: u}
	if mut != nil {
		mut(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func TestDigestConcurrentCallsAllSucceed(t *testing.T) {
	ds := &digestServer{user: "alice", pass: "s3cret"}
	srv := ds.start(t, okInfo)
	c := newTestClient(t, srv.URL, func(c *Config) { c.User, c.Password, c.MaxConnections = "alice", "s3cret", 4 })
	const calls = 50
	for round := range 3 {
		var wg sync.WaitGroup
		errs := make(chan error, calls)
		for range calls {
			wg.Go(func() {
				if _, err := c.GetInfo(t.Context()); err != nil {
					errs <- err
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Errorf("round %d: %v", round, err)
		}
	}
	if got := ds.ok.Load(); got != 3*calls {
		t.Errorf("served %d calls, want %d", got, 3*calls)
	}
	// One challenge per connection, not per call: the nonce is reused. (A
	// loaded machine may reconnect; each new connection is challenged once.)
	if got, conns := ds.challenges.Load(), ds.conns.Load(); got > conns || conns > 8 {
		t.Errorf("%d challenges on %d connections (pool of 4); nonces are not being reused", got, conns)
	}
	if got := ds.unauth.Load(); got != 0 {
		t.Errorf("%d requests carried credentials the server rejected", got)
	}
}

func TestDigestWrongPasswordIsUnauthorized(t *testing.T) {
	ds := &digestServer{user: "alice", pass: "s3cret"}
	srv := ds.start(t, okInfo)
	c := newTestClient(t, srv.URL, func(c *Config) { c.User, c.Password = "alice", "wrong-pw" })
	_, err := c.GetInfo(t.Context())
	if !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("err = %v, want ErrUnauthorized", err)
	}
	if strings.Contains(err.Error(), "wrong-pw") {
		t.Fatalf("error shows the password: %v", err)
	}
	if got := ds.challenges.Load(); got != 2 {
		t.Errorf("%d round trips answered with a challenge, want 2 (ask, then one try)", got)
	}
	noCreds := newTestClient(t, srv.URL, nil)
	if _, err := noCreds.GetInfo(t.Context()); !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("without credentials: err = %v, want ErrUnauthorized", err)
	}
}

func TestNoCredentialsSentUnasked(t *testing.T) {
	var sawAuth atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "" {
			sawAuth.Store(true)
		}
		_, _ = io.WriteString(w, okInfo)
	}))
	t.Cleanup(srv.Close)
	c := newTestClient(t, srv.URL, func(c *Config) { c.User, c.Password = "alice", "s3cret" })
	for range 3 {
		if _, err := c.GetInfo(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	if sawAuth.Load() {
		t.Fatal("an Authorization header was sent to a node that asked for none")
	}
}

func TestErrorKinds(t *testing.T) {
	tests := []struct {
		name    string
		handler http.HandlerFunc
		want    error
		outcome string
	}{
		{"garbage body", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "<html>hello") }, ErrBadResponse, "bad_response"},
		{"truncated JSON", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, okInfo[:40]) }, ErrBadResponse, "bad_response"},
		{"empty body", func(http.ResponseWriter, *http.Request) {}, ErrBadResponse, "bad_response"},
		{"HTTP 500", func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "boom", http.StatusInternalServerError) }, ErrBadResponse, "bad_response"},
		{"HTTP 404", http.NotFound, ErrMethodNotAvailable, "method_not_available"},
		{"method not found", func(w http.ResponseWriter, _ *http.Request) {
			_, _ = io.WriteString(w, `{"error":{"code":-32601,"message":"Method not found"},"id":"0","jsonrpc":"2.0"}`)
		}, ErrMethodNotAvailable, "method_not_available"},
		{"parse error", func(w http.ResponseWriter, _ *http.Request) {
			_, _ = io.WriteString(w, `{"error":{"code":-32700,"message":"Parse error"},"id":0,"jsonrpc":"2.0"}`)
		}, ErrBadResponse, "bad_response"},
		{"status BUSY", func(w http.ResponseWriter, _ *http.Request) {
			_, _ = io.WriteString(w, `{"id":"0","jsonrpc":"2.0","result":{"status":"BUSY"}}`)
		}, ErrBadResponse, "bad_response"},
		{"bad difficulty", func(w http.ResponseWriter, _ *http.Request) {
			_, _ = io.WriteString(w, `{"id":"0","jsonrpc":"2.0","result":{"status":"OK","wide_difficulty":"0xzz"}}`)
		}, ErrBadResponse, "bad_response"},
		{"wrong types", func(w http.ResponseWriter, _ *http.Request) {
			_, _ = io.WriteString(w, `{"id":"0","jsonrpc":"2.0","result":{"status":"OK","height":"seven"}}`)
		}, ErrBadResponse, "bad_response"},
		{"401 without challenge", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusUnauthorized) }, ErrUnauthorized, "unauthorized"},
		{"1 GiB body", func(w http.ResponseWriter, _ *http.Request) {
			_, _ = io.WriteString(w, `{"id":"0","jsonrpc":"2.0","result":{"status":"OK","version":"`)
			chunk := []byte(strings.Repeat("x", 1<<20))
			for range 1024 {
				if _, err := w.Write(chunk); err != nil {
					return // the client gave up, as it should
				}
			}
		}, ErrResponseTooLarge, "too_large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(tt.handler)
			t.Cleanup(srv.Close)
			c := newTestClient(t, srv.URL, func(c *Config) { c.MaxResponseBytes = 1 << 20 })
			_, err := c.GetInfo(t.Context())
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if got := Outcome(err); got != tt.outcome {
				t.Fatalf("Outcome = %q, want %q", got, tt.outcome)
			}
			if !strings.HasPrefix(err.Error(), "get_info: ") {
				t.Fatalf("error %q does not name the method", err)
			}
			// The old health API repeats the HTTP code of a refusal.
			var status *HTTPStatusError
			if code := map[string]int{"HTTP 500": 500, "HTTP 404": 404}[tt.name]; code != 0 && (!errors.As(err, &status) || status.StatusCode != code) {
				t.Fatalf("err = %v, want an HTTPStatusError with %d", err, code)
			}
		})
	}
}

func TestTimeoutAndUnreachable(t *testing.T) {
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { close(release); slow.Close() })
	c := newTestClient(t, slow.URL, nil)
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.GetInfo(ctx)
	if !errors.Is(err, ErrTimeout) || Outcome(err) != "timeout" {
		t.Fatalf("err = %v, want ErrTimeout", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("the call outlived its deadline by far: %s", took)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	closed := newTestClient(t, "http://"+addr, nil)
	if _, err := closed.GetInfo(t.Context()); !errors.Is(err, ErrUnreachable) || Outcome(err) != "unreachable" {
		t.Fatalf("closed port: err = %v, want ErrUnreachable", err)
	}
}

// A pool of lanes never opens more connections than configured, however
// many calls wait.
func TestConnectionsBounded(t *testing.T) {
	var open, peak atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		time.Sleep(5 * time.Millisecond)
		_, _ = io.WriteString(w, okInfo)
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		switch s {
		case http.StateNew:
			n := open.Add(1)
			for {
				p := peak.Load()
				if n <= p || peak.CompareAndSwap(p, n) {
					break
				}
			}
		case http.StateClosed, http.StateHijacked:
			open.Add(-1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	c := newTestClient(t, srv.URL, func(c *Config) { c.MaxConnections = 3 })
	var wg sync.WaitGroup
	for range 40 {
		wg.Go(func() {
			if _, err := c.GetInfo(t.Context()); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if got := peak.Load(); got > 3 || got < 1 {
		t.Fatalf("peak connections = %d, want 1..3", got)
	}
}

func TestOnCallCountsEveryCall(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, okInfo) }))
	t.Cleanup(srv.Close)
	var mu sync.Mutex
	seen := map[string]int{}
	c := newTestClient(t, srv.URL, func(c *Config) {
		c.OnCall = func(method, outcome string, _ time.Duration) {
			mu.Lock()
			seen[method+"/"+outcome]++
			mu.Unlock()
		}
	})
	for range 3 {
		if _, err := c.GetInfo(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	// A refusal and a JSON-RPC error are counted as what they are.
	refusing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if strings.Contains(string(body), "get_bans") {
			_, _ = io.WriteString(w, `{"error":{"code":-32601,"message":"Method not found"},"id":"0","jsonrpc":"2.0"}`)
			return
		}
		_, _ = io.WriteString(w, `{"id":"0","jsonrpc":"2.0","result":{"status":"BUSY"}}`)
	}))
	t.Cleanup(refusing.Close)
	r := newTestClient(t, refusing.URL, func(cfg *Config) { cfg.OnCall = c.onCall })
	_, _ = r.GetBans(t.Context())
	_, _ = r.HardForkInfo(t.Context())
	if seen["get_bans/method_not_available"] != 1 || seen["hard_fork_info/bad_response"] != 1 {
		t.Fatalf("OnCall saw %v", seen)
	}
	// okInfo decodes as a connections result with no list: an empty list.
	if conns, err := c.GetConnections(t.Context()); err != nil || conns == nil || len(conns) != 0 {
		t.Fatalf("GetConnections = %v, %v; want an empty list", conns, err)
	}
	if seen["get_info/success"] != 3 || seen["get_connections/success"] != 1 {
		t.Fatalf("OnCall saw %v", seen)
	}
}

func TestInfoMasksRestrictedFields(t *testing.T) {
	body := func(restricted bool) string {
		return fmt.Sprintf(`{"id":"0","jsonrpc":"2.0","result":{"status":"OK","restricted":%t,"version":"","start_time":0,
		"free_space":18446744073709551615,"database_size":5368709120,"incoming_connections_count":0,"wide_difficulty":"0x1"}}`, restricted)
	}
	for _, restricted := range []bool{true, false} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, body(restricted)) }))
		c := newTestClient(t, srv.URL, nil)
		info, err := c.GetInfo(t.Context())
		srv.Close()
		if err != nil {
			t.Fatal(err)
		}
		masked := info.Version == nil && info.FreeSpace == nil && info.DatabaseSize == nil && info.StartTime == nil &&
			info.IncomingConnections == nil && info.OutgoingConnections == nil && info.RPCConnections == nil &&
			info.WhitePeerlistSize == nil && info.GreyPeerlistSize == nil && info.AltBlocks == nil && info.UpdateAvailable == nil
		if masked != restricted {
			t.Errorf("restricted=%t: masked=%t (%+v)", restricted, masked, info)
		}
		if !restricted && *info.FreeSpace != 18446744073709551615 {
			t.Errorf("free_space = %d", *info.FreeSpace)
		}
	}
}

func TestWideDifficultyBeyond64Bits(t *testing.T) {
	got, err := parseWideDifficulty("0x1"+strings.Repeat("0", 20), 0) // 2^80
	if err != nil {
		t.Fatal(err)
	}
	if want := 1208925819614629174706176.0; got != want {
		t.Fatalf("got %g, want %g", got, want)
	}
	if got, _ := parseWideDifficulty("", 42); got != 42 {
		t.Fatalf("fallback: got %g", got)
	}
	for _, bad := range []string{"0x-1", "0x+1f", "0x", "0x1" + strings.Repeat("0", 300), "1f"} {
		if _, err := parseWideDifficulty(bad, 0); !errors.Is(err, ErrBadResponse) {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestNewRejectsBadTLSConfig(t *testing.T) {
	u, _ := url.Parse("http://127.0.0.1:1")
	if _, err := New(Config{URL: u, TLSInsecureSkipVerify: true}); err == nil {
		t.Error("TLS options on http:// accepted")
	}
	hu, _ := url.Parse("https://127.0.0.1:1")
	if _, err := New(Config{URL: hu, TLSCAFile: "/nonexistent/ca.pem"}); err == nil {
		t.Error("missing CA file accepted")
	}
	if _, err := New(Config{}); err == nil {
		t.Error("no URL accepted")
	}
}

func TestAutoMaxConnections(t *testing.T) {
	for host, want := range map[string]int{
		"127.0.0.1":            DefaultMaxConnections,
		"::1":                  DefaultMaxConnections,
		"10.1.2.3":             DefaultMaxConnections,
		"192.168.1.20":         DefaultMaxConnections,
		"fd00::1":              DefaultMaxConnections,
		"localhost":            DefaultMaxConnections,
		"8.8.8.8":              PublicMaxConnections,
		"2001:4860:4860::8888": PublicMaxConnections,
		"no-such-host.invalid": PublicMaxConnections,
	} {
		if got := AutoMaxConnections(t.Context(), host); got != want {
			t.Errorf("%s: %d connections, want %d", host, got, want)
		}
	}
}
