package snapshot

import (
	"context"
	"time"

	"github.com/monero-ops/monero_exporter/monerod"
)

// InfoCollector names what every snapshot asks (get_info, the last block
// header, hard_fork_info, and get_version on restricted nodes): the key of
// its status in Snapshot.Collectors. It cannot be switched off.
const InfoCollector = "info"

// Collector tells a Source how to ask monerod for one optional collector's
// data and where to put the answers. The collector package defines one for
// each of its optional collectors (Connections, which the health checks
// read too, is defined here); the Source runs those it is configured with.
// Each writes only its own fields of the Snapshot.
type Collector struct {
	// Name is the collector's name: its key in Snapshot.Collectors and its
	// collector label.
	Name string
	// Methods are the RPC methods Fetch may call, in the order it calls
	// them.
	Methods []string
	// UnrestrictedOnly collectors are not asked of restricted nodes at
	// all.
	UnrestrictedOnly bool
	// TipBound collectors depend only on the chain's tip: they run once
	// get_info has told the tip hash, and while it stays the same Carry
	// copies the previous snapshot's answer instead (reporting whether it
	// could).
	TipBound bool
	Carry    func(prev, cur *Snapshot) bool
	// Fetch asks monerod and fills cur. prev is the last snapshot in which
	// monerod answered get_info, or nil.
	Fetch func(ctx context.Context, c *monerod.Client, cur, prev *Snapshot) error
}

// Connections fills Snapshot.Connections from get_connections. It is the
// connections collector's, and the peers and sync health checks read it
// too, which is why it is defined below both.
var Connections = Collector{
	Name:             "connections",
	Methods:          []string{monerod.MethodGetConnections},
	UnrestrictedOnly: true,
	Fetch: func(ctx context.Context, c *monerod.Client, cur, _ *Snapshot) error {
		cur.Connections, cur.ConnectionsErr = RPC(cur, monerod.MethodGetConnections, func() ([]monerod.Connection, error) { return c.GetConnections(ctx) })
		return cur.ConnectionsErr
	},
}

// RPC makes one RPC call for the snapshot s and records it in s.Calls,
// which monero_rpc_call_success and ..._duration_seconds list. Every call a
// Collector's Fetch makes goes through it.
func RPC[T any](s *Snapshot, method string, fn func() (T, error)) (T, error) {
	start := time.Now()
	v, err := fn()
	took := time.Since(start)
	s.mu.Lock()
	s.Calls = append(s.Calls, Call{Method: method, Took: took, Err: err})
	s.mu.Unlock()
	return v, err
}

func (s *Source) isRefused(name string) bool {
	s.refusedMu.Lock()
	defer s.refusedMu.Unlock()
	return s.refused[name]
}

// markRefused remembers that the node refused a collector's calls, telling
// OnRefused the first time only.
func (s *Source) markRefused(name string, err error) {
	s.refusedMu.Lock()
	first := !s.refused[name]
	s.refused[name] = true
	s.refusedMu.Unlock()
	if first && s.onRefused != nil {
		s.onRefused(name, err)
	}
}
