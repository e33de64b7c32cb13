package dashboards

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v2"

	"github.com/monero-ops/monero_exporter/alerts"
	"github.com/monero-ops/monero_exporter/internal/testenv"
)

// Where the other parts of the mixin and the golden scrape live.
var (
	goldenMetrics = filepath.Join("..", "cmd", "monero_exporter", "testdata", "metrics.prom")
	ruleFiles     = []string{filepath.Join("..", "alerts", "monero-alerts.yml")}
)

// prometheusOwn are series Prometheus itself makes, not the exporter.
var prometheusOwn = []string{"up", "scrape_duration_seconds", "ALERTS", "ALERTS_FOR_STATE"}

// notInGolden are families the exporter emits only in states the golden
// scrape (an idle regtest node without peers) does not show. Each must
// still be named in the collector's source, so that a rename fails here.
var notInGolden = map[string]string{
	"monero_peers_max_height":                      "emitted only while the node has peers",
	"monero_tx_pool_oldest_timestamp_seconds":      "emitted only while the pool holds a transaction",
	"monero_tx_pool_oldest_age_seconds":            "emitted only while the pool holds a transaction",
	"monero_tx_pool_age_median_seconds":            "emitted only while the pool holds a transaction",
	"monero_tx_pool_transaction_size_median_bytes": "emitted only while the pool holds a transaction",
	"monero_tx_pool_transaction_size_max_bytes":    "emitted only while the pool holds a transaction",
	"monero_connection_height_lag_median_blocks":   "emitted only while the node has peers",
	"monero_connection_age_median_seconds":         "emitted only while the node has peers",
	"monero_ban_remaining_min_seconds":             "emitted only while the node bans a host",
	"monero_ban_remaining_max_seconds":             "emitted only while the node bans a host",
	"monero_reference_agrees":                      "emitted only with reference nodes",
	"monero_reference_height":                      "emitted only with reference nodes",
}

// collectorSource is the exporter's collector code, where notInGolden
// families must be named.
var collectorSource = filepath.Join("..", "collector", "*.go")

// dashboardFiles returns every committed dashboard, parsed as plain JSON
// the way Grafana reads it.
func dashboardFiles(t *testing.T) map[string]map[string]any {
	t.Helper()
	paths, err := filepath.Glob("*.json")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no dashboard: %v", err)
	}
	out := map[string]map[string]any{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		out[p] = parseDashboard(t, p, b)
	}
	return out
}

// parseDashboard reads a dashboard's JSON as plain JSON.
func parseDashboard(t *testing.T, name string, b []byte) map[string]any {
	t.Helper()
	var d map[string]any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&d); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return d
}

// loadConfig reads the mixin's config, the one the committed files are
// built from.
func loadConfig(t *testing.T) *alerts.Config {
	t.Helper()
	cfg, err := alerts.LoadConfig(ConfigFile)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// build returns the dashboards for cfg, parsed as plain JSON by file name.
func build(t *testing.T, cfg *alerts.Config) map[string]map[string]any {
	t.Helper()
	all, err := All(cfg)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]any{}
	for _, d := range all {
		b, err := d.JSON()
		if err != nil {
			t.Fatal(err)
		}
		out[d.FileName()] = parseDashboard(t, d.FileName(), b)
	}
	return out
}

// query is one PromQL expression of the mixin and where it is.
type query struct {
	where string
	expr  string
	// filtered is whether every selector must carry the dashboard's job and
	// instance variables (panel queries; not variables nor alert rules).
	filtered bool
}

// panels returns every panel, rows' nested panels included.
func panels(d map[string]any) []map[string]any {
	var out []map[string]any
	var walk func(list any)
	walk = func(list any) {
		l, _ := list.([]any)
		for _, p := range l {
			pm, ok := p.(map[string]any)
			if !ok {
				continue
			}
			out = append(out, pm)
			walk(pm["panels"])
		}
	}
	walk(d["panels"])
	return out
}

func templateVars(d map[string]any) map[string]map[string]any {
	out := map[string]map[string]any{}
	tmpl, _ := d["templating"].(map[string]any)
	list, _ := tmpl["list"].([]any)
	for _, v := range list {
		if vm, ok := v.(map[string]any); ok {
			name, _ := vm["name"].(string)
			out[name] = vm
		}
	}
	return out
}

// queries collects every PromQL expression of the committed dashboards and
// alert rules.
func queries(t *testing.T) []query {
	t.Helper()
	return queriesOf(t, dashboardFiles(t), ruleFiles)
}

// queriesOf collects every PromQL expression of the dashboards and the
// rule files.
func queriesOf(t *testing.T, dashboards map[string]map[string]any, ruleFiles []string) []query {
	t.Helper()
	var out []query
	for file, d := range dashboards {
		for _, p := range panels(d) {
			targets, _ := p["targets"].([]any)
			for _, tg := range targets {
				tm, _ := tg.(map[string]any)
				expr, _ := tm["expr"].(string)
				out = append(out, query{where: fmt.Sprintf("%s: panel %q target %v", file, p["title"], tm["refId"]), expr: expr, filtered: true})
			}
		}
		for name, v := range templateVars(d) {
			if v["type"] != "query" {
				continue
			}
			q, _ := v["query"].(string)
			if q == "" {
				if qm, ok := v["query"].(map[string]any); ok {
					q, _ = qm["query"].(string)
				}
			}
			expr := variableExpr(q)
			if expr == "" {
				t.Errorf("%s: variable %s: query %q has no PromQL", file, name, q)
				continue
			}
			out = append(out, query{where: fmt.Sprintf("%s: variable %s", file, name), expr: expr})
		}
	}
	for _, path := range ruleFiles {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var rf struct {
			Groups []struct {
				Rules []struct {
					Alert, Record, Expr string
				}
			}
		}
		if err := yaml.Unmarshal(b, &rf); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		for _, g := range rf.Groups {
			for _, r := range g.Rules {
				out = append(out, query{where: fmt.Sprintf("%s: %s%s", path, r.Alert, r.Record), expr: r.Expr})
			}
		}
	}
	slices.SortFunc(out, func(a, b query) int { return strings.Compare(a.where, b.where) })
	return out
}

func TestCommittedDashboardsMatchCode(t *testing.T) {
	all, err := All(loadConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for _, d := range all {
		want[d.FileName()] = true
		b, err := d.JSON()
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(d.FileName())
		if err != nil {
			t.Errorf("%v: run `go generate ./dashboards`", err)
			continue
		}
		if !bytes.Equal(got, b) {
			t.Errorf("%s differs from the code: run `go generate ./dashboards`", d.FileName())
		}
	}
	for file := range dashboardFiles(t) {
		if !want[file] {
			t.Errorf("%s is not generated by All(): remove it or add it to the code", file)
		}
	}
}

// TestDashboardConventions holds every dashboard to the mixin conventions.
func TestDashboardConventions(t *testing.T) {
	cfg := loadConfig(t)
	uids := map[string]string{}
	for file, d := range dashboardFiles(t) {
		if d["editable"] != false {
			t.Errorf("%s: editable must be false", file)
		}
		uid, _ := d["uid"].(string)
		if uid == "" || len(uid) > 40 || uids[uid] != "" {
			t.Errorf("%s: uid %q empty, too long or shared with %s", file, uid, uids[uid])
		}
		uids[uid] = file
		if title, _ := d["title"].(string); !strings.HasPrefix(title, "Monero / ") {
			t.Errorf("%s: title %q", file, title)
		}
		if tags, _ := d["tags"].([]any); !slices.Contains(tags, any("monero")) {
			t.Errorf("%s: tags %v lack monero", file, tags)
		}
		vars := templateVars(d)
		if ds := vars["datasource"]; ds == nil || ds["type"] != "datasource" || ds["query"] != "prometheus" {
			t.Errorf("%s: no templated prometheus datasource variable: %v", file, ds)
		}
		for _, name := range []string{"job", "instance"} {
			v := vars[name]
			if v == nil || v["type"] != "query" || v["multi"] != true || v["includeAll"] != true || !usesTemplatedDatasource(v["datasource"]) {
				t.Errorf("%s: variable %s must be a multi-select query on ${datasource}: %v", file, name, v)
			}
		}
		if v := vars["instance"]; v != nil && !strings.Contains(fmt.Sprint(v["query"]), `job=~"$job"`) {
			t.Errorf("%s: the instance variable must follow the job variable", file)
		}
		if v := vars["instance"]; v != nil && !strings.HasSuffix(fmt.Sprint(v["query"]), ", "+cfg.InstanceLabel+")") {
			t.Errorf("%s: the instance variable must list the config's instance label %s: %v", file, cfg.InstanceLabel, v["query"])
		}

		ids := map[string]bool{}
		for _, p := range panels(d) {
			title, _ := p["title"].(string)
			where := fmt.Sprintf("%s: panel %q", file, title)
			if id := fmt.Sprint(p["id"]); ids[id] {
				t.Errorf("%s: id %s used twice", where, id)
			} else {
				ids[id] = true
			}
			if gp, _ := p["gridPos"].(map[string]any); gp == nil || atoi(gp["x"])+atoi(gp["w"]) > 24 || atoi(gp["w"]) < 1 || atoi(gp["h"]) < 1 {
				t.Errorf("%s: gridPos %v", where, p["gridPos"])
			}
			if p["type"] == "row" {
				continue
			}
			if title == "" {
				t.Errorf("%s: no title", where)
			}
			if desc, _ := p["description"].(string); len(desc) < 20 {
				t.Errorf("%s: no description", where)
			}
			if !usesTemplatedDatasource(p["datasource"]) {
				t.Errorf("%s: datasource %v, want ${datasource}", where, p["datasource"])
			}
			fc, _ := p["fieldConfig"].(map[string]any)
			defaults, _ := fc["defaults"].(map[string]any)
			if unit, _ := defaults["unit"].(string); unit == "" {
				t.Errorf("%s: no unit", where)
			}
			targets, _ := p["targets"].([]any)
			if len(targets) == 0 {
				t.Errorf("%s: no query", where)
			}
			for _, tg := range targets {
				tm, _ := tg.(map[string]any)
				if !usesTemplatedDatasource(tm["datasource"]) {
					t.Errorf("%s: target %v: datasource %v, want ${datasource}", where, tm["refId"], tm["datasource"])
				}
			}
		}
	}
	for _, want := range []string{"monero-overview", "monero-node", "monero-fleet"} {
		if uids[want] == "" {
			t.Errorf("dashboard %s missing", want)
		}
	}
}

func usesTemplatedDatasource(ds any) bool {
	m, _ := ds.(map[string]any)
	return m["uid"] == "${datasource}" && m["type"] == "prometheus"
}

func atoi(v any) int {
	var n int
	_, _ = fmt.Sscan(fmt.Sprint(v), &n)
	return n
}

// TestPanelQueriesFilterAndRate checks that every selector of a panel
// query carries the config's selector and the job and instance variables,
// that every variable query carries the config's selector, and that
// counters are read through rate(...[$__rate_interval]).
func TestPanelQueriesFilterAndRate(t *testing.T) {
	checkFiltered(t, loadConfig(t), queries(t))
}

func checkFiltered(t *testing.T, cfg *alerts.Config, qs []query) {
	t.Helper()
	selector := "{" + cfg.Selector
	instance := cfg.InstanceLabel + `=~"$instance"`
	for _, q := range qs {
		if !strings.Contains(q.where, ": variable ") && !q.filtered {
			continue // an alert rule: the alerts' tests check those
		}
		names := metricNames(q.expr)
		if len(names) == 0 {
			t.Errorf("%s: no metric in %q", q.where, q.expr)
		}
		for _, name := range names {
			for _, s := range selectorsOf(q.expr, name) {
				if rest, ok := strings.CutPrefix(s, selector); !ok || !strings.HasPrefix(rest, ", ") && !strings.HasPrefix(rest, "}") {
					t.Errorf("%s: %s%s does not start with the config's selector %s", q.where, name, s, cfg.Selector)
				}
				if !q.filtered {
					continue
				}
				if !strings.Contains(s, `job=~"$job"`) || !strings.Contains(s, instance) {
					t.Errorf("%s: %s%s is not filtered by $job and $instance", q.where, name, s)
				}
				if strings.HasSuffix(name, "_total") && !strings.HasSuffix(s, "[$__rate_interval]") {
					t.Errorf("%s: counter %s%s is not read over [$__rate_interval]", q.where, name, s)
				}
			}
		}
		if strings.Contains(q.expr, "[") && !strings.Contains(q.expr, "[$__rate_interval]") {
			t.Errorf("%s: a range other than $__rate_interval in %q", q.where, q.expr)
		}
	}
}

// defaultInstance finds the instance label (not the $instance variable).
var defaultInstance = regexp.MustCompile(`(^|[^$\w])instance\b`)

// TestConfigReachesRulesAndDashboards changes the mixin's config (another
// selector, other labels to tell nodes apart, another threshold) and checks
// that the rules and the dashboards both follow it, and that promtool still
// parses every query.
func TestConfigReachesRulesAndDashboards(t *testing.T) {
	cfg := loadConfig(t)
	cfg.Selector = `job=~"xmr-.*", env="prod"`
	cfg.FleetLabels = []string{"cluster", "network"}
	cfg.InstanceLabel = "node"
	cfg.LastBlockTooOld.MaxAge = alerts.Duration(7 * time.Minute)

	dir := t.TempDir()
	rules, err := alerts.Render(cfg)
	if err != nil {
		t.Fatal(err)
	}
	rulesPath := filepath.Join(dir, alerts.RulesFile)
	if err := os.WriteFile(rulesPath, rules, 0o644); err != nil {
		t.Fatal(err)
	}
	dashboards := build(t, cfg)
	qs := queriesOf(t, dashboards, []string{rulesPath})
	checkFiltered(t, cfg, qs)
	for _, q := range qs {
		if strings.Contains(q.expr, `"monero"`) {
			t.Errorf("%s: the default selector is left in %q", q.where, q.expr)
		}
		if defaultInstance.MatchString(q.expr) {
			t.Errorf("%s: the default instance label is left in %q", q.where, q.expr)
		}
		for _, s := range selectorsOf(q.expr, "monero_up") {
			if !strings.HasPrefix(s, `{job=~"xmr-.*", env="prod"`) {
				t.Errorf("%s: monero_up%s lacks the new selector", q.where, s)
			}
		}
	}
	for file, wants := range map[string][]string{
		"monero-overview.json": {`by (cluster, network, node, check)`, `"{{node}}"`, `"value":420`},
		"monero-node.json":     {`by (cluster, network, node, le)`, `"{{node}}"`},
		"monero-fleet.json":    {`max by (cluster, network, node)`, `count_values by (cluster, network)`, `"{{cluster}} {{network}}"`, `"value":420`},
	} {
		b, err := json.Marshal(dashboards[file])
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range wants {
			if !bytes.Contains(b, []byte(want)) {
				t.Errorf("%s: lacks %s", file, want)
			}
		}
	}
	if !bytes.Contains(rules, []byte("< on (cluster, network) group_left ()")) || !bytes.Contains(rules, []byte("> 420\n")) {
		t.Errorf("the rules do not follow the config:\n%s", rules)
	}
	promtoolParse(t, qs)
}

// TestQueriesParse hands every expression of the dashboards and the rules,
// Grafana's variables replaced, to promtool as recording rules: promtool
// parses each with Prometheus's own parser.
func TestQueriesParse(t *testing.T) {
	promtoolParse(t, queries(t))
}

// promtoolParse hands the queries, Grafana's variables replaced, to
// promtool as recording rules.
func promtoolParse(t *testing.T, qs []query) {
	t.Helper()
	promtool := testenv.RequireTool(t, "promtool", "prometheus")
	type rule struct {
		Record string `yaml:"record"`
		Expr   string `yaml:"expr"`
	}
	var rules []rule
	for i, q := range qs {
		rules = append(rules, rule{Record: fmt.Sprintf("mixin_query_%d", i), Expr: substituteGrafana(q.expr)})
	}
	b, err := yaml.Marshal(map[string]any{"groups": []map[string]any{{"name": "mixin", "rules": rules}}})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "queries.yml")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(promtool, "check", "rules", path).CombinedOutput()
	if err != nil {
		// Name the query promtool refused, not only its rule number.
		msg := string(out)
		for i := len(qs) - 1; i >= 0; i-- {
			msg = strings.ReplaceAll(msg, fmt.Sprintf("mixin_query_%d", i), qs[i].where)
		}
		t.Fatalf("promtool check rules: %v\n%s\n(rule numbers are in file order: %s)", err, msg, path)
	}
	if !strings.Contains(string(out), fmt.Sprintf("SUCCESS: %d rules found", len(qs))) {
		t.Errorf("promtool check rules:\n%s", out)
	}
}

// collectorCode returns the collector's Go source, tests left out.
func collectorCode(t *testing.T) string {
	t.Helper()
	paths, err := filepath.Glob(collectorSource)
	if err != nil || len(paths) == 0 {
		t.Fatalf("%s: %v", collectorSource, err)
	}
	var all strings.Builder
	for _, p := range paths {
		if strings.HasSuffix(p, "_test.go") {
			continue
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		all.Write(b)
	}
	return all.String()
}

// TestMetricNamesExist compares every metric name the dashboards and the
// rules read with the families of a real node's /metrics (the golden file
// the exporter's integration test keeps in step): a renamed metric fails
// here.
func TestMetricNamesExist(t *testing.T) {
	fams := goldenFamilies(t, goldenMetrics)
	source := collectorCode(t)
	for name, why := range notInGolden {
		if _, ok := fams[name]; ok {
			t.Errorf("%s is in the golden scrape now: remove it from notInGolden", name)
		}
		if !strings.Contains(source, `"`+strings.TrimPrefix(name, "monero_")+`"`) {
			t.Errorf("%s (%s) is named nowhere in %s: renamed?", name, why, collectorSource)
		}
		fams[name] = "gauge"
	}
	missing := map[string][]string{}
	for _, q := range queries(t) {
		for _, name := range metricNames(q.expr) {
			if !emitted(fams, name) && !slices.Contains(prometheusOwn, name) {
				missing[name] = append(missing[name], q.where)
			}
		}
	}
	names := make([]string, 0, len(missing))
	for name := range missing {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		t.Errorf("%s is not in %s; used by:\n  %s", name, goldenMetrics, strings.Join(missing[name], "\n  "))
	}
}
