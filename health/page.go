package health

import (
	"bytes"
	"fmt"
	"html/template"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// prefersHTML tells whether an Accept header asks for a page rather than
// JSON: text/html must rank above application/json. A browser lists
// text/html first and everything else at a lower q through "*/*"; curl,
// probes and the old service's clients send "*/*", application/json or
// nothing, and get the JSON the old service gave them.
func prefersHTML(accept []string) bool {
	html, json := acceptQ(accept, "text", "html"), acceptQ(accept, "application", "json")
	return html > json
}

// acceptQ is the quality that an Accept header gives typ/sub: that of the
// most specific media range that matches it (RFC 9110, 12.5.1), 0 when none
// does.
func acceptQ(accept []string, typ, sub string) float64 {
	q, specificity := 0.0, -1
	for _, header := range accept {
		for item := range strings.SplitSeq(header, ",") {
			params := strings.Split(item, ";")
			t, s, ok := strings.Cut(strings.ToLower(strings.TrimSpace(params[0])), "/")
			if !ok {
				continue
			}
			spec := 0
			switch {
			case t == typ && s == sub:
				spec = 2
			case t == typ && s == "*":
				spec = 1
			case t == "*" && s == "*":
				spec = 0
			default:
				continue
			}
			if spec <= specificity {
				continue
			}
			specificity, q = spec, 1
			for _, p := range params[1:] {
				k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
				if strings.EqualFold(strings.TrimSpace(k), "q") {
					if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil && f >= 0 && f <= 1 {
						q = f
					} else {
						q = 0
					}
				}
			}
		}
	}
	return q
}

// pageRow is one check on the page.
type pageRow struct {
	Check    string
	Counted  bool
	Status   string
	Observed string
	Reason   string
}

// pageData is what the page shows.
type pageData struct {
	Version  string
	Node     string
	Time     string
	Overall  string
	V1Status string
	Rows     []pageRow
	Links    []Link
}

var pageTemplate = template.Must(template.New("page").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Monero Exporter</title>
<style>
body { font-family: sans-serif; margin: 2em; }
table { border-collapse: collapse; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: left; vertical-align: top; }
.pass, .OK { color: #17691b; } .warn { color: #8a6100; } .fail, .ERROR, .UNKNOWN { color: #b00020; }
.muted { color: #666; }
</style>
</head>
<body>
<h1>Monero Exporter</h1>
<p>Prometheus exporter and health checks for monerod. Version {{.Version}}.</p>
<h2>monerod {{.Node}}: <span class="{{.Overall}}">{{.Overall}}</span></h2>
<p>Checked at {{.Time}}, all checks from one snapshot of the node. /health counts the checks marked so
and answers <span class="{{.Overall}}">{{.Overall}}</span>; /api/v1 answers <span class="{{.V1Status}}">{{.V1Status}}</span>.</p>
<table>
<tr><th>Check</th><th>Counted by /health</th><th>Status</th><th>Observed</th><th>Reason</th></tr>
{{range .Rows}}<tr><td>{{.Check}}</td><td>{{if .Counted}}yes{{else}}<span class="muted">no</span>{{end}}</td><td class="{{.Status}}">{{.Status}}</td><td>{{.Observed}}</td><td>{{.Reason}}</td></tr>
{{end}}</table>
<h2>Endpoints</h2>
<ul>
{{range .Links}}<li><a href="{{.Address}}">{{.Text}}</a></li>
{{end}}</ul>
</body>
</html>
`))

// servePage answers / to a browser: the node's health from one snapshot,
// check by check, and the links to every endpoint.
func (h *handler) servePage(w http.ResponseWriter, r *http.Request) {
	snap, rep := h.evaluate(r)
	data := pageData{
		Version:  orUnknown(h.cfg.ExporterVersion),
		Node:     v1RPCHost(h.cfg),
		Time:     rep.Time.UTC().Format(time.RFC3339),
		Overall:  rep.Overall.Probe(),
		V1Status: v1Combine(&rep, h.cfg).V1(),
		Links:    h.links,
	}
	if v := snap.DaemonVersion(); v != "" {
		data.Node += " (" + v + ")"
	}
	for _, res := range rep.Results {
		row := pageRow{Check: res.Check, Counted: res.Enabled, Status: res.Status.Probe(), Reason: sanitize(res.Output)}
		if res.ObservedValue != nil {
			row.Observed = strings.TrimSpace(fmt.Sprint(res.ObservedValue) + " " + res.ObservedUnit)
		}
		data.Rows = append(data.Rows, row)
	}
	var buf bytes.Buffer
	if err := pageTemplate.Execute(&buf, data); err != nil {
		h.logger.ErrorContext(r.Context(), "rendering the page at /", "err", err)
		http.Error(w, "rendering the page failed", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	h.write(w, r, http.StatusOK, ContentTypeHTML, buf.Bytes())
}
