package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
	"golang.org/x/sync/singleflight"

	"github.com/monero-ops/monero_exporter/collector"
	"github.com/monero-ops/monero_exporter/snapshot"
)

// metricsHandler serves one scrape. The exporter's own metrics (Go runtime,
// process, build info) are gathered and encoded while the scrape's RPC calls
// are under way, once for all the requests that arrive meanwhile. monerod's metrics are encoded once per snapshot and format,
// and shared by every request that shares the snapshot; only monero_up, the
// scrape's duration and the request counters are made per request. The parts
// are concatenated: the text and protobuf exposition formats allow families
// in any order.
type metricsHandler struct {
	source          *snapshot.Source
	coll            *collector.Collector
	own             prometheus.Gatherer // needs nothing from monerod
	after           prometheus.Gatherer // read after the scrape's calls
	timeout, offset time.Duration
	gzip            bool
	logger          *slog.Logger

	bufs     sync.Pool // *bytes.Buffer
	gzs      sync.Pool // *gzip.Writer
	bodies   snapshotBodies
	ownGroup singleflight.Group
}

func (h *metricsHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), scrapeTimeout(r, h.timeout, h.offset, h.logger))
	defer cancel()
	format := expfmt.NegotiateAccept(r.Header, expfmt.DefaultAcceptedFormats()...) // text or protobuf: OpenMetrics is not offered

	// Requests that arrive while the own metrics are being gathered share
	// that work, as they share a snapshot: under load it is most of the CPU
	// a request costs.
	ownDone := h.ownGroup.DoChan(string(format), func() (any, error) {
		var b bytes.Buffer
		err := encode(&b, format, h.own)
		return b.Bytes(), err
	})

	start := time.Now()
	snap := h.source.Get(ctx)
	took := time.Since(start)
	body, bodyErr := h.bodies.get(snap, format, func() ([]byte, error) {
		reg := prometheus.NewRegistry()
		reg.MustRegister(h.coll.SnapshotMetrics(snap))
		var b bytes.Buffer
		err := encode(&b, format, reg)
		return b.Bytes(), err
	})
	perRequest := prometheus.NewRegistry()
	perRequest.MustRegister(collector.ScrapeMetrics(snap, took))
	tail := h.buffer()
	defer h.bufs.Put(tail)
	tailErr := encode(tail, format, prometheus.Gatherers{h.after, perRequest})
	own := <-ownDone
	ownBody, _ := own.Val.([]byte)
	for _, e := range []error{own.Err, bodyErr, tailErr} {
		if e != nil {
			// As promhttp's ContinueOnError: serve what could be gathered.
			h.logger.ErrorContext(r.Context(), "gathering metrics", "err", e)
		}
	}

	w.Header().Set("Content-Type", string(format))
	var out io.Writer = w
	if h.gzip && acceptsGzip(r.Header.Get("Accept-Encoding")) {
		w.Header().Set("Content-Encoding", "gzip")
		w.Header().Add("Vary", "Accept-Encoding")
		gz := h.gzipWriter(w)
		defer func() {
			_ = gz.Close()
			h.gzs.Put(gz)
		}()
		out = gz
	}
	for _, part := range [][]byte{ownBody, body, tail.Bytes()} {
		if _, err := out.Write(part); err != nil {
			return // the scraper went away
		}
	}
}

// snapshotBodies keeps, per format, the encoded metrics of the latest
// snapshot, so that requests sharing a snapshot encode it once.
type snapshotBodies struct {
	mu   sync.Mutex
	last map[expfmt.Format]*snapshotBody
}

type snapshotBody struct {
	snap *snapshot.Snapshot
	once sync.Once
	body []byte
	err  error
}

func (c *snapshotBodies) get(snap *snapshot.Snapshot, format expfmt.Format, encode func() ([]byte, error)) ([]byte, error) {
	c.mu.Lock()
	if c.last == nil {
		c.last = map[expfmt.Format]*snapshotBody{}
	}
	e := c.last[format]
	if e == nil || e.snap != snap {
		e = &snapshotBody{snap: snap}
		c.last[format] = e
	}
	c.mu.Unlock()
	e.once.Do(func() { e.body, e.err = encode() })
	return e.body, e.err
}

func (h *metricsHandler) buffer() *bytes.Buffer {
	if b, ok := h.bufs.Get().(*bytes.Buffer); ok {
		b.Reset()
		return b
	}
	return new(bytes.Buffer)
}

// gzipWriter compresses at the fastest level: a scrape's text shrinks about
// sevenfold either way, and the time saved is the scrape's.
func (h *metricsHandler) gzipWriter(w io.Writer) *gzip.Writer {
	if gz, ok := h.gzs.Get().(*gzip.Writer); ok {
		gz.Reset(w)
		return gz
	}
	gz, _ := gzip.NewWriterLevel(w, gzip.BestSpeed)
	return gz
}

// encode writes what g gathers in format, even when gathering failed in part.
func encode(buf *bytes.Buffer, format expfmt.Format, g prometheus.Gatherer) error {
	mfs, err := g.Gather()
	enc := expfmt.NewEncoder(buf, format)
	for _, mf := range mfs {
		if e := enc.Encode(mf); e != nil && err == nil {
			err = e
		}
	}
	return err
}

// acceptsGzip reports whether an Accept-Encoding header allows gzip.
func acceptsGzip(header string) bool {
	for _, part := range strings.Split(header, ",") {
		coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(coding), "gzip") {
			q, ok := strings.CutPrefix(strings.ReplaceAll(params, " ", ""), "q=")
			if !ok {
				return true // no weight: accepted
			}
			w, err := strconv.ParseFloat(q, 64)
			return err == nil && w > 0
		}
	}
	return false
}
