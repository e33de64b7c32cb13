package health

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/monero-ops/monero_exporter/monerod"
	"github.com/monero-ops/monero_exporter/snapshot"
)

// testTime is the moment every unit-test snapshot describes.
func testTime() time.Time { return time.Date(2020, 1, 7, 15, 6, 37, 0, time.UTC) }

const (
	testTipHash = "b105d4c44e0a4d7e0cadcf3997ee4947b895983341d05969d29c3c119c9bee08"
	testHeight  = 2013418
)

// snap builds a healthy snapshot of an unrestricted node with two synced
// peers, then applies the modifications.
func snap(mods ...func(*snapshot.Snapshot)) *snapshot.Snapshot {
	version := "0.18.0.0-release"
	hf := &monerod.HardForkInfo{Version: 16, Enabled: true}
	hf.Status = "OK"
	s := &snapshot.Snapshot{
		Time: testTime(),
		Info: &monerod.Info{
			Height:       testHeight,
			Synchronized: true,
			Nettype:      "mainnet",
			TopBlockHash: testTipHash,
			Version:      &version,
		},
		LastBlock: &monerod.BlockHeader{
			Hash:      testTipHash,
			Height:    testHeight - 1,
			Timestamp: testTime().Add(-8*time.Minute - 23*time.Second).Unix(),
		},
		HardFork: hf,
		Connections: []monerod.Connection{
			{State: "normal", Height: testHeight},
			{State: "normal", Height: testHeight - 1, Incoming: true},
		},
		Collectors: map[string]snapshot.CollectorStatus{snapshot.Connections.Name: {}},
	}
	for _, m := range mods {
		m(s)
	}
	return s
}

// Modifications for snap.

func unreachable(s *snapshot.Snapshot) {
	*s = snapshot.Snapshot{
		Time: testTime(),
		InfoErr: fmt.Errorf("get_info: %w: %w", monerod.ErrUnreachable,
			errors.New(`Post "http://127.0.0.1:18081/json_rpc": dial tcp 127.0.0.1:18081: connect: connection refused`)),
		Collectors: map[string]snapshot.CollectorStatus{},
	}
}

func stale(s *snapshot.Snapshot) {
	s.LastBlock.Timestamp = testTime().Add(-47*time.Minute - 5*time.Second).Unix()
}

// peerAhead adds a peer one block ahead of the node: not far enough to
// fail the sync check, enough to make a stale tip the node's fault.
func peerAhead(s *snapshot.Snapshot) {
	s.Connections = append(s.Connections, monerod.Connection{State: "normal", Height: testHeight + 1})
}

func restricted(s *snapshot.Snapshot) {
	s.Info.Restricted = true
	s.Info.Version = nil
	s.Version = &monerod.Version{Version: 3<<16 | 11, Release: true}
	s.Connections = nil
	s.Collectors = map[string]snapshot.CollectorStatus{snapshot.Connections.Name: {Skipped: true}}
}

func hardForkBusy(s *snapshot.Snapshot) {
	s.HardFork = nil
	s.HardForkErr = fmt.Errorf("hard_fork_info: %w: status %q", monerod.ErrBadResponse, "BUSY")
}

func noPeers(s *snapshot.Snapshot) { s.Connections = []monerod.Connection{} }

func withP2P(err error) func(*snapshot.Snapshot) {
	return func(s *snapshot.Snapshot) {
		s.P2PChecked, s.P2PErr, s.P2PTook = true, err, 3*time.Millisecond
	}
}

// fixedGetter always hands out the same snapshot.
type fixedGetter struct{ snap *snapshot.Snapshot }

func (g fixedGetter) Get(_ context.Context) *snapshot.Snapshot { return g.snap }

func testConfig() Config {
	cfg := DefaultConfig()
	cfg.DaemonAddress = "127.0.0.1:18081"
	cfg.ExporterVersion = "1.2.3"
	return cfg
}

func timedOutRPC(s *snapshot.Snapshot) {
	*s = snapshot.Snapshot{
		Time: testTime(),
		InfoErr: fmt.Errorf("get_info: %w: %w", monerod.ErrTimeout,
			errors.New(`Post "http://127.0.0.1:18081/json_rpc": context deadline exceeded`)),
		Collectors: map[string]snapshot.CollectorStatus{},
	}
}

func wrongLogin(s *snapshot.Snapshot) {
	*s = snapshot.Snapshot{
		Time:       testTime(),
		InfoErr:    fmt.Errorf("get_info: %w", monerod.ErrUnauthorized),
		Collectors: map[string]snapshot.CollectorStatus{},
	}
}
