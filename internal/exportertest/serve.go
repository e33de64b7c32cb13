// Package exportertest serves the exporter's handler inside the test
// process and watches it: its own log, what net/http logs for it (where a
// handler's panic ends up), and, for the fault tests, its goroutines and
// its connections to the node.
package exportertest

import (
	"fmt"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/monero-ops/monero_exporter/internal/testenv"
)

// Server is an exporter handler served over HTTP by Serve.
type Server struct {
	// URL is the base URL, "http://127.0.0.1:P".
	URL string
	// Logs is the exporter's own log (slog, text, debug level).
	Logs *testenv.SyncBuffer
	// HTTPLog is the server's http.Server.ErrorLog. net/http recovers a
	// panic of a handler and logs it there ("http: panic serving ADDR:
	// VALUE" and the stack), not in the exporter's log.
	HTTPLog *testenv.SyncBuffer
}

// Serve builds the exporter's handler with build, which is given a logger
// writing to Logs, and serves it on a loopback port until the test ends.
// When the server has closed, the test fails if a handler panicked (a panic
// net/http recovered, in HTTPLog) or if the exporter's log mentions a
// panic.
func Serve(t testing.TB, build func(*slog.Logger) (http.Handler, error)) *Server {
	t.Helper()
	// Registered first, so that it runs after the server has closed and
	// every handler has returned.
	var s *Server
	t.Cleanup(func() {
		if s == nil {
			return
		}
		if err := s.Panicked(); err != nil {
			t.Error(err)
		}
	})
	s = serve(t, build)
	return s
}

// serve is Serve without the panic check.
func serve(t testing.TB, build func(*slog.Logger) (http.Handler, error)) *Server {
	t.Helper()
	s := &Server{Logs: &testenv.SyncBuffer{}, HTTPLog: &testenv.SyncBuffer{}}
	h, err := build(slog.New(slog.NewTextHandler(s.Logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ErrorLog = log.New(s.HTTPLog, "", log.LstdFlags)
	srv.Start()
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

// Panicked returns an error quoting the panic a handler of the server
// raised, or the exporter's log line that mentions one; nil when there is
// none.
func (s *Server) Panicked() error {
	if p := RecoveredPanic(s.HTTPLog.String()); p != "" {
		return fmt.Errorf("a handler panicked (recovered by net/http):\n%s", p)
	}
	for _, line := range strings.Split(s.Logs.String(), "\n") {
		if strings.Contains(strings.ToLower(line), "panic") {
			return fmt.Errorf("the exporter logged a panic: %s", line)
		}
	}
	return nil
}

// recoveredPanic is how net/http's conn.serve logs a handler's panic.
var recoveredPanic = regexp.MustCompile(`http: panic serving [^\n]*`)

// RecoveredPanic returns the first panic net/http recovered according to
// an http.Server's error log, with what follows it (the stack), or "".
func RecoveredPanic(errorLog string) string {
	loc := recoveredPanic.FindStringIndex(errorLog)
	if loc == nil {
		return ""
	}
	return errorLog[loc[0]:]
}
