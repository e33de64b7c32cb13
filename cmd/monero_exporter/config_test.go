package main

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/promslog"
)

func TestParseConfig(t *testing.T) {
	pwFile := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pwFile, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		wantErr string
		check   func(*testing.T, *config)
	}{
		{name: "defaults", check: func(t *testing.T, c *config) {
			if c.rpcURL.String() != "http://127.0.0.1:18081" || c.timeout != 10*time.Second || c.timeoutOffset != 250*time.Millisecond ||
				c.metricsPath != "/metrics" || c.maxConnections != 0 || c.rpcPassword != "" {
				t.Fatalf("defaults: %+v", c)
			}
		}},
		{name: "bare host and port flag", args: []string{"--monerod.rpc-url=10.0.0.5", "--monerod.rpc-port=18089"}, check: func(t *testing.T, c *config) {
			if c.rpcURL.String() != "http://10.0.0.5:18089" {
				t.Fatalf("url %s", c.rpcURL)
			}
		}},
		{name: "env", env: map[string]string{"MONEROD_RPC_URL": "https://node:443", "MONEROD_RPC_USER": "u", "MONEROD_RPC_PASSWORD": "p"}, check: func(t *testing.T, c *config) {
			if c.rpcURL.String() != "https://node:443" || c.rpcUser != "u" || c.rpcPassword != "p" {
				t.Fatalf("%+v", c)
			}
		}},
		{name: "port env applies to default host", env: map[string]string{"MONEROD_RPC_PORT": "28081"}, check: func(t *testing.T, c *config) {
			if c.rpcURL.String() != "http://127.0.0.1:28081" {
				t.Fatalf("url %s", c.rpcURL)
			}
		}},
		{name: "password file", args: []string{"--monerod.rpc-user=u", "--monerod.rpc-password-file=" + pwFile}, check: func(t *testing.T, c *config) {
			if c.rpcPassword != "from-file" {
				t.Fatalf("password %q", c.rpcPassword)
			}
		}},
		{name: "file and env both", args: []string{"--monerod.rpc-user=u", "--monerod.rpc-password-file=" + pwFile}, env: map[string]string{"MONEROD_RPC_PASSWORD": "x"}, wantErr: "not both"},
		{name: "missing password file", args: []string{"--monerod.rpc-user=u", "--monerod.rpc-password-file=/nonexistent/pw"}, wantErr: "no such file"},
		{name: "password without user", env: map[string]string{"MONEROD_RPC_PASSWORD": "p"}, wantErr: "rpc-user is empty"},
		{name: "user with colon", args: []string{"--monerod.rpc-user=u:hunter2"}, wantErr: "must not contain ':'"},
		{name: "bad url", args: []string{"--monerod.rpc-url=ftp://x"}, wantErr: "scheme"},
		{name: "bad port", args: []string{"--monerod.rpc-port=70000"}, wantErr: "out of range"},
		{name: "port not a number", env: map[string]string{"MONEROD_RPC_PORT": "abc"}, wantErr: "abc"},
		{name: "bad timeout", args: []string{"--monerod.timeout=0s"}, wantErr: "positive"},
		{name: "unparsable timeout", args: []string{"--monerod.timeout=soon"}, wantErr: "soon"},
		{name: "negative offset", args: []string{"--monerod.timeout-offset=-1s"}, wantErr: "negative"},
		{name: "too many connections", args: []string{"--monerod.max-connections=30"}, wantErr: "0 (automatic) to 24"},
		{name: "tiny body cap", args: []string{"--monerod.max-response-size=1KiB"}, wantErr: "64KiB"},
		{name: "tls on http", args: []string{"--monerod.tls-insecure-skip-verify"}, wantErr: "https"},
		{name: "bad telemetry path", args: []string{"--web.telemetry-path=metrics"}, wantErr: "start with '/'"},
		{name: "health defaults", check: func(t *testing.T, c *config) {
			if c.health.LastBlockMaxAge != 30*time.Minute || c.health.V1LastBlockMaxAge != 12*time.Minute || c.health.MinPeers != 1 || c.health.MaxBlocksBehind != 10 ||
				c.health.DaemonAddress != "127.0.0.1:18081" || c.health.Checks != nil || c.health.OffsetEnv != nil ||
				c.health.P2PAddress != "127.0.0.1:18080" || c.health.ConsiderP2P || len(c.warnings) != 0 {
				t.Fatalf("%+v", c.health)
			}
		}},
		// OFFSET and OFFSET_UNIT are /api/v1's; /health keeps its own.
		{name: "old OFFSET pair", env: map[string]string{"OFFSET": "3", "OFFSET_UNIT": "hours"}, check: func(t *testing.T, c *config) {
			if c.health.V1LastBlockMaxAge != 3*time.Hour || c.health.OffsetUnit != "hours" || c.health.LastBlockMaxAge != 30*time.Minute {
				t.Fatalf("%+v", c.health)
			}
		}},
		{name: "OFFSET alone keeps minutes", env: map[string]string{"OFFSET": "20"}, check: func(t *testing.T, c *config) {
			if c.health.V1LastBlockMaxAge != 20*time.Minute || c.health.OffsetUnit != "minutes" || c.health.LastBlockMaxAge != 30*time.Minute {
				t.Fatalf("%+v", c.health)
			}
		}},
		{name: "flag for /health, OFFSET for /api/v1", args: []string{"--health.last-block-max-age=90s"}, env: map[string]string{"OFFSET": "3", "OFFSET_UNIT": "hours"}, check: func(t *testing.T, c *config) {
			if c.health.LastBlockMaxAge != 90*time.Second || c.health.V1LastBlockMaxAge != 3*time.Hour || c.health.OffsetUnit != "hours" {
				t.Fatalf("%+v", c.health)
			}
		}},
		{name: "flag alone leaves /api/v1 its 12 minutes", args: []string{"--health.last-block-max-age=1h"}, check: func(t *testing.T, c *config) {
			if c.health.LastBlockMaxAge != time.Hour || c.health.V1LastBlockMaxAge != 12*time.Minute || c.health.OffsetEnv != nil {
				t.Fatalf("%+v", c.health)
			}
		}},
		// What monero_health_check started with, this starts with too, and
		// says once what it does instead.
		{name: "bad OFFSET_UNIT", env: map[string]string{"OFFSET": "10", "OFFSET_UNIT": "fortnights"}, check: func(t *testing.T, c *config) {
			if c.health.V1LastBlockMaxAge != 12*time.Minute || len(c.warnings) != 1 ||
				!strings.HasPrefix(c.warnings[0], `OFFSET_UNIT "fortnights" is not one of`) || !strings.Contains(c.warnings[0], "using 12 minutes") {
				t.Fatalf("%+v, warnings %q", c.health, c.warnings)
			}
		}},
		{name: "non-integer OFFSET", env: map[string]string{"OFFSET": "1.5"}, check: func(t *testing.T, c *config) {
			if c.health.OffsetEnv == nil || c.health.OffsetEnv.Err == nil || len(c.warnings) != 1 ||
				!strings.HasPrefix(c.warnings[0], `OFFSET "1.5" is not an integer`) {
				t.Fatalf("%+v, warnings %q", c.health, c.warnings)
			}
		}},
		{name: "OFFSET zero", env: map[string]string{"OFFSET": "0"}, wantErr: "OFFSET 0 must be positive"},
		{name: "bad max age", args: []string{"--health.last-block-max-age=-1m"}, wantErr: "positive"},
		{name: "unknown check", args: []string{"--health.checks=monerod,nope"}, wantErr: "nope"},
		{name: "bad p2p address", args: []string{"--health.p2p-address=nowhere"}, wantErr: "host:port"},
		{name: "p2p address enables check", args: []string{"--health.p2p-address=10.0.0.9:18080"}, check: func(t *testing.T, c *config) {
			if got := c.health.EnabledChecks(); len(got) != 5 || c.health.P2PAddress != "10.0.0.9:18080" || !c.health.ConsiderP2P {
				t.Fatalf("checks %v, %+v", got, c.health)
			}
		}},
		// The P2P port is always dialled, as the old service did: on the
		// RPC host, MONEROD_P2P_PORT or 18080; it counts only when asked.
		{name: "p2p dialled by default, not counted", env: map[string]string{"MONEROD_URL": "node.example"}, check: func(t *testing.T, c *config) {
			if c.health.P2PAddress != "node.example:18080" || c.health.ConsiderP2P || len(c.health.EnabledChecks()) != 4 {
				t.Fatalf("%+v", c.health)
			}
		}},
		{name: "MONEROD_P2P_PORT", env: map[string]string{"MONEROD_P2P_PORT": "28080", "MONEROD_RPC_URL": "http://[::1]:28081"}, check: func(t *testing.T, c *config) {
			if c.health.P2PAddress != "[::1]:28080" {
				t.Fatalf("%+v", c.health)
			}
		}},
		{name: "bad MONEROD_P2P_PORT", env: map[string]string{"MONEROD_P2P_PORT": "0"}, wantErr: "--monerod.p2p-port must be 1 to 65535"},
		{name: "p2p check alone", args: []string{"--health.checks=p2p"}, check: func(t *testing.T, c *config) {
			if c.health.P2PAddress != "127.0.0.1:18080" {
				t.Fatalf("%+v", c.health)
			}
		}},
		{name: "CONSIDER_P2P_STATUS yes", env: map[string]string{"CONSIDER_P2P_STATUS": "YES"}, check: func(t *testing.T, c *config) {
			if !c.health.ConsiderP2P || len(c.health.EnabledChecks()) != 5 || len(c.warnings) != 0 {
				t.Fatalf("%+v %q", c.health, c.warnings)
			}
		}},
		{name: "CONSIDER_P2P_STATUS off wins over the address", args: []string{"--health.p2p-address=10.0.0.9:18080"}, env: map[string]string{"CONSIDER_P2P_STATUS": "off"}, check: func(t *testing.T, c *config) {
			if c.health.ConsiderP2P {
				t.Fatalf("%+v", c.health)
			}
		}},
		{name: "CONSIDER_P2P_STATUS not a truth value", env: map[string]string{"CONSIDER_P2P_STATUS": "maybe"}, check: func(t *testing.T, c *config) {
			if c.health.ConsiderP2P || len(c.warnings) != 1 || !strings.HasPrefix(c.warnings[0], `CONSIDER_P2P_STATUS "maybe" is not one of`) {
				t.Fatalf("%+v %q", c.health, c.warnings)
			}
		}},
		// monero_health_check read MONEROD_URL; its README said MONEROD_RPC_URL.
		{name: "MONEROD_URL", env: map[string]string{"MONEROD_URL": "10.0.0.5", "MONEROD_RPC_PORT": "18089"}, check: func(t *testing.T, c *config) {
			if c.rpcURL.String() != "http://10.0.0.5:18089" || c.health.DaemonAddress != "10.0.0.5:18089" {
				t.Fatalf("url %s", c.rpcURL)
			}
		}},
		{name: "MONEROD_URL and MONEROD_RPC_URL alike", env: map[string]string{"MONEROD_URL": "10.0.0.5", "MONEROD_RPC_URL": "http://10.0.0.5:18081"}, check: func(t *testing.T, c *config) {
			if c.rpcURL.String() != "http://10.0.0.5:18081" {
				t.Fatalf("url %s", c.rpcURL)
			}
		}},
		{
			name: "MONEROD_URL and MONEROD_RPC_URL differ", env: map[string]string{"MONEROD_URL": "10.0.0.5", "MONEROD_RPC_URL": "10.0.0.6"},
			wantErr: "MONEROD_URL (http://10.0.0.5:18081) and MONEROD_RPC_URL (http://10.0.0.6:18081) name different monerods: set only one of them",
		},
		{
			name: "MONEROD_URL differs from a bad MONEROD_RPC_URL", env: map[string]string{"MONEROD_URL": "10.0.0.5", "MONEROD_RPC_URL": "u:hunter2@x"},
			wantErr: "MONEROD_URL and MONEROD_RPC_URL are both set and differ",
		},
		{name: "flag wins over MONEROD_URL", args: []string{"--monerod.rpc-url=10.0.0.7"}, env: map[string]string{"MONEROD_URL": "10.0.0.5", "MONEROD_RPC_URL": "10.0.0.6"}, check: func(t *testing.T, c *config) {
			if c.rpcURL.String() != "http://10.0.0.7:18081" {
				t.Fatalf("url %s", c.rpcURL)
			}
		}},
		{name: "HTTP_TIMEOUT", env: map[string]string{"HTTP_TIMEOUT": "2.5"}, check: func(t *testing.T, c *config) {
			if c.timeout != 2500*time.Millisecond {
				t.Fatalf("timeout %v", c.timeout)
			}
		}},
		{name: "MONEROD_TIMEOUT wins over HTTP_TIMEOUT", env: map[string]string{"HTTP_TIMEOUT": "2", "MONEROD_TIMEOUT": "3s"}, check: func(t *testing.T, c *config) {
			if c.timeout != 3*time.Second {
				t.Fatalf("timeout %v", c.timeout)
			}
		}},
		{name: "flag wins over HTTP_TIMEOUT", args: []string{"--monerod.timeout=4s"}, env: map[string]string{"HTTP_TIMEOUT": "2"}, check: func(t *testing.T, c *config) {
			if c.timeout != 4*time.Second {
				t.Fatalf("timeout %v", c.timeout)
			}
		}},
		{name: "bad HTTP_TIMEOUT", env: map[string]string{"HTTP_TIMEOUT": "soon"}, check: func(t *testing.T, c *config) {
			if c.timeout != 10*time.Second || len(c.warnings) != 1 || !strings.HasPrefix(c.warnings[0], `HTTP_TIMEOUT "soon" is not a number of seconds`) {
				t.Fatalf("timeout %v, warnings %q", c.timeout, c.warnings)
			}
		}},
		{name: "listen port", check: func(t *testing.T, c *config) {
			if got := *c.web.WebListenAddresses; len(got) != 1 || got[0] != ":18091" {
				t.Fatalf("listen %q", got)
			}
		}},
		{name: "PORT", env: map[string]string{"PORT": "18092"}, check: func(t *testing.T, c *config) {
			if got := *c.web.WebListenAddresses; len(got) != 1 || got[0] != ":18092" {
				t.Fatalf("listen %q", got)
			}
		}},
		{name: "flag wins over PORT", args: []string{"--web.listen-address=127.0.0.1:9000"}, env: map[string]string{"PORT": "18092"}, check: func(t *testing.T, c *config) {
			if got := *c.web.WebListenAddresses; len(got) != 1 || got[0] != "127.0.0.1:9000" {
				t.Fatalf("listen %q", got)
			}
		}},
		{name: "bad PORT", env: map[string]string{"PORT": "http"}, wantErr: `PORT "http" is not a port number`},
		{name: "negative peers", args: []string{"--health.min-peers=-1"}, wantErr: "negative"},
		{name: "collectors", args: []string{"--no-collector.txpool", "--collector.peerlist"}, check: func(t *testing.T, c *config) {
			if strings.Join(c.collectors, ",") != "bans,connections,fee,last_block,mining,net,peerlist" {
				t.Fatalf("collectors %v", c.collectors)
			}
		}},
		{name: "references", args: []string{"--chain.reference=node2", "--chain.reference=https://node3.example:18089", "--health.max-blocks-behind-reference=4", "--health.checks=monerod,chain"}, check: func(t *testing.T, c *config) {
			var got []string
			for _, r := range c.references {
				got = append(got, r.name+"="+r.url.String())
			}
			if strings.Join(got, " ") != "node2:18081=http://node2:18081 node3.example:18089=https://node3.example:18089" {
				t.Fatalf("references %q", got)
			}
			if h := c.health; strings.Join(h.References, ",") != "node2:18081,node3.example:18089" || h.MaxBlocksBehindReference != 4 || strings.Join(h.EnabledChecks(), ",") != "monerod,chain" {
				t.Fatalf("health %+v", h)
			}
		}},
		{name: "no references", check: func(t *testing.T, c *config) {
			if c.references != nil || c.health.References != nil || c.health.MaxBlocksBehindReference != 10 {
				t.Fatalf("references %v, health %+v", c.references, c.health)
			}
		}},
		{name: "reference to itself", args: []string{"--monerod.rpc-url=node1:18089", "--chain.reference=http://node1:18089"}, wantErr: "--chain.reference: node1:18089 is --monerod.rpc-url itself"},
		{name: "reference twice", args: []string{"--chain.reference=node2", "--chain.reference=http://node2:18081"}, wantErr: "--chain.reference: node2:18081 is given twice"},
		{name: "reference with credentials", args: []string{"--chain.reference=http://u:hunter2@node2"}, wantErr: "--chain.reference: monerod address must not carry credentials"},
		{name: "references reached as the fleet", env: map[string]string{"MONEROD_RPC_PASSWORD": "hunter2"}, args: []string{
			"--monerod.rpc-url=https://node1:18089", "--monerod.rpc-user=alice", "--monerod.tls-ca-file=/etc/ca.pem", "--chain.reference-login",
			"--chain.reference=node2", "--chain.reference=http://node3:18081", "--chain.reference=https://node4",
		}, check: func(t *testing.T, c *config) {
			var got []string
			for _, r := range c.references {
				got = append(got, fmt.Sprintf("%s %s:%s ca=%s skip=%v", r.url, r.user, r.password, r.tlsCAFile, r.tlsSkipVerify))
			}
			// A bare address takes the node's scheme; TLS settings go to
			// https:// references only.
			want := []string{
				"https://node2:18081 alice:hunter2 ca=/etc/ca.pem skip=false",
				"http://node3:18081 alice:hunter2 ca= skip=false",
				"https://node4:18081 alice:hunter2 ca=/etc/ca.pem skip=false",
			}
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Fatalf("references:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		}},
		{name: "references without the fleet's login", env: map[string]string{"MONEROD_RPC_PASSWORD": "hunter2"}, args: []string{
			"--monerod.rpc-url=https://node1:18089", "--monerod.rpc-user=alice", "--monerod.tls-insecure-skip-verify", "--chain.reference=node2",
		}, check: func(t *testing.T, c *config) {
			if r := c.references[0]; r.url.String() != "http://node2:18081" || r.user != "" || r.password != "" || r.tlsSkipVerify {
				t.Fatalf("reference %+v", r)
			}
		}},
		{name: "reference login without reference", args: []string{"--chain.reference-login"}, wantErr: "--chain.reference-login needs at least one --chain.reference"},
		{name: "chain check without reference", args: []string{"--health.checks=monerod,chain"}, wantErr: "the chain check is enabled but no reference node is set"},
		{name: "unknown flag", args: []string{"--nope"}, wantErr: "unknown long flag"},
		{name: "bad log level", args: []string{"--log.level=loud"}, wantErr: "loud"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The machine's own environment must not decide (a PORT is
			// common); empty is unset for every variable read.
			for _, k := range []string{
				"MONEROD_URL", "MONEROD_RPC_URL", "MONEROD_RPC_PORT", "MONEROD_P2P_PORT", "CONSIDER_P2P_STATUS",
				"HTTP_TIMEOUT", "MONEROD_TIMEOUT", "PORT", "OFFSET", "OFFSET_UNIT", "HEALTH_P2P_ADDRESS", "HEALTH_CHECKS", "HEALTH_MAX_BLOCKS_BEHIND_REFERENCE", "CHAIN_REFERENCE_LOGIN",
			} {
				t.Setenv(k, "")
			}
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			var out bytes.Buffer
			cfg, err := parseConfig(tt.args, &out)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "hunter2") {
					t.Fatalf("error shows a password: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, cfg)
		})
	}
}

func TestRunBadFlagExitsOneWithOneLine(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run([]string{"--monerod.rpc-url=http://u:hunter2@node"}, &stdout, &stderr)
	if code != 1 {
		t.Fatalf("exit code %d", code)
	}
	if lines := strings.Count(strings.TrimSpace(stderr.String()), "\n"); lines != 0 {
		t.Fatalf("want one line, got %q", stderr.String())
	}
	if strings.Contains(stderr.String(), "hunter2") {
		t.Fatalf("the password is shown: %q", stderr.String())
	}
}

func TestHelpAndVersion(t *testing.T) {
	t.Setenv("MONEROD_RPC_PASSWORD", "hunter2")
	var stdout, stderr bytes.Buffer
	if code := run([]string{"--help"}, &stdout, &stderr); code != 0 {
		t.Fatalf("--help exit %d", code)
	}
	help := stdout.String()
	for _, want := range []string{"--monerod.rpc-url", "MONEROD_RPC_PASSWORD", "--web.listen-address", "--web.config.file", "--log.level", "--monerod.timeout-offset"} {
		if !strings.Contains(help, want) {
			t.Errorf("--help lacks %s", want)
		}
	}
	if strings.Contains(help, "hunter2") {
		t.Fatal("--help shows the password")
	}
	stdout.Reset()
	if code := run([]string{"--version"}, &stdout, &stderr); code != 0 || !strings.Contains(stdout.String(), "monero_exporter") {
		t.Fatalf("--version: exit %d, %q", code, stdout.String())
	}
}

func TestScrapeTimeout(t *testing.T) {
	logger := promslog.NewNopLogger()
	tests := []struct {
		header string
		want   time.Duration
	}{
		{"", 10 * time.Second},
		{"5", 4750 * time.Millisecond},
		{"0.5", 250 * time.Millisecond},
		{"0.1", 100 * time.Millisecond}, // smaller than the offset: keep it whole
		{"abc", 10 * time.Second},
		{"-3", 10 * time.Second},
		{"NaN", 10 * time.Second},
		{"1e300", 10 * time.Second},
	}
	for _, tt := range tests {
		r := httptest.NewRequest(http.MethodGet, "/metrics", nil)
		if tt.header != "" {
			r.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", tt.header)
		}
		if got := scrapeTimeout(r, 10*time.Second, 250*time.Millisecond, logger); got != tt.want {
			t.Errorf("header %q: got %s, want %s", tt.header, got, tt.want)
		}
	}
}
