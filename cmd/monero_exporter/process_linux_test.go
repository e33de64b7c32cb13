//go:build linux

package main

import (
	"math"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/monero-ops/monero_exporter/internal/testenv"
)

// The light process collector must agree with client_golang's on every
// metric both export.
func TestProcessCollectorAgreesWithClientGolang(t *testing.T) {
	ref := gatherMap(t, fallbackProcessCollector())
	ours := gatherMap(t, newProcessCollector())
	refAfter := gatherMap(t, fallbackProcessCollector())
	// Parallel tests open and close sockets: compare the fd count only
	// when it held still around our reading.
	if ref["process_open_fds"] != refAfter["process_open_fds"] {
		delete(ours, "process_open_fds")
		delete(ref, "process_open_fds")
		t.Log("open fds moved during the reading; not compared")
	}
	if _, ok := newProcessCollector().(*processCollector); !ok {
		t.Fatal("fell back to client_golang's collector on Linux")
	}
	tolerance := map[string]float64{
		"process_cpu_seconds_total":        0.5,
		"process_open_fds":                 3,
		"process_max_fds":                  0,
		"process_virtual_memory_bytes":     64 << 20,
		"process_virtual_memory_max_bytes": 0,
		"process_resident_memory_bytes":    16 << 20,
		"process_start_time_seconds":       1.01,
	}
	for name, tol := range tolerance {
		if name == "process_open_fds" && ref[name] == 0 {
			continue
		}
		got, okA := ours[name]
		want, okB := ref[name]
		if !okA || !okB {
			t.Errorf("%s: ours %t, client_golang %t", name, okA, okB)
			continue
		}
		if math.Abs(got-want) > tol {
			t.Errorf("%s = %g, client_golang says %g", name, got, want)
		}
	}
	if problems, err := testutil.CollectAndLint(newProcessCollector()); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", problems, err)
	}
}

func gatherMap(t *testing.T, c prometheus.Collector) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	for _, mf := range testenv.Gather(t, c) {
		m := mf.GetMetric()[0]
		switch mf.GetType() {
		case dto.MetricType_COUNTER:
			out[mf.GetName()] = m.GetCounter().GetValue()
		default:
			out[mf.GetName()] = m.GetGauge().GetValue()
		}
	}
	return out
}
