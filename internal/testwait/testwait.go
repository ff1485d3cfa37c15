// Package testwait is for tests that wait on real hosts, processes or
// goroutines, which reach a state in their own time: it checks a
// condition until it holds or a deadline passes, instead of sleeping a
// fixed time and hoping. Only tests import it.
package testwait

import (
	"testing"
	"time"
)

// Poll is how often a condition is checked when nothing wakes the wait
// earlier.
const Poll = 10 * time.Millisecond

// Until reports whether cond holds within d. It checks cond at once, then
// every Poll and whenever a wake channel, if given, delivers or is closed.
func Until(d time.Duration, cond func() bool, wake ...<-chan struct{}) bool {
	var w <-chan struct{}
	if len(wake) > 0 {
		w = wake[0]
	}
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	tick := time.NewTicker(Poll)
	defer tick.Stop()
	for !cond() {
		select {
		case <-deadline.C:
			return cond()
		case <-tick.C:
		case _, ok := <-w:
			if !ok {
				// A closed channel would spin; fall back to polling.
				w = nil
			}
		}
	}
	return true
}

// For fails the test at once unless cond holds within d; what names the
// awaited state in the failure.
func For(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	if !Until(d, cond) {
		t.Fatalf("timed out after %v waiting for %s", d, what)
	}
}
