// Package bridge joins pexp2p's two faces — the classic CometBFT face and
// the libp2p face — for peer discovery. Each face keeps its own address
// book; an address crosses from one book to the other only after the
// bridge has proved, on the destination face's own transport, that the
// node at that IP and port holds the key the address names. Unverified
// addresses never cross.
//
// The bridge depends on two small interfaces per face (a Prober and a
// Book), so its logic is tested with fakes and wired to the real faces by
// the command.
package bridge

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	logging "github.com/ipfs/go-log/v2"

	"github.com/pexp2p/pexp2p/addrbook"
	"github.com/pexp2p/pexp2p/internal/clock"
	"github.com/pexp2p/pexp2p/internal/errmsg"
	"github.com/pexp2p/pexp2p/pex"
	"github.com/pexp2p/pexp2p/transport"
	"github.com/pexp2p/pexp2p/transport/classic"
)

var log = logging.Logger("bridge")

// Direction names the way an address crosses.
type Direction uint8

const (
	// ClassicToLibp2p: a classic peer's address enters the libp2p book.
	ClassicToLibp2p Direction = iota
	// Libp2pToClassic: a libp2p peer's address enters the classic book.
	Libp2pToClassic
)

func (d Direction) String() string {
	switch d {
	case ClassicToLibp2p:
		return "classic_to_libp2p"
	case Libp2pToClassic:
		return "libp2p_to_classic"
	}
	return fmt.Sprintf("direction(%d)", uint8(d))
}

// Result is the outcome of one crossing attempt, as counted in metrics.
type Result string

const (
	// Verified: the probe proved the key at the address; it crossed.
	Verified Result = "verified"
	// Failed: the probe ran and did not prove the key; it did not cross.
	Failed Result = "failed"
	// CachedVerified / CachedFailed: a recent probe's result was reused.
	CachedVerified Result = "cached_verified"
	CachedFailed   Result = "cached_failed"
	// RateLimited: no probe budget left; nothing crossed, nothing cached.
	RateLimited Result = "rate_limited"
	// Invalid: the other face's identity or address could not be derived
	// (no key known, not an ed25519 key, wildcard IP, port 0).
	Invalid Result = "invalid"
	// Dropped: the probe queue was full.
	Dropped Result = "dropped"
	// BookRefused: verified, but the destination book refused the address
	// (banned, private, our own, full bucket…).
	BookRefused Result = "book_refused"
)

// Prober proves that the node at addr's IP and port holds the identity
// named by addr.ID, over one face's transport. nil means proven.
type Prober interface {
	Probe(ctx context.Context, addr addrbook.NetAddress) error
}

// Book is the part of a face's address book the bridge writes to.
type Book interface {
	AddAddress(addr, src addrbook.NetAddress) error
}

// Metrics counts crossings by direction and result.
type Metrics interface {
	Crossing(dir Direction, res Result)
}

// Side is one face as the destination of crossings.
type Side struct {
	// Book receives verified addresses.
	Book Book
	// Prober verifies addresses on this face's transport.
	Prober Prober
	// Self is the bridge's own address on this face; it is the source of
	// every address the bridge adds to Book.
	Self func() addrbook.NetAddress
}

// Errors from New and the candidate constructors.
var (
	ErrConfig    = errors.New("bridge: bad configuration")
	ErrCandidate = errors.New("bridge: address cannot cross")
)

// CandidateError names the address that cannot cross and why.
type CandidateError struct {
	Addr string
	errmsg.Reasoned
}

func (e *CandidateError) Error() string        { return e.Message("bridge: " + e.Addr + " cannot cross") }
func (e *CandidateError) Is(target error) bool { return target == ErrCandidate }

func candidateErr(addr, reason string, err error) *CandidateError {
	return &CandidateError{Addr: addr, Reasoned: errmsg.Reasoned{Reason: reason, Err: err}}
}

// Config tunes the bridge. Zero values take the defaults noted.
type Config struct {
	// Classic is the destination of libp2p→classic crossings: the classic
	// book, a prober over the classic transport, the classic face's address.
	Classic Side
	// Libp2p is the destination of classic→libp2p crossings.
	Libp2p Side
	// ProbeTimeout bounds one probe (default 10s: QUIC then TCP).
	ProbeTimeout time.Duration
	// ProbeInterval is the steady rate of probes: one per interval
	// (default 200ms), with bursts up to ProbeBurst (default 5).
	ProbeInterval time.Duration
	ProbeBurst    int
	// VerifiedTTL / FailedTTL: how long a result is reused (defaults 1h
	// and 10m). Failures expire sooner so a node that comes up is found.
	VerifiedTTL time.Duration
	FailedTTL   time.Duration
	// CacheSize bounds the result cache (default 4096 entries).
	CacheSize int
	// QueueSize bounds pending candidates (default 256).
	QueueSize int
	Clock     clock.Clock
	Metrics   Metrics
}

func (c *Config) setDefaults() {
	if c.ProbeTimeout <= 0 {
		c.ProbeTimeout = 10 * time.Second
	}
	if c.ProbeInterval <= 0 {
		c.ProbeInterval = 200 * time.Millisecond
	}
	if c.ProbeBurst <= 0 {
		c.ProbeBurst = 5
	}
	if c.VerifiedTTL <= 0 {
		c.VerifiedTTL = time.Hour
	}
	if c.FailedTTL <= 0 {
		c.FailedTTL = 10 * time.Minute
	}
	if c.CacheSize <= 0 {
		c.CacheSize = 4096
	}
	if c.QueueSize <= 0 {
		c.QueueSize = 256
	}
	if c.Clock == nil {
		c.Clock = clock.System
	}
	if c.Metrics == nil {
		c.Metrics = nopMetrics{}
	}
}

// Candidate is an address that may cross: Target is already spelled in the
// destination face's ID kind (a peer ID for ClassicToLibp2p, a 40-hex ID
// for Libp2pToClassic).
type Candidate struct {
	Dir    Direction
	Target addrbook.NetAddress
}

func (c Candidate) key() string { return c.Dir.String() + "|" + c.Target.String() }

// ClassicCandidate builds the libp2p-side candidate for a classic peer:
// its peer ID comes from the public key learned in the handshake (checked
// against the classic ID), its address from where it was reached.
func ClassicCandidate(classicID string, pubKey []byte, addr addrbook.NetAddress) (Candidate, error) {
	if err := usable(addr); err != nil {
		return Candidate{}, err
	}
	if len(pubKey) == 0 {
		return Candidate{}, candidateErr(addr.String(), "public key unknown", nil)
	}
	pid, err := transport.PeerIDFromCometID(classicID, pubKey)
	if err != nil {
		return Candidate{}, candidateErr(addr.String(), "no peer ID for this key", err)
	}
	t, err := addrbook.NewNetAddress(transport.PeerIDs, pid.String(), addr.IP, addr.Port)
	if err != nil {
		return Candidate{}, candidateErr(addr.String(), "bad libp2p address", err)
	}
	return Candidate{Dir: ClassicToLibp2p, Target: t}, nil
}

// Libp2pCandidate builds the classic-side candidate for a libp2p address:
// the CometBFT ID is derived from the peer ID (the key is inlined in it).
func Libp2pCandidate(addr addrbook.NetAddress) (Candidate, error) {
	if err := usable(addr); err != nil {
		return Candidate{}, err
	}
	cid, err := transport.CometIDFromPeerIDText(addr.ID)
	if err != nil {
		return Candidate{}, candidateErr(addr.String(), "no CometBFT ID for this peer ID", err)
	}
	t, err := addrbook.NewNetAddress(addrbook.ClassicIDs, cid, addr.IP, addr.Port)
	if err != nil {
		return Candidate{}, candidateErr(addr.String(), "bad classic address", err)
	}
	return Candidate{Dir: Libp2pToClassic, Target: t}, nil
}

func usable(addr addrbook.NetAddress) error {
	switch {
	case !addr.IP.IsValid():
		return candidateErr(addr.String(), "no IP", nil)
	case addr.IP.IsUnspecified():
		return candidateErr(addr.String(), "wildcard IP is not dialable", nil)
	case addr.Port == 0:
		return candidateErr(addr.String(), "port 0 is not dialable", nil)
	}
	return nil
}

type cacheEntry struct {
	verified bool
	expires  time.Time
}

// Bridge verifies and carries addresses between the two faces' books.
type Bridge struct {
	cfg Config

	mu      sync.Mutex
	cache   map[string]cacheEntry
	pending map[string]bool
	tokens  float64
	lastTok time.Time

	queue  chan Candidate
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
	state  int // 0 new, 1 running, 2 stopped
}

// New checks the configuration and builds a bridge; Start runs its worker.
func New(cfg Config) (*Bridge, error) {
	for name, s := range map[string]Side{"classic": cfg.Classic, "libp2p": cfg.Libp2p} {
		if s.Book == nil || s.Prober == nil || s.Self == nil {
			return nil, fmt.Errorf("%w: %s side needs Book, Prober and Self", ErrConfig, name)
		}
	}
	cfg.setDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	b := &Bridge{
		cfg:     cfg,
		cache:   make(map[string]cacheEntry),
		pending: make(map[string]bool),
		tokens:  float64(cfg.ProbeBurst),
		lastTok: cfg.Clock.Now(),
		queue:   make(chan Candidate, cfg.QueueSize),
		ctx:     ctx,
		cancel:  cancel,
		done:    make(chan struct{}),
	}
	return b, nil
}

// Start runs the worker that probes offered candidates in order.
func (b *Bridge) Start() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.state != 0 {
		return nil
	}
	b.state = 1
	go b.run()
	return nil
}

// Stop ends the worker, cancelling a probe in flight, and waits for it.
func (b *Bridge) Stop() error {
	b.mu.Lock()
	st := b.state
	b.state = 2
	b.mu.Unlock()
	b.cancel()
	if st == 1 {
		<-b.done
	}
	return nil
}

// ClassicPeerConnected implements classic.PeerObserver: every classic peer
// whose key the handshake revealed is offered to the libp2p side.
func (b *Bridge) ClassicPeerConnected(p classic.Peer) {
	c, err := ClassicCandidate(p.ID, p.PubKey, p.DialAddr)
	if err != nil {
		b.cfg.Metrics.Crossing(ClassicToLibp2p, Invalid)
		log.Debugw("classic peer cannot cross", "peer", p.ID, "err", err)
		return
	}
	b.Offer(c)
}

// Libp2pPeerConnected offers a connected libp2p peer's advertised address
// to the classic side. The libp2p face calls it once the peer is set up.
func (b *Bridge) Libp2pPeerConnected(p pex.PeerInfo) {
	b.OfferLibp2pAddr(p.ListenAddr)
}

// OfferLibp2pAddr offers any libp2p-face address (for instance one learned
// through PEX) to the classic side: the key is in the peer ID, so no
// connection is needed first.
func (b *Bridge) OfferLibp2pAddr(addr addrbook.NetAddress) {
	c, err := Libp2pCandidate(addr)
	if err != nil {
		b.cfg.Metrics.Crossing(Libp2pToClassic, Invalid)
		log.Debugw("libp2p address cannot cross", "addr", addr, "err", err)
		return
	}
	b.Offer(c)
}

// Offer queues a candidate for the worker. It never blocks: a candidate
// already queued is not queued twice, one with a fresh cached result is
// settled at once, and a full queue drops the candidate (counted).
func (b *Bridge) Offer(c Candidate) bool {
	k := c.key()
	b.mu.Lock()
	if b.pending[k] {
		b.mu.Unlock()
		return true
	}
	if e, ok := b.cache[k]; ok && b.cfg.Clock.Now().Before(e.expires) {
		b.mu.Unlock()
		b.cfg.Metrics.Crossing(c.Dir, cachedResult(e))
		return true
	}
	select {
	case b.queue <- c:
		b.pending[k] = true
		b.mu.Unlock()
		return true
	default:
		b.mu.Unlock()
		b.cfg.Metrics.Crossing(c.Dir, Dropped)
		return false
	}
}

func cachedResult(e cacheEntry) Result {
	if e.verified {
		return CachedVerified
	}
	return CachedFailed
}

func (b *Bridge) run() {
	defer close(b.done)
	for {
		select {
		case <-b.ctx.Done():
			return
		case c := <-b.queue:
			// A direct Cross may take the token between the wait and the
			// probe; then wait again rather than lose the candidate.
			for {
				if !b.waitForToken(b.ctx) {
					return
				}
				if res, _ := b.cross(b.ctx, c); res != RateLimited {
					break
				}
			}
			b.mu.Lock()
			delete(b.pending, c.key())
			b.mu.Unlock()
		}
	}
}

// waitForToken blocks until the rate limiter has a probe to give (without
// taking it) or ctx ends.
func (b *Bridge) waitForToken(ctx context.Context) bool {
	for {
		b.mu.Lock()
		wait := b.refillLocked()
		b.mu.Unlock()
		if wait <= 0 {
			return true
		}
		t := b.cfg.Clock.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return false
		case <-t.C():
		}
	}
}

// refillLocked adds the tokens earned since the last refill and returns how
// long until one whole token is available (0 if one is).
func (b *Bridge) refillLocked() time.Duration {
	now := b.cfg.Clock.Now()
	if el := now.Sub(b.lastTok); el > 0 {
		b.tokens += float64(el) / float64(b.cfg.ProbeInterval)
		if max := float64(b.cfg.ProbeBurst); b.tokens > max {
			b.tokens = max
		}
		b.lastTok = now
	}
	if b.tokens >= 1 {
		return 0
	}
	return time.Duration((1 - b.tokens) * float64(b.cfg.ProbeInterval))
}

// Cross settles one candidate now: a fresh cached result is reused;
// otherwise, if the rate limit allows, the destination face probes the
// address and, when the key is proven, the address enters the destination
// book with the bridge as its source. The error is the probe's or the
// book's, for logging; the Result says what happened.
func (b *Bridge) Cross(ctx context.Context, c Candidate) (Result, error) {
	return b.cross(ctx, c)
}

func (b *Bridge) cross(ctx context.Context, c Candidate) (Result, error) {
	side := b.side(c.Dir)
	k := c.key()
	b.mu.Lock()
	now := b.cfg.Clock.Now()
	if e, ok := b.cache[k]; ok && now.Before(e.expires) {
		b.mu.Unlock()
		res := cachedResult(e)
		b.cfg.Metrics.Crossing(c.Dir, res)
		return res, nil
	}
	if b.refillLocked() > 0 {
		b.mu.Unlock()
		b.cfg.Metrics.Crossing(c.Dir, RateLimited)
		return RateLimited, nil
	}
	b.tokens--
	b.mu.Unlock()

	pctx, cancel := context.WithTimeout(ctx, b.cfg.ProbeTimeout)
	err := side.Prober.Probe(pctx, c.Target)
	cancel()
	if err != nil && ctx.Err() != nil {
		// Shutting down is not evidence against the node: cache nothing.
		return Failed, err
	}

	b.mu.Lock()
	now = b.cfg.Clock.Now()
	ttl := b.cfg.VerifiedTTL
	if err != nil {
		ttl = b.cfg.FailedTTL
	}
	b.storeLocked(k, cacheEntry{verified: err == nil, expires: now.Add(ttl)}, now)
	b.mu.Unlock()

	if err != nil {
		b.cfg.Metrics.Crossing(c.Dir, Failed)
		log.Debugw("probe failed; address does not cross", "dir", c.Dir, "addr", c.Target, "err", err)
		return Failed, err
	}
	if aerr := side.Book.AddAddress(c.Target, side.Self()); aerr != nil {
		b.cfg.Metrics.Crossing(c.Dir, BookRefused)
		log.Debugw("verified address refused by book", "dir", c.Dir, "addr", c.Target, "err", aerr)
		return BookRefused, aerr
	}
	b.cfg.Metrics.Crossing(c.Dir, Verified)
	log.Infow("address crossed", "dir", c.Dir, "addr", c.Target)
	return Verified, nil
}

func (b *Bridge) side(d Direction) Side {
	if d == ClassicToLibp2p {
		return b.cfg.Libp2p
	}
	return b.cfg.Classic
}

// storeLocked caches a result, keeping the cache within CacheSize by
// dropping expired entries first and then the one expiring soonest.
func (b *Bridge) storeLocked(k string, e cacheEntry, now time.Time) {
	if _, ok := b.cache[k]; !ok && len(b.cache) >= b.cfg.CacheSize {
		for ck, ce := range b.cache {
			if !now.Before(ce.expires) {
				delete(b.cache, ck)
			}
		}
		for len(b.cache) >= b.cfg.CacheSize {
			var oldest string
			var at time.Time
			for ck, ce := range b.cache {
				if oldest == "" || ce.expires.Before(at) {
					oldest, at = ck, ce.expires
				}
			}
			delete(b.cache, oldest)
		}
	}
	b.cache[k] = e
}

// CacheLen is the number of cached probe results (for tests and stats).
func (b *Bridge) CacheLen() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.cache)
}

type nopMetrics struct{}

func (nopMetrics) Crossing(Direction, Result) {}
