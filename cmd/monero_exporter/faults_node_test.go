package main

// Faults of a real regtest monerod (internal/monerodtest): not started yet,
// stopped, frozen, a changed password, its connection limit reached,
// restricted after a restart. The same promises as for the fake node's
// faults (faults_fake_test.go): the exporter answers in time, tells the
// truth, and leaks neither goroutines nor connections.

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/monero-ops/monero_exporter/internal/exportertest"
	"github.com/monero-ops/monero_exporter/internal/monerodtest"
	"github.com/monero-ops/monero_exporter/internal/testenv"
)

// nodeMaxConns is --monerod.max-connections in the real-node fault tests,
// and nodeConnBound what the test process may then hold open to the node:
// the exporter's connections and those of monerodtest's own client.
const (
	nodeMaxConns  = 8
	nodeConnBound = nodeMaxConns + monerodtest.ClientConns
)

// startNodeAndExporter starts a regtest monerod with opts that keeps its
// chain across restarts, and an exporter watching it (args added), and
// checks that the exporter sees the node up.
func startNodeAndExporter(t *testing.T, opts monerodtest.Options, args ...string) (*monerodtest.Node, *exportertest.FaultExporter) {
	t.Helper()
	opts.KeepFakechain = true
	node := monerodtest.Start(t, opts)
	e := exportertest.StartFaultExporter(t, startExporter, nodeMaxConns, append([]string{"--monerod.rpc-url=" + node.URL()}, args...)...)
	exportertest.ExpectUp(t, e.Scrape(t))
	return node, e
}

// expectBackUp checks that the next scrape finds the node up, and that
// nothing was left behind.
func expectBackUp(t *testing.T, e *exportertest.FaultExporter, node *monerodtest.Node) {
	t.Helper()
	exportertest.ExpectUp(t, e.Scrape(t))
	e.ExpectNoLeak(t, exportertest.NodeSockets(t, node), nodeConnBound)
}

// TestFaultNodeNotStartedYet: the exporter starts before monerod, then
// monerod comes up on the port it was told.
func TestFaultNodeNotStartedYet(t *testing.T) {
	monerodtest.Require(t)
	t.Parallel()
	port := testenv.FreePort(t)
	e := exportertest.StartFaultExporter(t, startExporter, nodeMaxConns, fmt.Sprintf("--monerod.rpc-url=127.0.0.1:%d", port))
	mfs := e.Scrape(t)
	exportertest.ExpectDown(t, mfs, "unreachable")
	e.ExpectHealthFails(t, "UNKNOWN")
	if r, err := e.Get("/-/healthy", nil); err != nil || r.Code != http.StatusOK {
		t.Errorf("/-/healthy while monerod is down: %+v %v", r, err)
	}
	e.ExpectNoLeak(t, func() int { return exportertest.SocketsTo(port) }, 0)

	node := monerodtest.Start(t, monerodtest.Options{RPCPort: port})
	expectBackUp(t, e, node)
}

// TestFaultNodeStoppedAndStartedAgain: monerod stops mid-run (its kept-alive
// connections die with it) and comes back on the same port.
func TestFaultNodeStoppedAndStartedAgain(t *testing.T) {
	monerodtest.Require(t)
	t.Parallel()
	node, e := startNodeAndExporter(t, monerodtest.Options{})

	node.Stop(t)
	mfs := e.Scrape(t)
	exportertest.ExpectDown(t, mfs, "unreachable")
	e.ExpectHealthFails(t, "UNKNOWN")
	e.ExpectNoLeak(t, exportertest.NodeSockets(t, node), 0)

	node.Restart(t)
	expectBackUp(t, e, node)
}

// TestFaultNodeFrozen: SIGSTOP, monerod accepts connections and never
// answers; every request still answers by its deadline, a crowd of them
// too, and the exporter lets go of what it waited on before the node is
// resumed.
func TestFaultNodeFrozen(t *testing.T) {
	monerodtest.Require(t)
	t.Parallel()
	node, e := startNodeAndExporter(t, monerodtest.Options{})

	node.Freeze(t)
	exportertest.ExpectDown(t, e.Scrape(t), "timeout")
	e.ExpectHealthFails(t, "UNKNOWN")
	e.Crowd(t)
	// Still frozen: nothing the exporter started may still be waiting.
	e.ExpectNoLeak(t, exportertest.NodeSockets(t, node), nodeConnBound)

	node.Thaw(t)
	expectBackUp(t, e, node)
}

// TestFaultPasswordChanged: monerod is restarted with another --rpc-login
// password; the exporter's calls get 401, counted as unauthorized, and
// health cannot tell. Back to the old password, it is up again.
func TestFaultPasswordChanged(t *testing.T) {
	monerodtest.Require(t)
	t.Parallel()
	// A password file rather than MONEROD_RPC_PASSWORD: t.Setenv would
	// forbid t.Parallel.
	pwFile := filepath.Join(t.TempDir(), "password")
	if err := os.WriteFile(pwFile, []byte("old\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	node, e := startNodeAndExporter(t, monerodtest.Options{Login: "alice:old"}, "--monerod.rpc-user=alice", "--monerod.rpc-password-file="+pwFile)
	mfs := e.Scrape(t)
	before := exportertest.Requests(mfs, "get_info", "unauthorized")

	node.RestartWith(t, monerodtest.Options{Login: "alice:new"})
	mfs = e.Scrape(t)
	exportertest.ExpectDown(t, mfs, "unauthorized")
	if after := exportertest.Requests(mfs, "get_info", "unauthorized"); after <= before {
		t.Errorf("unauthorized get_info calls: %g before the change, %g after", before, after)
	}
	e.ExpectHealthFails(t, "UNKNOWN")
	e.ExpectNoLeak(t, exportertest.NodeSockets(t, node), nodeConnBound)

	node.RestartWith(t, monerodtest.Options{Login: "alice:old"})
	expectBackUp(t, e, node)
}

// TestFaultConnectionLimit: others hold the 25 RPC connections monerod
// accepts from one address. Whatever monerod then does with the exporter's
// calls, the exporter answers in time and says what happened; once they
// let go, it is up again.
func TestFaultConnectionLimit(t *testing.T) {
	monerodtest.Require(t)
	t.Parallel()
	node := monerodtest.Start(t, monerodtest.Options{KeepFakechain: true})
	sockets := exportertest.NodeSockets(t, node)

	hold := func() []net.Conn {
		var conns []net.Conn
		for range 25 {
			c, err := net.DialTimeout("tcp", node.RPCAddr, 5*time.Second)
			if err != nil {
				t.Fatalf("holding connections: %v", err)
			}
			conns = append(conns, c)
		}
		return conns
	}
	release := func(conns []net.Conn) {
		for _, c := range conns {
			c.Close()
		}
	}
	// consistent checks that a scrape tells the truth, whichever it is.
	consistent := func(mfs map[string]*dto.MetricFamily) float64 {
		t.Helper()
		up := testenv.MustValue(t, mfs, "monero_up")
		if up == 1 {
			exportertest.ExpectUp(t, mfs)
		} else {
			exportertest.ExpectDown(t, mfs, "")
		}
		return up
	}

	// A cold exporter: every connection it opens is one too many.
	cold := exportertest.StartFaultExporter(t, startExporter, nodeMaxConns, "--monerod.rpc-url="+node.URL())
	held := hold()
	mfs := cold.Scrape(t)
	up := consistent(mfs)
	t.Logf("cold exporter, 25 connections held by others: monero_up %g, get_info calls %v", up, exportertest.Outcomes(mfs, "get_info"))
	if up == 0 {
		cold.ExpectHealthFails(t, "UNKNOWN")
	}
	cold.ExpectNoLeak(t, nil, 0)
	release(held)
	cold.EventuallyUp(t)
	cold.ExpectNoLeak(t, sockets, nodeConnBound)

	// A warm exporter keeps the connections it has.
	warm := exportertest.StartFaultExporter(t, startExporter, nodeMaxConns, "--monerod.rpc-url="+node.URL())
	exportertest.ExpectUp(t, warm.Scrape(t))
	held = hold()
	for range 3 {
		mfs := warm.Scrape(t)
		t.Logf("warm exporter, 25 connections taken by others: monero_up %g, get_info calls %v", consistent(mfs), exportertest.Outcomes(mfs, "get_info"))
	}
	release(held)
	warm.EventuallyUp(t)
	warm.ExpectNoLeak(t, nil, 0)
	cold.ExpectNoLeak(t, sockets, 2*nodeConnBound)
}

// TestFaultRestrictedNodeStartsRefusing: a node restarted with
// --restricted-rpc refuses what the connections, net, bans and mining
// collectors ask; they are shown skipped (not failed), the node stays up,
// and the refused calls are not made again. Restarted unrestricted, they
// come back.
func TestFaultRestrictedNodeStartsRefusing(t *testing.T) {
	monerodtest.Require(t)
	t.Parallel()
	parts := []string{"connections", "net", "bans", "mining"}
	calls := map[string]string{"connections": "get_connections", "net": "get_net_stats", "bans": "get_bans", "mining": "mining_status"}
	node, e := startNodeAndExporter(t, monerodtest.Options{})
	expectParts := func(mfs map[string]*dto.MetricFamily, skipped float64) {
		t.Helper()
		for _, p := range parts {
			if got := testenv.MustValue(t, mfs, "monero_scrape_collector_skipped", "collector", p); got != skipped {
				t.Errorf("scrape_collector_skipped{%s} = %g, want %g", p, got, skipped)
			}
			if got := testenv.MustValue(t, mfs, "monero_scrape_collector_success", "collector", p); got != 1 {
				t.Errorf("scrape_collector_success{%s} = %g, want 1", p, got)
			}
			if got := (testenv.Series(mfs, "monero_rpc_call_success", "method", calls[p]) != nil); got == (skipped == 1) {
				t.Errorf("rpc_call_success{%s} listed: %v, with the collector skipped: %g", calls[p], got, skipped)
			}
		}
	}
	mfs := e.Scrape(t)
	expectParts(mfs, 0)
	exportertest.ExpectHealth(t, mfs, "monerod", "ok")

	node.RestartWith(t, monerodtest.Options{Restricted: true})
	mfs = e.Scrape(t)
	exportertest.ExpectUp(t, mfs)
	if testenv.MustValue(t, mfs, "monero_node_info", "restricted", "true") != 1 {
		t.Error("the restarted node is not shown restricted")
	}
	// The first scrape asked, was refused, and skips.
	for _, p := range parts {
		if testenv.MustValue(t, mfs, "monero_scrape_collector_skipped", "collector", p) != 1 {
			t.Errorf("scrape_collector_skipped{%s} is not 1 on the first scrape of the restricted node", p)
		}
	}
	if exportertest.Requests(mfs, "get_connections", "method_not_available") < 1 {
		t.Errorf("the refused get_connections is not counted: %v", exportertest.Outcomes(mfs, "get_connections"))
	}
	for _, name := range []string{"monero_peers", "monero_start_time_seconds", "monero_free_space_bytes", "monero_connections", "monero_net_sent_bytes_total", "monero_bans", "monero_mining_active"} {
		if _, ok := mfs[name]; ok {
			t.Errorf("%s exported from a restricted node", name)
		}
	}
	exportertest.ExpectHealth(t, mfs, "monerod", "ok")
	exportertest.ExpectHealth(t, mfs, "peers", "warn")
	asked := map[string]float64{}
	for _, p := range parts {
		asked[p] = exportertest.Sum(exportertest.Outcomes(mfs, calls[p]))
	}
	mfs = e.Scrape(t)
	exportertest.ExpectUp(t, mfs)
	expectParts(mfs, 1)
	for _, p := range parts {
		if n := exportertest.Sum(exportertest.Outcomes(mfs, calls[p])); n != asked[p] {
			t.Errorf("%s asked again after the node refused it: %g calls, then %g", calls[p], asked[p], n)
		}
	}
	e.ExpectNoLeak(t, exportertest.NodeSockets(t, node), nodeConnBound)

	// Unrestricted again: the scrape that sees get_info say so has
	// already skipped the parts (they start beside get_info); the next
	// one asks.
	node.RestartWith(t, monerodtest.Options{})
	exportertest.ExpectUp(t, e.Scrape(t))
	mfs = e.Scrape(t)
	exportertest.ExpectUp(t, mfs)
	expectParts(mfs, 0)
	e.ExpectNoLeak(t, exportertest.NodeSockets(t, node), nodeConnBound)
}
