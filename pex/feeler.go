package pex

import (
	"time"

	"github.com/pexp2p/pexp2p/addrbook"
)

// Feelers (Bitcoin Core's addrman, after Heilman et al. 2015): now and
// then a short probe to an address that is only announced (a new
// bucket); if it answers, it is marked good and so moves to an old
// bucket. The old buckets then hold more addresses we have seen answer,
// from more groups, and a restart draws from them rather than from
// whatever a flood left in the new buckets. Off by default
// (Config.FeelerInterval = 0): upstream has no feelers.

// DefaultFeelerInterval is Bitcoin Core's FEELER_INTERVAL: one feeler
// per two minutes is a few hundred short connections a day, invisible
// next to regular traffic, yet enough to test a fresh book's worth of
// groups within days.
const DefaultFeelerInterval = 2 * time.Minute

// feelerTries is how many new addresses a feeler draws looking for one
// whose group has no old entry yet; after that it takes the last one
// drawn that is not connected, so a book whose groups are all covered
// still gets feelers.
const feelerTries = 8

// oldGrouper is the part of *addrbook.Book feelers use to prefer groups
// the old buckets do not cover yet.
type oldGrouper interface {
	OldInGroup(addr addrbook.NetAddress) bool
}

// armFeeler schedules the next feeler after the interval, jittered by
// ±50 % so that nodes started together do not probe in step; r.mu held.
func (r *Reactor) armFeelerLocked() {
	if r.stopped || r.cfg.FeelerInterval <= 0 || r.cfg.SeedMode {
		return
	}
	d := r.cfg.FeelerInterval/2 + time.Duration(r.rng.Int64N(int64(r.cfg.FeelerInterval)))
	r.feeler = r.clk.AfterFunc(d, r.timerFunc(r.onFeeler))
}

func (r *Reactor) onFeeler() {
	r.mu.Lock()
	r.armFeelerLocked()
	busy := r.feeling
	r.mu.Unlock()
	if busy {
		return // one feeler at a time: the rate limit
	}
	a, ok := r.pickFeeler()
	if !ok {
		return
	}
	r.mu.Lock()
	r.feeling = true
	r.mu.Unlock()
	r.probe(a, func(alive bool) {
		if alive {
			r.book.MarkGood(a.ID)
		} else {
			r.book.MarkAttempt(a.ID)
		}
		r.mu.Lock()
		r.feeling = false
		r.mu.Unlock()
	})
}

// pickFeeler draws a new address to probe, preferring one from a group
// with no old entry.
func (r *Reactor) pickFeeler() (addrbook.NetAddress, bool) {
	g, _ := r.book.(oldGrouper)
	var fallback addrbook.NetAddress
	found := false
	for i := 0; i < feelerTries; i++ {
		a, ok := r.book.PickAddress(100)
		if !ok {
			break
		}
		if r.book.IsGood(a.ID) || r.net.IsDialingOrConnected(a) || r.isProbe(a.ID) {
			continue
		}
		if g == nil || !g.OldInGroup(a) {
			return a, true
		}
		fallback, found = a, true
	}
	return fallback, found
}
