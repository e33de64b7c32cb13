package testenv

import (
	"sync"
	"time"
)

// Clock is a test's time, safe for concurrent use: what reads it (a fake
// node's pool, a cache's idle timeout) moves only when the test advances
// it. Now has the signature of time.Now, to be handed where code takes a
// clock.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a Clock at t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}
