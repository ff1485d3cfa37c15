package pex

import (
	"context"
	"errors"
	"sort"
	"time"

	"github.com/pexp2p/pexp2p/addrbook"
)

// Probes: short outbound connections whose only purpose is to learn
// whether an address answers as its ID — the book's test-before-evict
// (addrbook.EvictionTester) and feelers (feeler.go). A probe connection
// is not asked for addresses and is closed gracefully as soon as it is
// up; it briefly counts as an outbound peer.

// DefaultProbeTimeout bounds one probe's dial. A live libp2p peer
// completes the handshake, identify and NodeInfo in well under a second
// on a normal link; 10 s leaves room for a slow one, while keeping a
// dead address from holding a probe (and a pending eviction test) long.
const DefaultProbeTimeout = 10 * time.Second

// evictionTesterSetter is the part of *addrbook.Book through which the
// reactor offers itself as the book's eviction tester while it runs; the
// book only uses it with its TestBeforeEvict option on.
type evictionTesterSetter interface {
	SetEvictionTester(addrbook.EvictionTester)
}

// probeState is one probe under way; its waiters are called once, with
// the answer. Guarded by Reactor.mu.
type probeState struct {
	waiters []func(alive bool)
}

// Test implements addrbook.EvictionTester: it probes addr and reports
// whether it answered. A peer already connected answers at once. If the
// reactor stops before the probe ends, the entry is reported alive, so
// shutting down never costs the book a good address.
func (r *Reactor) Test(addr addrbook.NetAddress, done func(alive bool)) {
	r.probe(addr, done)
}

// probe dials addr briefly and calls done exactly once with whether it
// answered. Probes of one ID share one dial.
func (r *Reactor) probe(addr addrbook.NetAddress, done func(alive bool)) {
	r.mu.Lock()
	switch {
	case r.stopped || r.peers[addr.ID] != nil:
		r.mu.Unlock()
		done(true)
		return
	case r.probes[addr.ID] != nil:
		p := r.probes[addr.ID]
		p.waiters = append(p.waiters, done)
		r.mu.Unlock()
		return
	}
	p := &probeState{waiters: []func(bool){done}}
	r.probes[addr.ID] = p
	r.mu.Unlock()
	r.spawn(func() {
		ctx, cancel := context.WithTimeout(r.ctx, r.cfg.probeTimeout())
		err := r.net.Dial(ctx, addr)
		cancel()
		alive := err == nil || errors.Is(err, ErrAlreadyConnectedOrDialing)
		if r.ctx.Err() != nil && err != nil {
			alive = true // cut short by Stop: not the address's fault
		}
		if err == nil {
			r.net.StopPeerGracefully(addr.ID)
		}
		r.finishProbe(addr.ID, p, alive)
	})
}

// finishProbe calls p's waiters unless the probe already ended.
func (r *Reactor) finishProbe(id string, p *probeState, alive bool) {
	r.mu.Lock()
	if r.probes[id] != p {
		r.mu.Unlock()
		return
	}
	delete(r.probes, id)
	ws := p.waiters
	r.mu.Unlock()
	for _, w := range ws {
		w(alive)
	}
}

// isProbe reports whether a probe to id is under way.
func (r *Reactor) isProbe(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.probes[id] != nil
}

// endProbes answers every probe still open as alive; Stop calls it
// once the reactor's work has ended, so a probe whose dial never ran
// still answers.
func (r *Reactor) endProbes() {
	r.mu.Lock()
	ids := make([]string, 0, len(r.probes))
	for id := range r.probes {
		ids = append(ids, id)
	}
	r.mu.Unlock()
	sort.Strings(ids)
	for _, id := range ids {
		r.mu.Lock()
		p := r.probes[id]
		r.mu.Unlock()
		if p != nil {
			r.finishProbe(id, p, true)
		}
	}
}
