package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestREADMEDocumentsEveryFlagAndMetric keeps README's tables complete: a
// flag or a metric family added without a line there fails the build.
func TestREADMEDocumentsEveryFlagAndMetric(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	doc := string(readme)

	var help, stderr bytes.Buffer
	if code := run([]string{"--help"}, &help, &stderr); code != 0 {
		t.Fatalf("--help: exit %d", code)
	}
	flags := regexp.MustCompile(`(?m)^\s+(?:-\w, )?--(\[no-\])?([a-z][a-z0-9._-]+)`).FindAllStringSubmatch(help.String(), -1)
	if len(flags) < 20 {
		t.Fatalf("found only %d flags in --help", len(flags))
	}
	for _, f := range flags {
		name := f[2]
		if name == "help" || name == "help-long" || name == "help-man" {
			continue
		}
		if c, ok := strings.CutPrefix(name, "collector."); ok {
			if !strings.Contains(doc, "`"+c+"`") {
				t.Errorf("README does not name the collector %s", c)
			}
			continue
		}
		if !strings.Contains(doc, "--"+name) {
			t.Errorf("README does not document --%s", name)
		}
	}

	golden, err := os.ReadFile(filepath.Join("testdata", "metrics.prom"))
	if err != nil {
		t.Fatal(err)
	}
	families := regexp.MustCompile(`(?m)^# TYPE (monero_\w+) `).FindAllStringSubmatch(string(golden), -1)
	for _, m := range families {
		if !strings.Contains(doc, "`"+m[1]+"`") {
			t.Errorf("README's metric table lacks %s", m[1])
		}
	}
}
