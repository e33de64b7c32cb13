// Command gen writes the rules built from config.yml (alerts.Render) to
// monero-alerts.yml. It runs from the alerts directory: `go generate ./alerts`.
package main

import (
	"fmt"
	"os"

	"github.com/monero-ops/monero_exporter/alerts"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "alerts/gen:", err)
		os.Exit(1)
	}
}

func run() error {
	cfg, err := alerts.LoadConfig(alerts.ConfigFile)
	if err != nil {
		return err
	}
	out, err := alerts.Render(cfg)
	if err != nil {
		return err
	}
	return os.WriteFile(alerts.RulesFile, out, 0o644)
}
