// Package clock abstracts time so that protocol code can run on the wall
// clock in production and on virtual time in tests and simulations.
//
// Code that needs time takes a Clock. Production passes System; tests pass
// a *Simulated and move it forward explicitly with Run, in the style of
// go-ethereum's mclock.Simulated: nothing happens until the test advances
// time, and then every timer due in that interval fires in deadline order
// on the goroutine that called Run, so a single-threaded simulation of many
// nodes is deterministic.
package clock

import (
	"context"
	"time"
)

// Clock is the time source injected into packages that schedule work.
type Clock interface {
	// Now returns the current time of this clock.
	Now() time.Time
	// Since returns Now().Sub(t).
	Since(t time.Time) time.Duration
	// AfterFunc calls f once d has elapsed. On System f runs on its own
	// goroutine; on Simulated it runs on the goroutine that advances time.
	AfterFunc(d time.Duration, f func()) Timer
	// NewTimer returns a timer that delivers the time on its channel once.
	NewTimer(d time.Duration) ChanTimer
	// NewTicker returns a ticker that delivers the time every d; like
	// time.Ticker it drops ticks the receiver is too slow to take. d must
	// be positive.
	NewTicker(d time.Duration) Ticker
	// After is NewTimer(d).C().
	After(d time.Duration) <-chan time.Time
}

// Timer is a scheduled call that can be cancelled.
type Timer interface {
	// Stop prevents the timer from firing; it reports whether it did so
	// (false when the timer already fired or was stopped).
	Stop() bool
}

// ChanTimer is a one-shot timer with a channel, like *time.Timer.
type ChanTimer interface {
	Timer
	C() <-chan time.Time
	// Reset re-arms the timer to fire d from now.
	Reset(d time.Duration)
}

// Ticker delivers ticks on a channel, like *time.Ticker.
type Ticker interface {
	C() <-chan time.Time
	Stop()
}

// System is the wall clock.
var System Clock = systemClock{}

type systemClock struct{}

func (systemClock) Now() time.Time                  { return time.Now() }
func (systemClock) Since(t time.Time) time.Duration { return time.Since(t) }
func (systemClock) AfterFunc(d time.Duration, f func()) Timer {
	return time.AfterFunc(d, f)
}
func (systemClock) NewTimer(d time.Duration) ChanTimer {
	return &systemTimer{t: time.NewTimer(d)}
}
func (systemClock) NewTicker(d time.Duration) Ticker {
	return &systemTicker{t: time.NewTicker(d)}
}
func (systemClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

type systemTimer struct{ t *time.Timer }

func (s *systemTimer) C() <-chan time.Time   { return s.t.C }
func (s *systemTimer) Stop() bool            { return s.t.Stop() }
func (s *systemTimer) Reset(d time.Duration) { s.t.Reset(d) }

type systemTicker struct{ t *time.Ticker }

func (s *systemTicker) C() <-chan time.Time { return s.t.C }
func (s *systemTicker) Stop()               { s.t.Stop() }

// Sleep waits d on c, or until ctx ends, whichever comes first; in the
// second case it returns ctx's error. A d of zero or less only reports
// whether ctx has ended.
func Sleep(ctx context.Context, c Clock, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := c.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C():
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
