package collector

import (
	"context"
	"slices"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/monero-ops/monero_exporter/monerod"
	"github.com/monero-ops/monero_exporter/snapshot"
)

// The txpool collector: the node's transaction pool.

var (
	txPoolBytesDesc      = desc("tx_pool_size_bytes", "Total size of the transactions in the pool, from get_transaction_pool_stats.bytes_total.")
	txPoolFeesDesc       = desc("tx_pool_fees_xmr", "Total fees of the transactions in the pool in XMR, from get_transaction_pool_stats.fee_total.")
	txPoolFailingDesc    = desc("tx_pool_failing_transactions", "Pool transactions that failed to enter a block, from get_transaction_pool_stats.num_failing.")
	txPoolDoubleDesc     = desc("tx_pool_double_spend_transactions", "Pool transactions seen double-spending, from get_transaction_pool_stats.num_double_spends.")
	txPoolNotRelayedDesc = desc("tx_pool_not_relayed_transactions", "Pool transactions not relayed, from get_transaction_pool_stats.num_not_relayed.")
	txPoolOlder10mDesc   = desc("tx_pool_transactions_older_10m", "Pool transactions older than 10 minutes, from get_transaction_pool_stats.num_10m.")
	txPoolOldestDesc     = desc("tx_pool_oldest_timestamp_seconds", "Unix time the oldest pool transaction arrived, from get_transaction_pool_stats.oldest. Absent when the pool is empty.")
	txPoolOldestAgeDesc  = desc("tx_pool_oldest_age_seconds", "How long the oldest pool transaction has waited at this scrape, from get_transaction_pool_stats.oldest. Absent when the pool is empty.")
	txPoolSizeMedianDesc = desc("tx_pool_transaction_size_median_bytes", "Median size of a pool transaction now, from get_transaction_pool_stats.bytes_med. Absent when the pool is empty.")
	txPoolSizeMaxDesc    = desc("tx_pool_transaction_size_max_bytes", "Size of the largest pool transaction now, from get_transaction_pool_stats.bytes_max. Absent when the pool is empty.")
	txPoolAgeMedianDesc  = desc("tx_pool_age_median_seconds", "Median time the pool's transactions have waited at this scrape, from get_transaction_pool receive_time. Absent when the pool is empty.")
	txPoolFeeBandDesc    = desc("tx_pool_fee_band_transactions", "Pool transactions now, by fee per byte in XMR (get_transaction_pool fee / blob_size): band is the band's upper edge, and a transaction counts in the lowest band whose edge its fee per byte does not exceed (+Inf: above every edge). Not cumulative: the bands add up to the pool.", "band")
	txPoolFeeMedianDesc  = desc("tx_pool_fee_per_byte_median_xmr", "Median fee per byte in XMR of the pool's transactions now, from get_transaction_pool fee / blob_size. Absent when the pool is empty.")
	txPoolFeeP90Desc     = desc("tx_pool_fee_per_byte_p90_xmr", "90th percentile of the fee per byte in XMR of the pool's transactions now (a tenth pay more), from get_transaction_pool fee / blob_size. Absent when the pool is empty.")
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
		Summary: "the transaction pool now: its totals, its transactions by fee band, and their median and 90th-percentile fee per byte, median and largest size, median and oldest age",
		Note:    "The whole pool (get_transaction_pool) only when its stats changed; a restricted node shows public transactions only",
		Snapshot: snapshot.Collector{
			Methods: []string{monerod.MethodGetTxPoolStats, monerod.MethodGetTxPool},
			Fetch:   fetchTxPool,
		},
		descs: []*prometheus.Desc{
			txPoolBytesDesc, txPoolFeesDesc, txPoolFailingDesc, txPoolDoubleDesc, txPoolNotRelayedDesc,
			txPoolOlder10mDesc, txPoolOldestDesc, txPoolOldestAgeDesc, txPoolSizeMedianDesc, txPoolSizeMaxDesc,
			txPoolAgeMedianDesc, txPoolFeeBandDesc, txPoolFeeMedianDesc, txPoolFeeP90Desc,
		},
		emit: emitTxPool,
	})
}

func fetchTxPool(ctx context.Context, c *monerod.Client, cur, prev *snapshot.Snapshot) error {
	stats, err := snapshot.RPC(cur, monerod.MethodGetTxPoolStats, func() (*monerod.TxPoolStats, error) { return c.GetTxPoolStats(ctx) })
	if err != nil {
		return err
	}
	cur.TxPoolStats = stats
	// The full pool is large; ask for it only when the pool changed.
	if prev != nil && prev.TxPoolStats != nil && prev.TxPool != nil && *prev.TxPoolStats == *stats {
		cur.TxPool = prev.TxPool
		return nil
	}
	if stats.TxsTotal == 0 {
		cur.TxPool = []monerod.PoolTx{}
		return nil
	}
	cur.TxPool, err = snapshot.RPC(cur, monerod.MethodGetTxPool, func() ([]monerod.PoolTx, error) { return c.GetTxPool(ctx) })
	return err
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
	if st.TxsTotal > 0 {
		ch <- gauge(txPoolSizeMedianDesc, float64(st.BytesMed))
		ch <- gauge(txPoolSizeMaxDesc, float64(st.BytesMax))
	}
	if s.TxPool == nil {
		return
	}
	now := s.Time.Unix()
	ages := make([]float64, 0, len(s.TxPool))
	feeRates := make([]float64, 0, len(s.TxPool))
	bands := make([]int, len(feeBandLabels))
	for _, tx := range s.TxPool {
		ages = append(ages, float64(max(now-tx.ReceiveTime, 0)))
		if tx.BlobSize == 0 {
			continue
		}
		rate := xmr(tx.Fee) / float64(tx.BlobSize)
		feeRates = append(feeRates, rate)
		i, _ := slices.BinarySearch(feeBandEdges, rate) // the first edge >= rate
		bands[i]++
	}
	for i, label := range feeBandLabels {
		ch <- gauge(txPoolFeeBandDesc, float64(bands[i]), label)
	}
	if len(ages) > 0 {
		slices.Sort(ages)
		ch <- gauge(txPoolAgeMedianDesc, quantile(ages, 0.5))
	}
	if len(feeRates) > 0 {
		slices.Sort(feeRates)
		ch <- gauge(txPoolFeeMedianDesc, quantile(feeRates, 0.5))
		ch <- gauge(txPoolFeeP90Desc, quantile(feeRates, 0.9))
	}
}
