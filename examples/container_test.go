package examples

import (
	"bufio"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/monero-ops/monero_exporter/internal/testenv"
)

var (
	dockerfile   = filepath.Join("..", "Dockerfile")
	dockerignore = filepath.Join("..", ".dockerignore")
	goMod        = filepath.Join("..", "go.mod")
)

// dockerInstruction is one instruction of a Dockerfile, continuation lines
// joined.
type dockerInstruction struct{ cmd, args string }

func parseDockerfile(t *testing.T) []dockerInstruction {
	t.Helper()
	f, err := os.Open(dockerfile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []dockerInstruction
	var cur strings.Builder
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if cur.Len() == 0 && (line == "" || strings.HasPrefix(line, "#")) {
			continue
		}
		if more, ok := strings.CutSuffix(line, `\`); ok {
			cur.WriteString(more + " ")
			continue
		}
		cur.WriteString(line)
		cmd, args, _ := strings.Cut(cur.String(), " ")
		out = append(out, dockerInstruction{strings.ToUpper(cmd), strings.Join(strings.Fields(args), " ")})
		cur.Reset()
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestDockerfile checks, without a Docker engine, what the image promises:
// two stages, the build stage running `make build` on the Go of go.mod, a
// minimal final stage that copies the binary and runs it as a non-root user
// on port 18091.
func TestDockerfile(t *testing.T) {
	ins := parseDockerfile(t)
	var stages [][]dockerInstruction
	for _, in := range ins {
		if in.cmd == "FROM" {
			stages = append(stages, nil)
		}
		if len(stages) == 0 {
			if in.cmd != "ARG" {
				t.Fatalf("%s before the first FROM", in.cmd)
			}
			continue
		}
		stages[len(stages)-1] = append(stages[len(stages)-1], in)
	}
	if len(stages) != 2 {
		t.Fatalf("%d stages, want a build stage and a final one", len(stages))
	}
	build, final := stages[0], stages[1]

	goVersion := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindStringSubmatch(testenv.ReadFile(t, goMod))
	if goVersion == nil {
		t.Fatal("go.mod has no go directive")
	}
	if want := "golang:" + goVersion[1] + " AS build"; build[0].args != want {
		t.Errorf("build stage FROM %q, want %q (the Go of go.mod)", build[0].args, want)
	}
	if !has(build, "RUN", "make build") {
		t.Error("the build stage does not run `make build`, the step CI runs")
	}
	if base := final[0].args; !strings.HasPrefix(base, "gcr.io/distroless/static") && base != "scratch" {
		t.Errorf("final stage FROM %q, want a minimal static base", base)
	}
	if !has(final, "COPY", "--from=build /src/monero_exporter ") {
		t.Error("the final stage does not copy the binary `make build` writes")
	}
	if !has(final, "EXPOSE", "18091") {
		t.Error("no EXPOSE 18091")
	}
	user := ""
	for _, in := range final {
		if in.cmd == "USER" {
			user = in.args
		}
	}
	if uid, _, _ := strings.Cut(user, ":"); uid == "" || uid == "root" || uid == "0" {
		t.Errorf("final USER %q: want a non-root user", user)
	}
	if !has(final, "ENTRYPOINT", `["/bin/monero_exporter"]`) {
		t.Error("ENTRYPOINT must be the exporter, so that arguments are its flags")
	}

	// .dockerignore must keep what `make build` needs.
	ignored := testenv.ReadFile(t, dockerignore)
	for _, line := range strings.Split(ignored, "\n") {
		line = strings.TrimSpace(line)
		for _, need := range []string{"go.mod", "go.sum", "Makefile", "VERSION", "cmd", "collector", "monerod", "snapshot", "health", "internal"} {
			if line == need || line == "/"+need || line == "*" {
				t.Errorf(".dockerignore excludes %s, which the build needs", need)
			}
		}
	}
}

func has(stage []dockerInstruction, cmd, substr string) bool {
	for _, in := range stage {
		if in.cmd == cmd && strings.Contains(in.args, substr) {
			return true
		}
	}
	return false
}

// TestMakeBuildIsStatic runs the Dockerfile's build step, `make build`,
// and checks that it gives a static binary that runs on a base image
// without a C library: no ELF interpreter, no shared library.
func TestMakeBuildIsStatic(t *testing.T) {
	makeBin := testenv.RequireTool(t, "make", "make")
	bin := filepath.Join(t.TempDir(), "monero_exporter")
	cmd := exec.Command(makeBin, "-C", "..", "build", "BINARY="+bin)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make build: %v\n%s", err, out)
	}
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("the binary has a %s program header: it is not static", p.Type)
		}
	}
	if libs, err := f.ImportedLibraries(); err == nil && len(libs) > 0 {
		t.Errorf("the binary needs shared libraries: %v", libs)
	}
	if out, err := exec.Command(bin, "--version").CombinedOutput(); err != nil || !strings.Contains(string(out), "monero_exporter") {
		t.Errorf("%s --version: %v\n%s", bin, err, out)
	}
}
