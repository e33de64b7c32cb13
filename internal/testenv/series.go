package testenv

import (
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Series returns the series of the family name whose labels include the
// given name, value pairs, or nil when there is none.
func Series(mfs map[string]*dto.MetricFamily, name string, labels ...string) *dto.Metric {
	mf, ok := mfs[name]
	if !ok {
		return nil
	}
next:
	for _, m := range mf.GetMetric() {
		have := make(map[string]string, len(m.GetLabel()))
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		for i := 0; i+1 < len(labels); i += 2 {
			if have[labels[i]] != labels[i+1] {
				continue next
			}
		}
		return m
	}
	return nil
}

// MustSeries is Series that fails the test when there is no such series.
func MustSeries(t testing.TB, mfs map[string]*dto.MetricFamily, name string, labels ...string) *dto.Metric {
	t.Helper()
	m := Series(mfs, name, labels...)
	if m == nil {
		t.Fatalf("%s%v missing", name, labels)
	}
	return m
}

// MustValue is the value of MustSeries.
func MustValue(t testing.TB, mfs map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	t.Helper()
	return Value(MustSeries(t, mfs, name, labels...))
}

// Value is a series' value, whether it is a gauge, a counter or untyped.
func Value(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.GetCounter().GetValue()
	case m.Untyped != nil:
		return m.GetUntyped().GetValue()
	}
	return m.GetGauge().GetValue()
}

// ParseExposition parses the text exposition format, by family name.
func ParseExposition(body string) (map[string]*dto.MetricFamily, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	return p.TextToMetricFamilies(strings.NewReader(body))
}

// Gather collects c through a pedantic registry, by family name.
func Gather(t testing.TB, c prometheus.Collector) map[string]*dto.MetricFamily {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	return GatherFrom(t, reg)
}

// GatherFrom gathers g, by family name.
func GatherFrom(t testing.TB, g prometheus.Gatherer) map[string]*dto.MetricFamily {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[string]*dto.MetricFamily, len(mfs))
	for _, mf := range mfs {
		out[mf.GetName()] = mf
	}
	return out
}

// Scrape GETs url (an exporter's /metrics) and parses the text exposition,
// by family name.
func Scrape(t testing.TB, url string) map[string]*dto.MetricFamily {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, b := Fetch(t, nil, req)
	mfs, err := ParseExposition(string(b))
	if err != nil {
		t.Fatalf("%s: %v", url, err)
	}
	return mfs
}
