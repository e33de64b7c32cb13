package health

import (
	"encoding/json"
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

	t.Run("tip older than a short max age", func(t *testing.T) {
		node.Mine(t, 1)
		short := cfg
		short.LastBlockMaxAge = 2 * time.Second
		h := liveHandler(t, node, short)
		// Fresh at first...
		if code, p := getProbe(t, h, "/health"); code != 200 {
			t.Fatalf("/health just after mining = %d %+v, want 200", code, p)
		}
		// ...stale once the max age has passed.
		time.Sleep(3500 * time.Millisecond)
		code, p := getProbe(t, h, "/health")
		if st, out := p.check(CheckLastBlock); code != 503 || p.Status != "fail" || st != "fail" || out != OutputNoRecentBlocks {
			t.Errorf("/health = %d %s, last_block %s %q; want 503 fail", code, p.Status, st, out)
		}
		code, p = getProbe(t, h, "/health?strict_status_code=1")
		if code != 200 || p.Status != "fail" {
			t.Errorf("strict /health = %d %s, want 200 fail", code, p.Status)
		}
		if got := v1StatusOf(t, h, PathV1LastBlockHealth); got != "ERROR" {
			t.Errorf("last_block = %s, want ERROR", got)
		}
		if lb := lastBlockOf(t, h); lb.Offset != float64(2) || lb.OffsetUnit != "seconds" {
			t.Errorf("offset shown as %v %s, want 2 seconds", lb.Offset, lb.OffsetUnit)
		}
	})
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
