package monerod

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"net/http"
	"slices"
	"testing"

	"github.com/monero-ops/monero_exporter/internal/fixtures"
)

// poolFixture is the whole pool recorded with set, to check the cheaper
// calls against.
func poolFixture(t *testing.T, set string) map[string]struct {
	BlobSize    uint64 `json:"blob_size"`
	Fee         uint64 `json:"fee"`
	ReceiveTime int64  `json:"receive_time"`
} {
	t.Helper()
	var pool struct {
		Transactions []struct {
			IDHash      string `json:"id_hash"`
			BlobSize    uint64 `json:"blob_size"`
			Fee         uint64 `json:"fee"`
			ReceiveTime int64  `json:"receive_time"`
		} `json:"transactions"`
	}
	if err := json.Unmarshal(fixtures.Load(t, set, "/get_transaction_pool"), &pool); err != nil || len(pool.Transactions) == 0 {
		t.Fatalf("%s pool: %v", set, err)
	}
	out := map[string]struct {
		BlobSize    uint64 `json:"blob_size"`
		Fee         uint64 `json:"fee"`
		ReceiveTime int64  `json:"receive_time"`
	}{}
	for _, tx := range pool.Transactions {
		out[tx.IDHash] = struct {
			BlobSize    uint64 `json:"blob_size"`
			Fee         uint64 `json:"fee"`
			ReceiveTime int64  `json:"receive_time"`
		}{tx.BlobSize, tx.Fee, tx.ReceiveTime}
	}
	return out
}

// GetTxPoolHashes reads the raw hashes of the .bin answer recorded from a
// real node (escapes and raw control bytes included) as the same hashes
// its JSON twin lists in hex.
func TestGetTxPoolHashes(t *testing.T) {
	for _, set := range []string{fixtures.Pool, fixtures.PoolRestricted} {
		srv := fixtures.NewServer(t, set, nil)
		c := newTestClient(t, srv.URL, nil)
		got, err := c.GetTxPoolHashes(t.Context())
		if err != nil {
			t.Fatalf("%s: %v", set, err)
		}
		var list struct {
			TxHashes []string `json:"tx_hashes"`
		}
		if err := json.Unmarshal(fixtures.Load(t, set, "/get_transaction_pool_hashes"), &list); err != nil {
			t.Fatal(err)
		}
		var hexes []string
		for _, h := range got {
			hexes = append(hexes, hex.EncodeToString(h[:]))
		}
		if !slices.Equal(hexes, list.TxHashes) {
			t.Errorf("%s: read %v, the JSON list says %v", set, hexes, list.TxHashes)
		}
		// What makes this answer hard to read: epee's escapes and raw
		// control bytes, which JSON forbids.
		if raw := fixtures.Load(t, set, "/get_transaction_pool_hashes.bin"); !bytes.Contains(raw, []byte(`\`)) || !bytes.ContainsAny(raw, "\x00\x01\x02\x03\x04\x05\x06\x07") {
			t.Errorf("%s: the recording holds no escape or no raw control byte", set)
		}
	}
}

// An empty pool leaves tx_hashes out, as a real node answers; any hashes
// survive epee's escaping; what is not a whole number of hashes, or not
// OK, is refused.
func TestGetTxPoolHashesAnswers(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	many := make([]byte, 32*5000)
	for i := range many {
		many[i] = byte(rng.UintN(256))
	}
	var body []byte
	srv := fixtures.NewServer(t, fixtures.Pool, map[string]http.HandlerFunc{
		"/" + MethodGetTxPoolHashes: func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(body) },
	})
	c := newTestClient(t, srv.URL, nil)

	body = []byte("{\r\n  \"credits\": 0,\r\n  \"status\": \"OK\",\r\n  \"top_hash\": \"\",\r\n  \"untrusted\": false\r\n}")
	if got, err := c.GetTxPoolHashes(t.Context()); err != nil || got == nil || len(got) != 0 {
		t.Errorf("empty pool: %v, %v", got, err)
	}

	body = slices.Concat([]byte(`{"credits": 0, "status": "OK", "top_hash": "", "tx_hashes": `), fixtures.EpeeString(many), []byte(`, "untrusted": false}`))
	got, err := c.GetTxPoolHashes(t.Context())
	if err != nil || len(got) != 5000 {
		t.Fatalf("5000 hashes: %d, %v", len(got), err)
	}
	for i, h := range got {
		if !bytes.Equal(h[:], many[32*i:32*(i+1)]) {
			t.Fatalf("hash %d: %x, sent %x", i, h, many[32*i:32*(i+1)])
		}
	}

	for name, b := range map[string]string{
		"partial hash": `{"status": "OK", "tx_hashes": "abc"}`,
		"not OK":       `{"status": "BUSY"}`,
		"no status":    `{"tx_hashes": ""}`,
		"not a string": `{"status": "OK", "tx_hashes": 12}`,
		"bad escape":   `{"status": "OK", "tx_hashes": "\q"}`,
		"truncated":    `{"status": "OK", "tx_hashes": "ab`,
		"trailing":     `{"status": "OK"} {}`,
		"not object":   `["OK"]`,
	} {
		body = []byte(b)
		if got, err := c.GetTxPoolHashes(t.Context()); !errors.Is(err, ErrBadResponse) {
			t.Errorf("%s: %v, %v", name, got, err)
		}
	}
}

func TestReadEpeeObject(t *testing.T) {
	obj, err := readEpeeObject([]byte("{\"a\" : \"\\b\\f\\n\\r\\t\\v\\\"\\\\\\/\\u00ff\\u00e9x\x00\xff\", \"n\": 12, \"t\": true, " +
		"\"nested\": {\"x\": [1, \"]\", {\"y\": \"}\"}]}, \"list\": [], \"e\": \"\"}"))
	if err != nil {
		t.Fatal(err)
	}
	if a := obj["a"]; !a.str || string(a.b) != "\b\f\n\r\t\v\"\\/\xff\xe9x\x00\xff" {
		t.Errorf("a = %q", a.b)
	}
	if n := obj["n"]; n.str || string(n.b) != "12" {
		t.Errorf("n = %+v", n)
	}
	if e := obj["e"]; !e.str || len(e.b) != 0 {
		t.Errorf("e = %+v", e)
	}
	if _, ok := obj["nested"]; !ok {
		t.Error("nested object not listed")
	}
	if _, err := readEpeeObject([]byte(`{"a": ` + string(bytes.Repeat([]byte("["), 100)) + `}`)); err == nil {
		t.Error("deep nesting accepted")
	}
}

// GetTransactions reads, from the split answers recorded from a real node,
// each pool transaction's size, fee and arrival as the whole pool tells
// them; a restricted node hides the arrival.
func TestGetTransactionsPool(t *testing.T) {
	for _, set := range []string{fixtures.Pool, fixtures.PoolRestricted} {
		want := poolFixture(t, set)
		srv := fixtures.NewServer(t, set, nil)
		c := newTestClient(t, srv.URL, nil)
		var hashes []string
		for h := range want {
			hashes = append(hashes, h)
		}
		txs, err := c.GetTransactions(t.Context(), hashes)
		if err != nil || len(txs) != len(want) {
			t.Fatalf("%s: %d transactions, %v", set, len(txs), err)
		}
		for _, tx := range txs {
			w := want[tx.Hash]
			if tx.Size != w.BlobSize || tx.Fee != w.Fee || tx.ReceiveTime != w.ReceiveTime || !tx.InPool || tx.Inputs == 0 || tx.Outputs < 2 {
				t.Errorf("%s: %+v, the pool says %+v", set, tx, w)
			}
			if set == fixtures.PoolRestricted && tx.ReceiveTime != 0 {
				t.Errorf("%s: a restricted node told a receive time", set)
			}
		}
	}
}

// A hash the node no longer knows is left out, as monerod lists it in
// missed_tx; an answer that accounts for fewer hashes than asked is bad.
func TestGetTransactionsMissed(t *testing.T) {
	var answer string
	srv := fixtures.NewServer(t, fixtures.Pool, map[string]http.HandlerFunc{
		"/" + MethodGetTransactions: func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(answer)) },
	})
	c := newTestClient(t, srv.URL, nil)
	a, b := "aa"+string(bytes.Repeat([]byte("0"), 62)), "bb"+string(bytes.Repeat([]byte("0"), 62))
	answer = `{"status":"OK","missed_tx":["` + a + `","` + b + `"]}`
	if txs, err := c.GetTransactions(t.Context(), []string{a, b}); err != nil || txs == nil || len(txs) != 0 {
		t.Errorf("all missed: %v, %v", txs, err)
	}
	answer = `{"status":"OK","missed_tx":["` + a + `"]}`
	if txs, err := c.GetTransactions(t.Context(), []string{a, b}); !errors.Is(err, ErrBadResponse) {
		t.Errorf("one of two accounted for: %v, %v", txs, err)
	}
	answer = `{"status":"OK","txs":[{"tx_hash":"` + a + `","pruned_as_hex":"02","prunable_as_hex":"zz"}]}`
	if txs, err := c.GetTransactions(t.Context(), []string{a}); !errors.Is(err, ErrBadResponse) {
		t.Errorf("prunable part not hex: %v, %v", txs, err)
	}
}
