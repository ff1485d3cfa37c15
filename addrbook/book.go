package addrbook

import (
	crand "crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"
)

// Options configure a Book. The zero value is a usable in-memory book with
// non-strict routability and classic IDs.
type Options struct {
	// FilePath is the addrbook.json to load on Start and save to; empty
	// means an in-memory book (Save and the periodic save do nothing).
	FilePath string
	// Strict refuses unroutable addresses and groups local and unroutable
	// ones together (upstream's addr_book_strict, default true there).
	Strict bool
	// IDRule decides which node IDs are accepted; nil means ClassicIDs.
	IDRule IDRule
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Rand is the source of every random choice (placement keys of a fresh
	// book, bucket draws, selections). It is used under the book's lock
	// only. Nil means a generator seeded from Seed, or from crypto/rand
	// when Seed is 0. A fixed seed gives the same book for the same calls.
	Rand *rand.Rand
	Seed uint64
	// SaveInterval is the period of the background save; 0 means
	// DefaultSaveInterval.
	SaveInterval time.Duration
	// Tick makes the save ticker; nil means a time.Ticker. Tests pass a
	// channel they drive, so periodic saving runs on virtual time.
	Tick func(d time.Duration) (c <-chan time.Time, stop func())
	// TestBeforeEvict makes a promotion into a full old bucket wait
	// until the entry it would push out has been tested and found dead
	// (evict.go); it needs SetEvictionTester. Off: upstream's immediate
	// demotion.
	TestBeforeEvict bool
	// ASMap, when set, groups addresses by AS number instead of /16 for
	// bucket placement and Group (asmap.go). Nil: upstream's groups.
	ASMap *ASMap
	// PreferVerified makes PickAddress favour entries whose primary
	// address their own peer signed (AddVerified); the rule is in
	// alternatives.go. Gossip selections stay upstream's either way. Off:
	// upstream's draws, untouched.
	PreferVerified bool
	// Logger receives warnings (corrupt file, dropped entries) and debug
	// events; nil discards them.
	Logger *slog.Logger
}

// Book is CometBFT's address book: 256 new and 64 old buckets of 64
// addresses each, placed by a keyed hash of the address's and the
// source's network groups, so that no single source or network can fill
// it (see doc.go). It is safe for concurrent use.
type Book struct {
	// Fixed at construction.
	filePath     string
	strict       bool
	rule         IDRule
	now          func() time.Time
	saveInterval time.Duration
	tick         func(time.Duration) (<-chan time.Time, func())
	log          *slog.Logger

	mu  sync.Mutex
	rng *rand.Rand

	key     string            // upstream's "key", hashed as a prefix
	hashKey [hashKeySize]byte // the HighwayHash key; persisted here, not upstream

	entries []knownAddress   // dense; order is arbitrary but deterministic
	lookup  map[string]int32 // ID -> index in entries
	nNew    int
	nOld    int

	srcs    []source
	srcIdx  map[NetAddress]int32
	srcFree []int32

	newB [newBucketCount]bucket
	oldB [oldBucketCount]bucket
	// Non-empty bucket indices per type, for O(1) uniform bucket draws.
	nonEmpty [2]bucketSet
	refs     [2]int // references (slots used) per type

	bans    map[string]*banRecord
	ours    map[string]struct{} // our addresses, as "id@ip:port"
	ourIDs  map[string]struct{}
	private map[string]struct{}

	// Scratch space reused by selections.
	mark    []uint32
	markGen uint32
	scratch map[int32]int32

	loadStats LoadStats

	// Test-before-evict (evict.go).
	asmap           *ASMap
	testBeforeEvict bool
	tester          EvictionTester
	pending         map[string]evictTest // by candidate ID
	toTest          []NetAddress         // queued under mu, run after it

	// Signed records and alternatives (alternatives.go).
	preferVerified bool
	nVerified      int // entries with a verified primary address

	// Lifecycle.
	lifeMu  sync.Mutex
	running bool
	loaded  bool
	quit    chan struct{}
	done    chan struct{}
	saveMu  sync.Mutex
	saveErr error
}

type bucket struct {
	n uint8
	e [bucketSize]int32
}

// source is an interned "src" address, shared by every entry learned from it.
type source struct {
	addr NetAddress
	refs int32
}

// bucketSet is the set of non-empty buckets of one type.
type bucketSet struct {
	list []uint16
	pos  []int16 // -1 when absent
}

func newBucketSet(n int) bucketSet {
	s := bucketSet{list: make([]uint16, 0, n), pos: make([]int16, n)}
	for i := range s.pos {
		s.pos[i] = -1
	}
	return s
}

func (s *bucketSet) add(i int) {
	if s.pos[i] >= 0 {
		return
	}
	s.pos[i] = int16(len(s.list))
	s.list = append(s.list, uint16(i))
}

func (s *bucketSet) remove(i int) {
	p := s.pos[i]
	if p < 0 {
		return
	}
	last := s.list[len(s.list)-1]
	s.list[p] = last
	s.pos[last] = p
	s.list = s.list[:len(s.list)-1]
	s.pos[i] = -1
}

// New makes a book. It does not read the file; Start does, as upstream.
func New(opts Options) (*Book, error) {
	if opts.SaveInterval < 0 {
		return nil, fmt.Errorf("%w: negative SaveInterval %v", ErrOptions, opts.SaveInterval)
	}
	b := &Book{
		filePath:     opts.FilePath,
		strict:       opts.Strict,
		rule:         opts.IDRule,
		now:          opts.Now,
		saveInterval: opts.SaveInterval,
		tick:         opts.Tick,
		log:          opts.Logger,
		rng:          opts.Rand,
		lookup:       make(map[string]int32),
		srcIdx:       make(map[NetAddress]int32),
		bans:         make(map[string]*banRecord),
		ours:         make(map[string]struct{}),
		ourIDs:       make(map[string]struct{}),
		private:      make(map[string]struct{}),
		scratch:      make(map[int32]int32),

		testBeforeEvict: opts.TestBeforeEvict,
		preferVerified:  opts.PreferVerified,
		asmap:           opts.ASMap,
		pending:         make(map[string]evictTest),
	}
	if b.rule == nil {
		b.rule = ClassicIDs
	}
	if b.now == nil {
		b.now = time.Now
	}
	if b.saveInterval == 0 {
		b.saveInterval = DefaultSaveInterval
	}
	if b.tick == nil {
		b.tick = func(d time.Duration) (<-chan time.Time, func()) {
			t := time.NewTicker(d)
			return t.C, t.Stop
		}
	}
	if b.log == nil {
		b.log = slog.New(slog.DiscardHandler)
	}
	if b.rng == nil {
		seed := opts.Seed
		var seed2 uint64
		if seed == 0 {
			var s [16]byte
			_, _ = crand.Read(s[:]) // crypto/rand.Read never fails on supported platforms
			seed = binary.LittleEndian.Uint64(s[:8])
			seed2 = binary.LittleEndian.Uint64(s[8:])
		}
		b.rng = rand.New(rand.NewPCG(seed, seed2))
	}
	b.nonEmpty[0] = newBucketSet(newBucketCount)
	b.nonEmpty[1] = newBucketSet(oldBucketCount)
	b.newKeys()
	return b, nil
}

// newKeys draws a fresh book key and hash key from the book's generator:
// with a seeded generator the placement is reproducible, with the default
// one it is as unpredictable as upstream's crypto-random keys.
func (b *Book) newKeys() {
	var k [bookKeyHexLen / 2]byte
	for i := range k {
		k[i] = byte(b.rng.Uint32())
	}
	b.key = hex.EncodeToString(k[:])
	for i := 0; i < hashKeySize; i += 8 {
		binary.LittleEndian.PutUint64(b.hashKey[i:], b.rng.Uint64())
	}
}

// IDRule returns the rule the book checks IDs with.
func (b *Book) IDRule() IDRule { return b.rule }

// FilePath returns the file the book loads and saves.
func (b *Book) FilePath() string { return b.filePath }

func (b *Book) nowNanos() int64 { return b.now().UnixNano() }

// normID returns the stored spelling of id: unchanged when it is already
// known, else the rule's normal form (or id itself if the rule refuses it,
// so an unknown ID simply stays unknown).
func (b *Book) normID(id string) string {
	if _, ok := b.lookup[id]; ok {
		return id
	}
	if n, err := b.rule.Normalize(id); err == nil {
		return n
	}
	return id
}

// AddOurAddress records one of our own addresses: it is never stored, and
// neither is any other address carrying our ID (upstream matches only the
// exact id@ip:port; see compat.md).
func (b *Book) AddOurAddress(addr NetAddress) {
	b.mu.Lock()
	defer b.mu.Unlock()
	addr.ID = b.normID(addr.ID)
	b.ours[addr.String()] = struct{}{}
	if addr.ID != "" {
		b.ourIDs[addr.ID] = struct{}{}
		if i, ok := b.lookup[addr.ID]; ok {
			b.removeEntry(i)
		}
	}
}

// OurAddress reports whether addr is exactly one of our addresses
// (exact id@ip:port match, as upstream).
func (b *Book) OurAddress(addr NetAddress) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	addr.ID = b.normID(addr.ID)
	_, ok := b.ours[addr.String()]
	return ok
}

// AddPrivateIDs marks IDs whose addresses must never be stored or
// gossiped. Unlike upstream, entries already in the book with such an ID,
// or learned from such a source, are removed at once (upstream keeps them
// and goes on gossiping them).
func (b *Book) AddPrivateIDs(ids []string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, id := range ids {
		n, err := b.rule.Normalize(id)
		if err != nil {
			b.log.Warn("ignoring invalid private peer ID", "id", id, "err", err)
			continue
		}
		b.private[n] = struct{}{}
	}
	for i := len(b.entries) - 1; i >= 0; i-- {
		if i >= len(b.entries) {
			continue
		}
		ka := &b.entries[i]
		_, p := b.private[ka.id]
		_, ps := b.private[b.srcs[ka.src].addr.ID]
		if p || ps {
			b.removeEntry(int32(i))
		}
	}
}

// AddAddress adds addr, learned from src, to a new bucket, after upstream's
// checks in upstream's order (the first failure wins). A known,
// new ID is placed in one more bucket with probability 1/(2n), n being the
// buckets it is in already, at most 4; the first address learned for an ID
// is kept and later ones are discarded, as upstream. Errors are *AddError.
func (b *Book) AddAddress(addr, src NetAddress) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.addAddress(addr, src)
}

func (b *Book) addAddress(addr, src NetAddress) error {
	addr, src, err := b.admit(addr, src)
	if err != nil {
		return err
	}
	// The incoming pair decides the bucket even for a known ID, as
	// upstream, so a sender can steer which extra buckets a known
	// ID lands in.
	if i, ok := b.lookup[addr.ID]; ok {
		ka := &b.entries[i]
		if ka.isOld() {
			return nil // a good address's IP is never replaced (tendermint#1581)
		}
		if int(ka.nb) >= maxNewBucketsPerAddress {
			return nil
		}
		if b.rng.IntN(2*int(ka.nb)) != 0 {
			return nil
		}
		idx := b.calcNewBucket(addr, src)
		if ka.refIndex(idx) >= 0 {
			return nil
		}
		b.makeRoom(bucketTypeNew, idx)
		i = b.lookup[addr.ID] // makeRoom may have moved entries
		b.place(i, idx)
		return nil
	}
	b.addNew(addr, src, nil)
	return nil
}

// addNew stores a new entry for an unknown ID in the new bucket addr and
// src hash to.
func (b *Book) addNew(addr, src NetAddress, ext *entryExt) {
	idx := b.calcNewBucket(addr, src)
	b.makeRoom(bucketTypeNew, idx)
	ka := newKnownAddress(addr, b.internSource(src), b.nowNanos())
	ka.ext = ext
	b.place(b.appendEntry(ka), idx)
}

// admit is AddAddress's checks: it returns addr and src normalised, or
// the *AddError of the first check that fails.
func (b *Book) admit(addr, src NetAddress) (NetAddress, NetAddress, error) {
	if src.IsZero() {
		return addr, src, &AddError{Addr: addr, Src: src, Reason: ErrNoSource}
	}
	if addr.ID != "" {
		id, err := b.rule.Normalize(addr.ID)
		if err != nil {
			return addr, src, &AddError{Addr: addr, Src: src, Reason: ErrInvalidAddress,
				Err: &AddressError{Input: addr.String(), Reason: "bad ID", Err: err}}
		}
		addr.ID = id
	}
	addr.IP = addr.IP.Unmap()
	if err := addr.Valid(); err != nil {
		return addr, src, &AddError{Addr: addr, Src: src, Reason: ErrInvalidAddress, Err: err}
	}
	if src.ID != "" {
		if id, err := b.rule.Normalize(src.ID); err == nil {
			src.ID = id
		}
	}
	src.IP = src.IP.Unmap()
	now := b.nowNanos()
	if ban, ok := b.bans[addr.ID]; ok {
		if ban.until > now {
			return addr, src, &AddError{Addr: addr, Src: src, Reason: ErrBanned}
		}
		// An expired ban no longer blocks (upstream blocks until
		// ReinstateBadPeers runs); forget it.
		delete(b.bans, addr.ID)
	}
	if _, ok := b.private[addr.ID]; ok {
		return addr, src, &AddError{Addr: addr, Src: src, Reason: ErrPrivate}
	}
	if _, ok := b.private[src.ID]; ok {
		return addr, src, &AddError{Addr: addr, Src: src, Reason: ErrPrivateSource}
	}
	if _, ok := b.ourIDs[addr.ID]; ok {
		return addr, src, &AddError{Addr: addr, Src: src, Reason: ErrSelf}
	}
	if len(b.ours) > 0 {
		var buf [128]byte
		if _, ok := b.ours[string(appendAddrString(buf[:0], addr))]; ok {
			return addr, src, &AddError{Addr: addr, Src: src, Reason: ErrSelf}
		}
	}
	if b.strict && !addr.Routable() {
		return addr, src, &AddError{Addr: addr, Src: src, Reason: ErrNonRoutable}
	}
	return addr, src, nil
}

// RemoveAddress removes the entry with that ID; unknown IDs are ignored.
func (b *Book) RemoveAddress(id string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if i, ok := b.lookup[b.normID(id)]; ok {
		b.removeEntry(i)
	}
}

// HasAddress reports whether an entry with that ID is in the book,
// whatever its IP and port.
func (b *Book) HasAddress(id string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	_, ok := b.lookup[b.normID(id)]
	return ok
}

// Lookup returns the stored address for an ID.
func (b *Book) Lookup(id string) (NetAddress, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	i, ok := b.lookup[b.normID(id)]
	if !ok {
		return NetAddress{}, false
	}
	return b.entries[i].addr(), true
}

// Size is the number of stored addresses, one per ID.
func (b *Book) Size() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.nNew + b.nOld
}

// Counts is what the book holds, by class: cheap enough for every
// metrics scrape (no copy of the book).
type Counts struct {
	New    int
	Old    int
	Banned int // bans not yet expired
}

// Counts returns the number of new and old addresses and live bans.
func (b *Book) Counts() Counts {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.nowNanos()
	c := Counts{New: b.nNew, Old: b.nOld}
	for _, rec := range b.bans {
		if rec.until > now {
			c.Banned++
		}
	}
	return c
}

// Empty reports Size() == 0.
func (b *Book) Empty() bool { return b.Size() == 0 }

// NeedMoreAddrs reports Size() < NeedAddressThreshold.
func (b *Book) NeedMoreAddrs() bool { return b.Size() < NeedAddressThreshold }

// MarkGood records a successful connection and promotes a new address to
// an old bucket; an unknown ID is ignored.
func (b *Book) MarkGood(id string) {
	b.mu.Lock()
	i, ok := b.lookup[b.normID(id)]
	if !ok {
		b.mu.Unlock()
		return
	}
	b.entries[i].markGood(b.nowNanos())
	if b.entries[i].isNew() {
		b.moveToOld(i)
	}
	tester, tests := b.tester, b.takeTests()
	b.mu.Unlock()
	if len(tests) > 0 {
		b.runTests(tester, tests)
	}
}

// MarkAttempt records a failed (or any) connection attempt; an
// unknown ID is ignored.
func (b *Book) MarkAttempt(id string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if i, ok := b.lookup[b.normID(id)]; ok {
		b.entries[i].markAttempt(b.nowNanos())
	}
}

// IsGood reports whether the ID is stored in an old bucket; an unknown ID
// is not good (upstream panics with a nil dereference).
func (b *Book) IsGood(id string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	i, ok := b.lookup[b.normID(id)]
	return ok && b.entries[i].isOld()
}
