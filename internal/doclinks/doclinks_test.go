package doclinks

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode"
)

// root is the repository, seen from this package's directory.
var root = filepath.Join("..", "..")

// repoURL is how the repository's own files are linked absolutely (the
// alerts' runbook URLs): such links are checked like relative ones.
const repoURL = "https://github.com/monero-ops/monero_exporter/blob/main/"

// slug is the anchor GitHub gives a heading: lower case, letters, digits,
// '-' and '_' kept, each space turned into '-', any other character dropped.
func slug(heading string) string {
	heading = reMDLink.ReplaceAllString(heading, "$1") // a link in a heading keeps its text
	var b strings.Builder
	for _, r := range strings.TrimSpace(heading) {
		switch {
		case unicode.IsLetter(r) || unicode.IsNumber(r) || unicode.IsMark(r):
			b.WriteRune(unicode.ToLower(r))
		case r == '-' || r == '_':
			b.WriteRune(r)
		case r == ' ':
			b.WriteRune('-')
		}
	}
	return b.String()
}

var (
	reFence   = regexp.MustCompile("(?ms)^ {0,3}```.*?^ {0,3}```[ \t]*$|^ {0,3}~~~.*?^ {0,3}~~~[ \t]*$")
	reHeading = regexp.MustCompile(`(?m)^ {0,3}#{1,6}[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$`)
	reCode    = regexp.MustCompile("`+[^`\n]*`+")
	reMDLink  = regexp.MustCompile(`!?\[([^\]\n]*)\]\(([^)\s]*)(?:\s+"[^"]*")?\)`)
	reRefDef  = regexp.MustCompile(`(?m)^ {0,3}\[[^\]\n]+\]:[ \t]+(\S+)`)
)

// withoutCode blanks fenced code blocks, so that a '#' comment in a shell
// example is no heading and a link shown in code is not followed.
func withoutCode(md string) string {
	return reFence.ReplaceAllStringFunc(md, func(block string) string {
		return strings.Repeat("\n", strings.Count(block, "\n"))
	})
}

// anchors are the anchors of a page's headings; a repeated heading gets
// -1, -2... as on GitHub.
func anchors(md string) map[string]bool {
	seen := map[string]int{}
	out := map[string]bool{}
	for _, m := range reHeading.FindAllStringSubmatch(withoutCode(md), -1) {
		s := slug(m[1])
		if n := seen[s]; n > 0 {
			out[fmt.Sprintf("%s-%d", s, n)] = true
		} else {
			out[s] = true
		}
		seen[s]++
	}
	return out
}

// links are the targets of a page's inline links, images and reference
// definitions, outside code.
func links(md string) []string {
	text := withoutCode(md)
	// A code span may sit inside a link's text ([`x`](y)), so it is
	// blanked, not removed.
	text = reCode.ReplaceAllStringFunc(text, func(s string) string { return strings.Repeat("x", len(s)) })
	var out []string
	for _, m := range reMDLink.FindAllStringSubmatch(text, -1) {
		out = append(out, m[2])
	}
	for _, m := range reRefDef.FindAllStringSubmatch(text, -1) {
		out = append(out, m[1])
	}
	return out
}

// checker checks link targets against the files under its root.
type checker struct {
	root    string
	anchors map[string]map[string]bool // by page path
}

// check returns what is wrong with target, a link found in page (a path
// relative to root), or "" when it leads somewhere. local reports whether
// the target is one of the repository's own.
func (c *checker) check(page, target string) (problem string, local bool) {
	switch {
	case target == "":
		return "empty link", true
	case strings.HasPrefix(target, repoURL):
		target = "/" + strings.TrimPrefix(target, repoURL)
	case regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9+.-]*:`).MatchString(target) || strings.HasPrefix(target, "//"):
		return "", false // another site: not checked here
	}
	path, anchor, hasAnchor := strings.Cut(target, "#")
	var file string
	switch {
	case path == "":
		file = page
	case strings.HasPrefix(path, "/"):
		file = filepath.Clean(strings.TrimPrefix(path, "/"))
	default:
		file = filepath.Clean(filepath.Join(filepath.Dir(page), filepath.FromSlash(path)))
	}
	if file == ".." || strings.HasPrefix(file, ".."+string(filepath.Separator)) {
		return "leads out of the repository", true
	}
	if _, err := os.Stat(filepath.Join(c.root, file)); err != nil {
		return "no file " + filepath.ToSlash(file), true
	}
	if !hasAnchor {
		return "", true
	}
	if !strings.HasSuffix(file, ".md") {
		return fmt.Sprintf("anchor #%s into %s, which is no Markdown page", anchor, filepath.ToSlash(file)), true
	}
	a, ok := c.anchors[file]
	if !ok {
		b, err := os.ReadFile(filepath.Join(c.root, file))
		if err != nil {
			return err.Error(), true
		}
		a = anchors(string(b))
		c.anchors[file] = a
	}
	if !a[anchor] {
		return fmt.Sprintf("%s has no heading with anchor #%s", filepath.ToSlash(file), anchor), true
	}
	return "", true
}

// checkPages checks every local link of the pages, and returns the
// problems found and how many local links there were.
func checkPages(root string, pages []string) (problems []string, checked int) {
	c := &checker{root: root, anchors: map[string]map[string]bool{}}
	for _, page := range pages {
		b, err := os.ReadFile(filepath.Join(root, page))
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		for _, target := range links(string(b)) {
			problem, local := c.check(page, target)
			if local {
				checked++
			}
			if problem != "" {
				problems = append(problems, fmt.Sprintf("%s: link %q: %s", filepath.ToSlash(page), target, problem))
			}
		}
	}
	return problems, checked
}

func docPages(t *testing.T) []string {
	t.Helper()
	pages, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	if len(pages) < 5 {
		t.Fatalf("found only %d pages under docs/", len(pages))
	}
	out := []string{"README.md"}
	for _, p := range pages {
		rel, err := filepath.Rel(root, p)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, rel)
	}
	return out
}

// TestDocLinks checks every link of README.md and docs/*.md that leads into
// the repository: its file exists and its #anchor is a heading there.
func TestDocLinks(t *testing.T) {
	problems, checked := checkPages(root, docPages(t))
	for _, p := range problems {
		t.Error(p)
	}
	// The runbooks' table alone links each alert's heading.
	t.Logf("%d local links checked", checked)
	if checked < 40 {
		t.Errorf("only %d local links checked: is the link pattern still right?", checked)
	}
}

// TestREADMELinksEveryDocPage: a page under docs/ that README does not link
// is a page nobody finds.
func TestREADMELinksEveryDocPage(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	linked := map[string]bool{}
	for _, target := range links(string(b)) {
		path, _, _ := strings.Cut(target, "#")
		linked[filepath.Clean(filepath.FromSlash(path))] = true
	}
	for _, page := range docPages(t)[1:] {
		if !linked[page] {
			t.Errorf("README.md does not link %s", filepath.ToSlash(page))
		}
	}
}

// TestRunbookURLs checks that each alert's runbook_url, as rendered into the
// rule file Prometheus loads, leads to a heading of docs/runbooks.md.
func TestRunbookURLs(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(root, "alerts", "monero-alerts.yml"))
	if err != nil {
		t.Fatal(err)
	}
	alerts := regexp.MustCompile(`(?m)^\s*- alert: (\S+)`).FindAllStringSubmatch(string(b), -1)
	urls := regexp.MustCompile(`(?m)^\s*runbook_url: (\S+)`).FindAllStringSubmatch(string(b), -1)
	if len(alerts) == 0 || len(urls) != len(alerts) {
		t.Fatalf("%d alerts but %d runbook_url annotations", len(alerts), len(urls))
	}
	c := &checker{root: root, anchors: map[string]map[string]bool{}}
	for _, u := range urls {
		if !strings.HasPrefix(u[1], repoURL+"docs/runbooks.md#") {
			t.Errorf("runbook_url %s: want it under %sdocs/runbooks.md#", u[1], repoURL)
			continue
		}
		if problem, _ := c.check("alerts/monero-alerts.yml", u[1]); problem != "" {
			t.Errorf("runbook_url %s: %s", u[1], problem)
		}
	}
}

func TestSlug(t *testing.T) {
	for heading, want := range map[string]string{
		"MoneroExporterDown":                    "moneroexporterdown",
		"`/health`: for probes":                 "health-for-probes",
		"`/api/v1`: the old service's API":      "apiv1-the-old-services-api",
		"Monero / Overview (`monero-overview`)": "monero--overview-monero-overview",
		"Why the Digest client keeps \"lanes\"": "why-the-digest-client-keeps-lanes",
		"See [flags](flags.md) and snake_case":  "see-flags-and-snake_case",
	} {
		if got := slug(heading); got != want {
			t.Errorf("slug(%q) = %q, want %q", heading, got, want)
		}
	}
}

// TestCheckerFindsBrokenLinks makes sure the checker fails for what it
// claims: a missing file, a missing anchor, a link out of the repository,
// while a link in code and another site's are left alone.
func TestCheckerFindsBrokenLinks(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("docs/runbooks.md", "# Runbooks\n\n## MoneroNoPeers\n\n```sh\n# not a heading\n```\n\n## Twice\n\n## Twice\n")
	write("README.md", strings.Join([]string{
		"[ok](docs/runbooks.md#moneronopeers) [ok](docs/runbooks.md#twice-1) [ok](docs/runbooks.md)",
		"[gone](docs/missing.md) [no anchor](docs/runbooks.md#moneronopeer) [code](docs/runbooks.md#not-a-heading)",
		"[out](../etc/passwd) [self](#nowhere) [web](https://example.com/x.md#y) `[shown](nowhere.md)`",
		"[abs](" + repoURL + "docs/runbooks.md#moneronopeers) [abs gone](" + repoURL + "docs/runbooks.md#nope)",
		"",
		"```md",
		"[in code](nowhere.md)",
		"```",
		"",
	}, "\n"))
	problems, checked := checkPages(dir, []string{"README.md", filepath.Join("docs", "runbooks.md")})
	want := []string{
		`README.md: link "docs/missing.md": no file docs/missing.md`,
		`README.md: link "docs/runbooks.md#moneronopeer": docs/runbooks.md has no heading with anchor #moneronopeer`,
		`README.md: link "docs/runbooks.md#not-a-heading": docs/runbooks.md has no heading with anchor #not-a-heading`,
		`README.md: link "../etc/passwd": leads out of the repository`,
		`README.md: link "#nowhere": README.md has no heading with anchor #nowhere`,
		`README.md: link "` + repoURL + `docs/runbooks.md#nope": docs/runbooks.md has no heading with anchor #nope`,
	}
	slices.Sort(problems)
	slices.Sort(want)
	if !slices.Equal(problems, want) {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(problems, "\n"), strings.Join(want, "\n"))
	}
	if checked != 10 {
		t.Errorf("checked %d local links, want 10", checked)
	}
}
