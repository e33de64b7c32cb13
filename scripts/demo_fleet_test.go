package scripts

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/monero-ops/monero_exporter/internal/monerodtest"
	"github.com/monero-ops/monero_exporter/internal/testenv"
)

// TestDemoFleet runs make demo-fleet's script as a newcomer would, with
// DEMO_FAULTS=1 and the timers shortened: every URL it prints answers,
// Prometheus scrapes the three nodes through /probe and sends to the
// Alertmanager, node2's MoneroNoPeers goes pending, firing and resolved
// while node2 is cut off, forks and reorganises, and Ctrl-C (SIGINT to the
// script's process group, as a terminal sends it) leaves no process
// running.
func TestDemoFleet(t *testing.T) {
	monerodtest.Require(t)
	testenv.RequireTool(t, "prometheus", "prometheus")
	testenv.RequireTool(t, "prometheus-alertmanager", "prometheus-alertmanager")
	testenv.RequireTool(t, "curl", "curl")
	goBin := testenv.RequireTool(t, "go", "golang-go")
	exporter := testenv.ExporterBinary(t)

	base := freePortBase(t)
	listen := fmt.Sprintf("127.0.0.1:%d", base+5)
	promListen := fmt.Sprintf("127.0.0.1:%d", base+6)
	amListen := fmt.Sprintf("127.0.0.1:%d", base+7)
	dir := filepath.Join(t.TempDir(), "demo")
	nodeRPC := func(i int) string { return fmt.Sprintf("127.0.0.1:%d", base+10*i+1) }

	cmd := exec.Command("bash", "demo-fleet.sh")
	cmd.Env = append(os.Environ(),
		"GO="+goBin,
		"DEMO_EXPORTER="+exporter,
		"DEMO_DIR="+dir,
		"DEMO_PORT_BASE="+strconv.Itoa(base),
		"DEMO_LISTEN="+listen,
		"DEMO_PROMETHEUS_LISTEN="+promListen,
		"DEMO_ALERTMANAGER_LISTEN="+amListen,
		"DEMO_BLOCK_SECONDS=2",
		"DEMO_SCRAPE_SECONDS=2",
		"DEMO_ALERT_FOR=4s",
		"DEMO_FAULTS=1",
		"DEMO_STALL_AFTER=6",
		"DEMO_FORK_AFTER=14",
		"DEMO_HEAL_AFTER=6",
		// A backstop: the test stops the demo with SIGINT long before.
		"DEMO_RUN_SECONDS=300",
	)
	// Its own session and process group, as a terminal gives a command:
	// SIGINT to the group is Ctrl-C, and whatever the script starts stays
	// in the session unless it leaves it. If the test binary dies, the
	// script is told to stop.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Pdeathsig: syscall.SIGTERM}
	out := &lines{}
	cmd.Stdout, cmd.Stderr = out, out
	// A process that kept the script's output open would hold Wait.
	cmd.WaitDelay = 10 * time.Second
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pgid := cmd.Process.Pid // and the session's id
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		select {
		case <-exited:
		default:
			_ = syscall.Kill(-pgid, syscall.SIGTERM)
			select {
			case <-exited:
			case <-time.After(30 * time.Second):
				_ = syscall.Kill(-pgid, syscall.SIGKILL)
				<-exited
			}
		}
		// What the script could not stop: its loops, in the session, and
		// the servers, in sessions of their own, found by the directory
		// in their arguments.
		for _, p := range append(sessionMembers(pgid), processesMentioning(dir)...) {
			_ = syscall.Kill(p.pid, syscall.SIGKILL)
		}
		if t.Failed() {
			t.Logf("the script's output:\n%s", out.String())
			for _, log := range []string{"node0.log", "node2.log", "exporter.log", "prometheus.log", "alertmanager.log"} {
				t.Logf("--- tail of %s ---\n%s", log, tail(filepath.Join(dir, log), 15))
			}
		}
	})

	// The URLs, Prometheus' alerts page first.
	out.waitFor(t, exited, "Press Ctrl-C (or kill ", 150*time.Second)
	t.Logf("the demo was up after %v", time.Since(start).Round(time.Second))
	urls := out.urls()
	// Debian's Prometheus has its pages under /classic; upstream's at /.
	ui := ""
	if len(urls) > 0 && strings.HasPrefix(urls[0], "http://"+promListen+"/classic/") {
		ui = "/classic"
	}
	if len(urls) == 0 || urls[0] != "http://"+promListen+ui+"/alerts" {
		t.Errorf("the first URL is not Prometheus' alerts page: %q", urls)
	}
	var want []string
	want = append(want, "http://"+promListen+ui+"/alerts", "http://"+promListen+ui+"/targets", "http://"+amListen+"/",
		"http://"+listen+"/", "http://"+listen+"/metrics")
	for i := range 3 {
		want = append(want, "http://"+listen+"/probe?target="+nodeRPC(i)+"&module=demo")
	}
	for i := range 3 {
		want = append(want, "http://"+listen+"/health?target="+nodeRPC(i)+"&module=demo")
	}
	if !slices.Equal(urls, want) {
		t.Errorf("the demo printed the URLs\n%q\nwant\n%q", urls, want)
	}
	// Each answers 200 (node2 is cut off only DEMO_STALL_AFTER later).
	for _, u := range urls {
		status, body := get(t, u)
		if status != http.StatusOK {
			t.Errorf("GET %s: %d\n%.300s", u, status, body)
		}
		if strings.Contains(u, "/probe?") && !strings.Contains(body, "\nmonero_up 1\n") {
			t.Errorf("GET %s: no monero_up 1\n%.300s", u, body)
		}
	}

	prom := "http://" + promListen
	var targets struct {
		Data struct {
			ActiveTargets []struct {
				Labels    map[string]string `json:"labels"`
				ScrapeURL string            `json:"scrapeUrl"`
				Health    string            `json:"health"`
			} `json:"activeTargets"`
		} `json:"data"`
	}
	getJSON(t, prom+"/api/v1/targets", &targets)
	var probes []string
	exporterUp := false
	for _, tg := range targets.Data.ActiveTargets {
		switch tg.Labels["job"] {
		case "monero":
			if tg.Health != "up" || !strings.HasPrefix(tg.ScrapeURL, "http://"+listen+"/probe?") || !strings.Contains(tg.ScrapeURL, "module=demo") {
				t.Errorf("probe target %+v", tg)
			}
			probes = append(probes, tg.Labels["instance"])
		case "monero_exporter":
			exporterUp = tg.Health == "up"
		}
	}
	slices.Sort(probes)
	if !slices.Equal(probes, []string{nodeRPC(0), nodeRPC(1), nodeRPC(2)}) {
		t.Errorf("Prometheus probes %q, want the three nodes", probes)
	}
	if !exporterUp {
		t.Errorf("the exporter's own /metrics is not scraped: %+v", targets.Data.ActiveTargets)
	}
	var ams struct {
		Data struct {
			Active []struct {
				URL string `json:"url"`
			} `json:"activeAlertmanagers"`
		} `json:"data"`
	}
	getJSON(t, prom+"/api/v1/alertmanagers", &ams)
	if len(ams.Data.Active) != 1 || !strings.HasPrefix(ams.Data.Active[0].URL, "http://"+amListen+"/") {
		t.Errorf("Prometheus' alertmanagers: %+v, want the demo's on %s", ams.Data.Active, amListen)
	}
	// The mixin's rules, with the demo's durations.
	var rules struct {
		Data struct {
			Groups []struct {
				Rules []struct {
					Name     string  `json:"name"`
					Duration float64 `json:"duration"`
				} `json:"rules"`
			} `json:"groups"`
		} `json:"data"`
	}
	getJSON(t, prom+"/api/v1/rules", &rules)
	loaded := map[string]float64{}
	for _, g := range rules.Data.Groups {
		for _, r := range g.Rules {
			loaded[r.Name] = r.Duration
		}
	}
	for _, name := range []string{"MoneroNoPeers", "MoneroLastBlockTooOld", "MoneroHealthCheckFailing", "MoneroDaemonDown"} {
		if d, ok := loaded[name]; !ok || d != 4 {
			t.Errorf("rule %s: loaded %v, for %vs; want for 4s", name, ok, d)
		}
	}
	if status, _ := get(t, "http://"+amListen+"/api/v2/status"); status != http.StatusOK {
		t.Errorf("Alertmanager's status: %d", status)
	}

	// The faults. node2 cut off: MoneroNoPeers pending, then firing.
	alertState := func() string {
		var alerts struct {
			Data struct {
				Alerts []struct {
					Labels map[string]string `json:"labels"`
					State  string            `json:"state"`
				} `json:"alerts"`
			} `json:"data"`
		}
		getJSON(t, prom+"/api/v1/alerts", &alerts)
		for _, a := range alerts.Data.Alerts {
			if a.Labels["alertname"] == "MoneroNoPeers" && a.Labels["instance"] == nodeRPC(2) {
				return a.State
			}
		}
		return "inactive"
	}
	out.waitFor(t, exited, "node2 stalled", 30*time.Second)
	t.Logf("%v: node2 cut off", time.Since(start).Round(time.Second))
	testenv.Eventually(t, "node2's MoneroNoPeers pending", 20*time.Second, func() (bool, string) {
		s := alertState()
		return s == "pending", s
	})
	testenv.Eventually(t, "node2's /health failing", 10*time.Second, func() (bool, string) {
		status, body := get(t, "http://"+listen+"/health?target="+nodeRPC(2)+"&module=demo")
		return status == http.StatusServiceUnavailable, fmt.Sprintf("%d %.200s", status, body)
	})
	testenv.Eventually(t, "node2's MoneroNoPeers firing", 20*time.Second, func() (bool, string) {
		s := alertState()
		return s == "firing", s
	})
	t.Logf("%v: MoneroNoPeers pending, then firing", time.Since(start).Round(time.Second))

	// node2 forks, then is reconnected: it reorganises onto node0's chain,
	// and the alert resolves.
	fork := out.waitFor(t, exited, "node2's block at height", 40*time.Second)
	m := regexp.MustCompile(`at height (\d+): ([0-9a-f]{64}); node0's: ([0-9a-f]{64})`).FindStringSubmatch(fork)
	if m == nil || m[2] == m[3] {
		t.Fatalf("no fork: %q", fork)
	}
	out.waitFor(t, exited, "node2 reconnected", 30*time.Second)
	back := out.waitFor(t, exited, "node2 is back on the fleet's chain", 70*time.Second)
	t.Logf("%v: node2 back on node0's chain", time.Since(start).Round(time.Second))
	if !strings.HasSuffix(back, "at height "+m[1]+" is now "+m[3]+".") {
		t.Errorf("node2 did not take node0's block at height %s (%s): %q", m[1], m[3], back)
	}
	testenv.Eventually(t, "node2's MoneroNoPeers resolved", 40*time.Second, func() (bool, string) {
		s := alertState()
		return s == "inactive", s
	})
	t.Logf("%v: MoneroNoPeers resolved", time.Since(start).Round(time.Second))

	// Ctrl-C stops everything.
	interrupted := time.Now()
	if err := syscall.Kill(-pgid, syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case <-exited:
	case <-time.After(60 * time.Second):
		t.Fatalf("the demo still runs 60s after Ctrl-C")
	}
	t.Logf("stopped %v after Ctrl-C; its last lines:\n%s", time.Since(interrupted).Round(100*time.Millisecond), out.tail(3))
	var exitErr *exec.ExitError
	if !errors.As(waitErr, &exitErr) || exitErr.ExitCode() != 130 {
		t.Errorf("after Ctrl-C the demo exited with %v, want status 130", waitErr)
	}
	if !strings.Contains(out.String(), "demo-fleet stopped: nothing it started is running") {
		t.Errorf("the demo did not say it stopped")
	}
	// The script's own loops are in its session; the servers, in sessions
	// of their own, name the demo's directory in their arguments.
	if left := sessionMembers(pgid); len(left) > 0 {
		t.Errorf("processes of the demo's session remain after Ctrl-C: %+v", left)
	}
	if left := processesMentioning(dir); len(left) > 0 {
		t.Errorf("processes started by the demo remain: %+v", left)
	}
	t.Logf("the whole run took %v; the demo's output:\n%s", time.Since(start).Round(time.Second), out.String())
}

// freePortBase finds PORT_BASE for the script: the ports it uses (base,
// +1, +10, +11, +20, +21 for the nodes, +5, +6, +7 for the exporter,
// Prometheus and Alertmanager) free now. It looks below the ephemeral
// range (32768 and up on Linux), where the free ports other tests take are.
func freePortBase(t *testing.T) int {
	t.Helper()
	for range 50 {
		base := 20000 + 10*rand.IntN(1200)
		free := true
		for _, off := range []int{0, 1, 5, 6, 7, 10, 11, 20, 21} {
			l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", base+off))
			if err != nil {
				free = false
				break
			}
			l.Close()
		}
		if free {
			return base
		}
	}
	t.Fatal("no free range of ports for the demo")
	return 0
}

// lines collects a process's output, for waiting on a line.
type lines struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (l *lines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *lines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// waitFor returns the first complete line containing substr, failing the
// test if the process exits or timeout passes first.
func (l *lines) waitFor(t *testing.T, exited <-chan struct{}, substr string, timeout time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		sc := bufio.NewScanner(strings.NewReader(l.String()))
		for sc.Scan() {
			if strings.Contains(sc.Text(), substr) {
				return sc.Text()
			}
		}
		select {
		case <-exited:
			t.Fatalf("the demo exited before printing %q", substr)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the demo did not print %q within %v", substr, timeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// urls lists the URLs the demo printed, in order.
func (l *lines) urls() []string {
	var urls []string
	re := regexp.MustCompile(`http://[^\s)]+`)
	for line := range strings.SplitSeq(l.String(), "\n") {
		if strings.HasPrefix(line, "  ") {
			urls = append(urls, re.FindAllString(line, -1)...)
		}
	}
	return urls
}

var client = &http.Client{Timeout: 10 * time.Second}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, b := testenv.Fetch(t, client, req)
	return resp.StatusCode, string(b)
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	status, body := get(t, url)
	if status != http.StatusOK {
		t.Fatalf("GET %s: %d %.300s", url, status, body)
	}
	if err := json.Unmarshal([]byte(body), v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}

type process struct {
	pid     int
	cmdline string
}

// processesMentioning lists the processes whose command line contains s.
func processesMentioning(s string) []process {
	var found []process
	cmdlines, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range cmdlines {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(filepath.Base(filepath.Dir(p)))
		if err != nil {
			continue
		}
		if cl := strings.ReplaceAll(string(b), "\x00", " "); strings.Contains(cl, s) {
			found = append(found, process{pid, cl})
		}
	}
	return found
}

// tail returns the last n lines written.
func (l *lines) tail(n int) string {
	all := strings.Split(strings.TrimRight(l.String(), "\n"), "\n")
	return strings.Join(all[max(0, len(all)-n):], "\n")
}

// sessionMembers lists the processes of session sid that run, from /proc.
// A zombie has exited: one whose parent exited first waits for init to
// reap it, which may take a second or two.
func sessionMembers(sid int) []process {
	var found []process
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, p := range stats {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		// pid (comm) state ppid pgrp session ...
		st := string(b)
		i := strings.LastIndexByte(st, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(st[i+1:])
		pid, err := strconv.Atoi(filepath.Base(filepath.Dir(p)))
		if err == nil && len(f) > 3 && f[3] == strconv.Itoa(sid) && f[0] != "Z" {
			found = append(found, process{pid, st[:i+1] + " " + f[0]})
		}
	}
	return found
}

func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	all := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(all[max(0, len(all)-n):], "\n")
}
