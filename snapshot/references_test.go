package snapshot_test

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/monero-ops/monero_exporter/internal/fixtures"
	"github.com/monero-ops/monero_exporter/internal/monerodtest"
	"github.com/monero-ops/monero_exporter/internal/testenv"
	"github.com/monero-ops/monero_exporter/monerod"
	"github.com/monero-ops/monero_exporter/snapshot"
)

// ourTip is the height and top block hash of a fixture set's get_info.
func ourTip(t *testing.T, set string) (int, string) {
	t.Helper()
	var info struct {
		Result struct {
			Height       int    `json:"height"`
			TopBlockHash string `json:"top_block_hash"`
		} `json:"result"`
	}
	if err := json.Unmarshal(fixtures.Load(t, set, "get_info"), &info); err != nil || info.Result.Height < 10 {
		t.Fatalf("fixture get_info: %v", err)
	}
	return info.Result.Height, info.Result.TopBlockHash
}

// refNode is a fake reference node holding chain.
type refNode struct {
	*fixtures.Server
	chain *fixtures.Chain
}

func newRefNode(t *testing.T, hashes []string) *refNode {
	t.Helper()
	chain := fixtures.NewChain(hashes)
	return &refNode{Server: fixtures.NewServer(t, fixtures.Unrestricted, chain.Overrides()), chain: chain}
}

func (r *refNode) calls() [2]int {
	return [2]int{r.Calls(monerod.MethodLastBlockHeader), r.Calls(monerod.MethodHeaderByHeight)}
}

func newReferences(t *testing.T, opts snapshot.ReferencesOptions, urls map[string]string) *snapshot.References {
	t.Helper()
	var refs []snapshot.Reference
	for _, name := range slices.Sorted(maps.Keys(urls)) {
		refs = append(refs, snapshot.Reference{Name: name, Client: monerodtest.Client(t, urls[name], monerod.Config{})})
	}
	r, err := snapshot.NewReferences(refs, opts)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// verdicts sums up a chain's answers by name: "agrees", "differs", or
// "?" (cannot tell) with the height each reference reported.
func verdicts(c *snapshot.Chain) map[string]string {
	out := map[string]string{}
	for _, a := range c.References {
		v := "?"
		if agrees, known := c.Agrees(a); known && agrees {
			v = "agrees"
		} else if known {
			v = "differs"
		}
		if a.Err != nil {
			v += " err"
		}
		out[a.Name] = v + " " + itoa(a.Height)
	}
	return out
}

func itoa(n uint64) string { return strconv.FormatUint(n, 10) }

func TestReferencesCompareTheBlockAtOurHeight(t *testing.T) {
	height, top := ourTip(t, fixtures.Unrestricted)
	main := append(fixtures.Hashes("main", 0, height-1), top)
	same := newRefNode(t, main)
	ahead := newRefNode(t, append(slices.Clone(main), fixtures.Hashes("main", height, 3)...))
	fork := newRefNode(t, append(fixtures.Hashes("main", 0, height-3), fixtures.Hashes("fork", height-3, 6)...))
	short := newRefNode(t, main[:height-2])
	down := fixtures.NewServer(t, fixtures.Unrestricted, nil)
	down.Close()

	refs := newReferences(t, snapshot.ReferencesOptions{TipMaxAge: time.Hour}, map[string]string{
		"same": same.URL, "ahead": ahead.URL, "fork": fork.URL, "short": short.URL, "down": down.URL,
	})
	srv := fixtures.NewServer(t, fixtures.Unrestricted, nil)
	src := monerodtest.Source(t, srv.URL, snapshot.Config{References: refs})
	snap := src.Get(t.Context())
	if snap.Chain == nil {
		t.Fatal("no chain in the snapshot")
	}
	if snap.Chain.Height != uint64(height-1) || snap.Chain.Hash != top {
		t.Errorf("compared at %d %s, want our top block %d %s", snap.Chain.Height, snap.Chain.Hash, height-1, top)
	}
	want := map[string]string{
		"same":  "agrees " + itoa(uint64(height)),
		"ahead": "agrees " + itoa(uint64(height+3)),
		"fork":  "differs " + itoa(uint64(height+3)),
		"short": "? " + itoa(uint64(height-2)),
		"down":  "? err 0",
	}
	if got := verdicts(snap.Chain); !maps.Equal(got, want) {
		t.Errorf("verdicts %v, want %v", got, want)
	}
	for _, a := range snap.Chain.References {
		if a.Name == "down" && !errors.Is(a.Err, monerod.ErrUnreachable) {
			t.Errorf("down: %v, want unreachable", a.Err)
		}
	}
	// The tip at our height is its own answer; below the tip, one call.
	for name, tc := range map[string]struct {
		r    *refNode
		want [2]int
	}{"same": {same, [2]int{1, 0}}, "ahead": {ahead, [2]int{1, 1}}, "fork": {fork, [2]int{1, 1}}, "short": {short, [2]int{1, 0}}} {
		if got := tc.r.calls(); got != tc.want {
			t.Errorf("%s: calls (tip, header) %v, want %v", name, got, tc.want)
		}
	}
	// Nothing moved: the next snapshot asks the references nothing.
	before := [][2]int{same.calls(), ahead.calls(), fork.calls(), short.calls()}
	again := src.Get(t.Context())
	if got := verdicts(again.Chain); !maps.Equal(got, want) {
		t.Errorf("again: verdicts %v, want %v", got, want)
	}
	if after := [][2]int{same.calls(), ahead.calls(), fork.calls(), short.calls()}; !slices.Equal(before, after) {
		t.Errorf("calls went from %v to %v while nothing moved", before, after)
	}
}

// A hundred targets compared with the same references, probed at once, cost
// each reference one call for its tip and one for the block at their
// height.
func TestReferencesSharedByManySources(t *testing.T) {
	height, top := ourTip(t, fixtures.Unrestricted)
	ref := newRefNode(t, append(append(fixtures.Hashes("main", 0, height-1), top), fixtures.Hashes("main", height, 2)...))
	refs := newReferences(t, snapshot.ReferencesOptions{TipMaxAge: time.Hour}, map[string]string{"ref": ref.URL})
	srv := fixtures.NewServer(t, fixtures.Unrestricted, nil)
	const targets = 100
	srcs := make([]*snapshot.Source, targets)
	for i := range srcs {
		srcs[i] = monerodtest.Source(t, srv.URL, snapshot.Config{References: refs})
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	bad := 0
	for _, src := range srcs {
		wg.Go(func() {
			s := src.Get(t.Context())
			if s.Chain == nil || len(s.Chain.References) != 1 || s.Chain.References[0].Hash != top {
				mu.Lock()
				bad++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if bad > 0 {
		t.Errorf("%d of %d snapshots lack the reference's agreement", bad, targets)
	}
	if got := ref.calls(); got != [2]int{1, 1} {
		t.Errorf("%d targets made (tip, header) calls %v, want [1 1]", targets, got)
	}
}

// The reference's tip is asked again once TipMaxAge has passed; the block
// at our height only when the reference's chain was reorganised, not when
// it grew by a block.
func TestReferenceTipRefreshedAndReorgSeen(t *testing.T) {
	height, top := ourTip(t, fixtures.Unrestricted)
	main := append(append(fixtures.Hashes("main", 0, height-1), top), fixtures.Hashes("main", height, 2)...)
	ref := newRefNode(t, main)
	const maxAge = 50 * time.Millisecond
	refs := newReferences(t, snapshot.ReferencesOptions{TipMaxAge: maxAge}, map[string]string{"ref": ref.URL})
	srv := fixtures.NewServer(t, fixtures.Unrestricted, nil)
	src := monerodtest.Source(t, srv.URL, snapshot.Config{References: refs})
	get := func() string {
		time.Sleep(maxAge + 10*time.Millisecond)
		return verdicts(src.Get(t.Context()).Chain)["ref"]
	}
	steps := []struct {
		what  string
		chain []string
		want  string
		calls [2]int
	}{
		{"first", nil, "agrees " + itoa(uint64(height+2)), [2]int{1, 1}},
		{"unchanged", nil, "agrees " + itoa(uint64(height+2)), [2]int{2, 1}},
		{"grown by a block", append(slices.Clone(main), fixtures.Hashes("main", height+2, 1)...), "agrees " + itoa(uint64(height+3)), [2]int{3, 1}},
		{"reorganised below our height", append(fixtures.Hashes("main", 0, height-2), fixtures.Hashes("fork", height-2, 5)...), "differs " + itoa(uint64(height+3)), [2]int{4, 2}},
		{"back on our chain", append(slices.Clone(main), fixtures.Hashes("main", height+2, 2)...), "agrees " + itoa(uint64(height+4)), [2]int{5, 3}},
	}
	for _, st := range steps {
		if st.chain != nil {
			ref.chain.Set(st.chain)
		}
		if got := get(); got != st.want {
			t.Errorf("%s: %q, want %q", st.what, got, st.want)
		}
		if got := ref.calls(); got != st.calls {
			t.Errorf("%s: calls (tip, header) %v, want %v", st.what, got, st.calls)
		}
	}
}

// A reference that does not answer costs a snapshot no more than its own
// deadline; the call it started, once answered, serves the next snapshot.
func TestSlowReferenceWithinTheDeadline(t *testing.T) {
	height, top := ourTip(t, fixtures.Unrestricted)
	main := append(fixtures.Hashes("main", 0, height-1), top)
	fast := newRefNode(t, main)
	gate := make(chan struct{})
	var once sync.Once
	t.Cleanup(func() { once.Do(func() { close(gate) }) })
	chain := fixtures.NewChain(main)
	over := chain.Overrides()
	tipHandler := over[monerod.MethodLastBlockHeader]
	over[monerod.MethodLastBlockHeader] = func(w http.ResponseWriter, r *http.Request) {
		<-gate
		tipHandler(w, r)
	}
	slow := fixtures.NewServer(t, fixtures.Unrestricted, over)
	refs := newReferences(t, snapshot.ReferencesOptions{TipMaxAge: time.Hour}, map[string]string{"fast": fast.URL, "slow": slow.URL})
	srv := fixtures.NewServer(t, fixtures.Unrestricted, nil)
	src := monerodtest.Source(t, srv.URL, snapshot.Config{References: refs})

	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	snap := src.Get(ctx)
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("the snapshot took %s with a 300ms deadline", took)
	}
	if !snap.Up() {
		t.Fatalf("the node itself is down: %v", snap.InfoErr)
	}
	want := map[string]string{"fast": "agrees " + itoa(uint64(height)), "slow": "? err 0"}
	if got := verdicts(snap.Chain); !maps.Equal(got, want) {
		t.Errorf("verdicts %v, want %v", got, want)
	}
	if a := snap.Chain.References[1]; !errors.Is(a.Err, monerod.ErrTimeout) {
		t.Errorf("slow: %v, want a timeout", a.Err)
	}
	once.Do(func() { close(gate) })
	testenv.Eventually(t, "the slow reference's answer", 10*time.Second, func() (bool, string) {
		got := verdicts(src.Get(t.Context()).Chain)["slow"]
		return got == "agrees "+itoa(uint64(height)), got
	})
	if n := slow.Calls(monerod.MethodLastBlockHeader); n != 1 {
		t.Errorf("the slow reference was asked for its tip %d times, want 1 (shared, then remembered)", n)
	}
}

// Only: a target that is one of its module's references is not compared
// with itself; no reference at all, no chain.
func TestReferencesOnlyAndNone(t *testing.T) {
	height, top := ourTip(t, fixtures.Unrestricted)
	ref := newRefNode(t, append(fixtures.Hashes("main", 0, height-1), top))
	refs := newReferences(t, snapshot.ReferencesOptions{}, map[string]string{"a": ref.URL, "b": ref.URL})
	if got := refs.Only("b", "c").Names(); !slices.Equal(got, []string{"b"}) {
		t.Errorf("Only(b, c): %v", got)
	}
	srv := fixtures.NewServer(t, fixtures.Unrestricted, nil)
	for _, r := range []*snapshot.References{nil, refs.Only()} {
		snap := monerodtest.Source(t, srv.URL, snapshot.Config{References: r}).Get(t.Context())
		if snap.Chain != nil || !snap.Up() {
			t.Errorf("references %v: chain %+v", r.Names(), snap.Chain)
		}
	}
	if _, err := snapshot.NewReferences([]snapshot.Reference{{Name: "a", Client: monerodtest.Client(t, ref.URL, monerod.Config{})}, {Name: "a", Client: monerodtest.Client(t, ref.URL, monerod.Config{})}}, snapshot.ReferencesOptions{}); err == nil {
		t.Error("two references named alike were accepted")
	}
}
