package monerodtest

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/monero-ops/monero_exporter/internal/testenv"
	"github.com/monero-ops/monero_exporter/monerod"
)

// CoinbaseUnlock is how many blocks a coinbase output stays locked.
const CoinbaseUnlock = 60

// Wallet is a monero-wallet-rpc process serving one fresh wallet, started
// by StartWallet. Regtest daemons use mainnet addresses, so the wallet runs
// without a network flag (monero-wallet-rpc has no --regtest).
type Wallet struct {
	// RPCAddr is the wallet RPC address, "127.0.0.1:P" (plain HTTP, no login).
	RPCAddr string
	// Dir holds the wallet files, the ring database and the log.
	Dir string
	// LogFile collects the wallet's stdout and stderr.
	LogFile string
	// Address is the primary address of the wallet.
	Address string

	// client speaks JSON-RPC to the wallet: the wallet's protocol is
	// monerod's, so the production client serves.
	client *monerod.Client
}

// RequireWallet returns the path of monero-wallet-rpc, skipping the test
// when it is missing (failing when env CI is non-empty), like Require.
func RequireWallet(t testing.TB) string {
	t.Helper()
	return testenv.RequireTool(t, "monero-wallet-rpc", "monero")
}

// StartWallet starts monero-wallet-rpc against daemon as a trusted daemon,
// creates an empty wallet and registers a cleanup that stops the process.
func StartWallet(t testing.TB, daemon *Node) *Wallet {
	t.Helper()
	bin := RequireWallet(t)
	dir := t.TempDir()
	port := testenv.FreePort(t)
	w := &Wallet{
		RPCAddr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
		Dir:     dir,
		LogFile: filepath.Join(dir, "wallet.out"),
	}
	client, err := newClient("http://"+w.RPCAddr, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(client.Close)
	w.client = client
	args := []string{
		"--daemon-address", daemon.RPCAddr, "--trusted-daemon",
		"--rpc-bind-ip", "127.0.0.1", "--rpc-bind-port", strconv.Itoa(port),
		"--disable-rpc-login", "--rpc-ssl", "disabled", "--non-interactive",
		"--wallet-dir", dir, "--shared-ringdb-dir", filepath.Join(dir, "ringdb"),
		"--log-file", filepath.Join(dir, "wallet.log"),
	}
	if daemon.Opts.Login != "" {
		args = append(args, "--daemon-login", daemon.Opts.Login)
	}
	if daemon.Opts.tls() {
		args = append(args, "--daemon-ssl", "enabled", "--daemon-ssl-allow-any-cert")
	} else {
		args = append(args, "--daemon-ssl", "disabled")
	}
	p, err := testenv.StartProcess(w.LogFile, bin, args...)
	if err != nil {
		t.Fatalf("starting monero-wallet-rpc: %v", err)
	}
	t.Cleanup(func() {
		if err := p.Stop(); err != nil {
			t.Errorf("stopping monero-wallet-rpc: %v", err)
		}
	})
	if err := p.WaitReady(func() error { return w.Call("get_version", nil, nil) }, DefaultReadyTimeout); err != nil {
		t.Fatalf("monero-wallet-rpc: %v\n%s", err, p.Tail(40))
	}
	w.RPC(t, "create_wallet", map[string]any{"filename": "test", "password": "", "language": "English"}, nil)
	var addr struct {
		Address string `json:"address"`
	}
	w.RPC(t, "get_address", map[string]any{"account_index": 0}, &addr)
	w.Address = addr.Address
	return w
}

// Call calls a wallet JSON-RPC method and decodes its result into result
// (if non-nil), returning transport, HTTP and JSON-RPC errors.
func (w *Wallet) Call(method string, params, result any) error {
	ctx, cancel := context.WithTimeout(context.Background(), rpcTimeout)
	defer cancel()
	if err := w.client.CallJSONRPC(ctx, method, params, result); err != nil {
		return fmt.Errorf("wallet %w", err)
	}
	return nil
}

// RPC is Call that fails the test on error.
func (w *Wallet) RPC(t testing.TB, method string, params, result any) {
	t.Helper()
	if err := w.Call(method, params, result); err != nil {
		t.Fatal(err)
	}
}

// Fund mines blocks+CoinbaseUnlock blocks on daemon to the wallet, so that
// blocks coinbase outputs are spendable, and refreshes the wallet. A
// transfer needs 16 unlocked outputs on the chain for its ring (15 decoys),
// so fund at least 20 blocks before the first Transfer.
func (w *Wallet) Fund(t testing.TB, daemon *Node, blocks int) {
	t.Helper()
	daemon.MineTo(t, w.Address, blocks+CoinbaseUnlock)
	w.Refresh(t)
}

// Refresh makes the wallet scan the daemon's new blocks.
func (w *Wallet) Refresh(t testing.TB) {
	t.Helper()
	w.RPC(t, "refresh", nil, nil)
}

// Transfer sends amount atomic units to address, relayed through the
// daemon, and returns the transaction hash.
func (w *Wallet) Transfer(t testing.TB, address string, amount uint64) string {
	t.Helper()
	var res struct {
		TxHash string `json:"tx_hash"`
	}
	w.RPC(t, "transfer", map[string]any{
		"destinations": []map[string]any{{"address": address, "amount": amount}},
		"priority":     0,
	}, &res)
	return res.TxHash
}
