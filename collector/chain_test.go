package collector

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/monero-ops/monero_exporter/internal/fixtures"
	"github.com/monero-ops/monero_exporter/internal/monerodtest"
	"github.com/monero-ops/monero_exporter/monerod"
	"github.com/monero-ops/monero_exporter/snapshot"
)

// The busy node (height 92) compared with four references: the same node's
// recorded answers, a node on a fork that forked three blocks back, a node
// two blocks behind, and a node that is down.
func TestReferenceMetrics(t *testing.T) {
	const height = 92 // the busy fixture's get_info
	top := "46ba517c942181bdbceb39fe4275c0352318afb2f974a0900dd08a0d1c064591"
	fork := fixtures.NewChain(append(fixtures.Hashes("main", 0, height-3), fixtures.Hashes("fork", height-3, 5)...))
	short := fixtures.NewChain(append(fixtures.Hashes("main", 0, height-3), top))
	down := fixtures.NewServer(t, fixtures.Busy, nil)
	down.Close()
	var refs []snapshot.Reference
	for _, r := range []struct{ name, url string }{
		{"same", fixtures.NewServer(t, fixtures.Busy, nil).URL},
		{"fork", fixtures.NewServer(t, fixtures.Busy, fork.Overrides()).URL},
		{"short", fixtures.NewServer(t, fixtures.Busy, short.Overrides()).URL},
		{"down", down.URL},
	} {
		refs = append(refs, snapshot.Reference{Name: r.name, Client: monerodtest.Client(t, r.url, monerod.Config{})})
	}
	references, err := snapshot.NewReferences(refs, snapshot.ReferencesOptions{})
	if err != nil {
		t.Fatal(err)
	}
	srv := fixtures.NewServer(t, fixtures.Busy, nil)
	c := New(monerodtest.Source(t, srv.URL, snapshot.Config{References: references}), Options{Timeout: 5 * time.Second})
	const want = `
# HELP monero_reference_agrees 1 when the reference node holds the node's own top block at the node's height (get_block_header_by_height), 0 when it holds another: one of the two is on a fork. Absent when it cannot tell (no answer, or its chain is shorter than the node's).
# TYPE monero_reference_agrees gauge
monero_reference_agrees{reference="fork"} 0
monero_reference_agrees{reference="same"} 1
# HELP monero_reference_height Height (number of blocks) of the reference node's chain. Absent when it did not answer.
# TYPE monero_reference_height gauge
monero_reference_height{reference="fork"} 94
monero_reference_height{reference="same"} 92
monero_reference_height{reference="short"} 90
# HELP monero_reference_up 1 when the reference node told its tip in this scrape (get_last_block_header; one answer serves every scrape for 2s), else 0.
# TYPE monero_reference_up gauge
monero_reference_up{reference="down"} 0
monero_reference_up{reference="fork"} 1
monero_reference_up{reference="same"} 1
monero_reference_up{reference="short"} 1
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), "monero_reference_agrees", "monero_reference_height", "monero_reference_up"); err != nil {
		t.Error(err)
	}
	if problems, err := testutil.CollectAndLint(c); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %+v", err, problems)
	}
	// No references, no reference metrics.
	plain := New(monerodtest.Source(t, srv.URL, snapshot.Config{}), Options{Timeout: 5 * time.Second})
	if n := testutil.CollectAndCount(plain, "monero_reference_agrees", "monero_reference_height", "monero_reference_up"); n != 0 {
		t.Errorf("%d reference series without references", n)
	}
}
