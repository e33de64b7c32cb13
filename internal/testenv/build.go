package testenv

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// ExporterPackage is the exporter's main package, as go build names it.
const ExporterPackage = "github.com/monero-ops/monero_exporter/cmd/monero_exporter"

// buildDir is where ExporterBinary builds, made and removed by RunTests.
var buildDir string

var exporterBuild struct {
	once sync.Once
	path string
	err  error
}

// RunTests is the body of TestMain for a package whose tests run the
// exporter binary: it runs the tests with a directory for ExporterBinary,
// and removes the directory afterwards.
//
//	func TestMain(m *testing.M) { os.Exit(testenv.RunTests(m)) }
func RunTests(m *testing.M) int {
	dir, err := os.MkdirTemp("", "monero_exporter-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	buildDir = dir
	defer os.RemoveAll(dir)
	return m.Run()
}

// ExporterBinary returns the path of the exporter binary, built with go
// build once per run of the package's tests (the first caller builds,
// the others wait for it and share the result, a failed build included).
func ExporterBinary(t testing.TB) string {
	t.Helper()
	if buildDir == "" {
		t.Fatal(errors.New("ExporterBinary needs the package's TestMain to return testenv.RunTests(m)"))
	}
	goBin := RequireTool(t, "go", "golang-go")
	exporterBuild.once.Do(func() {
		bin := filepath.Join(buildDir, "monero_exporter")
		if out, err := exec.Command(goBin, "build", "-o", bin, ExporterPackage).CombinedOutput(); err != nil {
			exporterBuild.err = fmt.Errorf("go build %s: %w\n%s", ExporterPackage, err, out)
			return
		}
		exporterBuild.path = bin
	})
	if exporterBuild.err != nil {
		t.Fatal(exporterBuild.err)
	}
	return exporterBuild.path
}
