package collector

import (
	"context"

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
	txPoolAgeDesc        = desc("tx_pool_transaction_age_seconds", "Time each pool transaction has waited, from get_transaction_pool receive_time.")
	txPoolSizeHistDesc   = desc("tx_pool_transaction_size_bytes", "Size of each pool transaction, from get_transaction_pool blob_size.")
	txPoolFeePerByteDesc = desc("tx_pool_transaction_fee_per_byte_xmr", "Fee per byte of each pool transaction in XMR, from get_transaction_pool fee / blob_size.")
)

func init() {
	registerCollector(Definition{
		Name:    "txpool",
		Default: true,
		Summary: "the transaction pool's totals, and its transactions' age, size and fee",
		Note:    "The whole pool (get_transaction_pool) only when its stats changed; a restricted node shows public transactions only",
		Snapshot: snapshot.Collector{
			Methods: []string{monerod.MethodGetTxPoolStats, monerod.MethodGetTxPool},
			Fetch:   fetchTxPool,
		},
		descs: []*prometheus.Desc{
			txPoolBytesDesc, txPoolFeesDesc, txPoolFailingDesc, txPoolDoubleDesc, txPoolNotRelayedDesc,
			txPoolOlder10mDesc, txPoolOldestDesc, txPoolAgeDesc, txPoolSizeHistDesc, txPoolFeePerByteDesc,
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
	}
	if s.TxPool == nil {
		return
	}
	now := s.Time.Unix()
	ages := make([]float64, 0, len(s.TxPool))
	sizes := make([]float64, 0, len(s.TxPool))
	feeRates := make([]float64, 0, len(s.TxPool))
	for _, tx := range s.TxPool {
		ages = append(ages, float64(max(now-tx.ReceiveTime, 0)))
		sizes = append(sizes, float64(tx.BlobSize))
		if tx.BlobSize > 0 {
			feeRates = append(feeRates, xmr(tx.Fee)/float64(tx.BlobSize))
		}
	}
	ch <- histogram(txPoolAgeDesc, ageBuckets, ages)
	ch <- histogram(txPoolSizeHistDesc, txSizeBuckets, sizes)
	ch <- histogram(txPoolFeePerByteDesc, feePerByteBuckets, feeRates)
}
