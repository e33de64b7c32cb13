// Package dashboards builds the Grafana dashboards of the Monero mixin.
//
// The dashboards are written in Go so that every panel follows the mixin's
// conventions by construction (the templated data source, job and instance
// on every query, units and descriptions); `go generate ./dashboards`
// writes them as the JSON files in this directory, which Grafana imports as
// they are. A test fails while the committed files and the code disagree.
package dashboards

//go:generate go run ./gen

import "fmt"

// All returns every dashboard of the mixin.
func All() []*Dashboard {
	return []*Dashboard{Overview(), Node(), Fleet()}
}

// healthStates is monero_health_status as one number per check, the worse
// the higher (see healthMappings); extra matchers narrow it.
func healthStates(extra ...string) string {
	status := func(s string, n int) string {
		return fmt.Sprintf("(%s == 1) * %d", m("monero_health_status", append(extra, `status="`+s+`"`)...), n)
	}
	return "max by (job, instance, check) (\n    " + status("ok", 0) +
		"\n  or " + status("warn", 1) +
		"\n  or " + status("unknown", 2) +
		"\n  or " + status("error", 3) + "\n)"
}

func healthMappings() []mapping {
	return valueMap(
		mappingResult{Text: "OK", Color: "green"},
		mappingResult{Text: "WARN", Color: "yellow"},
		mappingResult{Text: "UNKNOWN", Color: "orange"},
		mappingResult{Text: "ERROR", Color: "red"},
	)
}

func upMappings(down, up string) []mapping {
	return valueMap(mappingResult{Text: down, Color: "red"}, mappingResult{Text: up, Color: "green"})
}

// xmr is the unit of amounts in XMR.
const xmr = "suffix: XMR"

// Overview is the at-a-glance dashboard: which nodes are healthy, and the
// few numbers that tell why not.
func Overview() *Dashboard {
	l := &layout{}
	l.row("Health")
	healthTable := table("Node health",
		"State of each health check per node, as the exporter's /health evaluates it (monero_health_status): OK, WARN (the check could not see everything, e.g. the peers of a restricted node), UNKNOWN (monerod did not answer) or ERROR. \"overall\" is what /health answers.",
		"none", instant(healthStates(), ""))
	healthTable.FieldConfig.Defaults.Mappings = healthMappings()
	healthTable.FieldConfig.Defaults.Custom["cellOptions"] = map[string]any{"type": "color-background"}
	// The first column holds the instance names: no colour there.
	healthTable.FieldConfig.Overrides = []map[string]any{{
		"matcher":    map[string]any{"id": "byType", "options": "string"},
		"properties": []map[string]any{{"id": "custom.cellOptions", "value": map[string]any{"type": "auto"}}},
	}}
	healthTable.Transformations = []map[string]any{{
		"id":      "groupingToMatrix",
		"options": map[string]any{"columnField": "check", "rowField": "instance", "valueField": "Value", "emptyValue": "null"},
	}}
	l.add(12, 8, healthTable)
	up := stat("monerod reachable",
		"1 (UP) when the exporter reached monerod in its last scrape (monero_up); DOWN means monerod does not answer and the node's metrics are absent.",
		"none", q(m("monero_up"), "{{instance}}"))
	up.FieldConfig.Defaults.Mappings = upMappings("DOWN", "UP")
	up.FieldConfig.Defaults.Thresholds = thresholds{Mode: "absolute", Steps: []thresholdStep{{Color: "red"}, {Color: "green", Value: f(1)}}}
	l.add(6, 8, up)
	alerts := table("Firing alerts",
		"Monero alerts firing now for the selected nodes (Prometheus's ALERTS series): see the alerts' runbook for what to do.",
		"none", instant(`ALERTS{job=~"$job", instance=~"$instance", alertname=~"Monero.*", alertstate="firing"}`, ""))
	alerts.Transformations = []map[string]any{{
		"id": "organize",
		"options": map[string]any{
			"excludeByName": map[string]any{"Time": true, "Value": true, "__name__": true, "alertstate": true, "job": true},
			"indexByName":   map[string]any{"alertname": 0, "instance": 1, "severity": 2},
		},
	}}
	l.add(6, 8, alerts)
	timeline := stateTimeline("Health over time",
		"Each health check of each node over time (monero_health_status), coloured as in \"Node health\".",
		healthMappings(), q(healthStates(), "{{instance}} {{check}}"))
	l.add(24, 8, timeline)

	l.row("Chain")
	l.add(8, 8, timeseries("Height",
		"Blocks in the node's chain (monero_height). Lines that part show nodes on different tips.",
		"none", q(m("monero_height"), "{{instance}}")))
	l.add(8, 8, timeseries("Blocks behind",
		"How far the node lags: behind the height monerod syncs towards (monero_target_height, 0 when it knows no higher chain), and behind the best height its peers report (monero_peers_max_height). 0 is in step.",
		"none",
		q("clamp_min("+m("monero_target_height")+" - "+m("monero_height")+", 0)", "{{instance}} behind target"),
		q("clamp_min("+m("monero_peers_max_height")+" - "+m("monero_height")+", 0)", "{{instance}} behind best peer")))
	l.add(8, 8, timeseries("Last block age",
		"Time since the timestamp of the node's last block (monero_last_block_age_seconds). Blocks come every 2 minutes on average; a steady climb means the node is stuck or cut off.",
		"s", q(m("monero_last_block_age_seconds"), "{{instance}}")))
	sync := stateTimeline("Synchronized",
		"Whether monerod considers itself synchronized with the network (monero_synchronized).",
		valueMap(mappingResult{Text: "syncing", Color: "orange"}, mappingResult{Text: "synchronized", Color: "green"}),
		q(m("monero_synchronized"), "{{instance}}"))
	l.add(8, 6, sync)
	hf := stat("Hard-fork version",
		"Current hard-fork version of each node's chain (monero_hard_fork_version). Nodes of one network must agree; an older one is outdated or on another chain.",
		"none", q(m("monero_hard_fork_version"), "{{instance}}"))
	hf.FieldConfig.Defaults.Color = map[string]any{"mode": "fixed", "fixedColor": "blue"}
	hf.Options["colorMode"] = "value"
	l.add(8, 6, hf)
	l.add(8, 6, timeseries("Difficulty",
		"Network difficulty of the next block (monero_difficulty): hashes expected per block.",
		"short", q(m("monero_difficulty"), "{{instance}}")))

	l.row("Network and transaction pool")
	l.add(8, 8, timeseries("Peers",
		"Open P2P connections by direction (monero_peers; unrestricted nodes only) and the peers counted as synchronized with the node (monero_peers_synced).",
		"none",
		q(m("monero_peers"), "{{instance}} {{direction}}"),
		q(m("monero_peers_synced"), "{{instance}} synced")))
	l.add(8, 8, timeseries("Transaction pool",
		"Transactions waiting in the node's pool (monero_tx_pool_transactions; a restricted node counts public ones only).",
		"none", q(m("monero_tx_pool_transactions"), "{{instance}}")))
	l.add(8, 8, timeseries("Transaction pool size",
		"Bytes of the transactions in the pool (monero_tx_pool_size_bytes).",
		"bytes", q(m("monero_tx_pool_size_bytes"), "{{instance}}")))

	l.row("Disk")
	l.add(12, 7, timeseries("Free disk space",
		"Free space on the disk holding the blockchain database (monero_free_space_bytes; unrestricted nodes only). monerod stops when it runs out.",
		"bytes", q(m("monero_free_space_bytes"), "{{instance}}")))
	l.add(12, 7, timeseries("Database size",
		"Size of the blockchain database (monero_database_size_bytes; unrestricted nodes only).",
		"bytes", q(m("monero_database_size_bytes"), "{{instance}}")))

	l.row("Exporter")
	l.add(8, 8, timeseries("Scrape duration",
		"Time the exporter spent reading monerod per scrape (monero_scrape_duration_seconds), and the whole scrape as Prometheus timed it (scrape_duration_seconds). Close to the scrape timeout means missing data soon.",
		"s",
		q(m("monero_scrape_duration_seconds"), "{{instance}} monerod"),
		q(m("scrape_duration_seconds"), "{{instance}} Prometheus scrape")))
	l.add(8, 8, stacked(timeseries("RPC calls by outcome",
		"RPC calls the exporter sent to monerod per second, by outcome (monero_exporter_rpc_requests_total): success, unreachable, timeout, tls_error, unauthorized, method_not_available, too_large, bad_response.",
		"reqps", q("sum by (job, instance, outcome) ("+rate("monero_exporter_rpc_requests_total")+")", "{{instance}} {{outcome}}"))))
	l.add(8, 8, timeseries("RPC call duration",
		"Duration of each RPC call in the last scrape, by method (monero_rpc_call_duration_seconds).",
		"s", q(m("monero_rpc_call_duration_seconds"), "{{instance}} {{method}}")))
	l.add(24, 6, stateTimeline("Scrape parts",
		"Whether each part of the scrape succeeded (monero_scrape_collector_success); a part a restricted node refuses counts as a success and is skipped.",
		upMappings("failed", "ok"),
		q(m("monero_scrape_collector_success"), "{{instance}} {{collector}}")))

	return newDashboard("monero-overview", "Monero / Overview",
		"Which Monero nodes are healthy at a glance: health checks, chain height and lag, last block age, peers, sync, hard-fork version, transaction pool, difficulty, disk, and the exporter's own scrapes.",
		l.panels)
}

// Node is the detail dashboard: pool, last block, connections, traffic,
// mining and fees of the selected nodes.
func Node() *Dashboard {
	l := &layout{}
	l.row("Transaction pool")
	l.add(8, 8, timeseries("Pool transactions",
		"Transactions in the pool, and those that failed verification, are double spends, were not relayed, or have waited more than 10 minutes (monero_tx_pool_*_transactions).",
		"none",
		q(m("monero_tx_pool_transactions"), "{{instance}} all"),
		q(m("monero_tx_pool_failing_transactions"), "{{instance}} failing"),
		q(m("monero_tx_pool_double_spend_transactions"), "{{instance}} double spend"),
		q(m("monero_tx_pool_not_relayed_transactions"), "{{instance}} not relayed"),
		q(m("monero_tx_pool_transactions_older_10m"), "{{instance}} older than 10m")))
	l.add(8, 8, timeseries("Pool size",
		"Bytes of the transactions in the pool (monero_tx_pool_size_bytes).",
		"bytes", q(m("monero_tx_pool_size_bytes"), "{{instance}}")))
	l.add(8, 8, timeseries("Pool fees",
		"Sum of the fees of the transactions in the pool, in XMR (monero_tx_pool_fees_xmr): what the next blocks can earn on top of the subsidy.",
		xmr, q(m("monero_tx_pool_fees_xmr"), "{{instance}}")))
	l.add(8, 8, timeseries("Pool transaction age",
		"How long the pool's transactions have waited: median (monero_tx_pool_age_median_seconds) and the oldest one (monero_tx_pool_oldest_age_seconds).",
		"s",
		q(m("monero_tx_pool_age_median_seconds"), "{{instance}} median"),
		q(m("monero_tx_pool_oldest_age_seconds"), "{{instance}} oldest")))
	l.add(8, 8, timeseries("Pool transaction size",
		"Size of the pool's transactions: median and largest (monero_tx_pool_transaction_size_median_bytes, monero_tx_pool_transaction_size_max_bytes).",
		"bytes",
		q(m("monero_tx_pool_transaction_size_median_bytes"), "{{instance}} median"),
		q(m("monero_tx_pool_transaction_size_max_bytes"), "{{instance}} largest")))
	l.add(8, 8, stacked(timeseries("Pool fee per byte",
		"How many of the pool's transactions pay each band of fee per byte, in XMR, summed over the selected nodes (monero_tx_pool_fee_band_transactions; a band is named by its upper edge). Compare with the fee estimates below.",
		"none", q("sum by (band) ("+m("monero_tx_pool_fee_band_transactions")+")", "up to {{band}} XMR/B"))))

	l.row("Last block")
	l.add(8, 8, timeseries("Block size and weight",
		"Size and weight of the last block (monero_last_block_size_bytes, monero_last_block_weight_bytes), with the median weight and the weight limit (monero_block_weight_median_bytes, monero_block_weight_limit_bytes).",
		"bytes",
		q(m("monero_last_block_size_bytes"), "{{instance}} size"),
		q(m("monero_last_block_weight_bytes"), "{{instance}} weight"),
		q(m("monero_block_weight_median_bytes"), "{{instance}} median weight"),
		q(m("monero_block_weight_limit_bytes"), "{{instance}} weight limit")))
	l.add(8, 8, timeseries("Block transactions",
		"Transactions in the last block, coinbase excluded (monero_last_block_transactions), and the rate at which the chain gains transactions (monero_transactions_total).",
		"none",
		q(m("monero_last_block_transactions"), "{{instance}} in last block"),
		q("60 * "+rate("monero_transactions_total"), "{{instance}} per minute")))
	l.add(8, 8, timeseries("Block reward",
		"Reward of the last block in XMR (monero_last_block_reward_xmr), split into the subsidy (monero_last_block_subsidy_xmr) and the fees (monero_last_block_fees_xmr).",
		xmr,
		q(m("monero_last_block_reward_xmr"), "{{instance}} reward"),
		q(m("monero_last_block_subsidy_xmr"), "{{instance}} subsidy"),
		q(m("monero_last_block_fees_xmr"), "{{instance}} fees")))
	l.add(8, 8, timeseries("Inputs and outputs per transaction",
		"Median inputs and outputs of the transactions mined in the blocks of the rate interval (monero_block_transaction_inputs, monero_block_transaction_outputs); gaps where no block came.",
		"none",
		q(quantile("0.5", "monero_block_transaction_inputs"), "{{instance}} inputs"),
		q(quantile("0.5", "monero_block_transaction_outputs"), "{{instance}} outputs")))
	l.add(8, 8, timeseries("Mined transaction size",
		"Median and largest-decile size of the transactions mined in the blocks of the rate interval (monero_block_transaction_size_bytes); gaps where no block came.",
		"bytes",
		q(quantile("0.5", "monero_block_transaction_size_bytes"), "{{instance}} median"),
		q(quantile("0.9", "monero_block_transaction_size_bytes"), "{{instance}} p90")))
	l.add(8, 8, timeseries("Mined fee per byte",
		"Median and 90th percentile of the fee per byte, in XMR, that the transactions mined in the blocks of the rate interval paid (monero_block_transaction_fee_per_byte_xmr); gaps where no block came.",
		xmr,
		q(quantile("0.5", "monero_block_transaction_fee_per_byte_xmr"), "{{instance}} median"),
		q(quantile("0.9", "monero_block_transaction_fee_per_byte_xmr"), "{{instance}} p90")))
	l.add(8, 8, heatmap("Time between blocks",
		"How many blocks came how long after their parent, summed over the selected nodes (monero_block_interval_seconds, each block counted once); the target is two minutes.",
		"s", "sum by (le) (increase("+m("monero_block_interval_seconds_bucket")+"[$__rate_interval]))"))

	l.row("Connections")
	l.add(8, 8, stacked(timeseries("Connections by state",
		"P2P connections by direction and state (monero_connections).",
		"none", q(m("monero_connections"), "{{instance}} {{direction}} {{state}}"))))
	l.add(8, 8, timeseries("Peer height lag",
		"Our height minus the peers', median over the connections (monero_connection_height_lag_median_blocks): negative means peers are ahead; and how many peers are ahead (monero_connections_ahead). Peers refresh their height about once a minute.",
		"none",
		q(m("monero_connection_height_lag_median_blocks"), "{{instance}} median lag"),
		q(m("monero_connections_ahead"), "{{instance}} peers ahead")))
	l.add(8, 8, timeseries("Connection age",
		"How long the node's connections have been open, median (monero_connection_age_median_seconds). Short ages everywhere mean peers keep dropping.",
		"s",
		q(m("monero_connection_age_median_seconds"), "{{instance}} median")))
	l.add(8, 8, timeseries("Connection rates",
		"Receive and send rate of all connections together, as monerod averages them (monero_connections_receive_rate_bytes_per_second, monero_connections_send_rate_bytes_per_second).",
		"Bps",
		q(m("monero_connections_receive_rate_bytes_per_second"), "{{instance}} receive"),
		q(m("monero_connections_send_rate_bytes_per_second"), "{{instance}} send")))
	l.add(8, 8, timeseries("Bans",
		"Addresses the node bans (monero_bans) and the shortest and longest time left on a ban in minutes (monero_ban_remaining_min_seconds, monero_ban_remaining_max_seconds).",
		"none",
		q(m("monero_bans"), "{{instance}} bans"),
		q(m("monero_ban_remaining_min_seconds")+" / 60", "{{instance}} shortest minutes left"),
		q(m("monero_ban_remaining_max_seconds")+" / 60", "{{instance}} longest minutes left")))
	l.add(8, 8, timeseries("Peer lists and RPC connections",
		"Entries in the node's white and grey peer lists (monero_peerlist_entries) and open RPC connections to the node (monero_rpc_connections).",
		"none",
		q(m("monero_peerlist_entries"), "{{instance}} {{list}} list"),
		q(m("monero_rpc_connections"), "{{instance}} RPC connections")))

	l.row("Traffic")
	l.add(12, 8, timeseries("P2P traffic",
		"Bytes per second the node received and sent (monero_net_received_bytes_total, monero_net_sent_bytes_total).",
		"Bps",
		q(rate("monero_net_received_bytes_total"), "{{instance}} received"),
		q(rate("monero_net_sent_bytes_total"), "{{instance}} sent")))
	l.add(12, 8, timeseries("P2P packets",
		"Packets per second the node received and sent (monero_net_received_packets_total, monero_net_sent_packets_total).",
		"pps",
		q(rate("monero_net_received_packets_total"), "{{instance}} received"),
		q(rate("monero_net_sent_packets_total"), "{{instance}} sent")))

	l.row("Mining and fees")
	mining := stateTimeline("Mining",
		"Whether the node mines (monero_mining_active) and whether in the background (monero_mining_background).",
		upMappings("off", "on"),
		q(m("monero_mining_active"), "{{instance}} mining"),
		q(m("monero_mining_background"), "{{instance}} background"))
	mining.FieldConfig.Defaults.Mappings = valueMap(mappingResult{Text: "off", Color: "text"}, mappingResult{Text: "on", Color: "green"})
	l.add(6, 8, mining)
	l.add(6, 8, timeseries("Mining hashrate",
		"The node's own mining speed (monero_mining_hashrate_hashes_per_second).",
		"Hs",
		q(m("monero_mining_hashrate_hashes_per_second"), "{{instance}}")))
	threads := stat("Mining threads",
		"Threads the node mines with (monero_mining_threads); 0 when it does not mine.",
		"none", q(m("monero_mining_threads"), "{{instance}}"))
	threads.Options["colorMode"] = "value"
	l.add(4, 8, threads)
	l.add(8, 8, timeseries("Fee estimates",
		"Fee per byte, in XMR, monerod suggests for each priority (monero_fee_per_byte_xmr), and the quantization mask fees are rounded up to (monero_fee_quantization_xmr).",
		xmr,
		q(m("monero_fee_per_byte_xmr"), "{{instance}} {{priority}}"),
		q(m("monero_fee_quantization_xmr"), "{{instance}} quantization")))

	l.row("Node")
	info := table("Node",
		"What each node runs (monero_node_info): daemon version, network type and whether its RPC is restricted.",
		"none", instant(m("monero_node_info"), ""))
	info.Transformations = []map[string]any{{
		"id": "organize",
		"options": map[string]any{
			"excludeByName": map[string]any{"Time": true, "Value": true, "__name__": true, "job": true},
			"indexByName":   map[string]any{"instance": 0, "version": 1, "nettype": 2, "restricted": 3},
		},
	}}
	l.add(12, 6, info)
	l.add(6, 6, stat("Uptime",
		"Time since monerod started (monero_start_time_seconds; unrestricted nodes only).",
		"s", q("time() - "+m("monero_start_time_seconds"), "{{instance}}")))
	l.add(6, 6, timeseries("Alternative blocks",
		"Blocks the node knows that are not on its main chain (monero_alt_blocks): many or rising means forks or reorganisations.",
		"none", q(m("monero_alt_blocks"), "{{instance}}")))

	return newDashboard("monero-node", "Monero / Node",
		"Detail of the selected Monero nodes: transaction pool, contents of the last block, P2P connections and traffic, mining, fee estimates.",
		l.panels)
}

// Fleet compares many nodes: one table row per node, and how far they
// agree.
func Fleet() *Dashboard {
	// Each query keeps only job and instance, so that "merge" joins them
	// into one row per node.
	byNode := func(expr string) string { return "max by (job, instance) (" + expr + ")" }
	l := &layout{}
	l.row("Nodes")
	nodes := table("Nodes",
		"One row per node: monerod reachable, height, blocks behind its target, last block age, peers, synchronized, hard-fork version, free disk space, and the overall health (ERROR red).",
		"none",
		instant(byNode(m("monero_up")), ""),
		instant(byNode(m("monero_height")), ""),
		instant(byNode("clamp_min("+m("monero_target_height")+" - "+m("monero_height")+", 0)"), ""),
		instant(byNode(m("monero_last_block_age_seconds")), ""),
		instant(byNode("sum without (direction) ("+m("monero_peers")+")"), ""),
		instant(byNode(m("monero_synchronized")), ""),
		instant(byNode(m("monero_hard_fork_version")), ""),
		instant(byNode(m("monero_free_space_bytes")), ""),
		instant(byNode(healthStates(`check="overall"`)), ""),
	)
	columns := []struct {
		ref, name, unit string
		mappings        []mapping
	}{
		{"A", "monerod", "none", upMappings("DOWN", "UP")},
		{"B", "height", "none", nil},
		{"C", "behind", "none", nil},
		{"D", "last block age", "s", nil},
		{"E", "peers", "none", nil},
		{"F", "synchronized", "none", valueMap(mappingResult{Text: "no", Color: "orange"}, mappingResult{Text: "yes", Color: "green"})},
		{"G", "hard fork", "none", nil},
		{"H", "free disk", "bytes", nil},
		{"I", "health", "none", healthMappings()},
	}
	// Each query's value column is "Value #<refId>" after the merge; an
	// override names it and gives it its unit.
	for _, c := range columns {
		props := []map[string]any{{"id": "displayName", "value": c.name}, {"id": "unit", "value": c.unit}}
		if c.mappings != nil {
			props = append(props,
				map[string]any{"id": "mappings", "value": c.mappings},
				map[string]any{"id": "custom.cellOptions", "value": map[string]any{"type": "color-background"}})
		}
		nodes.FieldConfig.Overrides = append(nodes.FieldConfig.Overrides, map[string]any{
			"matcher": map[string]any{"id": "byName", "options": "Value #" + c.ref}, "properties": props,
		})
	}
	nodes.Transformations = []map[string]any{
		{"id": "merge", "options": map[string]any{}},
		{"id": "organize", "options": map[string]any{
			"excludeByName": map[string]any{"Time": true},
			"indexByName":   map[string]any{"instance": 0, "job": 1},
		}},
	}
	nodes.Options["sortBy"] = []map[string]any{{"displayName": "instance", "desc": false}}
	l.add(24, 10, nodes)

	l.row("Agreement")
	upCount := stat("Nodes up",
		"Nodes whose exporter reaches monerod (sum of monero_up), out of all selected ones.",
		"none",
		q("sum("+m("monero_up")+")", "up"),
		q("count("+m("monero_up")+")", "total"))
	upCount.Options["colorMode"] = "value"
	l.add(6, 7, upCount)
	health := stat("Overall health",
		"How many nodes are in each overall health state (monero_health_status{check=\"overall\"}).",
		"none", q(`count by (status) (`+m("monero_health_status", `check="overall"`)+` == 1)`, "{{status}}"))
	health.Options["colorMode"] = "value"
	l.add(6, 7, health)
	l.add(6, 7, timeseries("Height spread",
		"Highest minus lowest height among the nodes of each job: 0 means every node has the same tip.",
		"none", q("max by (job) ("+m("monero_height")+") - min by (job) ("+m("monero_height")+")", "{{job}}")))
	l.add(6, 7, timeseries("Hard-fork versions",
		"Nodes per hard-fork version in each job (monero_hard_fork_version): more than one line in a job is a mismatch.",
		"none", q(`count_values by (job) ("version", `+m("monero_hard_fork_version")+")", "{{job}} v{{version}}")))
	l.add(6, 7, timeseries("monerod versions",
		"Nodes per daemon version (monero_node_info), to follow an upgrade across the fleet.",
		"none", q("count by (version) ("+m("monero_node_info")+")", "{{version}}")))
	l.add(6, 7, bargauge("Last block age by node",
		"Age of each node's last block now (monero_last_block_age_seconds); the odd one out is stuck.",
		"s", instantSeries(m("monero_last_block_age_seconds"), "{{instance}}")))
	l.add(6, 7, bargauge("Peers by node",
		"P2P connections of each node now (monero_peers, both directions).",
		"none", instantSeries("sum by (job, instance) ("+m("monero_peers")+")", "{{instance}}")))
	l.add(6, 7, bargauge("Free disk by node",
		"Free space on the database disk of each node now (monero_free_space_bytes).",
		"bytes", instantSeries(m("monero_free_space_bytes"), "{{instance}}")))
	alerts := timeseries("Firing alerts by severity",
		"Monero alerts firing for the selected nodes, by severity (Prometheus's ALERTS series).",
		"none", q(`count by (severity) (ALERTS{job=~"$job", instance=~"$instance", alertname=~"Monero.*", alertstate="firing"})`, "{{severity}}"))
	l.add(24, 7, stacked(alerts))

	return newDashboard("monero-fleet", "Monero / Fleet",
		"Many Monero nodes side by side: one row per node, and whether they agree on height, hard-fork version and daemon version.",
		l.panels)
}
