package exportertest

import (
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
)

// A handler that panics is caught: net/http recovers the panic into the
// server's ErrorLog, which Serve captures, and Panicked reports it. The
// exporter's own log says nothing of it, which is why looking there alone
// could never fire.
func TestPanickingHandlerIsCaught(t *testing.T) {
	s := serve(t, func(logger *slog.Logger) (http.Handler, error) {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			logger.InfoContext(r.Context(), "serving", "path", r.URL.Path)
			if r.URL.Path == "/boom" {
				panic("deliberate test panic")
			}
			_, _ = io.WriteString(w, "ok")
		}), nil
	})
	if err := s.Panicked(); err != nil {
		t.Fatalf("before any panic: %v", err)
	}
	resp, err := http.Get(s.URL + "/fine")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if err := s.Panicked(); err != nil {
		t.Fatalf("after a request that did not panic: %v", err)
	}

	// net/http answers a panicking handler by closing the connection.
	if resp, err := http.Get(s.URL + "/boom"); err == nil {
		resp.Body.Close()
		t.Fatalf("GET /boom: %s, want the connection closed", resp.Status)
	}
	err = s.Panicked()
	if err == nil || !strings.Contains(err.Error(), "deliberate test panic") || !strings.Contains(err.Error(), "goroutine") {
		t.Fatalf("Panicked() = %v, want the recovered panic with its stack", err)
	}
	if strings.Contains(s.Logs.String(), "panic") {
		t.Fatalf("the exporter's log mentions the panic, so the old check would have seen it:\n%s", s.Logs)
	}
}

func TestPanickedReadsTheExporterLogToo(t *testing.T) {
	s := serve(t, func(logger *slog.Logger) (http.Handler, error) {
		logger.Error("recovered a panic in a collector")
		return http.NotFoundHandler(), nil
	})
	if err := s.Panicked(); err == nil {
		t.Fatal("a panic in the exporter's log is not reported")
	}
}

func TestRecoveredPanic(t *testing.T) {
	for log, want := range map[string]string{
		"": "",
		"2024/01/01 00:00:00 http: TLS handshake error from 127.0.0.1:1: EOF\n":               "",
		"2024/01/01 00:00:00 http: panic serving 127.0.0.1:5: boom\ngoroutine 7 [running]:\n": "http: panic serving 127.0.0.1:5: boom\ngoroutine 7 [running]:\n",
	} {
		if got := RecoveredPanic(log); got != want {
			t.Errorf("RecoveredPanic(%q) = %q, want %q", log, got, want)
		}
	}
}
