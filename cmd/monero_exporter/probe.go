package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/version"

	"github.com/monero-ops/monero_exporter/collector"
	"github.com/monero-ops/monero_exporter/modules"
	"github.com/monero-ops/monero_exporter/snapshot"
	"github.com/monero-ops/monero_exporter/targets"
)

// Query parameters of /probe, also understood by /health and /api/v1/...
const (
	paramTarget = "target"
	paramModule = "module"
	// defaultModule is the module of a request that names none.
	defaultModule = "default"
)

// probes is the multi-target mode: the modules of --config.file, reloaded
// on SIGHUP and POST /-/reload, and a node (client, snapshot source,
// collector, health endpoints) per (module, target) probed, held in a
// bounded cache. Without --config.file it answers 404 to every probe, so
// that nobody can make the exporter connect to an address of their choosing.
type probes struct {
	file   string // "" : multi-target mode off
	cfg    *config
	shared nodeShared
	logger *slog.Logger
	opts   modules.Options
	promh  promhttp.HandlerOpts

	mu      sync.Mutex // one reload at a time
	modules atomic.Pointer[modules.Config]
	cache   *targets.Cache[*node]

	// refs are the reference nodes of each module in use, made on a
	// module's first probe and shared by all its targets, so that a
	// hundred targets do not ask the same references a hundred times.
	refsMu sync.Mutex
	refs   map[*modules.Module]*snapshot.References

	reloadOK   prometheus.Gauge
	reloadTime prometheus.Gauge
}

// newProbes loads --config.file, when given, and registers the reload
// metrics and the cache's in own. A bad file is an error: the exporter does
// not start on it.
func newProbes(cfg *config, shared nodeShared, own prometheus.Registerer, logger *slog.Logger) (*probes, error) {
	p := &probes{file: cfg.configFile, cfg: cfg, shared: shared, logger: logger, promh: promHandlerOpts(cfg, logger)}
	if p.file == "" {
		return p, nil
	}
	p.opts = moduleOptions()
	p.cache = targets.New[*node](targets.Options{MaxSize: cfg.probeMaxTargets, IdleTimeout: cfg.probeIdleTimeout})
	p.reloadOK = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "monero_exporter_config_last_reload_successful",
		Help: "1 when the last load of --config.file succeeded, else 0 (the previous modules stay in use).",
	})
	p.reloadTime = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "monero_exporter_config_last_reload_success_timestamp_seconds",
		Help: "Unix time of the last successful load of --config.file.",
	})
	if err := p.reload(); err != nil {
		return nil, fmt.Errorf("--config.file: %w", err)
	}
	if err := errors.Join(own.Register(p.reloadOK), own.Register(p.reloadTime), own.Register(p.cache)); err != nil {
		return nil, err
	}
	return p, nil
}

// moduleOptions is what the exporter tells the modules package: the
// collectors a module may name and those it gets when it names none.
func moduleOptions() modules.Options {
	opts := modules.Options{MaxTimeout: maxRequestTimeout, ExporterVersion: version.Version}
	for _, d := range collector.Definitions() {
		opts.KnownCollectors = append(opts.KnownCollectors, d.Name)
		if d.Default {
			opts.DefaultCollectors = append(opts.DefaultCollectors, d.Name)
		}
	}
	return opts
}

func (p *probes) enabled() bool { return p.file != "" }

// reload reads --config.file again. On success the new modules serve the
// next probes, and the nodes of modules that changed or went away are
// dropped; on error the previous modules stay, and the error says why.
func (p *probes) reload() error {
	if !p.enabled() {
		return errors.New("no --config.file to reload")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	next, err := modules.Load(p.file, p.opts)
	if err != nil {
		p.reloadOK.Set(0)
		p.logger.Error("loading the configuration file failed; keeping the previous modules", "file", p.file, "err", err)
		return err
	}
	// An unchanged module keeps its identity, and with it its nodes,
	// which the cache holds by module.
	var changed []string
	prev := p.modules.Load()
	for name, m := range next.Modules {
		if prev != nil && prev.Modules[name].Equal(m) {
			next.Modules[name] = prev.Modules[name]
		} else if prev != nil {
			changed = append(changed, name)
		}
	}
	if prev != nil {
		for name := range prev.Modules {
			if next.Modules[name] == nil {
				changed = append(changed, name)
			}
		}
	}
	p.modules.Store(next)
	current := map[any]bool{}
	for _, m := range next.Modules {
		current[m] = true
	}
	p.cache.Retain(func(m any) bool { return current[m] })
	p.refsMu.Lock()
	for m, refs := range p.refs {
		if !current[m] {
			refs.Close()
			delete(p.refs, m)
		}
	}
	p.refsMu.Unlock()
	p.reloadOK.Set(1)
	p.reloadTime.SetToCurrentTime()
	slices.Sort(changed)
	p.logger.Info("loaded the configuration file", "file", p.file, "modules", len(next.Modules), "changed", strings.Join(changed, ","))
	return nil
}

// close drops every node, at shutdown.
func (p *probes) close() {
	if p.cache != nil {
		p.cache.Close()
	}
	p.refsMu.Lock()
	for m, refs := range p.refs {
		refs.Close()
		delete(p.refs, m)
	}
	p.refsMu.Unlock()
}

// references returns the reference nodes of a module, made on first use.
func (p *probes) references(mod *modules.Module) (*snapshot.References, error) {
	p.refsMu.Lock()
	defer p.refsMu.Unlock()
	if refs := p.refs[mod]; refs != nil {
		return refs, nil
	}
	var rcs []referenceConfig
	for _, r := range mod.References {
		rcs = append(rcs, referenceConfig{
			name:          r.Name,
			url:           r.Address(),
			user:          r.User,
			password:      r.Password(),
			tlsCAFile:     r.TLS.CAFile,
			tlsSkipVerify: r.TLS.InsecureSkipVerify,
		})
	}
	refs, err := newReferences(rcs, p.moduleTimeout(mod), p.shared)
	if err != nil {
		return nil, err
	}
	if p.refs == nil {
		p.refs = map[*modules.Module]*snapshot.References{}
	}
	p.refs[mod] = refs
	return refs, nil
}

// serveReload is POST (or PUT) /-/reload, as in Prometheus and its exporters.
func (p *probes) serveReload(w http.ResponseWriter, r *http.Request) {
	if !p.enabled() {
		http.Error(w, "no --config.file to reload", http.StatusNotFound)
		return
	}
	if r.Method != http.MethodPost && r.Method != http.MethodPut {
		w.Header().Set("Allow", "POST, PUT")
		http.Error(w, "use POST to reload the configuration", http.StatusMethodNotAllowed)
		return
	}
	if err := p.reload(); err != nil {
		http.Error(w, "failed to reload the configuration file: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("configuration reloaded\n"))
}

// probeError is a probe refused before any connection: its status and a
// one-line reason.
type probeError struct {
	code   int
	reason string
}

func (e *probeError) Error() string { return e.reason }

// resolve reads a request's module and target. It connects nowhere.
func (p *probes) resolve(q url.Values) (string, *modules.Module, *url.URL, *probeError) {
	if !p.enabled() {
		return "", nil, nil, &probeError{http.StatusNotFound, "probing other nodes is off: the exporter was started without --config.file"}
	}
	for _, k := range []string{paramModule, paramTarget} {
		if len(q[k]) > 1 {
			return "", nil, nil, &probeError{http.StatusBadRequest, "give one " + k + " parameter, not " + strconv.Itoa(len(q[k]))}
		}
	}
	name := q.Get(paramModule)
	cfg := p.modules.Load()
	mod := cfg.Modules[name]
	if name == "" {
		if mod = cfg.Modules[defaultModule]; mod == nil {
			return "", nil, nil, &probeError{http.StatusBadRequest, "the module parameter is missing, and the configuration has no module named " + defaultModule}
		}
		name = defaultModule
	}
	if mod == nil {
		return "", nil, nil, &probeError{http.StatusBadRequest, fmt.Sprintf("unknown module %q", oneLine(name))}
	}
	u, err := mod.Target(q.Get(paramTarget))
	switch {
	case errors.Is(err, modules.ErrTargetNotAllowed):
		return "", nil, nil, &probeError{http.StatusForbidden, fmt.Sprintf("module %q: %s", name, oneLine(err.Error()))}
	case err != nil:
		return "", nil, nil, &probeError{http.StatusBadRequest, fmt.Sprintf("module %q: %s", name, oneLine(err.Error()))}
	}
	return name, mod, u, nil
}

func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\n' || r == '\r' {
			return ' '
		}
		return r
	}, s)
}

// node returns the node for a module and a target, made on first use.
// Call release when done with it.
func (p *probes) node(name string, mod *modules.Module, u *url.URL) (*node, func(), error) {
	return p.cache.Get(name+"\x00"+u.String(), mod, func() (*node, error) {
		h := mod.HealthConfig(u)
		h.DaemonAddress = u.Host
		var refs *snapshot.References
		if len(h.References) > 0 {
			all, err := p.references(mod)
			if err != nil {
				return nil, err
			}
			refs = all.Only(h.References...)
		}
		shared := p.shared
		shared.logger = p.logger.With("module", name, "target", u.Host)
		return newNode(nodeConfig{
			url:            u,
			user:           mod.User,
			password:       mod.Password(),
			tlsCAFile:      mod.TLS.CAFile,
			tlsSkipVerify:  mod.TLS.InsecureSkipVerify,
			maxConnections: mod.MaxConnections,
			timeout:        p.moduleTimeout(mod),
			collectors:     mod.Collectors,
			health:         h,
			references:     refs,
		}, shared)
	})
}

// moduleTimeout is the deadline of a probe that carries none of its own.
func (p *probes) moduleTimeout(mod *modules.Module) time.Duration {
	if mod.Timeout > 0 {
		return time.Duration(mod.Timeout)
	}
	return p.cfg.timeout
}

// serveProbe is /probe?target=...&module=...: a scrape of that node now,
// its monero_ metrics in a registry of the request's own, as
// blackbox_exporter's /probe answers.
func (p *probes) serveProbe(w http.ResponseWriter, r *http.Request) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		http.Error(w, "the query string is malformed: "+oneLine(err.Error()), http.StatusBadRequest)
		return
	}
	name, mod, u, perr := p.resolve(q)
	if perr != nil {
		p.logger.DebugContext(r.Context(), "probe refused", "code", perr.code, "reason", perr.reason)
		http.Error(w, perr.reason, perr.code)
		return
	}
	n, release, err := p.node(name, mod, u)
	if err != nil {
		// Only a module's files can fail here (a CA file gone since it
		// was loaded): the exporter's problem, not the request's.
		p.logger.ErrorContext(r.Context(), "setting up the probe failed", "module", name, "target", u.Host, "err", err)
		http.Error(w, fmt.Sprintf("module %q: setting up the probe failed", name), http.StatusInternalServerError)
		return
	}
	defer release()

	// The module's timeout caps what Prometheus's header allows.
	timeout := scrapeTimeout(r, n.timeout, p.cfg.timeoutOffset, p.logger)
	if mod.Timeout > 0 {
		timeout = min(timeout, time.Duration(mod.Timeout))
	}
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()
	promhttp.HandlerFor(n.coll.Gatherer(ctx), p.promh).ServeHTTP(w, r)
}

// withTargets lets the health endpoints answer for another node when the
// request names a target or a module, with the same rules as /probe, and
// for the exporter's own node otherwise.
func (p *probes) withTargets(single http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q, err := url.ParseQuery(r.URL.RawQuery)
		named := q.Has(paramTarget) || q.Has(paramModule)
		if err != nil && (named || strings.Contains(r.URL.RawQuery, paramTarget+"=") || strings.Contains(r.URL.RawQuery, paramModule+"=")) {
			writeJSONError(w, http.StatusBadRequest, "the query string is malformed: "+oneLine(err.Error()))
			return
		}
		if !named {
			single.ServeHTTP(w, r)
			return
		}
		name, mod, u, perr := p.resolve(q)
		if perr != nil {
			writeJSONError(w, perr.code, perr.reason)
			return
		}
		n, release, err := p.node(name, mod, u)
		if err != nil {
			p.logger.ErrorContext(r.Context(), "setting up the probe failed", "module", name, "target", u.Host, "err", err)
			writeJSONError(w, http.StatusInternalServerError, fmt.Sprintf("module %q: setting up the probe failed", name))
			return
		}
		defer release()
		n.health.ServeHTTP(w, r)
	})
}

// writeJSONError answers in the health endpoints' error shape.
func writeJSONError(w http.ResponseWriter, code int, message string) {
	b, _ := json.Marshal(map[string]map[string]string{"error": {"error": http.StatusText(code), "message": message}})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(append(b, '\n'))
}

// watchReloads reloads the configuration on every SIGHUP until ctx ends.
func watchReloads(ctx context.Context, p *probes) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		defer signal.Stop(hup)
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				if !p.enabled() {
					p.logger.InfoContext(ctx, "SIGHUP ignored: no --config.file to reload")
					continue
				}
				_ = p.reload() // logged there
			}
		}
	}()
}
