package collector

import "github.com/prometheus/client_golang/prometheus"

// Bucket bounds, chosen for mainnet: a pool transaction waits seconds to
// hours and weighs 1.5-100 kB; fees run from the base fee (about 20000
// piconero per byte at the minimum block weight) up to the fastest priority
// (some 166 times that), and higher where the block reward is higher (regtest).
var (
	ageBuckets        = []float64{30, 60, 120, 300, 600, 1800, 3600, 7200, 21600, 86400}
	txSizeBuckets     = []float64{1000, 1500, 2000, 3000, 5000, 10000, 20000, 50000, 100000}
	feePerByteBuckets = []float64{5e-9, 10e-9, 20e-9, 50e-9, 100e-9, 200e-9, 500e-9, 1e-6, 5e-6, 20e-6}
	inputsBuckets     = []float64{1, 2, 3, 4, 8, 16, 32, 64, 128}
	outputsBuckets    = []float64{1, 2, 3, 4, 8, 16}
	lagBuckets        = []float64{-100, -10, -1, 0, 1, 2, 5, 10, 100, 1000}
	connAgeBuckets    = []float64{60, 300, 900, 3600, 21600, 86400, 604800}
	rateBuckets       = []float64{1024, 10240, 102400, 1048576, 10485760}
	lastSeenBuckets   = []float64{60, 600, 3600, 21600, 86400, 604800, 2592000}
	banBuckets        = []float64{60, 600, 3600, 21600, 86400, 604800}
)

func xmr(atomic uint64) float64 { return float64(atomic) / atomicUnitsPerXMR }

// histogram builds a constant histogram of values over bounds.
func histogram(d *prometheus.Desc, bounds []float64, values []float64, labels ...string) prometheus.Metric {
	counts := make(map[float64]uint64, len(bounds))
	var sum float64
	for _, v := range values {
		sum += v
		for _, b := range bounds {
			if v <= b {
				counts[b]++
			}
		}
	}
	for _, b := range bounds {
		if _, ok := counts[b]; !ok {
			counts[b] = 0
		}
	}
	return prometheus.MustNewConstHistogram(d, uint64(len(values)), sum, counts, labels...)
}

func counter(d *prometheus.Desc, v float64, labels ...string) prometheus.Metric {
	return prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
}
