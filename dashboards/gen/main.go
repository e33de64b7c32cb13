// Command gen writes the Monero dashboards as Grafana JSON files into the
// current directory: `go generate ./dashboards`.
package main

import (
	"fmt"
	"os"

	"github.com/monero-ops/monero_exporter/dashboards"
)

func main() {
	for _, d := range dashboards.All() {
		b, err := d.JSON()
		if err == nil {
			err = os.WriteFile(d.FileName(), b, 0o644)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "dashboards/gen:", err)
			os.Exit(1)
		}
	}
}
