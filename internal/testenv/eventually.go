package testenv

import (
	"testing"
	"time"
)

// Eventually polls cond every 100 ms until it reports true, and fails the
// test when timeout has passed, with what cond last said it saw. cond runs
// on the test's goroutine, so it may fail the test itself.
func Eventually(t testing.TB, what string, timeout time.Duration, cond func() (ok bool, saw string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, saw := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s; last saw: %s", timeout, what, saw)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
