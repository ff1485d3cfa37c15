package addrbook

import (
	"errors"
	"path/filepath"
	"testing"
	"time"

	cmtpex "github.com/cometbft/cometbft/p2p/pex"
)

// Each test here shows a bug of upstream's book on upstream's own
// pex.NewAddrBook, and that this book does not have it.

func newUpstreamBook(t *testing.T, strict bool) cmtpex.AddrBook {
	t.Helper()
	return cmtpex.NewAddrBook(filepath.Join(t.TempDir(), "upstream.json"), strict)
}

// A new bucket holds exactly 64, not 65. 100 addresses from one /16 and
// one source all hash to the same new bucket.
func TestFixBucketCapacityExactly64(t *testing.T) {
	up := newUpstreamBook(t, false)
	b, _ := newTestBook(t, Options{})
	src := addrAt(5000, 44, 1, 1, 1)
	for i := 0; i < 100; i++ {
		a := addrAt(i, 77, 7, byte(i/200), byte(i%200+1))
		if err := up.AddAddress(upAddr(a), upAddr(src)); err != nil {
			t.Fatal(err)
		}
		mustAdd(t, b, a, src)
	}
	if up.Size() != 65 {
		t.Errorf("upstream: expected its off-by-one (65), got %d", up.Size())
	}
	if b.Size() != bucketSize {
		t.Fatalf("size %d, want %d", b.Size(), bucketSize)
	}
	if len(b.nonEmpty[0].list) != 1 || b.newB[b.nonEmpty[0].list[0]].n != bucketSize {
		t.Fatal("expected exactly one full new bucket")
	}
}

// Promoting into a full old bucket demotes the entry tried longest ago to
// a new bucket and keeps it. 400 addresses of one /16 (4 old buckets)
// learned from 400 different source groups (so demoted entries find room
// in new buckets), all marked good.
func TestFixDemotionKeepsAddress(t *testing.T) {
	up := newUpstreamBook(t, false)
	b, clk := newTestBook(t, Options{})
	for i := 0; i < 400; i++ {
		a := addrAt(i, 77, 7, byte(i/200), byte(i%200+1))
		src := addrAt(10000+i, byte(11+i/200), byte(i%200), 1, 1)
		if err := up.AddAddress(upAddr(a), upAddr(src)); err != nil {
			t.Fatal(err)
		}
		mustAdd(t, b, a, src)
	}
	if up.Size() != 400 || b.Size() != 400 {
		t.Fatalf("before: upstream %d, ours %d", up.Size(), b.Size())
	}
	for i := 0; i < 400; i++ {
		a := addrAt(i, 77, 7, byte(i/200), byte(i%200+1))
		up.MarkGood(upAddr(a).ID)
		clk.Advance(time.Second)
		b.MarkGood(a.ID)
		mustInvariants(t, b)
	}
	// Upstream keeps 65 per old bucket it reaches (at most 4: 260) and
	// loses the rest.
	if up.Size()%65 != 0 || up.Size() > 260 {
		t.Errorf("upstream: expected it to keep 65 per old bucket and lose the rest, got %d", up.Size())
	}
	if b.Size() != 400 {
		t.Fatalf("size %d after promotions, want 400 (nothing lost)", b.Size())
	}
	oldBuckets := map[int]bool{}
	for i := 0; i < 400; i++ {
		oldBuckets[b.calcOldBucket(addrAt(i, 77, 7, byte(i/200), byte(i%200+1)))] = true
	}
	if b.nOld != len(oldBuckets)*bucketSize || b.nNew != 400-b.nOld {
		t.Fatalf("old %d new %d, %d old buckets reachable", b.nOld, b.nNew, len(oldBuckets))
	}
	for i := 0; i < 400; i++ {
		if !b.HasAddress(addrAt(i, 77, 7, byte(i/200), byte(i%200+1)).ID) {
			t.Fatalf("entry %d lost", i)
		}
	}
	// The last one marked good cannot have been demoted: it was the newest.
	if !b.IsGood(addrAt(399, 77, 7, 1, 200).ID) {
		t.Fatal("the newest good entry was demoted")
	}
}

// Reinstating a ban of a formerly-old address keeps it.
func TestFixReinstateFormerlyOldKeepsAddress(t *testing.T) {
	a, src := routableAddr(1), routableAddr(2)

	up := newUpstreamBook(t, false)
	if err := up.AddAddress(upAddr(a), upAddr(src)); err != nil {
		t.Fatal(err)
	}
	up.MarkGood(upAddr(a).ID)
	up.MarkBad(upAddr(a), -time.Second) // already expired: no sleep needed
	up.ReinstateBadPeers()
	if up.HasAddress(upAddr(a)) || up.Size() != 0 {
		t.Errorf("upstream: expected the formerly-old address to be lost, size %d", up.Size())
	}

	b, clk := newTestBook(t, Options{})
	mustAdd(t, b, a, src)
	b.MarkGood(a.ID)
	b.MarkBad(a, time.Hour)
	mustInvariants(t, b)
	if b.HasAddress(a.ID) || !b.IsBanned(a.ID) {
		t.Fatal("MarkBad must remove and ban")
	}
	b.ReinstateBadPeers() // not expired yet: nothing happens
	if b.HasAddress(a.ID) {
		t.Fatal("reinstated before expiry")
	}
	clk.Advance(time.Hour + time.Second)
	b.ReinstateBadPeers()
	mustInvariants(t, b)
	if !b.HasAddress(a.ID) || b.Size() != 1 || b.IsGood(a.ID) || b.IsBanned(a.ID) {
		t.Fatalf("after reinstating: has=%v size=%d good=%v banned=%v",
			b.HasAddress(a.ID), b.Size(), b.IsGood(a.ID), b.IsBanned(a.ID))
	}
}

// IsGood of an unknown ID is false; upstream panics.
func TestFixIsGoodUnknownIsFalse(t *testing.T) {
	up := newUpstreamBook(t, false)
	panicked := func() (p bool) {
		defer func() { p = recover() != nil }()
		up.IsGood(upAddr(routableAddr(1)))
		return false
	}()
	if !panicked {
		t.Error("upstream: expected IsGood on an unknown ID to panic")
	}
	b, _ := newTestBook(t, Options{})
	if b.IsGood(routableAddr(1).ID) {
		t.Fatal("unknown ID reported good")
	}
}

// An expired ban blocks neither IsBanned nor AddAddress, without waiting
// for ReinstateBadPeers.
func TestFixExpiredBanNoLongerBlocks(t *testing.T) {
	a, src := routableAddr(1), routableAddr(2)

	up := newUpstreamBook(t, false)
	if err := up.AddAddress(upAddr(a), upAddr(src)); err != nil {
		t.Fatal(err)
	}
	up.MarkBad(upAddr(a), -time.Second)
	if !up.IsBanned(upAddr(a)) {
		t.Error("upstream: expected the stale ban to still report banned")
	}
	var upErr cmtpex.ErrAddressBanned
	if err := up.AddAddress(upAddr(a), upAddr(src)); !errors.As(err, &upErr) {
		t.Errorf("upstream: expected ErrAddressBanned after expiry, got %v", err)
	}

	b, clk := newTestBook(t, Options{})
	mustAdd(t, b, a, src)
	b.MarkBad(a, time.Minute)
	if err := b.AddAddress(a, src); !errors.Is(err, ErrBanned) {
		t.Fatalf("during the ban: %v", err)
	}
	clk.Advance(time.Minute)
	if b.IsBanned(a.ID) {
		t.Fatal("expired ban still reported")
	}
	mustAdd(t, b, a, src)
	if !b.HasAddress(a.ID) {
		t.Fatal("not re-added")
	}
}

// MarkBad bans an ID the book does not hold; upstream ignores it.
func TestFixMarkBadUnknownID(t *testing.T) {
	a, src := routableAddr(1), routableAddr(2)
	up := newUpstreamBook(t, false)
	up.MarkBad(upAddr(a), time.Hour)
	if up.IsBanned(upAddr(a)) {
		t.Error("upstream: expected a peer outside the book not to be banned")
	}
	if err := up.AddAddress(upAddr(a), upAddr(src)); err != nil {
		t.Errorf("upstream: expected the address to be accepted, got %v", err)
	}

	b, clk := newTestBook(t, Options{})
	b.MarkBad(a, time.Hour)
	if !b.IsBanned(a.ID) {
		t.Fatal("not banned")
	}
	if err := b.AddAddress(a, src); !errors.Is(err, ErrBanned) {
		t.Fatalf("AddAddress of a banned ID: %v", err)
	}
	clk.Advance(2 * time.Hour)
	b.ReinstateBadPeers() // nothing to reinstate: it was never in the book
	if b.Size() != 0 || b.IsBanned(a.ID) {
		t.Fatalf("size %d banned %v", b.Size(), b.IsBanned(a.ID))
	}
}
