package pex

import (
	"time"

	"github.com/pexp2p/pexp2p/addrbook"
)

// Hooks into unexported state for the external tests, standing in for
// upstream's tests reading the reactor's maps directly.

func (r *Reactor) EnsurePeers(periodElapsed bool)         { r.ensurePeers(periodElapsed) }
func (r *Reactor) CrawlPeers(addrs []addrbook.NetAddress) { r.crawlPeers(addrs) }
func (r *Reactor) AttemptDisconnects()                    { r.attemptDisconnects() }
func (r *Reactor) DialPeer(addr addrbook.NetAddress) error {
	return r.dialPeer(addr)
}
func (r *Reactor) DialSeeds()                  { r.dialSeeds() }
func (r *Reactor) SweepAttempts()              { r.sweepAttempts() }
func (r *Reactor) RequestAddrs(id string) bool { return r.requestAddrs(id) }

func (r *Reactor) SeedAddrs() []addrbook.NetAddress {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]addrbook.NetAddress(nil), r.seedAddrs...)
}

// HasOutstandingRequest is upstream's requestsSent.Has.
func (r *Reactor) HasOutstandingRequest(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	ps := r.peers[id]
	return ps != nil && ps.reqOutstanding > 0
}

// HasReceivedRequests is upstream's lastReceivedRequests.Has.
func (r *Reactor) HasReceivedRequests(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	ps := r.peers[id]
	return ps != nil && !ps.recvAllowedAt.IsZero()
}

func (r *Reactor) SetAttempts(addr addrbook.NetAddress, n int, last time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.attempts[addr.DialString()] = &dialRecord{addr: addr, attempts: n, lastDialed: last}
}

func (r *Reactor) TrackedDials() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.attempts)
}

func (r *Reactor) Backoff(attempts int, jitter time.Duration) time.Duration {
	return r.backoff(attempts, jitter)
}

func (r *Reactor) CrawlInfos() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.crawled)
}
