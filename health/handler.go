package health

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/monero-ops/monero_exporter/snapshot"
)

// Paths the handler serves. Mount it on PathRoot (which then also answers
// the paths nothing else serves, with a JSON 404), or on "/api/v1",
// "/api/v1/" and PathHealth.
const (
	PathRoot              = "/"
	PathHealth            = "/health"
	PathV1                = "/api/v1"
	PathV1Health          = "/api/v1/health"
	PathV1Monerod         = "/api/v1/monerod"
	PathV1MonerodHealth   = "/api/v1/monerod/health"
	PathV1LastBlock       = "/api/v1/last_block"
	PathV1LastBlockHealth = "/api/v1/last_block/health"
)

// Content types of the two APIs and of the page at /.
const (
	ContentTypeV1     = "application/json"
	ContentTypeHealth = "application/health+json"
	ContentTypeHTML   = "text/html; charset=utf-8"
)

// allowed is what every path answers, as Flask answered OPTIONS.
const allowed = "GET, HEAD, OPTIONS"

// strictParam is /health's query parameter: "1" answers 200 whatever the
// status, for probes that read the body rather than the code.
const strictParam = "strict_status_code"

// Getter hands out snapshots; *snapshot.Source is one.
type Getter interface {
	Get(ctx context.Context) *snapshot.Snapshot
}

// Link is an entry of the page at / (a browser's view of it).
type Link struct {
	Address, Text string
}

type handler struct {
	src     Getter
	cfg     Config
	timeout time.Duration
	logger  *slog.Logger
	links   []Link
}

// NewHandler serves /health, the old service's /api/v1 endpoints and its
// root, from snapshots of src, each request asking for one bounded by
// timeout (the snapshot is shared with whatever else asks at the same
// moment, such as a scrape of /metrics). At / a browser (a request that
// prefers text/html) gets a page with the node's health check by check and
// links; anything else gets /api/v1's body, as the old service answered.
// cfg should have passed Validate. logger may be nil.
func NewHandler(src Getter, cfg Config, timeout time.Duration, logger *slog.Logger, links ...Link) http.Handler {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	return &handler{src: src, cfg: cfg, timeout: timeout, logger: logger, links: links}
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// The old service answered with or without a trailing slash.
	path := r.URL.Path
	if trimmed := strings.TrimSuffix(path, "/"); trimmed != "" && trimmed != PathRoot {
		path = trimmed
	}
	switch path {
	case PathRoot, PathHealth, PathV1, PathV1Health, PathV1Monerod, PathV1MonerodHealth, PathV1LastBlock, PathV1LastBlockHealth:
	default:
		h.writeError(w, r, http.StatusNotFound, "No such endpoint: '"+r.URL.Path+"'. Endpoints: "+
			strings.Join([]string{PathRoot, PathV1, PathV1Health, PathV1Monerod, PathV1MonerodHealth, PathV1LastBlock, PathV1LastBlockHealth, PathHealth}, ", ")+".")
		return
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
	case http.MethodOptions:
		// As Flask answered: 200, the methods, no body.
		w.Header().Set("Allow", allowed)
		w.Header().Set("Content-Length", "0")
		w.WriteHeader(http.StatusOK)
		return
	default:
		w.Header().Set("Allow", allowed)
		h.writeError(w, r, http.StatusMethodNotAllowed, "Method "+r.Method+" is not allowed; use GET or HEAD.")
		return
	}
	switch path {
	case PathHealth:
		h.serveProbe(w, r)
		return
	case PathRoot:
		w.Header().Add("Vary", "Accept")
		if prefersHTML(r.Header.Values("Accept")) {
			h.servePage(w, r)
			return
		}
	}
	snap, rep := h.evaluate(r)
	var body any
	switch path {
	case PathRoot, PathV1:
		body = v1CombinedBody(snap, &rep, h.cfg)
	case PathV1Health:
		body = v1Status{v1Combine(&rep, h.cfg).V1()}
	case PathV1Monerod:
		body = v1MonerodBody(snap, &rep, h.cfg)
	case PathV1MonerodHealth:
		body = v1Status{v1MonerodStatus(&rep, h.cfg).V1()}
	case PathV1LastBlock:
		body = v1LastBlockBody(snap, &rep, h.cfg)
	case PathV1LastBlockHealth:
		body = v1Status{rep.V1LastBlock.Status.V1()}
	}
	// The old service answered 200 whatever the status: its clients
	// read the body. Python's json does not escape <, > and &.
	h.writeJSON(w, r, http.StatusOK, ContentTypeV1, v1Envelope{Result: body}, false)
}

// evaluate gets a snapshot bounded by the handler's timeout and the
// request's own context, and evaluates it.
func (h *handler) evaluate(r *http.Request) (*snapshot.Snapshot, Report) {
	ctx, cancel := context.WithTimeout(r.Context(), h.timeout)
	defer cancel()
	snap := h.src.Get(ctx)
	if snap == nil {
		snap = &snapshot.Snapshot{Time: time.Now()}
	}
	rep := Evaluate(snap, h.cfg)
	if rep.Overall != StatusOK {
		for _, res := range rep.Enabled() {
			if res.Status != StatusOK {
				h.logger.DebugContext(r.Context(), "health check not OK", "path", r.URL.Path, "check", res.Check,
					"status", res.Status.String(), "output", res.Output, "err", errText(res.Err))
			}
		}
	}
	return snap, rep
}

// probeBody is /health's body, after the fullnode health convention
// (draft-inadarei-api-health-check).
type probeBody struct {
	Status      string                      `json:"status"`
	Description string                      `json:"description"`
	Checks      map[string][]probeComponent `json:"checks"`
}

type probeComponent struct {
	ComponentName string `json:"componentName"`
	ComponentType string `json:"componentType"`
	Status        string `json:"status"`
	Output        string `json:"output,omitempty"`
	Time          string `json:"time"`
	ObservedValue any    `json:"observedValue,omitempty"`
	ObservedUnit  string `json:"observedUnit,omitempty"`
}

func (h *handler) serveProbe(w http.ResponseWriter, r *http.Request) {
	// r.URL.Query() drops what it cannot parse: "strict_status_code=1;x"
	// would silently lose the parameter.
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		h.writeError(w, r, http.StatusBadRequest, "Query string is malformed ("+err.Error()+"); /health understands only '"+strictParam+"=1'.")
		return
	}
	strict := false
	if vals, ok := q[strictParam]; ok {
		if len(vals) != 1 || vals[0] != "1" {
			h.writeError(w, r, http.StatusBadRequest, "Query parameter '"+strictParam+"' accepts only the value 1.")
			return
		}
		strict = true
	}
	snap, rep := h.evaluate(r)
	body := newProbeBody(snap, &rep, h.cfg)
	code := http.StatusOK
	if rep.Overall.Probe() == "fail" && !strict {
		code = http.StatusServiceUnavailable
	}
	w.Header().Set("Cache-Control", "no-store")
	h.writeJSON(w, r, code, ContentTypeHealth, body, false)
}

// newProbeBody builds the body /health answers with for rep, the evaluation
// of snap: a status of pass, warn or fail, and one component per enabled
// check.
func newProbeBody(snap *snapshot.Snapshot, rep *Report, cfg Config) probeBody {
	at := rep.Time.UTC().Format(time.RFC3339)
	body := probeBody{
		Status:      rep.Overall.Probe(),
		Description: "monero_exporter " + orUnknown(cfg.ExporterVersion) + ", monerod " + orUnknown(snap.DaemonVersion()),
		Checks:      map[string][]probeComponent{},
	}
	for _, res := range rep.Enabled() {
		c := probeComponent{
			ComponentName: res.Check,
			ComponentType: "internal",
			Status:        res.Status.Probe(),
			Time:          at,
			ObservedValue: res.ObservedValue,
			ObservedUnit:  res.ObservedUnit,
		}
		if res.Status != StatusOK {
			c.Output = sanitize(res.Output)
		}
		body.Checks[res.Check] = []probeComponent{c}
	}
	return body
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// writeError answers with the old API's error object, the one JSON error
// shape both APIs share.
func (h *handler) writeError(w http.ResponseWriter, r *http.Request, code int, message string) {
	// HTML stays escaped here: the 404 message repeats the request's path.
	h.writeJSON(w, r, code, ContentTypeV1, map[string]v1Error{
		"error": {Error: http.StatusText(code), Message: message},
	}, true)
}

// writeJSON encodes body whole before answering, so that an encoding
// failure is a 500 rather than half a body.
func (h *handler) writeJSON(w http.ResponseWriter, r *http.Request, code int, contentType string, body any, escapeHTML bool) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(escapeHTML)
	if err := enc.Encode(body); err != nil {
		h.logger.ErrorContext(r.Context(), "encoding health response", "path", r.URL.Path, "err", err)
		http.Error(w, "encoding the response failed", http.StatusInternalServerError)
		return
	}
	h.write(w, r, code, contentType, buf.Bytes())
}

// write answers with body, or only its headers to a HEAD.
func (h *handler) write(w http.ResponseWriter, r *http.Request, code int, contentType string, body []byte) {
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}
