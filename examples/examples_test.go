package examples

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v2"

	"github.com/monero-ops/monero_exporter/internal/testenv"
)

// The other parts of the repository the examples use.
var (
	rulesFile    = filepath.Join("..", "alerts", "monero-alerts.yml")
	alertsConfig = filepath.Join("..", "alerts", "config.yml")
	readmes      = docPages()
)

// docPages are README and the pages under docs/, where configurations are
// shown to users.
func docPages() []string {
	pages, _ := filepath.Glob(filepath.Join("..", "docs", "*.md")) // the pattern is valid
	return append([]string{filepath.Join("..", "README.md")}, pages...)
}

func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	if err := yaml.Unmarshal([]byte(testenv.ReadFile(t, path)), v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	if err := os.WriteFile(to, []byte(testenv.ReadFile(t, from)), 0o644); err != nil {
		t.Fatal(err)
	}
}

// checkPrometheusConfig runs `promtool check config` on config, with the
// Monero rules beside it as the examples place them.
func checkPrometheusConfig(t *testing.T, promtool, name string, config []byte) {
	t.Helper()
	out := promtoolCheckConfig(t, promtool, name, config)
	if out != "" && bytes.Contains(config, []byte("monero-alerts.yml")) && !strings.Contains(out, "Checking monero-alerts.yml") {
		t.Errorf("%s: promtool did not check the rules:\n%s", name, out)
	}
}

// promtoolCheckConfig returns promtool's output, or "" after reporting
// its failure.
func promtoolCheckConfig(t *testing.T, promtool, name string, config []byte) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), config, 0o644); err != nil {
		t.Fatal(err)
	}
	copyFile(t, rulesFile, filepath.Join(dir, "monero-alerts.yml"))
	cmd := exec.Command(promtool, "check", "config", "prometheus.yml")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Errorf("%s: promtool check config: %v\n%s", name, err, out)
		return ""
	}
	return string(out)
}

var reYAMLBlock = regexp.MustCompile("(?s)```ya?ml\n(.*?)```")

// TestPrometheusConfig validates prometheus.yml, and every Prometheus
// configuration README shows, with Prometheus's own promtool.
func TestPrometheusConfig(t *testing.T) {
	promtool := testenv.RequireTool(t, "promtool", "prometheus")
	b, err := os.ReadFile("prometheus.yml")
	if err != nil {
		t.Fatal(err)
	}
	checkPrometheusConfig(t, promtool, "prometheus.yml", b)

	shown := 0
	for _, readme := range readmes {
		text, err := os.ReadFile(readme)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range reYAMLBlock.FindAllSubmatch(text, -1) {
			if bytes.Contains(m[1], []byte("scrape_configs:")) {
				shown++
				checkPrometheusConfig(t, promtool, readme, m[1])
			}
		}
	}
	if shown == 0 {
		t.Errorf("no README (%s) shows a Prometheus configuration", strings.Join(readmes, ", "))
	}
}

// TestPrometheusConfigMatchesTheMixin checks that prometheus.yml's job is
// the one the alerts select, and that it scrapes the compose file's
// exporter.
func TestPrometheusConfigMatchesTheMixin(t *testing.T) {
	var prom struct {
		RuleFiles     []string `yaml:"rule_files"`
		ScrapeConfigs []struct {
			JobName       string `yaml:"job_name"`
			StaticConfigs []struct {
				Targets []string `yaml:"targets"`
			} `yaml:"static_configs"`
		} `yaml:"scrape_configs"`
	}
	readYAML(t, "prometheus.yml", &prom)
	var alerts struct {
		Selector string `yaml:"selector"`
	}
	readYAML(t, alertsConfig, &alerts)
	if !slices.Contains(prom.RuleFiles, "monero-alerts.yml") {
		t.Errorf("rule_files %v lacks monero-alerts.yml", prom.RuleFiles)
	}
	found := false
	for _, sc := range prom.ScrapeConfigs {
		if alerts.Selector == `job="`+sc.JobName+`"` {
			found = true
			for _, s := range sc.StaticConfigs {
				if !slices.Contains(s.Targets, "monero_exporter:18091") {
					t.Errorf("job %s scrapes %v, not the compose file's monero_exporter:18091", sc.JobName, s.Targets)
				}
			}
		}
	}
	if !found {
		t.Errorf("no scrape job matches the alerts' selector %s", alerts.Selector)
	}
}

// TestAlertmanagerConfig validates alertmanager.yml with amtool when it is
// installed (Debian package prometheus-alertmanager), and always checks
// that its inhibit rules name real alerts.
func TestAlertmanagerConfig(t *testing.T) {
	var rules struct {
		Groups []struct {
			Rules []struct {
				Alert string `yaml:"alert"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	readYAML(t, rulesFile, &rules)
	alerts := map[string]bool{}
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			alerts[r.Alert] = true
		}
	}
	b, err := os.ReadFile("alertmanager.yml")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile(`Monero[A-Za-z]+`).FindAllString(string(b), -1) {
		if !alerts[m] {
			t.Errorf("alertmanager.yml names %s, which is not an alert", m)
		}
	}
	amtool := testenv.RequireTool(t, "amtool", "prometheus-alertmanager")
	if out, err := exec.Command(amtool, "check-config", "alertmanager.yml").CombinedOutput(); err != nil {
		t.Errorf("amtool check-config: %v\n%s", err, out)
	}
}

type composeFile struct {
	Name     string `yaml:"name"`
	Services map[string]struct {
		Restart     string            `yaml:"restart"`
		Image       string            `yaml:"image"`
		Build       string            `yaml:"build"`
		Command     []string          `yaml:"command"`
		Environment map[string]string `yaml:"environment"`
		Ports       []string          `yaml:"ports"`
		Volumes     []string          `yaml:"volumes"`
		DependsOn   []string          `yaml:"depends_on"`
	} `yaml:"services"`
	Volumes map[string]any `yaml:"volumes"`
}

// TestComposeFile checks docker-compose.yml without a Docker engine: the
// services, that every file it mounts exists, and that the services point
// at each other consistently.
func TestComposeFile(t *testing.T) {
	var c composeFile
	b, err := os.ReadFile("docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict(b, &c); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	for _, name := range []string{"monerod", "monero_exporter", "prometheus", "alertmanager", "grafana"} {
		if _, ok := c.Services[name]; !ok {
			t.Errorf("service %s missing", name)
		}
	}
	mounts := map[string]string{} // container path -> host path
	for name, s := range c.Services {
		for _, dep := range s.DependsOn {
			if _, ok := c.Services[dep]; !ok {
				t.Errorf("%s depends on %s, which is no service", name, dep)
			}
		}
		for _, v := range s.Volumes {
			parts := strings.Split(v, ":")
			if len(parts) < 2 {
				t.Errorf("%s: volume %q", name, v)
				continue
			}
			src, dst := parts[0], parts[1]
			mounts[dst] = src
			if !strings.HasPrefix(src, ".") {
				if _, ok := c.Volumes[src]; !ok {
					t.Errorf("%s: named volume %s not declared", name, src)
				}
				continue
			}
			if _, err := os.Stat(src); err != nil {
				t.Errorf("%s mounts %s: %v", name, src, err)
			}
		}
	}
	exporter := c.Services["monero_exporter"]
	if exporter.Build != ".." {
		t.Errorf("monero_exporter builds %q, want the repository (..)", exporter.Build)
	}
	if _, err := os.Stat(filepath.Join(exporter.Build, "Dockerfile")); err != nil {
		t.Error(err)
	}
	if got := exporter.Environment["MONEROD_RPC_URL"]; got != "http://monerod:18081" {
		t.Errorf("MONEROD_RPC_URL %q", got)
	}
	if !slices.Contains(exporter.Ports, "18091:18091") {
		t.Errorf("exporter ports %v", exporter.Ports)
	}
	if mounts["/etc/prometheus/prometheus.yml"] != "./prometheus.yml" || mounts["/etc/prometheus/monero-alerts.yml"] != "../alerts/monero-alerts.yml" {
		t.Errorf("prometheus must get prometheus.yml and the rules side by side: %v", mounts)
	}
	if mounts["/etc/alertmanager/alertmanager.yml"] != "./alertmanager.yml" {
		t.Errorf("alertmanager.yml not mounted: %v", mounts)
	}
	if mounts["/etc/grafana/provisioning"] != "./grafana/provisioning" {
		t.Errorf("grafana provisioning not mounted: %v", mounts)
	}

	// Grafana's dashboard provider reads where the dashboards are mounted.
	var provider struct {
		Providers []struct {
			Type    string `yaml:"type"`
			Options struct {
				Path string `yaml:"path"`
			} `yaml:"options"`
		} `yaml:"providers"`
	}
	readYAML(t, filepath.Join("grafana", "provisioning", "dashboards", "monero.yml"), &provider)
	if len(provider.Providers) != 1 || mounts[provider.Providers[0].Options.Path] != "../dashboards" {
		t.Errorf("the dashboard provider does not read the mounted ../dashboards: %+v, mounts %v", provider, mounts)
	}
	home := c.Services["grafana"].Environment["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
	if rel, ok := strings.CutPrefix(home, provider.Providers[0].Options.Path+"/"); !ok {
		t.Errorf("home dashboard %s is not under the provider's path", home)
	} else if _, err := os.Stat(filepath.Join("..", "dashboards", rel)); err != nil {
		t.Errorf("home dashboard: %v", err)
	}
	var ds struct {
		Datasources []struct {
			Type      string `yaml:"type"`
			URL       string `yaml:"url"`
			IsDefault bool   `yaml:"isDefault"`
		} `yaml:"datasources"`
	}
	readYAML(t, filepath.Join("grafana", "provisioning", "datasources", "prometheus.yml"), &ds)
	if len(ds.Datasources) == 0 || ds.Datasources[0].Type != "prometheus" || !ds.Datasources[0].IsDefault || ds.Datasources[0].URL != "http://prometheus:9090" {
		t.Errorf("the default data source must be the compose file's Prometheus: %+v", ds)
	}
}

// TestKubernetesProbes checks the Kubernetes example: the exporter's
// readiness probe is /health and its liveness probe /-/healthy.
func TestKubernetesProbes(t *testing.T) {
	f, err := os.Open("kubernetes.yml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	type probe struct {
		HTTPGet *struct {
			Path string `yaml:"path"`
			Port any    `yaml:"port"`
		} `yaml:"httpGet"`
	}
	type container struct {
		Name           string   `yaml:"name"`
		Image          string   `yaml:"image"`
		Args           []string `yaml:"args"`
		ReadinessProbe *probe   `yaml:"readinessProbe"`
		LivenessProbe  *probe   `yaml:"livenessProbe"`
		Ports          []struct {
			Name          string `yaml:"name"`
			ContainerPort int    `yaml:"containerPort"`
		} `yaml:"ports"`
		SecurityContext struct {
			RunAsNonRoot bool `yaml:"runAsNonRoot"`
		} `yaml:"securityContext"`
	}
	kinds := map[string]bool{}
	var exporter *container
	dec := yaml.NewDecoder(f)
	for {
		var doc struct {
			APIVersion string `yaml:"apiVersion"`
			Kind       string `yaml:"kind"`
			Spec       struct {
				Template struct {
					Spec struct {
						Containers []container `yaml:"containers"`
					} `yaml:"spec"`
				} `yaml:"template"`
			} `yaml:"spec"`
		}
		if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("kubernetes.yml: %v", err)
		}
		if doc.APIVersion == "" || doc.Kind == "" {
			t.Errorf("a document without apiVersion or kind")
		}
		kinds[doc.Kind] = true
		for i, c := range doc.Spec.Template.Spec.Containers {
			if strings.Contains(c.Image, "monero_exporter") {
				exporter = &doc.Spec.Template.Spec.Containers[i]
			}
		}
	}
	if !kinds["StatefulSet"] || !kinds["Service"] {
		t.Errorf("want a StatefulSet and a Service, have %v", kinds)
	}
	if exporter == nil {
		t.Fatal("no monero_exporter container")
	}
	portName := ""
	for _, p := range exporter.Ports {
		if p.ContainerPort == 18091 {
			portName = p.Name
		}
	}
	if portName == "" {
		t.Error("the exporter container does not expose 18091")
	}
	for name, c := range map[string]struct {
		p    *probe
		path string
	}{"readinessProbe": {exporter.ReadinessProbe, "/health"}, "livenessProbe": {exporter.LivenessProbe, "/-/healthy"}} {
		if c.p == nil || c.p.HTTPGet == nil || c.p.HTTPGet.Path != c.path {
			t.Errorf("%s: want an HTTP GET of %s", name, c.path)
			continue
		}
		if port := c.p.HTTPGet.Port; port != portName && port != 18091 {
			t.Errorf("%s: port %v, want %s", name, port, portName)
		}
	}
	if !exporter.SecurityContext.RunAsNonRoot {
		t.Error("the exporter should run as non-root")
	}
}
