package collector

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/monero-ops/monero_exporter/monerod"
	"github.com/monero-ops/monero_exporter/snapshot"
)

// The last_block collector: the tip block's fees and subsidy, and
// histograms of the blocks as they join the chain and of their
// transactions.

// maxNewBlocks bounds the headers asked in one snapshot: after a long
// outage or during a sync, the latest blocks are counted and the others
// not.
const maxNewBlocks = 100

var (
	blockFeesDesc    = desc("last_block_fees_xmr", "Fees paid by the transactions of the last block in XMR, from get_transactions.")
	blockSubsidyDesc = desc("last_block_subsidy_xmr", "Newly minted XMR in the last block: its reward minus its fees.")
)

// Bucket bounds of the block histograms, for mainnet: one block every two
// minutes on average (exponentially distributed), blocks from a few
// hundred bytes to the 300 kB penalty-free zone and beyond; transactions
// of 1.5-100 kB paying from the base fee (about 20000 piconero per byte at
// the minimum block weight) to the fastest priority (some 166 times that),
// and more where the block reward is higher (regtest).
var (
	intervalBuckets    = []float64{15, 30, 60, 90, 120, 180, 240, 300, 600, 1200, 1800, 3600}
	blockWeightBuckets = []float64{1000, 10000, 30000, 60000, 100000, 150000, 200000, 300000, 450000, 600000, 1000000}
	txSizeBuckets      = []float64{1000, 1500, 2000, 3000, 5000, 10000, 20000, 50000, 100000}
	feePerByteBuckets  = []float64{5e-9, 10e-9, 20e-9, 50e-9, 100e-9, 200e-9, 500e-9, 1e-6, 5e-6, 20e-6}
	inputsBuckets      = []float64{1, 2, 3, 4, 8, 16, 32, 64, 128}
	outputsBuckets     = []float64{1, 2, 3, 4, 8, 16}
)

func init() {
	registerCollector(Definition{
		Name:    "last_block",
		Default: true,
		Summary: "the fees and subsidy of the last block, and histograms of every new block's interval and weight and of its transactions' fee per byte, size, inputs and outputs",
		Note: "Each block is observed once, when a snapshot first shows it, from the tip at start on; " +
			"get_block_headers_range only when more than one block came since the last snapshot (at most 100 counted); " +
			"transactions of the blocks fetched as the tip only",
		Snapshot: snapshot.Collector{
			Methods:  []string{monerod.MethodGetBlock, monerod.MethodGetHeadersRange, monerod.MethodGetTransactions},
			TipBound: true,
			Carry:    carryBlock,
			Fetch:    fetchBlock,
		},
		descs:     []*prometheus.Desc{blockFeesDesc, blockSubsidyDesc},
		emit:      emitLastBlock,
		newEvents: func() events { return newBlockEvents() },
	})
}

// carryBlock reuses the tip's block and transactions while the tip is the
// same; the tip's header stays as the parent of the next new block.
func carryBlock(prev, cur *snapshot.Snapshot) bool {
	cur.Block, cur.BlockTxs = prev.Block, prev.BlockTxs
	if n := len(prev.Blocks); n > 0 {
		cur.Blocks = prev.Blocks[n-1:]
	}
	return prev.Block != nil && prev.BlockTxs != nil && prev.Block.Header.Hash == cur.Info.TopBlockHash
}

// fetchBlock asks for the tip block, the headers of the blocks since the
// previous snapshot's tip, and the tip's transactions. Each is asked once
// per tip: when only the transactions failed, the next snapshot asks for
// them alone.
func fetchBlock(ctx context.Context, c *monerod.Client, cur, prev *snapshot.Snapshot) error {
	// The previous tip's header is the parent of the first new block; it
	// is kept when a call fails, so that no block is missed then.
	var parent *monerod.BlockHeader
	if prev != nil && len(prev.Blocks) > 0 {
		parent = &prev.Blocks[len(prev.Blocks)-1]
		cur.Blocks = prev.Blocks[len(prev.Blocks)-1:]
	}
	hash := cur.Info.TopBlockHash
	block := fetchedTip(prev, hash)
	if block == nil {
		var err error
		block, err = snapshot.RPC(cur, monerod.MethodGetBlock, func() (*monerod.Block, error) { return c.GetBlock(ctx, hash) })
		if err != nil {
			return err
		}
	}
	blocks, err := newBlocks(ctx, c, cur, parent, block.Header)
	if err != nil {
		return err
	}
	cur.Block, cur.Blocks = block, blocks
	txs, err := snapshot.RPC(cur, monerod.MethodGetTransactions, func() ([]monerod.Tx, error) { return c.GetTransactions(ctx, block.TxHashes) })
	if err != nil {
		return err
	}
	if len(txs) != len(block.TxHashes) {
		return fmt.Errorf("%s: %w: %d of the tip's %d transactions", monerod.MethodGetTransactions, monerod.ErrBadResponse, len(txs), len(block.TxHashes))
	}
	cur.BlockTxs = txs
	return nil
}

// fetchedTip returns the tip block prev fetched but could not get the
// transactions of, when it is still the tip; else nil.
func fetchedTip(prev *snapshot.Snapshot, hash string) *monerod.Block {
	if prev != nil && prev.Block != nil && prev.BlockTxs == nil && prev.Block.Header.Hash == hash {
		return prev.Block
	}
	return nil
}

// newBlocks returns the headers from parent (the previous tip) to tip, each
// the parent of the next. One new block on top of the parent, the common
// case, needs no call; more, or a reorganisation, are read with
// get_block_headers_range, the latest maxNewBlocks at most (the first
// header returned is then the parent of the oldest of them). Without a
// parent (the first snapshot) or when the chain got no higher, the tip
// alone: nothing new to count.
func newBlocks(ctx context.Context, c *monerod.Client, cur *snapshot.Snapshot, parent *monerod.BlockHeader, tip monerod.BlockHeader) ([]monerod.BlockHeader, error) {
	switch {
	case parent == nil || tip.Height <= parent.Height:
		return []monerod.BlockHeader{tip}, nil
	case tip.Height == parent.Height+1 && tip.PrevHash == parent.Hash:
		return []monerod.BlockHeader{*parent, tip}, nil
	}
	from := parent.Height
	if tip.Height-parent.Height > maxNewBlocks {
		from = tip.Height - maxNewBlocks
	}
	blocks, err := snapshot.RPC(cur, monerod.MethodGetHeadersRange, func() ([]monerod.BlockHeader, error) {
		return c.GetBlockHeadersRange(ctx, from, tip.Height)
	})
	if errors.Is(err, monerod.ErrMethodNotAvailable) {
		// A node (or a proxy in front of it) that refuses the range would
		// otherwise have the whole collector skipped from now on: count
		// the blocks of one at a time only (monero_rpc_call_success shows
		// the refusal).
		return []monerod.BlockHeader{tip}, nil
	}
	return blocks, err
}

func emitLastBlock(ch chan<- prometheus.Metric, s *snapshot.Snapshot) {
	if s.Block == nil || s.BlockTxs == nil {
		return
	}
	var fees uint64
	for _, tx := range s.BlockTxs {
		fees += tx.Fee
	}
	ch <- gauge(blockFeesDesc, xmr(fees))
	if reward := s.Block.Header.Reward; reward >= fees {
		ch <- gauge(blockSubsidyDesc, xmr(reward-fees))
	}
}

// blockEvents are the histograms of blocks as they join the chain: each
// block is observed once, by the first snapshot that shows it (see
// snapshot.Source.Observe), whichever request built that snapshot and
// however many scrapes read it. They live as long as the process, so
// rate(..._bucket[1h]) is the distribution over the last hour's blocks.
type blockEvents struct {
	mu      sync.Mutex
	started bool
	// height is the last block whose header was observed; txHeight the
	// last whose transactions were.
	height, txHeight uint64

	interval, weight                          prometheus.Histogram
	txFeePerByte, txSize, txInputs, txOutputs prometheus.Histogram
}

func newBlockEvents() *blockEvents {
	h := func(name, help string, buckets []float64) prometheus.Histogram {
		return prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: namespace, Name: name, Help: help, Buckets: buckets})
	}
	const once = " Observed once per block, when the exporter first sees it (none from before it started; at most 100 per snapshot)."
	const txOnce = " Observed once per block, for the blocks the exporter fetched as the tip (a block buried before the next snapshot is not counted)."
	return &blockEvents{
		interval: h("block_interval_seconds",
			"Seconds from the parent block's timestamp to the block's, from get_block and get_block_headers_range; miners set timestamps, and one before its parent's counts as 0."+once,
			intervalBuckets),
		weight: h("block_weight_bytes",
			"Weight of each block, from get_block and get_block_headers_range."+once,
			blockWeightBuckets),
		txFeePerByte: h("block_transaction_fee_per_byte_xmr",
			"Fee per byte in XMR of each transaction mined in a block, from get_transactions (fee / size)."+txOnce,
			feePerByteBuckets),
		txSize: h("block_transaction_size_bytes",
			"Size of each transaction mined in a block, from get_transactions."+txOnce,
			txSizeBuckets),
		txInputs: h("block_transaction_inputs",
			"Inputs of each transaction mined in a block, from get_transactions."+txOnce,
			inputsBuckets),
		txOutputs: h("block_transaction_outputs",
			"Outputs of each transaction mined in a block, from get_transactions."+txOnce,
			outputsBuckets),
	}
}

func (e *blockEvents) histograms() []prometheus.Histogram {
	return []prometheus.Histogram{e.interval, e.weight, e.txFeePerByte, e.txSize, e.txInputs, e.txOutputs}
}

// Describe implements prometheus.Collector.
func (e *blockEvents) Describe(ch chan<- *prometheus.Desc) {
	for _, h := range e.histograms() {
		ch <- h.Desc()
	}
}

// Collect implements prometheus.Collector.
func (e *blockEvents) Collect(ch chan<- prometheus.Metric) {
	for _, h := range e.histograms() {
		ch <- h
	}
}

// observe counts the blocks of s not counted yet. The first snapshot
// only sets where counting starts: the tip at start is the past.
func (e *blockEvents) observe(s *snapshot.Snapshot) {
	if len(s.Blocks) == 0 {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	tip := s.Blocks[len(s.Blocks)-1]
	if !e.started {
		e.started, e.height, e.txHeight = true, tip.Height, tip.Height
		return
	}
	// s.Blocks[0] is the parent of the first new block, seen before (or,
	// after more than maxNewBlocks, given up).
	for i := 1; i < len(s.Blocks); i++ {
		h, parent := s.Blocks[i], s.Blocks[i-1]
		if h.Height <= e.height {
			continue
		}
		e.weight.Observe(float64(h.BlockWeight))
		e.interval.Observe(float64(max(h.Timestamp-parent.Timestamp, 0)))
		e.height = h.Height
	}
	if b := s.Block; b != nil && s.BlockTxs != nil && b.Header.Height > e.txHeight {
		for _, tx := range s.BlockTxs {
			e.txSize.Observe(float64(tx.Size))
			e.txInputs.Observe(float64(tx.Inputs))
			e.txOutputs.Observe(float64(tx.Outputs))
			if tx.Size > 0 {
				e.txFeePerByte.Observe(xmr(tx.Fee) / float64(tx.Size))
			}
		}
		e.txHeight = b.Header.Height
	}
}
