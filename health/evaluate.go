// Package health decides whether a monerod is healthy, from one snapshot of
// it and a set of thresholds, and serves the answer over HTTP twice: as the
// older Python service monero_health_check did (/api/v1/...), and as a
// probe endpoint for load balancers and Kubernetes (/health).
//
// The checks are pure functions of a snapshot.Snapshot and a Config: no I/O
// and no clock (the time is the snapshot's), so every check is tested
// without a network, and the metrics that the same snapshot feeds always
// agree with /health.
package health

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/monero-ops/monero_exporter/monerod"
	"github.com/monero-ops/monero_exporter/snapshot"
)

// Outputs of failing checks, worded as the fullnode health convention
// words them, so that operators who probe other full nodes read the same.
const (
	OutputNoRecentBlocks = "Node doesn't have recent blocks"
	// OutputNetworkSlow is last_block's warning: the tip is stale, but no
	// peer has a higher one.
	OutputNetworkSlow      = "Node doesn't have recent blocks, but it is at its peers' best height: the network is slow, not the node"
	OutputNoSyncedPeer     = "Node doesn't have a synced peer"
	OutputPeerFarAhead     = "Node's peer with highest height is too far ahead."
	OutputNotSynchronized  = "Node is not synchronized"
	OutputPeersRestricted  = "Node's peers cannot be seen: its RPC is restricted"
	OutputP2PUnreachable   = "Node's P2P port does not accept connections"
	OutputHardForkNotOK    = "Daemon status is not OK"
	OutputOnFork           = "Node is on a fork: its block at its height differs from its reference nodes'"
	OutputBehindReferences = "Node is too far behind its reference nodes"
	OutputNoReference      = "No reference node answers"
	OutputReferencesSplit  = "Reference nodes disagree on the block at the node's height"
	outputCannotDetermine  = "Cannot determine %s: %s"
	outputFewerSyncedPeers = "Node has %d synced peers, fewer than %d"
)

// Result is the outcome of one check.
type Result struct {
	// Check is the check's name (Check*).
	Check string
	// Status is what the check found.
	Status Status
	// Enabled tells whether the check counts in /health and the overall
	// status.
	Enabled bool
	// Output says, in a sentence, why the status is not OK; empty on OK.
	Output string
	// ObservedValue and ObservedUnit are the reading the check judged (the
	// last block's age in seconds, the number of synced peers...), nil
	// when there was none.
	ObservedValue any
	ObservedUnit  string
	// Err is the cause when the status is unknown, or the failure detail
	// (a refused dial, a daemon status other than OK). It comes from the
	// monerod client, which never includes credentials; sanitize it
	// anyway before showing it (the handler does).
	Err error
}

// PeerStats describes the node's peers, known only on an unrestricted node
// whose connections were fetched.
type PeerStats struct {
	// Total is the number of open P2P connections.
	Total int
	// Synced is the number of peers that count as synced (state normal,
	// height within MaxBlocksBehind of the node's).
	Synced int
	// MaxHeight is the highest height any peer reported, 0 with no peer.
	MaxHeight uint64
}

// Report is the outcome of every check for one snapshot.
type Report struct {
	// Time is the snapshot's time: the moment the report describes.
	Time time.Time
	// Results holds one Result per evaluated check, in CheckNames order.
	// p2p is present only when Config.P2PAddress is set, chain only when
	// Config.References names some.
	Results []Result
	// Overall is the worst status among the enabled checks: what /health
	// answers (pass, warn or fail) and what metrics label "overall".
	Overall Status
	// Peers is set when the node's connections are known.
	Peers *PeerStats
	// V1LastBlock is the last_block check as /api/v1 makes it, the old
	// service's way: the age against Config.V1LastBlockMaxAge alone, OK or
	// ERROR (or UNKNOWN), never a warning. It is not in Results, which are
	// /health's.
	V1LastBlock Result
}

// Result returns the result of the named check.
func (r *Report) Result(check string) (Result, bool) {
	for _, res := range r.Results {
		if res.Check == check {
			return res, true
		}
	}
	return Result{}, false
}

// Enabled returns the results of the enabled checks.
func (r *Report) Enabled() []Result {
	var out []Result
	for _, res := range r.Results {
		if res.Enabled {
			out = append(out, res)
		}
	}
	return out
}

// Evaluate runs every check on snap with the thresholds of cfg. It does no
// I/O and reads no clock: the time is snap.Time. snap is only read, so one
// snapshot may be shared by concurrent evaluations.
func Evaluate(snap *snapshot.Snapshot, cfg Config) Report {
	if snap == nil {
		snap = &snapshot.Snapshot{InfoErr: errors.New("no snapshot of monerod")}
	}
	rep := Report{Time: snap.Time}
	peers := viewPeers(snap, cfg)
	rep.Peers = peers.stats
	rep.Results = append(rep.Results,
		checkMonerod(snap),
		checkLastBlock(snap, cfg, peers),
		checkPeers(cfg, peers),
		checkSync(snap, cfg, peers),
	)
	rep.V1LastBlock = checkLastBlockAge(snap, cfg.V1LastBlockMaxAge, cfg.OffsetEnv)
	if cfg.P2PAddress != "" {
		rep.Results = append(rep.Results, checkP2P(snap))
	}
	if len(cfg.References) > 0 {
		rep.Results = append(rep.Results, checkChain(snap, cfg))
	}
	enabled := cfg.EnabledChecks()
	var statuses []Status
	for i := range rep.Results {
		if slices.Contains(enabled, rep.Results[i].Check) {
			rep.Results[i].Enabled = true
			statuses = append(statuses, rep.Results[i].Status)
		}
	}
	rep.Overall = Worst(statuses...)
	return rep
}

// unknown is the result of a check that could not be evaluated.
func unknown(check, what string, err error) Result {
	if err == nil {
		err = errors.New("no answer")
	}
	return Result{
		Check: check, Status: StatusUnknown, Err: err,
		Output: fmt.Sprintf(outputCannotDetermine, what, errText(err)),
	}
}

// infoErr is why get_info is missing.
func infoErr(snap *snapshot.Snapshot) error {
	if snap.InfoErr != nil {
		return snap.InfoErr
	}
	return errors.New("get_info was not asked")
}

// checkMonerod: the daemon answers and hard_fork_info says OK. A daemon that
// answers hard_fork_info with something other than OK (a status such as
// BUSY, a JSON-RPC error, a body that is not JSON) fails; one that cannot be
// asked (unreachable, timed out, refused credentials) is unknown.
func checkMonerod(snap *snapshot.Snapshot) Result {
	const what = "daemon status"
	switch hf := snap.HardFork; {
	case snap.Info == nil:
		return unknown(CheckMonerod, what, infoErr(snap))
	case hf == nil && errors.Is(snap.HardForkErr, monerod.ErrBadResponse):
		return Result{
			Check: CheckMonerod, Status: StatusError, Err: snap.HardForkErr,
			Output: OutputHardForkNotOK + ": " + errText(snap.HardForkErr),
		}
	case hf == nil:
		err := snap.HardForkErr
		if err == nil {
			err = errors.New("hard_fork_info was not asked")
		}
		return unknown(CheckMonerod, what, err)
	case hf.Status != "OK":
		// The client turns such answers into errors; this guards
		// snapshots built another way.
		err := fmt.Errorf("hard_fork_info: status %q", hf.Status)
		return Result{
			Check: CheckMonerod, Status: StatusError, Err: err,
			Output: OutputHardForkNotOK + ": " + errText(err), ObservedValue: hf.Version, ObservedUnit: "hard_fork_version",
		}
	default:
		return Result{Check: CheckMonerod, Status: StatusOK, ObservedValue: hf.Version, ObservedUnit: "hard_fork_version"}
	}
}

// blockAge is how old the last block is at the snapshot's time, both taken
// to the second as the old service did (block timestamps are whole seconds,
// and it dropped the microseconds of its clock).
func blockAge(snap *snapshot.Snapshot) time.Duration {
	return snap.Time.Truncate(time.Second).Sub(time.Unix(snap.LastBlock.Timestamp, 0))
}

// checkLastBlockAge: the last block is not older than maxAge. A block
// exactly that old still passes, as in the old service. With env (OFFSET
// and OFFSET_UNIT) not an integer it is never compared, as there.
func checkLastBlockAge(snap *snapshot.Snapshot, maxAge time.Duration, env *EnvOffset) Result {
	const what = "last block's age"
	switch {
	case snap.Info == nil:
		return unknown(CheckLastBlock, what, infoErr(snap))
	case snap.LastBlock == nil:
		err := snap.LastBlockErr
		if err == nil {
			err = errors.New("get_last_block_header was not asked")
		}
		return unknown(CheckLastBlock, what, err)
	case env != nil && env.Err != nil:
		// OFFSET is not an integer: the old service never got as far as
		// comparing, and neither does this.
		return unknown(CheckLastBlock, what, env.Err)
	}
	age := blockAge(snap)
	// A block stamped in the future (clock skew) is recent, and its age
	// shows as 0, as in the metrics.
	shown := max(age, 0)
	res := Result{Check: CheckLastBlock, Status: StatusOK, ObservedValue: int64(shown / time.Second), ObservedUnit: "s"}
	if age > maxAge {
		res.Status = StatusError
		res.Output = OutputNoRecentBlocks
		res.Err = fmt.Errorf("last block is %v old, more than %v", shown, maxAge)
	}
	return res
}

// checkLastBlock is /health's last_block: the last block is not older than
// LastBlockMaxAge, or, when it is, no peer has moved on. Blocks come at
// random (gaps are exponential, 120 s on average), so a stale tip is the
// node's fault only when others have a higher one. A stale tip warns when
// the node's height is at least the best height it knows of (its peers'
// and its target height) and some peer has told its height; it fails when
// a peer or the target height is ahead, when the node has no peer, and when
// its peers cannot be seen (restricted RPC, get_connections failed or not
// asked): then a slow network cannot be told from a node left behind.
//
// "At least" rather than "equal": a peer's height in get_connections is the
// one it told at the last timed sync (every ~60 s), so a peer that has the
// node's tip may show a block less; and peers that are all below the node
// have not moved on past it either.
func checkLastBlock(snap *snapshot.Snapshot, cfg Config, peers peerView) Result {
	res := checkLastBlockAge(snap, cfg.LastBlockMaxAge, nil)
	if res.Status != StatusError {
		return res
	}
	height := snap.Info.Height
	switch st := peers.stats; {
	case peers.hidden:
		res.Err = fmt.Errorf("%w; the node hides its peers (restricted RPC), so whether they moved on is unknown", res.Err)
	case st == nil:
		res.Err = fmt.Errorf("%w; whether its peers moved on is unknown: %w", res.Err, peers.err)
	case st.MaxHeight == 0:
		res.Err = fmt.Errorf("%w, and no peer has told its height (%d connections)", res.Err, st.Total)
	case bestHeight(snap.Info, st) > height:
		res.Err = fmt.Errorf("%w, and height %d is known, above the node's %d", res.Err, bestHeight(snap.Info, st), height)
	default:
		res.Status, res.Output = StatusWarn, OutputNetworkSlow
		res.Err = fmt.Errorf("%w, but the node's height %d is at least its peers' best, %d", res.Err, height, st.MaxHeight)
	}
	return res
}

// bestHeight is the highest height the node knows of: its target height,
// and its peers' heights when known (st may be nil).
func bestHeight(info *monerod.Info, st *PeerStats) uint64 {
	best := info.TargetHeight
	if st != nil {
		best = max(best, st.MaxHeight)
	}
	return best
}

// peerView is what a snapshot tells of the node's peers.
type peerView struct {
	// stats is set when the connections are known.
	stats *PeerStats
	// hidden: the node does not show its peers (restricted RPC).
	hidden bool
	// err is why stats is nil otherwise.
	err error
	// failed: get_connections was asked and failed (rather than not
	// asked at all).
	failed bool
}

// viewPeers counts the node's synced peers.
func viewPeers(snap *snapshot.Snapshot, cfg Config) peerView {
	switch {
	case snap.Info == nil:
		return peerView{err: infoErr(snap)}
	case restrictedPeers(snap):
		return peerView{hidden: true}
	case snap.ConnectionsErr != nil:
		return peerView{err: snap.ConnectionsErr, failed: true}
	case snap.Connections == nil:
		return peerView{err: fmt.Errorf("get_connections was not asked (the snapshot does not fetch %s)", snapshot.Connections.Name)}
	}
	st := &PeerStats{Total: len(snap.Connections)}
	for _, c := range snap.Connections {
		st.MaxHeight = max(st.MaxHeight, c.Height)
		if c.State == "normal" && absDiff(c.Height, snap.Info.Height) <= cfg.MaxBlocksBehind {
			st.Synced++
		}
	}
	return peerView{stats: st}
}

// restrictedPeers tells whether the node does not show its peers: its RPC
// is restricted, or it refused get_connections.
func restrictedPeers(snap *snapshot.Snapshot) bool {
	return snap.Info.Restricted || snap.Collectors[snapshot.Connections.Name].Skipped ||
		errors.Is(snap.ConnectionsErr, monerod.ErrMethodNotAvailable)
}

func absDiff(a, b uint64) uint64 {
	if a > b {
		return a - b
	}
	return b - a
}

// checkPeers: at least MinPeers synced peers. A node that hides its peers
// gets a warning, never a made-up pass or failure.
func checkPeers(cfg Config, peers peerView) Result {
	st := peers.stats
	switch {
	case peers.hidden:
		return Result{Check: CheckPeers, Status: StatusWarn, Output: OutputPeersRestricted}
	case st == nil:
		return unknown(CheckPeers, "peers", peers.err)
	}
	res := Result{Check: CheckPeers, Status: StatusOK, ObservedValue: st.Synced, ObservedUnit: "peers"}
	if st.Synced < cfg.MinPeers {
		res.Status = StatusError
		res.Output = OutputNoSyncedPeer
		if st.Synced > 0 {
			res.Output = fmt.Sprintf(outputFewerSyncedPeers, st.Synced, cfg.MinPeers)
		}
	}
	return res
}

// checkSync: the node says it is synchronized, and neither its target
// height nor any peer's height is more than MaxBlocksBehind ahead of it.
// The observed value is how many blocks the node is behind the best height
// it knows of.
func checkSync(snap *snapshot.Snapshot, cfg Config, peers peerView) Result {
	info := snap.Info
	if info == nil {
		return unknown(CheckSync, "sync status", infoErr(snap))
	}
	best := bestHeight(info, peers.stats)
	var behind uint64
	if best > info.Height {
		behind = best - info.Height
	}
	res := Result{Check: CheckSync, Status: StatusOK, ObservedValue: behind, ObservedUnit: "blocks"}
	switch {
	case behind > cfg.MaxBlocksBehind:
		res.Status, res.Output = StatusError, OutputPeerFarAhead
		res.Err = fmt.Errorf("height %d, best known height %d: %d blocks behind, more than %d", info.Height, best, behind, cfg.MaxBlocksBehind)
	case !info.Synchronized:
		res.Status, res.Output = StatusError, OutputNotSynchronized
	case peers.failed:
		// The peers' heights were asked for and could not be had: what
		// is known passes, but a peer far ahead cannot be ruled out.
		// (Without the connections, target_height alone decides.)
		res = unknown(CheckSync, "sync status", peers.err)
	}
	return res
}

// checkP2P: a TCP connect to the P2P port succeeded within the snapshot's
// deadline. As in the old service, a port that refuses (or resets) the
// connection fails; any other failure (a timeout, no route, a name that does
// not resolve) leaves the node untested: unknown.
func checkP2P(snap *snapshot.Snapshot) Result {
	switch {
	case !snap.P2PChecked:
		return unknown(CheckP2P, "P2P status", errors.New("the P2P port was not dialled (snapshot.Config.P2PAddress is empty)"))
	case snap.P2PErr == nil:
		return Result{Check: CheckP2P, Status: StatusOK, ObservedValue: snap.P2PTook.Milliseconds(), ObservedUnit: "ms"}
	case p2pRefused(snap.P2PErr):
		return Result{
			Check: CheckP2P, Status: StatusError, Err: snap.P2PErr,
			Output: OutputP2PUnreachable + ": " + errText(snap.P2PErr),
		}
	default:
		return unknown(CheckP2P, "P2P status", snap.P2PErr)
	}
}

// p2pRefused tells the failures that Python counts as a ConnectionError
// (refused, reset, aborted): the node's own answer, not a network's silence.
func p2pRefused(err error) bool {
	return errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNABORTED)
}

// checkChain compares the node with its reference nodes. It fails when more
// references that can tell (those whose chain reaches the node's height)
// hold another block at the node's height than hold the node's own: the
// node is on a fork. With as many for as against, it warns, since it cannot
// tell which side is the fork. It also fails when the best reference is more
// than MaxBlocksBehindReference blocks ahead, and warns when no reference
// answers. The observed value is how many blocks the node is behind the
// best reference.
func checkChain(snap *snapshot.Snapshot, cfg Config) Result {
	const what = "chain against the reference nodes"
	info, ch := snap.Info, snap.Chain
	switch {
	case info == nil:
		return unknown(CheckChain, what, infoErr(snap))
	case ch == nil:
		return unknown(CheckChain, what, errors.New("the reference nodes were not asked (the snapshot has no references)"))
	}
	var best uint64
	var answered int
	var agree, differ []string
	var errs []error
	for _, a := range ch.References {
		if a.Err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", a.Name, a.Err))
		}
		if a.Height == 0 {
			continue
		}
		answered++
		best = max(best, a.Height)
		switch same, known := ch.Agrees(a); {
		case known && same:
			agree = append(agree, a.Name)
		case known:
			differ = append(differ, a.Name)
		}
	}
	if answered == 0 {
		return Result{Check: CheckChain, Status: StatusWarn, Output: OutputNoReference, Err: errors.Join(errs...)}
	}
	var behind uint64
	if best > info.Height {
		behind = best - info.Height
	}
	res := Result{Check: CheckChain, Status: StatusOK, ObservedValue: behind, ObservedUnit: "blocks"}
	// The references' names are configured, and never hold credentials.
	split := fmt.Errorf("at height %d, another block than the node's %s is held by %s, the same by %s",
		ch.Height, ch.Hash, listOrNone(differ), listOrNone(agree))
	switch {
	case len(differ) > len(agree):
		res.Status, res.Err = StatusError, split
		res.Output = OutputOnFork + " (" + listOrNone(differ) + ")"
	case behind > cfg.MaxBlocksBehindReference:
		res.Status, res.Output = StatusError, OutputBehindReferences
		res.Err = fmt.Errorf("height %d, best reference height %d: %d blocks behind, more than %d", info.Height, best, behind, cfg.MaxBlocksBehindReference)
	case len(differ) > 0:
		res.Status, res.Err = StatusWarn, split
		res.Output = OutputReferencesSplit + " (" + listOrNone(differ) + " against " + listOrNone(agree) + ")"
	}
	return res
}

func listOrNone(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}
