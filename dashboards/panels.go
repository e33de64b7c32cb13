package dashboards

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/grafana/grafana-foundation-sdk/go/bargauge"
	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/variants"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/heatmap"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
	"github.com/grafana/grafana-foundation-sdk/go/statetimeline"
	"github.com/grafana/grafana-foundation-sdk/go/table"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"

	"github.com/monero-ops/monero_exporter/alerts"
)

// Dashboard is a Grafana dashboard of the mixin, in the JSON model Grafana
// imports (the Grafana Foundation SDK's dashboard.Dashboard).
type Dashboard struct {
	dashboard.Dashboard
}

// FileName is the name of the dashboard's file in this directory.
func (d *Dashboard) FileName() string { return *d.Uid + ".json" }

// JSON is the dashboard as committed: indented, with a final newline.
func (d *Dashboard) JSON() ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(d.Dashboard); err != nil {
		return nil, fmt.Errorf("%s: %w", *d.Uid, err)
	}
	return buf.Bytes(), nil
}

// promDS is the templated data source every panel and query uses.
func promDS() common.DataSourceRef {
	return common.DataSourceRef{Type: cog.ToPtr("prometheus"), Uid: cog.ToPtr("${datasource}")}
}

// mixin writes the PromQL of the dashboards from the mixin's config: every
// selector carries the config's selector and the job and instance
// variables, and nodes are told apart by the config's labels.
type mixin struct {
	c *alerts.Config
}

// m returns a selector of metric name filtered by the config's selector,
// the dashboard's variables and any extra matchers.
func (x mixin) m(name string, extra ...string) string {
	vars := []string{`job=~"$job"`, x.c.InstanceLabel + `=~"$instance"`}
	return name + "{" + x.c.Matchers(append(vars, extra...)...) + "}"
}

// rate is the per-second rate of a counter over Grafana's rate interval.
func (x mixin) rate(name string, extra ...string) string {
	return "rate(" + x.m(name, extra...) + "[$__rate_interval])"
}

// quantile is the q quantile per node of the observations a histogram
// made over the rate interval (its events: blocks, mined transactions).
func (x mixin) quantile(q, name string) string {
	return fmt.Sprintf("histogram_quantile(%s, sum by (%s) (%s))", q, x.by("le"), x.rate(name+"_bucket"))
}

// by lists the labels that tell nodes apart, then extra labels, for
// by (...) clauses.
func (x mixin) by(extra ...string) string {
	return strings.Join(append(x.c.NodeLabels(), extra...), ", ")
}

// fleet lists the fleet labels, for by (...) clauses.
func (x mixin) fleet() string { return strings.Join(x.c.FleetLabels, ", ") }

// fleetLegend names a fleet in a legend.
func (x mixin) fleetLegend() string {
	parts := make([]string, len(x.c.FleetLabels))
	for i, l := range x.c.FleetLabels {
		parts[i] = "{{" + l + "}}"
	}
	return strings.Join(parts, " ")
}

// node names a node in a legend, followed by a suffix if any.
func (x mixin) node(suffix ...string) string {
	return strings.Join(append([]string{"{{" + x.c.InstanceLabel + "}}"}, suffix...), " ")
}

// target is one query of a panel.
type target struct {
	expr, legend string
	// instant queries only the end of the range.
	instant bool
	format  prometheus.PromQueryFormat
}

// q is a range query with a legend.
func q(expr, legend string) target { return target{expr: expr, legend: legend} }

// instant is an instant query in table format, for tables.
func instant(expr string) target {
	return target{expr: expr, instant: true, format: prometheus.PromQueryFormatTable}
}

// instantSeries is an instant query that keeps one series per node, for
// bar gauges.
func instantSeries(expr, legend string) target {
	return target{expr: expr, legend: legend, instant: true}
}

// builder returns the query as the SDK's Prometheus query, with its refId.
func (t target) builder(i int) *prometheus.DataqueryBuilder {
	b := prometheus.NewDataqueryBuilder().
		Datasource(promDS()).
		EditorMode(prometheus.QueryEditorModeCode).
		Expr(t.expr).
		RefId(string(rune('A' + i)))
	if t.legend != "" {
		b.LegendFormat(t.legend)
	}
	if t.format != "" {
		b.Format(t.format)
	}
	if t.instant {
		b.Instant()
	} else {
		b.Range()
	}
	return b
}

// panelBuilder is what the SDK's builders of every panel type have in
// common.
type panelBuilder[T any] interface {
	cog.Builder[dashboard.Panel]
	Id(id uint32) T
	Span(w uint32) T
	Height(h uint32) T
	Title(title string) T
	Description(description string) T
	Datasource(datasource common.DataSourceRef) T
	Unit(unit string) T
	Thresholds(thresholds cog.Builder[dashboard.ThresholdsConfig]) T
	Mappings(mappings []dashboard.ValueMapping) T
	WithTarget(target cog.Builder[variants.Dataquery]) T
}

// base sets what every panel has: a title, a description, a unit, the
// templated data source, its queries, and thresholds that colour nothing
// unless a panel says otherwise.
func base[T panelBuilder[T]](b T, title, desc, unit string, targets ...target) T {
	b.Title(title)
	b.Description(desc)
	b.Unit(unit)
	b.Datasource(promDS())
	b.Thresholds(steps(step{color: "green"}))
	for i, t := range targets {
		b.WithTarget(t.builder(i))
	}
	return b
}

// step is one step of a thresholds config: color from value on (the
// first step of a config, its base, from the bottom).
type step struct {
	color string
	from  float64
}

// steps are absolute thresholds; the first step is the base.
func steps(s ...step) *dashboard.ThresholdsConfigBuilder {
	out := make([]dashboard.Threshold, len(s))
	for i, st := range s {
		out[i] = dashboard.Threshold{Color: st.color}
		if i > 0 {
			out[i].Value = cog.ToPtr(st.from)
		}
	}
	return dashboard.NewThresholdsConfigBuilder().Mode(dashboard.ThresholdsModeAbsolute).Steps(out)
}

// state is the text and colour of one numeric state.
type state struct{ text, color string }

// valueMap maps the numeric states 0, 1, ... to a text and a colour.
func valueMap(states ...state) []dashboard.ValueMapping {
	opts := map[string]dashboard.ValueMappingResult{}
	for i, s := range states {
		opts[strconv.Itoa(i)] = dashboard.ValueMappingResult{Text: cog.ToPtr(s.text), Color: cog.ToPtr(s.color), Index: cog.ToPtr(int32(i))}
	}
	return []dashboard.ValueMapping{{ValueMap: &dashboard.ValueMap{Type: dashboard.MappingTypeValueToText, Options: opts}}}
}

// colorMode is a field colour mode without a fixed colour.
func colorMode(mode dashboard.FieldColorModeId) *dashboard.FieldColorBuilder {
	return dashboard.NewFieldColorBuilder().Mode(mode)
}

// reduceLast reduces each series to its last value.
func reduceLast() *common.ReduceDataOptionsBuilder {
	return common.NewReduceDataOptionsBuilder().Calcs([]string{"lastNotNull"}).Fields("").Values(false)
}

// timeseriesPanel is a line graph.
func timeseriesPanel(title, desc, unit string, targets ...target) *timeseries.PanelBuilder {
	p := base(timeseries.NewPanelBuilder(), title, desc, unit, targets...)
	p.ColorScheme(colorMode(dashboard.FieldColorModeIdPaletteClassic)).
		DrawStyle(common.GraphDrawStyleLine).
		FillOpacity(10).
		LineWidth(1).
		PointSize(4).
		ShowPoints(common.VisibilityModeNever).
		SpanNulls(common.BoolOrFloat64{Bool: cog.ToPtr(false)}).
		Stacking(common.NewStackingConfigBuilder().Group("A").Mode(common.StackingModeNone)).
		Legend(common.NewVizLegendOptionsBuilder().
			Calcs([]string{"lastNotNull"}).
			DisplayMode(common.LegendDisplayModeTable).
			Placement(common.LegendPlacementBottom).
			ShowLegend(true)).
		Tooltip(common.NewVizTooltipOptionsBuilder().Mode(common.TooltipDisplayModeMulti).Sort(common.SortOrderDescending))
	return p
}

// stacked turns a timeseries into stacked areas.
func stacked(p *timeseries.PanelBuilder) *timeseries.PanelBuilder {
	return p.Stacking(common.NewStackingConfigBuilder().Group("A").Mode(common.StackingModeNormal)).FillOpacity(40)
}

// limits draws a panel's thresholds as dashed lines: the alerts' limits.
func limits(p *timeseries.PanelBuilder, t *dashboard.ThresholdsConfigBuilder) *timeseries.PanelBuilder {
	return p.Thresholds(t).ThresholdsStyle(common.NewGraphThresholdsStyleConfigBuilder().Mode(common.GraphThresholdsStyleModeDashed))
}

// statPanel shows the last value of each series.
func statPanel(title, desc, unit string, targets ...target) *stat.PanelBuilder {
	p := base(stat.NewPanelBuilder(), title, desc, unit, targets...)
	p.ColorScheme(colorMode(dashboard.FieldColorModeIdThresholds)).
		ColorMode(common.BigValueColorModeBackground).
		GraphMode(common.BigValueGraphModeNone).
		JustifyMode(common.BigValueJustifyModeAuto).
		Orientation(common.VizOrientationAuto).
		ReduceOptions(reduceLast()).
		TextMode(common.BigValueTextModeValueAndName)
	return p
}

// bargaugePanel compares the last value of each series.
func bargaugePanel(title, desc, unit string, targets ...target) *bargauge.PanelBuilder {
	p := base(bargauge.NewPanelBuilder(), title, desc, unit, targets...)
	p.ColorScheme(colorMode(dashboard.FieldColorModeIdThresholds)).
		Min(0).
		DisplayMode(common.BarGaugeDisplayModeBasic).
		Orientation(common.VizOrientationHorizontal).
		ShowUnfilled(true).
		ReduceOptions(reduceLast())
	return p
}

// stateTimelinePanel shows numeric states, named by mappings, over time.
func stateTimelinePanel(title, desc string, mappings []dashboard.ValueMapping, targets ...target) *statetimeline.PanelBuilder {
	p := base(statetimeline.NewPanelBuilder(), title, desc, "none", targets...)
	p.ColorScheme(colorMode(dashboard.FieldColorModeIdThresholds)).
		FillOpacity(80).
		LineWidth(0).
		Mappings(mappings).
		AlignValue(common.TimelineValueAlignmentCenter).
		MergeValues(true).
		RowHeight(0.9).
		ShowValue(common.VisibilityModeNever).
		Legend(common.NewVizLegendOptionsBuilder().
			DisplayMode(common.LegendDisplayModeList).
			Placement(common.LegendPlacementBottom).
			ShowLegend(true)).
		Tooltip(common.NewVizTooltipOptionsBuilder().Mode(common.TooltipDisplayModeSingle).Sort(common.SortOrderNone))
	return p
}

// cells is how a table colours its cells.
func cells(mode common.TableCellDisplayMode) common.TableCellOptions {
	switch mode {
	case common.TableCellDisplayModeColorBackground:
		return common.TableCellOptions{TableColoredBackgroundCellOptions: &common.TableColoredBackgroundCellOptions{Type: mode}}
	case common.TableCellDisplayModeColorText:
		return common.TableCellOptions{TableColorTextCellOptions: &common.TableColorTextCellOptions{Type: mode}}
	default:
		return common.TableCellOptions{TableAutoCellOptions: &common.TableAutoCellOptions{Type: common.TableCellDisplayModeAuto}}
	}
}

// tablePanel shows instant queries as a table.
func tablePanel(title, desc, unit string, targets ...target) *table.PanelBuilder {
	p := base(table.NewPanelBuilder(), title, desc, unit, targets...)
	p.Align(common.FieldTextAlignmentAuto).
		CellOptions(cells(common.TableCellDisplayModeAuto)).
		CellHeight(common.TableCellHeightSm).
		ShowHeader(true).
		Footer(common.NewTableFooterOptionsBuilder().Show(false).Reducer([]string{}))
	return p
}

// organize hides columns and orders the others.
func organize(exclude []string, order ...string) dashboard.DataTransformerConfig {
	excluded := map[string]bool{}
	for _, e := range exclude {
		excluded[e] = true
	}
	index := map[string]int{}
	for i, o := range order {
		index[o] = i
	}
	return dashboard.DataTransformerConfig{Id: "organize", Options: map[string]any{"excludeByName": excluded, "indexByName": index}}
}

// heatmapPanel shows a histogram's buckets over time (already bucketed by
// the exporter: Grafana does not recalculate them).
func heatmapPanel(title, desc, unit, expr string) *heatmap.PanelBuilder {
	t := target{expr: expr, legend: "{{le}}", format: prometheus.PromQueryFormatHeatmap}
	p := base(heatmap.NewPanelBuilder(), title, desc, unit, t)
	p.Calculate(false).
		CellGap(1).
		Color(heatmap.NewHeatmapColorOptionsBuilder().
			Mode(heatmap.HeatmapColorModeScheme).
			Scheme("Oranges").
			Steps(64).
			Exponent(0.5).
			Fill("dark-orange").
			Scale(heatmap.HeatmapColorScaleExponential)).
		YAxis(heatmap.NewYAxisConfigBuilder().AxisPlacement(common.AxisPlacementLeft).Unit(unit)).
		RowsFrame(heatmap.NewRowsHeatmapOptionsBuilder().Layout(common.HeatmapCellLayoutAuto)).
		Tooltip(heatmap.NewHeatmapTooltipBuilder().Mode(common.TooltipDisplayModeSingle).YHistogram(true)).
		ShowLegend().
		ShowValue(common.VisibilityModeAuto).
		CellValues(heatmap.NewCellValuesBuilder()).
		FilterValues(heatmap.NewFilterValueRangeBuilder().Le(1e-9))
	return p
}

// layout places panels on Grafana's grid, left to right, in rows (the
// SDK's dashboard builder wraps lines at the grid's width), and numbers
// them.
//
// The SDK deprecates its dashboard builder for dashboardv2, the resource
// of Grafana 12's new dashboard API (behind a feature flag). The classic
// JSON model this builder writes is what Grafana's import and file
// provisioning read, in every Grafana the mixin supports: keep it.
type layout struct {
	d  *dashboard.DashboardBuilder //nolint:staticcheck // see above: the classic JSON model on purpose.
	id uint32
}

// row starts a titled row.
func (l *layout) row(title string) {
	l.id++
	l.d.WithRow(dashboard.NewRowBuilder(title).Id(l.id))
}

// add places panel p, w wide and h high.
func add[T panelBuilder[T]](l *layout, w, h uint32, p T) {
	l.id++
	p.Id(l.id)
	p.Span(w)
	p.Height(h)
	l.d.WithPanel(p)
}

// newDashboard starts a dashboard with the mixin's variables and links;
// panels are added to the returned layout, and finish builds it.
func newDashboard(x mixin, uid, title, desc string) *layout {
	//nolint:staticcheck // the classic JSON model on purpose, see layout.
	d := dashboard.NewDashboardBuilder(title).
		Uid(uid).
		Description(desc).
		Readonly().
		Tooltip(dashboard.DashboardCursorSyncCrosshair).
		Refresh("30s").
		Tags([]string{"monero", "monero-mixin"}).
		Time("now-6h", "now").
		Timezone("").
		Version(1).
		Annotation(dashboard.NewAnnotationQueryBuilder().
			Name("Annotations & Alerts").
			BuiltIn(1).
			Datasource(common.DataSourceRef{Type: cog.ToPtr("grafana"), Uid: cog.ToPtr("-- Grafana --")}).
			Enable(true).
			Hide(true).
			IconColor("rgba(0, 211, 255, 1)").
			Type("dashboard")).
		Link(dashboard.NewDashboardLinkBuilder("Monero dashboards").
			Type(dashboard.DashboardLinkTypeDashboards).
			Tags([]string{"monero"}).
			AsDropdown(true).
			IncludeVars(true).
			KeepTime(true))
	for _, v := range x.variables() {
		d.WithVariable(v)
	}
	return &layout{d: d}
}

// finish builds the dashboard.
func (l *layout) finish() (*Dashboard, error) {
	d, err := l.d.Build()
	if err != nil {
		return nil, err
	}
	return &Dashboard{Dashboard: d}, nil
}

// variables are the datasource, job and instance variables every dashboard
// has. The job and instance variables list only the series of the config's
// selector, and every panel query filters by both.
func (x mixin) variables() []cog.Builder[dashboard.VariableModel] {
	all := dashboard.VariableOption{
		Selected: cog.ToPtr(true),
		Text:     dashboard.StringOrArrayOfString{ArrayOfString: []string{"All"}},
		Value:    dashboard.StringOrArrayOfString{ArrayOfString: []string{"$__all"}},
	}
	query := func(name, label, desc, expr string) cog.Builder[dashboard.VariableModel] {
		return dashboard.NewQueryVariableBuilder(name).
			Label(label).
			Description(desc).
			Datasource(promDS()).
			Query(dashboard.StringOrMap{String: cog.ToPtr(expr)}).
			Definition(expr).
			Current(all).
			Multi(true).
			IncludeAll(true).
			AllValue(".+").
			Refresh(dashboard.VariableRefreshOnTimeRangeChanged).
			Sort(dashboard.VariableSortAlphabeticalAsc)
	}
	return []cog.Builder[dashboard.VariableModel]{
		dashboard.NewDatasourceVariableBuilder("datasource").
			Label("Data source").
			Description("The Prometheus data source that scrapes the Monero exporters.").
			Type("prometheus").
			Current(dashboard.VariableOption{
				Selected: cog.ToPtr(false),
				Text:     dashboard.StringOrArrayOfString{String: cog.ToPtr("default")},
				Value:    dashboard.StringOrArrayOfString{String: cog.ToPtr("default")},
			}),
		query("job", "Job", "Scrape jobs of Monero exporters ("+x.c.Selector+").",
			"label_values(monero_up{"+x.c.Matchers()+"}, job)"),
		query("instance", "Instance", "Monero exporters (one per monerod), by "+x.c.InstanceLabel+".",
			"label_values(monero_up{"+x.c.Matchers(`job=~"$job"`)+"}, "+x.c.InstanceLabel+")"),
	}
}
