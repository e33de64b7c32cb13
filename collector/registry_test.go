package collector

import (
	"slices"
	"strings"
	"testing"

	"github.com/monero-ops/monero_exporter/health"
	"github.com/monero-ops/monero_exporter/monerod"
)

// TestRegistry checks what every registered collector must have: a name
// that makes a flag and a label value, help that names every RPC call it
// makes and says where a restricted node refuses them, and metrics.
func TestRegistry(t *testing.T) {
	defs := Definitions()
	if len(defs) < 9 {
		t.Fatalf("only %d collectors registered", len(defs))
	}
	for _, d := range defs {
		if d.Name == "" || strings.ToLower(d.Name) != d.Name || strings.ContainsAny(d.Name, " .-") {
			t.Errorf("collector %q: not a flag-friendly name", d.Name)
		}
		if d.Snapshot.Name != d.Name {
			t.Errorf("%s: snapshot.Collector named %q", d.Name, d.Snapshot.Name)
		}
		help := d.Help()
		if d.Summary == "" || !strings.Contains(help, d.Summary) {
			t.Errorf("%s: no summary in help %q", d.Name, help)
		}
		for _, m := range d.Snapshot.Methods {
			if !strings.Contains(help, m) {
				t.Errorf("%s: help %q does not name the call %s", d.Name, help, m)
			}
		}
		if d.Snapshot.UnrestrictedOnly != strings.Contains(help, "; unrestricted nodes only.") {
			t.Errorf("%s: help %q says otherwise than UnrestrictedOnly=%t", d.Name, help, d.Snapshot.UnrestrictedOnly)
		}
		if want := map[bool]string{true: "(on by default)", false: "(off by default)"}[d.Default]; !strings.Contains(help, want) {
			t.Errorf("%s: help %q does not say %s", d.Name, help, want)
		}
		if len(d.descs) == 0 || d.emit == nil {
			t.Errorf("%s: no metrics", d.Name)
		}
	}
	if !slices.IsSorted(Names()) {
		t.Errorf("Names() not sorted: %v", Names())
	}
}

// TestSnapshotCollectorsForHealth: the peers and sync checks read the
// connections, which the snapshot then fetches even with that collector
// off; with those checks off it does not.
func TestSnapshotCollectorsForHealth(t *testing.T) {
	names := func(h *health.Config) []string {
		cs, err := SnapshotCollectors([]string{"txpool"}, h)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, c := range cs {
			out = append(out, c.Name)
		}
		return out
	}
	h := health.DefaultConfig()
	if got := names(&h); !slices.Equal(got, []string{"txpool", "connections"}) {
		t.Errorf("default checks: %v", got)
	}
	// last_block reads the peers' heights too (a stale tip at the peers'
	// best height is the network's, not the node's).
	h.Checks = []string{health.CheckMonerod, health.CheckLastBlock}
	if got := names(&h); !slices.Equal(got, []string{"txpool", "connections"}) {
		t.Errorf("checks with last_block: %v", got)
	}
	h.Checks = []string{health.CheckMonerod}
	if got := names(&h); !slices.Equal(got, []string{"txpool"}) {
		t.Errorf("checks without peers, sync and last_block: %v", got)
	}
	if got := names(nil); !slices.Equal(got, []string{"txpool"}) {
		t.Errorf("no health: %v", got)
	}
	if _, err := SnapshotCollectors([]string{"nope"}, nil); err == nil {
		t.Error("unknown collector accepted")
	}
	if cs, _ := SnapshotCollectors([]string{"connections"}, &h); len(cs) != 1 || cs[0].Methods[0] != monerod.MethodGetConnections {
		t.Errorf("connections: %+v", cs)
	}
}

// TestMethodsDeclared: the calls a collector makes are those its help
// names. Each runs alone against a node that gains nine blocks, so that
// the calls made only when the chain moves are made too.
func TestMethodsDeclared(t *testing.T) {
	info := []string{monerod.MethodGetInfo, monerod.MethodLastBlockHeader, monerod.MethodHardForkInfo, monerod.MethodGetVersion}
	for _, d := range Definitions() {
		t.Run(d.Name, func(t *testing.T) {
			ch := recordedChain(t, 82)
			c := newCollector(t, ch.srv.URL, d.Name)
			called := map[string]bool{}
			for _, tip := range []uint64{82, 83, 91} {
				ch.setTip(tip)
				for _, call := range c.source.Get(t.Context()).Calls {
					called[call.Method] = true
				}
			}
			for m := range called {
				if !slices.Contains(d.Snapshot.Methods, m) && !slices.Contains(info, m) {
					t.Errorf("calls %s, which its definition does not name", m)
				}
			}
			for _, m := range d.Snapshot.Methods {
				if !called[m] {
					t.Errorf("names %s, which it never called", m)
				}
			}
		})
	}
}
