// Package monerod is a typed client for the RPC interface of the Monero daemon.
//
// It speaks JSON-RPC (POST /json_rpc) and the daemon's other JSON endpoints
// over HTTP or HTTPS, answers HTTP Digest challenges the way monerod wants
// them, caps response sizes, and returns errors that wrap one of a few
// sentinels so that callers can tell a refused connection from a timeout, a
// rejected login, a method a restricted node does not offer, or a bad body.
// It knows nothing of Prometheus or of HTTP handlers.
package monerod

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults for Config fields left at zero.
const (
	// DefaultMaxConnections is the pool for a node on a loopback or
	// private address, where monerod accepts 25 connections from one
	// address (--rpc-max-connections-per-private-ip).
	DefaultMaxConnections = 8
	// PublicMaxConnections is the pool for any other node: monerod accepts
	// only 3 from one public address (--rpc-max-connections-per-public-ip)
	// and closes the others unanswered.
	PublicMaxConnections    = 3
	DefaultMaxResponseBytes = 32 << 20
)

// Config describes how to reach one monerod.
type Config struct {
	// URL is the base address, as returned by ParseAddress.
	URL *url.URL
	// User and Password answer HTTP Digest challenges. Credentials are sent
	// only after monerod asks for them.
	User, Password string
	// TLSCAFile verifies the node's certificate against this PEM bundle.
	TLSCAFile string
	// TLSInsecureSkipVerify accepts any certificate (monerod's self-made
	// one has no subject, so it cannot be verified otherwise).
	TLSInsecureSkipVerify bool
	// MaxConnections bounds the kept-alive connections to the node; monerod
	// closes the 26th simultaneous connection from a private address, and
	// the 4th from a public one, unanswered. Zero picks by the address (see
	// AutoMaxConnections).
	MaxConnections int
	// MaxResponseBytes caps every response body.
	MaxResponseBytes int64
	// UserAgent is sent with every request.
	UserAgent string
	// OnCall, when set, is told of every call that was sent to monerod,
	// with its outcome (see Outcome) and how long it took.
	OnCall func(method, outcome string, took time.Duration)
}

// Client calls one monerod. It is safe for concurrent use.
type Client struct {
	jsonRPCURL string
	baseURL    string
	uriPrefix  string
	user, pass string
	maxBody    int64
	userAgent  string
	onCall     func(string, string, time.Duration)
	lanes      chan *lane
	all        []*lane
	// bodies caches the request bodies of calls without parameters: they
	// are the same on every scrape.
	bodies sync.Map
}

// lane is one connection to monerod and the Digest state bound to it. A lane
// is used by one request at a time, which is what lets the nonce count rise by
// exactly one per request on that connection.
type lane struct {
	transport *http.Transport
	client    *http.Client
	digest    *digestState
	dials     atomic.Uint64
}

// New builds a Client. It fails only on bad configuration (an unreadable CA
// file, a missing URL); it does not contact monerod.
func New(cfg Config) (*Client, error) {
	if cfg.URL == nil {
		return nil, errors.New("monerod client: no URL")
	}
	if cfg.MaxConnections <= 0 {
		cfg.MaxConnections = AutoMaxConnections(context.Background(), cfg.URL.Hostname())
	}
	if cfg.MaxResponseBytes <= 0 {
		cfg.MaxResponseBytes = DefaultMaxResponseBytes
	}
	var tlsCfg *tls.Config
	if cfg.URL.Scheme == "https" {
		tlsCfg = &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: cfg.TLSInsecureSkipVerify} //nolint:gosec // operator's explicit choice
		if cfg.TLSCAFile != "" {
			pem, err := os.ReadFile(cfg.TLSCAFile)
			if err != nil {
				return nil, fmt.Errorf("monerod TLS CA file: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("monerod TLS CA file %q holds no PEM certificate", cfg.TLSCAFile)
			}
			tlsCfg.RootCAs = pool
		}
	} else if cfg.TLSCAFile != "" || cfg.TLSInsecureSkipVerify {
		return nil, fmt.Errorf("monerod TLS options are set but the URL %q is not https", cfg.URL.String())
	}
	base := cfg.URL.String()
	c := &Client{
		jsonRPCURL: base + "/json_rpc",
		baseURL:    base,
		uriPrefix:  cfg.URL.EscapedPath(),
		user:       cfg.User,
		pass:       cfg.Password,
		maxBody:    cfg.MaxResponseBytes,
		userAgent:  cfg.UserAgent,
		onCall:     cfg.OnCall,
		lanes:      make(chan *lane, cfg.MaxConnections),
	}
	for range cfg.MaxConnections {
		l := &lane{}
		dialer := &net.Dialer{KeepAlive: 30 * time.Second}
		l.transport = &http.Transport{
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				l.dials.Add(1)
				return dialer.DialContext(ctx, network, addr)
			},
			TLSClientConfig:     tlsCfg,
			MaxIdleConns:        1,
			MaxIdleConnsPerHost: 1,
			MaxConnsPerHost:     1,
			IdleConnTimeout:     90 * time.Second,
			DisableCompression:  true,
			// monerod speaks HTTP/1.1 only; a proxy would break the
			// one-nonce-per-connection rule, so none is used.
			Proxy: nil,
		}
		l.client = &http.Client{
			Transport: l.transport,
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			},
		}
		c.lanes <- l
		c.all = append(c.all, l)
	}
	return c, nil
}

// AutoMaxConnections is the connection pool for a node at host: 8 when every
// address it resolves to is loopback or private, else 3, monerod's default
// limit for a public address. A name that does not resolve (within 2 s) gets
// the safe 3.
func AutoMaxConnections(ctx context.Context, host string) int {
	addrs := []netip.Addr{}
	if ip, err := netip.ParseAddr(host); err == nil {
		addrs = append(addrs, ip)
	} else {
		ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		var err error
		if addrs, err = net.DefaultResolver.LookupNetIP(ctx, "ip", host); err != nil {
			return PublicMaxConnections
		}
	}
	if len(addrs) == 0 {
		return PublicMaxConnections
	}
	for _, a := range addrs {
		a = a.Unmap()
		if !a.IsLoopback() && !a.IsPrivate() && !a.IsLinkLocalUnicast() {
			return PublicMaxConnections
		}
	}
	return DefaultMaxConnections
}

// Close drops the kept-alive connections.
func (c *Client) Close() {
	for _, l := range c.all {
		l.transport.CloseIdleConnections()
	}
}

// CallJSONRPC calls a JSON-RPC method and decodes its "result" into result.
// params may be nil.
func (c *Client) CallJSONRPC(ctx context.Context, method string, params, result any) (err error) {
	defer c.report(method, time.Now(), &err)
	body, err := c.jsonRPCBody(method, params)
	if err != nil {
		return fmt.Errorf("%s: encode request: %w", method, err)
	}
	env := struct {
		Result any       `json:"result"`
		Error  *RPCError `json:"error"`
	}{Result: result}
	err = c.do(ctx, c.jsonRPCURL, c.uriPrefix+"/json_rpc", body, &env)
	if err == nil && env.Error != nil {
		err = fmt.Errorf("%s: %w", method, rpcErr(env.Error))
	} else if err != nil {
		err = fmt.Errorf("%s: %w", method, err)
	}
	if err == nil {
		err = checkStatus(method, result)
	}
	return err
}

// CallPath posts to one of monerod's other JSON endpoints (such as
// "/get_transaction_pool_stats") and decodes the answer into result.
func (c *Client) CallPath(ctx context.Context, path string, params, result any) (err error) {
	name := path[1:]
	defer c.report(name, time.Now(), &err)
	body := []byte("{}")
	if params != nil {
		var err error
		if body, err = json.Marshal(params); err != nil {
			return fmt.Errorf("%s: encode request: %w", path, err)
		}
	}
	err = c.do(ctx, c.baseURL+path, c.uriPrefix+path, body, result)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return checkStatus(name, result)
}

func rpcErr(e *RPCError) error {
	if e.Code == -32601 {
		return fmt.Errorf("%w: %w", ErrMethodNotAvailable, e)
	}
	return fmt.Errorf("%w: %w", ErrBadResponse, e)
}

// statusHolder is implemented by every result type: monerod puts "status":
// "OK" in every successful answer, and "BUSY" or an error text otherwise.
type statusHolder interface{ rpcStatus() string }

func checkStatus(name string, result any) error {
	if s, ok := result.(statusHolder); ok {
		if st := s.rpcStatus(); st != "OK" {
			return fmt.Errorf("%s: %w: status %q", name, ErrBadResponse, st)
		}
	}
	return nil
}

func (c *Client) jsonRPCBody(method string, params any) ([]byte, error) {
	if params == nil {
		if b, ok := c.bodies.Load(method); ok {
			return b.([]byte), nil
		}
	}
	req := struct {
		JSONRPC string `json:"jsonrpc"`
		ID      string `json:"id"`
		Method  string `json:"method"`
		Params  any    `json:"params,omitempty"`
	}{"2.0", "0", method, params}
	b, err := json.Marshal(req)
	if err == nil && params == nil {
		c.bodies.Store(method, b)
	}
	return b, err
}

// report tells OnCall how a call went, once its answer has been checked: a
// JSON-RPC error or a status other than OK is not a success.
func (c *Client) report(name string, start time.Time, err *error) {
	if c.onCall != nil {
		c.onCall(name, Outcome(*err), time.Since(start))
	}
}

// do sends one call on a free lane, answering a Digest challenge if monerod
// asks for one, and decodes the body into out.
func (c *Client) do(ctx context.Context, url, uri string, body []byte, out any) error {
	var l *lane
	select {
	case l = <-c.lanes:
	case <-ctx.Done():
		return fmt.Errorf("%w: waiting for a free connection: %w", ErrTimeout, context.Cause(ctx))
	}
	defer func() { c.lanes <- l }()

	answeredFresh := false // sent credentials for a challenge got in this call
	for attempt := 0; ; attempt++ {
		dialsBefore := l.dials.Load()
		resp, err := c.send(ctx, l, url, uri, body)
		if err != nil {
			// A kept-alive connection the node closed meanwhile fails
			// before any answer; the call is read-only, so try once more.
			if attempt == 0 && ctx.Err() == nil && l.dials.Load() == dialsBefore && closedBeforeAnswer(err) {
				continue
			}
			return classifyTransportError(ctx, err)
		}
		if resp.StatusCode == http.StatusUnauthorized {
			challenge := parseDigestChallenge(resp.Header)
			drain(resp.Body)
			if challenge == nil || c.user == "" || answeredFresh {
				l.digest = nil
				return ErrUnauthorized
			}
			l.digest = challenge
			answeredFresh = true
			continue
		}
		defer resp.Body.Close()
		return c.decode(ctx, resp, out)
	}
}

func (c *Client) send(ctx context.Context, l *lane, url, uri string, body []byte) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if c.userAgent != "" {
		req.Header.Set("User-Agent", c.userAgent)
	}
	if l.digest != nil && c.user != "" {
		req.Header.Set("Authorization", l.digest.authorize(c.user, c.pass, http.MethodPost, uri))
	}
	return l.client.Do(req)
}

func (c *Client) decode(ctx context.Context, resp *http.Response, out any) error {
	switch {
	case resp.StatusCode == http.StatusNotFound:
		drain(resp.Body)
		return fmt.Errorf("%w: %w", ErrMethodNotAvailable, &HTTPStatusError{StatusCode: resp.StatusCode})
	case resp.StatusCode != http.StatusOK:
		drain(resp.Body)
		return fmt.Errorf("%w: %w", ErrBadResponse, &HTTPStatusError{StatusCode: resp.StatusCode})
	}
	r := &cappedReader{r: resp.Body, left: c.maxBody}
	if d, ok := out.(bodyDecoder); ok {
		return c.decodeRaw(ctx, resp.ContentLength, r, d)
	}
	dec := json.NewDecoder(r)
	if err := dec.Decode(out); err != nil {
		switch {
		case r.exceeded:
			return fmt.Errorf("%w: more than %d bytes", ErrResponseTooLarge, c.maxBody)
		case ctx.Err() != nil:
			return classifyTransportError(ctx, err)
		case errors.Is(err, io.EOF):
			return fmt.Errorf("%w: empty body", ErrBadResponse)
		}
		var netErr net.Error
		if errors.As(err, &netErr) {
			return classifyTransportError(ctx, err)
		}
		return fmt.Errorf("%w: decode JSON: %w", ErrBadResponse, err)
	}
	// Read what is left (whitespace, normally) so the connection is
	// reused, but never more than the cap allows.
	if _, err := io.Copy(io.Discard, r); err != nil && r.exceeded {
		return fmt.Errorf("%w: more than %d bytes", ErrResponseTooLarge, c.maxBody)
	}
	return nil
}

// bodyDecoder is a result that reads the body itself: the answers monerod
// writes in a JSON that encoding/json refuses (see readEpeeObject).
type bodyDecoder interface {
	decodeBody(b []byte) error
}

// decodeRaw reads the whole body for d, into a buffer of the announced
// length when there is one (a pool's hash list is megabytes: no doubling).
func (c *Client) decodeRaw(ctx context.Context, length int64, r *cappedReader, d bodyDecoder) error {
	var buf bytes.Buffer
	if length > 0 && length <= c.maxBody {
		buf.Grow(int(length) + bytes.MinRead) // ReadFrom wants MinRead free before each read
	}
	_, err := buf.ReadFrom(r)
	b := buf.Bytes()
	switch {
	case r.exceeded:
		return fmt.Errorf("%w: more than %d bytes", ErrResponseTooLarge, c.maxBody)
	case err != nil:
		var netErr net.Error
		if ctx.Err() != nil || errors.As(err, &netErr) {
			return classifyTransportError(ctx, err)
		}
		return fmt.Errorf("%w: %w", ErrBadResponse, err)
	case len(b) == 0:
		return fmt.Errorf("%w: empty body", ErrBadResponse)
	}
	if err := d.decodeBody(b); err != nil {
		return fmt.Errorf("%w: %w", ErrBadResponse, err)
	}
	return nil
}

// cappedReader fails once more than left bytes have been read, so that a
// huge or endless body costs at most the cap in reading and never in memory.
type cappedReader struct {
	r        io.Reader
	left     int64
	exceeded bool
}

func (c *cappedReader) Read(p []byte) (int, error) {
	if c.left <= 0 {
		// Read one byte more to tell "exactly at the cap" from "over".
		var one [1]byte
		n, err := c.r.Read(one[:])
		if n > 0 {
			c.exceeded = true
			return 0, ErrResponseTooLarge
		}
		return 0, err
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	return n, err
}

// drain reads a little of an unwanted body so that its connection can be
// reused, then closes it.
func drain(body io.ReadCloser) {
	_, _ = io.Copy(io.Discard, io.LimitReader(body, 64<<10))
	_ = body.Close()
}

// closedBeforeAnswer reports an error of a connection that ended before any
// answer came: a clean close or a failed read (a reset).
func closedBeforeAnswer(err error) bool {
	var opErr *net.OpError
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		(errors.As(err, &opErr) && !opErr.Timeout() && opErr.Op == "read")
}
