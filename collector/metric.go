package collector

import "github.com/prometheus/client_golang/prometheus"

func xmr(atomic uint64) float64 { return float64(atomic) / atomicUnitsPerXMR }

func counter(d *prometheus.Desc, v float64, labels ...string) prometheus.Metric {
	return prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
}

// quantile is the q-quantile (0 <= q <= 1) of sorted, which must not be
// empty, interpolated between the two nearest ranks: the median of an even
// count is the mean of the middle two.
func quantile(sorted []float64, q float64) float64 {
	pos := q * float64(len(sorted)-1)
	lo := int(pos)
	if lo+1 >= len(sorted) {
		return sorted[len(sorted)-1]
	}
	return sorted[lo] + (pos-float64(lo))*(sorted[lo+1]-sorted[lo])
}
