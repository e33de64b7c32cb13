// Command gen writes the Monero dashboards as Grafana JSON files into the
// current directory, built from the mixin's config (../alerts/config.yml):
// `go generate ./dashboards`.
package main

import (
	"fmt"
	"os"

	"github.com/monero-ops/monero_exporter/alerts"
	"github.com/monero-ops/monero_exporter/dashboards"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "dashboards/gen:", err)
		os.Exit(1)
	}
}

func run() error {
	cfg, err := alerts.LoadConfig(dashboards.ConfigFile)
	if err != nil {
		return err
	}
	all, err := dashboards.All(cfg)
	if err != nil {
		return err
	}
	for _, d := range all {
		b, err := d.JSON()
		if err != nil {
			return err
		}
		if err := os.WriteFile(d.FileName(), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}
