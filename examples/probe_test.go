package examples

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/monero-ops/monero_exporter/internal/testenv"
)

// probeDoc shows the multi-target examples.
var probeDoc = filepath.Join("..", "docs", "probe.md")

// TestProbeDocShowsTheExamples keeps docs/probe.md's configurations the
// files the tests check: each is shown whole, as a yaml block.
func TestProbeDocShowsTheExamples(t *testing.T) {
	doc, err := os.ReadFile(probeDoc)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"monero_exporter.yml", "prometheus-probe.yml"} {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(doc), "```yaml\n"+string(b)+"```\n") {
			t.Errorf("docs/probe.md does not show %s as it is; copy it into the page again", name)
		}
	}
}

// TestPrometheusProbeConfig checks the relabelling configuration of /probe
// with promtool. (A real Prometheus runs it in cmd/monero_exporter's
// TestProbeRelabelWithPrometheus.)
func TestPrometheusProbeConfig(t *testing.T) {
	promtool := testenv.RequireTool(t, "promtool", "prometheus")
	b, err := os.ReadFile("prometheus-probe.yml")
	if err != nil {
		t.Fatal(err)
	}
	checkPrometheusConfig(t, promtool, "prometheus-probe.yml", b)
	for _, want := range []string{"metrics_path: /probe", "target_label: __param_target", "target_label: instance", "target_label: __address__"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("prometheus-probe.yml lacks %q", want)
		}
	}
}
