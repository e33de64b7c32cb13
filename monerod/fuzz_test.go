package monerod

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/monero-ops/monero_exporter/internal/fixtures"
)

// The fuzz targets of this file run their seeds as ordinary tests under
// `go test`; scripts/fuzz.sh runs each as a fuzzer for a while.

// Bounds of one fuzzed call: the context deadline, and the time after which
// a call that has not returned counts as a hang.
const (
	fuzzCallTimeout = 10 * time.Second
	fuzzHangAfter   = 20 * time.Second
	// fuzzSmallCap is MaxResponseBytes of the client that exercises the
	// size cap: far below the recorded answers, so that they hit it.
	fuzzSmallCap = 1024
	// fuzzSmallCapFlag in the selector byte picks that client.
	fuzzSmallCapFlag = 0x10
)

// fuzzCall is one typed call of the client. run makes it and reports
// whether its result is non-nil, after checking what the type promises.
type fuzzCall struct {
	// file is the name of the recorded answer of this call, in the
	// unrestricted set unless fuzzCallSets names another.
	file string
	// name prefixes every error the call returns.
	name string
	// jsonRPC calls can be refused with JSON-RPC error -32601.
	jsonRPC bool
	run     func(context.Context, *Client) (bool, error)
}

// fuzzCallSets names the recorded set of the answers the unrestricted set
// lacks: its pool is empty.
var fuzzCallSets = map[string]string{"get_transaction_pool_hashes.bin.json": fixtures.Pool}

// fuzzCalls lists every typed call; the fuzzers pick one with the low bits
// of a selector byte.
var fuzzCalls = []fuzzCall{
	{"get_info.json", MethodGetInfo, true, func(ctx context.Context, c *Client) (bool, error) {
		r, err := c.GetInfo(ctx)
		if err == nil {
			if err := checkFuzzInfo(r); err != nil {
				return true, fuzzInvariant{err}
			}
		}
		return r != nil, err
	}},
	{"get_last_block_header.json", MethodLastBlockHeader, true, func(ctx context.Context, c *Client) (bool, error) {
		r, err := c.GetLastBlockHeader(ctx)
		return r != nil, err
	}},
	{"hard_fork_info.json", MethodHardForkInfo, true, func(ctx context.Context, c *Client) (bool, error) {
		r, err := c.HardForkInfo(ctx)
		return r != nil, err
	}},
	{"get_version.json", MethodGetVersion, true, func(ctx context.Context, c *Client) (bool, error) {
		r, err := c.GetVersion(ctx)
		if err == nil {
			_ = r.String()
		}
		return r != nil, err
	}},
	{"get_connections.json", MethodGetConnections, true, func(ctx context.Context, c *Client) (bool, error) {
		r, err := c.GetConnections(ctx)
		return r != nil, err // no peers is an empty list, never nil
	}},
	{"get_transaction_pool_stats.json", MethodGetTxPoolStats, false, func(ctx context.Context, c *Client) (bool, error) {
		r, err := c.GetTxPoolStats(ctx)
		return r != nil, err
	}},
	{"get_transaction_pool_hashes.bin.json", MethodGetTxPoolHashes, false, func(ctx context.Context, c *Client) (bool, error) {
		r, err := c.GetTxPoolHashes(ctx)
		return r != nil, err // an empty pool is an empty list, never nil
	}},
	{"get_block.json", MethodGetBlock, true, func(ctx context.Context, c *Client) (bool, error) {
		r, err := c.GetBlock(ctx, "b105d4c44e0a4d7e0cadcf3997ee4947b895983341d05969d29c3c119c9bee08")
		return r != nil, err
	}},
	{"get_transactions.json", MethodGetTransactions, false, func(ctx context.Context, c *Client) (bool, error) {
		r, err := c.GetTransactions(ctx, []string{"25a1d0bbd25d3e6a7ed4ad1cb7b3ff01e6d84a4b5be5e0fe4ed7bc63ed18b8a0"})
		return r != nil, err
	}},
	{"get_net_stats.json", MethodGetNetStats, false, func(ctx context.Context, c *Client) (bool, error) {
		r, err := c.GetNetStats(ctx)
		return r != nil, err
	}},
	{"get_peer_list.json", MethodGetPeerList, false, func(ctx context.Context, c *Client) (bool, error) {
		r, err := c.GetPeerList(ctx)
		return r != nil, err
	}},
	{"get_bans.json", MethodGetBans, true, func(ctx context.Context, c *Client) (bool, error) {
		r, err := c.GetBans(ctx)
		return r != nil, err
	}},
	{"rpc_access_tracking.json", MethodRPCAccessTracking, true, func(ctx context.Context, c *Client) (bool, error) {
		r, err := c.RPCAccessTracking(ctx)
		return r != nil, err
	}},
	{"mining_status.json", MethodMiningStatus, false, func(ctx context.Context, c *Client) (bool, error) {
		r, err := c.GetMiningStatus(ctx)
		return r != nil, err
	}},
	{"get_fee_estimate.json", MethodGetFeeEstimate, true, func(ctx context.Context, c *Client) (bool, error) {
		r, err := c.GetFeeEstimate(ctx)
		return r != nil, err
	}},
	{"get_block_headers_range.json", MethodGetHeadersRange, true, func(ctx context.Context, c *Client) (bool, error) {
		r, err := c.GetBlockHeadersRange(ctx, 61, 70)
		if err == nil && (len(r) != 10 || r[0].Height != 61 || r[9].Height != 70) {
			return true, fuzzInvariant{fmt.Errorf("%d headers for heights 61 to 70", len(r))}
		}
		return r != nil, err
	}},
}

// fuzzInvariant marks a broken promise of a successful result, so that it
// is reported as such rather than as a call error.
type fuzzInvariant struct{ error }

// checkFuzzInfo checks what Info promises: the masked fields are nil
// exactly on a restricted node.
func checkFuzzInfo(in *Info) error {
	masked := []bool{
		in.Version == nil, in.UpdateAvailable == nil, in.AltBlocks == nil,
		in.IncomingConnections == nil, in.OutgoingConnections == nil, in.RPCConnections == nil,
		in.WhitePeerlistSize == nil, in.GreyPeerlistSize == nil, in.StartTime == nil,
		in.DatabaseSize == nil, in.FreeSpace == nil,
	}
	for i, m := range masked {
		if m != in.Restricted {
			return fmt.Errorf("Info.Restricted = %v but masked field %d nil = %v", in.Restricted, i, m)
		}
	}
	// monerod's difficulty is an unsigned 128-bit number.
	if math.IsNaN(in.Difficulty) || math.IsInf(in.Difficulty, 0) || in.Difficulty < 0 || in.Difficulty > 0x1p128 {
		return fmt.Errorf("Info.Difficulty = %v, not an unsigned 128-bit number", in.Difficulty)
	}
	return nil
}

// fuzzSentinels are the errors of which every client error wraps exactly one.
var fuzzSentinels = []error{
	ErrUnreachable, ErrTimeout, ErrTLS, ErrUnauthorized,
	ErrMethodNotAvailable, ErrResponseTooLarge, ErrBadResponse,
}

// fuzzOutcomes are the outcomes Outcome documents.
var fuzzOutcomes = map[string]bool{
	"success": true, "unreachable": true, "timeout": true, "tls_error": true,
	"unauthorized": true, "method_not_available": true, "too_large": true, "bad_response": true,
}

// fuzzTarget is a fake monerod that answers every request with the current
// input, and the clients that call it: with the default size cap, or with
// a small one.
type fuzzTarget struct {
	body atomic.Pointer[[]byte]
	url  *url.URL
	// raw targets build new clients for every input, so that no Digest
	// state carries over from one input to the next.
	raw        bool
	big, small *Client
}

// capOf is the size cap of the client sel picks.
func capOf(sel uint8) int64 {
	if sel&fuzzSmallCapFlag != 0 {
		return fuzzSmallCap
	}
	return DefaultMaxResponseBytes
}

// client returns the client sel picks, and a function to call when done
// with it.
func (ft *fuzzTarget) client(t testing.TB, sel uint8) (*Client, func()) {
	if ft.raw {
		c := newFuzzClient(t, ft.url, capOf(sel))
		return c, c.Close
	}
	if sel&fuzzSmallCapFlag != 0 {
		return ft.small, func() {}
	}
	return ft.big, func() {}
}

func newFuzzClient(t testing.TB, u *url.URL, maxBody int64) *Client {
	c, err := New(Config{URL: u, User: "alice", Password: "s3cret", MaxConnections: 2, MaxResponseBytes: maxBody})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// newFuzzTarget starts the fake monerod. raw makes it write the input as
// the whole HTTP response (status line and headers included) and close the
// connection; otherwise the input is the body of a 200 answer.
func newFuzzTarget(f *testing.F, raw bool) *fuzzTarget {
	ft := &fuzzTarget{}
	empty := []byte{}
	ft.body.Store(&empty)
	h := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		b := *ft.body.Load()
		if !raw {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(b)
			return
		}
		conn, buf, err := http.NewResponseController(w).Hijack()
		if err != nil {
			panic(err)
		}
		defer conn.Close()
		_, _ = buf.Write(b)
		_ = buf.Flush()
		// Half-close and wait for the client to hang up, so that the
		// client never sees a reset before it has read the answer.
		if tc, ok := conn.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
		_ = conn.SetReadDeadline(time.Now().Add(fuzzHangAfter))
		var sink [512]byte
		for {
			if _, err := conn.Read(sink[:]); err != nil {
				return
			}
		}
	})
	srv := httptest.NewServer(h)
	f.Cleanup(srv.Close)
	u, err := url.Parse(srv.URL)
	if err != nil {
		f.Fatal(err)
	}
	ft.url, ft.raw = u, raw
	if !raw {
		ft.big, ft.small = newFuzzClient(f, u, DefaultMaxResponseBytes), newFuzzClient(f, u, fuzzSmallCap)
		f.Cleanup(ft.big.Close)
		f.Cleanup(ft.small.Close)
	}
	return ft
}

// call makes the call sel names with body as the answer, and fails t on a
// panic, a hang, an error that breaks the sentinel contract, or a success
// without a result.
func (ft *fuzzTarget) call(t *testing.T, sel uint8, body []byte) (fuzzCall, error) {
	fc := fuzzCalls[int(sel&0x0f)%len(fuzzCalls)]
	c, done := ft.client(t, sel)
	defer done()
	ft.body.Store(&body)

	type result struct {
		ok    bool
		err   error
		panic any
	}
	returned := make(chan result, 1)
	go func() {
		var res result
		defer func() {
			res.panic = recover()
			returned <- res
		}()
		ctx, cancel := context.WithTimeout(context.Background(), fuzzCallTimeout)
		defer cancel()
		res.ok, res.err = fc.run(ctx, c)
	}()
	var res result
	select {
	case res = <-returned:
	case <-time.After(fuzzHangAfter):
		t.Fatalf("%s: no return after %v", fc.name, fuzzHangAfter)
	}
	if res.panic != nil {
		t.Fatalf("%s: panic: %v", fc.name, res.panic)
	}
	var inv fuzzInvariant
	if errors.As(res.err, &inv) {
		t.Fatalf("%s: %v", fc.name, inv.error)
	}
	err := res.err
	if err == nil {
		if !res.ok {
			t.Fatalf("%s: nil result and nil error", fc.name)
		}
		return fc, nil
	}
	var wrapped []string
	for _, s := range fuzzSentinels {
		if errors.Is(err, s) {
			wrapped = append(wrapped, s.Error())
		}
	}
	if len(wrapped) != 1 {
		t.Fatalf("%s: error %q wraps %d sentinels %q, want exactly one", fc.name, err, len(wrapped), wrapped)
	}
	if o := Outcome(err); !fuzzOutcomes[o] || o == "success" {
		t.Fatalf("%s: Outcome(%q) = %q", fc.name, err, o)
	}
	if !strings.HasPrefix(err.Error(), fc.name+": ") {
		t.Fatalf("%s: error %q does not name the call", fc.name, err)
	}
	return fc, err
}

// fuzzFixtureFiles returns every recorded answer, by set and file name.
func fuzzFixtureFiles(f *testing.F, pattern string) map[string][]byte {
	dir := filepath.Dir(filepath.Dir(fixtures.Path(fixtures.Busy, "get_info")))
	paths, err := filepath.Glob(filepath.Join(dir, "*", pattern))
	if err != nil || len(paths) == 0 {
		f.Fatalf("no fixtures %s under %s: %v", pattern, dir, err)
	}
	out := make(map[string][]byte, len(paths))
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		out[filepath.Join(filepath.Base(filepath.Dir(p)), filepath.Base(p))] = b
	}
	return out
}

// FuzzDecode serves arbitrary bytes as the body of a 200 answer to every
// typed call. The low four bits of sel pick the call, fuzzSmallCapFlag the
// client with a 1 KiB cap. Seeds: every recorded answer, with its own call
// (and its own call under the small cap); the answers of no typed call
// (errors, other methods) with every call.
func FuzzDecode(f *testing.F) {
	byFile := map[string]uint8{}
	for i, fc := range fuzzCalls {
		byFile[fc.file] = uint8(i)
	}
	for name, b := range fuzzFixtureFiles(f, "*.json") {
		if i, ok := byFile[filepath.Base(name)]; ok {
			f.Add(i, b)
			f.Add(i|fuzzSmallCapFlag, b)
			continue
		}
		for i := range fuzzCalls {
			f.Add(uint8(i), b)
		}
	}
	f.Add(uint8(0), []byte(`{"result":null}`))
	f.Add(uint8(8), []byte(`{"status":"OK","txs":[{"pruned_as_hex":"0200010200","prunable_as_hex":"abcd"}]}`))

	ft := newFuzzTarget(f, false)
	f.Fuzz(func(t *testing.T, sel uint8, body []byte) {
		fc, err := ft.call(t, sel, body)
		capBytes := capOf(sel)
		switch o := Outcome(err); o {
		case "success", "bad_response":
		case "method_not_available":
			// Only a JSON-RPC refusal says so in a 200 answer.
			if !fc.jsonRPC || !bytes.Contains(body, []byte("-32601")) {
				t.Fatalf("%s: %q from a 200 answer that refuses nothing", fc.name, err)
			}
		case "too_large":
			if int64(len(body)) <= capBytes {
				t.Fatalf("%s: %q for %d bytes under a cap of %d", fc.name, err, len(body), capBytes)
			}
		default:
			// The node answered, promptly: neither unreachable nor a timeout.
			t.Fatalf("%s: outcome %s (%v) for an answered call", fc.name, o, err)
		}
		if err == nil && int64(len(body)) > capBytes {
			t.Fatalf("%s: success with %d bytes over a cap of %d", fc.name, len(body), capBytes)
		}
	})
}

// FuzzResponse writes arbitrary bytes as the whole HTTP response (status
// line, headers, body), then closes the connection: 401 challenges, 404s,
// redirects, broken framing. The client has credentials, so a Digest
// challenge is answered once. Seeds: the recorded raw responses and every
// typed call's recorded answer framed as a 200.
func FuzzResponse(f *testing.F) {
	for name, b := range fuzzFixtureFiles(f, "*.*") {
		switch filepath.Ext(name) {
		case ".404", ".txt":
			for i := range fuzzCalls {
				f.Add(uint8(i), b)
			}
		}
	}
	for i, fc := range fuzzCalls {
		set := fixtures.Unrestricted
		if s, ok := fuzzCallSets[fc.file]; ok {
			set = s
		}
		b, err := os.ReadFile(fixtures.Path(set, fc.file))
		if err != nil {
			f.Fatal(err)
		}
		head := "HTTP/1.1 200 Ok\r\nServer: Epee-based\r\nContent-Length: " + strconv.Itoa(len(b)) +
			"\r\nContent-Type: application/json\r\n\r\n"
		f.Add(uint8(i), append([]byte(head), b...))
		f.Add(uint8(i)|fuzzSmallCapFlag, append([]byte(head), b...))
	}
	f.Add(uint8(0), []byte("HTTP/1.1 401 Unauthorized\r\nWWW-authenticate: Digest qop=\"auth\",algorithm=MD5,realm=\"monero-rpc\",nonce=\"abc\"\r\nContent-Length: 0\r\n\r\n"))
	f.Add(uint8(0), []byte("HTTP/1.1 302 Found\r\nLocation: /elsewhere\r\nContent-Length: 0\r\n\r\n"))
	f.Add(uint8(0), []byte("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{\"res\r\n0\r\n\r\n"))
	f.Add(uint8(0), []byte("\x15\x03\x01\x00\x02\x02\x46")) // a TLS alert: an https node asked over http
	f.Add(uint8(3), []byte("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 15\r\n\r\n{\"status\":\"OK\"}"))

	ft := newFuzzTarget(f, true)
	f.Fuzz(func(t *testing.T, sel uint8, raw []byte) {
		fc, err := ft.call(t, sel, raw)
		capBytes := capOf(sel)
		o := Outcome(err)
		// What the bytes say, as net/http reads them (informational
		// answers skipped, as the client skips them).
		br := bufio.NewReader(bytes.NewReader(raw))
		resp, perr := http.ReadResponse(br, nil)
		for perr == nil && resp.StatusCode >= 100 && resp.StatusCode < 200 && resp.StatusCode != http.StatusSwitchingProtocols {
			resp, perr = http.ReadResponse(br, nil)
		}
		switch o {
		case "success", "bad_response":
		case "unauthorized":
			if perr == nil && resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("%s: %q for HTTP %d", fc.name, err, resp.StatusCode)
			}
		case "method_not_available":
			if perr == nil && resp.StatusCode != http.StatusNotFound && !bytes.Contains(raw, []byte("-32601")) {
				t.Fatalf("%s: %q for HTTP %d that refuses nothing", fc.name, err, resp.StatusCode)
			}
		case "too_large":
			if int64(len(raw)) <= capBytes {
				t.Fatalf("%s: %q for %d bytes under a cap of %d", fc.name, err, len(raw), capBytes)
			}
		case "unreachable":
			// A transport failure: no response net/http could read.
		default:
			t.Fatalf("%s: outcome %s (%v)", fc.name, o, err)
		}
		if err == nil && (perr != nil || resp.StatusCode != http.StatusOK) {
			t.Fatalf("%s: success for a response net/http reads as %v / %v", fc.name, perr, resp)
		}
	})
}

// FuzzParseAddress checks ParseAddress on any input: no panic; a result is
// an http(s) URL with a host and a canonical port in 1-65535, no user,
// query, fragment or trailing slash, and parses again to itself; an error
// never repeats credentials.
func FuzzParseAddress(f *testing.F) {
	for _, s := range []string{
		"127.0.0.1", " node.example ", "127.0.0.1:28081", "[::1]:28081", "::1", "[::1]",
		"http://127.0.0.1", "https://node.example", "https://node.example:8443/monerod/",
		"", "127.0.0.1:0", "127.0.0.1:99999", "127.0.0.1:http", "ftp://node", "http://",
		"http://node/?a=b", "node/path", "a b", "a:b:c", "http://user:hunter2@node",
		"user:hunter2@node", "http://[fe80::1%25eth0]:18081",
		"[node]:1", "http://node#frag", "HTTPS://NODE.example", "http://node:18081/x?",
		// What this fuzzer found is kept in testdata/fuzz/FuzzParseAddress.
	} {
		f.Add(s, 18081)
	}
	f.Add("node", 0)
	f.Add("node", 65536)
	f.Fuzz(func(t *testing.T, addr string, port int) {
		u, err := ParseAddress(addr, port)
		if err != nil {
			if u != nil {
				t.Fatalf("ParseAddress(%q) = %v and error %v", addr, u, err)
			}
			if ui := fuzzUserinfo(addr); ui != "" && strings.Contains(err.Error(), ui+"@") {
				t.Fatalf("ParseAddress(%q): error repeats the credentials: %v", addr, err)
			}
			// The rule of ParseAddress: an address with an '@' is never
			// repeated, even in part, so its error cannot depend on it.
			if strings.Contains(addr, "@") && port >= 1 && port <= 65535 {
				_, ref := ParseAddress("@", port)
				if ref == nil || err.Error() != ref.Error() {
					t.Fatalf("ParseAddress(%q): error %q depends on an address that holds '@' (want %v)", addr, err, ref)
				}
			}
			return
		}
		if port < 1 || port > 65535 {
			t.Fatalf("ParseAddress(%q, %d) accepted an out-of-range default port", addr, port)
		}
		if u.Scheme != "http" && u.Scheme != "https" {
			t.Fatalf("ParseAddress(%q): scheme %q", addr, u.Scheme)
		}
		if u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
			t.Fatalf("ParseAddress(%q) = %#v: user, query, fragment or opaque part", addr, u)
		}
		if u.Hostname() == "" {
			t.Fatalf("ParseAddress(%q) = %q: no host", addr, u)
		}
		if n, err := strconv.Atoi(u.Port()); err != nil || n < 1 || n > 65535 || strconv.Itoa(n) != u.Port() {
			t.Fatalf("ParseAddress(%q) = %q: port %q", addr, u, u.Port())
		}
		if strings.HasSuffix(u.Path, "/") {
			// The client appends "/json_rpc": a trailing slash would double it.
			t.Fatalf("ParseAddress(%q) = %q: path %q ends with a slash", addr, u, u.Path)
		}
		s := u.String()
		u2, err := ParseAddress(s, 1+port%65535)
		if err != nil {
			t.Fatalf("ParseAddress(%q) = %q, which does not parse again: %v", addr, s, err)
		}
		if u2.String() != s {
			t.Fatalf("ParseAddress(%q) = %q, which parses again to %q", addr, s, u2)
		}
	})
}

// fuzzUserinfo returns what an operator wrote as credentials in addr: the
// text before the last '@' of the authority of a URL ("u:p" in
// "http://u:p@host/x"), or of the whole address without a scheme. It is ""
// when there is none.
func fuzzUserinfo(addr string) string {
	addr = strings.TrimSpace(addr)
	if i := strings.Index(addr, "://"); i >= 0 {
		if at := strings.LastIndexByte(addr[:i], '@'); at > 0 {
			return addr[:at] // "u:p@host://...": credentials before a scheme-like part
		}
		rest := addr[i+3:]
		if end := strings.IndexAny(rest, "/?#"); end >= 0 {
			rest = rest[:end]
		}
		if at := strings.LastIndexByte(rest, '@'); at > 0 {
			return rest[:at]
		}
		return ""
	}
	if at := strings.LastIndexByte(addr, '@'); at > 0 {
		return addr[:at]
	}
	return ""
}

// FuzzDigestChallenge feeds arbitrary WWW-Authenticate values to the
// Digest challenge parser: no panic; a challenge it picks has a nonce and an
// algorithm we answer; the answer is one header line and carries back the
// realm, nonce and uri.
func FuzzDigestChallenge(f *testing.F) {
	raw := fuzzFixtureFiles(f, "unauthorized.txt")
	for _, b := range raw {
		var vals []string
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(strings.TrimRight(line, "\r"), "WWW-authenticate: "); ok {
				vals = append(vals, v)
			}
		}
		for len(vals) < 2 {
			vals = append(vals, "")
		}
		f.Add(vals[0], vals[1])
	}
	f.Add(`Digest qop="auth",algorithm=MD5-sess,realm="monero-rpc",nonce="YWeR==",stale=false`, `Basic realm="x"`)
	f.Add(`Digest realm="a\"b, c", nonce="n\\", qop="auth-int, auth", opaque="o"`, "")
	f.Add(`Digest nonce="unterminated, qop=auth`, `Digest =x, nonce=1, qop=auth, algorithm=SHA-256`)
	f.Add(`digest   nonce=x,,,qop=auth,`, `Digest nonce="\`)
	f.Fuzz(func(t *testing.T, v1, v2 string) {
		_ = parseAuthParams(v1)
		_ = parseAuthParams(v2)
		h := http.Header{}
		for _, v := range []string{v1, v2} {
			if v != "" {
				h.Add("Www-Authenticate", v)
			}
		}
		d := parseDigestChallenge(h)
		if d == nil {
			return
		}
		if d.nonce == "" {
			t.Fatalf("challenge %q: picked with an empty nonce", h.Values("Www-Authenticate"))
		}
		if !strings.EqualFold(d.algorithm, "MD5") && !strings.EqualFold(d.algorithm, "MD5-sess") {
			t.Fatalf("challenge %q: picked algorithm %q", h.Values("Www-Authenticate"), d.algorithm)
		}
		const uri = "/monerod/json_rpc"
		auth := d.authorizeWith("alice", "s3cret", http.MethodPost, uri, "0a4f113b")
		for _, r := range auth {
			if r < 0x20 && r != '\t' || r == 0x7f {
				t.Fatalf("challenge %q: Authorization %q holds a control character", h.Values("Www-Authenticate"), auth)
			}
		}
		rest, ok := strings.CutPrefix(auth, "Digest ")
		if !ok {
			t.Fatalf("Authorization %q is not Digest", auth)
		}
		p := parseAuthParams(rest)
		want := map[string]string{"username": "alice", "uri": uri, "qop": "auth", "nc": "00000001", "cnonce": "0a4f113b"}
		// strconv.Quote keeps printable text as it is but for '"' and '\':
		// such values must come back unchanged.
		if fuzzQuotesPlainly(d.realm) {
			want["realm"] = d.realm
		}
		if fuzzQuotesPlainly(d.nonce) {
			want["nonce"] = d.nonce
		}
		for k, v := range want {
			if p[k] != v {
				t.Fatalf("challenge %q: Authorization %q gives %s=%q, want %q", h.Values("Www-Authenticate"), auth, k, p[k], v)
			}
		}
	})
}

// fuzzQuotesPlainly reports whether strconv.Quote escapes nothing in s but
// '"' and '\'.
func fuzzQuotesPlainly(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`)
	return strconv.Quote(s) == `"`+r.Replace(s)+`"`
}
