package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/monero-ops/monero_exporter/internal/fixtures"
	"github.com/monero-ops/monero_exporter/internal/monerodtest"
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

	bin := webConfigBuild(t)
	addr, proc := webConfigStart(t, bin, "--web.config.file="+webConfig, "--monerod.rpc-url="+fake.URL, "--log.level=warn")

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
	deadline := time.Now().Add(15 * time.Second)
	for {
		code, _, _, err := get(client, "https://"+addr+"/-/healthy", right)
		if err == nil && code == http.StatusOK {
			break
		}
		if proc.exited() || time.Now().After(deadline) {
			t.Fatalf("the exporter is not serving on %s: %d %v\n%s", addr, code, err, proc.stderr)
		}
		time.Sleep(50 * time.Millisecond)
	}

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
	if code := proc.stop(t); code != 0 {
		t.Errorf("exit code %d after SIGTERM, want 0\n%s", code, proc.stderr)
	}
}

// webConfigBuild builds this command into a temporary directory.
func webConfigBuild(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("go not on PATH, and CI is set: %v", err)
		}
		t.Skipf("go not on PATH, cannot build the binary: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "monero_exporter")
	out, err := exec.Command(goBin, "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// webConfigProcess is the binary running as a child process.
type webConfigProcess struct {
	cmd    *exec.Cmd
	done   chan struct{}
	stderr *syncBuffer
}

func (p *webConfigProcess) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM and returns the exit code (killing it after 10 s).
func (p *webConfigProcess) stop(t *testing.T) int {
	t.Helper()
	if !p.exited() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
	}
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
		t.Errorf("the exporter ignored SIGTERM for 10 s")
	}
	return p.cmd.ProcessState.ExitCode()
}

// webConfigStart starts bin listening on a free loopback port with
// args, retrying on another port when the one picked was taken meanwhile.
// The process is stopped at the end of the test.
func webConfigStart(t *testing.T, bin string, args ...string) (string, *webConfigProcess) {
	t.Helper()
	for attempt := 1; ; attempt++ {
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(monerodtest.FreePort(t)))
		p := &webConfigProcess{done: make(chan struct{}), stderr: &syncBuffer{}}
		p.cmd = exec.Command(bin, append([]string{"--web.listen-address=" + addr}, args...)...)
		p.cmd.Stderr = p.stderr
		if err := p.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() {
			_ = p.cmd.Wait()
			close(p.done)
		}()
		t.Cleanup(func() { p.stop(t) })
		// Bound, or exited: a taken port ends the process at once.
		deadline := time.Now().Add(10 * time.Second)
		for !p.exited() && time.Now().Before(deadline) {
			c, err := net.DialTimeout("tcp", addr, time.Second)
			if err == nil {
				c.Close()
				return addr, p
			}
			time.Sleep(20 * time.Millisecond)
		}
		if attempt == 3 || !strings.Contains(p.stderr.String(), "address already in use") {
			t.Fatalf("the exporter did not start listening on %s:\n%s", addr, p.stderr)
		}
	}
}
