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
	"github.com/monero-ops/monero_exporter/monerod"
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
	logger.Info("starting monero_exporter", "version", version.Info(), "monerod", cfg.rpcURL.String(),
		"login", cfg.rpcUser != "")

	srv := newServer(handler)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
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

// newHandler wires the client, the snapshot source and the collectors into
// the exporter's HTTP endpoints.
func newHandler(cfg *config, logger *slog.Logger) (http.Handler, error) {
	requests := collector.NewRPCRequestsCounter()
	client, err := monerod.New(monerod.Config{
		URL:                   cfg.rpcURL,
		User:                  cfg.rpcUser,
		Password:              cfg.rpcPassword,
		TLSCAFile:             cfg.tlsCAFile,
		TLSInsecureSkipVerify: cfg.tlsSkipVerify,
		MaxConnections:        cfg.maxConnections,
		MaxResponseBytes:      cfg.maxResponseBytes,
		UserAgent:             "monero_exporter/" + version.Version,
		OnCall: func(method, outcome string, _ time.Duration) {
			requests.WithLabelValues(method, outcome).Inc()
		},
	})
	if err != nil {
		return nil, err
	}
	// The snapshot fetches what the collectors show and what the checks read.
	fetch, err := collector.SnapshotCollectors(cfg.collectors, &cfg.health)
	if err != nil {
		return nil, err
	}
	source, err := snapshot.New(snapshot.Config{
		Client:     client,
		Collectors: fetch,
		P2PAddress: cfg.health.P2PAddress,
		Timeout:    cfg.timeout,
		OnRefused: func(name string, err error) {
			logger.Info("monerod refuses what a collector asks; skipping it from now on", "collector", name, "err", err)
		},
		// Once when a collector starts failing and once when it works
		// again, not at every scrape: monero_scrape_collector_success
		// tells the rest.
		OnFailing: func(name string, err error) {
			if err != nil {
				logger.Warn("collector failing", "collector", name, "err", err)
				return
			}
			logger.Warn("collector works again", "collector", name)
		},
	})
	if err != nil {
		return nil, err
	}
	coll := collector.New(source, collector.Options{Timeout: cfg.timeout, Collectors: cfg.collectors, Health: &cfg.health})
	// The links of the page that / shows a browser.
	links := []health.Link{
		{Address: cfg.metricsPath, Text: "Metrics"},
		{Address: health.PathHealth, Text: "Health (probe: 200 or 503)"},
		{Address: health.PathV1, Text: "Health, JSON API of monero_health_check"},
		{Address: "/-/healthy", Text: "Exporter liveness"},
	}
	healthHandler := health.NewHandler(source, cfg.health, cfg.timeout, logger, links...)

	// The exporter's own metrics: build info, Go runtime, process, the RPC
	// calls it sent and promhttp's own counters.
	own := prometheus.NewRegistry()
	own.MustRegister(
		versioncollector.NewCollector("monero_exporter"),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		requests,
	)

	// Each kind of endpoint has its own cap on requests in flight, so that
	// a flood of health probes cannot keep Prometheus from scraping.
	wait := func(r *http.Request) time.Duration { return scrapeTimeout(r, cfg.timeout, cfg.timeoutOffset, logger) }
	mux := http.NewServeMux()
	mux.Handle(cfg.metricsPath, limitInFlight(cfg.maxRequests, wait,
		promhttp.InstrumentMetricHandler(own, newMetricsHandler(coll, own, cfg, logger))))
	healthLimited := limitInFlight(cfg.maxRequests, wait, healthHandler)
	for _, p := range []string{health.PathHealth, health.PathV1, health.PathV1 + "/"} {
		mux.Handle(p, healthLimited)
	}
	mux.HandleFunc("/-/healthy", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, "Healthy\n")
	})
	if cfg.metricsPath != "/" {
		// As monero_health_check: / is /api/v1's JSON, except to a browser,
		// which gets the node's checks and the links above.
		mux.Handle(health.PathRoot, healthHandler)
	}
	return mux, nil
}

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
