// Package dashboards builds the Grafana dashboards of the Monero mixin.
//
// The dashboards are written in Go with the Grafana Foundation SDK, so that
// every panel follows the mixin's conventions by construction (the
// templated data source; the selector of the mixin's config and the job and
// instance variables on every query; units and descriptions). They read the
// config the alerts read, ../alerts/config.yml: the same selector, the same
// labels to tell nodes apart, and the alerts' thresholds as the colours of
// the panels. `go generate ./dashboards` writes them as the JSON files in
// this directory, which Grafana imports as they are; a test fails while the
// committed files and the code disagree.
package dashboards

//go:generate go run ./gen

import (
	"fmt"
	"time"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"

	"github.com/monero-ops/monero_exporter/alerts"
)

// ConfigFile is the mixin's configuration, shared with the alerts,
// relative to this package's directory.
const ConfigFile = "../alerts/" + alerts.ConfigFile

// All returns every dashboard of the mixin for the config c.
func All(c *alerts.Config) ([]*Dashboard, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	x := mixin{c: c}
	var out []*Dashboard
	for _, build := range []func() (*Dashboard, error){x.Overview, x.Node, x.Fleet} {
		d, err := build()
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

// healthStates is monero_health_status as one number per check, the worse
// the higher (see healthMappings); extra matchers narrow it.
func (x mixin) healthStates(extra ...string) string {
	status := func(s string, n int) string {
		return fmt.Sprintf("(%s == 1) * %d", x.m("monero_health_status", append(extra, `status="`+s+`"`)...), n)
	}
	return "max by (" + x.by("check") + ") (\n    " + status("ok", 0) +
		"\n  or " + status("warn", 1) +
		"\n  or " + status("unknown", 2) +
		"\n  or " + status("error", 3) + "\n)"
}

func healthMappings() []dashboard.ValueMapping {
	return valueMap(state{"OK", "green"}, state{"WARN", "yellow"}, state{"UNKNOWN", "orange"}, state{"ERROR", "red"})
}

func upMappings(down, up string) []dashboard.ValueMapping {
	return valueMap(state{down, "red"}, state{up, "green"})
}

// xmr is the unit of amounts in XMR.
const xmr = "suffix: XMR"

// The alerts' limits, as thresholds that colour the dashboards: the same
// numbers the rules compare with, read from the same config.

// lastBlockLimit is red from MoneroLastBlockTooOld's max age on.
func (x mixin) lastBlockLimit() *dashboard.ThresholdsConfigBuilder {
	return steps(step{color: "green"}, step{color: "red", from: time.Duration(x.c.LastBlockTooOld.MaxAge).Seconds()})
}

// behindLimit is orange from the first block more than
// MoneroNodeBehindPeers allows.
func (x mixin) behindLimit() *dashboard.ThresholdsConfigBuilder {
	return steps(step{color: "green"}, step{color: "orange", from: float64(x.c.BehindPeers.MaxBlocks + 1)})
}

// peersLimit is red without peers, orange below MoneroTooFewPeers' minimum.
func (x mixin) peersLimit() *dashboard.ThresholdsConfigBuilder {
	return steps(step{color: "red"}, step{color: "orange", from: 1}, step{color: "green", from: float64(x.c.TooFewPeers.Min)})
}

// diskLimit is red below MoneroDiskSpaceCriticallyLow's minimum, orange
// below MoneroDiskSpaceLow's.
func (x mixin) diskLimit() *dashboard.ThresholdsConfigBuilder {
	return steps(step{color: "red"},
		step{color: "orange", from: float64(x.c.DiskSpaceCriticallyLow.MinFree)},
		step{color: "green", from: float64(x.c.DiskSpaceLow.MinFree)})
}

// overrideCells is a table column override: its name, unit, and how its
// cells are coloured.
func overrideCells(name, unit string, mode common.TableCellDisplayMode) []dashboard.DynamicConfigValue {
	return []dashboard.DynamicConfigValue{
		{Id: "displayName", Value: name},
		{Id: "unit", Value: unit},
		{Id: "custom.cellOptions", Value: cells(mode)},
	}
}

// Overview is the at-a-glance dashboard: which nodes are healthy, and the
// few numbers that tell why not.
func (x mixin) Overview() (*Dashboard, error) {
	c := x.c
	l := newDashboard(x, "monero-overview", "Monero / Overview",
		"Which Monero nodes are healthy at a glance: health checks, chain height and lag, last block age, peers, sync, hard-fork version, transaction pool, difficulty, disk, and the exporter's own scrapes.")

	l.row("Health")
	healthTable := tablePanel("Node health",
		"State of each health check per node, as the exporter's /health evaluates it (monero_health_status): OK, WARN (the check could not see everything, e.g. the peers of a restricted node), UNKNOWN (monerod did not answer) or ERROR. \"overall\" is what /health answers.",
		"none", instant(x.healthStates())).
		Mappings(healthMappings()).
		CellOptions(cells(common.TableCellDisplayModeColorBackground)).
		// The first column holds the node names: no colour there.
		OverrideByFieldType("string", []dashboard.DynamicConfigValue{{Id: "custom.cellOptions", Value: cells(common.TableCellDisplayModeAuto)}}).
		WithTransformation(dashboard.DataTransformerConfig{Id: "groupingToMatrix", Options: map[string]any{
			"columnField": "check", "rowField": c.InstanceLabel, "valueField": "Value", "emptyValue": "null",
		}})
	add(l, 12, 8, healthTable)
	add(l, 6, 8, statPanel("monerod reachable",
		"1 (UP) when the exporter reached monerod in its last scrape (monero_up); DOWN means monerod does not answer and the node's metrics are absent.",
		"none", q(x.m("monero_up"), x.node())).
		Mappings(upMappings("DOWN", "UP")).
		Thresholds(steps(step{color: "red"}, step{color: "green", from: 1})))
	add(l, 6, 8, tablePanel("Firing alerts",
		"Monero alerts firing now for the selected nodes (Prometheus's ALERTS series): see the alerts' runbook for what to do.",
		"none", instant(x.m("ALERTS", `alertname=~"Monero.*"`, `alertstate="firing"`))).
		WithTransformation(organize([]string{"Time", "Value", "__name__", "alertstate", "job"}, "alertname", c.InstanceLabel, "severity")))
	add(l, 24, 8, stateTimelinePanel("Health over time",
		"Each health check of each node over time (monero_health_status), coloured as in \"Node health\".",
		healthMappings(), q(x.healthStates(), x.node("{{check}}"))))

	l.row("Chain")
	add(l, 8, 8, timeseriesPanel("Height",
		"Blocks in the node's chain (monero_height). Lines that part show nodes on different tips.",
		"none", q(x.m("monero_height"), x.node())))
	add(l, 8, 8, limits(timeseriesPanel("Blocks behind",
		fmt.Sprintf("How far the node lags: behind the height monerod syncs towards (monero_target_height, 0 when it knows no higher chain), and behind the best height its peers report (monero_peers_max_height). 0 is in step; the dashed line is where MoneroNodeBehindPeers counts (more than %d blocks).", c.BehindPeers.MaxBlocks),
		"none",
		q("clamp_min("+x.m("monero_target_height")+" - "+x.m("monero_height")+", 0)", x.node("behind target")),
		q("clamp_min("+x.m("monero_peers_max_height")+" - "+x.m("monero_height")+", 0)", x.node("behind best peer"))),
		x.behindLimit()))
	add(l, 8, 8, limits(timeseriesPanel("Last block age",
		fmt.Sprintf("Time since the timestamp of the node's last block (monero_last_block_age_seconds). Blocks come every 2 minutes on average; a steady climb means the node is stuck or cut off. The dashed line is MoneroLastBlockTooOld's limit, %s.", c.LastBlockTooOld.MaxAge),
		"s", q(x.m("monero_last_block_age_seconds"), x.node())),
		x.lastBlockLimit()))
	add(l, 8, 6, stateTimelinePanel("Synchronized",
		"Whether monerod considers itself synchronized with the network (monero_synchronized).",
		valueMap(state{"syncing", "orange"}, state{"synchronized", "green"}),
		q(x.m("monero_synchronized"), x.node())))
	add(l, 8, 6, statPanel("Hard-fork version",
		"Current hard-fork version of each node's chain (monero_hard_fork_version). Nodes of one network must agree; an older one is outdated or on another chain.",
		"none", q(x.m("monero_hard_fork_version"), x.node())).
		ColorScheme(dashboard.NewFieldColorBuilder().Mode(dashboard.FieldColorModeIdFixed).FixedColor("blue")).
		ColorMode(common.BigValueColorModeValue))
	add(l, 8, 6, timeseriesPanel("Difficulty",
		"Network difficulty of the next block (monero_difficulty): hashes expected per block.",
		"short", q(x.m("monero_difficulty"), x.node())))

	l.row("Network and transaction pool")
	add(l, 8, 8, timeseriesPanel("Peers",
		"Open P2P connections by direction (monero_peers; unrestricted nodes only) and the peers counted as synchronized with the node (monero_peers_synced).",
		"none",
		q(x.m("monero_peers"), x.node("{{direction}}")),
		q(x.m("monero_peers_synced"), x.node("synced"))))
	add(l, 8, 8, timeseriesPanel("Transaction pool",
		"Transactions waiting in the node's pool (monero_tx_pool_transactions; a restricted node counts public ones only).",
		"none", q(x.m("monero_tx_pool_transactions"), x.node())))
	add(l, 8, 8, timeseriesPanel("Transaction pool size",
		"Bytes of the transactions in the pool (monero_tx_pool_size_bytes).",
		"bytes", q(x.m("monero_tx_pool_size_bytes"), x.node())))

	l.row("Disk")
	add(l, 12, 7, limits(timeseriesPanel("Free disk space",
		fmt.Sprintf("Free space on the disk holding the blockchain database (monero_free_space_bytes; unrestricted nodes only). monerod stops when it runs out. The dashed lines are the limits of MoneroDiskSpaceLow (%s) and MoneroDiskSpaceCriticallyLow (%s).", c.DiskSpaceLow.MinFree, c.DiskSpaceCriticallyLow.MinFree),
		"bytes", q(x.m("monero_free_space_bytes"), x.node())),
		x.diskLimit()))
	add(l, 12, 7, timeseriesPanel("Database size",
		"Size of the blockchain database (monero_database_size_bytes; unrestricted nodes only).",
		"bytes", q(x.m("monero_database_size_bytes"), x.node())))

	l.row("Exporter")
	add(l, 8, 8, timeseriesPanel("Scrape duration",
		"Time the exporter spent reading monerod per scrape (monero_scrape_duration_seconds), and the whole scrape as Prometheus timed it (scrape_duration_seconds). Close to the scrape timeout means missing data soon.",
		"s",
		q(x.m("monero_scrape_duration_seconds"), x.node("monerod")),
		q(x.m("scrape_duration_seconds"), x.node("Prometheus scrape"))))
	add(l, 8, 8, stacked(timeseriesPanel("RPC calls by outcome",
		"RPC calls the exporter sent to monerod per second, by outcome (monero_exporter_rpc_requests_total): success, unreachable, timeout, tls_error, unauthorized, method_not_available, too_large, bad_response.",
		"reqps", q("sum by ("+x.by("outcome")+") ("+x.rate("monero_exporter_rpc_requests_total")+")", x.node("{{outcome}}")))))
	add(l, 8, 8, timeseriesPanel("RPC call duration",
		"Duration of each RPC call in the last scrape, by method (monero_rpc_call_duration_seconds).",
		"s", q(x.m("monero_rpc_call_duration_seconds"), x.node("{{method}}"))))
	add(l, 24, 6, stateTimelinePanel("Scrape collectors",
		"Whether each collector of the scrape succeeded (monero_scrape_collector_success); a collector a restricted node refuses counts as a success and is skipped.",
		upMappings("failed", "ok"),
		q(x.m("monero_scrape_collector_success"), x.node("{{collector}}"))))

	return l.finish()
}

// Node is the detail dashboard: pool, last block, connections, traffic,
// mining and fees of the selected nodes.
func (x mixin) Node() (*Dashboard, error) {
	l := newDashboard(x, "monero-node", "Monero / Node",
		"Detail of the selected Monero nodes: transaction pool, contents of the last block, P2P connections and traffic, mining, fee estimates.")

	l.row("Transaction pool")
	add(l, 8, 8, timeseriesPanel("Pool transactions",
		"Transactions in the pool, and those that failed verification, are double spends, were not relayed, or have waited more than 10 minutes (monero_tx_pool_*_transactions); and those whose fee, size and arrival the exporter knows (monero_tx_pool_known_transactions), which the fee and age panels cover: below all, the exporter is still fetching a large pool (at most 2000 transactions a scrape).",
		"none",
		q(x.m("monero_tx_pool_transactions"), x.node("all")),
		q(x.m("monero_tx_pool_known_transactions"), x.node("known to the exporter")),
		q(x.m("monero_tx_pool_failing_transactions"), x.node("failing")),
		q(x.m("monero_tx_pool_double_spend_transactions"), x.node("double spend")),
		q(x.m("monero_tx_pool_not_relayed_transactions"), x.node("not relayed")),
		q(x.m("monero_tx_pool_transactions_older_10m"), x.node("older than 10m"))))
	add(l, 8, 8, timeseriesPanel("Pool size",
		"Bytes of the transactions in the pool (monero_tx_pool_size_bytes).",
		"bytes", q(x.m("monero_tx_pool_size_bytes"), x.node())))
	add(l, 8, 8, timeseriesPanel("Pool fees",
		"Sum of the fees of the transactions in the pool, in XMR (monero_tx_pool_fees_xmr): what the next blocks can earn on top of the subsidy.",
		xmr, q(x.m("monero_tx_pool_fees_xmr"), x.node())))
	add(l, 8, 8, timeseriesPanel("Pool transaction age",
		"How long the pool's transactions have waited: median (monero_tx_pool_age_median_seconds) and the oldest one (monero_tx_pool_oldest_age_seconds).",
		"s",
		q(x.m("monero_tx_pool_age_median_seconds"), x.node("median")),
		q(x.m("monero_tx_pool_oldest_age_seconds"), x.node("oldest"))))
	add(l, 8, 8, timeseriesPanel("Pool transaction size",
		"Size of the pool's transactions: median and largest (monero_tx_pool_transaction_size_median_bytes, monero_tx_pool_transaction_size_max_bytes).",
		"bytes",
		q(x.m("monero_tx_pool_transaction_size_median_bytes"), x.node("median")),
		q(x.m("monero_tx_pool_transaction_size_max_bytes"), x.node("largest"))))
	add(l, 8, 8, stacked(timeseriesPanel("Pool fee per byte",
		"How many of the pool's transactions pay each band of fee per byte, in XMR, summed over the selected nodes (monero_tx_pool_fee_band_transactions; a band is named by its upper edge). Compare with the fee estimates below.",
		"none", q("sum by (band) ("+x.m("monero_tx_pool_fee_band_transactions")+")", "up to {{band}} XMR/B"))))

	l.row("Last block")
	add(l, 8, 8, timeseriesPanel("Block size and weight",
		"Size and weight of the last block (monero_last_block_size_bytes, monero_last_block_weight_bytes), with the median weight and the weight limit (monero_block_weight_median_bytes, monero_block_weight_limit_bytes).",
		"bytes",
		q(x.m("monero_last_block_size_bytes"), x.node("size")),
		q(x.m("monero_last_block_weight_bytes"), x.node("weight")),
		q(x.m("monero_block_weight_median_bytes"), x.node("median weight")),
		q(x.m("monero_block_weight_limit_bytes"), x.node("weight limit"))))
	add(l, 8, 8, timeseriesPanel("Block transactions",
		"Transactions in the last block, coinbase excluded (monero_last_block_transactions), and the rate at which the chain gains transactions (monero_transactions_total).",
		"none",
		q(x.m("monero_last_block_transactions"), x.node("in last block")),
		q("60 * "+x.rate("monero_transactions_total"), x.node("per minute"))))
	add(l, 8, 8, timeseriesPanel("Block reward",
		"Reward of the last block in XMR (monero_last_block_reward_xmr), split into the subsidy (monero_last_block_subsidy_xmr) and the fees (monero_last_block_fees_xmr).",
		xmr,
		q(x.m("monero_last_block_reward_xmr"), x.node("reward")),
		q(x.m("monero_last_block_subsidy_xmr"), x.node("subsidy")),
		q(x.m("monero_last_block_fees_xmr"), x.node("fees"))))
	add(l, 8, 8, timeseriesPanel("Inputs and outputs per transaction",
		"Median inputs and outputs of the transactions mined in the blocks of the rate interval (monero_block_transaction_inputs, monero_block_transaction_outputs); gaps where no block came.",
		"none",
		q(x.quantile("0.5", "monero_block_transaction_inputs"), x.node("inputs")),
		q(x.quantile("0.5", "monero_block_transaction_outputs"), x.node("outputs"))))
	add(l, 8, 8, timeseriesPanel("Mined transaction size",
		"Median and largest-decile size of the transactions mined in the blocks of the rate interval (monero_block_transaction_size_bytes); gaps where no block came.",
		"bytes",
		q(x.quantile("0.5", "monero_block_transaction_size_bytes"), x.node("median")),
		q(x.quantile("0.9", "monero_block_transaction_size_bytes"), x.node("p90"))))
	add(l, 8, 8, timeseriesPanel("Mined fee per byte",
		"Median and 90th percentile of the fee per byte, in XMR, that the transactions mined in the blocks of the rate interval paid (monero_block_transaction_fee_per_byte_xmr); gaps where no block came.",
		xmr,
		q(x.quantile("0.5", "monero_block_transaction_fee_per_byte_xmr"), x.node("median")),
		q(x.quantile("0.9", "monero_block_transaction_fee_per_byte_xmr"), x.node("p90"))))
	add(l, 8, 8, heatmapPanel("Time between blocks",
		"How many blocks came how long after their parent, summed over the selected nodes (monero_block_interval_seconds, each block counted once); the target is two minutes.",
		"s", "sum by (le) (increase("+x.m("monero_block_interval_seconds_bucket")+"[$__rate_interval]))"))

	l.row("Connections")
	add(l, 8, 8, stacked(timeseriesPanel("Connections by state",
		"P2P connections by direction and state (monero_connections).",
		"none", q(x.m("monero_connections"), x.node("{{direction}} {{state}}")))))
	add(l, 8, 8, timeseriesPanel("Peer height lag",
		"Our height minus the peers', median over the connections (monero_connection_height_lag_median_blocks): negative means peers are ahead; and how many peers are ahead (monero_connections_ahead). Peers refresh their height about once a minute.",
		"none",
		q(x.m("monero_connection_height_lag_median_blocks"), x.node("median lag")),
		q(x.m("monero_connections_ahead"), x.node("peers ahead"))))
	add(l, 8, 8, timeseriesPanel("Connection age",
		"How long the node's connections have been open, median (monero_connection_age_median_seconds). Short ages everywhere mean peers keep dropping.",
		"s",
		q(x.m("monero_connection_age_median_seconds"), x.node("median"))))
	add(l, 8, 8, timeseriesPanel("Connection rates",
		"Receive and send rate of all connections together, as monerod averages them (monero_connections_receive_rate_bytes_per_second, monero_connections_send_rate_bytes_per_second).",
		"Bps",
		q(x.m("monero_connections_receive_rate_bytes_per_second"), x.node("receive")),
		q(x.m("monero_connections_send_rate_bytes_per_second"), x.node("send"))))
	add(l, 8, 8, timeseriesPanel("Bans",
		"Addresses the node bans (monero_bans) and the shortest and longest time left on a ban in minutes (monero_ban_remaining_min_seconds, monero_ban_remaining_max_seconds).",
		"none",
		q(x.m("monero_bans"), x.node("bans")),
		q(x.m("monero_ban_remaining_min_seconds")+" / 60", x.node("shortest minutes left")),
		q(x.m("monero_ban_remaining_max_seconds")+" / 60", x.node("longest minutes left"))))
	add(l, 8, 8, timeseriesPanel("Peer lists and RPC connections",
		"Entries in the node's white and grey peer lists (monero_peerlist_entries) and open RPC connections to the node (monero_rpc_connections).",
		"none",
		q(x.m("monero_peerlist_entries"), x.node("{{list}} list")),
		q(x.m("monero_rpc_connections"), x.node("RPC connections"))))

	l.row("Traffic")
	add(l, 12, 8, timeseriesPanel("P2P traffic",
		"Bytes per second the node received and sent (monero_net_received_bytes_total, monero_net_sent_bytes_total).",
		"Bps",
		q(x.rate("monero_net_received_bytes_total"), x.node("received")),
		q(x.rate("monero_net_sent_bytes_total"), x.node("sent"))))
	add(l, 12, 8, timeseriesPanel("P2P packets",
		"Packets per second the node received and sent (monero_net_received_packets_total, monero_net_sent_packets_total).",
		"pps",
		q(x.rate("monero_net_received_packets_total"), x.node("received")),
		q(x.rate("monero_net_sent_packets_total"), x.node("sent"))))

	l.row("Mining and fees")
	add(l, 6, 8, stateTimelinePanel("Mining",
		"Whether the node mines (monero_mining_active) and whether in the background (monero_mining_background).",
		valueMap(state{"off", "text"}, state{"on", "green"}),
		q(x.m("monero_mining_active"), x.node("mining")),
		q(x.m("monero_mining_background"), x.node("background"))))
	add(l, 6, 8, timeseriesPanel("Mining hashrate",
		"The node's own mining speed (monero_mining_hashrate_hashes_per_second).",
		"Hs",
		q(x.m("monero_mining_hashrate_hashes_per_second"), x.node())))
	add(l, 4, 8, statPanel("Mining threads",
		"Threads the node mines with (monero_mining_threads); 0 when it does not mine.",
		"none", q(x.m("monero_mining_threads"), x.node())).
		ColorMode(common.BigValueColorModeValue))
	add(l, 8, 8, timeseriesPanel("Fee estimates",
		"Fee per byte, in XMR, monerod suggests for each priority (monero_fee_per_byte_xmr), and the quantization mask fees are rounded up to (monero_fee_quantization_xmr).",
		xmr,
		q(x.m("monero_fee_per_byte_xmr"), x.node("{{priority}}")),
		q(x.m("monero_fee_quantization_xmr"), x.node("quantization"))))

	l.row("Node")
	add(l, 12, 6, tablePanel("Node",
		"What each node runs (monero_node_info): daemon version, network type and whether its RPC is restricted.",
		"none", instant(x.m("monero_node_info"))).
		WithTransformation(organize([]string{"Time", "Value", "__name__", "job"}, x.c.InstanceLabel, "version", "nettype", "restricted")))
	add(l, 6, 6, statPanel("Uptime",
		"Time since monerod started (monero_start_time_seconds; unrestricted nodes only).",
		"s", q("time() - "+x.m("monero_start_time_seconds"), x.node())))
	add(l, 6, 6, timeseriesPanel("Alternative blocks",
		"Blocks the node knows that are not on its main chain (monero_alt_blocks): many or rising means forks or reorganisations.",
		"none", q(x.m("monero_alt_blocks"), x.node())))

	return l.finish()
}

// Fleet compares many nodes: one table row per node, and how far they
// agree within each fleet (the nodes that share the config's fleet labels).
func (x mixin) Fleet() (*Dashboard, error) {
	c := x.c
	// Each query keeps only the labels that tell nodes apart, so that
	// "merge" joins them into one row per node.
	byNode := func(expr string) string { return "max by (" + x.by() + ") (" + expr + ")" }
	l := newDashboard(x, "monero-fleet", "Monero / Fleet",
		"Many Monero nodes side by side: one row per node, and whether the nodes of each fleet agree on height, hard-fork version and daemon version.")

	l.row("Nodes")
	nodes := tablePanel("Nodes",
		fmt.Sprintf("One row per node: monerod reachable, height, blocks behind its target, last block age, peers, synchronized, hard-fork version, free disk space, and the overall health (ERROR red). Behind, last block age, peers and free disk are coloured by the alerts' limits: more than %d blocks behind, a last block older than %s, fewer than %d peers, less than %s (orange) or %s (red) free.",
			c.BehindPeers.MaxBlocks, c.LastBlockTooOld.MaxAge, c.TooFewPeers.Min, c.DiskSpaceLow.MinFree, c.DiskSpaceCriticallyLow.MinFree),
		"none",
		instant(byNode(x.m("monero_up"))),
		instant(byNode(x.m("monero_height"))),
		instant(byNode("clamp_min("+x.m("monero_target_height")+" - "+x.m("monero_height")+", 0)")),
		instant(byNode(x.m("monero_last_block_age_seconds"))),
		instant(byNode("sum without (direction) ("+x.m("monero_peers")+")")),
		instant(byNode(x.m("monero_synchronized"))),
		instant(byNode(x.m("monero_hard_fork_version"))),
		instant(byNode(x.m("monero_free_space_bytes"))),
		instant(byNode(x.healthStates(`check="overall"`))),
	)
	columns := []struct {
		ref, name, unit string
		mappings        []dashboard.ValueMapping
		limit           *dashboard.ThresholdsConfigBuilder
	}{
		{"A", "monerod", "none", upMappings("DOWN", "UP"), nil},
		{"B", "height", "none", nil, nil},
		{"C", "behind", "none", nil, x.behindLimit()},
		{"D", "last block age", "s", nil, x.lastBlockLimit()},
		{"E", "peers", "none", nil, x.peersLimit()},
		{"F", "synchronized", "none", valueMap(state{"no", "orange"}, state{"yes", "green"}), nil},
		{"G", "hard fork", "none", nil, nil},
		{"H", "free disk", "bytes", nil, x.diskLimit()},
		{"I", "health", "none", healthMappings(), nil},
	}
	// Each query's value column is "Value #<refId>" after the merge; an
	// override names it and gives it its unit and colours.
	for _, col := range columns {
		var props []dashboard.DynamicConfigValue
		switch {
		case col.mappings != nil:
			props = append(overrideCells(col.name, col.unit, common.TableCellDisplayModeColorBackground),
				dashboard.DynamicConfigValue{Id: "mappings", Value: col.mappings})
		case col.limit != nil:
			limit, err := col.limit.Build()
			if err != nil {
				return nil, err
			}
			props = append(overrideCells(col.name, col.unit, common.TableCellDisplayModeColorText),
				dashboard.DynamicConfigValue{Id: "thresholds", Value: limit})
		default:
			props = overrideCells(col.name, col.unit, common.TableCellDisplayModeAuto)
		}
		nodes.OverrideByName("Value #"+col.ref, props)
	}
	nodes.
		WithTransformation(dashboard.DataTransformerConfig{Id: "merge", Options: map[string]any{}}).
		WithTransformation(organize([]string{"Time"}, append([]string{c.InstanceLabel}, c.FleetLabels...)...)).
		SortBy([]cog.Builder[common.TableSortByFieldState]{
			common.NewTableSortByFieldStateBuilder().DisplayName(c.InstanceLabel).Desc(false),
		})
	add(l, 24, 10, nodes)

	l.row("Agreement")
	add(l, 6, 7, statPanel("Nodes up",
		"Nodes whose exporter reaches monerod (sum of monero_up), out of all selected ones.",
		"none",
		q("sum("+x.m("monero_up")+")", "up"),
		q("count("+x.m("monero_up")+")", "total")).
		ColorMode(common.BigValueColorModeValue))
	add(l, 6, 7, statPanel("Overall health",
		"How many nodes are in each overall health state (monero_health_status{check=\"overall\"}).",
		"none", q(`count by (status) (`+x.m("monero_health_status", `check="overall"`)+` == 1)`, "{{status}}")).
		ColorMode(common.BigValueColorModeValue))
	add(l, 6, 7, timeseriesPanel("Height spread",
		"Highest minus lowest height among the nodes of each fleet ("+x.fleet()+"): 0 means every node has the same tip.",
		"none", q("max by ("+x.fleet()+") ("+x.m("monero_height")+") - min by ("+x.fleet()+") ("+x.m("monero_height")+")", x.fleetLegend())))
	add(l, 6, 7, timeseriesPanel("Hard-fork versions",
		"Nodes per hard-fork version in each fleet ("+x.fleet()+"; monero_hard_fork_version): more than one line in a fleet is a mismatch, as MoneroHardForkVersionMismatch sees it.",
		"none", q(`count_values by (`+x.fleet()+`) ("version", `+x.m("monero_hard_fork_version")+")", x.fleetLegend()+" v{{version}}")))
	add(l, 6, 7, timeseriesPanel("monerod versions",
		"Nodes per daemon version (monero_node_info), to follow an upgrade across the fleet.",
		"none", q("count by (version) ("+x.m("monero_node_info")+")", "{{version}}")))
	add(l, 6, 7, bargaugePanel("Last block age by node",
		fmt.Sprintf("Age of each node's last block now (monero_last_block_age_seconds); the odd one out is stuck. Red beyond MoneroLastBlockTooOld's %s.", c.LastBlockTooOld.MaxAge),
		"s", instantSeries(x.m("monero_last_block_age_seconds"), x.node())).
		Thresholds(x.lastBlockLimit()))
	add(l, 6, 7, bargaugePanel("Peers by node",
		fmt.Sprintf("P2P connections of each node now (monero_peers, both directions). Red without any, orange below MoneroTooFewPeers' %d.", c.TooFewPeers.Min),
		"none", instantSeries("sum by ("+x.by()+") ("+x.m("monero_peers")+")", x.node())).
		Thresholds(x.peersLimit()))
	add(l, 6, 7, bargaugePanel("Free disk by node",
		fmt.Sprintf("Free space on the database disk of each node now (monero_free_space_bytes). Orange below %s, red below %s, the limits of the disk space alerts.", c.DiskSpaceLow.MinFree, c.DiskSpaceCriticallyLow.MinFree),
		"bytes", instantSeries(x.m("monero_free_space_bytes"), x.node())).
		Thresholds(x.diskLimit()))
	add(l, 24, 7, stacked(timeseriesPanel("Firing alerts by severity",
		"Monero alerts firing for the selected nodes, by severity (Prometheus's ALERTS series).",
		"none", q(`count by (severity) (`+x.m("ALERTS", `alertname=~"Monero.*"`, `alertstate="firing"`)+`)`, "{{severity}}"))))

	l.row("Reference nodes")
	add(l, 12, 7, stateTimelinePanel("Chain agreement with reference nodes",
		"Whether each reference node holds the node's own top block at the node's height (monero_reference_agrees): fork (red) means one of the two follows another chain, as MoneroChainFork sees it. Gaps where a reference did not answer or is behind the node; empty without --chain.reference or a probe module's references.",
		valueMap(state{"fork", "red"}, state{"agrees", "green"}),
		q(x.m("monero_reference_agrees"), x.node("{{reference}}"))))
	add(l, 12, 7, timeseriesPanel("Height against reference nodes",
		"Each reference node's height minus the node's (monero_reference_height - monero_height): above 0 the reference is ahead, and a node that stays behind all of its references is not syncing.",
		"none", q(x.m("monero_reference_height")+" - ignoring (reference) group_left "+x.m("monero_height"), x.node("{{reference}}"))))

	return l.finish()
}
