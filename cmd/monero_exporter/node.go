package main

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/version"

	"github.com/monero-ops/monero_exporter/collector"
	"github.com/monero-ops/monero_exporter/health"
	"github.com/monero-ops/monero_exporter/monerod"
	"github.com/monero-ops/monero_exporter/snapshot"
)

// nodeConfig is how to reach and judge one monerod: the flags in
// single-node mode, a module and a target for /probe.
type nodeConfig struct {
	url            *url.URL
	user, password string
	tlsCAFile      string
	tlsSkipVerify  bool
	maxConnections int
	timeout        time.Duration
	collectors     []string // optional collectors switched on
	health         health.Config
	links          []health.Link // of the page / shows a browser
	// references are compared with the node in every snapshot (nil:
	// none); shared by the nodes of a module.
	references *snapshot.References
}

// referenceConfig is how to reach one reference node.
type referenceConfig struct {
	name           string // the reference label
	url            *url.URL
	user, password string
	tlsCAFile      string
	tlsSkipVerify  bool
}

// referenceConnections is the connections kept to each reference node: a
// tip and a block asked at once. A public node accepts 3 from one address.
const referenceConnections = 2

// newReferences builds the clients of reference nodes, for the nodes that
// share them. Their calls are not counted in
// monero_exporter_rpc_requests_total, which is about the nodes themselves:
// monero_reference_up tells how each reference answers.
func newReferences(refs []referenceConfig, timeout time.Duration, shared nodeShared) (*snapshot.References, error) {
	var out []snapshot.Reference
	closeAll := func() {
		for _, r := range out {
			r.Client.Close()
		}
	}
	for _, r := range refs {
		client, err := monerod.New(monerod.Config{
			URL:                   r.url,
			User:                  r.user,
			Password:              r.password,
			TLSCAFile:             r.tlsCAFile,
			TLSInsecureSkipVerify: r.tlsSkipVerify,
			MaxConnections:        referenceConnections,
			MaxResponseBytes:      shared.maxResponseBytes,
			UserAgent:             "monero_exporter/" + version.Version,
		})
		if err != nil {
			closeAll()
			return nil, fmt.Errorf("reference %s: %w", r.name, err)
		}
		out = append(out, snapshot.Reference{Name: r.name, Client: client})
	}
	references, err := snapshot.NewReferences(out, snapshot.ReferencesOptions{Timeout: timeout})
	if err != nil {
		closeAll()
		return nil, err
	}
	return references, nil
}

// nodeShared is what every node of the exporter shares.
type nodeShared struct {
	maxResponseBytes int64
	requests         *prometheus.CounterVec // monero_exporter_rpc_requests_total
	logger           *slog.Logger
}

// node is everything the exporter holds for one monerod: a client with its
// connections and Digest state, the snapshot source that concurrent
// requests share, the collector and the health endpoints over it.
type node struct {
	client *monerod.Client
	source *snapshot.Source
	coll   *collector.Collector
	health http.Handler
	// timeout is the deadline of a request that carries none of its own.
	timeout time.Duration
}

// newNode builds a node. It contacts nothing (but may resolve the node's
// name to size its connection pool).
func newNode(nc nodeConfig, shared nodeShared) (*node, error) {
	client, err := monerod.New(monerod.Config{
		URL:                   nc.url,
		User:                  nc.user,
		Password:              nc.password,
		TLSCAFile:             nc.tlsCAFile,
		TLSInsecureSkipVerify: nc.tlsSkipVerify,
		MaxConnections:        nc.maxConnections,
		MaxResponseBytes:      shared.maxResponseBytes,
		UserAgent:             "monero_exporter/" + version.Version,
		OnCall: func(method, outcome string, _ time.Duration) {
			shared.requests.WithLabelValues(method, outcome).Inc()
		},
	})
	if err != nil {
		return nil, err
	}
	logger := shared.logger
	hc := nc.health
	// The snapshot fetches what the collectors show and what the checks read.
	fetch, err := collector.SnapshotCollectors(nc.collectors, &hc)
	if err != nil {
		client.Close()
		return nil, err
	}
	source, err := snapshot.New(snapshot.Config{
		Client:     client,
		Collectors: fetch,
		P2PAddress: hc.P2PAddress,
		References: nc.references,
		Timeout:    nc.timeout,
		OnRefused: func(name string, err error) {
			logger.Info("monerod refuses what a collector asks; skipping it from now on", "collector", name, "err", err)
		},
		// Once when a collector starts failing and once when it works
		// again, not at every scrape: monero_scrape_collector_success
		// tells the rest.
		OnFailing: func(name string, err error) {
			if err != nil {
				logger.Warn("collector failing", "collector", name, "err", err)
				return
			}
			logger.Warn("collector works again", "collector", name)
		},
	})
	if err != nil {
		client.Close()
		return nil, err
	}
	return &node{
		client:  client,
		source:  source,
		coll:    collector.New(source, collector.Options{Timeout: nc.timeout, Collectors: nc.collectors, Health: &hc}),
		health:  health.NewHandler(source, hc, nc.timeout, logger, nc.links...),
		timeout: nc.timeout,
	}, nil
}

// Close drops the node's kept-alive connections.
func (n *node) Close() error {
	n.client.Close()
	return nil
}
