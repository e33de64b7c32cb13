package main

import (
	"bytes"
	"encoding/json"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/monero-ops/monero_exporter/internal/fixtures"
	"github.com/monero-ops/monero_exporter/internal/testenv"
)

func TestStrtobool(t *testing.T) {
	for in, want := range map[string]bool{
		"y": true, "YES": true, "t": true, "True": true, "on": true, "1": true,
		"n": false, "No": false, "f": false, "FALSE": false, "off": false, "0": false,
	} {
		if got, err := strtobool(in); err != nil || got != want {
			t.Errorf("strtobool(%q) = %t, %v; want %t", in, got, err, want)
		}
	}
	for _, in := range []string{"", " true", "2", "yes please", "enabled"} {
		if _, err := strtobool(in); err == nil {
			t.Errorf("strtobool(%q) accepted", in)
		}
	}
}

// TestOldServiceEnvironment runs the binary with the environment of a
// monero_health_check deployment, bad values included, and no flag: it
// starts, on PORT, says once what it does instead of the bad values, and
// answers / as the old service did.
func TestOldServiceEnvironment(t *testing.T) {
	bin := testenv.ExporterBinary(t)
	srv := fixtures.NewServer(t, fixtures.Busy, nil)
	_, rpcPort, _ := net.SplitHostPort(srv.Listener.Addr().String())
	closedP2P := testenv.FreePort(t) // nothing listens there
	port := testenv.FreePort(t)
	env := map[string]string{
		"MONEROD_URL":         "127.0.0.1",
		"MONEROD_RPC_PORT":    rpcPort,
		"MONEROD_P2P_PORT":    strconv.Itoa(closedP2P),
		"CONSIDER_P2P_STATUS": "yes",
		"OFFSET":              "10",
		"OFFSET_UNIT":         "Hours",
		"HTTP_TIMEOUT":        "3",
		"PORT":                strconv.Itoa(port),
	}
	for k, v := range env {
		t.Setenv(k, v)
	}
	p := testenv.Start(t, bin)
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	if err := p.WaitReady(func() error { return testenv.Listening(addr) }, 10*time.Second); err != nil {
		t.Fatalf("the exporter is not listening on PORT %d: %v\n%s", port, err, p.Tail(40))
	}

	// One warning, naming the value and what is used instead.
	var warnings []string
	for line := range strings.SplitSeq(p.Output(), "\n") {
		if strings.Contains(line, "level=WARN") {
			warnings = append(warnings, line)
		}
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], `\"Hours\"`) || !strings.Contains(warnings[0], "using 12 minutes instead") {
		t.Errorf("want one warning about OFFSET_UNIT, got %q", warnings)
	}

	// / as curl asks: the old service's combined body.
	resp, body := get(t, "http://"+addr+"/", map[string]string{"Accept": "*/*"})
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET /: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var v1 struct {
		Result struct {
			Host      string `json:"host"`
			LastBlock struct {
				Offset any    `json:"block_recent_offset"`
				Unit   string `json:"block_recent_offset_unit"`
				Host   string `json:"host"`
			} `json:"last_block"`
			Monerod struct {
				Health struct{ Status string } `json:"health"`
				RPC    struct{ Status, Host string }
				P2P    struct {
					Status, Host string
					Error        struct{ Error, Message string }
				}
			} `json:"monerod"`
		} `json:"result"`
	}
	if err := json.Unmarshal(body, &v1); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	r := v1.Result
	if r.Host != "127.0.0.1" || r.LastBlock.Host != "127.0.0.1:"+rpcPort || r.LastBlock.Offset != float64(12) || r.LastBlock.Unit != "minutes" {
		t.Errorf("GET /: %s", body)
	}
	// The P2P port refuses, and CONSIDER_P2P_STATUS=yes counts it.
	if m := r.Monerod; m.RPC.Status != "OK" || m.P2P.Status != "ERROR" || m.P2P.Host != "127.0.0.1:"+strconv.Itoa(closedP2P) ||
		m.P2P.Error.Error != "[Errno 111] Connection refused" || m.Health.Status != "ERROR" {
		t.Errorf("monerod: %+v", m)
	}

	// / as a browser asks: the page, with the links.
	resp, body = get(t, "http://"+addr+"/", map[string]string{"Accept": "text/html,*/*;q=0.8"})
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") ||
		!bytes.Contains(body, []byte(`<a href="/metrics">Metrics</a>`)) || !bytes.Contains(body, []byte(`<td>p2p</td><td>yes</td><td class="fail">fail</td>`)) {
		t.Errorf("page: %d %q\n%s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
}

// Both spellings of the address, naming different nodes: one clear line and
// exit 1, not a guess.
func TestOldServiceURLConflict(t *testing.T) {
	t.Setenv("MONEROD_URL", "10.0.0.5")
	t.Setenv("MONEROD_RPC_URL", "10.0.0.6")
	var stdout, stderr bytes.Buffer
	if code := run(nil, &stdout, &stderr); code != 1 {
		t.Fatalf("exit code %d", code)
	}
	want := "monero_exporter: error: MONEROD_URL (http://10.0.0.5:18081) and MONEROD_RPC_URL (http://10.0.0.6:18081) name different monerods: set only one of them\n"
	if stderr.String() != want {
		t.Errorf("stderr %q, want %q", stderr.String(), want)
	}
}
