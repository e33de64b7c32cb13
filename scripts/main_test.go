package scripts

import (
	"os"
	"testing"

	"github.com/monero-ops/monero_exporter/internal/testenv"
)

// TestMain gives testenv.ExporterBinary the directory it builds the
// exporter into, once for the whole run.
func TestMain(m *testing.M) { os.Exit(testenv.RunTests(m)) }
