package snapshot

import (
	"context"

	"github.com/monero-ops/monero_exporter/monerod"
)

// Part names. "info" (get_info, the last block header, hard_fork_info) is
// always fetched; the others only when a Config names them.
const (
	PartInfo        = "info"
	PartConnections = "connections"
)

// part is an optional piece of a snapshot: the calls it makes and where it
// puts their answers.
type part struct {
	name string
	// unrestrictedOnly parts are not asked of restricted nodes at all.
	unrestrictedOnly bool
	fetch            func(ctx context.Context, c *monerod.Client, snap *Snapshot) error
}

var knownParts = map[string]part{
	PartConnections: {
		name:             PartConnections,
		unrestrictedOnly: true,
		fetch: func(ctx context.Context, c *monerod.Client, snap *Snapshot) error {
			var conns []monerod.Connection
			err := snap.call(monerod.MethodGetConnections, func() (err error) {
				conns, err = c.GetConnections(ctx)
				return err
			})
			snap.mu.Lock()
			snap.Connections, snap.ConnectionsErr = conns, err
			snap.mu.Unlock()
			return err
		},
	},
}

// PartNames lists the optional parts a Config may name.
func PartNames() []string {
	names := make([]string, 0, len(knownParts))
	for n := range knownParts {
		names = append(names, n)
	}
	return names
}

func (s *Source) isRefused(name string) bool {
	s.refusedMu.Lock()
	defer s.refusedMu.Unlock()
	return s.refused[name]
}

// markRefused remembers that the node refused a part, telling OnRefused the
// first time only.
func (s *Source) markRefused(name string, err error) {
	s.refusedMu.Lock()
	first := !s.refused[name]
	s.refused[name] = true
	s.refusedMu.Unlock()
	if first && s.onRefused != nil {
		s.onRefused(name, err)
	}
}
