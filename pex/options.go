package pex

import (
	"context"
	mrand "math/rand/v2"
	"net/netip"

	"github.com/pexp2p/pexp2p/internal/clock"
)

// Logger is the subset of go-log's logger the reactor writes to.
type Logger interface {
	Debugw(msg string, keysAndValues ...any)
	Infow(msg string, keysAndValues ...any)
	Warnw(msg string, keysAndValues ...any)
	Errorw(msg string, keysAndValues ...any)
}

// ResolverFunc resolves a seed host name to IP addresses.
type ResolverFunc func(ctx context.Context, host string) ([]netip.Addr, error)

// Option customises a Reactor.
type Option func(*Reactor)

// WithClock sets the time source (default clock.System).
func WithClock(c clock.Clock) Option { return func(r *Reactor) { r.clk = c } }

// WithRand sets the random source (default: seeded from crypto/rand).
// The reactor serialises its use, so it may not be shared.
func WithRand(rng *mrand.Rand) Option { return func(r *Reactor) { r.rng = rng } }

// WithExecutor replaces "go f()" for work the reactor runs off the
// caller's goroutine (dials, fast-dial wake-ups, graceful stops). A
// simulation passes a function that queues f on its virtual clock, which
// makes a run of many reactors single-threaded and deterministic.
func WithExecutor(goFn func(f func())) Option { return func(r *Reactor) { r.goFn = goFn } }

// WithObserver sets the metrics hook (default NopObserver).
func WithObserver(o Observer) Option { return func(r *Reactor) { r.obs = o } }

// WithResolver sets how seed host names are resolved (default: the
// system resolver).
func WithResolver(f ResolverFunc) Option { return func(r *Reactor) { r.resolve = f } }

// WithLogger replaces the go-log logger "pex".
func WithLogger(l Logger) Option { return func(r *Reactor) { r.log = l } }
