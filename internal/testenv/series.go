package testenv

import dto "github.com/prometheus/client_model/go"

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
