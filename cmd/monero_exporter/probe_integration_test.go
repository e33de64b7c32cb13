package main

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/monero-ops/monero_exporter/internal/monerodtest"
	"github.com/monero-ops/monero_exporter/internal/testenv"
)

// Two real regtest nodes, one behind --rpc-login, probed through one
// exporter: each answer shows that node's own height, the health endpoints
// answer for the node named, and concurrent probes of both work (each
// target has its own Digest state).
func TestIntegrationProbeTwoNodes(t *testing.T) {
	monerodtest.Require(t)
	plain := monerodtest.Start(t, monerodtest.Options{})
	login := monerodtest.Start(t, monerodtest.Options{Login: "monitor:probe-pw-5e1b"})
	plain.Mine(t, 3)
	login.Mine(t, 7)

	pw := filepath.Join(t.TempDir(), "rpc-password")
	writeFile(t, pw, "probe-pw-5e1b\n")
	e := startProbeExporter(t, `
modules:
  default:
    allowed_targets: ["127.0.0.1"]
  login:
    user: monitor
    password_file: `+pw+`
    health: {checks: [monerod, last_block]}
    allowed_targets: ["127.0.0.0/8"]
`)
	for _, tc := range []struct {
		module, target string
		height         float64
	}{
		{"default", plain.RPCAddr, 4}, // genesis and 3 mined
		{"login", login.URL(), 8},
		{"login", plain.RPCAddr, 4}, // a node without login ignores one
	} {
		code, body, _ := do(t, http.MethodGet, e.url+"/probe?"+probeQuery(tc.module, tc.target), nil)
		if code != http.StatusOK {
			t.Fatalf("probe %s with %s: %d\n%s", tc.target, tc.module, code, body)
		}
		mfs := families(t, body)
		if up, h := testenv.MustValue(t, mfs, "monero_up"), testenv.MustValue(t, mfs, "monero_height"); up != 1 || h != tc.height {
			t.Errorf("probe %s with module %s: monero_up %v, monero_height %v, want 1 and %v", tc.target, tc.module, up, h, tc.height)
		}
	}
	// Without the login the node refuses.
	_, body, _ := do(t, http.MethodGet, e.url+"/probe?"+probeQuery("default", login.RPCAddr), nil)
	if !strings.Contains(body, "\nmonero_up 0\n") {
		t.Errorf("probe of the login node without a login: not down\n%s", body)
	}

	// Many probes of both at once: every answer right.
	var (
		wg  sync.WaitGroup
		mu  sync.Mutex
		bad int
	)
	for i := range 30 {
		wg.Go(func() {
			target, want := plain.RPCAddr, "\nmonero_height 4\n"
			if i%2 == 1 {
				target, want = login.RPCAddr, "\nmonero_height 8\n"
			}
			code, body, _ := do(t, http.MethodGet, e.url+"/probe?"+probeQuery("login", target), nil)
			if code != http.StatusOK || !strings.Contains(body, want) {
				mu.Lock()
				bad++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if bad > 0 {
		t.Errorf("%d of 30 concurrent probes of the two nodes were wrong", bad)
	}

	// The health endpoints for each node.
	for _, tc := range []struct{ module, target string }{{"default", plain.RPCAddr}, {"login", login.RPCAddr}} {
		code, body, _ := do(t, http.MethodGet, e.url+"/api/v1/monerod?"+probeQuery(tc.module, tc.target), nil)
		var v struct {
			Result struct {
				Health struct{ Status string } `json:"health"`
			} `json:"result"`
		}
		if err := json.Unmarshal([]byte(body), &v); err != nil || code != http.StatusOK || v.Result.Health.Status != "OK" {
			t.Errorf("/api/v1/monerod for %s: %d %s", tc.target, code, body)
		}
		code, body, _ = do(t, http.MethodGet, e.url+"/health?"+probeQuery(tc.module, tc.target), nil)
		if tc.module == "login" && (code != http.StatusOK || !strings.Contains(body, `"status":"pass"`)) {
			t.Errorf("/health for %s (checks monerod and last_block of a fresh chain): %d %s", tc.target, code, body)
		}
	}
	if strings.Contains(e.logs.String(), "probe-pw-5e1b") {
		t.Error("the password is in the log")
	}
}
