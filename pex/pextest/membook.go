package pextest

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"sync"
	"time"

	"github.com/pexp2p/pexp2p/addrbook"
	"github.com/pexp2p/pexp2p/internal/clock"
	"github.com/pexp2p/pexp2p/pex"
)

// MemBook is a small, unbucketed address book implementing pex.AddrBook,
// for tests that need a predictable book rather than *addrbook.Book's
// eclipse-resistant one. It keeps upstream's selection sizes (23 %, min
// 32, max 250), NeedMoreAddrs threshold (1000), new/old split and bans.
type MemBook struct {
	clk clock.Clock

	mu       sync.Mutex
	rng      *rand.Rand
	addrs    map[string]*memEntry
	order    []string // IDs in insertion order, for deterministic picks
	ours     map[string]bool
	private  map[string]bool
	banned   map[string]memBan
	started  bool
	Starts   int
	Stops    int
	StartErr error
	// NeedThreshold replaces 1000 in NeedMoreAddrs when positive.
	NeedThreshold int
}

type memEntry struct {
	addr     addrbook.NetAddress
	src      addrbook.NetAddress
	old      bool
	attempts int
}

type memBan struct {
	addr  addrbook.NetAddress
	until time.Time
}

var _ pex.AddrBook = (*MemBook)(nil)

// Errors MemBook.AddAddress returns.
var (
	ErrBookOurs    = errors.New("membook: our own address")
	ErrBookPrivate = errors.New("membook: private ID")
	ErrBookBanned  = errors.New("membook: banned ID")
	ErrBookInvalid = errors.New("membook: invalid address")
)

// NewMemBook returns an empty book using clk for bans and rng for picks.
func NewMemBook(clk clock.Clock, rng *rand.Rand) *MemBook {
	return &MemBook{clk: clk, rng: rng, addrs: map[string]*memEntry{}, ours: map[string]bool{},
		private: map[string]bool{}, banned: map[string]memBan{}}
}

func (b *MemBook) Start() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.Starts++
	b.started = true
	return b.StartErr
}

func (b *MemBook) Stop() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.Stops++
	b.started = false
	return nil
}

func (b *MemBook) Save() error { return nil }

func (b *MemBook) AddOurAddress(a addrbook.NetAddress) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.ours[a.ID] = true
}

func (b *MemBook) OurAddress(a addrbook.NetAddress) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.ours[a.ID]
}

func (b *MemBook) AddPrivateIDs(ids []string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, id := range ids {
		b.private[id] = true
	}
}

// AddAddress refuses our own, private, banned and unspecified addresses
// and addresses learned from a private source; a known ID keeps its first
// address, as upstream's book does.
func (b *MemBook) AddAddress(a, src addrbook.NetAddress) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case !a.IP.IsValid() || a.IP.IsUnspecified() || a.ID == "":
		return fmt.Errorf("%w: %s", ErrBookInvalid, a)
	case b.ours[a.ID]:
		return fmt.Errorf("%w: %s", ErrBookOurs, a)
	case b.private[a.ID] || b.private[src.ID]:
		return fmt.Errorf("%w: %s (src %s)", ErrBookPrivate, a, src.ID)
	case b.bannedLocked(a.ID):
		return fmt.Errorf("%w: %s", ErrBookBanned, a)
	}
	if _, ok := b.addrs[a.ID]; ok {
		return nil
	}
	b.addrs[a.ID] = &memEntry{addr: a, src: src}
	b.order = append(b.order, a.ID)
	return nil
}

func (b *MemBook) bannedLocked(id string) bool {
	ban, ok := b.banned[id]
	return ok && b.clk.Now().Before(ban.until)
}

func (b *MemBook) RemoveAddress(id string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.removeLocked(id)
}

func (b *MemBook) removeLocked(id string) {
	if _, ok := b.addrs[id]; !ok {
		return
	}
	delete(b.addrs, id)
	for i, x := range b.order {
		if x == id {
			b.order = append(b.order[:i], b.order[i+1:]...)
			break
		}
	}
}

func (b *MemBook) HasAddress(id string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	_, ok := b.addrs[id]
	return ok
}

func (b *MemBook) NeedMoreAddrs() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	t := 1000
	if b.NeedThreshold > 0 {
		t = b.NeedThreshold
	}
	return len(b.addrs) < t
}

func (b *MemBook) Empty() bool { return b.Size() == 0 }

func (b *MemBook) Size() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.addrs)
}

// PickAddress picks among new addresses with probability bias % (when
// both kinds exist), uniformly within the kind.
func (b *MemBook) PickAddress(bias int) (addrbook.NetAddress, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var nw, old []string
	for _, id := range b.order {
		if b.addrs[id].old {
			old = append(old, id)
		} else {
			nw = append(nw, id)
		}
	}
	bias = max(0, min(100, bias))
	var from []string
	switch {
	case len(nw) == 0 && len(old) == 0:
		return addrbook.NetAddress{}, false
	case len(nw) == 0:
		if bias == 100 {
			return addrbook.NetAddress{}, false
		}
		from = old
	case len(old) == 0:
		from = nw // upstream returns a new one even for bias 0
	default:
		if b.rng.IntN(100) < bias {
			from = nw
		} else {
			from = old
		}
	}
	return b.addrs[from[b.rng.IntN(len(from))]].addr, true
}

func (b *MemBook) MarkGood(id string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if e := b.addrs[id]; e != nil {
		e.old, e.attempts = true, 0
	}
}

func (b *MemBook) MarkAttempt(id string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if e := b.addrs[id]; e != nil {
		e.attempts++
	}
}

// Attempts returns the MarkAttempt count of id.
func (b *MemBook) Attempts(id string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	if e := b.addrs[id]; e != nil {
		return e.attempts
	}
	return 0
}

func (b *MemBook) MarkBad(a addrbook.NetAddress, d time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if e := b.addrs[a.ID]; e != nil {
		a = e.addr
	}
	b.removeLocked(a.ID)
	b.banned[a.ID] = memBan{addr: a, until: b.clk.Now().Add(d)}
}

func (b *MemBook) IsBanned(id string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.bannedLocked(id)
}

func (b *MemBook) IsGood(id string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	e := b.addrs[id]
	return e != nil && e.old
}

// ReinstateBadPeers puts expired bans back as new addresses.
func (b *MemBook) ReinstateBadPeers() {
	b.mu.Lock()
	defer b.mu.Unlock()
	ids := make([]string, 0, len(b.banned))
	for id := range b.banned {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		ban := b.banned[id]
		if b.clk.Now().Before(ban.until) {
			continue
		}
		delete(b.banned, id)
		if _, ok := b.addrs[id]; !ok {
			b.addrs[id] = &memEntry{addr: ban.addr, src: ban.addr}
			b.order = append(b.order, id)
		}
	}
}

func selectionSize(n int) int {
	s := n * 23 / 100
	s = max(s, min(32, n))
	return min(s, 250)
}

// GetSelection returns a random selection of upstream's size.
func (b *MemBook) GetSelection() []addrbook.NetAddress {
	b.mu.Lock()
	defer b.mu.Unlock()
	ids := append([]string(nil), b.order...)
	b.rng.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
	ids = ids[:selectionSize(len(ids))]
	out := make([]addrbook.NetAddress, len(ids))
	for i, id := range ids {
		out[i] = b.addrs[id].addr
	}
	return out
}

// GetSelectionWithBias returns upstream's selection size with about bias %
// new addresses first, then old ones.
func (b *MemBook) GetSelectionWithBias(bias int) []addrbook.NetAddress {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := selectionSize(len(b.order))
	if n == 0 {
		return nil
	}
	var nw, old []addrbook.NetAddress
	for _, id := range b.order {
		if e := b.addrs[id]; e.old {
			old = append(old, e.addr)
		} else {
			nw = append(nw, e.addr)
		}
	}
	b.rng.Shuffle(len(nw), func(i, j int) { nw[i], nw[j] = nw[j], nw[i] })
	b.rng.Shuffle(len(old), func(i, j int) { old[i], old[j] = old[j], old[i] })
	wantNew := min(len(nw), max(n*bias/100, n-len(old)))
	out := append([]addrbook.NetAddress(nil), nw[:wantNew]...)
	return append(out, old[:min(len(old), n-wantNew)]...)
}
