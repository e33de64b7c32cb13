// Package snapshot asks monerod, once, everything the exporter needs to know
// at one moment, and shares that answer with every request that arrives while
// it is being fetched. Metrics and health are both computed from a Snapshot,
// so they always agree.
package snapshot

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/monero-ops/monero_exporter/monerod"
)

// Snapshot is what monerod answered at one moment. A nil pointer with a nil
// error means "not asked" (the collector is off, or the node does not offer
// it); a non-nil error means the call failed.
type Snapshot struct {
	// Time is when the fetch started: the moment the snapshot describes.
	Time time.Time
	// Took is how long the fetch took.
	Took time.Duration

	// Info is get_info; InfoErr is why it is missing. The node is "up"
	// exactly when Info is not nil.
	Info    *monerod.Info
	InfoErr error

	// LastBlock and HardFork change only with the tip, so they are reused
	// from the previous snapshot while the tip hash stays the same.
	LastBlock    *monerod.BlockHeader
	LastBlockErr error
	HardFork     *monerod.HardForkInfo
	HardForkErr  error
	// Version is get_version, asked only of restricted nodes, whose get_info
	// hides the daemon version.
	Version    *monerod.Version
	VersionErr error

	// Connections is get_connections (unrestricted nodes, when the
	// connections collector or a health check needs it).
	Connections    []monerod.Connection
	ConnectionsErr error

	// The optional collectors' answers, each filled by its Collector; nil
	// when not asked or failed (the collector's status in Collectors tells
	// which).
	TxPoolStats *monerod.TxPoolStats
	TxPoolTxs   *PoolTxs       // what the txpool collector knows of the pool's transactions
	Block       *monerod.Block // the tip, when the last_block collector is on
	BlockTxs    []monerod.Tx   // the tip's transactions
	// Blocks are the headers from the previous snapshot's tip to this
	// one's, oldest first, each the parent of the next (last_block
	// collector): Blocks[0], seen before, is the parent of the first new
	// block; then every block since (a bounded number: the latest ones).
	// Only the tip on the first snapshot and while the tip is the same.
	// Observers (Source.Observe) see each new block here first.
	Blocks    []monerod.BlockHeader
	NetStats  *monerod.NetStats
	PeerList  *monerod.PeerList
	Bans      []monerod.Ban
	RPCAccess []monerod.RPCAccess
	Mining    *monerod.MiningStatus
	Fee       *monerod.FeeEstimate

	// Chain is what the reference nodes said of the node's chain: their
	// heights, and their blocks at the node's height. Nil without
	// references, or when get_info failed.
	Chain *Chain

	// P2PErr is the result of a TCP connect to the node's P2P port (nil
	// on success), meaningful only when P2PChecked.
	P2PChecked bool
	P2PErr     error
	P2PTook    time.Duration

	// Calls lists every RPC call made for this snapshot, in completion order.
	Calls []Call
	// Collectors tells how each collector went, info included.
	Collectors map[string]CollectorStatus

	mu sync.Mutex
}

// PoolTxs is what the txpool collector knows of the pool's transactions at
// one snapshot. It learns each transaction's fee, size and arrival once,
// when the pool first lists it, a bounded number a snapshot: while it
// catches up with a large pool, it knows part of it.
type PoolTxs struct {
	// Known is how many transactions the collector knows.
	Known int
	// FeePerByte holds the known transactions' fees per byte in XMR,
	// sorted.
	FeePerByte []float64
	// ReceiveTimes holds their arrival times (Unix time), sorted; empty
	// where the node hides them (restricted RPC).
	ReceiveTimes []int64
}

// Up reports whether monerod answered get_info.
func (s *Snapshot) Up() bool { return s.Info != nil }

// DaemonVersion is the daemon's version from get_info or, on a restricted
// node, which hides it, the RPC version from get_version ("rpc-3.10"); empty
// when neither is known.
func (s *Snapshot) DaemonVersion() string {
	switch {
	case s.Info != nil && s.Info.Version != nil && *s.Info.Version != "":
		return *s.Info.Version
	case s.Version != nil:
		return "rpc-" + s.Version.String()
	}
	return ""
}

// Call is one RPC call made for a snapshot.
type Call struct {
	Method string
	Took   time.Duration
	Err    error
}

// CollectorStatus is how one collector's share of the snapshot went.
type CollectorStatus struct {
	Took time.Duration
	Err  error
	// Skipped: the node does not offer what the collector needs
	// (restricted RPC), so it was not asked; this is not a failure.
	Skipped bool
}

func (s *Snapshot) setStatus(name string, st CollectorStatus) {
	s.mu.Lock()
	s.Collectors[name] = st
	s.mu.Unlock()
}

// ErrNoAnswer is the snapshot error of a request whose own deadline passed
// before the shared fetch it joined had finished.
var ErrNoAnswer = errors.New("no answer from monerod within the deadline")

// Config configures a Source.
type Config struct {
	Client *monerod.Client
	// Collectors are the optional collectors to fetch besides "info"; the
	// collector package lists them (collector.SnapshotCollectors).
	Collectors []Collector
	// Timeout bounds a fetch whose context has no deadline.
	Timeout time.Duration
	// P2PAddress, when set, is dialled (TCP over IPv4, at most
	// P2PDialTimeout) in every snapshot to tell whether the node's P2P port
	// accepts connections.
	P2PAddress string
	// References, when set, are asked in every snapshot in which get_info
	// answers, beside the node's own calls and within the same deadline
	// (see References.Ask). One References may serve many Sources.
	References *References
	// OnRefused, when set, is called once each time a collector's calls
	// are first found refused by the node (for a log line).
	OnRefused func(collector string, err error)
	// OnFailing, when set, is called when a collector ("info" included)
	// starts failing, with its error, and when it works again, with nil:
	// once at each change, not for every snapshot (for a log line). It is
	// called from the fetch, one snapshot at a time.
	OnFailing func(collector string, err error)
}

// Source hands out snapshots of one monerod. Concurrent Get calls that arrive
// while a fetch is under way share its result, so a crowd of scrapers and
// probes costs the node one set of calls.
type Source struct {
	client     *monerod.Client
	p2pAddr    string
	collectors []Collector
	timeout    time.Duration
	onRefused  func(string, error)
	refs       *References // nil: none
	onFailing  func(string, error)

	mu       sync.Mutex
	inflight *flight

	// Touched only by the one fetch running at a time.
	prev       *Snapshot
	restricted *bool           // what the last get_info said
	failing    map[string]bool // collectors whose last run failed

	refusedMu sync.Mutex
	refused   map[string]bool // collectors the node refused

	observers []func(*Snapshot) // guarded by mu
}

type flight struct {
	done chan struct{}
	snap *Snapshot
}

// New builds a Source. A collector without a name or a Fetch, or named
// twice, is an error.
func New(cfg Config) (*Source, error) {
	if cfg.Client == nil {
		return nil, errors.New("snapshot: no client")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	s := &Source{
		client: cfg.Client, p2pAddr: cfg.P2PAddress, timeout: cfg.Timeout,
		onRefused: cfg.OnRefused, onFailing: cfg.OnFailing,
		refused: map[string]bool{}, failing: map[string]bool{},
	}
	if cfg.References.Len() > 0 {
		s.refs = cfg.References
	}
	seen := map[string]bool{InfoCollector: true}
	for _, c := range cfg.Collectors {
		switch {
		case c.Name == "" || c.Fetch == nil || (c.TipBound && c.Carry == nil):
			return nil, fmt.Errorf("snapshot: collector %q is incomplete", c.Name)
		case seen[c.Name]:
			return nil, fmt.Errorf("snapshot: collector %q given twice", c.Name)
		}
		seen[c.Name] = true
		s.collectors = append(s.collectors, c)
	}
	return s, nil
}

// Get returns a snapshot no older than the call: it joins a fetch already
// under way or starts one. The fetch is bounded by ctx's deadline (or the
// Source's timeout) but not cancelled with ctx, since others may share it.
// A request that joined someone else's fetch and whose ctx ends first gets a
// snapshot whose InfoErr says so.
func (s *Source) Get(ctx context.Context) *Snapshot {
	s.mu.Lock()
	f := s.inflight
	leader := f == nil
	if leader {
		f = &flight{done: make(chan struct{})}
		s.inflight = f
		deadline, ok := ctx.Deadline()
		if !ok {
			deadline = time.Now().Add(s.timeout)
		}
		fctx, cancel := context.WithDeadline(context.WithoutCancel(ctx), deadline)
		go func() {
			defer cancel()
			f.snap = s.fetch(fctx)
			s.mu.Lock()
			s.inflight = nil
			s.mu.Unlock()
			close(f.done)
		}()
	}
	s.mu.Unlock()
	if leader {
		// The fetch ends by this request's own deadline; waiting for it
		// keeps the record of which calls timed out.
		<-f.done
		return f.snap
	}
	select {
	case <-f.done:
		return f.snap
	case <-ctx.Done():
		return &Snapshot{
			Time:       time.Now(),
			InfoErr:    fmt.Errorf("%w: %w: %w", monerod.ErrTimeout, ErrNoAnswer, context.Cause(ctx)),
			Collectors: map[string]CollectorStatus{},
		}
	}
}

// fetch makes one snapshot: get_info and the tip-independent collectors in
// parallel; then, only when the tip hash changed, what depends on the tip.
func (s *Source) fetch(ctx context.Context) *Snapshot {
	snap := &Snapshot{Time: time.Now(), Collectors: make(map[string]CollectorStatus, len(s.collectors)+1)}
	var wg sync.WaitGroup
	infoDone := make(chan struct{})
	wg.Go(func() {
		defer close(infoDone)
		snap.Info, snap.InfoErr = RPC(snap, monerod.MethodGetInfo, func() (*monerod.Info, error) { return s.client.GetInfo(ctx) })
	})
	if s.p2pAddr != "" {
		wg.Go(func() { s.dialP2P(ctx, snap) })
	}
	// On the very first fetch the node's kind is unknown: wait for get_info
	// before asking what a restricted node would refuse. After that, the
	// last answer decides, and a refusal is caught as it comes.
	prev := s.prev
	known := s.restricted != nil
	if known {
		s.startCollectors(ctx, &wg, snap, prev, *s.restricted, false)
	}
	<-infoDone
	if info := snap.Info; info != nil {
		lifted := known && *s.restricted && !info.Restricted // restarted without --restricted-rpc
		if lifted {
			s.refusedMu.Lock()
			clear(s.refused)
			s.refusedMu.Unlock()
		}
		s.restricted = &info.Restricted
		switch {
		case !known:
			s.startCollectors(ctx, &wg, snap, prev, info.Restricted, false)
		case lifted:
			// The collectors started with get_info took the node for
			// restricted and skipped what it refused; ask for those now.
			s.startSkipped(ctx, &wg, snap, prev)
		}
		if s.refs != nil && info.Height > 0 {
			wg.Go(func() { snap.Chain = s.refs.Ask(ctx, info.Height-1, info.TopBlockHash) })
		}
		s.startCollectors(ctx, &wg, snap, prev, info.Restricted, true)
		s.fetchTip(ctx, snap, prev)
	} else {
		snap.setStatus(InfoCollector, CollectorStatus{Took: time.Since(snap.Time), Err: snap.InfoErr})
	}
	wg.Wait()
	snap.Took = time.Since(snap.Time)
	s.noteFailures(snap)
	if snap.Info != nil {
		s.prev = snap
		s.mu.Lock()
		observers := s.observers
		s.mu.Unlock()
		for _, fn := range observers {
			fn(snap)
		}
	}
	return snap
}

// noteFailures tells OnFailing which collectors started failing in snap
// and which work again. A collector not run (the node down) keeps its state.
func (s *Source) noteFailures(snap *Snapshot) {
	snap.mu.Lock()
	names := slices.Sorted(maps.Keys(snap.Collectors))
	statuses := maps.Clone(snap.Collectors)
	snap.mu.Unlock()
	for _, name := range names {
		err := statuses[name].Err
		if (err != nil) == s.failing[name] {
			continue
		}
		s.failing[name] = err != nil
		if s.onFailing != nil {
			s.onFailing(name, err)
		}
	}
}

// Observe makes fn see every snapshot in which monerod answered get_info,
// once, when it is complete and before any Get returns it, whoever asked
// for it (a scrape or a health probe). Snapshots are built one at a time,
// in order, so fn is never called concurrently with itself. That is where
// events (a new block) are counted: once each, however many requests share
// the snapshot that shows them. fn must not call Get.
func (s *Source) Observe(fn func(*Snapshot)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.observers = append(slices.Clone(s.observers), fn)
}

// fetchTip fills what changes only with the tip (the last block header, the
// hard-fork state, and on restricted nodes the RPC version), reusing the
// previous snapshot's answers while the tip hash is the same.
func (s *Source) fetchTip(ctx context.Context, snap, prev *Snapshot) {
	info := snap.Info
	// The header must be of this very tip: get_info and the header are two
	// calls, and a block may come between them.
	if sameTip(prev, snap) && prev.LastBlock != nil && prev.LastBlock.Hash == info.TopBlockHash &&
		prev.HardFork != nil && (!info.Restricted || prev.Version != nil) {
		snap.LastBlock, snap.HardFork, snap.Version = prev.LastBlock, prev.HardFork, prev.Version
		snap.setStatus(InfoCollector, CollectorStatus{Took: time.Since(snap.Time)})
		return
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		snap.LastBlock, snap.LastBlockErr = RPC(snap, monerod.MethodLastBlockHeader, func() (*monerod.BlockHeader, error) { return s.client.GetLastBlockHeader(ctx) })
	})
	wg.Go(func() {
		snap.HardFork, snap.HardForkErr = RPC(snap, monerod.MethodHardForkInfo, func() (*monerod.HardForkInfo, error) { return s.client.HardForkInfo(ctx) })
	})
	if info.Restricted {
		wg.Go(func() {
			snap.Version, snap.VersionErr = RPC(snap, monerod.MethodGetVersion, func() (*monerod.Version, error) { return s.client.GetVersion(ctx) })
		})
	}
	wg.Wait()
	snap.setStatus(InfoCollector, CollectorStatus{
		Took: time.Since(snap.Time),
		Err:  errors.Join(snap.LastBlockErr, snap.HardForkErr, snap.VersionErr),
	})
}

// sameTip reports whether both snapshots saw the same tip; false when either
// has no get_info.
func sameTip(prev, cur *Snapshot) bool {
	return prev != nil && prev.Info != nil && cur.Info != nil && prev.Info.TopBlockHash == cur.Info.TopBlockHash
}

// startSkipped starts the collectors (not tip-bound) that this snapshot
// reported skipped, once the node turned out not to be restricted.
func (s *Source) startSkipped(ctx context.Context, wg *sync.WaitGroup, snap, prev *Snapshot) {
	for _, c := range s.collectors {
		snap.mu.Lock()
		st, ok := snap.Collectors[c.Name]
		snap.mu.Unlock()
		if c.TipBound || !ok || !st.Skipped {
			continue
		}
		wg.Go(func() { s.run(ctx, c, snap, prev) })
	}
}

// startCollectors starts the collectors of one kind (tip-bound or not) that
// the node is expected to offer; the others are reported as skipped.
// Tip-bound collectors reuse the previous answer while the tip is the same.
func (s *Source) startCollectors(ctx context.Context, wg *sync.WaitGroup, snap, prev *Snapshot, restricted, tipBound bool) {
	// Only tip-bound collectors run after get_info, so only they may read it.
	carry := tipBound && sameTip(prev, snap)
	for _, c := range s.collectors {
		if c.TipBound != tipBound {
			continue
		}
		if (c.UnrestrictedOnly && restricted) || s.isRefused(c.Name) {
			snap.setStatus(c.Name, CollectorStatus{Skipped: true})
			continue
		}
		if carry && c.Carry(prev, snap) {
			snap.setStatus(c.Name, CollectorStatus{})
			continue
		}
		wg.Go(func() { s.run(ctx, c, snap, prev) })
	}
}

// run fetches one collector's data and records how it went; a refusal marks
// the collector skipped from now on.
func (s *Source) run(ctx context.Context, c Collector, snap, prev *Snapshot) {
	start := time.Now()
	err := c.Fetch(ctx, s.client, snap, prev)
	st := CollectorStatus{Took: time.Since(start), Err: err}
	if errors.Is(err, monerod.ErrMethodNotAvailable) {
		s.markRefused(c.Name, err)
		st = CollectorStatus{Took: st.Took, Skipped: true}
	}
	snap.setStatus(c.Name, st)
}

// P2PDialTimeout bounds the P2P dial, as the older Python service's 5 s
// socket timeout did, even when the snapshot's own deadline is later.
const P2PDialTimeout = 5 * time.Second

// dialP2P checks that the node's P2P port accepts a TCP connection, then
// closes it without speaking: what the older Python service's P2P check did,
// over IPv4 as its AF_INET socket did.
func (s *Source) dialP2P(ctx context.Context, snap *Snapshot) {
	start := time.Now()
	d := net.Dialer{Timeout: P2PDialTimeout}
	conn, err := d.DialContext(ctx, "tcp4", s.p2pAddr)
	if err == nil {
		_ = conn.Close()
	}
	snap.P2PChecked, snap.P2PErr, snap.P2PTook = true, err, time.Since(start)
}
