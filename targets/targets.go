// Package targets keeps what the exporter holds for each node it probes (a
// client with its connections and Digest state, a snapshot source), so that
// repeated and concurrent probes of one node reuse it, while the number of
// nodes held stays bounded: an LRU cache with a maximum size and an idle
// timeout, which closes what it drops once nobody uses it any more.
package targets

import (
	"container/list"
	"io"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Reasons a value is dropped, the reason label of the dropped counter.
const (
	// ReasonIdle: not used for longer than the idle timeout.
	ReasonIdle = "idle"
	// ReasonFull: the least recently used, dropped to make room.
	ReasonFull = "full"
	// ReasonConfig: its configuration changed or went away.
	ReasonConfig = "config"
)

// Options bound a Cache.
type Options struct {
	// MaxSize is the most values held; at least 1.
	MaxSize int
	// IdleTimeout drops a value not used for this long; 0: never.
	IdleTimeout time.Duration
	// Now is the clock; nil: time.Now.
	Now func() time.Time
}

// Cache holds values of type V by key, each built for a version (compared
// with ==): asking for a key with another version drops the old value and
// builds a new one. It is safe for concurrent use.
//
// A value dropped while in use is closed when the last user releases it, so
// that a probe under way keeps a working client.
type Cache[V io.Closer] struct {
	opts Options

	mu      sync.Mutex
	lru     *list.List // of *entry[V], most recently used first
	items   map[string]*list.Element
	built   uint64
	dropped map[string]uint64
	closed  uint64

	sizeDesc, droppedDesc, builtDesc *prometheus.Desc
}

type entry[V io.Closer] struct {
	key      string
	version  any
	value    V
	lastUsed time.Time
	refs     int
	dropped  bool
}

// New returns an empty Cache.
func New[V io.Closer](opts Options) *Cache[V] {
	if opts.MaxSize < 1 {
		opts.MaxSize = 1
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Cache[V]{
		opts:    opts,
		lru:     list.New(),
		items:   map[string]*list.Element{},
		dropped: map[string]uint64{ReasonIdle: 0, ReasonFull: 0, ReasonConfig: 0},
		sizeDesc: prometheus.NewDesc("monero_exporter_probe_targets",
			"Targets of /probe the exporter holds a client and a snapshot for.", nil, nil),
		droppedDesc: prometheus.NewDesc("monero_exporter_probe_targets_dropped_total",
			"Targets of /probe dropped, by reason: idle (not probed for --probe.target-idle-timeout), full (--probe.max-targets reached), config (their module changed).",
			[]string{"reason"}, nil),
		builtDesc: prometheus.NewDesc("monero_exporter_probe_targets_created_total",
			"Targets of /probe for which a client and a snapshot source were made.", nil, nil),
	}
}

// Get returns the value held for key if it was built for version, or builds
// one with build and holds it. The caller must call release when done with
// the value. build runs without the cache locked: a slow build (a name to
// resolve) holds up no other key. When two callers build the same key at
// once, one value is kept and the other closed before anyone uses it, so
// that every user of a key shares one value.
func (c *Cache[V]) Get(key string, version any, build func() (V, error)) (value V, release func(), err error) {
	c.mu.Lock()
	toClose := c.sweepLocked()
	if el, ok := c.items[key]; ok && el.Value.(*entry[V]).version == version {
		e := c.useLocked(el)
		c.mu.Unlock()
		closeAll(toClose)
		return e.value, c.releaser(e), nil
	}
	c.mu.Unlock()
	closeAll(toClose)

	v, err := build()
	if err != nil {
		var zero V
		return zero, nil, err
	}

	c.mu.Lock()
	if el, ok := c.items[key]; ok {
		if el.Value.(*entry[V]).version == version {
			// Built meanwhile by another caller: share theirs.
			e := c.useLocked(el)
			c.mu.Unlock()
			_ = v.Close()
			return e.value, c.releaser(e), nil
		}
		toClose = c.removeLocked(el, ReasonConfig, nil)
	}
	e := &entry[V]{key: key, version: version, value: v, lastUsed: c.opts.Now(), refs: 1}
	c.items[key] = c.lru.PushFront(e)
	c.built++
	for c.lru.Len() > c.opts.MaxSize {
		toClose = c.removeLocked(c.lru.Back(), ReasonFull, toClose)
	}
	c.mu.Unlock()
	closeAll(toClose)
	return v, c.releaser(e), nil
}

func (c *Cache[V]) useLocked(el *list.Element) *entry[V] {
	e := el.Value.(*entry[V])
	e.refs++
	e.lastUsed = c.opts.Now()
	c.lru.MoveToFront(el)
	return e
}

func (c *Cache[V]) releaser(e *entry[V]) func() {
	var once sync.Once
	return func() {
		once.Do(func() {
			c.mu.Lock()
			e.refs--
			last := e.dropped && e.refs == 0
			if last {
				c.closed++
			}
			c.mu.Unlock()
			if last {
				_ = e.value.Close()
			}
		})
	}
}

// removeLocked drops el and appends its value to toClose when nobody uses it.
func (c *Cache[V]) removeLocked(el *list.Element, reason string, toClose []V) []V {
	e := el.Value.(*entry[V])
	c.lru.Remove(el)
	delete(c.items, e.key)
	e.dropped = true
	c.dropped[reason]++
	if e.refs == 0 {
		c.closed++
		toClose = append(toClose, e.value)
	}
	return toClose
}

// sweepLocked drops the values idle for longer than the idle timeout: the
// least recently used are at the back.
func (c *Cache[V]) sweepLocked() []V {
	if c.opts.IdleTimeout <= 0 {
		return nil
	}
	var toClose []V
	cutoff := c.opts.Now().Add(-c.opts.IdleTimeout)
	for el := c.lru.Back(); el != nil && el.Value.(*entry[V]).lastUsed.Before(cutoff); el = c.lru.Back() {
		toClose = c.removeLocked(el, ReasonIdle, toClose)
	}
	return toClose
}

func closeAll[V io.Closer](vs []V) {
	for _, v := range vs {
		_ = v.Close()
	}
}

// Retain drops every value whose version keep rejects (their configuration
// changed), and the idle ones.
func (c *Cache[V]) Retain(keep func(version any) bool) {
	c.mu.Lock()
	toClose := c.sweepLocked()
	for el := c.lru.Front(); el != nil; {
		next := el.Next()
		if !keep(el.Value.(*entry[V]).version) {
			toClose = c.removeLocked(el, ReasonConfig, toClose)
		}
		el = next
	}
	c.mu.Unlock()
	closeAll(toClose)
}

// Close drops every value, as at shutdown.
func (c *Cache[V]) Close() {
	c.Retain(func(any) bool { return false })
}

// Stats are a Cache's counts.
type Stats struct {
	// Len is the values held now.
	Len int
	// Built counts the values built and held; Closed those closed after
	// being dropped.
	Built, Closed uint64
	// Dropped counts the values dropped, by reason.
	Dropped map[string]uint64
}

// Stats returns the cache's counts after dropping the idle values.
func (c *Cache[V]) Stats() Stats {
	c.mu.Lock()
	toClose := c.sweepLocked()
	s := Stats{Len: c.lru.Len(), Built: c.built, Dropped: map[string]uint64{}}
	for k, v := range c.dropped {
		s.Dropped[k] = v
	}
	s.Closed = c.closed
	c.mu.Unlock()
	closeAll(toClose)
	return s
}

// Describe implements prometheus.Collector.
func (c *Cache[V]) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.sizeDesc
	ch <- c.droppedDesc
	ch <- c.builtDesc
}

// Collect implements prometheus.Collector. It also drops the idle values:
// the exporter's own scrape sweeps the cache even when no probe comes.
func (c *Cache[V]) Collect(ch chan<- prometheus.Metric) {
	s := c.Stats()
	ch <- prometheus.MustNewConstMetric(c.sizeDesc, prometheus.GaugeValue, float64(s.Len))
	for _, reason := range []string{ReasonIdle, ReasonFull, ReasonConfig} {
		ch <- prometheus.MustNewConstMetric(c.droppedDesc, prometheus.CounterValue, float64(s.Dropped[reason]), reason)
	}
	ch <- prometheus.MustNewConstMetric(c.builtDesc, prometheus.CounterValue, float64(s.Built))
}
