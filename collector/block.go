package collector

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/monero-ops/monero_exporter/monerod"
	"github.com/monero-ops/monero_exporter/snapshot"
)

// The last_block collector: the tip block's transactions.

var (
	blockFeesDesc       = desc("last_block_fees_xmr", "Fees paid by the transactions of the last block in XMR, from get_transactions.")
	blockSubsidyDesc    = desc("last_block_subsidy_xmr", "Newly minted XMR in the last block: its reward minus its fees.")
	blockInputsDesc     = desc("last_block_transaction_inputs", "Inputs of each transaction in the last block, from get_transactions.")
	blockOutputsDesc    = desc("last_block_transaction_outputs", "Outputs of each transaction in the last block, from get_transactions.")
	blockTxSizeDesc     = desc("last_block_transaction_size_bytes", "Size of each transaction in the last block, from get_transactions.")
	blockFeePerByteDesc = desc("last_block_transaction_fee_per_byte_xmr", "Fee per byte of each transaction in the last block in XMR, from get_transactions.")
)

func init() {
	registerCollector(Definition{
		Name:    "last_block",
		Default: true,
		Summary: "the fees, subsidy and transactions of the last block",
		Snapshot: snapshot.Collector{
			Methods:  []string{monerod.MethodGetBlock, monerod.MethodGetTransactions},
			TipBound: true,
			Carry:    carryBlock,
			Fetch:    fetchBlock,
		},
		descs: []*prometheus.Desc{blockFeesDesc, blockSubsidyDesc, blockInputsDesc, blockOutputsDesc, blockTxSizeDesc, blockFeePerByteDesc},
		emit:  emitLastBlock,
	})
}

func carryBlock(prev, cur *snapshot.Snapshot) bool {
	cur.Block, cur.BlockTxs = prev.Block, prev.BlockTxs
	return prev.Block != nil && prev.BlockTxs != nil && prev.Block.Header.Hash == cur.Info.TopBlockHash
}

func fetchBlock(ctx context.Context, c *monerod.Client, cur, _ *snapshot.Snapshot) error {
	hash := cur.Info.TopBlockHash
	block, err := snapshot.RPC(cur, monerod.MethodGetBlock, func() (*monerod.Block, error) { return c.GetBlock(ctx, hash) })
	if err != nil {
		return err
	}
	txs, err := snapshot.RPC(cur, monerod.MethodGetTransactions, func() ([]monerod.Tx, error) { return c.GetTransactions(ctx, block.TxHashes) })
	if err != nil {
		return err
	}
	cur.Block, cur.BlockTxs = block, txs
	return nil
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
