package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/alecthomas/units"
	"github.com/prometheus/common/promslog"
	promslogflag "github.com/prometheus/common/promslog/flag"
	"github.com/prometheus/common/version"
	"github.com/prometheus/exporter-toolkit/web"
	"github.com/prometheus/exporter-toolkit/web/kingpinflag"

	"github.com/monero-ops/monero_exporter/collector"
	"github.com/monero-ops/monero_exporter/health"
	"github.com/monero-ops/monero_exporter/monerod"
)

const passwordEnv = "MONEROD_RPC_PASSWORD"

// config is everything the command line and the environment decide.
type config struct {
	rpcURL           *url.URL
	rpcUser          string
	rpcPassword      string
	tlsCAFile        string
	tlsSkipVerify    bool
	timeout          time.Duration
	timeoutOffset    time.Duration
	maxConnections   int
	maxResponseBytes int64
	metricsPath      string
	compression      bool
	maxRequests      int
	memoryLimit      int64    // soft limit for the Go runtime; 0: none
	collectors       []string // optional collectors switched on, sorted by name
	configFile       string   // modules for /probe; "": no multi-target mode
	probeMaxTargets  int
	probeIdleTimeout time.Duration
	health           health.Config
	references       []referenceConfig // --chain.reference, in order
	warnings         []string          // settings not used as given, for the log
	web              *web.FlagConfig
	log              *promslog.Config
}

// errExit is returned by parseConfig when kingpin already answered (--help,
// --version) and the program should exit with code.
type errExit struct{ code int }

func (e errExit) Error() string { return fmt.Sprintf("exit %d", e.code) }

// parseConfig reads flags from args and the process environment. It writes
// --help and --version output to out.
func parseConfig(args []string, out io.Writer) (*config, error) {
	app := kingpin.New("monero_exporter", "Prometheus exporter and health checks for the Monero daemon (monerod).")
	app.UsageWriter(out)
	app.ErrorWriter(out)
	exitCode := -1
	app.Terminate(func(code int) {
		if exitCode < 0 {
			exitCode = code
		}
	})
	app.Version(version.Print("monero_exporter"))
	app.HelpFlag.Short('h')

	var rpcURLSet, timeoutSet, listenSet bool
	var (
		rpcURL = app.Flag("monerod.rpc-url",
			"monerod RPC address: a host (127.0.0.1), host:port, or an http:// or https:// URL. The port defaults to --monerod.rpc-port. MONEROD_URL, which monero_health_check read, works too.").
			Default("http://127.0.0.1").Envar("MONEROD_RPC_URL").IsSetByUser(&rpcURLSet).String()
		rpcPort = app.Flag("monerod.rpc-port", "monerod RPC port, used when --monerod.rpc-url names none.").
			Default("18081").Envar("MONEROD_RPC_PORT").Int()
		p2pPort = app.Flag("monerod.p2p-port", "monerod P2P port on the RPC host, dialled (TCP) in every snapshot for /api/v1/monerod and the p2p check, unless --health.p2p-address names another.").
			Default("18080").Envar("MONEROD_P2P_PORT").Int()
		rpcUser = app.Flag("monerod.rpc-user",
			"User for monerod's --rpc-login (HTTP Digest). The password comes from the environment variable "+passwordEnv+" or --monerod.rpc-password-file, never from a flag.").
			Envar("MONEROD_RPC_USER").String()
		passwordFile = app.Flag("monerod.rpc-password-file", "File holding the password for --monerod.rpc-user (a trailing newline is ignored).").
				Envar("MONEROD_RPC_PASSWORD_FILE").String()
		caFile = app.Flag("monerod.tls-ca-file", "PEM file of the CA that signed monerod's RPC certificate (https:// URLs).").
			Envar("MONEROD_TLS_CA_FILE").String()
		skipVerify = app.Flag("monerod.tls-insecure-skip-verify", "Accept any certificate from monerod (its self-made one cannot be verified).").
				Envar("MONEROD_TLS_INSECURE_SKIP_VERIFY").Bool()
		timeout = app.Flag("monerod.timeout", "Deadline for asking monerod when the request carries no X-Prometheus-Scrape-Timeout-Seconds header (health endpoints, manual scrapes). HTTP_TIMEOUT (seconds), which monero_health_check read, works too.").
			Default("10s").Envar("MONEROD_TIMEOUT").IsSetByUser(&timeoutSet).Duration()
		offset = app.Flag("monerod.timeout-offset", "Subtracted from Prometheus's scrape timeout to leave time for sending the answer.").
			Default("0.25s").Envar("MONEROD_TIMEOUT_OFFSET").Duration()
		maxConns = app.Flag("monerod.max-connections", "Most connections kept open to monerod. 0 picks 8 for a node on a loopback or private address and 3 otherwise: monerod drops the 26th connection from a private address and the 4th from a public one.").
				Default("0").Envar("MONEROD_MAX_CONNECTIONS").Int()
		maxBody = app.Flag("monerod.max-response-size", "Largest monerod answer read; a larger one fails the call.").
			Default("32MiB").Envar("MONEROD_MAX_RESPONSE_SIZE").Bytes()
		metricsPath = app.Flag("web.telemetry-path", "Path under which to expose metrics.").
				Default("/metrics").Envar("WEB_TELEMETRY_PATH").String()
		compression = app.Flag("web.compression", "Compress /metrics for scrapers that accept it (gzip or zstd, as promhttp negotiates). Off by default: a scrape is about 30 KB, and compressing it costs the node's machine more CPU than the bytes it saves on a LAN.").
				Default("false").Envar("WEB_COMPRESSION").Bool()
		maxRequests = app.Flag("web.max-requests", "Most requests served at once by /metrics, and separately by the health endpoints; more wait for a place within their deadline, then get 503. 0: no limit.").
				Default("40").Envar("WEB_MAX_REQUESTS").Int()
		memLimit = app.Flag("runtime.memory-limit", "Soft memory limit of the Go runtime (as GOMEMLIMIT, which wins when set): past it the garbage collector works harder rather than letting the heap double, which keeps the exporter small when abused by many connections. 0: none.").
				Default("40MiB").Envar("RUNTIME_MEMORY_LIMIT").Bytes()
	)
	var (
		configFile = app.Flag("config.file", "YAML file of modules for /probe?target=HOST&module=NAME (login, TLS, timeout, collectors, health thresholds, allowed targets); reloaded on SIGHUP and POST /-/reload. Without it /probe answers 404.").
				String()
		probeMax = app.Flag("probe.max-targets", "Most targets of /probe held at once (a client and a snapshot each); past it the least recently probed is dropped. Set it above the number of nodes probed.").
				Default("500").Envar("PROBE_MAX_TARGETS").Int()
		probeIdle = app.Flag("probe.target-idle-timeout", "A target of /probe not probed for this long is dropped, and its connections closed. Longer than the scrape interval.").
				Default("10m").Envar("PROBE_TARGET_IDLE_TIMEOUT").Duration()
	)
	var (
		maxAge = app.Flag("health.last-block-max-age",
			"/health's last_block check: an older last block fails, or warns when no peer has a higher one (the network is slow, not the node). 30m: a false alarm about once in 12 years on a healthy node (720 x e^-15 a day; 12m: 1.8 a day). /api/v1 keeps the older service's 12 minutes, or its OFFSET and OFFSET_UNIT.").
			Default(health.DefaultLastBlockMaxAge.String()).Duration()
		minPeers = app.Flag("health.min-peers", "The peers check wants at least this many synced peers.").
				Default(strconv.Itoa(health.DefaultMinPeers)).Envar("HEALTH_MIN_PEERS").Int()
		maxBehind = app.Flag("health.max-blocks-behind", "A peer this many blocks or fewer from our height counts as synced; the sync check fails past it.").
				Default(strconv.FormatUint(health.DefaultMaxBlocksBehind, 10)).Envar("HEALTH_MAX_BLOCKS_BEHIND").Uint64()
		p2pAddr = app.Flag("health.p2p-address", "host:port of monerod's P2P port, when not --monerod.p2p-port on the RPC host; setting it counts the p2p check, as CONSIDER_P2P_STATUS=true does.").
			Envar("HEALTH_P2P_ADDRESS").String()
		checks = app.Flag("health.checks", "Comma-separated checks that /health counts: monerod, last_block, peers, sync, p2p, chain. Default: all but p2p and chain, plus p2p when --health.p2p-address is set or CONSIDER_P2P_STATUS is true. Listing chain (which needs --chain.reference) also counts it in /api/v1's combined status.").
			Envar("HEALTH_CHECKS").String()
		maxBehindRef = app.Flag("health.max-blocks-behind-reference", "The chain check fails when the best reference node (--chain.reference) is more than this many blocks ahead.").
				Default(strconv.FormatUint(health.DefaultMaxBlocksBehindReference, 10)).Envar("HEALTH_MAX_BLOCKS_BEHIND_REFERENCE").Uint64()
		references = app.Flag("chain.reference", "A reference node (repeatable): another node of the fleet or a trusted public node, as host, host:port (port --monerod.rpc-port) or an http:// or https:// URL, without login (unless --chain.reference-login). Every snapshot compares monerod's block at its height with the reference's, for the chain check and the monero_reference_* metrics.").
				Strings()
		referenceLogin = app.Flag("chain.reference-login", "Reach every --chain.reference as a node of monerod's own fleet: with --monerod.rpc-user's login, the --monerod.tls-* settings (https:// references), and --monerod.rpc-url's scheme for an address written without one. Off by default, so that a public reference is never sent the node's password.").
				Envar("CHAIN_REFERENCE_LOGIN").Bool()
	)
	// One flag per registered collector, as node_exporter does.
	collectorFlags := map[string]*bool{}
	for _, d := range collector.Definitions() {
		collectorFlags[d.Name] = app.Flag("collector."+d.Name, d.Help()).Default(strconv.FormatBool(d.Default)).Bool()
	}
	webFlags := kingpinflag.AddFlags(app, ":18091")
	if f := app.GetFlag("web.listen-address"); f != nil {
		f.IsSetByUser(&listenSet)
	}
	logCfg := &promslog.Config{}
	promslogflag.AddFlags(app, logCfg)

	_, err := app.Parse(args)
	if exitCode >= 0 {
		return nil, errExit{exitCode}
	}
	if err != nil {
		return nil, err
	}

	cfg := &config{
		rpcUser:          *rpcUser,
		tlsCAFile:        *caFile,
		tlsSkipVerify:    *skipVerify,
		timeout:          *timeout,
		timeoutOffset:    *offset,
		maxConnections:   *maxConns,
		maxResponseBytes: int64(*maxBody),
		metricsPath:      *metricsPath,
		compression:      *compression,
		maxRequests:      *maxRequests,
		memoryLimit:      int64(*memLimit),
		configFile:       *configFile,
		probeMaxTargets:  *probeMax,
		probeIdleTimeout: *probeIdle,
		web:              webFlags,
		log:              logCfg,
	}
	for _, name := range collector.Names() {
		if *collectorFlags[name] {
			cfg.collectors = append(cfg.collectors, name)
		}
	}
	if err := cfg.applyLegacyEnv(rpcURL, rpcURLSet, *rpcPort, timeoutSet, listenSet); err != nil {
		return nil, err
	}
	if cfg.rpcURL, err = monerod.ParseAddress(*rpcURL, *rpcPort); err != nil {
		return nil, fmt.Errorf("--monerod.rpc-url: %w", err)
	}
	if *p2pPort < 1 || *p2pPort > 65535 {
		return nil, fmt.Errorf("--monerod.p2p-port must be 1 to 65535, got %d", *p2pPort)
	}
	defaultP2P := net.JoinHostPort(cfg.rpcURL.Hostname(), strconv.Itoa(*p2pPort))
	var warnings []string
	if cfg.references, err = parseReferences(*references, *rpcPort, cfg.rpcURL.Host); err != nil {
		return nil, err
	}
	chain := health.Config{MaxBlocksBehindReference: *maxBehindRef}
	for _, r := range cfg.references {
		chain.References = append(chain.References, r.name)
	}
	if cfg.health, warnings, err = healthConfig(*maxAge, *minPeers, *maxBehind, *p2pAddr, defaultP2P, *checks, chain); err != nil {
		return nil, err
	}
	cfg.warnings = append(cfg.warnings, warnings...)
	cfg.health.DaemonAddress = cfg.rpcURL.Host
	cfg.health.ExporterVersion = version.Version
	if cfg.rpcPassword, err = readPassword(*passwordFile); err != nil {
		return nil, err
	}
	switch {
	case cfg.rpcUser == "" && cfg.rpcPassword != "":
		return nil, errors.New("a monerod password is set but --monerod.rpc-user is empty")
	case cfg.rpcUser != "" && strings.Contains(cfg.rpcUser, ":"):
		return nil, errors.New("--monerod.rpc-user must not contain ':'; give the password through " + passwordEnv + " or --monerod.rpc-password-file")
	case cfg.timeout <= 0 || cfg.timeout > maxRequestTimeout:
		return nil, fmt.Errorf("--monerod.timeout must be positive and at most %s, got %s", maxRequestTimeout, cfg.timeout)
	case cfg.maxRequests < 0:
		return nil, fmt.Errorf("--web.max-requests must not be negative, got %d", cfg.maxRequests)
	case cfg.timeoutOffset < 0:
		return nil, fmt.Errorf("--monerod.timeout-offset must not be negative, got %s", cfg.timeoutOffset)
	case cfg.maxConnections < 0 || cfg.maxConnections > 24:
		return nil, fmt.Errorf("--monerod.max-connections must be 0 (automatic) to 24 (monerod drops the 26th connection from one address), got %d", cfg.maxConnections)
	case cfg.maxResponseBytes < int64(64*units.KiB):
		return nil, fmt.Errorf("--monerod.max-response-size must be at least 64KiB, got %d bytes", cfg.maxResponseBytes)
	case !strings.HasPrefix(cfg.metricsPath, "/"):
		return nil, fmt.Errorf("--web.telemetry-path must start with '/', got %q", cfg.metricsPath)
	case cfg.probeMaxTargets < 1:
		return nil, fmt.Errorf("--probe.max-targets must be at least 1, got %d", cfg.probeMaxTargets)
	case cfg.probeIdleTimeout <= 0:
		return nil, fmt.Errorf("--probe.target-idle-timeout must be positive, got %s", cfg.probeIdleTimeout)
	}
	if (cfg.tlsCAFile != "" || cfg.tlsSkipVerify) && cfg.rpcURL.Scheme != "https" {
		return nil, errors.New("--monerod.tls-* options need an https:// --monerod.rpc-url")
	}
	if *referenceLogin {
		if len(cfg.references) == 0 {
			return nil, errors.New("--chain.reference-login needs at least one --chain.reference")
		}
		for i := range cfg.references {
			cfg.references[i].reachAsFleet(cfg, !strings.Contains((*references)[i], "://"))
		}
	}
	return cfg, nil
}

// reachAsFleet gives a reference the node's own login and TLS settings, as
// a probe module does for the references written as addresses; an address
// written without a scheme (bare) takes the node's. TLS settings go only to
// https:// references, as a client refuses them for http://.
func (r *referenceConfig) reachAsFleet(cfg *config, bare bool) {
	if bare {
		r.url.Scheme = cfg.rpcURL.Scheme
	}
	r.user, r.password = cfg.rpcUser, cfg.rpcPassword
	if r.url.Scheme == "https" {
		r.tlsCAFile, r.tlsSkipVerify = cfg.tlsCAFile, cfg.tlsSkipVerify
	}
}

// healthConfig builds the checks' thresholds. The last block's max age of
// /health is the flag's; that of /api/v1 comes from the older service's
// OFFSET/OFFSET_UNIT pair when either is set, else its 12 minutes: each API's
// clients keep what they were built for. The P2P port dialled is p2pAddr
// when set (which counts the p2p check, as before), else defaultP2P;
// CONSIDER_P2P_STATUS, when set, says whether it counts. The chain check's
// references and threshold come from chain. It returns the warnings of
// values not used as given.
func healthConfig(maxAge time.Duration, minPeers int, maxBehind uint64, p2pAddr, defaultP2P, checks string, chain health.Config) (health.Config, []string, error) {
	cfg := health.DefaultConfig()
	cfg.LastBlockMaxAge, cfg.MinPeers, cfg.MaxBlocksBehind, cfg.P2PAddress = maxAge, minPeers, maxBehind, defaultP2P
	cfg.References, cfg.MaxBlocksBehindReference = chain.References, chain.MaxBlocksBehindReference
	var warnings []string
	offset, unit := os.Getenv("OFFSET"), os.Getenv("OFFSET_UNIT")
	if offset != "" || unit != "" {
		w, err := cfg.SetOffsetFromEnv(offset, unit)
		if err != nil {
			return cfg, nil, fmt.Errorf("OFFSET/OFFSET_UNIT: %w", err)
		}
		if w != "" {
			warnings = append(warnings, w)
		}
	}
	if p2pAddr != "" {
		if _, port, err := net.SplitHostPort(p2pAddr); err != nil || port == "" {
			return cfg, nil, fmt.Errorf("--health.p2p-address %q must be host:port", p2pAddr)
		}
		cfg.P2PAddress, cfg.ConsiderP2P = p2pAddr, true
	}
	if consider, set, w := considerP2PFromEnv(); set {
		cfg.ConsiderP2P = consider
		if w != "" {
			warnings = append(warnings, w)
		}
	}
	var err error
	if cfg.Checks, err = health.ParseChecks(checks); err != nil {
		return cfg, nil, fmt.Errorf("--health.checks: %w", err)
	}
	if err := cfg.Validate(); err != nil {
		return cfg, nil, fmt.Errorf("health settings: %w", err)
	}
	return cfg, warnings, nil
}

// applyLegacyEnv reads what monero_health_check's image was configured with
// where no flag of ours says otherwise (see legacyenv.go): MONEROD_URL into
// rpcURL, HTTP_TIMEOUT and PORT into the config.
func (cfg *config) applyLegacyEnv(rpcURL *string, rpcURLSet bool, rpcPort int, timeoutSet, listenSet bool) error {
	if !rpcURLSet {
		u, err := rpcURLFromEnv(*rpcURL, rpcPort, func(s string, port int) (string, error) {
			u, err := monerod.ParseAddress(s, port)
			if err != nil {
				return "", err
			}
			return u.String(), nil
		})
		if err != nil {
			return err
		}
		*rpcURL = u
	}
	if !timeoutSet {
		var w string
		if cfg.timeout, w = timeoutFromEnv(cfg.timeout); w != "" {
			cfg.warnings = append(cfg.warnings, w)
		}
	}
	if !listenSet {
		addr, ok, err := listenAddressFromEnv()
		if err != nil {
			return err
		}
		if ok {
			*cfg.web.WebListenAddresses = []string{addr}
		}
	}
	return nil
}

// readPassword takes the password from a file or from the environment, never
// both, so that the one in effect is never in doubt.
func readPassword(file string) (string, error) {
	env := os.Getenv(passwordEnv)
	if file == "" {
		return env, nil
	}
	if env != "" {
		return "", errors.New("set the monerod password through " + passwordEnv + " or --monerod.rpc-password-file, not both")
	}
	b, err := os.ReadFile(file)
	if err != nil {
		// The path is the operator's; the content is never shown.
		return "", fmt.Errorf("--monerod.rpc-password-file: %w", err)
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}

// parseReferences reads the --chain.reference addresses: named by their
// host:port, which must differ, and differ from monerod's own (self).
func parseReferences(addrs []string, defaultPort int, self string) ([]referenceConfig, error) {
	var refs []referenceConfig
	for _, a := range addrs {
		u, err := monerod.ParseAddress(a, defaultPort)
		if err != nil {
			return nil, fmt.Errorf("--chain.reference: %w", err)
		}
		if strings.EqualFold(u.Host, self) {
			return nil, fmt.Errorf("--chain.reference: %s is --monerod.rpc-url itself, which always agrees with itself", u.Host)
		}
		for _, r := range refs {
			if r.name == u.Host {
				return nil, fmt.Errorf("--chain.reference: %s is given twice", u.Host)
			}
		}
		refs = append(refs, referenceConfig{name: u.Host, url: u})
	}
	return refs, nil
}
