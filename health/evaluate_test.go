package health

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/monero-ops/monero_exporter/monerod"
	"github.com/monero-ops/monero_exporter/snapshot"
)

// checkCase is one snapshot and the result one check should give for it.
type checkCase struct {
	name    string
	snap    *snapshot.Snapshot
	cfg     func(*Config)
	status  Status
	output  string // exact, or a prefix when it ends in "..."
	value   any    // nil: not checked
	unit    string
	wantErr bool // Result.Err set
}

func runCheckCases(t *testing.T, check string, cases []checkCase) {
	t.Helper()
	runResultCases(t, func(rep *Report) (Result, bool) { return rep.Result(check) }, cases)
}

// runResultCases is runCheckCases for the result that get picks from the
// report.
func runResultCases(t *testing.T, get func(*Report) (Result, bool), cases []checkCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig()
			if tc.cfg != nil {
				tc.cfg(&cfg)
			}
			rep := Evaluate(tc.snap, cfg)
			res, ok := get(&rep)
			if !ok {
				t.Fatalf("no result in %+v", rep.Results)
			}
			if res.Status != tc.status {
				t.Errorf("status = %v, want %v (output %q, err %v)", res.Status, tc.status, res.Output, res.Err)
			}
			if prefix, ok := strings.CutSuffix(tc.output, "..."); ok {
				if !strings.HasPrefix(res.Output, prefix) {
					t.Errorf("output = %q, want prefix %q", res.Output, prefix)
				}
			} else if res.Output != tc.output {
				t.Errorf("output = %q, want %q", res.Output, tc.output)
			}
			if tc.value != nil && res.ObservedValue != tc.value {
				t.Errorf("observed value = %#v, want %#v", res.ObservedValue, tc.value)
			}
			if tc.unit != "" && res.ObservedUnit != tc.unit {
				t.Errorf("observed unit = %q, want %q", res.ObservedUnit, tc.unit)
			}
			if (res.Err != nil) != tc.wantErr {
				t.Errorf("err = %v, want set: %v", res.Err, tc.wantErr)
			}
			if res.Status == StatusOK && res.Output != "" {
				t.Errorf("an OK result has output %q", res.Output)
			}
		})
	}
}

func TestCheckMonerod(t *testing.T) {
	runCheckCases(t, CheckMonerod, []checkCase{
		{name: "ok", snap: snap(), status: StatusOK, value: uint64(16), unit: "hard_fork_version"},
		{
			name: "unreachable", snap: snap(unreachable), status: StatusUnknown,
			output: "Cannot determine daemon status: get_info: monerod unreachable: ...", wantErr: true,
		},
		{name: "timeout", snap: snap(func(s *snapshot.Snapshot) {
			s.HardFork, s.HardForkErr = nil, fmt.Errorf("hard_fork_info: %w: context deadline exceeded", monerod.ErrTimeout)
		}), status: StatusUnknown, output: "Cannot determine daemon status: hard_fork_info: timed out...", wantErr: true},
		{name: "unauthorized", snap: snap(func(s *snapshot.Snapshot) {
			s.HardFork, s.HardForkErr = nil, fmt.Errorf("hard_fork_info: %w", monerod.ErrUnauthorized)
		}), status: StatusUnknown, output: "Cannot determine daemon status: ...", wantErr: true},
		{
			name: "status BUSY", snap: snap(hardForkBusy), status: StatusError,
			output: `Daemon status is not OK: hard_fork_info: bad response from monerod: status "BUSY"`, wantErr: true,
		},
		{name: "JSON-RPC error", snap: snap(func(s *snapshot.Snapshot) {
			s.HardFork, s.HardForkErr = nil, fmt.Errorf("hard_fork_info: %w: %w", monerod.ErrBadResponse, &monerod.RPCError{Code: -1, Message: "internal"})
		}), status: StatusError, output: "Daemon status is not OK: ...", wantErr: true},
		{
			name: "status field not OK", snap: snap(func(s *snapshot.Snapshot) { s.HardFork.Status = "BUSY" }),
			status: StatusError, output: `Daemon status is not OK: hard_fork_info: status "BUSY"`, wantErr: true,
		},
		{
			name: "hard_fork_info not asked", snap: snap(func(s *snapshot.Snapshot) { s.HardFork = nil }),
			status: StatusUnknown, output: "Cannot determine daemon status: hard_fork_info was not asked", wantErr: true,
		},
		{name: "nil snapshot", snap: nil, status: StatusUnknown, output: "Cannot determine daemon status: no snapshot of monerod", wantErr: true},
	})
}

// TestCheckLastBlock is /health's rule: a tip older than LastBlockMaxAge
// (30 minutes by default) fails when others have moved on, and warns when
// the node is at the best height its peers report.
func TestCheckLastBlock(t *testing.T) {
	at := func(age time.Duration) func(*snapshot.Snapshot) {
		return func(s *snapshot.Snapshot) { s.LastBlock.Timestamp = testTime().Add(-age).Unix() }
	}
	peers := func(conns ...monerod.Connection) func(*snapshot.Snapshot) {
		return func(s *snapshot.Snapshot) { s.Connections = conns }
	}
	runCheckCases(t, CheckLastBlock, []checkCase{
		{name: "recent", snap: snap(), status: StatusOK, value: int64(503), unit: "s"},
		// The old service's 12 minutes pass 1.8 times a day on a healthy
		// node: not a failure here.
		{name: "past the old 12 minutes", snap: snap(at(12*time.Minute+time.Second), peerAhead), status: StatusOK, value: int64(721)},
		{name: "exactly max age", snap: snap(at(30*time.Minute), peerAhead), status: StatusOK, value: int64(1800)},
		{name: "fresh with a peer ahead (sync's business)", snap: snap(peerAhead), status: StatusOK},
		{name: "in the future", snap: snap(at(-5 * time.Minute)), status: StatusOK, value: int64(0)},

		// Stale, and the node is at the best height it knows: the network
		// is slow, not the node.
		{name: "stale, at peers' best", snap: snap(stale), status: StatusWarn, output: OutputNetworkSlow, value: int64(2825), wantErr: true},
		{
			name: "one second past max age, at peers' best", snap: snap(at(30*time.Minute + time.Second)),
			status: StatusWarn, output: OutputNetworkSlow, value: int64(1801), wantErr: true,
		},
		{
			name: "stale, one peer at our height", snap: snap(stale, peers(monerod.Connection{State: "normal", Height: testHeight})),
			status: StatusWarn, output: OutputNetworkSlow, wantErr: true,
		},
		// A peer's height is the one it told at the last timed sync; peers
		// all below the node have not moved on past it either.
		{
			name: "stale, peers below", snap: snap(stale, peers(monerod.Connection{State: "normal", Height: testHeight - 1})),
			status: StatusWarn, output: OutputNetworkSlow, wantErr: true,
		},
		{
			name:   "stale, a peer not yet in state normal, at our height",
			snap:   snap(stale, peers(monerod.Connection{State: "synchronizing", Height: testHeight})),
			status: StatusWarn, output: OutputNetworkSlow, wantErr: true,
		},
		{
			name: "custom max age, at peers' best", snap: snap(at(90 * time.Second)), cfg: func(c *Config) { c.LastBlockMaxAge = 60 * time.Second },
			status: StatusWarn, output: OutputNetworkSlow, wantErr: true,
		},
		// OFFSET is /api/v1's: /health compares whatever it says.
		{
			name: "OFFSET not an integer", snap: snap(), cfg: func(c *Config) { _, _ = c.SetOffsetFromEnv("abc", "") }, status: StatusOK,
		},
		{
			name: "OFFSET shorter than the tip's age", snap: snap(), cfg: func(c *Config) { _, _ = c.SetOffsetFromEnv("1", "minutes") }, status: StatusOK,
		},

		// Stale, and others have moved on, or whether they have cannot
		// be told: the node's fault, as far as a probe can know.
		{name: "stale, a peer one block ahead", snap: snap(stale, peerAhead), status: StatusError, output: OutputNoRecentBlocks, value: int64(2825), wantErr: true},
		{
			name: "one second past max age, a peer ahead", snap: snap(at(30*time.Minute+time.Second), peerAhead),
			status: StatusError, output: OutputNoRecentBlocks, value: int64(1801), wantErr: true,
		},
		{
			name: "stale, target height ahead", snap: snap(stale, func(s *snapshot.Snapshot) { s.Info.TargetHeight = testHeight + 1 }),
			status: StatusError, output: OutputNoRecentBlocks, wantErr: true,
		},
		{name: "stale, no peers", snap: snap(stale, noPeers), status: StatusError, output: OutputNoRecentBlocks, wantErr: true},
		{
			name: "stale, no peer has told its height", snap: snap(stale, peers(monerod.Connection{State: "before_handshake"})),
			status: StatusError, output: OutputNoRecentBlocks, wantErr: true,
		},
		// A restricted node hides its peers: a slow network cannot be told
		// from a node cut off from it, which also sees no higher block.
		{name: "stale, restricted node", snap: snap(stale, restricted), status: StatusError, output: OutputNoRecentBlocks, wantErr: true},
		{name: "stale, get_connections refused", snap: snap(stale, func(s *snapshot.Snapshot) {
			s.Connections = nil
			s.ConnectionsErr = fmt.Errorf("get_connections: %w: JSON-RPC error -32601: Method not found", monerod.ErrMethodNotAvailable)
		}), status: StatusError, output: OutputNoRecentBlocks, wantErr: true},
		{name: "stale, get_connections timed out", snap: snap(stale, func(s *snapshot.Snapshot) {
			s.Connections, s.ConnectionsErr = nil, fmt.Errorf("get_connections: %w", monerod.ErrTimeout)
		}), status: StatusError, output: OutputNoRecentBlocks, wantErr: true},
		{name: "stale, connections not fetched", snap: snap(stale, func(s *snapshot.Snapshot) {
			s.Connections = nil
			s.Collectors = map[string]snapshot.CollectorStatus{}
		}), status: StatusError, output: OutputNoRecentBlocks, wantErr: true},
		{
			name: "genesis of a fresh chain, a peer ahead", snap: snap(peerAhead, func(s *snapshot.Snapshot) { s.LastBlock.Timestamp = 0 }),
			status: StatusError, output: OutputNoRecentBlocks, wantErr: true,
		},

		{name: "unreachable", snap: snap(unreachable), status: StatusUnknown, output: "Cannot determine last block's age: ...", wantErr: true},
		{name: "call failed", snap: snap(func(s *snapshot.Snapshot) {
			s.LastBlock, s.LastBlockErr = nil, fmt.Errorf("get_last_block_header: %w", monerod.ErrTimeout)
		}), status: StatusUnknown, output: "Cannot determine last block's age: get_last_block_header: timed out waiting for monerod", wantErr: true},
	})
}

// TestCheckLastBlockV1 is /api/v1's last_block, the old service's rule: the
// age against OFFSET/OFFSET_UNIT (12 minutes by default) alone, whatever the
// peers say.
func TestCheckLastBlockV1(t *testing.T) {
	at := func(age time.Duration) func(*snapshot.Snapshot) {
		return func(s *snapshot.Snapshot) { s.LastBlock.Timestamp = testTime().Add(-age).Unix() }
	}
	v1 := func(rep *Report) (Result, bool) { return rep.V1LastBlock, rep.V1LastBlock.Check == CheckLastBlock }
	runResultCases(t, v1, []checkCase{
		{name: "recent", snap: snap(), status: StatusOK, value: int64(503), unit: "s"},
		{name: "exactly max age", snap: snap(at(12 * time.Minute)), status: StatusOK, value: int64(720)},
		{
			name: "one second past max age", snap: snap(at(12*time.Minute + time.Second)), status: StatusError,
			output: OutputNoRecentBlocks, value: int64(721), wantErr: true,
		},
		// At the peers' best height: /health warns, the old API knew no
		// such thing.
		{name: "stale, at peers' best", snap: snap(stale), status: StatusError, output: OutputNoRecentBlocks, value: int64(2825), wantErr: true},
		{
			name: "custom max age", snap: snap(at(90 * time.Second)), cfg: func(c *Config) { c.V1LastBlockMaxAge = 60 * time.Second },
			status: StatusError, output: OutputNoRecentBlocks, wantErr: true,
		},
		{
			name: "--health.last-block-max-age does not count", snap: snap(at(90 * time.Second)), cfg: func(c *Config) { c.LastBlockMaxAge = 60 * time.Second },
			status: StatusOK,
		},
		{
			name: "OFFSET in seconds", snap: snap(at(90 * time.Second)), cfg: func(c *Config) { _, _ = c.SetOffsetFromEnv("60", "seconds") },
			status: StatusError, output: OutputNoRecentBlocks, wantErr: true,
		},
		{
			name: "genesis of a fresh chain", snap: snap(func(s *snapshot.Snapshot) { s.LastBlock.Timestamp = 0 }),
			status: StatusError, output: OutputNoRecentBlocks, wantErr: true,
		},
		{name: "in the future", snap: snap(at(-5 * time.Minute)), status: StatusOK, value: int64(0)},
		{name: "sub-second clock does not count", snap: snap(at(12*time.Minute), func(s *snapshot.Snapshot) {
			s.Time = s.Time.Add(900 * time.Millisecond)
		}), status: StatusOK},
		{name: "unreachable", snap: snap(unreachable), status: StatusUnknown, output: "Cannot determine last block's age: ...", wantErr: true},
		{name: "call failed", snap: snap(func(s *snapshot.Snapshot) {
			s.LastBlock, s.LastBlockErr = nil, fmt.Errorf("get_last_block_header: %w", monerod.ErrTimeout)
		}), status: StatusUnknown, output: "Cannot determine last block's age: get_last_block_header: timed out waiting for monerod", wantErr: true},
		{
			name: "not asked", snap: snap(func(s *snapshot.Snapshot) { s.LastBlock = nil }), status: StatusUnknown,
			output: "Cannot determine last block's age: get_last_block_header was not asked", wantErr: true,
		},
		// OFFSET that is not an integer: never compared, as in the old service.
		{
			name: "OFFSET not an integer", snap: snap(), cfg: func(c *Config) { _, _ = c.SetOffsetFromEnv("abc", "") }, status: StatusUnknown,
			output: "Cannot determine last block's age: invalid literal for int() with base 10: 'abc'", wantErr: true,
		},
		{
			name: "OFFSET not an integer, monerod down", snap: snap(unreachable), cfg: func(c *Config) { _, _ = c.SetOffsetFromEnv("abc", "") },
			status: StatusUnknown, output: "Cannot determine last block's age: get_info: monerod unreachable: ...", wantErr: true,
		},
	})
}

func TestCheckPeers(t *testing.T) {
	peers := func(conns ...monerod.Connection) func(*snapshot.Snapshot) {
		return func(s *snapshot.Snapshot) { s.Connections = conns }
	}
	runCheckCases(t, CheckPeers, []checkCase{
		{name: "two synced", snap: snap(), status: StatusOK, value: 2, unit: "peers"},
		{name: "no peers", snap: snap(noPeers), status: StatusError, output: OutputNoSyncedPeer, value: 0},
		{
			name: "peer not in state normal", snap: snap(peers(monerod.Connection{State: "synchronizing", Height: testHeight})),
			status: StatusError, output: OutputNoSyncedPeer, value: 0,
		},
		{
			name: "peer too far behind", snap: snap(peers(monerod.Connection{State: "normal", Height: testHeight - 11})),
			status: StatusError, output: OutputNoSyncedPeer,
		},
		{
			name: "peer just within max blocks behind", snap: snap(peers(monerod.Connection{State: "normal", Height: testHeight - 10})),
			status: StatusOK, value: 1,
		},
		{
			name: "peer too far ahead", snap: snap(peers(monerod.Connection{State: "normal", Height: testHeight + 11})),
			status: StatusError, output: OutputNoSyncedPeer,
		},
		{
			name: "fewer than min peers", snap: snap(), cfg: func(c *Config) { c.MinPeers = 3 },
			status: StatusError, output: "Node has 2 synced peers, fewer than 3", value: 2,
		},
		{name: "min peers 0", snap: snap(noPeers), cfg: func(c *Config) { c.MinPeers = 0 }, status: StatusOK, value: 0},
		{
			name: "custom max blocks behind", snap: snap(peers(monerod.Connection{State: "normal", Height: testHeight - 3})),
			cfg: func(c *Config) { c.MaxBlocksBehind = 2 }, status: StatusError, output: OutputNoSyncedPeer,
		},
		{name: "restricted node", snap: snap(restricted), status: StatusWarn, output: OutputPeersRestricted},
		{
			name: "restricted flag alone", snap: snap(func(s *snapshot.Snapshot) { s.Info.Restricted = true }),
			status: StatusWarn, output: OutputPeersRestricted,
		},
		{name: "get_connections refused", snap: snap(func(s *snapshot.Snapshot) {
			s.Connections = nil
			s.ConnectionsErr = fmt.Errorf("get_connections: %w: JSON-RPC error -32601: Method not found", monerod.ErrMethodNotAvailable)
		}), status: StatusWarn, output: OutputPeersRestricted},
		{name: "connections skipped after a refusal", snap: snap(func(s *snapshot.Snapshot) {
			s.Connections = nil
			s.Collectors[snapshot.Connections.Name] = snapshot.CollectorStatus{Skipped: true}
		}), status: StatusWarn, output: OutputPeersRestricted},
		{name: "get_connections timed out", snap: snap(func(s *snapshot.Snapshot) {
			s.Connections, s.ConnectionsErr = nil, fmt.Errorf("get_connections: %w", monerod.ErrTimeout)
		}), status: StatusUnknown, output: "Cannot determine peers: get_connections: timed out waiting for monerod", wantErr: true},
		{name: "connections not fetched", snap: snap(func(s *snapshot.Snapshot) {
			s.Connections = nil
			s.Collectors = map[string]snapshot.CollectorStatus{}
		}), status: StatusUnknown, output: `Cannot determine peers: get_connections was not asked (the snapshot does not fetch connections)`, wantErr: true},
		{name: "unreachable", snap: snap(unreachable), status: StatusUnknown, output: "Cannot determine peers: ...", wantErr: true},
	})
}

func TestCheckSync(t *testing.T) {
	target := func(h uint64) func(*snapshot.Snapshot) {
		return func(s *snapshot.Snapshot) { s.Info.TargetHeight = h }
	}
	peerAt := func(h uint64) func(*snapshot.Snapshot) {
		return func(s *snapshot.Snapshot) {
			s.Connections = append(s.Connections, monerod.Connection{State: "synchronizing", Height: h})
		}
	}
	notSynced := func(s *snapshot.Snapshot) { s.Info.Synchronized = false }
	connErr := func(s *snapshot.Snapshot) {
		s.Connections, s.ConnectionsErr = nil, fmt.Errorf("get_connections: %w", monerod.ErrUnreachable)
	}
	runCheckCases(t, CheckSync, []checkCase{
		{name: "synced", snap: snap(), status: StatusOK, value: uint64(0), unit: "blocks"},
		{name: "target height 0 once synced", snap: snap(target(0)), status: StatusOK, value: uint64(0)},
		{name: "not synchronized", snap: snap(notSynced), status: StatusError, output: OutputNotSynchronized},
		{
			name: "target far ahead", snap: snap(target(testHeight + 11)), status: StatusError,
			output: OutputPeerFarAhead, value: uint64(11), wantErr: true,
		},
		{name: "target just within max", snap: snap(target(testHeight + 10)), status: StatusOK, value: uint64(10)},
		{
			name: "peer far ahead", snap: snap(peerAt(testHeight + 500)), status: StatusError,
			output: OutputPeerFarAhead, value: uint64(500), wantErr: true,
		},
		{
			name: "peer far ahead and not synchronized", snap: snap(peerAt(testHeight+500), notSynced), status: StatusError,
			output: OutputPeerFarAhead, wantErr: true,
		},
		{name: "peer behind", snap: snap(peerAt(testHeight - 500)), status: StatusOK, value: uint64(0)},
		{
			name: "custom max blocks behind", snap: snap(target(testHeight + 3)), cfg: func(c *Config) { c.MaxBlocksBehind = 2 },
			status: StatusError, output: OutputPeerFarAhead, wantErr: true,
		},
		{name: "restricted: target height alone", snap: snap(restricted), status: StatusOK},
		{name: "restricted and behind", snap: snap(restricted, target(testHeight+50)), status: StatusError, output: OutputPeerFarAhead, wantErr: true},
		{name: "connections not fetched: target height alone", snap: snap(func(s *snapshot.Snapshot) {
			s.Connections, s.Collectors = nil, map[string]snapshot.CollectorStatus{}
		}), status: StatusOK},
		{
			name: "peers unknown", snap: snap(connErr), status: StatusUnknown,
			output: "Cannot determine sync status: get_connections: monerod unreachable", wantErr: true,
		},
		{name: "peers unknown but not synchronized", snap: snap(connErr, notSynced), status: StatusError, output: OutputNotSynchronized},
		{
			name: "peers unknown but target far ahead", snap: snap(connErr, target(testHeight+20)), status: StatusError,
			output: OutputPeerFarAhead, wantErr: true,
		},
		{name: "unreachable", snap: snap(unreachable), status: StatusUnknown, output: "Cannot determine sync status: ...", wantErr: true},
	})
}

func TestCheckP2P(t *testing.T) {
	withAddr := func(c *Config) { c.P2PAddress = "127.0.0.1:18080" }
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	runCheckCases(t, CheckP2P, []checkCase{
		{name: "open", snap: snap(withP2P(nil)), cfg: withAddr, status: StatusOK, value: int64(3), unit: "ms"},
		{
			name: "refused", snap: snap(withP2P(refused)), cfg: withAddr, status: StatusError,
			output: OutputP2PUnreachable + ": dial tcp: connection refused", wantErr: true,
		},
		{
			name: "reset", snap: snap(withP2P(&net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNRESET})), cfg: withAddr, status: StatusError,
			output: OutputP2PUnreachable + ": dial tcp: connection reset by peer", wantErr: true,
		},
		// The old service: a refusal fails, any other failure is unknown.
		{
			name: "timeout", snap: snap(withP2P(&net.OpError{Op: "dial", Net: "tcp", Err: errors.New("i/o timeout")})), cfg: withAddr,
			status: StatusUnknown, output: "Cannot determine P2P status: ...", wantErr: true,
		},
		{
			name: "no route", snap: snap(withP2P(&net.OpError{Op: "dial", Net: "tcp", Err: syscall.EHOSTUNREACH})), cfg: withAddr,
			status: StatusUnknown, output: "Cannot determine P2P status: dial tcp: no route to host", wantErr: true,
		},
		{
			name: "name does not resolve", snap: snap(withP2P(&net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Err: "no such host", Name: "node.invalid"}})),
			cfg: withAddr, status: StatusUnknown, output: "Cannot determine P2P status: ...", wantErr: true,
		},
		{name: "not dialled", snap: snap(), cfg: withAddr, status: StatusUnknown, output: "Cannot determine P2P status: ...", wantErr: true},
		{name: "monerod RPC down does not matter", snap: snap(unreachable, withP2P(nil)), cfg: withAddr, status: StatusOK},
	})
	t.Run("absent without an address", func(t *testing.T) {
		rep := Evaluate(snap(withP2P(nil)), testConfig())
		if res, ok := rep.Result(CheckP2P); ok {
			t.Errorf("p2p result without P2PAddress: %+v", res)
		}
	})
}

func TestPeerStats(t *testing.T) {
	for _, tc := range []struct {
		name string
		snap *snapshot.Snapshot
		want *PeerStats
	}{
		{"two synced", snap(), &PeerStats{Total: 2, Synced: 2, MaxHeight: testHeight}},
		{"no peers", snap(noPeers), &PeerStats{}},
		{"mixed", snap(func(s *snapshot.Snapshot) {
			s.Connections = append(s.Connections,
				monerod.Connection{State: "synchronizing", Height: testHeight + 40},
				monerod.Connection{State: "before_handshake"})
		}), &PeerStats{Total: 4, Synced: 2, MaxHeight: testHeight + 40}},
		{"restricted", snap(restricted), nil},
		{"unreachable", snap(unreachable), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Evaluate(tc.snap, testConfig()).Peers
			if (got == nil) != (tc.want == nil) || (got != nil && *got != *tc.want) {
				t.Errorf("Peers = %+v, want %+v", got, tc.want)
			}
		})
	}
}

// TestOverall covers every combination of the statuses of two enabled
// checks, and checks that disabled checks do not count.
func TestOverall(t *testing.T) {
	// A fresh snapshot giving peers each status while monerod stays OK.
	peersStatus := func(st Status) *snapshot.Snapshot {
		switch st {
		case StatusWarn:
			return snap(restricted)
		case StatusError:
			return snap(noPeers)
		case StatusUnknown:
			return snap(func(s *snapshot.Snapshot) { s.Connections, s.ConnectionsErr = nil, monerod.ErrTimeout })
		}
		return snap()
	}
	for _, ps := range Statuses() {
		for _, ls := range Statuses() {
			if ls == StatusWarn && ps != StatusOK {
				continue // a stale tip warns only beside visible peers
			}
			t.Run(ps.String()+"+"+ls.String(), func(t *testing.T) {
				s := peersStatus(ps)
				switch ls {
				case StatusWarn:
					stale(s)
				case StatusError:
					stale(s)
					if ps == StatusOK {
						peerAhead(s) // else no peer can be seen: stale fails
					}
				case StatusUnknown:
					s.LastBlock, s.LastBlockErr = nil, monerod.ErrTimeout
				}
				cfg := testConfig()
				cfg.Checks = []string{CheckPeers, CheckLastBlock}
				rep := Evaluate(s, cfg)
				p, _ := rep.Result(CheckPeers)
				l, _ := rep.Result(CheckLastBlock)
				if p.Status != ps || l.Status != ls {
					t.Fatalf("setup: peers %v last_block %v, want %v %v", p.Status, l.Status, ps, ls)
				}
				want := Worst(ps, ls)
				if rep.Overall != want {
					t.Errorf("overall = %v, want %v", rep.Overall, want)
				}
			})
		}
	}
	t.Run("disabled checks do not count", func(t *testing.T) {
		cfg := testConfig()
		cfg.Checks = []string{CheckMonerod, CheckLastBlock}
		rep := Evaluate(snap(noPeers, func(s *snapshot.Snapshot) { s.Info.Synchronized = false }), cfg)
		if rep.Overall != StatusOK {
			t.Errorf("overall = %v, want ok", rep.Overall)
		}
		for _, res := range rep.Results {
			if want := res.Check == CheckMonerod || res.Check == CheckLastBlock; res.Enabled != want {
				t.Errorf("%s enabled = %v, want %v", res.Check, res.Enabled, want)
			}
		}
		if len(rep.Results) != 4 {
			t.Errorf("%d results, want 4 (every check is evaluated)", len(rep.Results))
		}
	})
	t.Run("default checks", func(t *testing.T) {
		cfg := testConfig()
		rep := Evaluate(snap(noPeers), cfg)
		if rep.Overall != StatusError {
			t.Errorf("overall = %v, want error (peers counts by default)", rep.Overall)
		}
		cfg.Checks = []string{CheckMonerod}
		cfg.P2PAddress = "127.0.0.1:18080"
		refused := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
		rep = Evaluate(snap(withP2P(refused)), cfg)
		if res, _ := rep.Result(CheckP2P); res.Enabled || res.Status != StatusError || rep.Overall != StatusOK {
			t.Errorf("p2p enabled = %v, status %v, overall = %v; want p2p dialled but not counted", res.Enabled, res.Status, rep.Overall)
		}
		cfg.Checks, cfg.ConsiderP2P = nil, true
		rep = Evaluate(snap(withP2P(refused)), cfg)
		if res, _ := rep.Result(CheckP2P); !res.Enabled || rep.Overall != StatusError {
			t.Errorf("p2p enabled = %v, overall = %v; want p2p on by default when it is considered", res.Enabled, rep.Overall)
		}
	})
	t.Run("unreachable", func(t *testing.T) {
		rep := Evaluate(snap(unreachable), testConfig())
		for _, res := range rep.Results {
			if res.Status != StatusUnknown {
				t.Errorf("%s = %v, want unknown", res.Check, res.Status)
			}
		}
		if rep.Overall != StatusUnknown {
			t.Errorf("overall = %v, want unknown", rep.Overall)
		}
	})
	t.Run("time is the snapshot's", func(t *testing.T) {
		if rep := Evaluate(snap(), testConfig()); !rep.Time.Equal(testTime()) {
			t.Errorf("report time %v, want %v", rep.Time, testTime())
		}
	})
}

// withChain sets what the references answered, compared at the tip.
func withChain(answers ...snapshot.ReferenceAnswer) func(*snapshot.Snapshot) {
	return func(s *snapshot.Snapshot) {
		s.Chain = &snapshot.Chain{Height: testHeight - 1, Hash: testTipHash, References: answers}
	}
}

// ref is a reference at height with hash at our height ("" : its chain is
// shorter, or it failed with err).
func ref(name string, height uint64, hash string, err error) snapshot.ReferenceAnswer {
	return snapshot.ReferenceAnswer{Name: name, Height: height, Hash: hash, Err: err}
}

const otherHash = "0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f"

func TestCheckChain(t *testing.T) {
	refs := func(c *Config) { c.References = []string{"a", "b", "c"} }
	down := fmt.Errorf("get_last_block_header: %w: connection refused", monerod.ErrUnreachable)
	runCheckCases(t, CheckChain, []checkCase{
		{
			name: "same tip", snap: snap(withChain(ref("a", testHeight, testTipHash, nil), ref("b", testHeight, testTipHash, nil))), cfg: refs,
			status: StatusOK, value: uint64(0), unit: "blocks",
		},
		{
			name: "references ahead on our chain", snap: snap(withChain(ref("a", testHeight+2, testTipHash, nil), ref("b", testHeight+1, testTipHash, nil))), cfg: refs,
			status: StatusOK, value: uint64(2), unit: "blocks",
		},
		{
			name: "a shorter reference cannot tell", snap: snap(withChain(ref("a", testHeight-3, "", nil))), cfg: refs,
			status: StatusOK, value: uint64(0),
		},
		{
			name: "on a fork", snap: snap(withChain(ref("a", testHeight+2, otherHash, nil), ref("b", testHeight, otherHash, nil))), cfg: refs,
			status: StatusError, output: OutputOnFork + " (a, b)", value: uint64(2), wantErr: true,
		},
		{
			name: "on a fork by a majority", snap: snap(withChain(ref("a", testHeight, otherHash, nil), ref("b", testHeight, otherHash, nil), ref("c", testHeight, testTipHash, nil))), cfg: refs,
			status: StatusError, output: OutputOnFork + " (a, b)", wantErr: true,
		},
		{
			name: "one reference against one", snap: snap(withChain(ref("a", testHeight, otherHash, nil), ref("b", testHeight+1, testTipHash, nil))), cfg: refs,
			status: StatusWarn, output: OutputReferencesSplit + " (a against b)", value: uint64(1), wantErr: true,
		},
		{
			name: "a fork seen by a lower reference does not count", snap: snap(withChain(ref("a", testHeight-1, "", nil), ref("b", testHeight, testTipHash, nil))), cfg: refs,
			status: StatusOK,
		},
		{
			name: "behind", snap: snap(withChain(ref("a", testHeight+11, testTipHash, nil), ref("b", testHeight, testTipHash, nil))), cfg: refs,
			status: StatusError, output: OutputBehindReferences, value: uint64(11), wantErr: true,
		},
		{
			name: "behind by the most allowed", snap: snap(withChain(ref("a", testHeight+10, testTipHash, nil))), cfg: refs,
			status: StatusOK, value: uint64(10),
		},
		{
			name: "behind with a threshold of its own", snap: snap(withChain(ref("a", testHeight+3, testTipHash, nil))),
			cfg:    func(c *Config) { refs(c); c.MaxBlocksBehindReference = 2 },
			status: StatusError, output: OutputBehindReferences, value: uint64(3), wantErr: true,
		},
		{
			name: "the fork is said before the lag", snap: snap(withChain(ref("a", testHeight+50, otherHash, nil))), cfg: refs,
			status: StatusError, output: OutputOnFork + " (a)", value: uint64(50), wantErr: true,
		},
		{
			name: "one reference answers", snap: snap(withChain(ref("a", 0, "", down), ref("b", testHeight, testTipHash, nil))), cfg: refs,
			status: StatusOK,
		},
		{
			name: "the header call failed", snap: snap(withChain(ref("a", testHeight+1, "", down))), cfg: refs,
			status: StatusOK, value: uint64(1),
		},
		{
			name: "no reference answers", snap: snap(withChain(ref("a", 0, "", down), ref("b", 0, "", down))), cfg: refs,
			status: StatusWarn, output: OutputNoReference, wantErr: true,
		},
		{name: "node down", snap: snap(unreachable), cfg: refs, status: StatusUnknown, output: "Cannot determine chain against the reference nodes: ...", wantErr: true},
		{name: "references not asked", snap: snap(), cfg: refs, status: StatusUnknown, output: "Cannot determine chain against the reference nodes: ...", wantErr: true},
	})
	t.Run("absent without references", func(t *testing.T) {
		rep := Evaluate(snap(withChain(ref("a", testHeight, otherHash, nil))), testConfig())
		if res, ok := rep.Result(CheckChain); ok {
			t.Errorf("chain result without references: %+v", res)
		}
	})
	t.Run("counts only when listed", func(t *testing.T) {
		cfg := testConfig()
		refs(&cfg)
		forked := snap(withChain(ref("a", testHeight, otherHash, nil)))
		if rep := Evaluate(forked, cfg); rep.Overall != StatusOK {
			t.Errorf("overall %v with chain evaluated but not listed, want ok", rep.Overall)
		}
		cfg.Checks = []string{CheckMonerod, CheckChain}
		if rep := Evaluate(forked, cfg); rep.Overall != StatusError {
			t.Errorf("overall %v with chain listed, want error", rep.Overall)
		}
	})
}
