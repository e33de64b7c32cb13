package collector

import (
	"context"
	"encoding/hex"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/monero-ops/monero_exporter/monerod"
	"github.com/monero-ops/monero_exporter/snapshot"
)

// The txpool collector: the node's transaction pool. Its counts and sums
// come from get_transaction_pool_stats, a few hundred bytes whatever the
// pool's size. What needs each transaction (fee bands, fee and age
// quantiles) comes from what the collector remembers of the pool: it lists
// the pool's hashes when the stats change and asks for each transaction it
// has not seen, once. It never reads the whole pool
// (/get_transaction_pool: some 10 kB a transaction, hundreds of MB in a
// spam wave).

// maxNewPoolTxs bounds the transactions fetched in one snapshot (at a few
// kB each): a large pool is learnt over several scrapes, the latest
// arrivals in the meantime too.
const maxNewPoolTxs = 2000

// maxListAge is how long the pool's hash list is trusted while the stats
// stay the same: a transaction leaving as another of the same weight and
// fee arrives would change none of them.
const maxListAge = 2 * time.Minute

const knownNote = " Covers the transactions the exporter knows (monero_tx_pool_known_transactions)."

var (
	txPoolBytesDesc      = desc("tx_pool_size_bytes", "Total size of the transactions in the pool, from get_transaction_pool_stats.bytes_total (their weight, on nodes that count it).")
	txPoolFeesDesc       = desc("tx_pool_fees_xmr", "Total fees of the transactions in the pool in XMR, from get_transaction_pool_stats.fee_total.")
	txPoolFailingDesc    = desc("tx_pool_failing_transactions", "Pool transactions that failed to enter a block, from get_transaction_pool_stats.num_failing.")
	txPoolDoubleDesc     = desc("tx_pool_double_spend_transactions", "Pool transactions seen double-spending, from get_transaction_pool_stats.num_double_spends.")
	txPoolNotRelayedDesc = desc("tx_pool_not_relayed_transactions", "Pool transactions not relayed, from get_transaction_pool_stats.num_not_relayed.")
	txPoolOlder10mDesc   = desc("tx_pool_transactions_older_10m", "Pool transactions older than 10 minutes, from get_transaction_pool_stats.num_10m.")
	txPoolOldestDesc     = desc("tx_pool_oldest_timestamp_seconds", "Unix time the oldest pool transaction arrived, from get_transaction_pool_stats.oldest. Absent when the pool is empty.")
	txPoolOldestAgeDesc  = desc("tx_pool_oldest_age_seconds", "How long the oldest pool transaction has waited at this scrape, from get_transaction_pool_stats.oldest. Absent when the pool is empty.")
	txPoolAgeP98Desc     = desc("tx_pool_age_p98_seconds", "Age reached by the oldest 2% of the pool's transactions (the 98th percentile of their waits) when monerod answered, from get_transaction_pool_stats.histo_98pc. Absent with fewer than 50 transactions, for which monerod does not tell it.")
	txPoolSizeMedianDesc = desc("tx_pool_transaction_size_median_bytes", "Median size of a pool transaction now, from get_transaction_pool_stats.bytes_med. Absent when the pool is empty.")
	txPoolSizeMaxDesc    = desc("tx_pool_transaction_size_max_bytes", "Size of the largest pool transaction now, from get_transaction_pool_stats.bytes_max. Absent when the pool is empty.")
	txPoolKnownDesc      = desc("tx_pool_known_transactions", "Pool transactions whose fee, size and arrival the exporter knows, each fetched once with get_transactions when the pool first lists it (at most 2000 a scrape): the fee bands, fee per byte quantiles and median age cover these. Equal to monero_tx_pool_transactions once the exporter has caught up with the pool.")
	txPoolAgeMedianDesc  = desc("tx_pool_age_median_seconds", "Median time the pool's transactions have waited at this scrape, from get_transactions received_timestamp. Absent when none is known, and on restricted nodes, which hide arrival times."+knownNote)
	txPoolFeeBandDesc    = desc("tx_pool_fee_band_transactions", "Pool transactions now, by fee per byte in XMR (fee / size, from get_transactions): band is the band's upper edge, and a transaction counts in the lowest band whose edge its fee per byte does not exceed (+Inf: above every edge). Not cumulative: the bands add up to monero_tx_pool_known_transactions.", "band")
	txPoolFeeMedianDesc  = desc("tx_pool_fee_per_byte_median_xmr", "Median fee per byte in XMR of the pool's transactions now, from get_transactions (fee / size). Absent when none is known."+knownNote)
	txPoolFeeP90Desc     = desc("tx_pool_fee_per_byte_p90_xmr", "90th percentile of the fee per byte in XMR of the pool's transactions now (a tenth pay more), from get_transactions (fee / size). Absent when none is known."+knownNote)
)

// feeBandEdges are the upper edges of the pool's fee bands, in XMR per
// byte, chosen for mainnet: from below the base fee (about 20000 piconero
// per byte at the minimum block weight) to above the fastest priority
// (some 166 times that); regtest pays more.
var feeBandEdges = []float64{5e-9, 10e-9, 20e-9, 50e-9, 100e-9, 200e-9, 500e-9, 1e-6, 5e-6, 20e-6}

// feeBandLabels are the band label values: the edges as Prometheus prints
// a bucket's le, then +Inf.
var feeBandLabels = func() []string {
	labels := make([]string, 0, len(feeBandEdges)+1)
	for _, e := range feeBandEdges {
		labels = append(labels, strconv.FormatFloat(e, 'g', -1, 64))
	}
	return append(labels, "+Inf")
}()

func init() {
	registerCollector(Definition{
		Name:    "txpool",
		Default: true,
		Summary: "the transaction pool now: its totals and age, its transactions by fee band, and their median and 90th-percentile fee per byte, median and largest size, median and oldest age",
		Note: "get_transaction_pool_hashes.bin only when the pool's stats changed, get_transactions for the transactions not seen before (at most 2000 a scrape); " +
			"the whole pool (get_transaction_pool) never; a restricted node shows public transactions only, and hides their arrival times",
		Snapshot: snapshot.Collector{
			Methods: []string{monerod.MethodGetTxPoolStats, monerod.MethodGetTxPoolHashes, monerod.MethodGetTransactions},
		},
		newFetch: func() fetchFunc { return newPoolCache().fetch },
		descs: []*prometheus.Desc{
			txPoolBytesDesc, txPoolFeesDesc, txPoolFailingDesc, txPoolDoubleDesc, txPoolNotRelayedDesc,
			txPoolOlder10mDesc, txPoolOldestDesc, txPoolOldestAgeDesc, txPoolAgeP98Desc, txPoolSizeMedianDesc,
			txPoolSizeMaxDesc, txPoolKnownDesc, txPoolAgeMedianDesc, txPoolFeeBandDesc, txPoolFeeMedianDesc, txPoolFeeP90Desc,
		},
		emit: emitTxPool,
	})
}

// poolCache is what the txpool collector remembers of one node's pool from
// one snapshot to the next: what it uses of each transaction, fetched once.
// Snapshots are fetched one at a time; the mutex only makes that safe to
// rely on.
type poolCache struct {
	mu  sync.Mutex
	txs map[monerod.TxHash]poolTx
	// pending are the listed transactions not fetched yet, in list order.
	pending []monerod.TxHash
	// listStats are the stats the last list was taken under, listedAt
	// when.
	listStats *monerod.TxPoolStats
	listedAt  time.Time
	// view is the summary of txs, shared by the snapshots while they
	// stay the same.
	view *snapshot.PoolTxs
}

// poolTx is what the collector keeps of a pool transaction: 16 bytes,
// 48 with its hash.
type poolTx struct {
	fee      uint64 // atomic units
	size     uint32 // bytes
	received uint32 // Unix time; 0 where the node hides it
}

func newPoolCache() *poolCache { return &poolCache{txs: map[monerod.TxHash]poolTx{}} }

// samePool reports whether two stats describe the same set of
// transactions: those of their fields that only arrivals and departures
// change (ages and histograms change with the clock).
func samePool(a, b *monerod.TxPoolStats) bool {
	return a.TxsTotal == b.TxsTotal && a.BytesTotal == b.BytesTotal && a.FeeTotal == b.FeeTotal &&
		a.BytesMin == b.BytesMin && a.BytesMax == b.BytesMax && a.BytesMed == b.BytesMed && a.Oldest == b.Oldest &&
		a.NumDoubleSpends == b.NumDoubleSpends && a.NumFailing == b.NumFailing && a.NumNotRelayed == b.NumNotRelayed
}

func (p *poolCache) fetch(ctx context.Context, c *monerod.Client, cur, _ *snapshot.Snapshot) error {
	stats, err := snapshot.RPC(cur, monerod.MethodGetTxPoolStats, func() (*monerod.TxPoolStats, error) { return c.GetTxPoolStats(ctx) })
	if err != nil {
		return err
	}
	cur.TxPoolStats = stats
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case stats.TxsTotal == 0:
		if len(p.txs) != 0 || len(p.pending) != 0 {
			clear(p.txs)
			p.pending, p.view = nil, nil
		}
		p.listStats, p.listedAt = stats, cur.Time
	case p.listStats == nil || !samePool(p.listStats, stats) || cur.Time.Sub(p.listedAt) >= maxListAge:
		hashes, err := snapshot.RPC(cur, monerod.MethodGetTxPoolHashes, func() ([]monerod.TxHash, error) { return c.GetTxPoolHashes(ctx) })
		if err != nil {
			return err
		}
		p.relist(hashes)
		p.listStats, p.listedAt = stats, cur.Time
	}
	err = p.learn(ctx, c, cur)
	if p.view == nil {
		p.view = p.summary()
	}
	if err != nil {
		return err
	}
	cur.TxPoolTxs = p.view
	return nil
}

// relist takes a new list of the pool's hashes (monerod lists each once):
// what is new waits to be fetched, what left is dropped. Between blocks
// transactions mostly arrive: then nothing left, and the list is only
// looked up.
func (p *poolCache) relist(hashes []monerod.TxHash) {
	p.pending = p.pending[:0]
	stillListed := 0
	for _, h := range hashes {
		if _, ok := p.txs[h]; ok {
			stillListed++
		} else {
			p.pending = append(p.pending, h)
		}
	}
	if stillListed < len(p.txs) {
		listed := make(map[monerod.TxHash]struct{}, len(hashes))
		for _, h := range hashes {
			listed[h] = struct{}{}
		}
		for h := range p.txs {
			if _, ok := listed[h]; !ok {
				delete(p.txs, h)
			}
		}
		p.view = nil
	}
}

// learn fetches pending transactions, in batches of what a restricted node
// allows, at most maxNewPoolTxs, and stops early when the deadline nears
// (the rest come in later snapshots: no failure). A transaction mined or
// dropped meanwhile is not kept.
func (p *poolCache) learn(ctx context.Context, c *monerod.Client, cur *snapshot.Snapshot) error {
	todo := p.pending[:min(len(p.pending), maxNewPoolTxs)]
	var slowest time.Duration
	for len(todo) > 0 {
		if deadline, ok := ctx.Deadline(); ok && slowest > 0 && time.Until(deadline) < 3*slowest {
			return nil
		}
		batch := todo[:min(len(todo), monerod.MaxTransactionsPerCall)]
		hexes := make([]string, len(batch))
		for i, h := range batch {
			hexes[i] = hex.EncodeToString(h[:])
		}
		start := time.Now()
		txs, err := snapshot.RPC(cur, monerod.MethodGetTransactions, func() ([]monerod.Tx, error) { return c.GetTransactions(ctx, hexes) })
		if err != nil {
			return err
		}
		slowest = max(slowest, time.Since(start))
		for _, tx := range txs {
			var h monerod.TxHash
			if _, err := hex.Decode(h[:], []byte(tx.Hash)); err != nil || !tx.InPool {
				continue
			}
			received := uint32(0)
			if tx.ReceiveTime > 0 && tx.ReceiveTime <= 1<<32-1 {
				received = uint32(tx.ReceiveTime)
			}
			p.txs[h] = poolTx{fee: tx.Fee, size: uint32(min(tx.Size, 1<<32-1)), received: received}
		}
		todo, p.pending = todo[len(batch):], p.pending[len(batch):]
		p.view = nil
	}
	return nil
}

// summary sorts what the known transactions tell, for emit to read.
func (p *poolCache) summary() *snapshot.PoolTxs {
	v := &snapshot.PoolTxs{Known: len(p.txs), FeePerByte: make([]float64, 0, len(p.txs))}
	for _, tx := range p.txs {
		if tx.size > 0 {
			v.FeePerByte = append(v.FeePerByte, xmr(tx.fee)/float64(tx.size))
		}
		if tx.received > 0 {
			v.ReceiveTimes = append(v.ReceiveTimes, int64(tx.received))
		}
	}
	slices.Sort(v.FeePerByte)
	slices.Sort(v.ReceiveTimes)
	return v
}

func emitTxPool(ch chan<- prometheus.Metric, s *snapshot.Snapshot) {
	st := s.TxPoolStats
	if st == nil {
		return
	}
	ch <- gauge(txPoolBytesDesc, float64(st.BytesTotal))
	ch <- gauge(txPoolFeesDesc, xmr(st.FeeTotal))
	ch <- gauge(txPoolFailingDesc, float64(st.NumFailing))
	ch <- gauge(txPoolDoubleDesc, float64(st.NumDoubleSpends))
	ch <- gauge(txPoolNotRelayedDesc, float64(st.NumNotRelayed))
	ch <- gauge(txPoolOlder10mDesc, float64(st.Num10m))
	if st.Oldest > 0 {
		ch <- gauge(txPoolOldestDesc, float64(st.Oldest))
		ch <- gauge(txPoolOldestAgeDesc, float64(max(s.Time.Unix()-st.Oldest, 0)))
	}
	if st.Histo98pc > 0 {
		ch <- gauge(txPoolAgeP98Desc, float64(st.Histo98pc))
	}
	if st.TxsTotal > 0 {
		ch <- gauge(txPoolSizeMedianDesc, float64(st.BytesMed))
		ch <- gauge(txPoolSizeMaxDesc, float64(st.BytesMax))
	}
	v := s.TxPoolTxs
	if v == nil {
		return
	}
	ch <- gauge(txPoolKnownDesc, float64(v.Known))
	// FeePerByte is sorted: a band holds the rates above the previous
	// edge up to its own.
	below := 0
	for i, label := range feeBandLabels {
		upTo := len(v.FeePerByte)
		if i < len(feeBandEdges) {
			upTo, _ = slices.BinarySearchFunc(v.FeePerByte, feeBandEdges[i], func(rate, edge float64) int {
				if rate <= edge {
					return -1
				}
				return 1
			})
		}
		ch <- gauge(txPoolFeeBandDesc, float64(upTo-below), label)
		below = upTo
	}
	if len(v.FeePerByte) > 0 {
		ch <- gauge(txPoolFeeMedianDesc, quantile(v.FeePerByte, 0.5))
		ch <- gauge(txPoolFeeP90Desc, quantile(v.FeePerByte, 0.9))
	}
	if n := len(v.ReceiveTimes); n > 0 {
		// The ages, youngest first, are the receive times latest first.
		now := s.Time.Unix()
		age := func(i int) float64 { return float64(max(now-v.ReceiveTimes[n-1-i], 0)) }
		pos := 0.5 * float64(n-1)
		lo := int(pos)
		median := age(lo)
		if lo+1 < n {
			median += (pos - float64(lo)) * (age(lo+1) - median)
		}
		ch <- gauge(txPoolAgeMedianDesc, median)
	}
}
