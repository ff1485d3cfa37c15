package pex

import "time"

// The routine: upstream runs ensurePeers (or, on a seed, the crawl) from a
// ticker goroutine; here ticks and wake-ups are clock callbacks that
// kick one coalescing loop, so a simulation can drive it on virtual time.

// period is how often the routine runs: the crawl period on a seed.
func (r *Reactor) period() time.Duration {
	if r.cfg.SeedMode {
		return r.cfg.CrawlPeerPeriod
	}
	return r.cfg.EnsurePeersPeriod
}

func (r *Reactor) onFirst() {
	r.armTick()
	r.kick(kickFirst, true)
}

func (r *Reactor) onTick() {
	r.armTick()
	r.kick(kickTick, true)
}

func (r *Reactor) armTick() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopped {
		return
	}
	r.tick = r.clk.AfterFunc(r.period(), r.timerFunc(r.onTick))
}

type kickKind int

const (
	kickFirst kickKind = iota
	kickTick
	kickWake
)

// kick asks the routine to run. Like upstream's ticker and wake-up
// channel, requests made while it runs are coalesced into one more run.
func (r *Reactor) kick(k kickKind, inline bool) {
	r.mu.Lock()
	switch k {
	case kickFirst:
		r.firstPending = true
	case kickTick:
		r.tickPending = true
	case kickWake:
		r.wakePending = true
	}
	if r.loopRunning || r.stopped || !r.started {
		r.mu.Unlock()
		return
	}
	r.loopRunning = true
	r.mu.Unlock()
	if inline {
		r.loop()
	} else {
		r.spawn(r.loop)
	}
}

func (r *Reactor) loop() {
	for {
		r.mu.Lock()
		if r.stopped || !(r.firstPending || r.tickPending || r.wakePending) {
			r.loopRunning = false
			r.mu.Unlock()
			return
		}
		first, tick := r.firstPending, r.tickPending
		r.firstPending, r.tickPending, r.wakePending = false, false, false
		r.mu.Unlock()

		switch {
		case r.cfg.SeedMode && first:
			r.seedStart()
		case r.cfg.SeedMode && tick:
			r.crawlRound()
		case r.cfg.SeedMode:
			// Seeds do not run ensurePeers; wake-ups mean nothing to them.
		default:
			if first {
				r.dialAnchors()
			}
			r.ensurePeers(first || tick)
			if tick {
				r.sweepAttempts()
			}
		}
	}
}

func (r *Reactor) nodeHasSomePeersOrDialingAny() bool {
	out, in, dial := r.net.NumPeers()
	return out+in+dial > 0
}
