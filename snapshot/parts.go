package snapshot

import (
	"context"
	"slices"

	"github.com/monero-ops/monero_exporter/monerod"
)

// Part names. "info" (get_info, the last block header, hard_fork_info) is
// always fetched; the others only when a Config names them.
const (
	PartInfo        = "info"
	PartTxPool      = "txpool"
	PartLastBlock   = "last_block"
	PartConnections = "connections"
	PartNet         = "net"
	PartPeerList    = "peerlist"
	PartBans        = "bans"
	PartRPCAccess   = "rpc_access"
	PartMining      = "mining"
	PartFee         = "fee"
)

// part is an optional piece of a snapshot: the calls it makes and where it
// puts their answers. Each part writes only its own fields of the Snapshot.
type part struct {
	name string
	// unrestrictedOnly parts are not asked of restricted nodes at all.
	unrestrictedOnly bool
	// tipBound parts depend only on the chain's tip: they run once get_info
	// has told the tip hash, and while it stays the same carry copies the
	// previous snapshot's answer instead (reporting whether it could).
	tipBound bool
	carry    func(prev, cur *Snapshot) bool
	fetch    func(ctx context.Context, c *monerod.Client, cur, prev *Snapshot) error
}

var knownParts = map[string]part{
	PartTxPool: {
		name: PartTxPool,
		fetch: func(ctx context.Context, c *monerod.Client, cur, prev *Snapshot) error {
			stats, err := call(cur, monerod.MethodGetTxPoolStats, func() (*monerod.TxPoolStats, error) { return c.GetTxPoolStats(ctx) })
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
			cur.TxPool, err = call(cur, monerod.MethodGetTxPool, func() ([]monerod.PoolTx, error) { return c.GetTxPool(ctx) })
			return err
		},
	},
	PartLastBlock: {
		name:     PartLastBlock,
		tipBound: true,
		carry: func(prev, cur *Snapshot) bool {
			cur.Block, cur.BlockTxs = prev.Block, prev.BlockTxs
			return prev.Block != nil && prev.BlockTxs != nil && prev.Block.Header.Hash == cur.Info.TopBlockHash
		},
		fetch: func(ctx context.Context, c *monerod.Client, cur, _ *Snapshot) error {
			hash := cur.Info.TopBlockHash
			block, err := call(cur, monerod.MethodGetBlock, func() (*monerod.Block, error) { return c.GetBlock(ctx, hash) })
			if err != nil {
				return err
			}
			txs, err := call(cur, monerod.MethodGetTransactions, func() ([]monerod.Tx, error) { return c.GetTransactions(ctx, block.TxHashes) })
			if err != nil {
				return err
			}
			cur.Block, cur.BlockTxs = block, txs
			return nil
		},
	},
	PartConnections: {
		name:             PartConnections,
		unrestrictedOnly: true,
		fetch: func(ctx context.Context, c *monerod.Client, cur, _ *Snapshot) error {
			cur.Connections, cur.ConnectionsErr = call(cur, monerod.MethodGetConnections, func() ([]monerod.Connection, error) { return c.GetConnections(ctx) })
			return cur.ConnectionsErr
		},
	},
	PartNet: {
		name:             PartNet,
		unrestrictedOnly: true,
		fetch: func(ctx context.Context, c *monerod.Client, cur, _ *Snapshot) (err error) {
			cur.NetStats, err = call(cur, monerod.MethodGetNetStats, func() (*monerod.NetStats, error) { return c.GetNetStats(ctx) })
			return err
		},
	},
	PartPeerList: {
		name:             PartPeerList,
		unrestrictedOnly: true,
		fetch: func(ctx context.Context, c *monerod.Client, cur, _ *Snapshot) (err error) {
			cur.PeerList, err = call(cur, monerod.MethodGetPeerList, func() (*monerod.PeerList, error) { return c.GetPeerList(ctx) })
			return err
		},
	},
	PartBans: {
		name:             PartBans,
		unrestrictedOnly: true,
		fetch: func(ctx context.Context, c *monerod.Client, cur, _ *Snapshot) (err error) {
			cur.Bans, err = call(cur, monerod.MethodGetBans, func() ([]monerod.Ban, error) { return c.GetBans(ctx) })
			return err
		},
	},
	PartRPCAccess: {
		name:             PartRPCAccess,
		unrestrictedOnly: true,
		fetch: func(ctx context.Context, c *monerod.Client, cur, _ *Snapshot) (err error) {
			cur.RPCAccess, err = call(cur, monerod.MethodRPCAccessTracking, func() ([]monerod.RPCAccess, error) { return c.RPCAccessTracking(ctx) })
			return err
		},
	},
	PartMining: {
		name:             PartMining,
		unrestrictedOnly: true,
		fetch: func(ctx context.Context, c *monerod.Client, cur, _ *Snapshot) (err error) {
			cur.Mining, err = call(cur, monerod.MethodMiningStatus, func() (*monerod.MiningStatus, error) { return c.GetMiningStatus(ctx) })
			return err
		},
	},
	PartFee: {
		name:     PartFee,
		tipBound: true,
		carry: func(prev, cur *Snapshot) bool {
			cur.Fee = prev.Fee
			return prev.Fee != nil
		},
		fetch: func(ctx context.Context, c *monerod.Client, cur, _ *Snapshot) (err error) {
			cur.Fee, err = call(cur, monerod.MethodGetFeeEstimate, func() (*monerod.FeeEstimate, error) { return c.GetFeeEstimate(ctx) })
			return err
		},
	},
}

// PartNames lists the optional parts a Config may name, sorted.
func PartNames() []string {
	names := make([]string, 0, len(knownParts))
	for n := range knownParts {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

func (s *Source) isRefused(name string) bool {
	s.refusedMu.Lock()
	defer s.refusedMu.Unlock()
	return s.refused[name]
}

// markRefused remembers that the node refused a part, telling OnRefused the
// first time only.
func (s *Source) markRefused(name string, err error) {
	s.refusedMu.Lock()
	first := !s.refused[name]
	s.refused[name] = true
	s.refusedMu.Unlock()
	if first && s.onRefused != nil {
		s.onRefused(name, err)
	}
}
