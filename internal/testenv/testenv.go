// Package testenv holds what tests across the repository need from their
// environment.
package testenv

import (
	"os"
	"os/exec"
	"testing"
)

// RequireTool returns the path of a program a test needs. When it is missing
// the test is skipped, unless the environment variable CI is set: then a
// missing program is a broken CI machine, and the test fails.
func RequireTool(t testing.TB, name, debianPackage string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s not found on PATH, and CI is set: install the Debian package %s", name, debianPackage)
		}
		t.Skipf("%s not found on PATH (Debian package %s); skipping", name, debianPackage)
	}
	return p
}
