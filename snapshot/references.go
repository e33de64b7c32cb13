package snapshot

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/monero-ops/monero_exporter/monerod"
)

// DefaultReferenceTipMaxAge is how long one answer of a reference node's tip
// serves every snapshot that asks for it. With a hundred targets of one
// module probed every 15 s, each reference is asked for its tip about once
// every 2 s rather than a hundred times; the height it reports is at most
// that old, a small fraction of a block's two minutes.
const DefaultReferenceTipMaxAge = 2 * time.Second

// maxReferenceHashes bounds the block hashes remembered per reference node
// (a fleet's targets are at a few heights at most).
const maxReferenceHashes = 256

// Reference is one reference node: another node of the fleet, or a trusted
// public node, whose chain the node's is compared with.
type Reference struct {
	// Name labels the reference in metrics and health outputs. It is
	// configured, so bounded, and must never hold credentials.
	Name string
	// Client reaches the reference.
	Client *monerod.Client
}

// ReferencesOptions tune a References.
type ReferencesOptions struct {
	// Timeout bounds one call to a reference. A snapshot waits for the
	// call only until its own deadline; the call, shared by whoever asks
	// meanwhile, goes on to fill the cache for the next. Zero: 10 s.
	Timeout time.Duration
	// TipMaxAge is how long an answer of a reference's tip is reused
	// (zero: DefaultReferenceTipMaxAge).
	TipMaxAge time.Duration
}

// References asks reference nodes for their tip and for their block at the
// node's height. One References serves every snapshot Source of a module (or
// the single node), so that many targets compared with the same references
// cost those references one call per tip, not one per target: the tip is
// reused for TipMaxAge, the block at a height while the reference's chain
// has not been reorganised, and calls under way are shared. It is safe for
// concurrent use.
type References struct {
	nodes   []*refNode
	timeout time.Duration
	maxAge  time.Duration
}

// refNode is one reference's client and what it last said.
type refNode struct {
	name   string
	client *monerod.Client

	mu    sync.Mutex
	tip   monerod.BlockHeader // its last tip (Height is the tip's height)
	tipAt time.Time           // when tip was answered; zero: never
	// hashes are blocks of the chain that ends at tip, by height.
	hashes    map[uint64]string
	tipCall   *sharedCall[monerod.BlockHeader]
	hashCalls map[uint64]*sharedCall[string]
}

// sharedCall is a call to a reference that every snapshot asking meanwhile
// waits for, each until its own deadline.
type sharedCall[T any] struct {
	done chan struct{}
	val  T
	err  error
}

// NewReferences builds the references. Names must be set and distinct.
func NewReferences(refs []Reference, opts ReferencesOptions) (*References, error) {
	if opts.Timeout <= 0 {
		opts.Timeout = 10 * time.Second
	}
	if opts.TipMaxAge <= 0 {
		opts.TipMaxAge = DefaultReferenceTipMaxAge
	}
	r := &References{timeout: opts.Timeout, maxAge: opts.TipMaxAge}
	seen := map[string]bool{}
	for _, ref := range refs {
		switch {
		case ref.Name == "" || ref.Client == nil:
			return nil, fmt.Errorf("reference %q: no name or no client", ref.Name)
		case seen[ref.Name]:
			return nil, fmt.Errorf("reference %q is given twice", ref.Name)
		}
		seen[ref.Name] = true
		r.nodes = append(r.nodes, &refNode{name: ref.Name, client: ref.Client, hashes: map[uint64]string{}, hashCalls: map[uint64]*sharedCall[string]{}})
	}
	return r, nil
}

// Names lists the references' names, in their order.
func (r *References) Names() []string {
	if r == nil {
		return nil
	}
	names := make([]string, len(r.nodes))
	for i, n := range r.nodes {
		names[i] = n.name
	}
	return names
}

// Len is the number of references.
func (r *References) Len() int {
	if r == nil {
		return 0
	}
	return len(r.nodes)
}

// Only returns the references named, in their order, sharing their
// clients and what they said: a module's references but the target
// itself, when it is one of them.
func (r *References) Only(names ...string) *References {
	out := &References{timeout: r.timeout, maxAge: r.maxAge}
	for _, n := range r.nodes {
		if slices.Contains(names, n.name) {
			out.nodes = append(out.nodes, n)
		}
	}
	return out
}

// Close drops the references' kept-alive connections.
func (r *References) Close() {
	if r == nil {
		return
	}
	for _, n := range r.nodes {
		n.client.Close()
	}
}

// Chain is what the reference nodes said of the node's chain at one
// snapshot.
type Chain struct {
	// Height is the height of the node's top block (get_info.height - 1):
	// where each reference's block is compared with the node's.
	Height uint64
	// Hash is the node's top block (get_info.top_block_hash).
	Hash string
	// References holds one answer per reference, in their order.
	References []ReferenceAnswer
}

// ReferenceAnswer is what one reference said.
type ReferenceAnswer struct {
	// Name is the reference's name.
	Name string
	// Height is the reference's height (number of blocks, as
	// get_info.height counts); 0 when it did not answer.
	Height uint64
	// Hash is the reference's block at Chain.Height; empty when its chain
	// is shorter, or the call failed.
	Hash string
	// Err is why Height or Hash is missing, when a call failed.
	Err error
}

// Agrees tells whether the reference has the node's top block at the
// node's height. known is false when it cannot tell: it did not answer, or
// its chain is shorter than the node's.
func (c *Chain) Agrees(a ReferenceAnswer) (agrees, known bool) {
	if a.Hash == "" {
		return false, false
	}
	return a.Hash == c.Hash, true
}

// Ask asks every reference, concurrently and within ctx, for its height
// and its block at height (the node's top block, whose hash is hash).
func (r *References) Ask(ctx context.Context, height uint64, hash string) *Chain {
	ch := &Chain{Height: height, Hash: hash, References: make([]ReferenceAnswer, len(r.nodes))}
	var wg sync.WaitGroup
	for i, n := range r.nodes {
		wg.Go(func() { ch.References[i] = r.ask(ctx, n, height) })
	}
	wg.Wait()
	return ch
}

func (r *References) ask(ctx context.Context, n *refNode, height uint64) ReferenceAnswer {
	a := ReferenceAnswer{Name: n.name}
	tip, err := r.tip(ctx, n)
	if err != nil {
		a.Err = err
		return a
	}
	a.Height = tip.Height + 1
	switch {
	case tip.Height < height:
		// A shorter chain cannot tell which block is at our height.
	case tip.Height == height:
		a.Hash = tip.Hash
	default:
		a.Hash, a.Err = r.hashAt(ctx, n, tip.Hash, height)
	}
	return a
}

// tip is the reference's tip: the last answer while younger than maxAge,
// else the answer of a call shared with whoever asks meanwhile.
func (r *References) tip(ctx context.Context, n *refNode) (monerod.BlockHeader, error) {
	n.mu.Lock()
	if !n.tipAt.IsZero() && time.Since(n.tipAt) < r.maxAge {
		t := n.tip
		n.mu.Unlock()
		return t, nil
	}
	c := n.tipCall
	if c == nil {
		c = &sharedCall[monerod.BlockHeader]{done: make(chan struct{})}
		n.tipCall = c
		go func() {
			cctx, cancel := context.WithTimeout(context.Background(), r.timeout)
			defer cancel()
			h, err := n.client.GetLastBlockHeader(cctx)
			n.mu.Lock()
			if err == nil {
				n.setTip(*h)
				c.val = *h
			}
			c.err = err
			n.tipCall = nil
			n.mu.Unlock()
			close(c.done)
		}()
	}
	n.mu.Unlock()
	return wait(ctx, c, monerod.MethodLastBlockHeader)
}

// setTip records a new tip. The blocks remembered stay only when the new
// tip extends the old one by a block: any other change may be a
// reorganisation, which replaces blocks below the tip. n.mu is held.
func (n *refNode) setTip(h monerod.BlockHeader) {
	extends := !n.tipAt.IsZero() && (h.Hash == n.tip.Hash || h.PrevHash == n.tip.Hash && h.Height == n.tip.Height+1)
	if !extends || len(n.hashes) >= maxReferenceHashes {
		clear(n.hashes)
	}
	n.hashes[h.Height] = h.Hash
	n.tip, n.tipAt = h, time.Now()
}

// hashAt is the hash of the reference's block at height, below its tip
// tipHash: remembered while that tip stands, else asked.
func (r *References) hashAt(ctx context.Context, n *refNode, tipHash string, height uint64) (string, error) {
	n.mu.Lock()
	if h, ok := n.hashes[height]; ok && n.tip.Hash == tipHash {
		n.mu.Unlock()
		return h, nil
	}
	c := n.hashCalls[height]
	if c == nil {
		c = &sharedCall[string]{done: make(chan struct{})}
		n.hashCalls[height] = c
		go func() {
			cctx, cancel := context.WithTimeout(context.Background(), r.timeout)
			defer cancel()
			h, err := n.client.GetBlockHeaderByHeight(cctx, height)
			n.mu.Lock()
			if err == nil {
				c.val = h.Hash
				// Kept only while the chain it was asked of stands.
				if n.tip.Hash == tipHash {
					n.hashes[height] = h.Hash
				}
			}
			c.err = err
			delete(n.hashCalls, height)
			n.mu.Unlock()
			close(c.done)
		}()
	}
	n.mu.Unlock()
	return wait(ctx, c, monerod.MethodHeaderByHeight)
}

// wait waits for a shared call until ctx ends.
func wait[T any](ctx context.Context, c *sharedCall[T], method string) (T, error) {
	select {
	case <-c.done:
		return c.val, c.err
	default:
	}
	select {
	case <-c.done:
		return c.val, c.err
	case <-ctx.Done():
		var zero T
		return zero, fmt.Errorf("%s: %w: %w", method, monerod.ErrTimeout, context.Cause(ctx))
	}
}
