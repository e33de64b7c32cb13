package monerodtest

import (
	"testing"

	"github.com/monero-ops/monero_exporter/monerod"
	"github.com/monero-ops/monero_exporter/snapshot"
)

// Client is the production client for a monerod (real or fake) at rawURL,
// as the exporter would build it from --monerod.rpc-url; cfg's other
// fields are kept. It is closed when the test ends.
func Client(t testing.TB, rawURL string, cfg monerod.Config) *monerod.Client {
	t.Helper()
	u, err := monerod.ParseAddress(rawURL, 18081)
	if err != nil {
		t.Fatal(err)
	}
	cfg.URL = u
	c, err := monerod.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// Source is a snapshot source reading the monerod at rawURL through Client;
// cfg.Client is set, the rest of cfg is kept.
func Source(t testing.TB, rawURL string, cfg snapshot.Config) *snapshot.Source {
	t.Helper()
	cfg.Client = Client(t, rawURL, monerod.Config{})
	src, err := snapshot.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return src
}
