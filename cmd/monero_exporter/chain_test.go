package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/monero-ops/monero_exporter/internal/fixtures"
	"github.com/monero-ops/monero_exporter/internal/testenv"
	"github.com/monero-ops/monero_exporter/monerod"
)

// The busy fixture's tip: get_info's height and top_block_hash.
const (
	busyHeight = 92
	busyTop    = "46ba517c942181bdbceb39fe4275c0352318afb2f974a0900dd08a0d1c064591"
)

// forkedChain is a chain that left the busy node's three blocks below its
// tip and grew two blocks longer.
func forkedChain(tag string) *fixtures.Chain {
	return fixtures.NewChain(append(fixtures.Hashes("main", 0, busyHeight-3), fixtures.Hashes(tag, busyHeight-3, 5)...))
}

// healthBody is /health's body, as far as the tests read it.
type healthBody struct {
	Status string `json:"status"`
	Checks map[string][]struct {
		Status        string  `json:"status"`
		Output        string  `json:"output"`
		ObservedValue float64 `json:"observedValue"`
	} `json:"checks"`
}

func readHealth(t *testing.T, body string) healthBody {
	t.Helper()
	var h healthBody
	if err := json.Unmarshal([]byte(body), &h); err != nil {
		t.Fatalf("/health: %v\n%s", err, body)
	}
	return h
}

// Single-node mode: --chain.reference names the references; the busy node
// is compared with one that holds its tip and two on a fork, which
// outnumber it: the chain check fails, once listed in --health.checks, and
// the old API's combined status with it.
func TestChainReferencesSingleNode(t *testing.T) {
	node := newCountingNode(t, fixtures.Busy, nil)
	same := newCountingNode(t, fixtures.Busy, nil)
	fork1 := newCountingNode(t, fixtures.Busy, forkedChain("fork1").Overrides())
	fork2 := newCountingNode(t, fixtures.Busy, forkedChain("fork2").Overrides())
	args := []string{"--monerod.rpc-url=" + node.URL, "--chain.reference=" + same.URL, "--chain.reference=" + fork1.URL, "--chain.reference=" + fork2.URL}

	plain := startExporter(t, args...)
	_, mfs := scrape(t, plain.URL, nil)
	for _, tc := range []struct {
		ref            *countingNode
		agrees, height float64
	}{{same, 1, busyHeight}, {fork1, 0, busyHeight + 2}, {fork2, 0, busyHeight + 2}} {
		if a, h, up := testenv.MustValue(t, mfs, "monero_reference_agrees", "reference", tc.ref.addr()),
			testenv.MustValue(t, mfs, "monero_reference_height", "reference", tc.ref.addr()),
			testenv.MustValue(t, mfs, "monero_reference_up", "reference", tc.ref.addr()); a != tc.agrees || h != tc.height || up != 1 {
			t.Errorf("reference %s: agrees %v, height %v, up %v; want %v, %v, 1", tc.ref.addr(), a, h, up, tc.agrees, tc.height)
		}
	}
	// Not listed: evaluated, but /health and the state-set leave it out.
	if testenv.Series(mfs, "monero_health_status", "check", "chain", "status", "error") != nil {
		t.Error("monero_health_status shows the chain check, which is not listed")
	}
	if _, body, _ := do(t, http.MethodGet, plain.URL+"/health", nil); strings.Contains(body, `"chain"`) {
		t.Errorf("/health shows the chain check, which is not listed: %s", body)
	}

	listed := startExporter(t, append(args, "--health.checks=monerod,chain")...)
	_, mfs = scrape(t, listed.URL, nil)
	if v := testenv.MustValue(t, mfs, "monero_health_status", "check", "chain", "status", "error"); v != 1 {
		t.Errorf(`monero_health_status{check="chain",status="error"} = %v`, v)
	}
	code, body, _ := do(t, http.MethodGet, listed.URL+"/health", nil)
	h := readHealth(t, body)
	chain := h.Checks["chain"]
	if code != http.StatusServiceUnavailable || h.Status != "fail" || len(chain) != 1 || chain[0].Status != "fail" ||
		!strings.Contains(chain[0].Output, "on a fork") || !strings.Contains(chain[0].Output, fork1.addr()) {
		t.Errorf("/health: %d %s", code, body)
	}
	if _, body, _ := do(t, http.MethodGet, listed.URL+"/api/v1/health", nil); strings.TrimSpace(body) != `{"result":{"status":"ERROR"}}` {
		t.Errorf("/api/v1/health: %s", body)
	}
}

// A module's references are shared by its targets: five targets probed at
// once while a reference is slow to tell its tip cost that reference one
// call. A target that is itself a reference is compared with the others
// only. A changed module drops its references with its targets.
func TestChainReferencesProbe(t *testing.T) {
	gate := make(chan struct{})
	var once sync.Once
	release := func() { once.Do(func() { close(gate) }) }
	t.Cleanup(release)
	over := forkedChain("fork").Overrides()
	tip := over[monerod.MethodLastBlockHeader]
	over[monerod.MethodLastBlockHeader] = func(w http.ResponseWriter, r *http.Request) {
		<-gate
		tip(w, r)
	}
	fork := newCountingNode(t, fixtures.Busy, over)
	self := newCountingNode(t, fixtures.Busy, nil)
	config := `
modules:
  fleet:
    references:
      - ` + self.addr() + `
      - {url: "` + fork.URL + `", name: fork}
    health: {checks: [monerod, chain]}
    allowed_targets: ["127.0.0.1"]
`
	e := startProbeExporter(t, config)
	targets := []*countingNode{self}
	for range 4 {
		targets = append(targets, newCountingNode(t, fixtures.Busy, nil))
	}
	bodies := make([]string, len(targets))
	var wg sync.WaitGroup
	for i, n := range targets {
		wg.Go(func() { _, bodies[i], _ = do(t, http.MethodGet, e.url+"/probe?"+probeQuery("fleet", n.addr()), nil) })
	}
	// Every probe waits for the fork's tip, once its target has answered:
	// one call, shared (and any probe later than the answer finds it
	// remembered).
	testenv.Eventually(t, "every target asked", 10*time.Second, func() (bool, string) {
		asked := 0
		for _, n := range targets {
			if n.fx.Calls(monerod.MethodGetInfo) > 0 {
				asked++
			}
		}
		return asked == len(targets) && fork.fx.Calls(monerod.MethodLastBlockHeader) == 1, fmt.Sprintf("%d targets asked", asked)
	})
	release()
	wg.Wait()
	if n := fork.fx.Calls(monerod.MethodLastBlockHeader); n != 1 {
		t.Errorf("%d targets probed at once asked the reference for its tip %d times, want 1", len(targets), n)
	}
	for i, body := range bodies {
		mfs := families(t, body)
		if v := testenv.MustValue(t, mfs, "monero_reference_agrees", "reference", "fork"); v != 0 {
			t.Errorf("target %d: agrees with the fork: %v", i, v)
		}
		selfSeries := testenv.Series(mfs, "monero_reference_agrees", "reference", self.addr())
		switch {
		case i == 0 && selfSeries != nil:
			t.Errorf("the target %s is compared with itself:\n%s", self.addr(), body)
		case i > 0 && (selfSeries == nil || testenv.Value(selfSeries) != 1):
			t.Errorf("target %d is not compared with %s:\n%s", i, self.addr(), body)
		}
		// The fork against the target alone: fail; with the same node
		// beside it: one against one, a warning.
		want := "warn"
		if i == 0 {
			want = "error"
		}
		if v := testenv.MustValue(t, mfs, "monero_health_status", "check", "chain", "status", want); v != 1 {
			t.Errorf("target %d: chain is not %s", i, want)
		}
	}
	heldRefs := func() int {
		e.exp.probes.refsMu.Lock()
		defer e.exp.probes.refsMu.Unlock()
		return len(e.exp.probes.refs)
	}
	if n := heldRefs(); n != 1 {
		t.Errorf("%d sets of references held, want 1 (the module's)", n)
	}
	writeFile(t, e.config, strings.Replace(config, "checks: [monerod, chain]", "checks: [chain]", 1))
	if err := e.exp.probes.reload(); err != nil {
		t.Fatal(err)
	}
	if n := heldRefs(); n != 0 {
		t.Errorf("%d sets of references held after the module changed, want 0", n)
	}
}
