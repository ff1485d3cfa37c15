package pex

import (
	"errors"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/pexp2p/pexp2p/addrbook"
)

// ensurePeers is one round of a regular node. periodElapsed is false
// for a fast-dial wake-up, which must not send a request: CometBFT peers
// ban a node that asks more often than every ensurePeersPeriod/3
// (cometbft#4620, the guard v0.39+ lost).
func (r *Reactor) ensurePeers(periodElapsed bool) {
	out, in, dial := r.net.NumPeers()
	numToDial := r.net.MaxNumOutboundPeers() - (out + dial)
	r.log.Debugw("ensure peers", "out", out, "in", in, "dialing", dial, "to_dial", numToDial, "period_elapsed", periodElapsed)

	if numToDial <= 0 {
		// Upstream returns here and never refreshes the book again once
		// outbound is full; pexp2p keeps asking, at the usual pace.
		if r.cfg.RefreshWhenOutboundFull && periodElapsed && r.book.NeedMoreAddrs() {
			r.requestRandomPeer()
		}
		return
	}

	// Prefer vetted addresses while we have few connections (10..90).
	newBias := min(out, 8)*10 + 10
	toDial := make([]addrbook.NetAddress, 0, numToDial)
	chosen := make(map[string]bool, numToDial)
	groups := r.outboundGroups() // nil unless diversity is on (diversity.go)
	tries := 3 * numToDial
	if groups != nil {
		tries = diverseTriesPerSlot * numToDial
	}
	for i := 0; i < tries && len(toDial) < numToDial; i++ {
		a, ok := r.book.PickAddress(newBias)
		if !ok || chosen[a.ID] || r.net.IsDialingOrConnected(a) {
			continue
		}
		if groups != nil {
			g := r.groupOf(a)
			if groups[g] >= r.cfg.OutboundGroupLimit {
				continue
			}
			groups[g]++
		}
		chosen[a.ID] = true
		toDial = append(toDial, a)
	}
	for _, a := range toDial {
		r.spawn(func() {
			if err := r.dialPeer(a); err != nil {
				r.log.Debugw("dial", "addr", a, "err", err)
			}
		})
	}

	if r.book.NeedMoreAddrs() {
		r.book.ReinstateBadPeers()
	}
	if r.book.NeedMoreAddrs() {
		if periodElapsed {
			r.requestRandomPeer()
		}
		// Seeds also cover peers that do not take part in PEX.
		if len(toDial) == 0 {
			r.dialSeeds()
		}
	}
}

// requestRandomPeer asks one random connected peer for addresses. Peers
// whose request is still outstanding and over-limit visitors are not
// candidates (upstream may pick them and then do nothing).
func (r *Reactor) requestRandomPeer() bool {
	now := r.clk.Now()
	timeout := r.cfg.requestTimeout()
	r.mu.Lock()
	ids := r.peerIDsLocked(func(ps *peerState) bool {
		if ps.info.OverLimit || ps.answered {
			return false
		}
		return ps.reqOutstanding == 0 || now.Sub(ps.reqSentAt) >= timeout
	})
	if len(ids) == 0 {
		r.mu.Unlock()
		return false
	}
	// Random among the peers asked longest ago (never asked first): the
	// same one-request-per-round pace as upstream, but answers overlap
	// less than with a uniform draw.
	oldest := ids[:0:0]
	var at time.Time
	for _, id := range ids {
		t := r.peers[id].reqSentAt
		switch {
		case len(oldest) == 0 || t.Before(at):
			oldest, at = append(oldest[:0], id), t
		case t.Equal(at):
			oldest = append(oldest, id)
		}
	}
	id := oldest[r.rng.IntN(len(oldest))]
	r.mu.Unlock()
	r.log.Debugw("need more addresses; asking a random peer", "peer", id)
	return r.requestAddrs(id)
}

// backoff is DialBackoffBase·2^attempts + jitter, saturating instead of
// overflowing.
func (r *Reactor) backoff(attempts int, jitter time.Duration) time.Duration {
	const maxD = time.Duration(1<<63 - 1)
	d := r.cfg.DialBackoffBase
	for i := 0; i < attempts; i++ {
		if d > maxD/2 {
			return maxD
		}
		d *= 2
	}
	if d > maxD-jitter {
		return maxD
	}
	return d + jitter
}

// dialPeer dials addr with upstream's backoff and attempt counting.
func (r *Reactor) dialPeer(addr addrbook.NetAddress) error {
	key := addr.DialString()
	persistent := r.net.IsPersistent(addr)
	now := r.clk.Now()

	r.mu.Lock()
	var attempts int
	var lastDialed time.Time
	if rec := r.attempts[key]; rec != nil {
		attempts, lastDialed = rec.attempts, rec.lastDialed
	}
	if !persistent && attempts > r.cfg.MaxAttemptsToDial {
		r.mu.Unlock()
		r.book.MarkBad(addr, r.cfg.BanTime)
		r.obs.Ban()
		r.obs.Dial(DialMaxAttempts)
		return &DialError{Addr: addr, Attempts: attempts, Err: ErrMaxAttemptsToDial}
	}
	if attempts > 0 {
		var jitter time.Duration
		if r.cfg.MaxDialJitter > 0 {
			jitter = time.Duration(r.rng.Int64N(int64(r.cfg.MaxDialJitter)))
		}
		backoff := r.backoff(attempts, jitter)
		if persistent && r.cfg.PersistentPeersMaxDialPeriod > 0 && backoff > r.cfg.PersistentPeersMaxDialPeriod {
			backoff = r.cfg.PersistentPeersMaxDialPeriod
		}
		if now.Sub(lastDialed) < backoff {
			r.mu.Unlock()
			r.obs.Dial(DialTooEarly)
			return &DialError{Addr: addr, Attempts: attempts, Backoff: backoff, Err: ErrTooEarlyToDial}
		}
	}
	r.mu.Unlock()

	err := r.net.Dial(r.ctx, addr)
	switch {
	case err == nil:
		r.mu.Lock()
		delete(r.attempts, key)
		r.mu.Unlock()
		r.obs.Dial(DialOK)
		return nil
	case errors.Is(err, ErrAlreadyConnectedOrDialing):
		r.obs.Dial(DialAlready)
		return &DialError{Addr: addr, Attempts: attempts, Err: err}
	case r.ctx.Err() != nil:
		// Cut short by Stop: not the address's fault.
		return &DialError{Addr: addr, Attempts: attempts, Err: errors.Join(errStopped, err)}
	case errors.Is(err, ErrAuthFailure):
		r.book.MarkBad(addr, r.cfg.BanTime)
		r.obs.Ban()
		r.mu.Lock()
		delete(r.attempts, key)
		r.mu.Unlock()
		r.obs.Dial(DialAuthFailure)
		return &DialError{Addr: addr, Attempts: attempts, Err: err}
	default:
		r.book.MarkAttempt(addr.ID)
		r.recordFailure(key, addr, attempts+1, r.clk.Now())
		r.obs.Dial(DialFailed)
		return &DialError{Addr: addr, Attempts: attempts + 1, Err: err}
	}
}

// recordFailure stores a failed dial, evicting the entry dialed longest
// ago when the table is full (upstream's table is unbounded).
func (r *Reactor) recordFailure(key string, addr addrbook.NetAddress, attempts int, at time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.attempts[key]; !ok && len(r.attempts) >= r.cfg.MaxTrackedDials {
		var oldestKey string
		var oldest time.Time
		for k, rec := range r.attempts {
			if oldestKey == "" || rec.lastDialed.Before(oldest) || (rec.lastDialed.Equal(oldest) && k < oldestKey) {
				oldestKey, oldest = k, rec.lastDialed
			}
		}
		delete(r.attempts, oldestKey)
	}
	r.attempts[key] = &dialRecord{addr: addr, attempts: attempts, lastDialed: at}
}

// sweepAttempts forgets dial records of addresses the book no longer
// holds (banned, evicted), unless they are persistent peers.
func (r *Reactor) sweepAttempts() {
	r.mu.Lock()
	recs := make([]*dialRecord, 0, len(r.attempts))
	for _, rec := range r.attempts {
		recs = append(recs, rec)
	}
	r.mu.Unlock()
	for _, rec := range recs {
		if r.book.HasAddress(rec.addr.ID) || r.net.IsPersistent(rec.addr) {
			continue
		}
		r.mu.Lock()
		if r.attempts[rec.addr.DialString()] == rec {
			delete(r.attempts, rec.addr.DialString())
		}
		r.mu.Unlock()
	}
}

// AttemptsToDial returns the failed dials recorded for addr's IP and
// port; 0 when never dialed, after success, or once forgotten.
func (r *Reactor) AttemptsToDial(addr addrbook.NetAddress) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	if rec := r.attempts[addr.DialString()]; rec != nil {
		return rec.attempts
	}
	return 0
}

// dialSeeds dials the seeds in random order until one connects.
func (r *Reactor) dialSeeds() {
	r.mu.Lock()
	seeds := append([]addrbook.NetAddress(nil), r.seedAddrs...)
	perm := r.rng.Perm(len(seeds))
	r.mu.Unlock()
	for _, i := range perm {
		if r.ctx.Err() != nil {
			return
		}
		err := r.net.Dial(r.ctx, seeds[i])
		if err == nil {
			r.obs.Dial(DialOK)
			return
		}
		if errors.Is(err, ErrAlreadyConnectedOrDialing) {
			r.obs.Dial(DialAlready)
			return
		}
		r.obs.Dial(DialFailed)
		r.log.Warnw("error dialing seed", "seed", seeds[i], "err", err)
	}
	if len(seeds) > 0 {
		r.log.Warnw("couldn't connect to any seeds")
	}
}

// checkSeeds parses the configured seeds, as upstream does at start: a
// bad seed string fails, a lookup failure is logged and skipped. numOnline
// is -1 without seeds, else the number that parsed and resolved.
func (r *Reactor) checkSeeds() (numOnline int, addrs []addrbook.NetAddress, err error) {
	if len(r.cfg.Seeds) == 0 {
		return -1, nil, nil
	}
	for _, s := range r.cfg.Seeds {
		a, err := r.parseSeed(s)
		if err != nil {
			if errors.Is(err, ErrSeedLookup) {
				r.log.Errorw("seed did not resolve", "seed", s, "err", err)
				continue
			}
			return 0, nil, err
		}
		addrs = append(addrs, a)
	}
	return len(addrs), addrs, nil
}

// parseSeed parses "id@host:port"; a host name is resolved through the
// resolver and its first address used, as upstream does.
func (r *Reactor) parseSeed(s string) (addrbook.NetAddress, error) {
	bad := func(cause error) error { return &SeedError{Seed: s, Err: ErrSeedConfig, Cause: cause} }
	rest := s
	if i := strings.Index(rest, "://"); i >= 0 {
		rest = rest[i+3:]
	}
	id, hostport, ok := strings.Cut(rest, "@")
	if !ok {
		return addrbook.NetAddress{}, bad(&addrbook.AddressError{Input: s, Reason: "want id@host:port"})
	}
	host, portText, err := net.SplitHostPort(hostport)
	if err != nil || host == "" {
		return addrbook.NetAddress{}, bad(&addrbook.AddressError{Input: s, Reason: "bad host:port", Err: err})
	}
	if _, err := netip.ParseAddr(host); err == nil {
		a, err := addrbook.ParseNetAddress(r.cfg.IDRule, s)
		if err != nil {
			return addrbook.NetAddress{}, bad(err)
		}
		return a, nil
	}
	// A host name: check the rest before asking DNS.
	port, err := strconv.ParseUint(portText, 10, 16)
	if err != nil {
		return addrbook.NetAddress{}, bad(&addrbook.AddressError{Input: s, Reason: "port is not a number in 0..65535"})
	}
	nid, err := r.cfg.IDRule.Normalize(id)
	if err != nil {
		return addrbook.NetAddress{}, bad(&addrbook.AddressError{Input: s, Reason: "bad ID", Err: err})
	}
	ips, err := r.resolve(r.ctx, host)
	if err == nil && len(ips) == 0 {
		err = errors.New("no addresses")
	}
	if err != nil {
		return addrbook.NetAddress{}, &SeedError{Seed: s, Err: ErrSeedLookup, Cause: err}
	}
	a, err := addrbook.NewNetAddress(r.cfg.IDRule, nid, ips[0], uint16(port))
	if err != nil {
		return addrbook.NetAddress{}, bad(err)
	}
	return a, nil
}
