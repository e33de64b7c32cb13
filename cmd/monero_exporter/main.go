// Command monero_exporter exports the state of a Monero daemon as Prometheus
// metrics and health-check endpoints.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/promslog"
	"github.com/prometheus/common/version"
	"github.com/prometheus/exporter-toolkit/web"

	"github.com/monero-ops/monero_exporter/collector"
	"github.com/monero-ops/monero_exporter/health"
	"github.com/monero-ops/monero_exporter/snapshot"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is the whole program; it returns the exit code.
func run(args []string, stdout, stderr io.Writer) int {
	cfg, err := parseConfig(args, stdout)
	if err != nil {
		var exit errExit
		if errors.As(err, &exit) {
			return exit.code
		}
		fmt.Fprintf(stderr, "monero_exporter: error: %v\n", err)
		return 1
	}
	cfg.log.Writer = stderr
	logger := promslog.New(cfg.log)
	if _, set := os.LookupEnv("GOMEMLIMIT"); !set && cfg.memoryLimit > 0 {
		debug.SetMemoryLimit(cfg.memoryLimit)
	}
	for _, w := range cfg.warnings {
		logger.Warn("setting not used as given", "reason", w)
	}

	handler, err := newHandler(cfg, logger)
	if err != nil {
		fmt.Fprintf(stderr, "monero_exporter: error: %v\n", err)
		return 1
	}
	defer handler.close()
	logger.Info("starting monero_exporter", "version", version.Info(), "monerod", cfg.rpcURL.String(),
		"login", cfg.rpcUser != "", "config_file", cfg.configFile)

	srv := newServer(handler)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	watchReloads(ctx, handler.probes)
	serveErr := make(chan error, 1)
	go func() { serveErr <- web.ListenAndServe(srv, cfg.web, logger) }()
	select {
	case err := <-serveErr:
		logger.Error("server stopped", "err", err)
		return 1
	case <-ctx.Done():
		logger.Info("shutting down")
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdownCtx)
		return 0
	}
}

// exporter is the exporter's HTTP endpoints, and the multi-target mode's
// state, which SIGHUP reloads.
type exporter struct {
	http.Handler
	probes     *probes
	references *snapshot.References // of the single node; nil: none
}

// close drops the connections of the probes and of the reference nodes,
// at shutdown.
func (e *exporter) close() {
	e.probes.close()
	e.references.Close()
}

// newHandler wires the client, the snapshot source and the collectors into
// the exporter's HTTP endpoints, with /probe for other nodes when
// --config.file is given.
func newHandler(cfg *config, logger *slog.Logger) (*exporter, error) {
	shared := nodeShared{
		maxResponseBytes: cfg.maxResponseBytes,
		requests:         collector.NewRPCRequestsCounter(),
		logger:           logger,
	}
	// The links of the page that / shows a browser.
	links := []health.Link{
		{Address: cfg.metricsPath, Text: "Metrics"},
		{Address: health.PathHealth, Text: "Health (probe: 200 or 503)"},
		{Address: health.PathV1, Text: "Health, JSON API of monero_health_check"},
	}
	if cfg.configFile != "" {
		links = append(links, health.Link{Address: pathProbe, Text: "Probe another node: /probe?target=HOST[:PORT]&module=NAME, with the modules of --config.file"})
	}
	links = append(links, health.Link{Address: "/-/healthy", Text: "Exporter liveness"})
	var references *snapshot.References
	if len(cfg.references) > 0 {
		var err error
		if references, err = newReferences(cfg.references, cfg.timeout, shared); err != nil {
			return nil, err
		}
	}
	single, err := newNode(nodeConfig{
		url:            cfg.rpcURL,
		user:           cfg.rpcUser,
		password:       cfg.rpcPassword,
		tlsCAFile:      cfg.tlsCAFile,
		tlsSkipVerify:  cfg.tlsSkipVerify,
		maxConnections: cfg.maxConnections,
		timeout:        cfg.timeout,
		collectors:     cfg.collectors,
		health:         cfg.health,
		links:          links,
		references:     references,
	}, shared)
	if err != nil {
		references.Close()
		return nil, err
	}

	// The exporter's own metrics: build info, Go runtime, process, the RPC
	// calls it sent and promhttp's own counters.
	own := prometheus.NewRegistry()
	own.MustRegister(
		versioncollector.NewCollector("monero_exporter"),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		shared.requests,
	)
	probes, err := newProbes(cfg, shared, own, logger)
	if err != nil {
		single.Close()
		references.Close()
		return nil, err
	}

	// Each kind of endpoint has its own cap on requests in flight, so that
	// a flood of health probes cannot keep Prometheus from scraping.
	wait := func(r *http.Request) time.Duration { return scrapeTimeout(r, cfg.timeout, cfg.timeoutOffset, logger) }
	mux := http.NewServeMux()
	mux.Handle(cfg.metricsPath, limitInFlight(cfg.maxRequests, wait,
		promhttp.InstrumentMetricHandler(own, newMetricsHandler(single.coll, own, cfg, logger))))
	mux.Handle(pathProbe, limitInFlight(cfg.maxRequests, wait, http.HandlerFunc(probes.serveProbe)))
	healthLimited := limitInFlight(cfg.maxRequests, wait, probes.withTargets(single.health))
	for _, p := range []string{health.PathHealth, health.PathV1, health.PathV1 + "/"} {
		mux.Handle(p, healthLimited)
	}
	mux.HandleFunc(pathReload, probes.serveReload)
	mux.HandleFunc("/-/healthy", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, "Healthy\n")
	})
	if cfg.metricsPath != "/" {
		// As monero_health_check: / is /api/v1's JSON, except to a browser,
		// which gets the node's checks and the links.
		mux.Handle(health.PathRoot, healthLimited)
	}
	return &exporter{Handler: mux, probes: probes, references: references}, nil
}

// Paths of the multi-target mode.
const (
	pathProbe  = "/probe"
	pathReload = "/-/reload"
)

// scrapeTimeout is Prometheus's scrape timeout minus the offset, or the
// default timeout when the request does not say; never more than
// maxRequestTimeout, which the server's write timeout leaves room for.
func scrapeTimeout(r *http.Request, def, offset time.Duration, logger *slog.Logger) time.Duration {
	h := r.Header.Get("X-Prometheus-Scrape-Timeout-Seconds")
	if h == "" {
		return def
	}
	secs, err := strconv.ParseFloat(h, 64)
	if err != nil || !(secs > 0 && secs <= 24*3600) { // also refuses NaN
		logger.DebugContext(r.Context(), "ignoring a bad X-Prometheus-Scrape-Timeout-Seconds header", "value", h)
		return def
	}
	t := time.Duration(secs * float64(time.Second))
	if t > offset {
		t -= offset
	}
	return min(t, maxRequestTimeout)
}
