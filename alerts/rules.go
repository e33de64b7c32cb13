package alerts

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Rules returns the Monero alerting rules for c: one group, one rule per
// alert of the config.
func Rules(c *Config) (*RuleFile, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	b := ruleBuilder{c: c, inst: "{{ $labels." + c.InstanceLabel + " }}"}
	return &RuleFile{Groups: []RuleGroup{{Name: "monero", Rules: []Rule{
		b.alert("MoneroExporterDown", c.ExporterDown,
			b.sel("up")+" == 0",
			"Prometheus cannot scrape the Monero exporter.",
			fmt.Sprintf("Prometheus has failed to scrape the exporter %s (job {{ $labels.job }}) for %s; up is {{ $value }}. Nothing is known about its monerod meanwhile.",
				b.inst, c.ExporterDown.For)),

		b.alert("MoneroDaemonDown", c.MonerodDown,
			b.sel("monero_up")+" == 0",
			"monerod does not answer the exporter.",
			fmt.Sprintf("The exporter %s has not reached monerod for %s (monero_up is {{ $value }}); the node's metrics are absent meanwhile.",
				b.inst, c.MonerodDown.For)),

		b.alert("MoneroLastBlockTooOld", c.LastBlockTooOld.Alert,
			b.sel("monero_last_block_age_seconds")+" > "+seconds(c.LastBlockTooOld.MaxAge),
			"The node's last block is too old.",
			fmt.Sprintf("The last block of %s is {{ $value | humanizeDuration }} old, more than %s: the node is stuck or cut off from the network.",
				b.inst, c.LastBlockTooOld.MaxAge)),

		b.alert("MoneroNodeNotSynchronized", c.NotSynchronized,
			b.sel("monero_synchronized")+" == 0",
			"monerod does not consider itself synchronized.",
			fmt.Sprintf("%s has not been synchronized for %s (monero_synchronized is {{ $value }}).",
				b.inst, c.NotSynchronized.For)),

		b.alert("MoneroNodeBehindPeers", c.BehindPeers.Alert,
			lines(
				fmt.Sprintf("(%s - %s > %d)", b.sel("monero_target_height"), b.sel("monero_height"), c.BehindPeers.MaxBlocks),
				"or",
				fmt.Sprintf("(%s - %s > %d)", b.sel("monero_peers_max_height"), b.sel("monero_height"), c.BehindPeers.MaxBlocks)),
			"The node is far behind the chain its peers know.",
			fmt.Sprintf("%s is {{ $value }} blocks behind the best chain it knows of, more than %d.",
				b.inst, c.BehindPeers.MaxBlocks)),

		b.alert("MoneroNoPeers", c.NoPeers,
			lines(
				"sum without (direction) ("+b.sel("monero_peers")+") == 0",
				"unless",
				b.sel("monero_offline")+" == 1"),
			"The node has no P2P connection.",
			fmt.Sprintf("%s has had {{ $value }} P2P connections for %s: it cannot learn new blocks nor relay transactions.",
				b.inst, c.NoPeers.For)),

		b.alert("MoneroTooFewPeers", c.TooFewPeers.Alert,
			fmt.Sprintf("sum without (direction) (%s) < %d > 0", b.sel("monero_peers"), c.TooFewPeers.Min),
			"The node has too few P2P connections.",
			fmt.Sprintf("%s has only {{ $value }} P2P connections, fewer than %d.",
				b.inst, c.TooFewPeers.Min)),

		b.alert("MoneroHealthCheckFailing", c.HealthCheckFailing,
			b.sel("monero_health_status", `check!="overall"`, `status="error"`)+" == 1",
			"A health check of the node fails.",
			fmt.Sprintf("The {{ $labels.check }} health check of %s has failed for %s (monero_health_status is {{ $value }}); the exporter's /health tells why.",
				b.inst, c.HealthCheckFailing.For)),

		b.alert("MoneroHardForkVersionMismatch", c.HardForkVersionMismatch,
			lines(
				b.sel("monero_hard_fork_version"),
				"< on ("+b.fleet()+") group_left ()",
				"max by ("+b.fleet()+") ("+b.sel("monero_hard_fork_version")+")"),
			"Nodes of the fleet run different hard-fork versions.",
			fmt.Sprintf("%s runs hard-fork version {{ $value }}, older than the newest among the nodes with the same %s: it is outdated or follows another chain.",
				b.inst, b.fleet())),

		b.alert("MoneroDaemonVersionMismatch", c.DaemonVersionMismatch,
			lines(
				"(",
				"  count by ("+b.fleet()+") (count by ("+b.fleet()+", version) ("+b.sel("monero_node_info", `version!~"|rpc-.*"`)+"))",
				"  > 1",
				")",
				"* on ("+b.fleet()+") group_right ()",
				b.sel("monero_node_info", `version!~"|rpc-.*"`)),
			"Nodes of the fleet run different monerod versions.",
			fmt.Sprintf("%s runs monerod {{ $labels.version }}, and the nodes with the same %s run {{ $value }} different versions: an upgrade was left half done.",
				b.inst, b.fleet())),

		b.alert("MoneroChainFork", c.ChainFork,
			b.sel("monero_reference_agrees")+" == 0",
			"A node and its reference node hold different blocks at the same height.",
			fmt.Sprintf("At the height of %s, its reference node {{ $labels.reference }} holds another block than it does (monero_reference_agrees is {{ $value }}): one of the two is on a fork. The exporter's /health chain check tells which side its references take.",
				b.inst)),

		b.alert("MoneroNodeBehindFleet", c.BehindFleet.Alert,
			lines(
				"max by ("+b.fleet()+") ("+b.sel("monero_height")+" or "+b.sel("monero_reference_height")+")",
				"- on ("+b.fleet()+") group_right ()",
				b.sel("monero_height"),
				fmt.Sprintf("> %d", c.BehindFleet.MaxBlocks)),
			"The node is far behind the other nodes of its fleet.",
			fmt.Sprintf("%s is {{ $value }} blocks behind the best height among the nodes with the same %s and their reference nodes, more than %d.",
				b.inst, b.fleet(), c.BehindFleet.MaxBlocks)),

		b.alert("MoneroDiskSpaceLow", c.DiskSpaceLow.Alert,
			b.sel("monero_free_space_bytes")+" < "+strconv.FormatUint(uint64(c.DiskSpaceLow.MinFree), 10),
			"The disk holding the blockchain is filling up.",
			fmt.Sprintf("%s has {{ $value | humanize1024 }}B free on the disk of its blockchain database, less than %s.",
				b.inst, c.DiskSpaceLow.MinFree)),

		b.alert("MoneroDiskSpaceCriticallyLow", c.DiskSpaceCriticallyLow.Alert,
			b.sel("monero_free_space_bytes")+" < "+strconv.FormatUint(uint64(c.DiskSpaceCriticallyLow.MinFree), 10),
			"The disk holding the blockchain is nearly full.",
			fmt.Sprintf("%s has {{ $value | humanize1024 }}B free on the disk of its blockchain database, less than %s: monerod stops when it is full.",
				b.inst, c.DiskSpaceCriticallyLow.MinFree)),

		b.alert("MoneroUpdateAvailable", c.UpdateAvailable,
			b.sel("monero_update_available")+" == 1",
			"A newer monerod release is available.",
			fmt.Sprintf("monerod behind %s knows of a newer release (monero_update_available is {{ $value }}).",
				b.inst)),

		b.alert("MoneroScrapeSlow", c.ScrapeSlow.Alert,
			fmt.Sprintf("avg_over_time(%s[%s]) > %s", b.sel("monero_scrape_duration_seconds"), c.ScrapeSlow.Window, seconds(c.ScrapeSlow.Max)),
			"Scrapes of monerod are slow.",
			fmt.Sprintf("Reading monerod through %s took {{ $value | humanizeDuration }} on average over %s, more than %s: monerod is overloaded or scrapes come close to their timeout.",
				b.inst, c.ScrapeSlow.Window, c.ScrapeSlow.Max)),

		b.alert("MoneroRPCErrors", c.RPCErrors.Alert,
			lines(
				"(",
				fmt.Sprintf("  sum without (method, outcome) (rate(%s[%s]))", b.sel("monero_exporter_rpc_requests_total", `outcome!="success"`), c.RPCErrors.Window),
				"  /",
				fmt.Sprintf("  sum without (method, outcome) (rate(%s[%s]))", b.sel("monero_exporter_rpc_requests_total"), c.RPCErrors.Window),
				") > "+strconv.FormatFloat(c.RPCErrors.MaxRatio, 'f', -1, 64),
				"unless",
				b.sel("monero_up")+" == 0"),
			"RPC calls from the exporter to monerod fail.",
			fmt.Sprintf("{{ $value | humanizePercentage }} of the RPC calls %s made to monerod over %s failed, more than %s%%; the outcome label of monero_exporter_rpc_requests_total tells why.",
				b.inst, c.RPCErrors.Window, strconv.FormatFloat(c.RPCErrors.MaxRatio*100, 'f', -1, 64))),

		b.alert("MoneroScrapeCollectorFailing", c.ScrapeCollectorFailing,
			lines(
				b.sel("monero_scrape_collector_success")+" == 0",
				"unless ignoring (collector)",
				b.sel("monero_up")+" == 0"),
			"A collector of the scrape of monerod fails.",
			fmt.Sprintf("The {{ $labels.collector }} collector of the scrape of %s has failed for %s (success is {{ $value }}); its metrics are missing.",
				b.inst, c.ScrapeCollectorFailing.For)),
	}}}}, nil
}

// ruleBuilder holds what every rule takes from the config.
type ruleBuilder struct {
	c *Config
	// inst is the template of the node's name in annotations.
	inst string
}

// sel selects metric among the exporter's series (the config's selector),
// narrowed by extra matchers.
func (b ruleBuilder) sel(metric string, extra ...string) string {
	return metric + "{" + b.c.Matchers(extra...) + "}"
}

// fleet lists the fleet labels, for on (...) and by (...).
func (b ruleBuilder) fleet() string { return strings.Join(b.c.FleetLabels, ", ") }

// alert is an alerting rule with the config's for and severity, and the
// annotations every Monero alert has.
func (b ruleBuilder) alert(name string, a Alert, expr, summary, description string) Rule {
	annotations := map[string]string{"summary": summary, "description": description}
	if b.c.RunbookURL != "" {
		annotations["runbook_url"] = b.c.RunbookURL + strings.ToLower(name)
	}
	return Rule{
		Alert:       name,
		Expr:        expr,
		For:         a.For,
		Labels:      map[string]string{"severity": a.Severity},
		Annotations: annotations,
	}
}

// lines joins the lines of a multi-line expression.
func lines(l ...string) string { return strings.Join(l, "\n") }

// seconds is d as a PromQL number of seconds.
func seconds(d Duration) string {
	return strconv.FormatFloat(time.Duration(d).Seconds(), 'f', -1, 64)
}
