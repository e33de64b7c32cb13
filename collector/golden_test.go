package collector

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"

	"github.com/monero-ops/monero_exporter/snapshot"
)

var update = flag.Bool("update", false, "rewrite testdata/<collector>.prom from the busy fixtures")

var fqName = regexp.MustCompile(`fqName: "(\w+)"`)

// TestCollectorsGolden compares each optional collector's whole exposition,
// from the answers recorded on a busy node, with testdata/<collector>.prom:
// a collector registered without a golden file fails here. The exporter
// starts with the node's tip nine blocks back, so that the snapshot
// compared shows the last nine blocks arriving. The snapshot's time is
// pinned so that ages are the same on every run. Regenerate with -update
// after an intended change, and review the diff.
func TestCollectorsGolden(t *testing.T) {
	ch := recordedChain(t, 82)
	c := newCollector(t, ch.srv.URL, Names()...)
	c.source.Get(t.Context())
	ch.setTip(91)
	snap := c.source.Get(t.Context())
	if !snap.Up() {
		t.Fatal("fixture node down")
	}
	snap.Time = time.Unix(1795324100, 0)
	for _, def := range Definitions() {
		t.Run(def.Name, func(t *testing.T) {
			descs := def.descs
			if def.newEvents != nil {
				ch := make(chan *prometheus.Desc, 64)
				def.newEvents().Describe(ch)
				close(ch)
				for d := range ch {
					descs = append(descs, d)
				}
			}
			var names []string
			for _, d := range descs {
				names = append(names, fqName.FindStringSubmatch(d.String())[1])
			}
			path := filepath.Join("testdata", def.Name+".prom")
			if *update {
				text, err := testutil.CollectAndFormat(snapshotMetrics{c, snap}, expfmt.TypeTextPlain, names...)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.MkdirAll("testdata", 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, text, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update)", err)
			}
			if len(bytes.TrimSpace(want)) == 0 {
				t.Fatalf("%s is empty: the busy fixtures do not exercise %s", path, def.Name)
			}
			if err := testutil.CollectAndCompare(snapshotMetrics{c, snap}, bytes.NewReader(want), names...); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// snapshotMetrics sends the metrics of one fixed snapshot, as Collect does
// with the snapshot it fetched.
type snapshotMetrics struct {
	c    *Collector
	snap *snapshot.Snapshot
}

func (s snapshotMetrics) Describe(ch chan<- *prometheus.Desc) { s.c.Describe(ch) }
func (s snapshotMetrics) Collect(ch chan<- prometheus.Metric) { s.c.Emit(ch, s.snap) }
