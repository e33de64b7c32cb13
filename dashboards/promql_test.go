package dashboards

import (
	"bufio"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// PromQL without Prometheus's parser (a very large module): enough
// lexing to find the metric names an expression reads. promtool checks the
// syntax itself.
var (
	reString   = regexp.MustCompile(`"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|` + "`[^`]*`")
	reBraces   = regexp.MustCompile(`\{[^}]*\}`)
	reBrackets = regexp.MustCompile(`\[[^\]]*\]`)
	reGrouping = regexp.MustCompile(`\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`)
	reToken    = regexp.MustCompile(`[0-9][0-9a-zA-Z_.]*|[a-zA-Z_:][a-zA-Z0-9_:]*`)
	// Grafana's variables, replaced by values PromQL accepts.
	reGrafanaVar = regexp.MustCompile(`\$\{?(\w+)(?::\w+)?\}?`)
)

var promqlKeywords = map[string]bool{
	"and": true, "or": true, "unless": true, "bool": true, "offset": true, "by": true,
	"without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true,
	"inf": true, "nan": true, "atan2": true, "start": true, "end": true,
}

// substituteGrafana replaces Grafana's variables with concrete values so
// that the expression is plain PromQL.
func substituteGrafana(expr string) string {
	return reGrafanaVar.ReplaceAllStringFunc(expr, func(v string) string {
		name := reGrafanaVar.FindStringSubmatch(v)[1]
		switch name {
		case "__rate_interval", "__interval", "__range":
			return "5m"
		case "__interval_ms", "__range_ms":
			return "300000"
		case "__range_s":
			return "300"
		default:
			return "monero" // inside a label matcher's string
		}
	})
}

// metricNames returns the metric names expr selects, sorted and unique.
func metricNames(expr string) []string {
	s := reString.ReplaceAllString(substituteGrafana(expr), `""`)
	s = reBraces.ReplaceAllString(s, " ")
	s = reBrackets.ReplaceAllString(s, " ")
	s = reGrouping.ReplaceAllString(s, " ")
	var names []string
	for _, loc := range reToken.FindAllStringIndex(s, -1) {
		tok := s[loc[0]:loc[1]]
		if tok[0] >= '0' && tok[0] <= '9' || promqlKeywords[tok] {
			continue
		}
		if rest := strings.TrimLeft(s[loc[1]:], " \t\n"); strings.HasPrefix(rest, "(") {
			continue // a function or an aggregation
		}
		names = append(names, tok)
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// selectorsOf returns, for every place expr selects metric name, the text
// that follows the name: its matchers and range, if any.
func selectorsOf(expr, name string) []string {
	re := regexp.MustCompile(`(?:^|[^\w:])` + regexp.QuoteMeta(name) + `\b\s*(\{[^}]*\})?(\[[^\]]*\])?`)
	var out []string
	for _, m := range re.FindAllStringSubmatch(expr, -1) {
		out = append(out, m[1]+m[2])
	}
	return out
}

var (
	reLabelValues = regexp.MustCompile(`^\s*label_values\((.*),\s*\w+\s*\)\s*$`)
	reQueryResult = regexp.MustCompile(`^\s*query_result\((.*)\)\s*$`)
)

// variableExpr returns the PromQL inside a Grafana variable query
// (label_values(expr, label) or query_result(expr)), or "" when there is
// none.
func variableExpr(query string) string {
	for _, re := range []*regexp.Regexp{reLabelValues, reQueryResult} {
		if m := re.FindStringSubmatch(query); m != nil {
			return strings.TrimSpace(m[1])
		}
	}
	return ""
}

// goldenFamilies reads the metric families of a /metrics exposition: name
// to type.
func goldenFamilies(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("the golden scrape of a real node: %v", err)
	}
	defer f.Close()
	fams := map[string]string{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if fields := strings.Fields(sc.Text()); len(fields) == 4 && fields[0] == "#" && fields[1] == "TYPE" {
			fams[fields[2]] = fields[3]
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(fams) == 0 {
		t.Fatalf("%s: no metric family", path)
	}
	return fams
}

// emitted tells whether the series name belongs to one of the families.
func emitted(fams map[string]string, name string) bool {
	if _, ok := fams[name]; ok {
		return true
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		base, ok := strings.CutSuffix(name, suffix)
		if !ok {
			continue
		}
		switch fams[base] {
		case "histogram", "gaugehistogram":
			return true
		case "summary":
			return suffix != "_bucket"
		}
	}
	return false
}

func TestMetricNames(t *testing.T) {
	for expr, want := range map[string]string{
		`monero_up{job=~"$job"} == 0`: "monero_up",
		`sum by (job, instance, outcome) (rate(monero_exporter_rpc_requests_total{job=~"$job", outcome!="success"}[$__rate_interval]))`: "monero_exporter_rpc_requests_total",
		`histogram_quantile(0.5, sum by (le) (a_bucket{x="y{z}"}))`:                                                                     "a_bucket",
		`a - b offset 5m > 1e3 and on (instance) group_left (foo) c unless ignoring (x) d`:                                              "a b c d",
		`count_values by (job) ("version", v{job=~"$job"}) or time() - s`:                                                               "s v",
		`max by (job) (x) - min without (y) (z) > bool 0`:                                                                               "x z",
	} {
		if got := strings.Join(metricNames(expr), " "); got != want {
			t.Errorf("metricNames(%q) = %q, want %q", expr, got, want)
		}
	}
	for query, want := range map[string]string{
		`label_values(monero_up{job=~"$job"}, instance)`: `monero_up{job=~"$job"}`,
		`label_values(monero_up, job)`:                   "monero_up",
		`query_result(sum(up))`:                          "sum(up)",
		`label_values(job)`:                              "",
	} {
		if got := variableExpr(query); got != want {
			t.Errorf("variableExpr(%q) = %q, want %q", query, got, want)
		}
	}
	if got := selectorsOf(`rate(a_total{x="1"}[$__rate_interval]) / b_a_total{y="2"} + a_total + a_totals{z="3"}`, "a_total"); !slices.Equal(got, []string{`{x="1"}[$__rate_interval]`, ""}) {
		t.Errorf("selectorsOf: %q", got)
	}
}
