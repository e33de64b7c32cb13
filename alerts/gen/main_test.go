package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"go.yaml.in/yaml/v2"

	"github.com/monero-ops/monero_exporter/alerts"
	"github.com/monero-ops/monero_exporter/internal/testenv"
)

var configFile = filepath.Join("..", alerts.ConfigFile)

// TestDefaultWritesTheCommittedRules: without the variant flags, gen writes
// what go generate ./alerts commits.
func TestDefaultWritesTheCommittedRules(t *testing.T) {
	out := filepath.Join(t.TempDir(), "rules.yml")
	if err := run([]string{"-config", configFile, "-out", out}); err != nil {
		t.Fatal(err)
	}
	if got, want := testenv.ReadFile(t, out), testenv.ReadFile(t, filepath.Join("..", alerts.RulesFile)); got != want {
		t.Errorf("gen without flags differs from %s", alerts.RulesFile)
	}
}

// TestVariant renders the rules as make demo-fleet does and checks each
// change: the overlay's threshold, every for: capped (descriptions quote
// the capped duration), the dropped alert gone, the rest kept, and the file
// valid for promtool.
func TestVariant(t *testing.T) {
	dir := t.TempDir()
	overlay := filepath.Join(dir, "overlay.yml")
	if err := os.WriteFile(overlay, []byte("lastBlockTooOld: {maxAge: 1m}\nexporterDown: {severity: info}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "rules.yml")
	if err := run([]string{"-config", configFile, "-overlay", overlay, "-max-for", "30s", "-without", "MoneroTooFewPeers,MoneroUpdateAvailable", "-out", out}); err != nil {
		t.Fatal(err)
	}
	text := testenv.ReadFile(t, out)
	if !strings.HasPrefix(text, "# A variant of the Monero mixin's rules, NOT for production") {
		t.Errorf("the variant does not say it is one:\n%s", text[:min(len(text), 300)])
	}

	prod, err := alerts.LoadConfig(configFile)
	if err != nil {
		t.Fatal(err)
	}
	all, err := alerts.Rules(prod)
	if err != nil {
		t.Fatal(err)
	}
	var rf alerts.RuleFile
	readYAML(t, out, &rf)
	got := map[string]alerts.Rule{}
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			got[r.Alert] = r
		}
	}
	for _, g := range all.Groups {
		for _, r := range g.Rules {
			v, ok := got[r.Alert]
			switch {
			case r.Alert == "MoneroTooFewPeers" || r.Alert == "MoneroUpdateAvailable":
				if ok {
					t.Errorf("%s is still in the variant", r.Alert)
				}
				continue
			case !ok:
				t.Errorf("%s is missing from the variant", r.Alert)
				continue
			}
			want := min(time.Duration(r.For), 30*time.Second)
			if time.Duration(v.For) != want {
				t.Errorf("%s: for %v, want %v", r.Alert, v.For, model.Duration(want))
			}
			if strings.Contains(v.Annotations["description"], "for "+r.For.String()) && r.For.String() != "30s" {
				t.Errorf("%s: the description still quotes the production for %s: %s", r.Alert, r.For, v.Annotations["description"])
			}
		}
	}
	if r := got["MoneroLastBlockTooOld"]; !strings.HasSuffix(r.Expr, "> 60") {
		t.Errorf("MoneroLastBlockTooOld does not take the overlay's maxAge: %s", r.Expr)
	}
	if r := got["MoneroExporterDown"]; r.Labels["severity"] != "info" || r.For != model.Duration(30*time.Second) {
		t.Errorf("MoneroExporterDown: the overlay's severity or the capped for is lost: %+v", r)
	}

	t.Run("promtool", func(t *testing.T) {
		promtool := testenv.RequireTool(t, "promtool", "prometheus")
		if b, err := exec.Command(promtool, "check", "rules", out).CombinedOutput(); err != nil {
			t.Errorf("promtool check rules: %v\n%s", err, b)
		}
	})
}

func readYAML(t testing.TB, path string, v any) {
	t.Helper()
	if err := yaml.UnmarshalStrict([]byte(testenv.ReadFile(t, path)), v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func TestVariantErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yml")
	if err := os.WriteFile(bad, []byte("lastBlockTooOld: {maxAgee: 1m}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "rules.yml")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-overlay", bad}, "maxAgee"},
		{[]string{"-max-for", "soon"}, "-max-for"},
		{[]string{"-max-for", "0s"}, "-max-for"},
		{[]string{"-without", "MoneroNoSuchAlert"}, "MoneroNoSuchAlert"},
		{[]string{"stray"}, "unexpected arguments"},
	} {
		err := run(append([]string{"-config", configFile, "-out", out}, c.args...))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("gen %v: error %v, want one naming %q", c.args, err, c.want)
		}
	}
	if _, err := os.Stat(out); err == nil {
		t.Errorf("a failed run wrote %s", out)
	}
}
