package modules

import (
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/monero-ops/monero_exporter/health"
	"github.com/monero-ops/monero_exporter/internal/monerodtest"
)

var testOpts = Options{
	KnownCollectors:   []string{"txpool", "last_block", "connections", "net", "peerlist", "bans", "rpc_access", "mining", "fee"},
	DefaultCollectors: []string{"txpool", "last_block", "connections", "net", "bans", "mining", "fee"},
	MaxTimeout:        2 * time.Minute,
	ExporterVersion:   "1.2.3",
}

const secret = "s3cr3t-hunter2"

// writeFiles writes name -> content into a temporary directory and returns it.
func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestLoadFull(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"monero.yml": `
modules:
  fleet:
    user: monitor
    password_file: rpc-password
    timeout: 5s
    max_connections: 4
    default_port: 18089
    collectors: [fee, txpool]
    health:
      last_block_max_age: 30m
      min_peers: 0
      max_blocks_behind: 3
      checks: [monerod, last_block, p2p]
      p2p_port: 18080
    allowed_targets: ["*.nodes.example", "10.0.0.0/8", "127.0.0.1"]
  public:
    allowed_targets: ["*"]
`,
		"rpc-password": secret + "\n",
	})
	cfg, err := Load(filepath.Join(dir, "monero.yml"), testOpts)
	if err != nil {
		t.Fatal(err)
	}
	m := cfg.Modules["fleet"]
	if m.Password() != secret || m.PasswordFile != filepath.Join(dir, "rpc-password") {
		t.Errorf("password %q from %q: not read from the file relative to the config's directory", m.Password(), m.PasswordFile)
	}
	if time.Duration(m.Timeout) != 5*time.Second || m.MaxConnections != 4 || m.DefaultPort != 18089 || m.Scheme != "http" {
		t.Errorf("module fleet: %+v", m)
	}
	if want := []string{"txpool", "fee"}; !slices.Equal(m.Collectors, want) {
		t.Errorf("collectors %v, want %v (in the exporter's order)", m.Collectors, want)
	}
	h := m.HealthConfig(&url.URL{Scheme: "http", Host: "10.1.2.3:18089"})
	if h.LastBlockMaxAge != 30*time.Minute || h.MinPeers != 0 || h.MaxBlocksBehind != 3 ||
		h.P2PAddress != "10.1.2.3:18080" || !slices.Equal(h.Checks, []string{"monerod", "last_block", "p2p"}) || h.ExporterVersion != "1.2.3" {
		t.Errorf("health config %+v", h)
	}

	p := cfg.Modules["public"]
	if !slices.Equal(p.Collectors, testOpts.DefaultCollectors) || p.DefaultPort != 18081 || p.Timeout != 0 || p.User != "" {
		t.Errorf("module public does not have the defaults: %+v", p)
	}
	ph := p.HealthConfig(&url.URL{Scheme: "http", Host: "node:18081"})
	if ph.P2PAddress != "" || ph.Checks != nil || ph.LastBlockMaxAge != health.DefaultLastBlockMaxAge || ph.MinPeers != health.DefaultMinPeers {
		t.Errorf("module public's health config is not the default: %+v", ph)
	}
	if err := ph.Validate(); err != nil {
		t.Error(err)
	}
}

// Every mistake is an error naming the module and the field; the password
// never appears in one.
func TestLoadErrors(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		want       []string // substrings of the error
	}{
		{"not yaml", "modules: [", []string{"yaml"}},
		{"no modules", "modules: {}\n", []string{"no modules"}},
		{"empty file", "", []string{"no modules"}},
		{"unknown top key", "modulez: {}\n", []string{"field modulez not found"}},
		{"unknown module key", "modules:\n  a:\n    allowed_targets: ['*']\n    usr: x\n", []string{`module "a": usr: field usr not found`}},
		{"unknown tls key", "modules:\n  a:\n    allowed_targets: ['*']\n    tls: {ca: x}\n", []string{`module "a": tls: field ca not found`}},
		{"duplicate module", "modules:\n  a:\n    allowed_targets: ['*']\n  a:\n    allowed_targets: ['*']\n", []string{`module "a" is defined twice`}},
		{"inline password", "modules:\n  a:\n    allowed_targets: ['*']\n    user: u\n    password: " + secret + "\n", []string{`module "a": password: a password is read only from password_file`}},
		{"missing password file", "modules:\n  a:\n    allowed_targets: ['*']\n    user: u\n    password_file: nope\n", []string{`module "a": password_file:`, "no such file"}},
		{"password without user", "modules:\n  a:\n    allowed_targets: ['*']\n    password_file: pw\n", []string{`module "a": password_file: is set but user is empty`}},
		{"user with colon", "modules:\n  a:\n    allowed_targets: ['*']\n    user: 'u:" + secret + "'\n", []string{`module "a": user: must not contain ':'`}},
		{"bad scheme", "modules:\n  a:\n    allowed_targets: ['*']\n    scheme: ftp\n", []string{`module "a": scheme: "ftp"`}},
		{"bad ca file", "modules:\n  a:\n    allowed_targets: ['*']\n    tls: {ca_file: pw}\n", []string{`module "a": tls.ca_file:`, "no PEM certificate"}},
		{"bad port", "modules:\n  a:\n    allowed_targets: ['*']\n    default_port: 70000\n", []string{`module "a": default_port: 70000`}},
		{"bad timeout", "modules:\n  a:\n    allowed_targets: ['*']\n    timeout: 10 minutes\n", []string{`module "a": timeout: unknown unit " minutes"`}},
		{"long timeout", "modules:\n  a:\n    allowed_targets: ['*']\n    timeout: 5m\n", []string{`module "a": timeout: 5m is longer than the most allowed, 2m`}},
		{"max connections", "modules:\n  a:\n    allowed_targets: ['*']\n    max_connections: 30\n", []string{`module "a": max_connections:`}},
		{"unknown collector", "modules:\n  a:\n    allowed_targets: ['*']\n    collectors: [info, fee]\n", []string{`module "a": collectors: unknown collector "info"`}},
		{"collector twice", "modules:\n  a:\n    allowed_targets: ['*']\n    collectors: [fee, fee]\n", []string{`module "a": collectors: "fee" is listed twice`}},
		{"unknown check", "modules:\n  a:\n    allowed_targets: ['*']\n    health: {checks: [monerod, chains]}\n", []string{`module "a": health.checks: unknown health check "chains"`}},
		{"no check", "modules:\n  a:\n    allowed_targets: ['*']\n    health: {checks: []}\n", []string{`module "a": health: no health check is enabled`}},
		{"p2p check without port", "modules:\n  a:\n    allowed_targets: ['*']\n    health: {checks: [p2p]}\n", []string{`module "a": health: the p2p check is enabled but no P2P address is set`}},
		{"negative peers", "modules:\n  a:\n    allowed_targets: ['*']\n    health: {min_peers: -1}\n", []string{`module "a": health: min peers -1`}},
		{"bad p2p port", "modules:\n  a:\n    allowed_targets: ['*']\n    health: {p2p_port: 0x10000}\n", []string{`module "a": health.p2p_port: 65536`}},
		{"no allowed targets", "modules:\n  a:\n    user: u\n", []string{`module "a": allowed_targets: is empty`}},
		{"empty module", "modules:\n  a:\n", []string{`module "a": allowed_targets: is empty`}},
		{"bad cidr", "modules:\n  a:\n    allowed_targets: ['10.0.0.0/33']\n", []string{`module "a": allowed_targets[0]: "10.0.0.0/33" is not a CIDR`}},
		{"pattern with port", "modules:\n  a:\n    allowed_targets: ['*', 'node:18081']\n", []string{`module "a": allowed_targets[1]: "node:18081" is not a host pattern`}},
		{"bad pattern", "modules:\n  a:\n    allowed_targets: ['[a-']\n", []string{`module "a": allowed_targets[0]: "[a-" is not a host pattern`}},
		{"empty pattern", "modules:\n  a:\n    allowed_targets: ['']\n", []string{`module "a": allowed_targets[0]: is empty`}},
		{"bad name", "modules:\n  'a b':\n    allowed_targets: ['*']\n", []string{`module "a b": a name may hold only`}},
		{"field twice", "modules:\n  a:\n    allowed_targets: ['*']\n    allowed_targets: ['x']\n", []string{`module "a": allowed_targets: is set twice`}},
		{"not a mapping", "modules:\n  a: [x]\n", []string{`module "a": is not a mapping`}},
		{"wrong type", "modules:\n  a:\n    allowed_targets: ['*']\n    max_connections: many\n", []string{`module "a": max_connections: cannot unmarshal !!str`}},
		{"modules not a map", "modules: [a]\n", []string{"cannot unmarshal"}},
		{"reference with credentials", "modules:\n  a:\n    allowed_targets: ['*']\n    references: ['u:" + secret + "@node2']\n", []string{`module "a": references[0]: url must not carry credentials`}},
		{"reference without url", "modules:\n  a:\n    allowed_targets: ['*']\n    references: [{name: x}]\n", []string{`module "a": references[0]: url is missing`}},
		{"reference with a bad address", "modules:\n  a:\n    allowed_targets: ['*']\n    references: ['node2:port']\n", []string{`module "a": references[0]: monerod address "node2:port"`}},
		{"reference with an unknown key", "modules:\n  a:\n    allowed_targets: ['*']\n    references: [{url: node2, usr: x}]\n", []string{`module "a": references: `, "field usr not found"}},
		{"reference with an inline password", "modules:\n  a:\n    allowed_targets: ['*']\n    references: [{url: node2, user: u, password: " + secret + "}]\n", []string{`module "a": references[0]: password: a password is read only from password_file`}},
		{"reference password without user", "modules:\n  a:\n    allowed_targets: ['*']\n    references: [{url: node2, password_file: pw}]\n", []string{`module "a": references[0]: password_file: is set but user is empty`}},
		{"fleet reference over http", "modules:\n  a:\n    allowed_targets: ['*']\n    tls: {insecure_skip_verify: true}\n    scheme: https\n    references: ['http://node2']\n", []string{`module "a": references[0]: url: the module sets tls, so a reference written as an address must be https`}},
		{"reference tls over http", "modules:\n  a:\n    allowed_targets: ['*']\n    references: [{url: 'http://node2', tls: {insecure_skip_verify: true}}]\n", []string{`module "a": references[0]: url: the reference sets tls, so it must be https`}},
		{"references named alike", "modules:\n  a:\n    allowed_targets: ['*']\n    references: ['node2:18081', 'http://node2:18081']\n", []string{`module "a": references[1]: name: "node2:18081" is the name of another reference`}},
		{"reference with a control character in its name", "modules:\n  a:\n    allowed_targets: ['*']\n    references: [{url: node2, name: \"a\\tb\"}]\n", []string{`module "a": references[0]: name: "a\tb" must be at most 128 printable characters`}},
		{"chain check without references", "modules:\n  a:\n    allowed_targets: ['*']\n    health: {checks: [monerod, chain]}\n", []string{`module "a": health: the chain check is enabled but no reference node is set`}},
		{"several at once", "modules:\n  a:\n    allowed_targets: ['*']\n    scheme: ftp\n  b:\n    max_connections: -1\n", []string{`module "a": scheme`, `module "b": max_connections`, `module "b": allowed_targets`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeFiles(t, map[string]string{"c.yml": tc.yaml, "pw": secret})
			_, err := Load(filepath.Join(dir, "c.yml"), testOpts)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("error shows the password: %q", err)
			}
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "none.yml"), testOpts)
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("error %v, want not exist", err)
	}
}

func mustParse(t *testing.T, yml string) *Config {
	t.Helper()
	cfg, err := Parse([]byte(yml), t.TempDir(), testOpts)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestAllows(t *testing.T) {
	m := mustParse(t, `
modules:
  a:
    allowed_targets: ["*.Nodes.example", "node1.example", "10.0.0.0/8", "192.168.1.7", "fd00::/8", "::1", "n?.lan"]
`).Modules["a"]
	for host, want := range map[string]bool{
		"a.nodes.example":    true,
		"A.B.NODES.EXAMPLE":  true, // '*' spans dots, case does not matter
		"nodes.example":      false,
		"evil-nodes.example": false,
		"a.nodes.example.ev": false,
		"node1.example":      true,
		"node2.example":      false,
		"10.1.2.3":           true,
		"11.1.2.3":           false,
		"::ffff:10.0.0.1":    true, // a mapped IPv4 address is that address
		"192.168.1.7":        true,
		"192.168.1.8":        false,
		"fd12::1":            true,
		"fe80::1":            false,
		"0:0::1":             true, // the same address as the pattern ::1
		"n1.lan":             true,
		"n12.lan":            false,
		// A name is not resolved for a CIDR: localhost is not 127.0.0.1 here.
		"localhost": false,
		"":          false,
	} {
		if got := m.Allows(host); got != want {
			t.Errorf("Allows(%q) = %v, want %v", host, got, want)
		}
	}
	anyTarget := mustParse(t, "modules:\n  a:\n    allowed_targets: ['*']\n").Modules["a"]
	for _, host := range []string{"x", "127.0.0.1", "::1", "a.b.c"} {
		if !anyTarget.Allows(host) {
			t.Errorf("'*' does not allow %q", host)
		}
	}
}

func TestTarget(t *testing.T) {
	cfg := mustParse(t, `
modules:
  plain:
    default_port: 18089
    allowed_targets: ["*.nodes.example", "127.0.0.0/8", "::1"]
  tls:
    scheme: https
    tls: {insecure_skip_verify: true}
    allowed_targets: ["*"]
`)
	plain, tls := cfg.Modules["plain"], cfg.Modules["tls"]
	for _, tc := range []struct {
		m      *Module
		target string
		want   string // URL, or the error's kind
	}{
		{plain, "127.0.0.1", "http://127.0.0.1:18089"},
		{plain, "127.0.0.1:18081", "http://127.0.0.1:18081"},
		{plain, "[::1]:18081", "http://[::1]:18081"},
		{plain, "::1", "http://[::1]:18089"},
		{plain, "a.nodes.example", "http://a.nodes.example:18089"},
		{plain, "https://a.nodes.example/rpc/", "https://a.nodes.example:18089/rpc"},
		{plain, "", "bad"},
		{plain, "user:pass@127.0.0.1", "bad"},
		{plain, "http://u:p@127.0.0.1", "bad"},
		{plain, "127.0.0.1:99999", "bad"},
		{plain, "127.0.0.1/x", "bad"},
		{plain, "ftp://127.0.0.1", "bad"},
		{plain, "127.0.0.1\n", "bad"},
		{plain, strings.Repeat("a", 600) + ".nodes.example", "bad"},
		{plain, "10.0.0.1", "forbidden"},
		{plain, "nodes.example", "forbidden"},
		{plain, "localhost", "forbidden"},
		{tls, "node", "https://node:18081"},
		{tls, "https://node:1", "https://node:1"},
		{tls, "http://node:1", "bad"},
	} {
		u, err := tc.m.Target(tc.target)
		var got string
		switch {
		case errors.Is(err, ErrBadTarget):
			got = "bad"
		case errors.Is(err, ErrTargetNotAllowed):
			got = "forbidden"
		case err != nil:
			got = "other: " + err.Error()
		default:
			got = u.String()
		}
		if got != tc.want {
			t.Errorf("Target(%q) = %s (%v), want %s", tc.target, got, err, tc.want)
		}
		if err != nil && (strings.Contains(err.Error(), "\n") || strings.Contains(err.Error(), "u:p") || strings.Contains(err.Error(), "user:pass")) {
			t.Errorf("Target(%q): error %q is not one line or repeats credentials", tc.target, err)
		}
	}
}

// A module read again from the same files is Equal; a changed password
// file, or any changed setting, is not.
func TestEqual(t *testing.T) {
	yml := "modules:\n  a:\n    user: u\n    password_file: pw\n    allowed_targets: ['*']\n    health: {min_peers: 2}\n"
	dir := writeFiles(t, map[string]string{"c.yml": yml, "pw": "one"})
	load := func() *Module {
		t.Helper()
		cfg, err := Load(filepath.Join(dir, "c.yml"), testOpts)
		if err != nil {
			t.Fatal(err)
		}
		return cfg.Modules["a"]
	}
	a, b := load(), load()
	if !a.Equal(b) {
		t.Error("the same file read twice is not equal")
	}
	if err := os.WriteFile(filepath.Join(dir, "pw"), []byte("two"), 0o600); err != nil {
		t.Fatal(err)
	}
	if c := load(); a.Equal(c) {
		t.Error("a changed password file is equal")
	}
	if err := os.WriteFile(filepath.Join(dir, "c.yml"), []byte(strings.Replace(yml, "min_peers: 2", "min_peers: 3", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	if c := load(); a.Equal(c) {
		t.Error("a changed threshold is equal")
	}
	if (*Module)(nil).Equal(a) || !(*Module)(nil).Equal(nil) {
		t.Error("nil modules")
	}
}

// References: an address is a node of the fleet, reached with the module's
// login and TLS; a mapping has its own, and nothing of the module's but its
// scheme and default port. Each target is compared with all but itself.
func TestReferences(t *testing.T) {
	caFile, _, _ := monerodtest.NewTLS(t)
	dir := writeFiles(t, map[string]string{
		"c.yml": `
modules:
  fleet:
    user: monitor
    password_file: pw
    default_port: 18089
    references:
      - node1.nodes.example
      - 10.0.0.2
      - url: https://public.example:443
        name: public
        user: ref
        password_file: ref-pw
        tls: {ca_file: ` + caFile + `}
    health:
      max_blocks_behind_reference: 4
      checks: [monerod, chain]
    allowed_targets: ["*"]
`,
		"pw":     secret,
		"ref-pw": "ref-" + secret + "\n",
	})
	cfg, err := Load(filepath.Join(dir, "c.yml"), testOpts)
	if err != nil {
		t.Fatal(err)
	}
	m := cfg.Modules["fleet"]
	var got []string
	for _, r := range m.References {
		got = append(got, r.Name+" "+r.Address().String()+" "+r.User+" "+r.Password())
	}
	want := []string{
		"node1.nodes.example:18089 http://node1.nodes.example:18089 monitor " + secret,
		"10.0.0.2:18089 http://10.0.0.2:18089 monitor " + secret,
		"public https://public.example:443 ref ref-" + secret,
	}
	if !slices.Equal(got, want) {
		t.Errorf("references:\n%q\nwant\n%q", got, want)
	}
	if r := m.References[2]; r.TLS.CAFile != caFile || m.References[0].TLS.Set() {
		t.Errorf("TLS: %+v, %+v", r.TLS, m.References[0].TLS)
	}
	for _, tc := range []struct {
		target string
		want   []string
	}{
		{"node9.nodes.example", []string{"node1.nodes.example:18089", "10.0.0.2:18089", "public"}},
		{"NODE1.nodes.example", []string{"10.0.0.2:18089", "public"}},
		{"http://10.0.0.2:18089", []string{"node1.nodes.example:18089", "public"}},
		{"10.0.0.2:18081", []string{"node1.nodes.example:18089", "10.0.0.2:18089", "public"}},
	} {
		u, err := m.Target(tc.target)
		if err != nil {
			t.Fatal(err)
		}
		h := m.HealthConfig(u)
		if !slices.Equal(h.References, tc.want) || h.MaxBlocksBehindReference != 4 {
			t.Errorf("target %s: references %q (max behind %d), want %q", tc.target, h.References, h.MaxBlocksBehindReference, tc.want)
		}
		if err := h.Validate(); err != nil {
			t.Errorf("target %s: %v", tc.target, err)
		}
	}
	if h := cfg.Modules["fleet"].HealthConfig(&url.URL{Scheme: "http", Host: "x:1"}); !slices.Equal(h.Checks, []string{"monerod", "chain"}) {
		t.Errorf("checks %q", h.Checks)
	}

	// A changed reference password is a changed module.
	again, err := Load(filepath.Join(dir, "c.yml"), testOpts)
	if err != nil || !again.Modules["fleet"].Equal(m) {
		t.Fatalf("the same file read twice: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "ref-pw"), []byte("other"), 0o600); err != nil {
		t.Fatal(err)
	}
	if changed, err := Load(filepath.Join(dir, "c.yml"), testOpts); err != nil || changed.Modules["fleet"].Equal(m) {
		t.Errorf("a changed reference password file is equal: %v", err)
	}
}

// A reference of the fleet takes the module's TLS; one written as a mapping
// does not.
func TestReferenceTLS(t *testing.T) {
	caFile, _, _ := monerodtest.NewTLS(t)
	dir := writeFiles(t, map[string]string{"c.yml": `
modules:
  a:
    scheme: https
    tls: {ca_file: ` + caFile + `}
    references: [node1, {url: "https://public.example"}]
    allowed_targets: ["*"]
`})
	cfg, err := Load(filepath.Join(dir, "c.yml"), testOpts)
	if err != nil {
		t.Fatal(err)
	}
	refs := cfg.Modules["a"].References
	if refs[0].TLS.CAFile != caFile || refs[0].Address().Scheme != "https" || refs[1].TLS.Set() {
		t.Errorf("TLS: fleet %+v, public %+v", refs[0].TLS, refs[1].TLS)
	}
}
