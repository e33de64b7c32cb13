package main

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"golang.org/x/sync/singleflight"

	// Offer zstd beside gzip, as Prometheus asks for it since 3.x.
	_ "github.com/prometheus/client_golang/prometheus/promhttp/zstd"

	"github.com/monero-ops/monero_exporter/collector"
)

// metricsHandler serves /metrics the way blackbox_exporter serves /probe and
// mysqld_exporter /metrics: a gatherer made for each request, bound to that
// request's deadline, gathered with the exporter's own registry by promhttp.
// Concurrent requests still cost monerod one set of RPC calls: they share
// the snapshot below the handler, and the families gathered from it.
type metricsHandler struct {
	coll            *collector.Collector
	own             prometheus.Gatherer
	timeout, offset time.Duration
	opts            promhttp.HandlerOpts
	logger          *slog.Logger
}

func newMetricsHandler(coll *collector.Collector, own prometheus.Gatherer, cfg *config, logger *slog.Logger) *metricsHandler {
	return &metricsHandler{
		coll: coll, own: &coalescedGatherer{g: own}, timeout: cfg.timeout, offset: cfg.timeoutOffset, logger: logger,
		opts: promHandlerOpts(cfg, logger),
	}
}

// promHandlerOpts are the options of every promhttp handler made per
// request, /metrics's and /probe's.
func promHandlerOpts(cfg *config, logger *slog.Logger) promhttp.HandlerOpts {
	return promhttp.HandlerOpts{
		ErrorLog:      slog.NewLogLogger(logger.Handler(), slog.LevelError),
		ErrorHandling: promhttp.ContinueOnError,
		// The in-flight cap is the server's (limitInFlight), shared by
		// every request: a handler made per request would count only
		// itself.
		DisableCompression: !cfg.compression,
		EnableOpenMetrics:  true,
	}
}

// coalescedGatherer shares one Gather of g among the requests that ask
// while it is under way, as the snapshot of monerod is shared below: under
// load, gathering the Go runtime's and the process's metrics (the process
// collector reads several /proc files) is a large part of what a request
// costs. Its users only read the families (promhttp merges and encodes
// them).
type coalescedGatherer struct {
	g     prometheus.Gatherer
	group singleflight.Group
}

func (c *coalescedGatherer) Gather() ([]*dto.MetricFamily, error) {
	v, err, _ := c.group.Do("gather", func() (any, error) { return c.g.Gather() })
	mfs, _ := v.([]*dto.MetricFamily)
	return mfs, err
}

func (h *metricsHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), scrapeTimeout(r, h.timeout, h.offset, h.logger))
	defer cancel()
	// monerod's metrics first: gathering them makes the scrape's RPC calls,
	// which the exporter's own request counters, gathered next, then count.
	promhttp.HandlerFor(prometheus.Gatherers{h.coll.Gatherer(ctx), h.own}, h.opts).ServeHTTP(w, r)
}
