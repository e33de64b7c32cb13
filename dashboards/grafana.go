package dashboards

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// gridWidth is the width of Grafana's dashboard grid.
const gridWidth = 24

// Dashboard is a Grafana dashboard in the JSON model Grafana imports.
type Dashboard struct {
	Annotations          annotations `json:"annotations"`
	Description          string      `json:"description"`
	Editable             bool        `json:"editable"`
	FiscalYearStartMonth int         `json:"fiscalYearStartMonth"`
	GraphTooltip         int         `json:"graphTooltip"`
	ID                   *int        `json:"id"`
	Links                []link      `json:"links"`
	Panels               []*Panel    `json:"panels"`
	Refresh              string      `json:"refresh"`
	SchemaVersion        int         `json:"schemaVersion"`
	Tags                 []string    `json:"tags"`
	Templating           templating  `json:"templating"`
	Time                 timeRange   `json:"time"`
	Timepicker           struct{}    `json:"timepicker"`
	Timezone             string      `json:"timezone"`
	Title                string      `json:"title"`
	UID                  string      `json:"uid"`
	Version              int         `json:"version"`
}

// FileName is the name of the dashboard's file in this directory.
func (d *Dashboard) FileName() string { return d.UID + ".json" }

// JSON is the dashboard as committed: indented, with a final newline.
func (d *Dashboard) JSON() ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(d); err != nil {
		return nil, fmt.Errorf("%s: %w", d.UID, err)
	}
	return buf.Bytes(), nil
}

type annotations struct {
	List []map[string]any `json:"list"`
}

type link struct {
	AsDropdown  bool     `json:"asDropdown"`
	IncludeVars bool     `json:"includeVars"`
	KeepTime    bool     `json:"keepTime"`
	Tags        []string `json:"tags"`
	Title       string   `json:"title"`
	Type        string   `json:"type"`
}

type timeRange struct {
	From string `json:"from"`
	To   string `json:"to"`
}

type templating struct {
	List []variable `json:"list"`
}

type variable struct {
	AllValue    string         `json:"allValue,omitempty"`
	Current     map[string]any `json:"current"`
	Datasource  *datasourceRef `json:"datasource,omitempty"`
	Definition  string         `json:"definition,omitempty"`
	Description string         `json:"description"`
	Hide        int            `json:"hide"`
	IncludeAll  bool           `json:"includeAll"`
	Label       string         `json:"label"`
	Multi       bool           `json:"multi"`
	Name        string         `json:"name"`
	Options     []any          `json:"options"`
	Query       any            `json:"query"`
	Refresh     int            `json:"refresh"`
	Regex       string         `json:"regex"`
	Sort        int            `json:"sort,omitempty"`
	Type        string         `json:"type"`
}

type datasourceRef struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

// promDS is the templated data source every query uses.
var promDS = &datasourceRef{Type: "prometheus", UID: "${datasource}"}

// Panel is one Grafana panel, or a row.
type Panel struct {
	Collapsed       *bool            `json:"collapsed,omitempty"`
	Datasource      *datasourceRef   `json:"datasource,omitempty"`
	Description     string           `json:"description,omitempty"`
	FieldConfig     *fieldConfig     `json:"fieldConfig,omitempty"`
	GridPos         gridPos          `json:"gridPos"`
	ID              int              `json:"id"`
	Options         map[string]any   `json:"options,omitempty"`
	Panels          *[]*Panel        `json:"panels,omitempty"`
	Targets         []Target         `json:"targets,omitempty"`
	Title           string           `json:"title"`
	Transformations []map[string]any `json:"transformations,omitempty"`
	Type            string           `json:"type"`
}

type gridPos struct {
	H int `json:"h"`
	W int `json:"w"`
	X int `json:"x"`
	Y int `json:"y"`
}

type fieldConfig struct {
	Defaults  fieldDefaults    `json:"defaults"`
	Overrides []map[string]any `json:"overrides"`
}

type fieldDefaults struct {
	Color      map[string]any `json:"color,omitempty"`
	Custom     map[string]any `json:"custom,omitempty"`
	Decimals   *int           `json:"decimals,omitempty"`
	Mappings   []mapping      `json:"mappings"`
	Min        *float64       `json:"min,omitempty"`
	Thresholds thresholds     `json:"thresholds"`
	Unit       string         `json:"unit"`
}

type thresholds struct {
	Mode  string          `json:"mode"`
	Steps []thresholdStep `json:"steps"`
}

type thresholdStep struct {
	Color string   `json:"color"`
	Value *float64 `json:"value"`
}

type mapping struct {
	Options map[string]mappingResult `json:"options"`
	Type    string                   `json:"type"`
}

type mappingResult struct {
	Color string `json:"color"`
	Index int    `json:"index"`
	Text  string `json:"text"`
}

// Target is one query of a panel.
type Target struct {
	Datasource   *datasourceRef `json:"datasource"`
	EditorMode   string         `json:"editorMode"`
	Expr         string         `json:"expr"`
	Format       string         `json:"format,omitempty"`
	Instant      bool           `json:"instant,omitempty"`
	LegendFormat string         `json:"legendFormat,omitempty"`
	Range        bool           `json:"range"`
	RefID        string         `json:"refId"`
}

// sel is the selector every query carries: the dashboard's job and instance
// variables.
const sel = `job=~"$job", instance=~"$instance"`

// m returns a selector of metric name filtered by the dashboard's variables
// and any extra matchers.
func m(name string, extra ...string) string {
	return name + "{" + strings.Join(append([]string{sel}, extra...), ", ") + "}"
}

// rate is the per-second rate of a counter over Grafana's rate interval.
func rate(name string, extra ...string) string {
	return "rate(" + m(name, extra...) + "[$__rate_interval])"
}

// quantile is the q quantile of what a histogram observed per instance
// over Grafana's rate interval (gaps where it observed nothing).
func quantile(q, name string) string {
	return fmt.Sprintf("histogram_quantile(%s, sum by (job, instance, le) (%s))", q, rate(name+"_bucket"))
}

// q is a range query with a legend.
func q(expr, legend string) Target { return Target{Expr: expr, LegendFormat: legend} }

// instant is an instant query in table format, for tables and bar gauges.
func instant(expr, legend string) Target {
	return Target{Expr: expr, LegendFormat: legend, Format: "table", Instant: true}
}

// instantSeries is an instant query that keeps one series per node, for
// bar gauges.
func instantSeries(expr, legend string) Target {
	return Target{Expr: expr, LegendFormat: legend, Instant: true}
}

func f(v float64) *float64 { return &v }

func greenThresholds() thresholds {
	return thresholds{Mode: "absolute", Steps: []thresholdStep{{Color: "green"}}}
}

// valueMap maps numeric states to a text and a colour, in order.
func valueMap(states ...mappingResult) []mapping {
	opts := map[string]mappingResult{}
	for i, s := range states {
		s.Index = i
		opts[strconv.Itoa(i)] = s
	}
	return []mapping{{Type: "value", Options: opts}}
}

// panel is the common part of every panel.
func panel(typ, title, desc, unit string, targets ...Target) *Panel {
	return &Panel{
		Type:        typ,
		Title:       title,
		Description: desc,
		Datasource:  promDS,
		Targets:     targets,
		FieldConfig: &fieldConfig{
			Defaults:  fieldDefaults{Unit: unit, Thresholds: greenThresholds(), Mappings: []mapping{}},
			Overrides: []map[string]any{},
		},
		Options: map[string]any{},
	}
}

// timeseries is a line graph.
func timeseries(title, desc, unit string, targets ...Target) *Panel {
	p := panel("timeseries", title, desc, unit, targets...)
	p.FieldConfig.Defaults.Color = map[string]any{"mode": "palette-classic"}
	p.FieldConfig.Defaults.Custom = map[string]any{
		"drawStyle": "line", "fillOpacity": 10, "lineWidth": 1, "pointSize": 4,
		"showPoints": "never", "spanNulls": false,
		"stacking": map[string]any{"group": "A", "mode": "none"},
	}
	p.Options = map[string]any{
		"legend":  map[string]any{"calcs": []string{"lastNotNull"}, "displayMode": "table", "placement": "bottom", "showLegend": true},
		"tooltip": map[string]any{"mode": "multi", "sort": "desc"},
	}
	return p
}

// stacked turns a timeseries into stacked areas.
func stacked(p *Panel) *Panel {
	p.FieldConfig.Defaults.Custom["stacking"] = map[string]any{"group": "A", "mode": "normal"}
	p.FieldConfig.Defaults.Custom["fillOpacity"] = 40
	return p
}

// stat shows the last value of each series.
func stat(title, desc, unit string, targets ...Target) *Panel {
	p := panel("stat", title, desc, unit, targets...)
	p.FieldConfig.Defaults.Color = map[string]any{"mode": "thresholds"}
	p.Options = map[string]any{
		"colorMode": "background", "graphMode": "none", "justifyMode": "auto", "orientation": "auto",
		"reduceOptions": map[string]any{"calcs": []string{"lastNotNull"}, "fields": "", "values": false},
		"textMode":      "value_and_name",
	}
	return p
}

// bargauge compares the last value of each series.
func bargauge(title, desc, unit string, targets ...Target) *Panel {
	p := panel("bargauge", title, desc, unit, targets...)
	p.FieldConfig.Defaults.Color = map[string]any{"mode": "thresholds"}
	p.FieldConfig.Defaults.Min = f(0)
	p.Options = map[string]any{
		"displayMode": "basic", "orientation": "horizontal", "showUnfilled": true,
		"reduceOptions": map[string]any{"calcs": []string{"lastNotNull"}, "fields": "", "values": false},
	}
	return p
}

// stateTimeline shows numeric states, named by mappings, over time.
func stateTimeline(title, desc string, mappings []mapping, targets ...Target) *Panel {
	p := panel("state-timeline", title, desc, "none", targets...)
	p.FieldConfig.Defaults.Color = map[string]any{"mode": "thresholds"}
	p.FieldConfig.Defaults.Custom = map[string]any{"fillOpacity": 80, "lineWidth": 0}
	p.FieldConfig.Defaults.Mappings = mappings
	p.Options = map[string]any{
		"alignValue": "center", "mergeValues": true, "rowHeight": 0.9, "showValue": "never",
		"legend":  map[string]any{"displayMode": "list", "placement": "bottom", "showLegend": true},
		"tooltip": map[string]any{"mode": "single", "sort": "none"},
	}
	return p
}

// table shows instant queries as a table.
func table(title, desc, unit string, targets ...Target) *Panel {
	p := panel("table", title, desc, unit, targets...)
	p.FieldConfig.Defaults.Custom = map[string]any{"align": "auto", "cellOptions": map[string]any{"type": "auto"}}
	p.Options = map[string]any{"cellHeight": "sm", "showHeader": true, "footer": map[string]any{"show": false}}
	return p
}

// heatmap shows a histogram's buckets over time (already bucketed by the
// exporter: Grafana does not recalculate them).
func heatmap(title, desc, unit string, expr string) *Panel {
	t := Target{Expr: expr, LegendFormat: "{{le}}", Format: "heatmap"}
	p := panel("heatmap", title, desc, unit, t)
	p.Options = map[string]any{
		"calculate": false, "cellGap": 1,
		"color":        map[string]any{"mode": "scheme", "scheme": "Oranges", "steps": 64, "exponent": 0.5, "fill": "dark-orange", "scale": "exponential"},
		"yAxis":        map[string]any{"axisPlacement": "left", "unit": unit},
		"rowsFrame":    map[string]any{"layout": "auto"},
		"tooltip":      map[string]any{"mode": "single", "yHistogram": true},
		"legend":       map[string]any{"show": true},
		"cellValues":   map[string]any{},
		"filterValues": map[string]any{"le": 1e-9},
	}
	return p
}

// layout places panels on Grafana's grid, left to right, in rows.
type layout struct {
	panels []*Panel
	x, y   int
	rowH   int
	id     int
}

func (l *layout) newline() {
	if l.x > 0 {
		l.x, l.y, l.rowH = 0, l.y+l.rowH, 0
	}
}

// row starts a titled row.
func (l *layout) row(title string) {
	l.newline()
	l.id++
	collapsed := false
	l.panels = append(l.panels, &Panel{
		Type: "row", Title: title, Collapsed: &collapsed, Panels: &[]*Panel{},
		GridPos: gridPos{H: 1, W: gridWidth, X: 0, Y: l.y}, ID: l.id,
	})
	l.y++
}

// add places a panel of width w and height h.
func (l *layout) add(w, h int, p *Panel) {
	if l.x+w > gridWidth {
		l.newline()
	}
	l.id++
	p.ID = l.id
	p.GridPos = gridPos{H: h, W: w, X: l.x, Y: l.y}
	for i := range p.Targets {
		p.Targets[i].RefID = string(rune('A' + i))
		p.Targets[i].Datasource = promDS
		p.Targets[i].EditorMode = "code"
		p.Targets[i].Range = !p.Targets[i].Instant
	}
	l.panels = append(l.panels, p)
	l.x += w
	l.rowH = max(l.rowH, h)
}

// newDashboard returns a dashboard with the mixin's variables and links.
func newDashboard(uid, title, desc string, panels []*Panel) *Dashboard {
	return &Dashboard{
		Annotations: annotations{List: []map[string]any{{
			"builtIn": 1, "datasource": map[string]any{"type": "grafana", "uid": "-- Grafana --"},
			"enable": true, "hide": true, "iconColor": "rgba(0, 211, 255, 1)",
			"name": "Annotations & Alerts", "type": "dashboard",
		}}},
		Description:   desc,
		Editable:      false,
		GraphTooltip:  1,
		Links:         []link{{AsDropdown: true, IncludeVars: true, KeepTime: true, Tags: []string{"monero"}, Title: "Monero dashboards", Type: "dashboards"}},
		Panels:        panels,
		Refresh:       "30s",
		SchemaVersion: 39,
		Tags:          []string{"monero", "monero-mixin"},
		Templating:    templating{List: variables()},
		Time:          timeRange{From: "now-6h", To: "now"},
		Title:         title,
		UID:           uid,
		Version:       1,
	}
}

// variables are the datasource, job and instance variables every dashboard
// has; each query filters by job and instance.
func variables() []variable {
	query := func(name, label, desc, expr string) variable {
		return variable{
			Current:     map[string]any{"selected": true, "text": []string{"All"}, "value": []string{"$__all"}},
			Datasource:  promDS,
			Definition:  expr,
			Description: desc,
			IncludeAll:  true,
			Label:       label,
			Multi:       true,
			Name:        name,
			Options:     []any{},
			Query:       expr,
			Refresh:     2,
			Sort:        1,
			Type:        "query",
			AllValue:    ".+",
		}
	}
	return []variable{
		{
			Current:     map[string]any{"selected": false, "text": "default", "value": "default"},
			Description: "The Prometheus data source that scrapes the Monero exporters.",
			Label:       "Data source",
			Name:        "datasource",
			Options:     []any{},
			Query:       "prometheus",
			Refresh:     1,
			Type:        "datasource",
		},
		query("job", "Job", "Scrape jobs of Monero exporters.", "label_values(monero_up, job)"),
		query("instance", "Instance", "Monero exporters (one per monerod).", `label_values(monero_up{job=~"$job"}, instance)`),
	}
}
