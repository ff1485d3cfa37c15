package testnet

import (
	"maps"
	"sync"
	"sync/atomic"

	"github.com/pexp2p/pexp2p/pex"
)

// Counter counts the misbehaviour and bans of a whole cluster: one Counter
// is every node's observer, the reactor's and the transport's events
// alike, so that a run with bans says why.
type Counter struct {
	pex.NopObserver
	misbehavior, bans atomic.Int64
	mu                sync.Mutex
	reasons           map[string]int64
}

// Misbehavior counts a peer the reactor stopped.
func (o *Counter) Misbehavior(r pex.Reason) {
	o.misbehavior.Add(1)
	o.count(string(r))
}

// Ban counts a ban the reactor issued.
func (o *Counter) Ban() { o.bans.Add(1) }

// WireViolation counts the transport's own stops and bans, which the
// reactor never sees (it is the transport's wire-violation hook).
func (o *Counter) WireViolation(reason string, banned bool) {
	o.misbehavior.Add(1)
	o.count(reason)
	if banned {
		o.bans.Add(1)
	}
}

func (o *Counter) count(reason string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.reasons == nil {
		o.reasons = map[string]int64{}
	}
	o.reasons[reason]++
}

// Traffic is the counts so far, with Msgs and Bytes left for the caller.
func (o *Counter) Traffic() Traffic {
	o.mu.Lock()
	defer o.mu.Unlock()
	t := Traffic{Misbehavior: o.misbehavior.Load(), Bans: o.bans.Load()}
	if len(o.reasons) > 0 {
		t.Reasons = maps.Clone(o.reasons)
	}
	return t
}
