package main

import (
	"os"
	"testing"

	"github.com/monero-ops/monero_exporter/internal/testenv"
)

// TestMain gives testenv.ExporterBinary the directory it builds this
// command into, once for the whole run, for the tests that run it as a
// process of its own (webconfig, bench).
func TestMain(m *testing.M) { os.Exit(testenv.RunTests(m)) }
