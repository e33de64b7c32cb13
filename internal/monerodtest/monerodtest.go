// Package monerodtest starts real monerod processes in regtest mode for
// integration tests: free loopback ports, readiness polling, cleanup, mining
// and direct RPC access (including HTTP Digest login and TLS).
//
// Every helper that takes a testing.TB fails the test on error, so it must be
// called from the goroutine running the test.
package monerodtest

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/monero-ops/monero_exporter/internal/testenv"
	"github.com/monero-ops/monero_exporter/monerod"
)

// DonationAddress is the Monero donation address, a valid mainnet address
// that regtest nodes accept as a mining destination.
const DonationAddress = "44AFFq5kSiGBoZ4NMDwYtN18obc8AemS33DBLWs3H7otXft3XjrpDtQGv7SqSsaBYBb98uNbr2VBBEt7f2wfn3RVGQBEP3A"

// DefaultReadyTimeout is how long Start waits for the RPC server to answer
// when Options.ReadyTimeout is zero.
const DefaultReadyTimeout = 30 * time.Second

// Require returns the path of the monerod binary: testenv.RequireTool, so
// a missing monerod skips the test, or fails it when CI is set.
func Require(t testing.TB) string {
	t.Helper()
	return testenv.RequireTool(t, "monerod", "monero")
}

// Int returns a pointer to n, for the optional integer fields of Options.
func Int(n int) *int { return &n }

// Options selects how a node is started. The zero value is an offline,
// unrestricted regtest node with plain HTTP RPC and a fresh data directory.
type Options struct {
	// Restricted adds --restricted-rpc.
	Restricted bool
	// Login, as "user:pass", adds --rpc-login; the Node's own RPC helpers
	// then answer the HTTP Digest challenge with it.
	Login string
	// Online drops --offline, which a node needs to talk to peers.
	Online bool
	// ExclusiveNodes are p2p addresses (host:port) added with
	// --add-exclusive-node, together with --allow-local-ip. Non-empty
	// implies Online.
	ExclusiveNodes []string
	// OutPeers, when non-nil, adds --out-peers N; Int(0) stops the node
	// from dialing anyone.
	OutPeers *int
	// InPeers, when non-nil, adds --in-peers N.
	InPeers *int
	// NoSync adds --no-sync, which keeps the node behind its peers.
	NoSync bool
	// KeepFakechain adds --keep-fakechain; without it regtest wipes the
	// chain at every start.
	KeepFakechain bool
	// DataDir is the data directory; empty means a fresh t.TempDir().
	DataDir string
	// TLSCertFile and TLSKeyFile, when both set, start the RPC server with
	// --rpc-ssl enabled and this certificate; otherwise --rpc-ssl disabled.
	TLSCertFile, TLSKeyFile string
	// TLSCAFile, when set, makes the Node's own client verify the server
	// certificate against this CA; otherwise the client skips verification.
	TLSCAFile string
	// RPCPort and P2PPort fix the ports; zero picks free loopback ports.
	RPCPort, P2PPort int
	// ReadyTimeout bounds the wait for RPC readiness; zero means
	// DefaultReadyTimeout.
	ReadyTimeout time.Duration
	// ExtraArgs are appended to the monerod command line.
	ExtraArgs []string
}

// Node is a running (or stopped) monerod started by Start.
type Node struct {
	// RPCAddr is the RPC listen address, "127.0.0.1:P".
	RPCAddr string
	// P2PAddr is the p2p listen address, "127.0.0.1:Q".
	P2PAddr string
	// DataDir is the node's data directory.
	DataDir string
	// LogFile collects monerod's stdout and stderr across restarts.
	LogFile string
	// Opts are the options the node was last started with, with DataDir
	// and the ports filled in.
	Opts Options

	bin string

	mu     sync.Mutex
	client *monerod.Client  // the production client, for RPC, Call and Post
	proc   *testenv.Process // nil when stopped
}

// Start starts monerod in regtest mode with opts, waits until its RPC server
// answers /get_height and registers a cleanup that stops it. The process
// exiting early or not becoming ready in time fails the test, with the tail
// of monerod's log.
func Start(t testing.TB, opts Options) *Node {
	t.Helper()
	bin := Require(t)
	if opts.DataDir == "" {
		opts.DataDir = t.TempDir()
	}
	fixedPorts := opts.RPCPort != 0 || opts.P2PPort != 0
	n := &Node{bin: bin, DataDir: opts.DataDir, LogFile: filepath.Join(opts.DataDir, "monerod.out")}
	t.Cleanup(func() {
		if err := n.stop(); err != nil {
			t.Errorf("stopping monerod: %v", err)
		}
	})
	// A free port can be taken again before monerod binds it; retry with
	// new ports when the ports were ours to choose.
	const attempts = 3
	for i := 1; ; i++ {
		o := opts
		if o.RPCPort == 0 {
			o.RPCPort = testenv.FreePort(t)
		}
		if o.P2PPort == 0 {
			o.P2PPort = testenv.FreePort(t)
		}
		err := n.start(o)
		if err == nil {
			return n
		}
		if fixedPorts || i == attempts || !isBindError(err) {
			t.Fatalf("starting monerod: %v", err)
		}
		t.Logf("starting monerod (attempt %d): %v; retrying with other ports", i, err)
	}
}

// StartStar starts n peered nodes on loopback as a star: nodes[0] dials
// every other node, the others dial nobody (--out-peers 0), because a node
// accepts only one inbound connection from 127.0.0.1. opts apply to every
// node; its ports, ExclusiveNodes, OutPeers and DataDir are ignored. It does
// not wait for the peers to connect: see WaitPeers.
func StartStar(t testing.TB, n int, opts Options) []*Node {
	t.Helper()
	if n < 2 {
		t.Fatalf("StartStar needs at least 2 nodes, got %d", n)
	}
	hub := opts
	hub.RPCPort, hub.P2PPort = testenv.FreePort(t), testenv.FreePort(t)
	hub.DataDir, hub.OutPeers, hub.ExclusiveNodes = "", nil, nil
	hubAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(hub.P2PPort))
	nodes := make([]*Node, n)
	for i := 1; i < n; i++ {
		leaf := opts
		leaf.RPCPort, leaf.P2PPort, leaf.DataDir = 0, 0, ""
		leaf.ExclusiveNodes = []string{hubAddr}
		leaf.OutPeers = Int(0)
		nodes[i] = Start(t, leaf)
		hub.ExclusiveNodes = append(hub.ExclusiveNodes, nodes[i].P2PAddr)
	}
	nodes[0] = Start(t, hub)
	return nodes
}

// WaitPeers waits until get_connections on n lists at least want peers,
// failing the test after timeout.
func (n *Node) WaitPeers(t testing.TB, want int, timeout time.Duration) {
	t.Helper()
	testenv.Eventually(t, fmt.Sprintf("%d peers of monerod %s", want, n.RPCAddr), timeout, func() (bool, string) {
		var res struct {
			Connections []json.RawMessage `json:"connections"`
		}
		n.RPC(t, "get_connections", nil, &res)
		return len(res.Connections) >= want, fmt.Sprintf("%d peers", len(res.Connections))
	})
}

// isBindError tells a port taken by someone else, which monerod logs as
// "Error starting server: Failed to bind IPv4" and exits.
func isBindError(err error) bool {
	return strings.Contains(err.Error(), "Failed to bind")
}

func (o Options) args() []string {
	a := []string{
		"--regtest", "--fixed-difficulty", "1", "--non-interactive", "--no-igd", "--no-zmq",
		"--disable-dns-checkpoints", "--check-updates", "disabled",
		"--data-dir", o.DataDir, "--log-file", filepath.Join(o.DataDir, "monerod.log"),
		"--rpc-bind-ip", "127.0.0.1", "--rpc-bind-port", strconv.Itoa(o.RPCPort),
		"--p2p-bind-ip", "127.0.0.1", "--p2p-bind-port", strconv.Itoa(o.P2PPort),
	}
	if !o.Online && len(o.ExclusiveNodes) == 0 {
		a = append(a, "--offline")
	}
	if len(o.ExclusiveNodes) > 0 {
		a = append(a, "--allow-local-ip")
		for _, x := range o.ExclusiveNodes {
			a = append(a, "--add-exclusive-node", x)
		}
	}
	if o.OutPeers != nil {
		a = append(a, "--out-peers", strconv.Itoa(*o.OutPeers))
	}
	if o.InPeers != nil {
		a = append(a, "--in-peers", strconv.Itoa(*o.InPeers))
	}
	if o.tls() {
		a = append(a, "--rpc-ssl", "enabled", "--rpc-ssl-certificate", o.TLSCertFile, "--rpc-ssl-private-key", o.TLSKeyFile)
	} else {
		a = append(a, "--rpc-ssl", "disabled")
	}
	if o.Restricted {
		a = append(a, "--restricted-rpc")
	}
	if o.Login != "" {
		a = append(a, "--rpc-login", o.Login)
	}
	if o.NoSync {
		a = append(a, "--no-sync")
	}
	if o.KeepFakechain {
		a = append(a, "--keep-fakechain")
	}
	return append(a, o.ExtraArgs...)
}

func (o Options) tls() bool { return o.TLSCertFile != "" && o.TLSKeyFile != "" }

// start launches monerod with o (ports and DataDir set) and waits for
// readiness. On failure the process is stopped and the error carries the
// log tail.
func (n *Node) start(o Options) error {
	rpcAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(o.RPCPort))
	client, err := newClient(o.url(rpcAddr), o)
	if err != nil {
		return err
	}
	p, err := testenv.StartProcess(n.LogFile, n.bin, o.args()...)
	if err != nil {
		client.Close()
		return err
	}
	n.mu.Lock()
	n.Opts = o
	n.RPCAddr = rpcAddr
	n.P2PAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(o.P2PPort))
	n.client = client
	n.proc = p
	n.mu.Unlock()

	ready := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		return client.CallPath(ctx, "/get_height", nil, &struct{}{})
	}
	if err := p.WaitReady(ready, o.readyTimeout()); err != nil {
		_ = n.stop()
		return fmt.Errorf("monerod: RPC: %w\n%s", err, p.Tail(40))
	}
	return nil
}

func (o Options) readyTimeout() time.Duration {
	if o.ReadyTimeout > 0 {
		return o.ReadyTimeout
	}
	return DefaultReadyTimeout
}

// stop stops the current process, if any.
func (n *Node) stop() error {
	n.mu.Lock()
	p, client := n.proc, n.client
	n.proc = nil
	n.mu.Unlock()
	if client != nil {
		client.Close()
	}
	if p == nil {
		return nil
	}
	return p.Stop()
}

// Stop sends SIGTERM to the node and waits for it to exit (SIGKILL after
// 10 s). A frozen node is thawed first.
func (n *Node) Stop(t testing.TB) {
	t.Helper()
	if err := n.stop(); err != nil {
		t.Fatal(err)
	}
}

// Restart stops the node if it runs and starts it again on the same ports
// and data directory with --keep-fakechain, waiting until it is ready.
func (n *Node) Restart(t testing.TB) {
	t.Helper()
	n.RestartWith(t, n.Opts)
}

// RestartWith is Restart with different options: the ports and data
// directory stay, and KeepFakechain is forced on, so the chain survives
// (for example to restart a node with Restricted set).
func (n *Node) RestartWith(t testing.TB, opts Options) {
	t.Helper()
	if err := n.stop(); err != nil {
		t.Fatal(err)
	}
	opts.RPCPort, opts.P2PPort, opts.DataDir = n.Opts.RPCPort, n.Opts.P2PPort, n.DataDir
	opts.KeepFakechain = true
	if err := n.start(opts); err != nil {
		t.Fatalf("restarting monerod: %v", err)
	}
}

// Freeze sends SIGSTOP: the node keeps accepting TCP connections but never
// answers until Thaw.
func (n *Node) Freeze(t testing.TB) {
	t.Helper()
	n.signal(t, syscall.SIGSTOP)
	// kill(2) returns before the target has stopped; a busy machine could
	// let monerod answer one more request. Wait until every thread shows
	// state T (stopped) where /proc says so.
	deadline := time.Now().Add(5 * time.Second)
	for !allThreadsStopped(n.PID()) {
		if time.Now().After(deadline) {
			t.Fatalf("monerod %s did not stop within 5s of SIGSTOP", n.RPCAddr)
		}
		time.Sleep(time.Millisecond)
	}
}

// allThreadsStopped reports whether every thread of pid is stopped, or true
// where /proc cannot tell (not Linux).
func allThreadsStopped(pid int) bool {
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return true
	}
	for _, task := range tasks {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/stat", pid, task.Name()))
		if err != nil {
			continue // the thread ended
		}
		// The state follows the command name's closing parenthesis.
		i := strings.LastIndexByte(string(stat), ')')
		if i < 0 || i+2 >= len(stat) || (stat[i+2] != 'T' && stat[i+2] != 't') {
			return false
		}
	}
	return true
}

// Thaw sends SIGCONT to a node stopped by Freeze.
func (n *Node) Thaw(t testing.TB) {
	t.Helper()
	n.signal(t, syscall.SIGCONT)
}

func (n *Node) signal(t testing.TB, sig syscall.Signal) {
	t.Helper()
	n.mu.Lock()
	p := n.proc
	n.mu.Unlock()
	if p == nil {
		t.Fatalf("monerod %s is not running", n.RPCAddr)
	}
	if err := p.Signal(sig); err != nil {
		t.Fatalf("signal %v to monerod: %v", sig, err)
	}
}

// PID returns the process id of the running monerod, or 0 when stopped.
func (n *Node) PID() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.proc == nil {
		return 0
	}
	return n.proc.PID()
}

// URL returns the base URL of the RPC server, "http://127.0.0.1:P", or
// https when the node serves TLS.
func (n *Node) URL() string { return n.Opts.url(n.RPCAddr) }

func (o Options) url(rpcAddr string) string {
	if o.tls() {
		return "https://" + rpcAddr
	}
	return "http://" + rpcAddr
}

// Mine mines blocks blocks to DonationAddress with generateblocks.
func (n *Node) Mine(t testing.TB, blocks int) {
	t.Helper()
	n.MineTo(t, DonationAddress, blocks)
}

// MineTo mines blocks blocks to addr with generateblocks, at most
// mineChunk per call, so that no one call nears rpcTimeout on a loaded
// machine. A networked node answers "BUSY" until it counts itself
// synchronized; MineTo retries that for up to 30 s.
func (n *Node) MineTo(t testing.TB, addr string, blocks int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for blocks > 0 {
		chunk := min(blocks, mineChunk)
		var res struct {
			Height int    `json:"height"`
			Status string `json:"status"`
		}
		n.RPC(t, "generateblocks", map[string]any{"amount_of_blocks": chunk, "wallet_address": addr}, &res)
		switch {
		case res.Status == "OK":
			blocks -= chunk
		case res.Status != "BUSY" || time.Now().After(deadline):
			t.Fatalf("generateblocks on %s: status %q", n.RPCAddr, res.Status)
		default:
			time.Sleep(250 * time.Millisecond)
		}
	}
}

// mineChunk is how many blocks one generateblocks call of MineTo asks for.
const mineChunk = 20

// MineAt mines one block whose header timestamp is ts: it takes a block
// template, rewrites the timestamp and submits it (difficulty 1 accepts any
// nonce). monerod rejects timestamps more than 2 h ahead or not above the
// median of the last 60 blocks; on a fresh chain (genesis at 0) any past
// time works.
func (n *Node) MineAt(t testing.TB, ts time.Time) {
	t.Helper()
	var tmpl struct {
		Blob   string `json:"blocktemplate_blob"`
		Status string `json:"status"`
	}
	// Right after start monerod may answer -9 "Core is busy" for a moment.
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := n.Call("get_block_template", map[string]any{"wallet_address": DonationAddress, "reserve_size": 0}, &tmpl)
		if err == nil {
			break
		}
		if !strings.Contains(strings.ToLower(err.Error()), "busy") || time.Now().After(deadline) {
			t.Fatalf("get_block_template on %s: %v", n.RPCAddr, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	blob, err := hex.DecodeString(tmpl.Blob)
	if err != nil {
		t.Fatalf("get_block_template: bad blob: %v", err)
	}
	blob, err = SetBlockTimestamp(blob, uint64(ts.Unix()))
	if err != nil {
		t.Fatalf("get_block_template: %v", err)
	}
	var res struct {
		Status string `json:"status"`
	}
	n.RPC(t, "submit_block", []string{hex.EncodeToString(blob)}, &res)
	if res.Status != "OK" {
		t.Fatalf("submit_block: status %q", res.Status)
	}
}

// SetBlockTimestamp returns a copy of a serialized block (or block template)
// whose header timestamp is ts. The header starts with three varints: major
// version, minor version, timestamp.
func SetBlockTimestamp(blob []byte, ts uint64) ([]byte, error) {
	off := 0
	for i := 0; i < 2; i++ {
		_, k := binary.Uvarint(blob[off:])
		if k <= 0 {
			return nil, errors.New("block blob: bad version varint")
		}
		off += k
	}
	_, k := binary.Uvarint(blob[off:])
	if k <= 0 {
		return nil, errors.New("block blob: bad timestamp varint")
	}
	out := make([]byte, 0, len(blob)+binary.MaxVarintLen64)
	out = append(out, blob[:off]...)
	out = binary.AppendUvarint(out, ts)
	return append(out, blob[off+k:]...), nil
}

// Call is RPC without the testing.TB: it returns an error instead of
// failing, for polling and for code that runs outside the test goroutine.
func (n *Node) Call(method string, params, result any) error {
	client, err := n.rpcClient()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), rpcTimeout)
	defer cancel()
	return client.CallJSONRPC(ctx, method, params, result)
}

// RPC calls a JSON-RPC method on /json_rpc and decodes its "result" into
// result (if non-nil). Transport errors, non-200 answers and JSON-RPC
// errors fail the test. params may be nil.
func (n *Node) RPC(t testing.TB, method string, params, result any) {
	t.Helper()
	if err := n.Call(method, params, result); err != nil {
		t.Fatalf("monerod %s: %v", n.RPCAddr, err)
	}
}

// Post posts body as JSON (nil sends {}) to a non-JSON-RPC endpoint such as
// "/get_transaction_pool_stats" and decodes the answer into result (if
// non-nil). A non-200 answer fails the test; the "status" field is left to
// the caller.
func (n *Node) Post(t testing.TB, path string, body, result any) {
	t.Helper()
	client, err := n.rpcClient()
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), rpcTimeout)
		defer cancel()
		if result == nil {
			result = &json.RawMessage{}
		}
		err = client.CallPath(ctx, path, body, result)
	}
	if err != nil {
		t.Fatalf("monerod %s: %v", n.RPCAddr, err)
	}
}

func (n *Node) rpcClient() (*monerod.Client, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.client == nil {
		return nil, errors.New("node is not running")
	}
	return n.client, nil
}

// Raw posts body unchanged to path, without credentials (a login node
// answers 401), and returns the status, headers and body exactly as
// monerod answered. A TLS node's certificate is not verified. Only
// transport errors fail the test.
func (n *Node) Raw(t testing.TB, path string, body []byte) (int, http.Header, []byte) {
	t.Helper()
	c := &http.Client{Timeout: rpcTimeout, Transport: &http.Transport{
		DisableKeepAlives: true,
		TLSClientConfig:   &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // a test harness reading its own node
	}}
	resp, err := c.Post(n.URL()+path, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatalf("monerod %s: %s: %v", n.RPCAddr, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("monerod %s: %s: %v", n.RPCAddr, path, err)
	}
	return resp.StatusCode, resp.Header, b
}

// rpcTimeout bounds one call; generateblocks of a hundred blocks takes
// several seconds.
const rpcTimeout = 2 * time.Minute

// ClientConns is how many connections the Node's own client keeps open to
// its node at most: they belong to the test process too, beside those of
// the code under test.
const ClientConns = 4

// newClient is the production client (monerod.New) for a node at url
// started with o: it answers the Digest challenge of a login node, and
// verifies a TLS node against TLSCAFile, or not at all without one.
func newClient(url string, o Options) (*monerod.Client, error) {
	u, err := monerod.ParseAddress(url, 18081)
	if err != nil {
		return nil, err
	}
	cfg := monerod.Config{URL: u, MaxConnections: ClientConns, UserAgent: "monerodtest"}
	if o.Login != "" {
		cfg.User, cfg.Password, _ = strings.Cut(o.Login, ":")
	}
	if o.tls() {
		cfg.TLSCAFile = o.TLSCAFile
		cfg.TLSInsecureSkipVerify = o.TLSCAFile == ""
	}
	return monerod.New(cfg)
}

// NewTLS writes a fresh CA certificate and a server certificate (with IP
// SAN 127.0.0.1, signed by the CA) and its key as PEM files into a
// t.TempDir(), for Options.TLSCAFile, TLSCertFile and TLSKeyFile.
func NewTLS(t testing.TB) (caFile, certFile, keyFile string) {
	t.Helper()
	dir := t.TempDir()
	caPEM, certPEM, keyPEM, err := newCertificates()
	if err != nil {
		t.Fatalf("NewTLS: %v", err)
	}
	caFile = filepath.Join(dir, "ca.pem")
	certFile = filepath.Join(dir, "server.pem")
	keyFile = filepath.Join(dir, "server-key.pem")
	for f, b := range map[string][]byte{caFile: caPEM, certFile: certPEM, keyFile: keyPEM} {
		if err := os.WriteFile(f, b, 0o600); err != nil {
			t.Fatalf("NewTLS: %v", err)
		}
	}
	return caFile, certFile, keyFile
}
