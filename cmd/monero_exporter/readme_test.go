package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/monero-ops/monero_exporter/collector"
	"github.com/monero-ops/monero_exporter/health"
	"github.com/monero-ops/monero_exporter/internal/testenv"
)

// The documentation pages that hold the reference tables.
var (
	flagsDoc   = filepath.Join("..", "..", "docs", "flags.md")
	metricsDoc = filepath.Join("..", "..", "docs", "metrics.md")
)

// TestREADMEDocumentsEveryFlagAndMetric keeps the reference tables complete:
// a flag or collector added without a line in docs/flags.md, or a metric
// family without a line in docs/metrics.md, fails the build.
func TestREADMEDocumentsEveryFlagAndMetric(t *testing.T) {
	flagsText := testenv.ReadFile(t, flagsDoc)

	var help, stderr bytes.Buffer
	if code := run([]string{"--help"}, &help, &stderr); code != 0 {
		t.Fatalf("--help: exit %d", code)
	}
	flags := regexp.MustCompile(`(?m)^\s+(?:-\w, )?--(\[no-\])?([a-z][a-z0-9._-]+)`).FindAllStringSubmatch(help.String(), -1)
	if len(flags) < 20 {
		t.Fatalf("found only %d flags in --help", len(flags))
	}
	for _, f := range flags {
		name := f[2]
		if name == "help" || name == "help-long" || name == "help-man" {
			continue
		}
		if c, ok := strings.CutPrefix(name, "collector."); ok {
			if !strings.Contains(flagsText, "`"+c+"`") {
				t.Errorf("docs/flags.md does not name the collector %s", c)
			}
			continue
		}
		if !strings.Contains(flagsText, "--"+name) {
			t.Errorf("docs/flags.md does not document --%s", name)
		}
	}

	metricsText := testenv.ReadFile(t, metricsDoc)
	for _, family := range documentedFamilies(t) {
		if !strings.Contains(metricsText, "`"+family+"`") {
			t.Errorf("docs/metrics.md's metric table lacks %s", family)
		}
	}
}

// TestEveryCollectorHasAFlag: each registered collector is switched by
// --collector.NAME, whose help is built from its definition, and is named in
// docs/flags.md's table of collectors.
func TestEveryCollectorHasAFlag(t *testing.T) {
	var help, stderr bytes.Buffer
	if code := run([]string{"--help"}, &help, &stderr); code != 0 {
		t.Fatalf("--help: exit %d", code)
	}
	text := strings.Join(strings.Fields(help.String()), " ")
	flagsText := testenv.ReadFile(t, flagsDoc)
	for _, d := range collector.Definitions() {
		if !strings.Contains(text, "--[no-]collector."+d.Name+" ") {
			t.Errorf("--help has no --collector.%s", d.Name)
		}
		if h := d.Help(); strings.TrimSpace(d.Summary) == "" || !strings.Contains(text, h) {
			t.Errorf("--collector.%s: help %q missing or empty in --help", d.Name, h)
		}
		if !strings.Contains(flagsText, "| `"+d.Name+"` |") {
			t.Errorf("docs/flags.md's table of collectors has no row for %s", d.Name)
		}
	}
}

// documentedFamilies are the monero_ families a real scrape showed
// (testdata/metrics.prom), and those the collectors declare with every
// collector and the health checks on: some appear only on a node with peers
// or a non-empty pool.
func documentedFamilies(t *testing.T) []string {
	t.Helper()
	golden, err := os.ReadFile(filepath.Join("testdata", "metrics.prom"))
	if err != nil {
		t.Fatal(err)
	}
	var families []string
	for _, m := range regexp.MustCompile(`(?m)^# TYPE (monero_\w+) `).FindAllStringSubmatch(string(golden), -1) {
		families = append(families, m[1])
	}

	coll := collector.New(nil, collector.Options{Collectors: collector.Names(), Health: &health.Config{}})
	ch := make(chan *prometheus.Desc)
	go func() {
		coll.Describe(ch)
		collector.NewRPCRequestsCounter().Describe(ch)
		close(ch)
	}()
	fqName := regexp.MustCompile(`fqName: "([^"]+)"`)
	declared := 0
	for d := range ch {
		m := fqName.FindStringSubmatch(d.String())
		if m == nil {
			t.Fatalf("no fqName in %s", d)
		}
		declared++
		families = append(families, m[1])
	}
	if declared < 60 {
		t.Fatalf("the collectors declare only %d descriptors", declared)
	}
	slices.Sort(families)
	return slices.Compact(families)
}
