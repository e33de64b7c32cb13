package health

import (
	"fmt"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/monero-ops/monero_exporter/internal/monerodtest"
	"github.com/monero-ops/monero_exporter/internal/testenv"
	"github.com/monero-ops/monero_exporter/monerod"
	"github.com/monero-ops/monero_exporter/snapshot"
)

// regtestState is a state of a real node in which every endpoint is
// recorded.
type regtestState struct {
	name string
	// offset and unit are OFFSET and OFFSET_UNIT; both empty: unset.
	offset, unit string
	considerP2P  bool
	// user and password are the exporter's credentials.
	user, password string
	// timeout bounds each request (a frozen node never answers).
	timeout    time.Duration
	healthCode int
}

// TestIntegrationGolden records every endpoint against a real regtest
// monerod (networked, so that its P2P port is real, and peered) in each
// state that
// monero_health_check was compared in: fresh, stale, stopped, frozen
// (SIGSTOP), behind --rpc-login with the right and wrong credentials, and
// OFFSET in days, a bad OFFSET_UNIT and an OFFSET that is not an integer.
// The files under testdata/golden/regtest/<state>/ are the bodies as
// served, with only what changes from run to run replaced: timestamps and
// the ages and durations read from the clock, hashes, and ports.
//
// /health counts the checks the old service made (monerod, last_block): a
// node without peers fails the others, which would hide the rest.
func TestIntegrationGolden(t *testing.T) {
	monerodtest.Require(t)
	t.Parallel()
	const login = "monero:right-password"
	// A networked node answers get_last_block_header "BUSY" until a peer
	// has told it that it is synchronized: the node under test has one,
	// which it dials (and dials again after each restart).
	nodes := monerodtest.StartStar(t, 2, monerodtest.Options{})
	node, peer := nodes[0], nodes[1]
	networked := func(o monerodtest.Options) monerodtest.Options {
		o.ExclusiveNodes = []string{peer.P2PAddr}
		return o
	}
	restart := func(o monerodtest.Options) {
		t.Helper()
		node.RestartWith(t, networked(o))
		waitSynchronized(t, node)
	}
	waitSynchronized(t, node)
	node.MineAt(t, time.Now().Add(-time.Hour))

	record := func(t *testing.T, st regtestState) {
		t.Helper()
		cfg := DefaultConfig()
		cfg.Checks = []string{CheckMonerod, CheckLastBlock}
		cfg.P2PAddress, cfg.ConsiderP2P = node.P2PAddr, st.considerP2P
		cfg.DaemonAddress, cfg.ExporterVersion = node.RPCAddr, "test"
		if st.offset != "" || st.unit != "" {
			if _, err := cfg.SetOffsetFromEnv(st.offset, st.unit); err != nil {
				t.Fatal(err)
			}
		}
		if err := cfg.Validate(); err != nil {
			t.Fatal(err)
		}
		timeout := st.timeout
		if timeout == 0 {
			timeout = 5 * time.Second
		}
		// monerod drops the 26th connection from one address: each state's
		// client closes its connections when done.
		src, closeClient := newLoginSource(t, node.URL(), node.P2PAddr, st.user, st.password)
		defer closeClient()
		h := NewHandler(src, cfg, timeout, nil, testLinks...)
		norm := regtestNormalizer(node)
		for _, ep := range endpoints {
			t.Run(st.name+"/"+ep.file, func(t *testing.T) {
				start := time.Now()
				rec := serveAccept(t, h, http.MethodGet, ep.path, ep.accept)
				// Kept from the old service's faults: an answer within
				// the deadline, whatever monerod does.
				if took := time.Since(start); took > timeout+time.Second {
					t.Errorf("answered in %v, past the %v deadline", took, timeout)
				}
				checkGolden(t, filepath.Join("testdata", "golden", "regtest", st.name), ep.file, ep.path, rec, st.healthCode, norm)
			})
		}
	}

	// The tip is an hour old: stale for /api/v1, and for /health too, which
	// warns (200), as no peer is ahead of the node.
	for _, st := range []regtestState{
		{name: "stale", healthCode: 200},
		// Two days: the same tip is recent for /api/v1.
		{name: "offset_days", offset: "2", unit: "days", healthCode: 200},
		// A unit timedelta does not take: 12 minutes, as the old service.
		{name: "bad_offset_unit", offset: "10", unit: "Hours", healthCode: 200},
		{name: "bad_offset", offset: "abc", healthCode: 200},
	} {
		record(t, st)
	}

	node.Mine(t, 1)
	record(t, regtestState{name: "fresh", healthCode: 200})

	restart(monerodtest.Options{Login: login})
	user, password, _ := strings.Cut(login, ":")
	record(t, regtestState{name: "right_login", user: user, password: password, healthCode: 200})
	record(t, regtestState{name: "wrong_login", user: user, password: "wrong-password", healthCode: 503})

	restart(monerodtest.Options{})
	node.Freeze(t)
	record(t, regtestState{name: "frozen", timeout: time.Second, healthCode: 503})
	node.Thaw(t)

	node.Stop(t)
	for _, st := range []regtestState{
		{name: "stopped", healthCode: 503},
		{name: "stopped_consider_p2p", considerP2P: true, healthCode: 503},
		// Before comparing, the old service echoed OFFSET as given.
		{name: "stopped_offset_days", offset: "2", unit: "days", healthCode: 503},
	} {
		record(t, st)
	}
}

// waitSynchronized waits until node answers get_last_block_header rather
// than "BUSY", as a networked node does once a peer has synchronized it.
func waitSynchronized(t *testing.T, node *monerodtest.Node) {
	t.Helper()
	testenv.Eventually(t, "the node synchronized", 60*time.Second, func() (bool, string) {
		var res struct {
			Status string `json:"status"`
		}
		err := node.Call("get_last_block_header", nil, &res)
		return err == nil && res.Status == "OK", fmt.Sprintf("get_last_block_header: %v, status %q", err, res.Status)
	})
}

// newLoginSource is newSource with credentials; closeClient closes the client's
// connections.
func newLoginSource(t *testing.T, rawURL, p2p, user, password string) (src *snapshot.Source, closeClient func()) {
	t.Helper()
	u, err := monerod.ParseAddress(rawURL, 18081)
	if err != nil {
		t.Fatal(err)
	}
	client, err := monerod.New(monerod.Config{URL: u, User: user, Password: password})
	if err != nil {
		t.Fatal(err)
	}
	src, err = snapshot.New(snapshot.Config{Client: client, Collectors: []snapshot.Collector{snapshot.Connections}, P2PAddress: p2p, Timeout: 5 * time.Second})
	if err != nil {
		client.Close()
		t.Fatal(err)
	}
	return src, client.Close
}

var (
	reTimestamp = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d`)
	reHash      = regexp.MustCompile(`\b[0-9a-f]{64}\b`)
	// Python's str(timedelta): "0:00:03", "1:00:07", "2 days, 0:00:01".
	reAge = regexp.MustCompile(`(-?\d+ days?, )?\d+:\d\d:\d\d`)
	// /health's clock readings: the block's age (s), the connect time (ms).
	reObserved = regexp.MustCompile(`"observedValue":\d+,"observedUnit":"(s|ms)"`)
	// The page's.
	reObservedHTML = regexp.MustCompile(`<td>\d+ (s|ms)</td>`)
)

// regtestNormalizer replaces, in a body served for node, what changes from
// run to run, keeping every key and the type of every value the old API
// shows (strings stay strings).
func regtestNormalizer(node *monerodtest.Node) func([]byte) []byte {
	_, rpcPort, _ := strings.Cut(node.RPCAddr, ":")
	_, p2pPort, _ := strings.Cut(node.P2PAddr, ":")
	ports := strings.NewReplacer(":"+rpcPort, ":RPC_PORT", ":"+p2pPort, ":P2P_PORT")
	return func(b []byte) []byte {
		s := ports.Replace(string(b))
		s = reTimestamp.ReplaceAllString(s, "YYYY-MM-DDTHH:MM:SS")
		s = reHash.ReplaceAllString(s, "HASH")
		s = reAge.ReplaceAllString(s, "H:MM:SS")
		s = reObserved.ReplaceAllString(s, `"observedValue":"N","observedUnit":"$1"`)
		s = reObservedHTML.ReplaceAllString(s, "<td>N $1</td>")
		return []byte(s)
	}
}
