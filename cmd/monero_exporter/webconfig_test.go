package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/monero-ops/monero_exporter/internal/fixtures"
	"github.com/monero-ops/monero_exporter/internal/monerodtest"
	"github.com/monero-ops/monero_exporter/internal/testenv"
)

// TestWebConfigTLSAndBasicAuth runs the real binary with --web.config.file
// (exporter-toolkit: TLS and basic auth) in front of a fake monerod: every
// endpoint answers over HTTPS to the right credentials only, plain HTTP
// gets nothing, and SIGTERM stops it cleanly.
func TestWebConfigTLSAndBasicAuth(t *testing.T) {
	t.Parallel()
	const user, password = "prometheus", "s3cret-scrape"
	fake := fixtures.NewServer(t, fixtures.Unrestricted, nil)
	caFile, certFile, keyFile := monerodtest.NewTLS(t)
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	webConfig := filepath.Join(t.TempDir(), "web-config.yml")
	yml := fmt.Sprintf("tls_server_config:\n  cert_file: %s\n  key_file: %s\nbasic_auth_users:\n  %s: %s\n", certFile, keyFile, user, hash)
	if err := os.WriteFile(webConfig, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}

	proc, addr := testenv.StartServer(t, 10*time.Second, testenv.ExporterBinary(t), func(addr string) []string {
		return []string{"--web.listen-address=" + addr, "--web.config.file=" + webConfig, "--monerod.rpc-url=" + fake.URL, "--log.level=warn"}
	}, testenv.Listening)

	pem, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatal("no certificate in the CA file")
	}
	client := &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	t.Cleanup(client.CloseIdleConnections)
	get := func(c *http.Client, url string, auth func(*http.Request)) (int, http.Header, string, error) {
		req, err := http.NewRequest(http.MethodGet, url, nil)
		if err != nil {
			return 0, nil, "", err
		}
		if auth != nil {
			auth(req)
		}
		resp, err := c.Do(req)
		if err != nil {
			return 0, nil, "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header, string(b), err
	}
	basic := func(u, p string) func(*http.Request) { return func(r *http.Request) { r.SetBasicAuth(u, p) } }
	right := basic(user, password)

	// Ready once it answers over TLS with the right credentials.
	testenv.Eventually(t, "the exporter serving over TLS on "+addr, 15*time.Second, func() (bool, string) {
		code, _, _, err := get(client, "https://"+addr+"/-/healthy", right)
		return err == nil && code == http.StatusOK, fmt.Sprintf("%d %v", code, err)
	})

	endpoints := []struct {
		path  string
		codes []int // accepted with the right credentials
		has   string
	}{
		{"/metrics", []int{200}, "\nmonero_up 1\n"},
		// Health is about the fake node, not the auth: either is fine.
		{"/health", []int{200, 503}, `"checks"`},
		{"/api/v1", []int{200}, `"monerod"`},
		{"/api/v1/health", []int{200}, `"status"`},
		{"/-/healthy", []int{200}, "Healthy"},
		{"/", []int{200}, `"monerod"`},
	}
	for _, ep := range endpoints {
		url := "https://" + addr + ep.path
		code, _, body, err := get(client, url, right)
		if err != nil || !slices.Contains(ep.codes, code) || !strings.Contains(body, ep.has) {
			t.Errorf("GET %s with the right credentials: %d %v, want %v and a body with %q:\n%.300s", ep.path, code, err, ep.codes, ep.has, body)
		}
		for what, auth := range map[string]func(*http.Request){
			"no credentials":    nil,
			"a wrong password":  basic(user, password+"x"),
			"an unknown user":   basic("nobody", password),
			"an empty password": basic(user, ""),
		} {
			code, h, body, err := get(client, url, auth)
			if err != nil || code != http.StatusUnauthorized || !strings.HasPrefix(h.Get("WWW-Authenticate"), "Basic") {
				t.Errorf("GET %s with %s: %d %v (WWW-Authenticate %q), want 401 asking for Basic", ep.path, what, code, err, h.Get("WWW-Authenticate"))
			}
			if strings.Contains(body, "monero_") || strings.Contains(body, `"checks"`) {
				t.Errorf("GET %s with %s: the body gives data away:\n%.300s", ep.path, what, body)
			}
		}
	}

	// Plain HTTP to the TLS port, credentials or not: no data.
	plain := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	for _, auth := range []func(*http.Request){nil, right} {
		code, _, body, err := get(plain, "http://"+addr+"/metrics", auth)
		if err == nil && (code == http.StatusOK || strings.Contains(body, "monero_")) {
			t.Errorf("plain HTTP got %d:\n%.300s", code, body)
		}
	}
	// TLS without the CA: the certificate is not trusted.
	untrusting := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	_, _, _, err = get(untrusting, "https://"+addr+"/metrics", right)
	var unknownCA x509.UnknownAuthorityError
	if !errors.As(err, &unknownCA) {
		t.Errorf("HTTPS without the CA: %v, want an unknown authority error", err)
	}

	// SIGTERM: run returns 0.
	if err := proc.Stop(); err != nil {
		t.Error(err)
	}
	if code := proc.ExitCode(); code != 0 {
		t.Errorf("exit code %d after SIGTERM, want 0\n%s", code, proc.Tail(40))
	}
}
