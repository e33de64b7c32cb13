package monerod_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/monero-ops/monero_exporter/internal/monerodtest"
	"github.com/monero-ops/monero_exporter/monerod"
)

func TestIntegrationUnrestricted(t *testing.T) {
	monerodtest.Require(t)
	t.Parallel()
	node := monerodtest.Start(t, monerodtest.Options{})
	node.Mine(t, 5)
	c := monerodtest.Client(t, node.URL(), monerod.Config{})
	ctx := t.Context()

	info, err := c.GetInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var raw struct {
		Height       uint64 `json:"height"`
		TopBlockHash string `json:"top_block_hash"`
		Version      string `json:"version"`
		DatabaseSize uint64 `json:"database_size"`
	}
	node.RPC(t, "get_info", nil, &raw)
	if info.Height != raw.Height || info.Height != 6 || info.TopBlockHash != raw.TopBlockHash {
		t.Fatalf("info height %d hash %s; monerod says %d %s", info.Height, info.TopBlockHash, raw.Height, raw.TopBlockHash)
	}
	if info.Restricted || info.Version == nil || *info.Version != raw.Version || info.DatabaseSize == nil || info.FreeSpace == nil || info.StartTime == nil {
		t.Fatalf("unrestricted node lost fields: %+v", info)
	}
	if info.Difficulty != 1 || info.Nettype != "fakechain" {
		t.Fatalf("difficulty %g nettype %q", info.Difficulty, info.Nettype)
	}
	hdr, err := c.GetLastBlockHeader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if hdr.Hash != info.TopBlockHash || hdr.Height != info.Height-1 || hdr.Reward == 0 {
		t.Fatalf("header %+v does not match info", hdr)
	}
	if age := time.Since(time.Unix(hdr.Timestamp, 0)); age < -time.Minute || age > 5*time.Minute {
		t.Fatalf("a block mined just now is %s old", age)
	}
	hf, err := c.HardForkInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if hf.Version == 0 || hf.Status != "OK" {
		t.Fatalf("hard fork %+v", hf)
	}
	conns, err := c.GetConnections(ctx)
	if err != nil || conns == nil || len(conns) != 0 {
		t.Fatalf("offline node connections = %v, %v; want an empty list", conns, err)
	}
	headers, err := c.GetBlockHeadersRange(ctx, 1, hdr.Height)
	if err != nil {
		t.Fatal(err)
	}
	for i, h := range headers[1:] {
		if h.PrevHash != headers[i].Hash || h.Timestamp < headers[i].Timestamp-7200 {
			t.Fatalf("header %d does not follow header %d: %+v, %+v", h.Height, headers[i].Height, h, headers[i])
		}
	}
	if last := headers[len(headers)-1]; last.Hash != hdr.Hash || last.BlockWeight != hdr.BlockWeight {
		t.Fatalf("the range ends at %+v, the tip is %+v", last, hdr)
	}
}

func TestIntegrationRestricted(t *testing.T) {
	monerodtest.Require(t)
	t.Parallel()
	node := monerodtest.Start(t, monerodtest.Options{Restricted: true})
	c := monerodtest.Client(t, node.URL(), monerod.Config{})
	ctx := t.Context()
	info, err := c.GetInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !info.Restricted || info.Version != nil || info.FreeSpace != nil || info.DatabaseSize != nil ||
		info.StartTime != nil || info.IncomingConnections != nil || info.RPCConnections != nil {
		t.Fatalf("restricted node's masked fields were kept: %+v", info)
	}
	if _, err := c.GetConnections(ctx); !errors.Is(err, monerod.ErrMethodNotAvailable) {
		t.Fatalf("get_connections on a restricted node: %v, want ErrMethodNotAvailable", err)
	}
	var out struct{ Status string }
	if err := c.CallPath(ctx, "/get_peer_list", nil, &out); !errors.Is(err, monerod.ErrMethodNotAvailable) {
		t.Fatalf("/get_peer_list on a restricted node: %v, want ErrMethodNotAvailable", err)
	}
	v, err := c.GetVersion(ctx)
	if err != nil || v.Version == 0 {
		t.Fatalf("get_version: %+v, %v", v, err)
	}
	// Block headers, which the block collector reads, are offered.
	if hs, err := c.GetBlockHeadersRange(ctx, 0, info.Height-1); err != nil || uint64(len(hs)) != info.Height {
		t.Fatalf("get_block_headers_range on a restricted node: %d headers, %v", len(hs), err)
	}
	// So is the header at a height, which a reference node is asked for;
	// past the tip monerod answers with an error.
	h, err := c.GetBlockHeaderByHeight(ctx, info.Height-1)
	if err != nil || h.Hash != info.TopBlockHash {
		t.Fatalf("get_block_header_by_height of the tip on a restricted node: %+v, %v; the tip is %s", h, err, info.TopBlockHash)
	}
	var rpcErr *monerod.RPCError
	if _, err := c.GetBlockHeaderByHeight(ctx, info.Height); !errors.Is(err, monerod.ErrBadResponse) || !errors.As(err, &rpcErr) {
		t.Fatalf("get_block_header_by_height past the tip: %v, want a bad response with monerod's error", err)
	} else {
		t.Logf("past the tip: %v", err)
	}
}

func TestIntegrationDigestLogin(t *testing.T) {
	monerodtest.Require(t)
	t.Parallel()
	node := monerodtest.Start(t, monerodtest.Options{Login: "alice:s3cret-pw"})
	ctx := t.Context()

	right := monerodtest.Client(t, node.URL(), monerod.Config{User: "alice", Password: "s3cret-pw"})
	if _, err := right.GetInfo(ctx); err != nil {
		t.Fatalf("right credentials: %v", err)
	}
	wrong := monerodtest.Client(t, node.URL(), monerod.Config{User: "alice", Password: "nope"})
	if _, err := wrong.GetInfo(ctx); !errors.Is(err, monerod.ErrUnauthorized) {
		t.Fatalf("wrong password: %v, want ErrUnauthorized", err)
	}
	none := monerodtest.Client(t, node.URL(), monerod.Config{})
	if _, err := none.GetInfo(ctx); !errors.Is(err, monerod.ErrUnauthorized) {
		t.Fatalf("no credentials: %v, want ErrUnauthorized", err)
	}

	// 50 concurrent calls, several rounds, through the default pool: every
	// one must succeed although monerod binds each nonce to one connection.
	const calls = 50
	var failed []error
	var mu sync.Mutex
	for range 3 {
		var wg sync.WaitGroup
		for i := range calls {
			wg.Go(func() {
				var err error
				if i%2 == 0 {
					_, err = right.GetInfo(ctx)
				} else {
					_, err = right.GetLastBlockHeader(ctx)
				}
				if err != nil {
					mu.Lock()
					failed = append(failed, err)
					mu.Unlock()
				}
			})
		}
		wg.Wait()
	}
	if len(failed) > 0 {
		t.Fatalf("%d of %d concurrent calls failed; first: %v", len(failed), 3*calls, failed[0])
	}
}

func TestIntegrationTLS(t *testing.T) {
	monerodtest.Require(t)
	t.Parallel()
	ca, cert, key := monerodtest.NewTLS(t)
	node := monerodtest.Start(t, monerodtest.Options{TLSCertFile: cert, TLSKeyFile: key, TLSCAFile: ca})
	ctx := t.Context()
	verified := monerodtest.Client(t, node.URL(), monerod.Config{TLSCAFile: ca})
	if _, err := verified.GetInfo(ctx); err != nil {
		t.Fatalf("with the CA file: %v", err)
	}
	unverified := monerodtest.Client(t, node.URL(), monerod.Config{})
	if _, err := unverified.GetInfo(ctx); !errors.Is(err, monerod.ErrTLS) {
		t.Fatalf("without the CA file: %v, want ErrTLS", err)
	}
	skip := monerodtest.Client(t, node.URL(), monerod.Config{TLSInsecureSkipVerify: true})
	if _, err := skip.GetInfo(ctx); err != nil {
		t.Fatalf("with skip-verify: %v", err)
	}
}

func TestIntegrationStoppedAndFrozen(t *testing.T) {
	monerodtest.Require(t)
	t.Parallel()
	node := monerodtest.Start(t, monerodtest.Options{KeepFakechain: true})
	c := monerodtest.Client(t, node.URL(), monerod.Config{})
	if _, err := c.GetInfo(t.Context()); err != nil {
		t.Fatal(err)
	}

	node.Freeze(t)
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	start := time.Now()
	_, err := c.GetInfo(ctx)
	cancel()
	if !errors.Is(err, monerod.ErrTimeout) {
		t.Fatalf("frozen node: %v, want ErrTimeout", err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("a call to a frozen node took %s with a 300ms deadline", took)
	}
	node.Thaw(t)
	if _, err := c.GetInfo(t.Context()); err != nil {
		t.Fatalf("after thaw: %v", err)
	}

	node.Stop(t)
	if _, err := c.GetInfo(t.Context()); !errors.Is(err, monerod.ErrUnreachable) {
		t.Fatalf("stopped node: %v, want ErrUnreachable", err)
	}
	node.Restart(t)
	if _, err := c.GetInfo(t.Context()); err != nil {
		t.Fatalf("after restart: %v", err)
	}
}
