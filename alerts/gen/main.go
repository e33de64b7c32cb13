// Command gen writes the rules built from config.yml (alerts.Render) to
// monero-alerts.yml. It runs from the alerts directory: `go generate ./alerts`.
//
// With -overlay, -max-for or -without it writes a variant instead, for a
// demo or a test rather than for production: `make demo-fleet` renders the
// mixin's rules this way, so that its alerts fire within minutes instead of
// the half hour production needs:
//
//	go run ./alerts/gen -config alerts/config.yml -overlay demo.yml \
//	    -max-for 30s -without MoneroTooFewPeers -out demo-alerts.yml
//
// The overlay is YAML in config.yml's format whose keys replace the
// config's, maps merged key by key: `lastBlockTooOld: {maxAge: 1m}` changes
// that threshold and keeps the rest. -max-for D makes every alert's `for:`
// of more than D into D; it applies to the config before the overlay, so
// that the descriptions quoting the duration say D too, and alerts added to
// config.yml later are shortened alike. -without leaves the named alerts
// (comma-separated) out.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"go.yaml.in/yaml/v2"

	"github.com/monero-ops/monero_exporter/alerts"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "alerts/gen:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("gen", flag.ContinueOnError)
	configFile := fs.String("config", alerts.ConfigFile, "the mixin's configuration")
	out := fs.String("out", alerts.RulesFile, "the rule file to write")
	overlay := fs.String("overlay", "", "YAML whose keys replace config's (a variant, not for production)")
	maxFor := fs.String("max-for", "", "shorten every alert's for: to at most this (a variant, not for production)")
	without := fs.String("without", "", "comma-separated alerts to leave out (a variant, not for production)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *overlay == "" && *maxFor == "" && *without == "" {
		cfg, err := alerts.LoadConfig(*configFile)
		if err != nil {
			return err
		}
		b, err := alerts.Render(cfg)
		if err != nil {
			return err
		}
		return os.WriteFile(*out, b, 0o644)
	}
	b, err := variant(*configFile, *overlay, *maxFor, *without)
	if err != nil {
		return err
	}
	return os.WriteFile(*out, b, 0o644)
}

// variant renders the rules of configFile changed by the overlay file (if
// any), with every for: capped at maxFor (if set) and without the alerts
// named in without.
func variant(configFile, overlayFile, maxFor, without string) ([]byte, error) {
	raw, err := os.ReadFile(configFile)
	if err != nil {
		return nil, err
	}
	var cfg map[any]any
	if err := yaml.Unmarshal(raw, &cfg); err != nil {
		return nil, fmt.Errorf("%s: %w", configFile, err)
	}
	if maxFor != "" {
		limit, err := model.ParseDuration(maxFor)
		if err != nil || limit <= 0 {
			return nil, fmt.Errorf("-max-for %q: want a positive Prometheus duration such as 30s", maxFor)
		}
		if err := capFor(cfg, limit); err != nil {
			return nil, fmt.Errorf("%s: %w", configFile, err)
		}
	}
	if overlayFile != "" {
		b, err := os.ReadFile(overlayFile)
		if err != nil {
			return nil, err
		}
		var over map[any]any
		if err := yaml.Unmarshal(b, &over); err != nil {
			return nil, fmt.Errorf("%s: %w", overlayFile, err)
		}
		merge(cfg, over)
	}
	merged, err := yaml.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	c, err := alerts.ParseConfig(merged)
	if err != nil {
		return nil, err
	}
	rf, err := alerts.Rules(c)
	if err != nil {
		return nil, err
	}
	var drop []string
	if without != "" {
		drop = strings.Split(without, ",")
	}
	for _, name := range drop {
		found := false
		for _, g := range rf.Groups {
			for _, r := range g.Rules {
				found = found || r.Alert == name
			}
		}
		if !found {
			return nil, fmt.Errorf("-without: no alert %q", name)
		}
	}
	for i := range rf.Groups {
		rf.Groups[i].Rules = slices.DeleteFunc(rf.Groups[i].Rules, func(r alerts.Rule) bool {
			return slices.Contains(drop, r.Alert)
		})
	}

	var buf strings.Builder
	fmt.Fprintf(&buf, "# A variant of the Monero mixin's rules, NOT for production: rendered by\n"+
		"# alerts/gen from %s", configFile)
	if overlayFile != "" {
		fmt.Fprintf(&buf, " changed by %s", overlayFile)
	}
	if maxFor != "" {
		fmt.Fprintf(&buf, ", every for: at most %s", maxFor)
	}
	if without != "" {
		fmt.Fprintf(&buf, ", without %s", without)
	}
	buf.WriteString(".\n")
	return alerts.EncodeRules(buf.String(), rf)
}

// capFor shortens the for: of every alert of the config (a top-level map
// with a for key) to at most limit.
func capFor(cfg map[any]any, limit model.Duration) error {
	var errs []error
	for key, v := range cfg {
		m, ok := v.(map[any]any)
		if !ok {
			continue
		}
		f, ok := m["for"]
		if !ok {
			continue
		}
		d, err := model.ParseDuration(fmt.Sprint(f))
		if err != nil {
			errs = append(errs, fmt.Errorf("%v.for: %w", key, err))
			continue
		}
		if time.Duration(d) > time.Duration(limit) {
			m["for"] = limit.String()
		}
	}
	return errors.Join(errs...)
}

// merge copies src's keys into dst, merging maps present in both.
func merge(dst, src map[any]any) {
	for k, v := range src {
		if sm, ok := v.(map[any]any); ok {
			if dm, ok := dst[k].(map[any]any); ok {
				merge(dm, sm)
				continue
			}
		}
		dst[k] = v
	}
}
