package addrbook

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"
)

// Upstream's p2p/pex/addrbook_test.go, ported as behaviour tests
// against this package's API. Test names are upstream's; where this book
// fixes a bug the expectation is the fixed one and says so.
// TestAddrBookSaveLoad is in format_test.go, TestAddrBookGroupKey in
// network_test.go.

// randPairs returns n routable addresses with routable sources, each in
// its own /16, from a seeded generator (upstream's randNetAddressPairs).
func randPairs(seed uint64, n int) (addrs, srcs []NetAddress) {
	r := rand.New(rand.NewPCG(seed, 0))
	for len(addrs) < n {
		mk := func(k int) NetAddress {
			for {
				ip := netip.AddrFrom4([4]byte{byte(r.IntN(223) + 1), byte(r.IntN(256)), byte(r.IntN(256)), byte(r.IntN(254) + 1)})
				a := NetAddress{ID: fmt.Sprintf("%040x", r.Uint64()<<8|uint64(k)), IP: ip, Port: 26656}
				if a.Routable() {
					return a
				}
			}
		}
		addrs = append(addrs, mk(len(addrs)))
		srcs = append(srcs, mk(len(addrs)+1<<20))
	}
	return addrs, srcs
}

// addPairs adds randPairs(seed, n) to b, each address from its source.
func addPairs(t testing.TB, b *Book, seed uint64, n int) (addrs, srcs []NetAddress) {
	t.Helper()
	addrs, srcs = randPairs(seed, n)
	for i := range addrs {
		mustAdd(t, b, addrs[i], srcs[i])
	}
	return addrs, srcs
}

// bookWith builds a book with nOld good and nNew new addresses (upstream's
// createAddrBookWithMOldAndNNewAddrs).
func bookWith(t *testing.T, seed uint64, nOld, nNew int) *Book {
	t.Helper()
	b, _ := newTestBook(t, Options{Strict: true, Seed: seed})
	addrs, srcs := randPairs(seed, nOld+nNew)
	for i := range addrs {
		mustAddQuiet(t, b, addrs[i], srcs[i])
		if i < nOld {
			b.MarkGood(addrs[i].ID)
		}
	}
	mustInvariants(t, b)
	if b.nOld != nOld || b.nNew != nNew {
		t.Fatalf("built %d old %d new, want %d %d", b.nOld, b.nNew, nOld, nNew)
	}
	return b
}

func countOldNew(t *testing.T, b *Book, sel []NetAddress) (nOld, nNew int) {
	t.Helper()
	for _, a := range sel {
		if b.IsGood(a.ID) {
			nOld++
		} else if b.HasAddress(a.ID) {
			nNew++
		} else {
			t.Fatalf("selection holds %s, which is not in the book", a)
		}
	}
	return
}

// PickAddress: an empty book gives nothing; with only new addresses any
// bias picks one; with only old ones a bias of 100 (new only) picks
// nothing.
func TestAddrBookPickAddress(t *testing.T) {
	b, _ := newTestBook(t, Options{})
	if _, ok := b.PickAddress(50); ok {
		t.Fatal("empty book picked something")
	}
	a, src := routableAddr(1), routableAddr(2)
	mustAdd(t, b, a, src)
	for _, bias := range []int{0, 50, 100, -5, 500} {
		if got, ok := b.PickAddress(bias); !ok || got != a {
			t.Fatalf("only new, bias %d: %v %v", bias, got, ok)
		}
	}
	b.MarkGood(a.ID)
	for _, bias := range []int{0, 50} {
		if got, ok := b.PickAddress(bias); !ok || got != a {
			t.Fatalf("only old, bias %d: %v %v", bias, got, ok)
		}
	}
	if _, ok := b.PickAddress(100); ok {
		t.Fatal("only old, bias 100: picked something")
	}
}

// Every added address is found by HasAddress and Lookup under its ID.
func TestAddrBookLookup(t *testing.T) {
	b, _ := newTestBook(t, Options{})
	addrs, _ := addPairs(t, b, 1, 100)
	for _, a := range addrs {
		if !b.HasAddress(a.ID) {
			t.Fatalf("%s not found", a)
		}
		if got, ok := b.Lookup(a.ID); !ok || got != a {
			t.Fatalf("Lookup(%s) = %v", a.ID, got)
		}
	}
}

// MarkGood moves addresses to old buckets (50 of 100 here); selections
// never exceed the book.
func TestAddrBookPromoteToOld(t *testing.T) {
	b, clk := newTestBook(t, Options{})
	addrs, _ := addPairs(t, b, 2, 100)
	for _, a := range addrs {
		b.MarkAttempt(a.ID)
	}
	clk.Advance(time.Second)
	for i, a := range addrs {
		if i%2 == 0 {
			b.MarkGood(a.ID)
		}
	}
	mustInvariants(t, b)
	if s := b.GetSelection(); len(s) > b.Size() {
		t.Fatalf("selection %d > size %d", len(s), b.Size())
	}
	if s := b.GetSelectionWithBias(30); len(s) > b.Size() {
		t.Fatalf("biased selection %d > size %d", len(s), b.Size())
	}
	if b.Size() != 100 || b.nOld != 50 {
		t.Fatalf("size %d old %d", b.Size(), b.nOld)
	}
}

// Adding an address again, from the same or another source, does not
// duplicate it.
func TestAddrBookHandlesDuplicates(t *testing.T) {
	b, _ := newTestBook(t, Options{})
	addrs, srcs := randPairs(3, 100)
	differentSrc := routableAddr(4242)
	for i := range addrs {
		mustAdd(t, b, addrs[i], srcs[i])
		mustAdd(t, b, addrs[i], srcs[i])
		mustAdd(t, b, addrs[i], differentSrc)
	}
	if b.Size() != 100 {
		t.Fatalf("size %d", b.Size())
	}
}

// RemoveAddress is by ID; an unknown ID is a no-op.
func TestAddrBookRemoveAddress(t *testing.T) {
	b, _ := newTestBook(t, Options{})
	a := routableAddr(1)
	mustAdd(t, b, a, a)
	b.RemoveAddress(a.ID)
	mustInvariants(t, b)
	if b.Size() != 0 {
		t.Fatalf("size %d", b.Size())
	}
	b.RemoveAddress(routableAddr(2).ID)
	if b.Size() != 0 {
		t.Fatal("removing an unknown address changed the book")
	}
}

// GetSelectionWithBias with 1 old and 9 new addresses.
func TestAddrBookGetSelectionWithOneMarkedGood(t *testing.T) {
	b := bookWith(t, 4, 1, 9)
	nOld, nNew := countOldNew(t, b, b.GetSelectionWithBias(30))
	if nOld != 1 || nNew != 9 {
		t.Fatalf("old %d new %d", nOld, nNew)
	}
}

// GetSelectionWithBias with 9 old and 1 new address.
func TestAddrBookGetSelectionWithOneNotMarkedGood(t *testing.T) {
	b := bookWith(t, 5, 9, 1)
	nOld, nNew := countOldNew(t, b, b.GetSelectionWithBias(30))
	if nOld != 9 || nNew != 1 {
		t.Fatalf("old %d new %d", nOld, nNew)
	}
}

// Selections of an empty book are empty.
func TestAddrBookGetSelectionReturnsNilWhenAddrBookIsEmpty(t *testing.T) {
	b, _ := newTestBook(t, Options{})
	if s := b.GetSelectionWithBias(30); s != nil {
		t.Fatalf("%v", s)
	}
}

func noDuplicates(t *testing.T, sel []NetAddress) {
	t.Helper()
	seen := map[string]bool{}
	for _, a := range sel {
		if seen[a.ID] {
			t.Fatalf("duplicate %s in selection", a)
		}
		seen[a.ID] = true
	}
}

// GetSelection of an empty book is empty, of a one-address book that
// address, and never holds duplicates or more than the book.
func TestAddrBookGetSelection(t *testing.T) {
	b, _ := newTestBook(t, Options{Strict: true})
	if s := b.GetSelection(); len(s) != 0 {
		t.Fatalf("%v", s)
	}
	a := routableAddr(1)
	mustAdd(t, b, a, a)
	if s := b.GetSelection(); len(s) != 1 || s[0] != a {
		t.Fatalf("%v", s)
	}
	addPairs(t, b, 6, 100)
	s := b.GetSelection()
	noDuplicates(t, s)
	if len(s) > b.Size() {
		t.Fatal("selection larger than book")
	}
}

// With 80 % good, about 70 % of a bias-30 selection is good.
func TestAddrBookGetSelectionWithBias(t *testing.T) {
	const bias = 30
	b, _ := newTestBook(t, Options{Strict: true})
	if s := b.GetSelectionWithBias(bias); len(s) != 0 {
		t.Fatalf("%v", s)
	}
	a := routableAddr(1)
	mustAdd(t, b, a, a)
	if s := b.GetSelectionWithBias(bias); len(s) != 1 || s[0] != a {
		t.Fatalf("%v", s)
	}
	addrs, _ := addPairs(t, b, 7, 100)
	s := b.GetSelectionWithBias(bias)
	noDuplicates(t, s)
	if len(s) > b.Size() {
		t.Fatal("selection larger than book")
	}
	for i, as := range addrs {
		if int(float64(i)/float64(len(addrs))*100) >= 20 {
			b.MarkGood(as.ID)
		}
	}
	s = b.GetSelectionWithBias(bias)
	good := 0
	for _, x := range s {
		if b.IsGood(x.ID) {
			good++
		}
	}
	got, want := int(float64(good)/float64(len(s))*100), 100-bias
	slack := int(math.Round(100 / float64(len(s))))
	if got > want+slack || got < want-slack {
		t.Fatalf("%d %% good, want %d ± %d", got, want, slack)
	}
}

// HasAddress is by ID.
func TestAddrBookHasAddress(t *testing.T) {
	b, _ := newTestBook(t, Options{})
	a := routableAddr(1)
	mustAdd(t, b, a, a)
	if !b.HasAddress(a.ID) {
		t.Fatal("added address missing")
	}
	b.RemoveAddress(a.ID)
	if b.HasAddress(a.ID) {
		t.Fatal("removed address present")
	}
}

// MarkBad bans, and ReinstateBadPeers brings expired bans back — on
// virtual time instead of upstream's 1 s sleep.
func TestBanBadPeers(t *testing.T) {
	b, clk := newTestBook(t, Options{})
	a := routableAddr(1)
	mustAdd(t, b, a, a)
	b.MarkBad(a, time.Second)
	if b.HasAddress(a.ID) || !b.IsBanned(a.ID) {
		t.Fatal("MarkBad: still present or not banned")
	}
	if err := b.AddAddress(a, a); !errors.Is(err, ErrBanned) {
		t.Fatalf("re-adding a banned address: %v", err)
	}
	clk.Advance(time.Second)
	b.ReinstateBadPeers()
	if b.Size() != 1 || !b.HasAddress(a.ID) || b.IsGood(a.ID) {
		t.Fatal("reinstate")
	}
}

// Empty counts stored addresses only, not our own addresses or private
// IDs.
func TestAddrBookEmpty(t *testing.T) {
	b, _ := newTestBook(t, Options{})
	if !b.Empty() {
		t.Fatal("new book not empty")
	}
	b.AddOurAddress(routableAddr(1))
	if !b.Empty() {
		t.Fatal("our address counted")
	}
	b.AddPrivateIDs([]string{testID(2)})
	if !b.Empty() {
		t.Fatal("private IDs counted")
	}
	mustAdd(t, b, routableAddr(3), routableAddr(4))
	if b.Empty() {
		t.Fatal("book with an address is empty")
	}
}

// Addresses with a private ID, or learned from a private peer, are
// refused.
func TestPrivatePeers(t *testing.T) {
	b, _ := newTestBook(t, Options{})
	addrs, srcs := randPairs(8, 10)
	var ids []string
	for _, a := range addrs {
		ids = append(ids, a.ID)
	}
	b.AddPrivateIDs(ids)
	for i := range addrs {
		err := b.AddAddress(addrs[i], srcs[i])
		var ae *AddError
		if !errors.Is(err, ErrPrivate) || !errors.As(err, &ae) || !ae.Private() {
			t.Fatalf("private address: %v", err)
		}
	}
	for i := range addrs {
		err := b.AddAddress(srcs[i], addrs[i])
		if !errors.Is(err, ErrPrivateSource) {
			t.Fatalf("address from a private source: %v", err)
		}
	}
	if b.Size() != 0 {
		t.Fatal("private addresses stored")
	}
}

// Marking an ID private removes it, and what it told us, at once.
func TestAddPrivateIDsPurgesBook(t *testing.T) {
	b, _ := newTestBook(t, Options{})
	mustAdd(t, b, routableAddr(1), routableAddr(9))
	mustAdd(t, b, routableAddr(2), routableAddr(1))
	mustAdd(t, b, routableAddr(3), routableAddr(8))
	b.AddPrivateIDs([]string{routableAddr(1).ID, "not-an-id"})
	mustInvariants(t, b)
	if b.HasAddress(routableAddr(1).ID) || b.HasAddress(routableAddr(2).ID) || !b.HasAddress(routableAddr(3).ID) {
		t.Fatal("private ID or its gossip still stored")
	}
}

// GetSelectionWithBias: every old/new split of small books and two larger
// ones: exact counts and the [new…][old…] layout.
func TestMultipleAddrBookAddressSelection(t *testing.T) {
	check := func(size int) {
		for nOld := 0; nOld <= size; nOld++ {
			nNew := size - nOld
			b := bookWith(t, uint64(size*1000+nOld), nOld, nNew)
			sel := b.GetSelectionWithBias(30)
			if len(sel) == 0 {
				t.Fatalf("size %d: empty selection", size)
			}
			n := len(sel)
			k := percentageOfNum(30, n)
			expNew := min(nNew, max(k, n-nOld))
			expOld := min(nOld, n-expNew)
			gotOld, gotNew := countOldNew(t, b, sel)
			if gotNew != expNew || gotOld != expOld {
				t.Fatalf("book %d (new %d, old %d): got new %d old %d, want %d %d",
					size, nNew, nOld, gotNew, gotOld, expNew, expOld)
			}
			for i, a := range sel {
				if b.IsGood(a.ID) != (i >= expNew) {
					t.Fatalf("book %d (new %d, old %d): layout broken at %d", size, nNew, nOld, i)
				}
			}
		}
	}
	for size := 1; size < 32; size++ {
		check(size)
	}
	r := rand.New(rand.NewPCG(1, 2))
	check(33 + r.IntN(67))
	check(100 + r.IntN(75))
}

// A good address's IP is never replaced by a later announcement.
func TestAddrBookAddDoesNotOverwriteOldIP(t *testing.T) {
	b, _ := newTestBook(t, Options{})
	peer := routableAddr(1)
	mustAdd(t, b, peer, peer)
	b.MarkGood(peer.ID)
	for i := 0; i < 10; i++ {
		other := routableAddr(100 + i)
		other.ID = peer.ID
		mustAdd(t, b, other, routableAddr(200+i))
		if got, _ := b.Lookup(peer.ID); got != peer {
			t.Fatalf("stored address changed to %s", got)
		}
	}
}
