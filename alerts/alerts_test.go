package alerts

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"go.yaml.in/yaml/v2"

	"github.com/monero-ops/monero_exporter/internal/testenv"
)

// run runs a command and fails the test with its output when it fails.
func run(t testing.TB, dir, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// renderTo renders cfg into dir/monero-alerts.yml and returns its path.
func renderTo(t testing.TB, cfg *Config, dir string) string {
	t.Helper()
	out, err := Render(cfg)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, RulesFile)
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func loadConfig(t testing.TB, path string) *Config {
	t.Helper()
	cfg, err := LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestCommittedRulesMatchConfig(t *testing.T) {
	want, err := Render(loadConfig(t, ConfigFile))
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(RulesFile)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from a render of %s: run `go generate ./alerts`", RulesFile, ConfigFile)
	}
}

func TestPromtoolCheckRules(t *testing.T) {
	promtool := testenv.RequireTool(t, "promtool", "prometheus")
	run(t, ".", promtool, "check", "rules", RulesFile)
	// The thresholds the unit tests use, and very different ones, render
	// into valid rules too.
	dir := t.TempDir()
	run(t, ".", promtool, "check", "rules", renderTo(t, loadConfig(t, filepath.Join("testdata", "config.yml")), dir))
	cfg := loadConfig(t, ConfigFile)
	cfg.Selector = `job=~"monero|monerod", env!="test"`
	cfg.FleetLabels = []string{"job", "network"}
	cfg.InstanceLabel = "node"
	cfg.LastBlockTooOld.MaxAge = Duration(15 * time.Second)
	cfg.LastBlockTooOld.For = 0
	cfg.RunbookURL = ""
	run(t, ".", promtool, "check", "rules", renderTo(t, cfg, t.TempDir()))
}

// TestPromtoolTestRules runs tests.yml against rules rendered from
// testdata/config.yml, so that an operator's thresholds in config.yml
// never break it.
func TestPromtoolTestRules(t *testing.T) {
	promtool := testenv.RequireTool(t, "promtool", "prometheus")
	dir := t.TempDir()
	renderTo(t, loadConfig(t, filepath.Join("testdata", "config.yml")), dir)
	tests, err := os.ReadFile("tests.yml")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "tests.yml"), tests, 0o644); err != nil {
		t.Fatal(err)
	}
	out := run(t, dir, promtool, "test", "rules", "tests.yml")
	if !strings.Contains(out, "SUCCESS") {
		t.Errorf("promtool test rules did not report SUCCESS:\n%s", out)
	}
}

// ruleFile is the part of a Prometheus rule file the tests read.
type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Alert       string            `yaml:"alert"`
			Record      string            `yaml:"record"`
			Expr        string            `yaml:"expr"`
			For         string            `yaml:"for"`
			Labels      map[string]string `yaml:"labels"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

func readRules(t testing.TB, path string) ruleFile {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var rf ruleFile
	if err := yaml.UnmarshalStrict(b, &rf); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return rf
}

func alertNames(t testing.TB, rf ruleFile) []string {
	t.Helper()
	var names []string
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			if r.Alert != "" {
				names = append(names, r.Alert)
			}
		}
	}
	return names
}

// TestEveryAlertHasFiringAndQuietCases holds tests.yml to the mixin rule:
// each alert has a case in which it fires and one in which it must not.
func TestEveryAlertHasFiringAndQuietCases(t *testing.T) {
	b, err := os.ReadFile("tests.yml")
	if err != nil {
		t.Fatal(err)
	}
	var tf struct {
		Tests []struct {
			Name  string `yaml:"name"`
			Cases []struct {
				Alert     string `yaml:"alertname"`
				ExpAlerts []any  `yaml:"exp_alerts"`
			} `yaml:"alert_rule_test"`
		} `yaml:"tests"`
	}
	if err := yaml.Unmarshal(b, &tf); err != nil {
		t.Fatal(err)
	}
	fires, quiet := map[string]bool{}, map[string]bool{}
	for _, tc := range tf.Tests {
		for _, c := range tc.Cases {
			if len(c.ExpAlerts) > 0 {
				fires[c.Alert] = true
			} else {
				quiet[c.Alert] = true
			}
		}
	}
	names := alertNames(t, readRules(t, RulesFile))
	for _, name := range names {
		if !fires[name] {
			t.Errorf("tests.yml has no case in which %s fires", name)
		}
		if !quiet[name] {
			t.Errorf("tests.yml has no case in which %s must stay quiet", name)
		}
	}
	for name := range fires {
		if !slices.Contains(names, name) {
			t.Errorf("tests.yml tests %s, which is not an alert", name)
		}
	}
}

// TestAlertConventions checks the mixin conventions on every alert.
func TestAlertConventions(t *testing.T) {
	rf := readRules(t, RulesFile)
	camel := regexp.MustCompile(`^Monero[A-Z][A-Za-z0-9]*$`)
	seen := map[string]bool{}
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				continue
			}
			name := r.Alert
			if !camel.MatchString(name) {
				t.Errorf("%s: want a CamelCase name starting with Monero", name)
			}
			if seen[name] {
				t.Errorf("%s: defined twice", name)
			}
			seen[name] = true
			if d, err := model.ParseDuration(r.For); err != nil || d < model.Duration(time.Minute) {
				t.Errorf("%s: for %q: want at least 1m, to ride out a bad scrape", name, r.For)
			}
			switch r.Labels["severity"] {
			case "critical", "warning", "info":
			default:
				t.Errorf("%s: severity %q", name, r.Labels["severity"])
			}
			summary, desc := r.Annotations["summary"], r.Annotations["description"]
			if summary == "" || strings.Contains(summary, "{{") || !strings.HasSuffix(summary, ".") {
				t.Errorf("%s: summary %q: want one static sentence", name, summary)
			}
			if !strings.Contains(desc, "{{ $labels.instance }}") || !strings.Contains(desc, "$value") {
				t.Errorf("%s: description %q: want the instance and the value", name, desc)
			}
			if want := "/docs/runbooks.md#" + strings.ToLower(name); !strings.HasSuffix(r.Annotations["runbook_url"], want) {
				t.Errorf("%s: runbook_url %q, want it to end in %s", name, r.Annotations["runbook_url"], want)
			}
		}
	}
	for _, want := range []string{
		"MoneroExporterDown", "MoneroDaemonDown", "MoneroLastBlockTooOld", "MoneroNodeNotSynchronized",
		"MoneroNodeBehindPeers", "MoneroNoPeers", "MoneroTooFewPeers", "MoneroHealthCheckFailing",
		"MoneroHardForkVersionMismatch", "MoneroDiskSpaceLow", "MoneroUpdateAvailable",
		"MoneroScrapeSlow", "MoneroRPCErrors", "MoneroDaemonVersionMismatch", "MoneroChainFork", "MoneroNodeBehindFleet",
	} {
		if !seen[want] {
			t.Errorf("alert %s missing", want)
		}
	}
}

// TestRunbooksDocumentEveryAlert keeps the runbooks in step with the rules:
// every alert has its own heading in docs/runbooks.md (the runbook_url
// anchor).
func TestRunbooksDocumentEveryAlert(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "docs", "runbooks.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range alertNames(t, readRules(t, RulesFile)) {
		if !strings.Contains(string(b), "\n## "+name+"\n") {
			t.Errorf("docs/runbooks.md has no heading \"## %s\"", name)
		}
	}
}

func TestConfigThresholdsReachTheRules(t *testing.T) {
	cfg := loadConfig(t, ConfigFile)
	cfg.LastBlockTooOld.MaxAge = Duration(15 * time.Second)
	cfg.LastBlockTooOld.For = Duration(90 * time.Second)
	cfg.DiskSpaceLow.MinFree = 100 << 30
	cfg.RPCErrors.MaxRatio = 0.25
	cfg.FleetLabels = []string{"job", "network"}
	out, err := Render(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`monero_last_block_age_seconds{job="monero"} > 15`,
		"for: 1m30s",
		"monero_free_space_bytes{job=\"monero\"} < 107374182400",
		"less than 100GiB",
		") > 0.25",
		"25%;",
		"< on (job, network) group_left ()",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("render lacks %q", want)
		}
	}
}

// TestRenderIsTheRules reads the rendered file back: the YAML holds the Go
// values of Rules exactly, nothing lost to quoting or line folding.
func TestRenderIsTheRules(t *testing.T) {
	cfg := loadConfig(t, ConfigFile)
	want, err := Rules(cfg)
	if err != nil {
		t.Fatal(err)
	}
	out, err := Render(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var got RuleFile
	if err := yaml.UnmarshalStrict(out, &got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&got, want) {
		t.Errorf("rendered rules read back differ:\n%+v\nwant\n%+v", got, *want)
	}
	if n := len(want.Groups[0].Rules); n != 18 {
		t.Errorf("%d rules, want the 18 alerts", n)
	}
}

// TestSelectorAndLabelsReachEveryRule changes the selector and the labels
// that tell nodes apart: every series every rule reads carries the new
// selector, and the descriptions name the node by the new label.
func TestSelectorAndLabelsReachEveryRule(t *testing.T) {
	cfg := loadConfig(t, ConfigFile)
	cfg.Selector = `job="xmr", env="prod"`
	cfg.FleetLabels = []string{"cluster"}
	cfg.InstanceLabel = "node"
	rf, err := Rules(cfg)
	if err != nil {
		t.Fatal(err)
	}
	selector := regexp.MustCompile(`\{[^}]*\}`)
	for _, r := range rf.Groups[0].Rules {
		sels := selector.FindAllString(r.Expr, -1)
		if len(sels) == 0 {
			t.Errorf("%s: no selector in %q", r.Alert, r.Expr)
		}
		for _, s := range sels {
			if !strings.HasPrefix(s, `{job="xmr", env="prod"`) {
				t.Errorf("%s: %s lacks the selector", r.Alert, s)
			}
		}
		if strings.Contains(r.Expr, `"monero"`) {
			t.Errorf("%s: the default selector is left in %q", r.Alert, r.Expr)
		}
		if d := r.Annotations["description"]; !strings.Contains(d, "{{ $labels.node }}") || strings.Contains(d, "$labels.instance") {
			t.Errorf("%s: description %q does not name the node by its node label", r.Alert, d)
		}
	}
	out, err := Render(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), "< on (cluster) group_left ()") {
		t.Error("the fleet labels do not reach MoneroHardForkVersionMismatch")
	}
}

func TestConfigErrors(t *testing.T) {
	good, err := os.ReadFile(ConfigFile)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParseConfig(good); err != nil {
		t.Fatalf("%s: %v", ConfigFile, err)
	}
	for name, edit := range map[string][2]string{
		"misspelt key":       {"lastBlockTooOld: {maxAge:", "lastBlockTooOld: {maxage:"},
		"bad severity":       {"severity: info}", "severity: page}"},
		"bad duration":       {"maxAge: 30m", "maxAge: 30 minutes"},
		"bad size":           {"minFree: 20GiB", "minFree: 20GB!"},
		"no selector":        {`selector: job="monero"`, `selector: ""`},
		"braces":             {`selector: job="monero"`, `selector: '{job="monero"}'`},
		"ratio above one":    {"maxRatio: 0.05", "maxRatio: 5"},
		"critical above low": {"minFree: 5GiB", "minFree: 50GiB"},
		"bad fleet label":    {"fleetLabels: [job]", "fleetLabels: [job-name]"},
		"bad instance label": {"instanceLabel: instance", "instanceLabel: 1nstance"},
	} {
		bad := strings.Replace(string(good), edit[0], edit[1], 1)
		if bad == string(good) {
			t.Fatalf("%s: %q not found in %s", name, edit[0], ConfigFile)
		}
		if _, err := ParseConfig([]byte(bad)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestBytes(t *testing.T) {
	for in, want := range map[string]string{"20GiB": "20GiB", "5GB": "5GiB", "1536MiB": "1536MiB", "1000": "1000B", "1TiB": "1TiB"} {
		var b Bytes
		if err := yaml.Unmarshal([]byte(in), &b); err != nil {
			t.Errorf("%s: %v", in, err)
			continue
		}
		if b.String() != want {
			t.Errorf("%s: %s, want %s", in, b, want)
		}
	}
}
