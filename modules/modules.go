// Package modules reads the exporter's --config.file: the modules that
// /probe?module=NAME&target=HOST scrapes with, in the way blackbox_exporter's
// modules and postgres_exporter's auth_modules work. A module says how to
// reach a kind of node (login, TLS, timeout), what to ask it (collectors),
// how to judge it (health thresholds) and which targets it may be pointed
// at (allowed_targets). Credentials live here, never in a probe's URL.
package modules

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/prometheus/common/model"
	"go.yaml.in/yaml/v2"

	"github.com/monero-ops/monero_exporter/health"
	"github.com/monero-ops/monero_exporter/monerod"
)

// Config is a parsed and validated configuration file.
type Config struct {
	// Modules by name.
	Modules map[string]*Module
}

// Module is one module of the configuration file. Build it with Load or
// Parse: they check it and read its password file.
type Module struct {
	// User answers monerod's HTTP Digest login, with the password read from
	// PasswordFile.
	User string `yaml:"user"`
	// PasswordFile holds the password (a trailing newline is ignored).
	PasswordFile string `yaml:"password_file"`
	// InlinePassword exists only to refuse a password written in the file
	// itself with a clear error; it is always empty after Parse.
	InlinePassword string `yaml:"password"`
	// TLS is how to trust an https:// node.
	TLS TLS `yaml:"tls"`
	// Scheme is the scheme of a target given as host or host:port: http
	// (default) or https. A target given as a URL keeps its own.
	Scheme string `yaml:"scheme"`
	// DefaultPort is the port of a target that names none (default 18081).
	DefaultPort int `yaml:"default_port"`
	// Timeout caps the time a probe spends on the node (and is the
	// deadline when the request carries no scrape timeout header); zero
	// means the exporter's --monerod.timeout.
	Timeout model.Duration `yaml:"timeout"`
	// MaxConnections is the connections kept to each target; zero picks by
	// the target's address, as --monerod.max-connections 0 does.
	MaxConnections int `yaml:"max_connections"`
	// Collectors names the optional collectors switched on; absent means
	// the exporter's defaults, [] none of them.
	Collectors []string `yaml:"collectors"`
	// Health holds the health checks' thresholds.
	Health Health `yaml:"health"`
	// References are the module's reference nodes: every target's chain
	// is compared with theirs (the chain health check and the
	// monero_reference_* metrics), each target with all but itself.
	References []*Reference `yaml:"references"`
	// AllowedTargets are the targets this module may scrape: host patterns
	// ("*.nodes.example", "node1.example", "127.0.0.1", "*") or CIDRs
	// ("10.0.0.0/8"). A target must match one.
	AllowedTargets []string `yaml:"allowed_targets"`

	password string
	patterns []string
	prefixes []netip.Prefix
	health   health.Config
}

// TLS is a module's TLS settings towards monerod.
type TLS struct {
	// CAFile is a PEM bundle of the CA that signed the nodes' certificates.
	CAFile string `yaml:"ca_file"`
	// InsecureSkipVerify accepts any certificate.
	InsecureSkipVerify bool `yaml:"insecure_skip_verify"`
}

// Set reports whether any TLS setting is given.
func (t TLS) Set() bool { return t.CAFile != "" || t.InsecureSkipVerify }

// Reference is a reference node of a module: another node of the fleet, or
// a trusted public node. Written as an address ("node2.example",
// "10.0.0.2:18081"), it is a node of the fleet, reached as the targets are:
// with the module's login and TLS settings. Written as a mapping (url, and
// name, user, password_file, tls as it needs them), it is reached with its
// own settings only, none of the module's: the form for a node outside the
// fleet, which must not be sent the fleet's login. Either way, like a
// target, an address without a scheme or port takes the module's scheme
// and default_port.
type Reference struct {
	// URL is the node's address, in the forms a target takes.
	URL string `yaml:"url"`
	// Name labels the reference in metrics and health outputs (the
	// reference label); default: the URL's host:port.
	Name string `yaml:"name"`
	// User answers the node's HTTP Digest login, with the password read
	// from PasswordFile.
	User         string `yaml:"user"`
	PasswordFile string `yaml:"password_file"`
	// InlinePassword exists only to refuse a password written in the file.
	InlinePassword string `yaml:"password"`
	// TLS is how to trust an https:// reference.
	TLS TLS `yaml:"tls"`

	url      *url.URL
	password string
	// fleet: written as an address, reached with the module's login and
	// TLS settings.
	fleet bool
}

// UnmarshalYAML reads a reference written as an address or as a mapping.
func (r *Reference) UnmarshalYAML(unmarshal func(any) error) error {
	var addr string
	if err := unmarshal(&addr); err == nil {
		*r = Reference{URL: addr, fleet: true}
		return nil
	}
	type plain Reference
	return unmarshal((*plain)(r))
}

// Address is the reference's parsed URL.
func (r *Reference) Address() *url.URL { return r.url }

// Password is the password read from PasswordFile ("" without one).
func (r *Reference) Password() string { return r.password }

// Health holds the thresholds of the health checks, as the --health.* flags
// set them in single-node mode. A zero field keeps the default.
type Health struct {
	LastBlockMaxAge model.Duration `yaml:"last_block_max_age"`
	MinPeers        *int           `yaml:"min_peers"`
	MaxBlocksBehind *uint64        `yaml:"max_blocks_behind"`
	// MaxBlocksBehindReference is how far the best reference node may be
	// ahead before the chain check fails.
	MaxBlocksBehindReference *uint64 `yaml:"max_blocks_behind_reference"`
	// Checks are the checks /health counts; absent means the default set.
	Checks []string `yaml:"checks"`
	// P2PPort, when set, makes the p2p check dial this port on the
	// target's host.
	P2PPort int `yaml:"p2p_port"`
}

// Password is the password read from PasswordFile ("" without one).
func (m *Module) Password() string { return m.password }

// HealthConfig is the health checks' configuration for target: the p2p
// check dials its host at the module's p2p_port, and the chain check
// compares it with ReferencesFor(target).
func (m *Module) HealthConfig(target *url.URL) health.Config {
	c := m.health
	c.Checks = slices.Clone(c.Checks)
	if m.Health.P2PPort != 0 {
		c.P2PAddress = net.JoinHostPort(target.Hostname(), strconv.Itoa(m.Health.P2PPort))
	}
	c.References = nil
	for _, r := range m.ReferencesFor(target) {
		c.References = append(c.References, r.Name)
	}
	return c
}

// ReferencesFor lists the module's references that target is compared
// with: all but the target itself, recognised by the same host:port (a
// node named two ways, by name and by address, is not recognised).
func (m *Module) ReferencesFor(target *url.URL) []*Reference {
	var out []*Reference
	for _, r := range m.References {
		if !strings.EqualFold(r.url.Host, target.Host) {
			out = append(out, r)
		}
	}
	return out
}

// Equal reports whether two modules would scrape a target the same way,
// password included (so that a rotated password file counts as a change).
func (m *Module) Equal(o *Module) bool {
	if m == nil || o == nil {
		return m == o
	}
	return reflect.DeepEqual(*m, *o)
}

// Options are what the exporter knows that the file does not say.
type Options struct {
	// KnownCollectors are the names collectors may take.
	KnownCollectors []string
	// DefaultCollectors are switched on in a module that names none.
	DefaultCollectors []string
	// MaxTimeout is the longest timeout a module may set (0: no limit).
	MaxTimeout time.Duration
	// ExporterVersion is copied into every module's health configuration.
	ExporterVersion string
}

// DefaultPort is monerod's mainnet RPC port, for targets that name none.
const DefaultPort = 18081

// Load reads, parses and checks the file at path. Relative file names in
// it (password_file, tls.ca_file) are relative to the file's directory.
// Errors name the module and the field; they never hold a password.
func Load(file string, opts Options) (*Config, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	cfg, err := Parse(b, filepath.Dir(file), opts)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return cfg, nil
}

// Parse parses and checks a configuration; dir is the directory relative
// file names are resolved against.
func Parse(b []byte, dir string, opts Options) (*Config, error) {
	// Strict: a misspelt key is an error, not a setting silently ignored.
	// The modules are read one field at a time, so that an error names the
	// module and the field, which yaml's own errors do not always do.
	var top struct {
		Modules yaml.MapSlice `yaml:"modules"`
	}
	if err := yaml.UnmarshalStrict(b, &top); err != nil {
		return nil, err
	}
	if len(top.Modules) == 0 {
		return nil, errors.New("no modules: the file must define at least one under 'modules:'")
	}
	cfg := &Config{Modules: map[string]*Module{}}
	var errs []error
	for _, item := range top.Modules {
		name, ok := item.Key.(string)
		if !ok {
			errs = append(errs, fmt.Errorf("module name %v is not a string", item.Key))
			continue
		}
		if _, dup := cfg.Modules[name]; dup {
			errs = append(errs, fmt.Errorf("module %q is defined twice", name))
			continue
		}
		if err := checkName(name); err != nil {
			errs = append(errs, err)
			continue
		}
		m, merrs := decodeModule(item.Value)
		if len(merrs) == 0 {
			merrs = m.setUp(dir, opts)
		}
		for _, err := range merrs {
			errs = append(errs, fmt.Errorf("module %q: %w", name, err))
		}
		cfg.Modules[name] = m
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return cfg, nil
}

// decodeModule decodes a module's fields one by one, each error naming its
// field.
func decodeModule(v any) (*Module, []error) {
	m := &Module{}
	if v == nil {
		return m, nil
	}
	fields, ok := v.(yaml.MapSlice)
	if !ok {
		return m, []error{errors.New("is not a mapping of settings")}
	}
	var errs []error
	seen := map[any]bool{}
	for _, f := range fields {
		key := fmt.Sprint(f.Key)
		if seen[f.Key] {
			errs = append(errs, fmt.Errorf("%s: is set twice", key))
			continue
		}
		seen[f.Key] = true
		b, err := yaml.Marshal(yaml.MapSlice{f})
		if err == nil {
			err = yaml.UnmarshalStrict(b, m)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %s", key, yamlError(err)))
		}
	}
	return m, errs
}

// yamlError is err without the line numbers, which count lines of one
// field re-encoded, not of the file.
func yamlError(err error) string {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return err.Error()
	}
	msgs := make([]string, len(te.Errors))
	for i, e := range te.Errors {
		msgs[i] = reLine.ReplaceAllString(e, "")
	}
	return strings.Join(msgs, "; ")
}

var reLine = regexp.MustCompile(`^line \d+: `)

func checkName(name string) error {
	if name == "" {
		return errors.New("a module has an empty name")
	}
	for _, r := range name {
		if !isNameRune(r) {
			return fmt.Errorf("module %q: a name may hold only letters, digits, '_', '-' and '.'", name)
		}
	}
	return nil
}

func isNameRune(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '.'
}

// setUp checks a module, fills its defaults and reads its files. It returns
// every problem found, each naming the field.
func (m *Module) setUp(dir string, opts Options) []error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }

	if m.InlinePassword != "" {
		m.InlinePassword = ""
		add("password: a password is read only from password_file, never written in this file")
	}
	switch {
	case strings.Contains(m.User, ":"):
		add("user: must not contain ':'")
	case m.PasswordFile != "" && m.User == "":
		add("password_file: is set but user is empty")
	}
	if m.PasswordFile != "" {
		m.PasswordFile = resolve(dir, m.PasswordFile)
		b, err := os.ReadFile(m.PasswordFile)
		if err != nil {
			// The path is the operator's; the content is never shown.
			add("password_file: %w", err)
		} else {
			m.password = strings.TrimRight(string(b), "\r\n")
		}
	}

	switch m.Scheme {
	case "":
		m.Scheme = "http"
	case "http", "https":
	default:
		add("scheme: %q must be http or https", m.Scheme)
	}
	if m.TLS.CAFile != "" {
		m.TLS.CAFile = resolve(dir, m.TLS.CAFile)
		if err := checkCAFile(m.TLS.CAFile); err != nil {
			add("tls.ca_file: %w", err)
		}
	}
	switch {
	case m.DefaultPort == 0:
		m.DefaultPort = DefaultPort
	case m.DefaultPort < 0 || m.DefaultPort > 65535:
		add("default_port: %d is out of range 1-65535", m.DefaultPort)
	}
	switch d := time.Duration(m.Timeout); {
	case d < 0:
		add("timeout: %s must not be negative", m.Timeout)
	case opts.MaxTimeout > 0 && d > opts.MaxTimeout:
		add("timeout: %s is longer than the most allowed, %s", m.Timeout, model.Duration(opts.MaxTimeout))
	}
	if m.MaxConnections < 0 || m.MaxConnections > 24 {
		add("max_connections: must be 0 (automatic) to 24 (monerod drops the 26th connection from one address), got %d", m.MaxConnections)
	}

	if m.Collectors == nil {
		m.Collectors = slices.Clone(opts.DefaultCollectors)
	} else {
		seen := map[string]bool{}
		for _, c := range m.Collectors {
			switch {
			case !slices.Contains(opts.KnownCollectors, c):
				add("collectors: unknown collector %q (known: %s)", c, strings.Join(opts.KnownCollectors, ", "))
			case seen[c]:
				add("collectors: %q is listed twice", c)
			}
			seen[c] = true
		}
		// The order of the exporter's list, so that equal sets compare equal.
		m.Collectors = slices.DeleteFunc(slices.Clone(opts.KnownCollectors), func(c string) bool { return !seen[c] })
	}
	if m.Collectors == nil {
		m.Collectors = []string{}
	}

	errs = append(errs, m.setUpReferences(dir)...)
	errs = append(errs, m.setUpHealth(opts)...)
	errs = append(errs, m.setUpTargets()...)
	return errs
}

// maxReferenceName bounds a reference's name, a label value.
const maxReferenceName = 128

// setUpReferences checks the references, reads their password files and
// names them.
func (m *Module) setUpReferences(dir string) []error {
	var errs []error
	add := func(i int, format string, a ...any) {
		errs = append(errs, fmt.Errorf("references[%d]: "+format, append([]any{i}, a...)...))
	}
	names := map[string]bool{}
	for i, r := range m.References {
		if r == nil {
			add(i, "is empty")
			continue
		}
		if r.fleet {
			// A node of the fleet: the module's login and TLS, read and
			// checked already.
			r.User, r.password, r.TLS = m.User, m.password, m.TLS
		}
		if r.InlinePassword != "" {
			r.InlinePassword = ""
			add(i, "password: a password is read only from password_file, never written in this file")
		}
		switch {
		case strings.Contains(r.User, ":"):
			add(i, "user: must not contain ':'")
		case r.PasswordFile != "" && r.User == "":
			add(i, "password_file: is set but user is empty")
		}
		if r.PasswordFile != "" {
			r.PasswordFile = resolve(dir, r.PasswordFile)
			b, err := os.ReadFile(r.PasswordFile)
			if err != nil {
				add(i, "password_file: %w", err)
			} else {
				r.password = strings.TrimRight(string(b), "\r\n")
			}
		}
		if r.TLS.CAFile != "" {
			r.TLS.CAFile = resolve(dir, r.TLS.CAFile)
			if err := checkCAFile(r.TLS.CAFile); err != nil {
				add(i, "tls.ca_file: %w", err)
			}
		}
		var u *url.URL
		var err error
		if r.URL == "" {
			err = errors.New("url is missing")
		} else {
			u, err = m.parseAddress(r.URL, "url")
		}
		switch {
		case err != nil:
			add(i, "%w", err)
			continue
		case r.TLS.Set() && u.Scheme != "https" && r.fleet:
			add(i, "url: the module sets tls, so a reference written as an address must be https (write it as a mapping to reach it with settings of its own)")
		case r.TLS.Set() && u.Scheme != "https":
			add(i, "url: the reference sets tls, so it must be https (an https:// URL, or scheme: https in the module)")
		}
		r.url = u
		if r.Name == "" {
			r.Name = u.Host
		}
		switch {
		case len(r.Name) > maxReferenceName || strings.ContainsFunc(r.Name, func(c rune) bool { return !unicode.IsPrint(c) }):
			add(i, "name: %q must be at most %d printable characters", r.Name, maxReferenceName)
		case names[r.Name]:
			add(i, "name: %q is the name of another reference; give each its own name", r.Name)
		}
		names[r.Name] = true
	}
	return errs
}

// parseAddress reads a node's address as a target's is read: the forms
// --monerod.rpc-url takes, with the module's scheme and default port, and
// never credentials. subject names the address in errors.
func (m *Module) parseAddress(raw, subject string) (*url.URL, error) {
	switch {
	case len(raw) > maxTargetLen:
		return nil, fmt.Errorf("%s is longer than %d characters", subject, maxTargetLen)
	case strings.Contains(raw, "@"):
		// Never repeated: what stands before an '@' may be a password.
		return nil, fmt.Errorf("%s must not carry credentials (it contains '@'); user and password_file give them", subject)
	case strings.ContainsFunc(raw, unicode.IsControl):
		return nil, fmt.Errorf("%s holds control characters", subject)
	}
	u, err := monerod.ParseAddress(raw, m.DefaultPort)
	if err != nil {
		return nil, err
	}
	if !strings.Contains(raw, "://") {
		u.Scheme = m.Scheme
	}
	return u, nil
}

func (m *Module) setUpHealth(opts Options) []error {
	var errs []error
	h := health.DefaultConfig()
	h.ExporterVersion = opts.ExporterVersion
	if m.Health.LastBlockMaxAge != 0 {
		h.LastBlockMaxAge = time.Duration(m.Health.LastBlockMaxAge)
	}
	if m.Health.MinPeers != nil {
		h.MinPeers = *m.Health.MinPeers
	}
	if m.Health.MaxBlocksBehind != nil {
		h.MaxBlocksBehind = *m.Health.MaxBlocksBehind
	}
	if m.Health.MaxBlocksBehindReference != nil {
		h.MaxBlocksBehindReference = *m.Health.MaxBlocksBehindReference
	}
	for _, r := range m.References {
		if r != nil {
			h.References = append(h.References, r.Name)
		}
	}
	if p := m.Health.P2PPort; p != 0 {
		if p < 0 || p > 65535 {
			errs = append(errs, fmt.Errorf("health.p2p_port: %d is out of range 1-65535", p))
		}
		// Validate wants an address; the target's host comes per probe.
		h.P2PAddress = net.JoinHostPort("target", strconv.Itoa(p))
	}
	if m.Health.Checks != nil {
		checks, err := health.ParseChecks(strings.Join(m.Health.Checks, ","))
		if err != nil {
			errs = append(errs, fmt.Errorf("health.checks: %w", err))
		}
		if checks == nil {
			checks = []string{}
		}
		h.Checks = checks
	}
	if err := h.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("health: %w", err))
	}
	h.P2PAddress = ""
	m.health = h
	return errs
}

func (m *Module) setUpTargets() []error {
	var errs []error
	if len(m.AllowedTargets) == 0 {
		return []error{errors.New(`allowed_targets: is empty, so the module could scrape nothing; list host patterns ("*.nodes.example"), CIDRs ("10.0.0.0/8"), or "*" for any target`)}
	}
	for i, p := range m.AllowedTargets {
		p = strings.ToLower(strings.TrimSpace(p))
		switch {
		case p == "":
			errs = append(errs, fmt.Errorf("allowed_targets[%d]: is empty", i))
		case strings.Contains(p, "/"):
			prefix, err := netip.ParsePrefix(p)
			if err != nil {
				errs = append(errs, fmt.Errorf("allowed_targets[%d]: %q is not a CIDR such as 10.0.0.0/8: %w", i, p, err))
				continue
			}
			m.prefixes = append(m.prefixes, prefix.Masked())
		default:
			if _, err := path.Match(p, ""); err != nil || strings.ContainsAny(p, ":@# \t") && !isIPv6(p) {
				errs = append(errs, fmt.Errorf("allowed_targets[%d]: %q is not a host pattern such as *.nodes.example (a host, no port; '*' and '?' match any characters)", i, p))
				continue
			}
			m.patterns = append(m.patterns, p)
		}
	}
	return errs
}

func isIPv6(s string) bool {
	a, err := netip.ParseAddr(s)
	return err == nil && a.Is6()
}

// Allows reports whether the module may scrape a target on host (a name or
// an IP address, without port or brackets). A CIDR matches IP addresses
// only: a name is not resolved to be checked, since the address it resolves
// to when dialled could differ. A host pattern matches names and addresses
// as text, without regard to case.
func (m *Module) Allows(host string) bool {
	host = strings.ToLower(host)
	if a, err := netip.ParseAddr(host); err == nil {
		a = a.Unmap()
		for _, p := range m.prefixes {
			if p.Contains(a) {
				return true
			}
		}
		// A pattern written as an address matches the same address
		// written another way ("::1" and "0:0::1").
		for _, p := range m.patterns {
			if pa, err := netip.ParseAddr(p); err == nil && pa.Unmap() == a {
				return true
			}
		}
	}
	for _, p := range m.patterns {
		if ok, _ := path.Match(p, host); ok {
			return true
		}
	}
	return false
}

func resolve(dir, name string) string {
	if name == "" || filepath.IsAbs(name) {
		return name
	}
	return filepath.Join(dir, name)
}

func checkCAFile(name string) error {
	b, err := os.ReadFile(name)
	if err != nil {
		return err
	}
	if !x509.NewCertPool().AppendCertsFromPEM(b) {
		if blk, _ := pem.Decode(bytes.TrimSpace(b)); blk == nil {
			return fmt.Errorf("%q holds no PEM certificate", name)
		}
		return fmt.Errorf("%q holds no usable certificate", name)
	}
	return nil
}

// Errors of Target, for the handler to tell 400 from 403.
var (
	// ErrBadTarget: the target is missing or malformed.
	ErrBadTarget = errors.New("bad target")
	// ErrTargetNotAllowed: the target is well formed but the module's
	// allowed_targets do not list it.
	ErrTargetNotAllowed = errors.New("target not allowed")
)

// maxTargetLen bounds a target: a host name is at most 253 characters, and
// a URL path prefix is short.
const maxTargetLen = 512

// Target reads a probe's target parameter: the forms --monerod.rpc-url
// takes (host, host:port, [v6]:port, an http:// or https:// URL), with the
// module's scheme and default port, and checks it against allowed_targets.
// It contacts nothing. Its errors wrap ErrBadTarget or ErrTargetNotAllowed
// and fit on one line.
func (m *Module) Target(raw string) (*url.URL, error) {
	if raw == "" {
		return nil, fmt.Errorf("%w: the target parameter is missing", ErrBadTarget)
	}
	u, err := m.parseAddress(raw, "the target")
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadTarget, err)
	}
	if m.TLS.Set() && u.Scheme != "https" {
		return nil, fmt.Errorf("%w: the module sets tls, so the target must be https (an https:// URL, or scheme: https in the module)", ErrBadTarget)
	}
	if !m.Allows(u.Hostname()) {
		return nil, fmt.Errorf("%w: host %q matches none of the module's allowed_targets", ErrTargetNotAllowed, u.Hostname())
	}
	return u, nil
}
