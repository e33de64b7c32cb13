package main

import (
	"context"
	"net/http"
	"time"
)

// The exporter's server often sits where anything can reach it. Its limits:
const (
	// readHeaderTimeout closes a connection that has not sent its request's
	// headers in time (a client trickling a byte a second).
	readHeaderTimeout = 10 * time.Second
	// readTimeout bounds reading a whole request; ours have no body.
	readTimeout = 15 * time.Second
	// idleTimeout closes a kept-alive connection that sends nothing more.
	idleTimeout = 2 * time.Minute
	// maxHeaderBytes: a scrape's or a probe's headers are well under 8 KiB.
	maxHeaderBytes = 64 << 10
	// maxRequestTimeout is the longest any request may take: a scrape
	// timeout asked for by Prometheus's header is cut to it, and
	// --monerod.timeout may not exceed it.
	maxRequestTimeout = 2 * time.Minute
	// writeTimeout leaves the longest request time to send its answer.
	writeTimeout = maxRequestTimeout + 30*time.Second
)

// newServer returns the exporter's HTTP server with the limits above.
func newServer(handler http.Handler) *http.Server {
	return &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
	}
}

// limitInFlight lets at most n requests through next at once (n <= 0: no
// limit). A request over the limit waits for a place for at most what
// timeout gives it (its own deadline) or until the client goes away, then
// gets 503, as promhttp's MaxRequestsInFlight answers: waiting rather than
// refusing at once keeps answers complete under a burst, since the waiting
// requests share the snapshot the others fetched.
func limitInFlight(n int, timeout func(*http.Request) time.Duration, next http.Handler) http.Handler {
	if n <= 0 {
		return next
	}
	sem := make(chan struct{}, n)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// A free place is taken at once: waiting below would race the
		// place against the deadline, and a request with a deadline of a
		// few milliseconds could lose to it on a busy machine.
		select {
		case sem <- struct{}{}:
			defer func() { <-sem }()
			next.ServeHTTP(w, r)
			return
		default:
		}
		ctx, cancel := context.WithTimeout(r.Context(), timeout(r))
		defer cancel()
		select {
		case sem <- struct{}{}:
			defer func() { <-sem }()
			next.ServeHTTP(w, r)
		case <-ctx.Done():
			http.Error(w, "too many requests in flight; try again later", http.StatusServiceUnavailable)
		}
	})
}
