package alerts

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/alecthomas/units"
	"github.com/prometheus/common/model"
	"go.yaml.in/yaml/v2"
)

// Duration is a Prometheus duration ("30s", "5m", "1h") in the config.
type Duration = model.Duration

// Bytes is a size in the config, with a base-2 unit: "512MiB", "20GiB".
type Bytes uint64

// UnmarshalYAML reads a size such as "20GiB" (or a plain number of bytes).
func (b *Bytes) UnmarshalYAML(unmarshal func(any) error) error {
	var s string
	if err := unmarshal(&s); err != nil {
		return err
	}
	if n, err := strconv.ParseUint(s, 10, 64); err == nil {
		*b = Bytes(n)
		return nil
	}
	n, err := units.ParseBase2Bytes(s)
	if err != nil || n < 0 {
		return fmt.Errorf("bad size %q: want a number of bytes or a base-2 unit such as 20GiB", s)
	}
	*b = Bytes(n)
	return nil
}

// String is the size in the largest base-2 unit that divides it exactly.
func (b Bytes) String() string {
	for _, u := range []struct {
		name string
		size uint64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if b != 0 && uint64(b)%u.size == 0 {
			return fmt.Sprintf("%d%s", uint64(b)/u.size, u.name)
		}
	}
	return fmt.Sprintf("%dB", uint64(b))
}

// Alert is what every alert has: how long its condition must hold before it
// fires, and how loud it is.
type Alert struct {
	// For is the rule's `for:`, long enough to ride out one bad scrape.
	For Duration `yaml:"for"`
	// Severity is critical (page someone), warning (look today) or info.
	Severity string `yaml:"severity"`
}

// LastBlockAlert fires when the tip has not moved for MaxAge.
type LastBlockAlert struct {
	Alert  `yaml:",inline"`
	MaxAge Duration `yaml:"maxAge"`
}

// BehindAlert fires when the node is more than MaxBlocks behind the best
// chain it knows of.
type BehindAlert struct {
	Alert     `yaml:",inline"`
	MaxBlocks uint64 `yaml:"maxBlocks"`
}

// MinPeersAlert fires when the node has fewer than Min (but some) peers.
type MinPeersAlert struct {
	Alert `yaml:",inline"`
	Min   uint64 `yaml:"min"`
}

// DiskAlert fires when the disk holding the database has less than MinFree.
type DiskAlert struct {
	Alert   `yaml:",inline"`
	MinFree Bytes `yaml:"minFree"`
}

// SlowAlert fires when scrapes take longer than Max on average over Window.
type SlowAlert struct {
	Alert  `yaml:",inline"`
	Max    Duration `yaml:"max"`
	Window Duration `yaml:"window"`
}

// RatioAlert fires when more than MaxRatio (0-1) of the calls over Window
// failed.
type RatioAlert struct {
	Alert    `yaml:",inline"`
	MaxRatio float64  `yaml:"maxRatio"`
	Window   Duration `yaml:"window"`
}

// Config is config.yml, the one configuration of the mixin: which series
// are the exporter's, which labels tell nodes apart, and the thresholds,
// durations and severities of every alert. The alert rules (Rules) and the
// dashboards (package dashboards) are both built from it.
type Config struct {
	// Selector holds the label matchers that pick the exporter's series,
	// usually its scrape job: job="monero". Every rule and every dashboard
	// query carries it, and so do the dashboards' job and instance
	// variables.
	Selector string `yaml:"selector"`
	// FleetLabels group nodes into fleets whose hard-fork and monerod
	// versions should agree and whose heights are compared (for example
	// [job], or [job, network]); the dashboards compare nodes within the
	// same groups.
	FleetLabels []string `yaml:"fleetLabels"`
	// InstanceLabel names one node (one exporter) among those of a fleet:
	// "instance" unless relabelling put the node's name elsewhere.
	InstanceLabel string `yaml:"instanceLabel"`
	// RunbookURL, when set, is the prefix of each alert's runbook_url
	// annotation; the lower-cased alert name is appended.
	RunbookURL string `yaml:"runbookURL"`

	ExporterDown            Alert          `yaml:"exporterDown"`
	MonerodDown             Alert          `yaml:"monerodDown"`
	LastBlockTooOld         LastBlockAlert `yaml:"lastBlockTooOld"`
	NotSynchronized         Alert          `yaml:"notSynchronized"`
	BehindPeers             BehindAlert    `yaml:"behindPeers"`
	NoPeers                 Alert          `yaml:"noPeers"`
	TooFewPeers             MinPeersAlert  `yaml:"tooFewPeers"`
	HealthCheckFailing      Alert          `yaml:"healthCheckFailing"`
	HardForkVersionMismatch Alert          `yaml:"hardForkVersionMismatch"`
	DaemonVersionMismatch   Alert          `yaml:"daemonVersionMismatch"`
	ChainFork               Alert          `yaml:"chainFork"`
	BehindFleet             BehindAlert    `yaml:"behindFleet"`
	DiskSpaceLow            DiskAlert      `yaml:"diskSpaceLow"`
	DiskSpaceCriticallyLow  DiskAlert      `yaml:"diskSpaceCriticallyLow"`
	UpdateAvailable         Alert          `yaml:"updateAvailable"`
	ScrapeSlow              SlowAlert      `yaml:"scrapeSlow"`
	RPCErrors               RatioAlert     `yaml:"rpcErrors"`
	ScrapeCollectorFailing  Alert          `yaml:"scrapeCollectorFailing"`
}

// ParseConfig reads a config in the format of config.yml. Unknown keys are
// errors, so that a misspelt threshold is not silently ignored; a missing
// instanceLabel is "instance".
func ParseConfig(b []byte) (*Config, error) {
	var c Config
	if err := yaml.UnmarshalStrict(b, &c); err != nil {
		return nil, fmt.Errorf("alerts config: %w", err)
	}
	if c.InstanceLabel == "" {
		c.InstanceLabel = "instance"
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("alerts config: %w", err)
	}
	return &c, nil
}

// LoadConfig reads and checks the config file at path.
func LoadConfig(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseConfig(b)
}

// alerts lists every alert with its config, for validation.
func (c *Config) alerts() map[string]*Alert {
	return map[string]*Alert{
		"exporterDown":            &c.ExporterDown,
		"monerodDown":             &c.MonerodDown,
		"lastBlockTooOld":         &c.LastBlockTooOld.Alert,
		"notSynchronized":         &c.NotSynchronized,
		"behindPeers":             &c.BehindPeers.Alert,
		"noPeers":                 &c.NoPeers,
		"tooFewPeers":             &c.TooFewPeers.Alert,
		"healthCheckFailing":      &c.HealthCheckFailing,
		"hardForkVersionMismatch": &c.HardForkVersionMismatch,
		"daemonVersionMismatch":   &c.DaemonVersionMismatch,
		"chainFork":               &c.ChainFork,
		"behindFleet":             &c.BehindFleet.Alert,
		"diskSpaceLow":            &c.DiskSpaceLow.Alert,
		"diskSpaceCriticallyLow":  &c.DiskSpaceCriticallyLow.Alert,
		"updateAvailable":         &c.UpdateAvailable,
		"scrapeSlow":              &c.ScrapeSlow.Alert,
		"rpcErrors":               &c.RPCErrors.Alert,
		"scrapeCollectorFailing":  &c.ScrapeCollectorFailing,
	}
}

// Validate reports values the rules cannot use: a missing selector or
// severity, a zero threshold, a ratio outside 0-1.
func (c *Config) Validate() error {
	var errs []error
	if strings.TrimSpace(c.Selector) == "" || strings.ContainsAny(c.Selector, "{}") {
		errs = append(errs, errors.New("selector: want label matchers without braces, e.g. job=\"monero\""))
	}
	if len(c.FleetLabels) == 0 {
		errs = append(errs, errors.New("fleetLabels: want at least one label, e.g. [job]"))
	}
	for _, l := range c.FleetLabels {
		if !model.LegacyValidation.IsValidLabelName(l) {
			errs = append(errs, fmt.Errorf("fleetLabels: %q is not a label name", l))
		}
	}
	if !model.LegacyValidation.IsValidLabelName(c.InstanceLabel) {
		errs = append(errs, fmt.Errorf("instanceLabel: %q is not a label name", c.InstanceLabel))
	}
	alerts := c.alerts()
	for _, name := range slices.Sorted(maps.Keys(alerts)) {
		a := alerts[name]
		switch a.Severity {
		case "critical", "warning", "info":
		default:
			errs = append(errs, fmt.Errorf("%s.severity: want critical, warning or info, got %q", name, a.Severity))
		}
		if a.For < 0 {
			errs = append(errs, fmt.Errorf("%s.for: negative", name))
		}
	}
	positive := map[string]bool{
		"lastBlockTooOld.maxAge":         c.LastBlockTooOld.MaxAge > 0,
		"behindPeers.maxBlocks":          c.BehindPeers.MaxBlocks > 0,
		"behindFleet.maxBlocks":          c.BehindFleet.MaxBlocks > 0,
		"tooFewPeers.min":                c.TooFewPeers.Min > 1,
		"diskSpaceLow.minFree":           c.DiskSpaceLow.MinFree > 0,
		"diskSpaceCriticallyLow.minFree": c.DiskSpaceCriticallyLow.MinFree > 0,
		"scrapeSlow.max":                 c.ScrapeSlow.Max > 0,
		"scrapeSlow.window":              c.ScrapeSlow.Window > 0,
		"rpcErrors.maxRatio":             c.RPCErrors.MaxRatio > 0 && c.RPCErrors.MaxRatio < 1,
		"rpcErrors.window":               c.RPCErrors.Window > 0,
	}
	for _, name := range slices.Sorted(maps.Keys(positive)) {
		if !positive[name] {
			errs = append(errs, fmt.Errorf("%s: missing or out of range", name))
		}
	}
	if c.DiskSpaceCriticallyLow.MinFree >= c.DiskSpaceLow.MinFree {
		errs = append(errs, errors.New("diskSpaceCriticallyLow.minFree must be below diskSpaceLow.minFree"))
	}
	return errors.Join(errs...)
}

// NodeLabels are the labels that tell one node from every other: the fleet
// labels, then the instance label.
func (c *Config) NodeLabels() []string {
	out := slices.Clone(c.FleetLabels)
	if !slices.Contains(out, c.InstanceLabel) {
		out = append(out, c.InstanceLabel)
	}
	return out
}

// Matchers returns the config's selector followed by extra matchers, as
// the inside of a PromQL selector's braces.
func (c *Config) Matchers(extra ...string) string {
	return strings.Join(append([]string{c.Selector}, extra...), ", ")
}
