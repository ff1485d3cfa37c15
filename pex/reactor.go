package pex

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"net/netip"
	"sort"
	"sync"
	"time"

	tmp2p "github.com/cometbft/cometbft/proto/tendermint/p2p"
	logging "github.com/ipfs/go-log/v2"

	"github.com/pexp2p/pexp2p/addrbook"
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

var defaultLogger = logging.Logger("pex")

// maxOutstanding bounds how many unanswered requests (sent after
// timeouts) a peer may still answer without being unsolicited.
const maxOutstanding = 4

type peerState struct {
	info PeerInfo
	// Requests we sent that are unanswered; the latest was sent at reqSentAt.
	reqOutstanding int
	reqSentAt      time.Time
	// recvAllowedAt is the theoretical arrival time of the peer's next
	// request under the request rate (a GCRA, see handleRequest).
	recvAllowedAt time.Time
	// lastArrival is the latest arrival time a face reported for one of
	// the peer's requests (ReceiveAt).
	lastArrival time.Time
	// answered is set once a seed or over-limit peer got its one answer.
	answered bool
	grace    clock.Timer
}

type dialRecord struct {
	addr       addrbook.NetAddress
	attempts   int
	lastDialed time.Time
}

type crawlInfo struct {
	addr        addrbook.NetAddress
	lastCrawled time.Time
}

// Reactor is CometBFT's PEX reactor over an abstract Network. Create it
// with NewReactor, hand it to the network face (AddPeer, RemovePeer,
// Receive), then Start it.
type Reactor struct {
	book    AddrBook
	net     Network
	cfg     Config
	cfgErr  error
	clk     clock.Clock
	rng     *mrand.Rand
	goFn    func(func())
	obs     Observer
	resolve ResolverFunc
	log     Logger

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu        sync.Mutex
	started   bool
	stopped   bool
	peers     map[string]*peerState
	attempts  map[string]*dialRecord // by DialString, as upstream
	crawled   map[string]crawlInfo
	seedAddrs []addrbook.NetAddress
	seedIDs   map[string]bool
	tick      clock.Timer
	probes    map[string]*probeState // by ID (probe.go)
	feeler    clock.Timer            // feeler.go
	feeling   bool                   // a feeler is under way
	// Anchors (anchors.go).
	anchorStore AnchorStore
	anchors     []addrbook.NetAddress // loaded at Start, dialled first

	// The routine: ticks and wake-ups are coalesced and run one at a time.
	loopRunning  bool
	firstPending bool
	tickPending  bool
	wakePending  bool
}

// NewReactor builds a reactor over book and network. An invalid cfg is
// reported by Start.
func NewReactor(book AddrBook, network Network, cfg Config, opts ...Option) *Reactor {
	if cfg.IDRule == nil {
		cfg.IDRule = addrbook.ClassicIDs
	}
	r := &Reactor{
		book:     book,
		net:      network,
		cfg:      cfg,
		cfgErr:   cfg.Validate(),
		clk:      clock.System,
		obs:      NopObserver{},
		log:      defaultLogger,
		peers:    make(map[string]*peerState),
		attempts: make(map[string]*dialRecord),
		crawled:  make(map[string]crawlInfo),
		seedIDs:  make(map[string]bool),
		probes:   make(map[string]*probeState),
	}
	r.resolve = func(ctx context.Context, host string) ([]netip.Addr, error) {
		return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	}
	for _, o := range opts {
		o(r)
	}
	if r.rng == nil {
		var seed [16]byte
		_, _ = rand.Read(seed[:])
		r.rng = mrand.New(mrand.NewPCG(binary.LittleEndian.Uint64(seed[:8]), binary.LittleEndian.Uint64(seed[8:])))
	}
	r.ctx, r.cancel = context.WithCancel(context.Background())
	return r
}

// Config returns the reactor's configuration.
func (r *Reactor) Config() Config { return r.cfg }

// Start starts the book, parses the seeds and starts the ensure-peers
// routine, or the crawler in seed mode, in upstream's start order.
func (r *Reactor) Start() error {
	if r.cfgErr != nil {
		return r.cfgErr
	}
	r.mu.Lock()
	if r.started {
		r.mu.Unlock()
		return ErrAlreadyStarted
	}
	r.started = true
	r.mu.Unlock()

	fail := func(err error) error {
		r.mu.Lock()
		r.started = false
		r.mu.Unlock()
		return err
	}
	if err := r.book.Start(); err != nil {
		return fail(fmt.Errorf("starting address book: %w", err))
	}
	numOnline, seeds, err := r.checkSeeds()
	if err == nil && numOnline == 0 && r.book.Empty() {
		err = ErrEmptyBookNoSeeds
	}
	if err != nil {
		if serr := r.book.Stop(); serr != nil {
			r.log.Warnw("stopping address book after failed start", "err", serr)
		}
		return fail(err)
	}

	if s, ok := r.book.(evictionTesterSetter); ok {
		s.SetEvictionTester(r)
	}
	r.loadAnchors()
	r.mu.Lock()
	r.seedAddrs = seeds
	for _, s := range seeds {
		r.seedIDs[s.ID] = true
	}
	r.firstPending = true
	r.mu.Unlock()

	var first time.Duration
	if !r.cfg.SeedMode && r.nodeHasSomePeersOrDialingAny() {
		// Spread the first round of a node that already has peers, so a
		// fleet restarted together does not ask all at once.
		r.mu.Lock()
		first = time.Duration(r.rng.Int64N(int64(r.cfg.EnsurePeersPeriod)))
		r.mu.Unlock()
	}
	r.mu.Lock()
	r.tick = r.clk.AfterFunc(first, r.timerFunc(r.onFirst))
	r.armFeelerLocked()
	r.mu.Unlock()
	r.log.Infow("pex reactor started", "seed_mode", r.cfg.SeedMode, "seeds", len(seeds), "book_size", r.book.Size())
	return nil
}

// Stop stops the routines, waits for the reactor's in-flight work
// (cancelling dials) and stops the book, returning its error.
func (r *Reactor) Stop() error {
	r.mu.Lock()
	if !r.started || r.stopped {
		r.mu.Unlock()
		return ErrNotStarted
	}
	r.mu.Unlock()
	r.saveAnchors() // while the connections are still up
	r.mu.Lock()
	if r.stopped { // a concurrent Stop got there first
		r.mu.Unlock()
		return ErrNotStarted
	}
	r.stopped = true
	if r.tick != nil {
		r.tick.Stop()
	}
	if r.feeler != nil {
		r.feeler.Stop()
	}
	for _, ps := range r.peers {
		if ps.grace != nil {
			ps.grace.Stop()
		}
	}
	r.mu.Unlock()
	r.cancel()
	r.wg.Wait()
	r.endProbes()
	if s, ok := r.book.(evictionTesterSetter); ok {
		s.SetEvictionTester(nil)
	}
	return r.book.Stop()
}

// enter registers in-flight work; false once the reactor is stopped.
func (r *Reactor) enter() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopped {
		return false
	}
	r.wg.Add(1)
	return true
}

func (r *Reactor) exit() { r.wg.Done() }

// timerFunc wraps a clock callback so that Stop waits for it.
func (r *Reactor) timerFunc(f func()) func() {
	return func() {
		if !r.enter() {
			return
		}
		defer r.exit()
		f()
	}
}

// spawn runs f off the caller's goroutine.
func (r *Reactor) spawn(f func()) {
	if r.goFn != nil {
		r.goFn(r.timerFunc(f))
		return
	}
	if !r.enter() {
		return
	}
	go func() {
		defer r.exit()
		f()
	}()
}

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

// AddPeer is called by the face once a peer is set up.
func (r *Reactor) AddPeer(p PeerInfo) {
	ps := &peerState{info: p}
	r.mu.Lock()
	if r.stopped {
		r.mu.Unlock()
		return
	}
	if old := r.peers[p.ID]; old != nil && old.grace != nil {
		old.grace.Stop()
	}
	r.peers[p.ID] = ps
	if p.OverLimit {
		id := p.ID
		ps.grace = r.clk.AfterFunc(r.cfg.OverLimitGrace, r.timerFunc(func() { r.dropOverLimit(id, ps) }))
	}
	r.mu.Unlock()

	if p.Outbound && r.isProbe(p.ID) {
		// A probe only wants to know that the peer answers (probe.go).
		return
	}
	if p.Outbound {
		// The address of an outbound peer is in the book already.
		if r.cfg.MarkGoodOnOutbound {
			// We reached it at that address and it proved its ID: the
			// evidence Bitcoin Core and btcd use to move an address to
			// the tried (old) table. Upstream only marks good through
			// consensus (10000 votes or block parts), so on a node
			// without consensus nothing ever becomes old and the
			// eclipse-resistant old buckets stay empty.
			r.book.MarkGood(p.ID)
		}
		if r.book.NeedMoreAddrs() {
			r.requestAddrs(p.ID)
		}
		return
	}
	// An inbound peer is its own source; we do not ask it right away
	// because inbound peers are trusted less (ensurePeers may later).
	addr := p.ListenAddr
	if addr.IsZero() {
		r.log.Debugw("inbound peer advertised no usable address", "peer", p.ID)
		return
	}
	if addr.ID != p.ID {
		r.log.Debugw("inbound peer advertised another ID", "peer", p.ID, "addr", addr)
		return
	}
	if err := r.book.AddAddress(addr, addr); err != nil {
		r.log.Debugw("not adding inbound peer's address", "addr", addr, "err", err)
	}
}

// dropOverLimit ends the visit of a peer accepted beyond the inbound limit
// that never asked for addresses.
func (r *Reactor) dropOverLimit(id string, ps *peerState) {
	r.mu.Lock()
	if r.peers[id] != ps || ps.answered {
		r.mu.Unlock()
		return
	}
	ps.answered = true
	r.mu.Unlock()
	r.net.StopPeerGracefully(id)
}

// RemovePeer forgets the peer's request state.
func (r *Reactor) RemovePeer(peerID string, reason any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if ps := r.peers[peerID]; ps != nil {
		if ps.grace != nil {
			ps.grace.Stop()
		}
		delete(r.peers, peerID)
	}
	r.log.Debugw("peer removed", "peer", peerID, "reason", reason)
}

// Receive handles one PEX message from a connected peer.
func (r *Reactor) Receive(peerID string, msg Message) {
	r.ReceiveAt(peerID, msg, time.Time{})
}

// ReceiveAt is Receive for a face that knows when the message reached the
// node (for libp2p, when its stream was accepted), before the face's own
// goroutines and protocol negotiation delayed it. A peer's request rate
// is measured from that time, so a node that is slow to handle its
// streams does not take an honest peer's requests, queued on its side,
// for a burst. A zero time, or one after the reactor's clock, means now.
func (r *Reactor) ReceiveAt(peerID string, msg Message, arrived time.Time) {
	if w, ok := msg.(*tmp2p.Message); ok {
		inner, err := w.Unwrap()
		if err != nil {
			r.log.Debugw("undecodable PEX message", "peer", peerID, "err", err)
			return
		}
		msg = inner
	}
	switch m := msg.(type) {
	case *tmp2p.PexRequest:
		r.handleRequest(peerID, arrived)
	case *tmp2p.PexAddrs:
		r.handleAddrs(peerID, m)
	default:
		// As upstream: an unknown type that got this far is only logged.
		r.log.Warnw("unknown PEX message type", "peer", peerID, "type", fmt.Sprintf("%T", msg))
	}
}

func (r *Reactor) handleRequest(peerID string, arrived time.Time) {
	r.mu.Lock()
	ps := r.peers[peerID]
	if ps == nil || r.stopped {
		r.mu.Unlock()
		r.log.Debugw("PexRequest from a peer not added (or reactor stopped)", "peer", peerID)
		return
	}
	r.obs.PexRequest(DirReceived)

	// A seed answers an inbound peer once, then lets it go; so does any
	// node for a peer its face accepted beyond the inbound limit.
	if (r.cfg.SeedMode && !ps.info.Outbound) || ps.info.OverLimit {
		if ps.answered {
			// The graceful stop is already under way.
			r.mu.Unlock()
			return
		}
		ps.answered = true
		if ps.grace != nil {
			ps.grace.Stop()
		}
		r.mu.Unlock()
		var sel []addrbook.NetAddress
		if r.cfg.SeedMode {
			sel = r.book.GetSelectionWithBias(r.cfg.BiasToSelectNewPeers)
		} else {
			sel = r.book.GetSelection()
		}
		r.sendAddrs(peerID, sel)
		r.spawn(func() { r.net.StopPeerGracefully(peerID) })
		return
	}

	// The spacing as a rate, not as a gap between arrivals: upstream lets the
	// first two requests through and then wants every request at least
	// the interval after the previous one. Measured on arrival, that bans
	// honest peers whose requests arrive bunched (each message travels on
	// its own stream here, and a loaded host delivers two requests sent
	// 1.26 s apart 0.26 s apart). The cell-rate check below allows the
	// same long-run rate, one request per interval, with a burst of
	// RequestBurst (upstream's "first two free"): a steady requester
	// sees exactly upstream's rule, a flood is still caught at once.
	now := r.clk.Now()
	if !arrived.IsZero() && arrived.Before(now) {
		// Streams are handled concurrently, so arrival times can reach
		// us out of order; an earlier one than already seen counts as
		// arriving with the latest, never as a gap that was not there.
		now = arrived
		if now.Before(ps.lastArrival) {
			now = ps.lastArrival
		}
		ps.lastArrival = now
	}
	interval := r.cfg.minReceiveInterval()
	allowedAt := ps.recvAllowedAt
	if allowedAt.Before(now) {
		allowedAt = now
	}
	if tolerance := time.Duration(r.cfg.RequestBurst-1) * interval; allowedAt.Sub(now) > tolerance {
		info := ps.info
		delete(r.peers, peerID)
		r.mu.Unlock()
		r.punish(info, &MisbehaviorError{
			PeerID: peerID, Reason: ReasonRequestTooSoon,
			Detail: fmt.Sprintf("now %v, next request allowed from %v (one per %v, burst %d)",
				now, allowedAt.Add(-tolerance), interval, r.cfg.RequestBurst),
		})
		return
	}
	ps.recvAllowedAt = allowedAt.Add(interval)
	r.mu.Unlock()
	r.sendAddrs(peerID, r.book.GetSelection())
}

func (r *Reactor) sendAddrs(peerID string, addrs []addrbook.NetAddress) {
	if len(addrs) > r.cfg.MaxAddrsPerMsg {
		addrs = addrs[:r.cfg.MaxAddrsPerMsg]
	}
	r.net.Send(peerID, &tmp2p.PexAddrs{Addrs: AddrsToProto(addrs)})
}

// punish disconnects and bans a misbehaving peer.
func (r *Reactor) punish(info PeerInfo, err *MisbehaviorError) {
	r.obs.Misbehavior(err.Reason)
	r.log.Infow("peer misbehaved; disconnecting and banning", "peer", info.ID, "reason", err.Reason, "err", err)
	r.net.StopPeerForError(info.ID, err)
	r.book.MarkBad(peerAddr(info), r.cfg.BanTime)
	r.obs.Ban()
}

// peerAddr is the address a peer is known by: what it advertises, else
// where it connects from.
func peerAddr(info PeerInfo) addrbook.NetAddress {
	if !info.ListenAddr.IsZero() && info.ListenAddr.ID == info.ID {
		return info.ListenAddr
	}
	return addrbook.NetAddress{ID: info.ID, IP: info.RemoteIP}
}

// requestAddrs sends a PexRequest unless one is outstanding and not yet
// timed out (the timeout is pexp2p's fix; upstream's never expires).
func (r *Reactor) requestAddrs(peerID string) bool {
	r.mu.Lock()
	ps := r.peers[peerID]
	if ps == nil || r.stopped {
		r.mu.Unlock()
		return false
	}
	now := r.clk.Now()
	if ps.reqOutstanding > 0 && now.Sub(ps.reqSentAt) < r.cfg.requestTimeout() {
		r.mu.Unlock()
		return false
	}
	// Mark before sending: the answer may arrive before Send returns.
	prevSent := ps.reqSentAt
	if ps.reqOutstanding < maxOutstanding {
		ps.reqOutstanding++
	}
	ps.reqSentAt = now
	r.mu.Unlock()

	if !r.net.Send(peerID, &tmp2p.PexRequest{}) {
		r.mu.Lock()
		if r.peers[peerID] == ps && ps.reqOutstanding > 0 {
			ps.reqOutstanding--
			ps.reqSentAt = prevSent
		}
		r.mu.Unlock()
		return false
	}
	r.obs.PexRequest(DirSent)
	r.log.Debugw("requested addresses", "peer", peerID)
	return true
}

func (r *Reactor) handleAddrs(peerID string, m *tmp2p.PexAddrs) {
	r.mu.Lock()
	ps := r.peers[peerID]
	if ps == nil || r.stopped {
		r.mu.Unlock()
		r.log.Debugw("PexAddrs from a peer not added (or reactor stopped)", "peer", peerID)
		return
	}
	info := ps.info
	if ps.reqOutstanding == 0 {
		delete(r.peers, peerID)
		r.mu.Unlock()
		r.punish(info, &MisbehaviorError{PeerID: peerID, Reason: ReasonUnsolicited})
		return
	}
	ps.reqOutstanding--
	r.mu.Unlock()

	if len(m.Addrs) > r.cfg.MaxAddrsPerMsg {
		r.forget(peerID, ps)
		r.punish(info, &MisbehaviorError{PeerID: peerID, Reason: ReasonTooManyAddrs,
			Detail: fmt.Sprintf("%d addresses, limit %d", len(m.Addrs), r.cfg.MaxAddrsPerMsg)})
		return
	}
	addrs := make([]addrbook.NetAddress, 0, len(m.Addrs))
	for i, pb := range m.Addrs {
		a, err := NetAddressFromWire(r.cfg.IDRule, pb)
		if err != nil {
			r.forget(peerID, ps)
			r.punish(info, &MisbehaviorError{PeerID: peerID, Reason: ReasonInvalidAddr,
				Detail: fmt.Sprintf("entry %d", i), Cause: err})
			return
		}
		addrs = append(addrs, a)
	}
	src := peerAddr(info)
	for _, a := range addrs {
		// Validity beyond the wire (routability, ours, private, banned)
		// is the book's decision and is not the sender's fault.
		if err := r.book.AddAddress(a, src); err != nil {
			r.log.Debugw("not adding received address", "addr", a, "from", peerID, "err", err)
		}
	}
	r.obs.AddrsReceived(len(addrs))

	// Fast dial after a seed answers (tendermint#2093), matched by the
	// authenticated ID, not by the seed's self-reported address.
	r.mu.Lock()
	fromSeed := r.seedIDs[peerID] && !r.cfg.SeedMode
	r.mu.Unlock()
	if fromSeed {
		r.kick(kickWake, false)
	}
}

func (r *Reactor) forget(peerID string, ps *peerState) {
	r.mu.Lock()
	if r.peers[peerID] == ps {
		delete(r.peers, peerID)
	}
	r.mu.Unlock()
}

// NetAddressFromWire converts one PexAddrs entry and rejects what no
// honest CometBFT book can hold: a bad ID, IP or port, or an address that
// fails upstream's NetAddress.Valid (unspecified, broadcast, RFC 3849).
func NetAddressFromWire(rule addrbook.IDRule, pb tmp2p.NetAddress) (addrbook.NetAddress, error) {
	a, err := AddrFromProto(rule, pb)
	if err != nil {
		return addrbook.NetAddress{}, err
	}
	reason := ""
	switch {
	case a.IP.IsUnspecified():
		reason = "unspecified IP"
	case a.IP == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		reason = "broadcast IP"
	case rfc3849.Contains(a.IP):
		reason = "IPv6 documentation prefix (RFC 3849)"
	}
	if reason != "" {
		return addrbook.NetAddress{}, &addrbook.AddressError{Input: a.String(), Reason: reason}
	}
	return a, nil
}

var rfc3849 = netip.MustParsePrefix("2001:db8::/32")

// peerIDsLocked returns the sorted IDs of the tracked peers that pass
// filter; callers hold r.mu.
func (r *Reactor) peerIDsLocked(filter func(*peerState) bool) []string {
	ids := make([]string, 0, len(r.peers))
	for id, ps := range r.peers {
		if filter(ps) {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids
}

// errStopped is returned by work cut short by Stop.
var errStopped = errors.New("pex reactor stopped")
