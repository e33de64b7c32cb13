package collector

import (
	"cmp"
	"maps"
	"slices"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/monero-ops/monero_exporter/monerod"
	"github.com/monero-ops/monero_exporter/snapshot"
)

// Bucket bounds, chosen for mainnet: a pool transaction waits seconds to
// hours and weighs 1.5-100 kB; fees run from the base fee (about 20000
// piconero per byte at the minimum block weight) up to the fastest priority
// (some 166 times that), and higher where the block reward is higher (regtest).
var (
	ageBuckets        = []float64{30, 60, 120, 300, 600, 1800, 3600, 7200, 21600, 86400}
	txSizeBuckets     = []float64{1000, 1500, 2000, 3000, 5000, 10000, 20000, 50000, 100000}
	feePerByteBuckets = []float64{5e-9, 10e-9, 20e-9, 50e-9, 100e-9, 200e-9, 500e-9, 1e-6, 5e-6, 20e-6}
	inputsBuckets     = []float64{1, 2, 3, 4, 8, 16, 32, 64, 128}
	outputsBuckets    = []float64{1, 2, 3, 4, 8, 16}
	lagBuckets        = []float64{-100, -10, -1, 0, 1, 2, 5, 10, 100, 1000}
	connAgeBuckets    = []float64{60, 300, 900, 3600, 21600, 86400, 604800}
	rateBuckets       = []float64{1024, 10240, 102400, 1048576, 10485760}
	lastSeenBuckets   = []float64{60, 600, 3600, 21600, 86400, 604800, 2592000}
	banBuckets        = []float64{60, 600, 3600, 21600, 86400, 604800}
)

// The states monerod gives a P2P connection; each is always exported (0 when
// none) so that series do not come and go.
var connectionStates = []string{"before_handshake", "synchronizing", "standby", "idle", "normal"}

var (
	txPoolBytesDesc       = desc("tx_pool_size_bytes", "Total size of the transactions in the pool, from get_transaction_pool_stats.bytes_total.")
	txPoolFeesDesc        = desc("tx_pool_fees_xmr", "Total fees of the transactions in the pool in XMR, from get_transaction_pool_stats.fee_total.")
	txPoolFailingDesc     = desc("tx_pool_failing_transactions", "Pool transactions that failed to enter a block, from get_transaction_pool_stats.num_failing.")
	txPoolDoubleDesc      = desc("tx_pool_double_spend_transactions", "Pool transactions seen double-spending, from get_transaction_pool_stats.num_double_spends.")
	txPoolNotRelayedDesc  = desc("tx_pool_not_relayed_transactions", "Pool transactions not relayed, from get_transaction_pool_stats.num_not_relayed.")
	txPoolOlder10mDesc    = desc("tx_pool_transactions_older_10m", "Pool transactions older than 10 minutes, from get_transaction_pool_stats.num_10m.")
	txPoolOldestDesc      = desc("tx_pool_oldest_timestamp_seconds", "Unix time the oldest pool transaction arrived, from get_transaction_pool_stats.oldest. Absent when the pool is empty.")
	txPoolAgeDesc         = desc("tx_pool_transaction_age_seconds", "Time each pool transaction has waited, from get_transaction_pool receive_time.")
	txPoolSizeHistDesc    = desc("tx_pool_transaction_size_bytes", "Size of each pool transaction, from get_transaction_pool blob_size.")
	txPoolFeePerByteDesc  = desc("tx_pool_transaction_fee_per_byte_xmr", "Fee per byte of each pool transaction in XMR, from get_transaction_pool fee / blob_size.")
	blockFeesDesc         = desc("last_block_fees_xmr", "Fees paid by the transactions of the last block in XMR, from get_transactions.")
	blockSubsidyDesc      = desc("last_block_subsidy_xmr", "Newly minted XMR in the last block: its reward minus its fees.")
	blockInputsDesc       = desc("last_block_transaction_inputs", "Inputs of each transaction in the last block, from get_transactions.")
	blockOutputsDesc      = desc("last_block_transaction_outputs", "Outputs of each transaction in the last block, from get_transactions.")
	blockTxSizeDesc       = desc("last_block_transaction_size_bytes", "Size of each transaction in the last block, from get_transactions.")
	blockFeePerByteDesc   = desc("last_block_transaction_fee_per_byte_xmr", "Fee per byte of each transaction in the last block in XMR, from get_transactions.")
	connectionsDesc       = desc("connections", "P2P connections by direction and state, from get_connections.", "direction", "state")
	connLagDesc           = desc("connection_height_lag_blocks", "Our height minus each peer's height, from get_connections (negative: the peer is ahead; refreshed by monerod about once a minute).")
	connAgeDesc           = desc("connection_age_seconds", "How long each P2P connection has been open, from get_connections.live_time.")
	connRecvRateDesc      = desc("connection_receive_rate_bytes_per_second", "Current receive rate of each P2P connection, from get_connections.current_download.")
	connSendRateDesc      = desc("connection_send_rate_bytes_per_second", "Current send rate of each P2P connection, from get_connections.current_upload.")
	netRecvBytesDesc      = desc("net_received_bytes_total", "P2P bytes received since monerod started, from get_net_stats.")
	netSentBytesDesc      = desc("net_sent_bytes_total", "P2P bytes sent since monerod started, from get_net_stats.")
	netRecvPacketsDesc    = desc("net_received_packets_total", "P2P packets received since monerod started, from get_net_stats.")
	netSentPacketsDesc    = desc("net_sent_packets_total", "P2P packets sent since monerod started, from get_net_stats.")
	peerlistLastSeenDesc  = desc("peerlist_last_seen_age_seconds", "Time since each public peer-list entry was last seen, from get_peer_list.", "list")
	bansDesc              = desc("bans", "Hosts banned by the node, from get_bans.")
	banRemainingDesc      = desc("ban_remaining_seconds", "Time left on each ban, from get_bans.")
	rpcAccessRequestsDesc = desc("rpc_access_requests_total", "RPC requests monerod served, by method, from rpc_access_tracking.", "method")
	rpcAccessTimeDesc     = desc("rpc_access_time_seconds_total", "Time monerod spent serving RPC requests, by method, from rpc_access_tracking.", "method")
	rpcAccessCreditsDesc  = desc("rpc_access_credits_total", "RPC payment credits charged, by method, from rpc_access_tracking.", "method")
	miningActiveDesc      = desc("mining_active", "1 when the node is mining, from mining_status.active.")
	miningThreadsDesc     = desc("mining_threads", "Mining threads, from mining_status.threads_count.")
	miningHashrateDesc    = desc("mining_hashrate_hashes_per_second", "The node's own mining hash rate, from mining_status.speed.")
	miningBackgroundDesc  = desc("mining_background", "1 when background mining is enabled, from mining_status.")
	feePerByteDesc        = desc("fee_per_byte_xmr", "Estimated fee per byte in XMR by priority, from get_fee_estimate.", "priority")
	feeQuantizationDesc   = desc("fee_quantization_xmr", "Fees are rounded up to a multiple of this amount in XMR, from get_fee_estimate.quantization_mask.")
)

// breadthDescs are the descriptors of the optional parts, by part.
var breadthDescs = map[string][]*prometheus.Desc{
	snapshot.PartTxPool: {
		txPoolBytesDesc, txPoolFeesDesc, txPoolFailingDesc, txPoolDoubleDesc, txPoolNotRelayedDesc,
		txPoolOlder10mDesc, txPoolOldestDesc, txPoolAgeDesc, txPoolSizeHistDesc, txPoolFeePerByteDesc,
	},
	snapshot.PartLastBlock:   {blockFeesDesc, blockSubsidyDesc, blockInputsDesc, blockOutputsDesc, blockTxSizeDesc, blockFeePerByteDesc},
	snapshot.PartConnections: {connectionsDesc, connLagDesc, connAgeDesc, connRecvRateDesc, connSendRateDesc},
	snapshot.PartNet:         {netRecvBytesDesc, netSentBytesDesc, netRecvPacketsDesc, netSentPacketsDesc},
	snapshot.PartPeerList:    {peerlistLastSeenDesc},
	snapshot.PartBans:        {bansDesc, banRemainingDesc},
	snapshot.PartRPCAccess:   {rpcAccessRequestsDesc, rpcAccessTimeDesc, rpcAccessCreditsDesc},
	snapshot.PartMining:      {miningActiveDesc, miningThreadsDesc, miningHashrateDesc, miningBackgroundDesc},
	snapshot.PartFee:         {feePerByteDesc, feeQuantizationDesc},
}

// emitters turn each optional part's answer into metrics.
var emitters = map[string]func(ch chan<- prometheus.Metric, s *snapshot.Snapshot){
	snapshot.PartTxPool:      emitTxPool,
	snapshot.PartLastBlock:   emitLastBlock,
	snapshot.PartConnections: emitConnections,
	snapshot.PartNet:         emitNet,
	snapshot.PartPeerList:    emitPeerList,
	snapshot.PartBans:        emitBans,
	snapshot.PartRPCAccess:   emitRPCAccess,
	snapshot.PartMining:      emitMining,
	snapshot.PartFee:         emitFee,
}

func xmr(atomic uint64) float64 { return float64(atomic) / atomicUnitsPerXMR }

// histogram builds a constant histogram of values over bounds.
func histogram(d *prometheus.Desc, bounds []float64, values []float64, labels ...string) prometheus.Metric {
	counts := make(map[float64]uint64, len(bounds))
	var sum float64
	for _, v := range values {
		sum += v
		for _, b := range bounds {
			if v <= b {
				counts[b]++
			}
		}
	}
	for _, b := range bounds {
		if _, ok := counts[b]; !ok {
			counts[b] = 0
		}
	}
	return prometheus.MustNewConstHistogram(d, uint64(len(values)), sum, counts, labels...)
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

func emitLastBlock(ch chan<- prometheus.Metric, s *snapshot.Snapshot) {
	if s.Block == nil || s.BlockTxs == nil {
		return
	}
	var fees uint64
	inputs := make([]float64, 0, len(s.BlockTxs))
	outputs := make([]float64, 0, len(s.BlockTxs))
	sizes := make([]float64, 0, len(s.BlockTxs))
	feeRates := make([]float64, 0, len(s.BlockTxs))
	for _, tx := range s.BlockTxs {
		fees += tx.Fee
		inputs = append(inputs, float64(tx.Inputs))
		outputs = append(outputs, float64(tx.Outputs))
		sizes = append(sizes, float64(tx.Size))
		if tx.Size > 0 {
			feeRates = append(feeRates, xmr(tx.Fee)/float64(tx.Size))
		}
	}
	ch <- gauge(blockFeesDesc, xmr(fees))
	if reward := s.Block.Header.Reward; reward >= fees {
		ch <- gauge(blockSubsidyDesc, xmr(reward-fees))
	}
	ch <- histogram(blockInputsDesc, inputsBuckets, inputs)
	ch <- histogram(blockOutputsDesc, outputsBuckets, outputs)
	ch <- histogram(blockTxSizeDesc, txSizeBuckets, sizes)
	ch <- histogram(blockFeePerByteDesc, feePerByteBuckets, feeRates)
}

func emitConnections(ch chan<- prometheus.Metric, s *snapshot.Snapshot) {
	if s.Connections == nil || s.Info == nil {
		return
	}
	type key struct{ direction, state string }
	counts := map[key]int{}
	for _, dir := range []string{"incoming", "outgoing"} {
		for _, st := range connectionStates {
			counts[key{dir, st}] = 0
		}
	}
	n := len(s.Connections)
	lags, ages := make([]float64, 0, n), make([]float64, 0, n)
	recv, send := make([]float64, 0, n), make([]float64, 0, n)
	for _, c := range s.Connections {
		dir := "outgoing"
		if c.Incoming {
			dir = "incoming"
		}
		counts[key{dir, c.State}]++
		lags = append(lags, float64(s.Info.Height)-float64(c.Height))
		ages = append(ages, float64(c.LiveTime))
		recv = append(recv, float64(c.CurrentDownload)*1024) // monerod reports kB/s
		send = append(send, float64(c.CurrentUpload)*1024)
	}
	for _, k := range slices.SortedFunc(maps.Keys(counts), func(a, b key) int {
		return cmp.Or(cmp.Compare(a.direction, b.direction), cmp.Compare(a.state, b.state))
	}) {
		ch <- gauge(connectionsDesc, float64(counts[k]), k.direction, k.state)
	}
	ch <- histogram(connLagDesc, lagBuckets, lags)
	ch <- histogram(connAgeDesc, connAgeBuckets, ages)
	ch <- histogram(connRecvRateDesc, rateBuckets, recv)
	ch <- histogram(connSendRateDesc, rateBuckets, send)
}

func counter(d *prometheus.Desc, v float64, labels ...string) prometheus.Metric {
	return prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
}

func emitNet(ch chan<- prometheus.Metric, s *snapshot.Snapshot) {
	n := s.NetStats
	if n == nil {
		return
	}
	ch <- counter(netRecvBytesDesc, float64(n.TotalBytesIn))
	ch <- counter(netSentBytesDesc, float64(n.TotalBytesOut))
	ch <- counter(netRecvPacketsDesc, float64(n.TotalPacketsIn))
	ch <- counter(netSentPacketsDesc, float64(n.TotalPacketsOut))
}

func emitPeerList(ch chan<- prometheus.Metric, s *snapshot.Snapshot) {
	if s.PeerList == nil {
		return
	}
	now := s.Time.Unix()
	for _, l := range []struct {
		name  string
		peers []monerod.Peer
	}{{"white", s.PeerList.WhiteList}, {"grey", s.PeerList.GrayList}} {
		ages := make([]float64, 0, len(l.peers))
		for _, p := range l.peers {
			ages = append(ages, float64(max(now-p.LastSeen, 0)))
		}
		ch <- histogram(peerlistLastSeenDesc, lastSeenBuckets, ages, l.name)
	}
}

func emitBans(ch chan<- prometheus.Metric, s *snapshot.Snapshot) {
	if s.Bans == nil {
		return
	}
	left := make([]float64, 0, len(s.Bans))
	for _, b := range s.Bans {
		left = append(left, float64(b.Seconds))
	}
	ch <- gauge(bansDesc, float64(len(s.Bans)))
	ch <- histogram(banRemainingDesc, banBuckets, left)
}

func emitRPCAccess(ch chan<- prometheus.Metric, s *snapshot.Snapshot) {
	if s.RPCAccess == nil {
		return
	}
	// Sum by method so that a repeated entry cannot make duplicate series.
	byMethod := map[string]monerod.RPCAccess{}
	for _, a := range s.RPCAccess {
		t := byMethod[a.RPC]
		t.Count += a.Count
		t.Time += a.Time
		t.Credits += a.Credits
		byMethod[a.RPC] = t
	}
	for _, m := range slices.Sorted(maps.Keys(byMethod)) {
		a := byMethod[m]
		ch <- counter(rpcAccessRequestsDesc, float64(a.Count), m)
		ch <- counter(rpcAccessTimeDesc, float64(a.Time)/1e6, m)
		ch <- counter(rpcAccessCreditsDesc, float64(a.Credits), m)
	}
}

func emitMining(ch chan<- prometheus.Metric, s *snapshot.Snapshot) {
	m := s.Mining
	if m == nil {
		return
	}
	ch <- gauge(miningActiveDesc, b2f(m.Active))
	ch <- gauge(miningThreadsDesc, float64(m.ThreadsCount))
	ch <- gauge(miningHashrateDesc, float64(m.Speed))
	ch <- gauge(miningBackgroundDesc, b2f(m.BackgroundMining))
}

// feePriorities name get_fee_estimate's fees array, in its order.
var feePriorities = []string{"slow", "normal", "fast", "fastest"}

func emitFee(ch chan<- prometheus.Metric, s *snapshot.Snapshot) {
	f := s.Fee
	if f == nil {
		return
	}
	if len(f.Fees) == len(feePriorities) {
		for i, p := range feePriorities {
			ch <- gauge(feePerByteDesc, xmr(f.Fees[i]), p)
		}
	} else {
		ch <- gauge(feePerByteDesc, xmr(f.Fee), "slow") // nodes before the priority list
	}
	ch <- gauge(feeQuantizationDesc, xmr(f.QuantizationMask))
}
