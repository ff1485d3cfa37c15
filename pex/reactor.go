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

	logging "github.com/ipfs/go-log/v2"

	"github.com/pexp2p/pexp2p/addrbook"
	"github.com/pexp2p/pexp2p/internal/clock"
)

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
	if r.cfg.PreferVerifiedAddrs {
		s, ok := r.book.(verifiedPreferrer)
		if !ok {
			return &ConfigError{Field: "PreferVerifiedAddrs", Value: true,
				Reason: fmt.Sprintf("the address book (%T) cannot prefer verified addresses", r.book)}
		}
		s.SetPreferVerified(true)
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
