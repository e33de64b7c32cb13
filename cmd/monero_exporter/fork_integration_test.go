package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/monero-ops/monero_exporter/alerts"
	"github.com/monero-ops/monero_exporter/internal/monerodtest"
	"github.com/monero-ops/monero_exporter/internal/testenv"
)

// TestIntegrationForkCaughtAndResolved: three peered regtest nodes probed
// through one exporter whose module lists all three as references, and a
// real Prometheus scraping the probes with the mixin's rules. node2 is cut
// off and mines on its own while the others mine a longer chain: its chain
// check fails, theirs pass, and MoneroChainFork fires for it. Reconnected,
// it reorganises onto the longer chain and everything is green again.
func TestIntegrationForkCaughtAndResolved(t *testing.T) {
	monerodtest.Require(t)
	prometheusBin := testenv.RequireTool(t, "prometheus", "prometheus")
	const wait = 90 * time.Second

	// node0 dials node1 and node2 (a node accepts one inbound connection
	// from 127.0.0.1); node2 is a leaf, so dropping its one peer cuts it off.
	nodes := monerodtest.StartStar(t, 3, monerodtest.Options{})
	nodes[0].WaitPeers(t, 2, wait)
	nodes[0].Mine(t, 5)
	tips := func() []tip {
		out := make([]tip, len(nodes))
		for i, n := range nodes {
			out[i] = nodeTip(t, n)
		}
		return out
	}
	testenv.Eventually(t, "the three nodes on one tip", wait, func() (bool, string) {
		ts := tips()
		return ts[0].Height == 6 && ts[1] == ts[0] && ts[2] == ts[0], fmt.Sprint(ts)
	})

	var refs strings.Builder
	for i, n := range nodes {
		fmt.Fprintf(&refs, "      - {url: %q, name: node%d}\n", n.RPCAddr, i)
	}
	e := startProbeExporter(t, `
modules:
  fleet:
    references:
`+refs.String()+`    health: {checks: [monerod, chain]}
    allowed_targets: ["127.0.0.1"]
`)

	// Prometheus probes the three nodes through the exporter, every second,
	// with the mixin's rules; MoneroChainFork waits 3 s instead of 5 min.
	cfg, err := alerts.LoadConfig(filepath.Join("..", "..", "alerts", alerts.ConfigFile))
	if err != nil {
		t.Fatal(err)
	}
	cfg.ChainFork.For = alerts.Duration(3 * time.Second)
	rules, err := alerts.Render(cfg)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, alerts.RulesFile), string(rules))
	writeFile(t, filepath.Join(dir, "prometheus.yml"), fmt.Sprintf(`global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files: [%s]
scrape_configs:
  - job_name: monero
    metrics_path: /probe
    params: {module: [fleet]}
    static_configs:
      - targets: [%q, %q, %q]
    relabel_configs:
      - {source_labels: [__address__], target_label: __param_target}
      - {source_labels: [__param_target], target_label: instance}
      - {target_label: __address__, replacement: %q}
`, alerts.RulesFile, nodes[0].RPCAddr, nodes[1].RPCAddr, nodes[2].RPCAddr, strings.TrimPrefix(e.url, "http://")))
	promAddr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	startPrometheus(t, prometheusBin, dir, promAddr)
	prom := "http://" + promAddr

	// health is each node's chain check, through /health?target=...
	health := func() []string {
		out := make([]string, len(nodes))
		for i, n := range nodes {
			code, body, _ := do(t, http.MethodGet, e.url+"/health?"+probeQuery("fleet", n.RPCAddr), nil)
			h := readHealth(t, body)
			out[i] = fmt.Sprintf("%d %s", code, h.Status)
			if c := h.Checks["chain"]; len(c) == 1 && c[0].Output != "" {
				out[i] += ": " + c[0].Output
			}
		}
		return out
	}
	allPass := func() (bool, string) {
		h := health()
		for _, s := range h {
			if s != "200 pass" {
				return false, strings.Join(h, "; ")
			}
		}
		return true, ""
	}
	testenv.Eventually(t, "every node's chain check passing before the fork", wait, allPass)
	waitQuery(t, prom, `monero_reference_agrees{job="monero"} == 1`, "the six comparisons agreeing", func(got map[string]float64) bool {
		return len(got) == 3 // by instance: each of the three agrees with both others
	})

	// The fork: node2 drops its peer and mines 3 blocks alone; node0 mines
	// 5, which node1 receives. node2 is behind, on blocks of its own.
	var res struct {
		Status string `json:"status"`
	}
	nodes[2].Post(t, "/in_peers", map[string]int{"in_peers": 0}, &res)
	testenv.Eventually(t, "node2 cut off", wait, func() (bool, string) {
		n := peerCount(t, nodes[2]) + peerCount(t, nodes[0])
		return n == 1, fmt.Sprintf("node2 and node0 have %d peers together", n)
	})
	forkAt := nodeTip(t, nodes[2]).Height
	nodes[2].Mine(t, 3)
	nodes[0].Mine(t, 5)
	testenv.Eventually(t, "node0 and node1 5 blocks on, node2 3 blocks on its own", wait, func() (bool, string) {
		ts := tips()
		return ts[0].Height == forkAt+5 && ts[1] == ts[0] && ts[2].Height == forkAt+3, fmt.Sprint(ts)
	})
	forked := tips()
	t.Logf("fork from height %d: node0 %v, node1 %v, node2 %v", forkAt, forked[0], forked[1], forked[2])
	if b := blockAt(t, nodes[0], forkAt+2); b == forked[2].Hash {
		t.Fatalf("node0 holds node2's tip %s: no fork", b)
	}

	start := time.Now()
	testenv.Eventually(t, "node2's chain check failing, the others passing", wait, func() (bool, string) {
		h := health()
		ok := h[0] == "200 pass" && h[1] == "200 pass" &&
			h[2] == "503 fail: Node is on a fork: its block at its height differs from its reference nodes' (node0, node1)"
		return ok, strings.Join(h, "; ")
	})
	t.Logf("during the fork, /health: %q", health())
	// A reference's tip may be up to 2 s old: its height catches up.
	testenv.Eventually(t, "node2's probe showing both references on another block, 2 blocks ahead", wait, func() (bool, string) {
		_, body, _ := do(t, http.MethodGet, e.url+"/probe?"+probeQuery("fleet", nodes[2].RPCAddr), nil)
		mfs := families(t, body)
		var saw []string
		ok := testenv.MustValue(t, mfs, "monero_health_status", "check", "chain", "status", "error") == 1
		for _, ref := range []string{"node0", "node1"} {
			a, h := testenv.MustValue(t, mfs, "monero_reference_agrees", "reference", ref), testenv.MustValue(t, mfs, "monero_reference_height", "reference", ref)
			ok = ok && a == 0 && h == float64(forkAt+5)
			saw = append(saw, fmt.Sprintf("%s: agrees %v, height %v", ref, a, h))
		}
		return ok, strings.Join(saw, "; ")
	})
	waitQuery(t, prom, `ALERTS{alertname="MoneroChainFork", alertstate="firing"}`, "MoneroChainFork firing for node2 alone", func(got map[string]float64) bool {
		return len(got) == 1 && got[nodes[2].RPCAddr] == 1
	})
	_, firing := promQuery(t, prom, `ALERTS{alertname="MoneroChainFork"}`)
	t.Logf("MoneroChainFork firing %s after the fork showed: %s", time.Since(start).Round(time.Second), firing)

	// Reconnected, node2 takes the longer chain, and all is green again.
	nodes[2].Post(t, "/in_peers", map[string]int{"in_peers": 8}, &res)
	start = time.Now()
	testenv.Eventually(t, "node2 reorganised onto node0's chain", wait, func() (bool, string) {
		ts := tips()
		return ts[2] == ts[0] && ts[1] == ts[0], fmt.Sprint(ts)
	})
	t.Logf("node2 reorganised in %s: %v", time.Since(start).Round(time.Second), tips()[2])
	testenv.Eventually(t, "every node's chain check passing after the reorganisation", wait, allPass)
	waitQuery(t, prom, `ALERTS{alertname="MoneroChainFork"}`, "MoneroChainFork resolved", func(got map[string]float64) bool {
		return len(got) == 0
	})
	waitQuery(t, prom, `monero_reference_agrees{job="monero"} == 0`, "no disagreement left", func(got map[string]float64) bool {
		return len(got) == 0
	})
	t.Logf("after the reorganisation, /health: %q", health())
	if strings.Contains(e.logs.String(), "level=ERROR") {
		t.Errorf("the exporter logged errors:\n%s", e.logs)
	}
}

// tip is a node's height and top block.
type tip struct {
	Height uint64 `json:"height"`
	Hash   string `json:"top_block_hash"`
}

func (t tip) String() string { return fmt.Sprintf("%d/%.8s", t.Height, t.Hash) }

func nodeTip(t *testing.T, n *monerodtest.Node) tip {
	t.Helper()
	var ti tip
	n.RPC(t, "get_info", nil, &ti)
	return ti
}

func peerCount(t *testing.T, n *monerodtest.Node) int {
	t.Helper()
	var res struct {
		Connections []json.RawMessage `json:"connections"`
	}
	n.RPC(t, "get_connections", nil, &res)
	return len(res.Connections)
}

// blockAt is the hash of n's block at height.
func blockAt(t *testing.T, n *monerodtest.Node, height uint64) string {
	t.Helper()
	var res struct {
		BlockHeader struct {
			Hash string `json:"hash"`
		} `json:"block_header"`
	}
	n.RPC(t, "get_block_header_by_height", map[string]uint64{"height": height}, &res)
	return res.BlockHeader.Hash
}
