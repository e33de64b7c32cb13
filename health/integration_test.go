package health

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/monero-ops/monero_exporter/internal/monerodtest"
	"github.com/monero-ops/monero_exporter/internal/testenv"
)

// Integration tests against real regtest monerods. They are skipped when
// monerod is not installed, and fail then when the environment variable CI
// is set (monerodtest.Require).

// liveHandler serves the health endpoints of node with cfg, from a snapshot
// source that fetches the connections collector's data (and dials p2p when set).
func liveHandler(t *testing.T, node *monerodtest.Node, cfg Config) http.Handler {
	t.Helper()
	cfg.DaemonAddress = node.RPCAddr
	cfg.ExporterVersion = "test"
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	return NewHandler(healthSource(t, node.URL(), cfg.P2PAddress), cfg, 5*time.Second, nil)
}

// probe is /health's body, decoded.
type probe struct {
	Status      string `json:"status"`
	Description string `json:"description"`
	Checks      map[string][]struct {
		Status        string `json:"status"`
		Output        string `json:"output"`
		ObservedValue any    `json:"observedValue"`
	} `json:"checks"`
}

func getProbe(t *testing.T, h http.Handler, target string) (int, probe) {
	t.Helper()
	rec := serve(t, h, "GET", target)
	var p probe
	decode(t, rec, &p)
	return rec.Code, p
}

func (p probe) check(name string) (status, output string) {
	if c := p.Checks[name]; len(c) == 1 {
		return c[0].Status, c[0].Output
	}
	return "absent", ""
}

// v1Status returns the "status" of a /api/v1/.../health endpoint.
func v1StatusOf(t *testing.T, h http.Handler, path string) string {
	t.Helper()
	var body struct {
		Result v1Status `json:"result"`
	}
	rec := serve(t, h, "GET", path)
	if rec.Code != 200 || rec.Header().Get("Content-Type") != ContentTypeV1 {
		t.Errorf("%s: %d %q, want 200 %s", path, rec.Code, rec.Header().Get("Content-Type"), ContentTypeV1)
	}
	decode(t, rec, &body)
	return body.Result.Status
}

// rpcChecks are the checks a single offline node can pass: it has no peers.
func rpcChecks() []string { return []string{CheckMonerod, CheckLastBlock, CheckSync} }

func TestIntegrationFreshBlocks(t *testing.T) {
	monerodtest.Require(t)
	t.Parallel()
	node := monerodtest.Start(t, monerodtest.Options{})
	node.Mine(t, 5)
	var hdr struct {
		BlockHeader struct {
			Hash      string `json:"hash"`
			Timestamp int64  `json:"timestamp"`
		} `json:"block_header"`
	}
	node.RPC(t, "get_last_block_header", nil, &hdr)

	cfg := DefaultConfig()
	cfg.Checks = rpcChecks()
	h := liveHandler(t, node, cfg)

	for _, path := range []string{PathV1Health, PathV1MonerodHealth, PathV1LastBlockHealth} {
		if got := v1StatusOf(t, h, path); got != "OK" {
			t.Errorf("%s = %s, want OK", path, got)
		}
	}
	wantTS := time.Unix(hdr.BlockHeader.Timestamp, 0).UTC().Format(v1TimeFormat)
	if r := lastBlockOf(t, h); !r.BlockRecent || r.Hash != hdr.BlockHeader.Hash || r.BlockTimestamp != wantTS || r.Error != nil ||
		r.Offset != float64(12) || r.OffsetUnit != "minutes" {
		t.Errorf("/api/v1/last_block = %+v, want recent block %s at %s", r, hdr.BlockHeader.Hash, wantTS)
	}
	if v, ok := monerodOf(t, h).Version.(float64); !ok || v < 1 {
		t.Errorf("/api/v1/monerod version = %v, want the hard-fork version", v)
	}

	code, p := getProbe(t, h, "/health")
	if code != 200 || p.Status != "pass" {
		t.Errorf("/health = %d %+v, want 200 pass", code, p)
	}
	if !strings.HasPrefix(p.Description, "monero_exporter test, monerod 0.") {
		t.Errorf("description = %q", p.Description)
	}
	// An offline node has no peer: with the default checks it fails.
	code, p = getProbe(t, liveHandler(t, node, DefaultConfig()), "/health")
	if st, out := p.check(CheckPeers); code != 503 || st != "fail" || out != OutputNoSyncedPeer {
		t.Errorf("default checks on an offline node: %d, peers %s %q; want 503, fail", code, st, out)
	}
}

func TestIntegrationStaleTip(t *testing.T) {
	monerodtest.Require(t)
	t.Parallel()
	node := monerodtest.Start(t, monerodtest.Options{})
	cfg := DefaultConfig()
	cfg.Checks = rpcChecks()

	t.Run("block an hour old", func(t *testing.T) {
		node.MineAt(t, time.Now().Add(-time.Hour))
		h := liveHandler(t, node, cfg)
		if got := v1StatusOf(t, h, PathV1LastBlockHealth); got != "ERROR" {
			t.Errorf("last_block = %s, want ERROR", got)
		}
		if e := lastBlockOf(t, h).Error; e == nil || e.Message != "Last block's timestamp is older than '12 [minutes]'." ||
			!strings.HasPrefix(e.Error, "Last block's age is '1:00:") {
			t.Errorf("error = %+v", e)
		}
		if got := v1StatusOf(t, h, PathV1Health); got != "ERROR" {
			t.Errorf("/api/v1/health = %s, want ERROR", got)
		}
	})

	// A lone node (offline: no peer) whose tip is older than /health's
	// limit fails: nothing tells that the network is slow rather than the
	// node cut off. /api/v1 keeps its 12 minutes.
	t.Run("lone node past a short max age", func(t *testing.T) {
		node.Mine(t, 1)
		short := cfg
		short.LastBlockMaxAge = 2 * time.Second
		h := liveHandler(t, node, short)
		testenv.Eventually(t, "the lone node's /health to fail", 30*time.Second, func() (bool, string) {
			code, p := getProbe(t, h, "/health")
			st, out := p.check(CheckLastBlock)
			return code == 503 && p.Status == "fail" && st == "fail" && out == OutputNoRecentBlocks,
				fmt.Sprintf("/health %d %s, last_block %s %q", code, p.Status, st, out)
		})
		code, p := getProbe(t, h, "/health?strict_status_code=1")
		if code != 200 || p.Status != "fail" {
			t.Errorf("strict /health = %d %s, want 200 fail", code, p.Status)
		}
		if got := v1StatusOf(t, h, PathV1LastBlockHealth); got != "OK" {
			t.Errorf("/api/v1/last_block/health = %s, want OK (the tip is seconds old, the limit 12 minutes)", got)
		}
		if lb := lastBlockOf(t, h); lb.Offset != float64(12) || lb.OffsetUnit != "minutes" {
			t.Errorf("offset shown as %v %s, want 12 minutes", lb.Offset, lb.OffsetUnit)
		}
	})
}

// heightOf is the node's height (get_info).
func heightOf(t *testing.T, node *monerodtest.Node) uint64 {
	t.Helper()
	var info struct {
		Height uint64 `json:"height"`
	}
	node.RPC(t, "get_info", nil, &info)
	return info.Height
}

// TestIntegrationStaleTipSlowNetwork: two peered nodes, no block past
// /health's limit. Neither is behind the other: the network is slow, not
// the nodes, and both warn with 200.
func TestIntegrationStaleTipSlowNetwork(t *testing.T) {
	monerodtest.Require(t)
	t.Parallel()
	nodes := monerodtest.StartStar(t, 2, monerodtest.Options{Online: true})
	hub, leaf := nodes[0], nodes[1]
	hub.WaitPeers(t, 1, 30*time.Second)
	// A fresh tip on both, so that /api/v1's 12 minutes pass while
	// /health's few seconds do not.
	hub.Mine(t, 1)
	want := heightOf(t, hub)
	testenv.Eventually(t, "the block relayed to the leaf", 30*time.Second, func() (bool, string) {
		got := heightOf(t, leaf)
		return got == want, fmt.Sprintf("leaf at %d, hub at %d", got, want)
	})

	cfg := DefaultConfig()
	cfg.Checks = []string{CheckLastBlock}
	short := cfg
	short.LastBlockMaxAge = 2 * time.Second
	for name, node := range map[string]*monerodtest.Node{"hub": hub, "leaf": leaf} {
		h := liveHandler(t, node, short)
		testenv.Eventually(t, name+"'s /health to warn", 30*time.Second, func() (bool, string) {
			code, p := getProbe(t, h, "/health")
			st, out := p.check(CheckLastBlock)
			return code == 200 && p.Status == "warn" && st == "warn" && out == OutputNetworkSlow,
				fmt.Sprintf("%s: /health %d %s, last_block %s %q", name, code, p.Status, st, out)
		})
		if got := v1StatusOf(t, h, PathV1LastBlockHealth); got != "OK" {
			t.Errorf("%s: /api/v1/last_block/health = %s, want OK", name, got)
		}
		// The same tip with the default limit passes.
		if code, p := getProbe(t, liveHandler(t, node, cfg), "/health"); code != 200 || p.Status != "pass" {
			t.Errorf("%s: /health with the default limit = %d %s, want 200 pass", name, code, p.Status)
		}
	}
}

// TestIntegrationStaleTipPeerAhead: nodes kept behind a peer that keeps
// mining fail with 503, as their tips age past the limit: others have moved
// on. The node ahead, whose peers are all below it, warns.
//
// A node started with --no-sync, as the issue asks, never counts as
// synchronized in monerod 0.18 (is_synchronized() is false with no_sync):
// it answers get_last_block_header "BUSY", so its last_block cannot be
// determined, which fails too. The node that shows the rule itself,
// a stale tip beside a peer that has a higher one, is kept behind with
// --test-drop-download instead: it counts as synchronized (its first
// handshake found its peer at its height) and answers, learns its peer's
// height at a later handshake, and discards every block it downloads.
func TestIntegrationStaleTipPeerAhead(t *testing.T) {
	monerodtest.Require(t)
	t.Parallel()
	leaf := monerodtest.Options{Online: true, OutPeers: monerodtest.Int(0)}
	dropper := leaf
	dropper.ExtraArgs = []string{"--test-drop-download"}
	behind := monerodtest.Start(t, dropper)
	noSync := leaf
	noSync.NoSync = true
	noSyncNode := monerodtest.Start(t, noSync)
	// The node ahead dials both. All three are at the genesis block at
	// the handshakes: each counts as synchronized (bar --no-sync), and
	// the node ahead can mine.
	ahead := monerodtest.Start(t, monerodtest.Options{ExclusiveNodes: []string{behind.P2PAddr, noSyncNode.P2PAddr}})
	behind.WaitPeers(t, 1, 30*time.Second)
	noSyncNode.WaitPeers(t, 1, 30*time.Second)

	// Blocks relayed to a synchronized node are added whatever
	// --test-drop-download says: the node kept behind is cut off while
	// its peer mines, then let in again, and syncing from the new
	// handshake is what it discards.
	setInPeers := func(n int) {
		t.Helper()
		var res struct {
			Status string `json:"status"`
		}
		behind.Post(t, "/in_peers", map[string]int{"in_peers": n}, &res)
		if res.Status != "OK" {
			t.Fatalf("/in_peers %d: %q", n, res.Status)
		}
	}
	setInPeers(0)
	testenv.Eventually(t, "the node kept behind cut off", 30*time.Second, func() (bool, string) {
		n := len(connectionsOf(t, behind))
		return n == 0, fmt.Sprintf("%d peers", n)
	})
	ahead.Mine(t, 5)
	setInPeers(8)
	testenv.Eventually(t, "the node kept behind to see its peer ahead", 30*time.Second, func() (bool, string) {
		conns, height := connectionsOf(t, behind), heightOf(t, behind)
		return len(conns) == 1 && conns[0].Height > height, fmt.Sprintf("height %d, peers %+v", height, conns)
	})
	ahead.Mine(t, 3) // and it keeps mining

	cfg := DefaultConfig()
	cfg.Checks = []string{CheckLastBlock}
	cfg.LastBlockMaxAge = 2 * time.Second
	h := liveHandler(t, behind, cfg)
	testenv.Eventually(t, "the node kept behind to fail", 30*time.Second, func() (bool, string) {
		code, p := getProbe(t, h, "/health")
		st, out := p.check(CheckLastBlock)
		return code == 503 && p.Status == "fail" && st == "fail" && out == OutputNoRecentBlocks,
			fmt.Sprintf("/health %d %s, last_block %s %q", code, p.Status, st, out)
	})
	if b, a := heightOf(t, behind), heightOf(t, ahead); b >= a {
		t.Errorf("the node kept behind is at %d, its peer at %d: it synced", b, a)
	}

	hNoSync := liveHandler(t, noSyncNode, cfg)
	testenv.Eventually(t, "the --no-sync node to fail", 30*time.Second, func() (bool, string) {
		code, p := getProbe(t, hNoSync, "/health")
		st, out := p.check(CheckLastBlock)
		return code == 503 && p.Status == "fail" && st == "fail" && strings.HasPrefix(out, "Cannot determine last block's age: ") && strings.Contains(out, "BUSY"),
			fmt.Sprintf("/health %d %s, last_block %s %q", code, p.Status, st, out)
	})

	hAhead := liveHandler(t, ahead, cfg)
	testenv.Eventually(t, "the node ahead to warn", 30*time.Second, func() (bool, string) {
		code, p := getProbe(t, hAhead, "/health")
		st, out := p.check(CheckLastBlock)
		return code == 200 && p.Status == "warn" && st == "warn" && out == OutputNetworkSlow,
			fmt.Sprintf("/health %d %s, last_block %s %q", code, p.Status, st, out)
	})
}

// peerHeight is a peer in get_connections.
type peerHeight struct {
	State  string `json:"state"`
	Height uint64 `json:"height"`
}

// connectionsOf is node's peers (get_connections).
func connectionsOf(t *testing.T, node *monerodtest.Node) []peerHeight {
	t.Helper()
	var res struct {
		Connections []peerHeight `json:"connections"`
	}
	node.RPC(t, "get_connections", nil, &res)
	return res.Connections
}

func TestIntegrationNodeDown(t *testing.T) {
	monerodtest.Require(t)
	t.Parallel()
	node := monerodtest.Start(t, monerodtest.Options{})
	node.Mine(t, 1)
	cfg := DefaultConfig()
	cfg.Checks = rpcChecks()
	h := liveHandler(t, node, cfg)
	if code, _ := getProbe(t, h, "/health"); code != 200 {
		t.Fatalf("/health while up = %d, want 200", code)
	}
	node.Stop(t)

	code, p := getProbe(t, h, "/health")
	if code != 503 || p.Status != "fail" {
		t.Errorf("/health = %d %s, want 503 fail", code, p.Status)
	}
	for _, path := range []string{PathV1Health, PathV1MonerodHealth, PathV1LastBlockHealth} {
		if got := v1StatusOf(t, h, path); got != "UNKNOWN" {
			t.Errorf("%s = %s, want UNKNOWN", path, got)
		}
	}
	if m := monerodOf(t, h); m.Version != float64(-1) || m.RPC.Host != node.RPCAddr || m.RPC.Error == nil ||
		!strings.HasPrefix(m.RPC.Error.Error, "-341: Could not establish a connection, original error: '") {
		t.Errorf("/api/v1/monerod = %+v", m)
	}
	var combined map[string]map[string]json.RawMessage
	decode(t, serve(t, h, "GET", PathV1), &combined)
	if _, ok := combined["result"]["error"]; ok {
		t.Errorf("/api/v1 has an error key")
	}
}

func TestIntegrationPeers(t *testing.T) {
	monerodtest.Require(t)
	t.Parallel()
	nodes := monerodtest.StartStar(t, 2, monerodtest.Options{Online: true})
	hub, leaf := nodes[0], nodes[1]
	hub.WaitPeers(t, 1, 30*time.Second)
	cfg := DefaultConfig()
	cfg.Checks = []string{CheckPeers}
	hubH, leafH := liveHandler(t, hub, cfg), liveHandler(t, leaf, cfg)

	t.Run("peered", func(t *testing.T) {
		for name, h := range map[string]http.Handler{"hub": hubH, "leaf": leafH} {
			testenv.Eventually(t, name+" peered", 30*time.Second, func() (bool, string) {
				code, p := getProbe(t, h, "/health")
				st, out := p.check(CheckPeers)
				return code == 200 && st == "pass", name + ": /health " + strconv.Itoa(code) + ", peers " + st + " " + out
			})
		}
	})

	t.Run("isolated", func(t *testing.T) {
		// The leaf's only peer is the hub's inbound connection: refusing
		// inbound peers drops it and keeps the hub out.
		var res struct {
			Status string `json:"status"`
		}
		leaf.Post(t, "/in_peers", map[string]int{"in_peers": 0}, &res)
		if res.Status != "OK" {
			t.Fatalf("/in_peers: %q", res.Status)
		}
		testenv.Eventually(t, "the leaf isolated", 30*time.Second, func() (bool, string) {
			code, p := getProbe(t, leafH, "/health")
			st, out := p.check(CheckPeers)
			return code == 503 && st == "fail" && out == OutputNoSyncedPeer, "leaf: /health " + strconv.Itoa(code) + ", peers " + st + " " + out
		})
	})
}

func TestIntegrationNoSync(t *testing.T) {
	monerodtest.Require(t)
	t.Parallel()
	// The node kept behind waits for its peer and never syncs from it.
	behind := monerodtest.Start(t, monerodtest.Options{Online: true, NoSync: true, OutPeers: monerodtest.Int(0)})
	// Its peer mines alone first (a networked node without peers cannot),
	// then comes online and dials it.
	ahead := monerodtest.Start(t, monerodtest.Options{})
	ahead.Mine(t, 30)
	ahead.RestartWith(t, monerodtest.Options{ExclusiveNodes: []string{behind.P2PAddr}})
	behind.WaitPeers(t, 1, 30*time.Second)

	cfg := DefaultConfig()
	cfg.Checks = []string{CheckSync}
	h := liveHandler(t, behind, cfg)
	testenv.Eventually(t, "the node kept behind to fail sync", 30*time.Second, func() (bool, string) {
		code, p := getProbe(t, h, "/health")
		st, out := p.check(CheckSync)
		return code == 503 && st == "fail" && out == OutputPeerFarAhead,
			"/health " + strconv.Itoa(code) + ", sync " + st + " " + out
	})
	// The node that is ahead is in sync.
	code, p := getProbe(t, liveHandler(t, ahead, cfg), "/health")
	if st, out := p.check(CheckSync); st == "fail" && out == OutputPeerFarAhead {
		t.Errorf("the node ahead: /health %d, sync %s %q", code, st, out)
	}
}

func TestIntegrationRestricted(t *testing.T) {
	monerodtest.Require(t)
	t.Parallel()
	node := monerodtest.Start(t, monerodtest.Options{})
	node.Mine(t, 2)
	node.RestartWith(t, monerodtest.Options{Restricted: true})
	h := liveHandler(t, node, DefaultConfig())

	code, p := getProbe(t, h, "/health")
	st, out := p.check(CheckPeers)
	if st != "warn" || out != OutputPeersRestricted {
		t.Errorf("peers = %s %q, want warn", st, out)
	}
	if code != 200 || p.Status != "warn" {
		t.Errorf("/health = %d %s (checks %+v), want 200 warn", code, p.Status, p.Checks)
	}
	if !strings.HasPrefix(p.Description, "monero_exporter test, monerod rpc-") {
		t.Errorf("description = %q, want the RPC version", p.Description)
	}
	if got := v1StatusOf(t, h, PathV1Health); got != "OK" {
		t.Errorf("/api/v1/health = %s, want OK", got)
	}
}
