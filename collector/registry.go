package collector

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/monero-ops/monero_exporter/health"
	"github.com/monero-ops/monero_exporter/monerod"
	"github.com/monero-ops/monero_exporter/snapshot"
)

// Definition is one optional collector, everything about it in one place:
// its name (the --collector.NAME flag and the collector label), whether it
// is on by default, what it exports, what it asks monerod (and whether a
// restricted node allows it), and its metrics. Each is registered by the
// file that bears its name, as node_exporter's registerCollector does.
type Definition struct {
	// Name switches the collector (--collector.NAME) and labels its
	// status (monero_scrape_collector_success{collector="NAME"}).
	Name string
	// Default tells whether it is on without a flag.
	Default bool
	// Summary says in a few words what the collector exports.
	Summary string
	// Note, when set, adds to the help what the calls alone do not say
	// (when a call is skipped, what a restricted node shows).
	Note string
	// Snapshot is what it asks monerod for a snapshot; its Name is Name.
	Snapshot snapshot.Collector

	// newFetch, when set, makes the Fetch of each source's copy of
	// Snapshot: a collector that remembers what it learnt of a node from
	// one snapshot to the next (the pool's transactions) keeps it per node.
	newFetch func() fetchFunc

	// descs are the descriptors of the metrics emit sends.
	descs []*prometheus.Desc
	// emit sends the metrics of one snapshot.
	emit func(ch chan<- prometheus.Metric, s *snapshot.Snapshot)
	// newEvents, when set, makes the collector's metrics of events (a
	// block mined): they live as long as the Collector and see every
	// snapshot once (snapshot.Source.Observe).
	newEvents func() events
	// neededByHealth, when set, tells whether the health checks read the
	// collector's data, which is then fetched even with the collector off
	// (its metrics stay off).
	neededByHealth func(health.Config) bool
}

// events are metrics of events that live as long as the process
// (histograms), as opposed to those made afresh from each snapshot. observe
// is called once for every snapshot the source builds, before any scrape
// reads it, so that each event is counted once however many scrapes, or
// health probes, share the snapshot.
type events interface {
	prometheus.Collector
	observe(s *snapshot.Snapshot)
}

// Help is the collector's --collector.NAME help, built from the
// definition: whether it is on by default, what it exports, the RPC calls it
// makes, when, and on which nodes.
func (d *Definition) Help() string {
	state := "off"
	if d.Default {
		state = "on"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "The %s collector (%s by default): %s. Calls %s", d.Name, state, d.Summary, strings.Join(d.Snapshot.Methods, ", "))
	if d.Snapshot.TipBound {
		b.WriteString(" when the tip changes")
	}
	if d.Snapshot.UnrestrictedOnly {
		b.WriteString("; unrestricted nodes only")
	}
	b.WriteString(".")
	if d.Note != "" {
		b.WriteString(" " + d.Note + ".")
	}
	return b.String()
}

// fetchFunc is the type of snapshot.Collector.Fetch.
type fetchFunc = func(ctx context.Context, c *monerod.Client, cur, prev *snapshot.Snapshot) error

// snapshotCollector is what a new source fetches for the collector.
func (d *Definition) snapshotCollector() snapshot.Collector {
	sc := d.Snapshot
	if d.newFetch != nil {
		sc.Fetch = d.newFetch()
	}
	return sc
}

// registry holds every optional collector, by name.
var registry = map[string]*Definition{}

// registerCollector adds a collector to the registry; each collector's
// file calls it from init. A duplicate or incomplete definition is a
// programming error, so it panics at start.
func registerCollector(d Definition) {
	switch {
	case d.Name == "" || d.Summary == "" || d.emit == nil || len(d.descs) == 0 || len(d.Snapshot.Methods) == 0 ||
		(d.Snapshot.Fetch == nil) == (d.newFetch == nil):
		panic(fmt.Sprintf("collector %q: incomplete definition", d.Name))
	case registry[d.Name] != nil || d.Name == snapshot.InfoCollector:
		panic(fmt.Sprintf("collector %q registered twice", d.Name))
	}
	d.Snapshot.Name = d.Name
	registry[d.Name] = &d
}

// Definitions lists the optional collectors, sorted by name.
func Definitions() []*Definition {
	defs := make([]*Definition, 0, len(registry))
	for _, d := range registry {
		defs = append(defs, d)
	}
	slices.SortFunc(defs, func(a, b *Definition) int { return cmp.Compare(a.Name, b.Name) })
	return defs
}

// Names lists the optional collectors' names, sorted.
func Names() []string {
	var names []string
	for _, d := range Definitions() {
		names = append(names, d.Name)
	}
	return names
}

// lookup returns the definitions of names, in their order.
func lookup(names []string) ([]*Definition, error) {
	defs := make([]*Definition, 0, len(names))
	for _, n := range names {
		d := registry[n]
		if d == nil {
			return nil, fmt.Errorf("unknown collector %q", n)
		}
		defs = append(defs, d)
	}
	return defs, nil
}

// SnapshotCollectors returns what a snapshot must fetch for the named
// collectors, and for the health checks of h (nil: none) when they read a
// collector's data that is off.
func SnapshotCollectors(names []string, h *health.Config) ([]snapshot.Collector, error) {
	defs, err := lookup(names)
	if err != nil {
		return nil, err
	}
	out := make([]snapshot.Collector, 0, len(defs))
	for _, d := range defs {
		out = append(out, d.snapshotCollector())
	}
	for _, d := range Definitions() {
		if h != nil && d.neededByHealth != nil && d.neededByHealth(*h) && !slices.Contains(names, d.Name) {
			out = append(out, d.snapshotCollector())
		}
	}
	return out, nil
}
