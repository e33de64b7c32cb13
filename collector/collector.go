// Package collector turns one snapshot of monerod into Prometheus metrics.
package collector

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"google.golang.org/protobuf/proto"

	"github.com/monero-ops/monero_exporter/health"
	"github.com/monero-ops/monero_exporter/monerod"
	"github.com/monero-ops/monero_exporter/snapshot"
)

const namespace = "monero"

// atomicUnitsPerXMR converts monerod's piconero amounts to XMR.
const atomicUnitsPerXMR = 1e12

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(prometheus.BuildFQName(namespace, "", name), help, labels, nil)
}

// The one family of a request rather than of a snapshot (see Gatherer).
const (
	scrapeDurationName = namespace + "_scrape_duration_seconds"
	scrapeDurationHelp = "Time this scrape spent obtaining the snapshot of monerod (shared with concurrent scrapes)."
)

// Descriptors, built once.
var (
	upDesc = desc("up",
		"1 when monerod answered get_info in this scrape, else 0 (and the node metrics are absent).")
	scrapeDurationDesc = prometheus.NewDesc(scrapeDurationName, scrapeDurationHelp, nil, nil)
	rpcSuccessDesc     = desc("rpc_call_success",
		"1 when the RPC calls of this method made to monerod in this scrape all succeeded, else 0. Calls whose answer is reused (it changes only with the tip, or the pool is the same) are not listed.", "method")
	rpcDurationDesc = desc("rpc_call_duration_seconds",
		"Time the RPC calls of this method made to monerod in this scrape took, added up (get_transactions is asked in batches of 100).", "method")
	collectorSuccessDesc = desc("scrape_collector_success",
		"1 when the collector's share of the scrape succeeded or was skipped because the node does not offer it, else 0.", "collector")
	collectorDurationDesc = desc("scrape_collector_duration_seconds",
		"Time the collector's share of the scrape took.", "collector")
	collectorSkippedDesc = desc("scrape_collector_skipped",
		"1 when the collector was not asked because the node does not offer what it needs (restricted RPC), else 0.", "collector")

	nodeInfoDesc = desc("node_info",
		"Facts about the node, value 1. version is the daemon version from get_info; a restricted node hides it, so there it is the RPC version from get_version (\"rpc-MAJOR.MINOR\").",
		"version", "nettype", "restricted")
	heightDesc = desc("height",
		"Blockchain height (number of blocks) known to the node, from get_info.height.")
	targetHeightDesc = desc("target_height",
		"Height the node is syncing towards, from get_info.target_height; monerod reports 0 when it knows no higher chain.")
	synchronizedDesc = desc("synchronized",
		"1 when monerod considers itself synchronized (get_info.synchronized).")
	busySyncingDesc = desc("busy_syncing",
		"1 while monerod is busy adding a batch of synced blocks (get_info.busy_syncing).")
	offlineDesc = desc("offline",
		"1 when monerod runs with --offline (get_info.offline).")
	updateAvailableDesc = desc("update_available",
		"1 when monerod knows of a newer release (get_info.update_available). Absent on restricted nodes, which hide it.")
	difficultyDesc = desc("difficulty",
		"Network difficulty for the next block, from get_info.wide_difficulty.")
	blockTargetDesc = desc("block_target_seconds",
		"Target time between blocks, from get_info.target.")
	txPoolDesc = desc("tx_pool_transactions",
		"Transactions in the node's pool, from get_info.tx_pool_size (a restricted node counts public ones only).")
	transactionsDesc = desc("transactions_total",
		"Transactions in the blockchain, coinbase excluded, from get_info.tx_count.")
	altBlocksDesc = desc("alt_blocks",
		"Alternative blocks known to the node, from get_info.alt_blocks_count. Absent on restricted nodes.")
	weightLimitDesc = desc("block_weight_limit_bytes",
		"Maximum block weight currently allowed, from get_info.block_weight_limit.")
	weightMedianDesc = desc("block_weight_median_bytes",
		"Median block weight, from get_info.block_weight_median.")

	peersDesc = desc("peers",
		"Open P2P connections by direction, from get_info incoming/outgoing_connections_count. Unrestricted nodes only.", "direction")
	peerlistDesc = desc("peerlist_entries",
		"Entries in the node's peer lists, from get_info white/grey_peerlist_size. Unrestricted nodes only.", "list")
	rpcConnectionsDesc = desc("rpc_connections",
		"Open RPC connections to the node, from get_info.rpc_connections_count. Unrestricted nodes only.")
	startTimeDesc = desc("start_time_seconds",
		"Unix time monerod started, from get_info.start_time. Unrestricted nodes only.")
	databaseSizeDesc = desc("database_size_bytes",
		"Size of the blockchain database, from get_info.database_size. Unrestricted nodes only (a restricted node rounds it up).")
	freeSpaceDesc = desc("free_space_bytes",
		"Free space on the disk holding the database, from get_info.free_space. Unrestricted nodes only.")

	lastBlockTimestampDesc = desc("last_block_timestamp_seconds",
		"Unix time in the header of the last block, from get_last_block_header.")
	lastBlockAgeDesc = desc("last_block_age_seconds",
		"Seconds from the last block's timestamp to this scrape (never negative).")
	lastBlockSizeDesc = desc("last_block_size_bytes",
		"Size of the last block, from get_last_block_header.block_size.")
	lastBlockWeightDesc = desc("last_block_weight_bytes",
		"Weight of the last block, from get_last_block_header.block_weight.")
	lastBlockTxsDesc = desc("last_block_transactions",
		"Transactions in the last block, coinbase excluded, from get_last_block_header.num_txes.")
	lastBlockRewardDesc = desc("last_block_reward_xmr",
		"Reward of the last block in XMR (subsidy plus fees), from get_last_block_header.reward.")

	hardForkVersionDesc = desc("hard_fork_version",
		"Current hard-fork version of the chain, from hard_fork_info.version.")
)

// Collector is a prometheus.Collector for one monerod. Collect fetches a
// snapshot (shared with concurrent requests by the source) within its
// default timeout. Handlers serve it through Gatherer, which bounds the
// fetch by the request's deadline and gathers each snapshot once.
type Collector struct {
	// snap, when set, is the snapshot Collect sends, without fetching:
	// Gatherer's registry holds such a copy.
	snap    *snapshot.Snapshot
	source  *snapshot.Source
	timeout time.Duration
	defs    []*Definition   // optional collectors whose metrics are emitted
	events  []events        // their metrics of events, shared by every copy
	health  *health.Config  // nil: no health metrics
	latest  *latestFamilies // shared by every copy
}

// latestFamilies keeps the latest snapshot gathered, so that the requests
// that share a snapshot (most of them, under load) share the work of turning
// it into metric families too. The families are only read after: promhttp
// merges them into families of its own and encodes them for each request.
type latestFamilies struct {
	mu       sync.Mutex
	snap     *snapshot.Snapshot
	families []*dto.MetricFamily
	err      error
}

// of returns the families of snap, gathered the first time snap is seen.
func (l *latestFamilies) of(snap *snapshot.Snapshot, gather func() ([]*dto.MetricFamily, error)) ([]*dto.MetricFamily, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.snap != snap {
		l.families, l.err = gather()
		l.snap = snap
	}
	return l.families, l.err
}

var _ prometheus.Collector = (*Collector)(nil)

// Options configures a Collector.
type Options struct {
	// Timeout bounds a Collect that has no deadline of its own.
	Timeout time.Duration
	// Collectors names the optional collectors whose metrics are emitted
	// (see Names; unknown names are ignored); the source must fetch them
	// (SnapshotCollectors).
	Collectors []string
	// Health, when set, adds the health checks' results, evaluated on the
	// same snapshot as everything else (so they agree with /health).
	Health *health.Config
}

// New returns a Collector reading snapshots from source. The metrics of
// events (the block histograms) observe every snapshot source builds from
// now on; make one Collector per source.
func New(source *snapshot.Source, opts Options) *Collector {
	c := &Collector{source: source, timeout: opts.Timeout, health: opts.Health, latest: &latestFamilies{}}
	for _, name := range opts.Collectors {
		d := registry[name]
		if d == nil {
			continue
		}
		c.defs = append(c.defs, d)
		if d.newEvents != nil {
			e := d.newEvents()
			c.events = append(c.events, e)
			if source != nil {
				source.Observe(e.observe)
			}
		}
	}
	return c
}

// Describe sends every descriptor the collector may use.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		upDesc, scrapeDurationDesc, rpcSuccessDesc, rpcDurationDesc, collectorSuccessDesc, collectorDurationDesc, collectorSkippedDesc,
		nodeInfoDesc, heightDesc, targetHeightDesc, synchronizedDesc, busySyncingDesc, offlineDesc,
		updateAvailableDesc, difficultyDesc, blockTargetDesc, txPoolDesc, transactionsDesc, altBlocksDesc,
		weightLimitDesc, weightMedianDesc, peersDesc, peerlistDesc, rpcConnectionsDesc, startTimeDesc,
		databaseSizeDesc, freeSpaceDesc, lastBlockTimestampDesc, lastBlockAgeDesc, lastBlockSizeDesc,
		lastBlockWeightDesc, lastBlockTxsDesc, lastBlockRewardDesc, hardForkVersionDesc,
	} {
		ch <- d
	}
	for _, d := range chainDescs {
		ch <- d
	}
	for _, def := range c.defs {
		for _, d := range def.descs {
			ch <- d
		}
	}
	for _, e := range c.events {
		e.Describe(ch)
	}
	if c.health != nil {
		ch <- healthStatusDesc
		ch <- peersSyncedDesc
		ch <- peersMaxHeightDesc
	}
}

// Collect fetches a snapshot and sends its metrics, monero_up last; a copy
// made by Gatherer sends its own snapshot's, without the scrape duration.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	if c.snap != nil {
		c.Emit(ch, c.snap)
		ch <- gauge(upDesc, b2f(c.snap.Up()))
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	start := time.Now()
	snap := c.source.Get(ctx)
	took := time.Since(start)
	c.Emit(ch, snap)
	ch <- gauge(scrapeDurationDesc, took.Seconds())
	ch <- gauge(upDesc, b2f(snap.Up()))
}

// Gatherer returns what a request serves: the metric families of a snapshot
// fetched within ctx (shared with concurrent requests by the source) and
// the request's own monero_scrape_duration_seconds. The families of a
// snapshot are gathered once, by a registry holding a copy of c bound to it,
// and shared by every request that gets the same snapshot.
func (c *Collector) Gatherer(ctx context.Context) prometheus.Gatherer {
	return prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) {
		start := time.Now()
		snap := c.source.Get(ctx)
		took := time.Since(start)
		mfs, err := c.latest.of(snap, func() ([]*dto.MetricFamily, error) {
			bound := *c
			bound.snap = snap
			reg := prometheus.NewRegistry()
			if err := reg.Register(&bound); err != nil {
				return nil, fmt.Errorf("registering the collector: %w", err)
			}
			return reg.Gather()
		})
		duration, derr := scrapeDurationFamily(took)
		if derr != nil {
			return mfs, errors.Join(err, derr)
		}
		// A new slice, sorted by name as a registry's are; the shared
		// one stays as it is.
		i, _ := slices.BinarySearchFunc(mfs, duration.GetName(), func(mf *dto.MetricFamily, name string) int {
			return strings.Compare(mf.GetName(), name)
		})
		return slices.Insert(slices.Clip(mfs), i, duration), err
	})
}

// scrapeDurationFamily is monero_scrape_duration_seconds as a family.
func scrapeDurationFamily(took time.Duration) (*dto.MetricFamily, error) {
	var m dto.Metric
	if err := gauge(scrapeDurationDesc, took.Seconds()).Write(&m); err != nil {
		return nil, fmt.Errorf("writing the scrape duration: %w", err)
	}
	return &dto.MetricFamily{
		Name:   proto.String(scrapeDurationName),
		Help:   proto.String(scrapeDurationHelp),
		Type:   dto.MetricType_GAUGE.Enum(),
		Metric: []*dto.Metric{&m},
	}, nil
}

// Emit sends the metrics of one snapshot, and the histograms of the events
// observed so far, except monero_up and the scrape duration (Collect sends
// them).
func (c *Collector) Emit(ch chan<- prometheus.Metric, snap *snapshot.Snapshot) {
	// A method may be called more than once (get_transactions in
	// batches, by the txpool and last_block collectors): one series each.
	type calls struct {
		ok   bool
		took time.Duration
	}
	byMethod := map[string]*calls{}
	var methods []string
	for _, call := range snap.Calls {
		m := byMethod[call.Method]
		if m == nil {
			m = &calls{ok: true}
			byMethod[call.Method] = m
			methods = append(methods, call.Method)
		}
		m.ok = m.ok && call.Err == nil
		m.took += call.Took
	}
	for _, method := range methods {
		ch <- gauge(rpcSuccessDesc, b2f(byMethod[method].ok), method)
		ch <- gauge(rpcDurationDesc, byMethod[method].took.Seconds(), method)
	}
	for name, st := range snap.Collectors {
		ch <- gauge(collectorSuccessDesc, b2f(st.Err == nil), name)
		ch <- gauge(collectorDurationDesc, st.Took.Seconds(), name)
		ch <- gauge(collectorSkippedDesc, b2f(st.Skipped), name)
	}
	if info := snap.Info; info != nil {
		emitInfo(ch, info, snap.DaemonVersion())
	}
	if h := snap.LastBlock; h != nil {
		age := snap.Time.Sub(time.Unix(h.Timestamp, 0)).Seconds()
		ch <- gauge(lastBlockTimestampDesc, float64(h.Timestamp))
		ch <- gauge(lastBlockAgeDesc, max(age, 0))
		ch <- gauge(lastBlockSizeDesc, float64(h.BlockSize))
		ch <- gauge(lastBlockWeightDesc, float64(h.BlockWeight))
		ch <- gauge(lastBlockTxsDesc, float64(h.NumTxes))
		ch <- gauge(lastBlockRewardDesc, float64(h.Reward)/atomicUnitsPerXMR)
	}
	if hf := snap.HardFork; hf != nil {
		ch <- gauge(hardForkVersionDesc, float64(hf.Version))
	}
	emitChain(ch, snap.Chain)
	for _, def := range c.defs {
		def.emit(ch, snap)
	}
	for _, e := range c.events {
		e.Collect(ch)
	}
	if c.health != nil {
		emitHealth(ch, health.Evaluate(snap, *c.health))
	}
}

var (
	healthStatusDesc = desc("health_status",
		"State of each health check (and check=\"overall\", what /health says): exactly one status series per check is 1. Only the checks /health counts are listed.", "check", "status")
	peersSyncedDesc = desc("peers_synced",
		"Peers in state normal within --health.max-blocks-behind of our height, from get_connections. Unrestricted nodes only.")
	peersMaxHeightDesc = desc("peers_max_height",
		"Highest height reported by a connected peer, from get_connections. Unrestricted nodes with peers only.")
)

func emitHealth(ch chan<- prometheus.Metric, rep health.Report) {
	stateSet := func(check string, st health.Status) {
		for _, s := range health.Statuses() {
			ch <- gauge(healthStatusDesc, b2f(s == st), check, s.String())
		}
	}
	for _, r := range rep.Enabled() {
		stateSet(r.Check, r.Status)
	}
	stateSet(health.CheckOverall, rep.Overall)
	if p := rep.Peers; p != nil {
		ch <- gauge(peersSyncedDesc, float64(p.Synced))
		if p.Total > 0 {
			ch <- gauge(peersMaxHeightDesc, float64(p.MaxHeight))
		}
	}
}

func emitInfo(ch chan<- prometheus.Metric, info *monerod.Info, version string) {
	ch <- gauge(nodeInfoDesc, 1, version, info.Nettype, strconv.FormatBool(info.Restricted))
	ch <- gauge(heightDesc, float64(info.Height))
	ch <- gauge(targetHeightDesc, float64(info.TargetHeight))
	ch <- gauge(synchronizedDesc, b2f(info.Synchronized))
	ch <- gauge(busySyncingDesc, b2f(info.BusySyncing))
	ch <- gauge(offlineDesc, b2f(info.Offline))
	ch <- gauge(difficultyDesc, info.Difficulty)
	ch <- gauge(blockTargetDesc, float64(info.TargetSeconds))
	ch <- gauge(txPoolDesc, float64(info.TxPoolSize))
	ch <- prometheus.MustNewConstMetric(transactionsDesc, prometheus.CounterValue, float64(info.TxCount))
	ch <- gauge(weightLimitDesc, float64(info.BlockWeightLimit))
	ch <- gauge(weightMedianDesc, float64(info.BlockWeightMedian))
	if info.UpdateAvailable != nil {
		ch <- gauge(updateAvailableDesc, b2f(*info.UpdateAvailable))
	}
	optional := []struct {
		d      *prometheus.Desc
		v      *uint64
		labels []string
	}{
		{altBlocksDesc, info.AltBlocks, nil},
		{peersDesc, info.IncomingConnections, []string{"incoming"}},
		{peersDesc, info.OutgoingConnections, []string{"outgoing"}},
		{peerlistDesc, info.WhitePeerlistSize, []string{"white"}},
		{peerlistDesc, info.GreyPeerlistSize, []string{"grey"}},
		{rpcConnectionsDesc, info.RPCConnections, nil},
		{startTimeDesc, info.StartTime, nil},
		{databaseSizeDesc, info.DatabaseSize, nil},
		{freeSpaceDesc, info.FreeSpace, nil},
	}
	for _, o := range optional {
		if o.v != nil {
			ch <- gauge(o.d, float64(*o.v), o.labels...)
		}
	}
}

func gauge(d *prometheus.Desc, v float64, labels ...string) prometheus.Metric {
	return prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// NewRPCRequestsCounter returns monero_exporter_rpc_requests_total, the count
// of calls really sent to monerod, for monerod.Config.OnCall to increment.
func NewRPCRequestsCounter() *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace,
		Subsystem: "exporter",
		Name:      "rpc_requests_total",
		Help:      "RPC calls sent to monerod by this exporter, by method and outcome.",
	}, []string{"method", "outcome"})
}
