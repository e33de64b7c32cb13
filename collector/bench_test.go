package collector

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/monero-ops/monero_exporter/health"
	"github.com/monero-ops/monero_exporter/internal/fixtures"
	"github.com/monero-ops/monero_exporter/snapshot"
)

// BenchmarkEmit measures turning one snapshot (recorded from a busy node,
// every collector on) into metrics, health included: the exporter's own work per
// scrape, without the network.
func BenchmarkEmit(b *testing.B) {
	srv := fixtures.NewServer(b, fixtures.Busy, nil)
	c := newCollector(b, srv.URL, Names()...)
	hc := health.DefaultConfig()
	c.health = &hc
	snap := c.source.Get(b.Context())
	if !snap.Up() {
		b.Fatal("fixture node down")
	}
	ch := make(chan prometheus.Metric, 1024)
	b.ReportAllocs()
	for b.Loop() {
		c.Emit(ch, snap)
		for len(ch) > 0 {
			<-ch
		}
	}
}

// BenchmarkGather adds what a registry does with those metrics per scrape.
func BenchmarkGather(b *testing.B) {
	srv := fixtures.NewServer(b, fixtures.Busy, nil)
	c := newCollector(b, srv.URL, Names()...)
	hc := health.DefaultConfig()
	c.health = &hc
	snap := c.source.Get(b.Context())
	reg := prometheus.NewRegistry()
	reg.MustRegister(emitOnly{c, snap})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := reg.Gather(); err != nil {
			b.Fatal(err)
		}
	}
}

type emitOnly struct {
	c    *Collector
	snap *snapshot.Snapshot
}

func (e emitOnly) Describe(ch chan<- *prometheus.Desc) { e.c.Describe(ch) }
func (e emitOnly) Collect(ch chan<- prometheus.Metric) {
	e.snap.Time = time.Now()
	e.c.Emit(ch, e.snap)
}
