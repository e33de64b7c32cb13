package monerodtest

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/monero-ops/monero_exporter/internal/testenv"
	"github.com/monero-ops/monero_exporter/monerod"
)

type heightResult struct {
	Height int    `json:"height"`
	Status string `json:"status"`
}

func height(t *testing.T, n *Node) int {
	t.Helper()
	var h heightResult
	n.Post(t, "/get_height", nil, &h)
	if h.Status != "OK" {
		t.Fatalf("/get_height status %q", h.Status)
	}
	return h.Height
}

func TestStartMine(t *testing.T) {
	t.Parallel()
	n := Start(t, Options{})
	if got := height(t, n); got != 1 {
		t.Fatalf("fresh chain height = %d, want 1", got)
	}
	n.Mine(t, 3)
	if got := height(t, n); got != 4 {
		t.Fatalf("height after mining 3 = %d, want 4", got)
	}
	var count struct {
		Count int `json:"count"`
	}
	n.RPC(t, "get_block_count", nil, &count)
	if count.Count != 4 {
		t.Fatalf("get_block_count = %d, want 4", count.Count)
	}
	if !strings.HasPrefix(n.URL(), "http://127.0.0.1:") {
		t.Fatalf("URL() = %q", n.URL())
	}
}

func TestMineAt(t *testing.T) {
	t.Parallel()
	n := Start(t, Options{})
	ts := time.Now().Add(-time.Hour).Truncate(time.Second)
	n.MineAt(t, ts)
	var res struct {
		BlockHeader struct {
			Height    int   `json:"height"`
			Timestamp int64 `json:"timestamp"`
		} `json:"block_header"`
	}
	n.RPC(t, "get_last_block_header", nil, &res)
	if res.BlockHeader.Height != 1 || res.BlockHeader.Timestamp != ts.Unix() {
		t.Fatalf("tip = height %d timestamp %d, want height 1 timestamp %d",
			res.BlockHeader.Height, res.BlockHeader.Timestamp, ts.Unix())
	}
}

func TestSetBlockTimestamp(t *testing.T) {
	// major 16, minor 16, timestamp 300 (2-byte varint), then the rest.
	blob, _ := hex.DecodeString("1010ac02" + "aabb")
	got, err := SetBlockTimestamp(blob, 1<<32)
	if err != nil {
		t.Fatal(err)
	}
	if want := "1010" + "8080808010" + "aabb"; hex.EncodeToString(got) != want {
		t.Fatalf("got %x, want %s", got, want)
	}
	if _, err := SetBlockTimestamp([]byte{0x80}, 1); err == nil {
		t.Fatal("truncated blob accepted")
	}
}

func TestLogin(t *testing.T) {
	t.Parallel()
	n := Start(t, Options{Login: "alice:s3cret"})
	n.Mine(t, 2)
	if got := height(t, n); got != 3 {
		t.Fatalf("height = %d, want 3", got)
	}
	// Without credentials monerod refuses.
	resp, err := http.Post(n.URL()+"/get_height", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("no credentials: HTTP %d, want 401", resp.StatusCode)
	}
	// Wrong credentials are refused too.
	bad, err := newClient(n.URL(), Options{Login: "alice:wrong"})
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Close()
	err = bad.CallJSONRPC(t.Context(), "get_block_count", nil, nil)
	if !errors.Is(err, monerod.ErrUnauthorized) || !strings.Contains(err.Error(), "401") {
		t.Fatalf("wrong password: err = %v, want HTTP 401", err)
	}
}

func TestTLS(t *testing.T) {
	t.Parallel()
	ca, cert, key := NewTLS(t)
	n := Start(t, Options{TLSCAFile: ca, TLSCertFile: cert, TLSKeyFile: key})
	if !strings.HasPrefix(n.URL(), "https://127.0.0.1:") {
		t.Fatalf("URL() = %q", n.URL())
	}
	n.Mine(t, 1)
	// An independent client that trusts only our CA verifies the server.
	pem, err := os.ReadFile(ca)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := c.Post(n.URL()+"/get_height", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("HTTP %d", resp.StatusCode)
	}
}

func TestRestartKeepsChain(t *testing.T) {
	t.Parallel()
	n := Start(t, Options{})
	n.Mine(t, 5)
	rpc := n.RPCAddr
	n.Restart(t)
	if n.RPCAddr != rpc {
		t.Fatalf("restart moved RPC from %s to %s", rpc, n.RPCAddr)
	}
	if got := height(t, n); got != 6 {
		t.Fatalf("height after restart = %d, want 6", got)
	}
	n.RestartWith(t, Options{Restricted: true})
	var info struct {
		Restricted bool `json:"restricted"`
		Height     int  `json:"height"`
	}
	n.RPC(t, "get_info", nil, &info)
	if !info.Restricted || info.Height != 6 {
		t.Fatalf("restricted restart: restricted=%v height=%d, want true 6", info.Restricted, info.Height)
	}
}

func TestFreezeThaw(t *testing.T) {
	t.Parallel()
	n := Start(t, Options{})
	n.Freeze(t)
	c := &http.Client{Timeout: 300 * time.Millisecond}
	if _, err := c.Post(n.URL()+"/get_height", "application/json", strings.NewReader("{}")); err == nil {
		t.Fatal("frozen node answered")
	}
	n.Thaw(t)
	if got := height(t, n); got != 1 {
		t.Fatalf("height = %d, want 1", got)
	}
	// Cleanup must cope with a frozen node.
	n.Freeze(t)
}

func TestStar(t *testing.T) {
	t.Parallel()
	nodes := StartStar(t, 2, Options{})
	hub, leaf := nodes[0], nodes[1]
	hub.WaitPeers(t, 1, 30*time.Second)
	leaf.WaitPeers(t, 1, 30*time.Second)
	hub.Mine(t, 3)
	testenv.Eventually(t, "the leaf at height 4", 30*time.Second, func() (bool, string) {
		h := height(t, leaf)
		return h == 4, fmt.Sprintf("height %d", h)
	})
}

func TestWallet(t *testing.T) {
	t.Parallel()
	n := Start(t, Options{})
	w := StartWallet(t, n)
	w.Fund(t, n, 20)
	var sub struct {
		Address string `json:"address"`
	}
	w.RPC(t, "create_address", map[string]any{"account_index": 0}, &sub)
	hash := w.Transfer(t, sub.Address, 1e12)
	var pool struct {
		PoolStats struct {
			TxsTotal int `json:"txs_total"`
		} `json:"pool_stats"`
	}
	n.Post(t, "/get_transaction_pool_stats", nil, &pool)
	if pool.PoolStats.TxsTotal != 1 {
		t.Fatalf("pool has %d txs after transfer %s, want 1", pool.PoolStats.TxsTotal, hash)
	}
}

func TestStartReportsBindFailure(t *testing.T) {
	t.Parallel()
	bin := Require(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	dir := t.TempDir()
	n := &Node{bin: bin, DataDir: dir, LogFile: filepath.Join(dir, "monerod.out")}
	t.Cleanup(func() { _ = n.stop() })
	begin := time.Now()
	err = n.start(Options{DataDir: dir, RPCPort: l.Addr().(*net.TCPAddr).Port, P2PPort: testenv.FreePort(t)})
	if err == nil || !isBindError(err) {
		t.Fatalf("start on a taken port: err = %v, want a bind error", err)
	}
	if d := time.Since(begin); d > 15*time.Second {
		t.Errorf("failure took %v; the early exit should be noticed at once", d)
	}
}
