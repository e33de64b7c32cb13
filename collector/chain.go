package collector

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/monero-ops/monero_exporter/snapshot"
)

// The reference nodes' metrics: what each said of the node's chain. They
// come with the references (--chain.reference, or a module's references),
// not with a collector flag; one series per reference, named as configured.

var (
	referenceUpDesc = desc("reference_up",
		fmt.Sprintf("1 when the reference node told its tip in this scrape (get_last_block_header; one answer serves every scrape for %s), else 0.", snapshot.DefaultReferenceTipMaxAge), "reference")
	referenceHeightDesc = desc("reference_height",
		"Height (number of blocks) of the reference node's chain. Absent when it did not answer.", "reference")
	referenceAgreesDesc = desc("reference_agrees",
		"1 when the reference node holds the node's own top block at the node's height (get_block_header_by_height), 0 when it holds another: one of the two is on a fork. Absent when it cannot tell (no answer, or its chain is shorter than the node's).", "reference")
)

// chainDescs are the reference metrics' descriptors.
var chainDescs = []*prometheus.Desc{referenceUpDesc, referenceHeightDesc, referenceAgreesDesc}

func emitChain(ch chan<- prometheus.Metric, c *snapshot.Chain) {
	if c == nil {
		return
	}
	for _, a := range c.References {
		ch <- gauge(referenceUpDesc, b2f(a.Height > 0), a.Name)
		if a.Height > 0 {
			ch <- gauge(referenceHeightDesc, float64(a.Height), a.Name)
		}
		if agrees, known := c.Agrees(a); known {
			ch <- gauge(referenceAgreesDesc, b2f(agrees), a.Name)
		}
	}
}
