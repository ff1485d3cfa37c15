package addrbook

import (
	"testing"
	"time"
)

// A ban only ever extends.
func TestBanOnlyExtends(t *testing.T) {
	b, clk := newTestBook(t, Options{})
	a := routableAddr(1)
	b.MarkBad(a, 2*time.Hour)
	b.MarkBad(a, time.Minute)
	clk.Advance(time.Hour)
	if !b.IsBanned(a.ID) {
		t.Fatal("a shorter ban shortened a longer one")
	}
	b.MarkBad(a, 3*time.Hour)
	clk.Advance(2 * time.Hour)
	if !b.IsBanned(a.ID) {
		t.Fatal("a longer ban did not extend")
	}
	if bans := b.Bans(); len(bans) != 1 || bans[0].ID != a.ID {
		t.Fatalf("Bans() = %v", bans)
	}
}

// MarkBad with a non-positive duration: the entry goes, the ban is already
// over (upstream keeps reporting it banned until ReinstateBadPeers).
func TestMarkBadZeroDuration(t *testing.T) {
	b, _ := newTestBook(t, Options{})
	a := routableAddr(1)
	mustAdd(t, b, a, a)
	b.MarkBad(a, 0)
	mustInvariants(t, b)
	if b.HasAddress(a.ID) || b.IsBanned(a.ID) {
		t.Fatal("MarkBad(0) must remove without a lasting ban")
	}
	b.ReinstateBadPeers()
	if !b.HasAddress(a.ID) {
		t.Fatal("not reinstated")
	}
}

// Bans() lists only bans in force, with the address when it was known.
func TestBansList(t *testing.T) {
	b, clk := newTestBook(t, Options{})
	known := routableAddr(1)
	mustAdd(t, b, known, known)
	b.MarkBad(known, time.Hour)
	b.MarkBad(routableAddr(2), 2*time.Hour)
	bans := b.Bans()
	if len(bans) != 2 || bans[0].Addr != known || !bans[0].Until.Equal(clk.Now().Add(time.Hour)) {
		t.Fatalf("%+v", bans)
	}
	clk.Advance(90 * time.Minute)
	if bans := b.Bans(); len(bans) != 1 || bans[0].ID != routableAddr(2).ID {
		t.Fatalf("%+v", bans)
	}
}

// An expired ban does not bring back an ID that has since become private
// or ours.
func TestReinstateSkipsPrivateAndOwn(t *testing.T) {
	b, clk := newTestBook(t, Options{})
	mine, priv := routableAddr(1), routableAddr(2)
	mustAdd(t, b, mine, routableAddr(9))
	mustAdd(t, b, priv, routableAddr(9))
	b.MarkBad(mine, time.Minute)
	b.MarkBad(priv, time.Minute)
	b.AddOurAddress(mine)
	b.AddPrivateIDs([]string{priv.ID})
	clk.Advance(time.Hour)
	b.ReinstateBadPeers()
	mustInvariants(t, b)
	if b.Size() != 0 {
		t.Fatalf("size %d", b.Size())
	}
}
