package addrbook

import (
	"errors"
	"net/netip"
	"testing"
	"time"
)

// A book filled from many sources stays consistent and counts right.
func TestAddManySourcesKeepsInvariants(t *testing.T) {
	b, _ := newTestBook(t, Options{})
	for s := 0; s < 8; s++ {
		src := addrAt(100000+s, 50, byte(s), 0, 1)
		for i := 0; i < 200; i++ {
			if err := b.AddAddress(routableAddr(s*200+i), src); err != nil {
				t.Fatal(err)
			}
		}
	}
	mustInvariants(t, b)
	if b.Size() == 0 || b.Size() > 1600 {
		t.Fatalf("size %d", b.Size())
	}
	for i := 0; i < 100; i++ {
		b.MarkGood(routableAddr(i).ID)
	}
	mustInvariants(t, b)
	if _, ok := b.PickAddress(50); !ok {
		t.Fatal("PickAddress found nothing")
	}
}

// AddAddress refuses in upstream's order, each refusal a typed *AddError
// testable with errors.Is.
func TestAddAddressRefusals(t *testing.T) {
	b, _ := newTestBook(t, Options{Strict: true})
	src := addrAt(900, 8, 8, 8, 8)
	good := addrAt(1, 9, 9, 9, 9)
	cases := []struct {
		name      string
		addr, src NetAddress
		prep      func()
		want      error
	}{
		{"no source", good, NetAddress{}, nil, ErrNoSource},
		{"unspecified IP", addrAt(2, 0, 0, 0, 0), src, nil, ErrInvalidAddress},
		{"broadcast", addrAt(2, 255, 255, 255, 255), src, nil, ErrInvalidAddress},
		{"no ID", NetAddress{IP: netip.MustParseAddr("9.9.9.9"), Port: 1}, src, nil, ErrInvalidAddress},
		{"bad ID", NetAddress{ID: "xyz", IP: netip.MustParseAddr("9.9.9.9"), Port: 1}, src, nil, ErrInvalidAddress},
		{"documentation v6", NetAddress{ID: testID(3), IP: netip.MustParseAddr("2001:db8::1"), Port: 1}, src, nil, ErrInvalidAddress},
		{"banned", addrAt(4, 9, 9, 9, 4), src, func() { b.MarkBad(addrAt(4, 9, 9, 9, 4), time.Hour) }, ErrBanned},
		{"private", addrAt(5, 9, 9, 9, 5), src, func() { b.AddPrivateIDs([]string{testID(5)}) }, ErrPrivate},
		{"private source", addrAt(6, 9, 9, 9, 6), addrAt(7, 7, 7, 7, 7), func() { b.AddPrivateIDs([]string{testID(7)}) }, ErrPrivateSource},
		{"self", addrAt(8, 9, 9, 9, 8), src, func() { b.AddOurAddress(addrAt(8, 9, 9, 9, 8)) }, ErrSelf},
		{"our ID at another IP", addrAt(8, 9, 9, 9, 99), src, nil, ErrSelf},
		{"non-routable", addrAt(9, 10, 0, 0, 1), src, nil, ErrNonRoutable},
		{"loopback", addrAt(10, 127, 0, 0, 1), src, nil, ErrNonRoutable},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.prep != nil {
				tc.prep()
			}
			err := b.AddAddress(tc.addr, tc.src)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			var ae *AddError
			if !errors.As(err, &ae) {
				t.Fatalf("error %T is not *AddError", err)
			}
			mustInvariants(t, b)
		})
	}
	if b.Size() != 0 {
		t.Fatalf("refused addresses were stored: size %d", b.Size())
	}
	mustAdd(t, b, good, src)
}

// Counts agrees with Size, IsGood and Bans after promotions and a ban.
func TestCounts(t *testing.T) {
	b, clk := newTestBook(t, Options{})
	src := routableAddr(100)
	for i := 0; i < 6; i++ {
		if err := b.AddAddress(routableAddr(i), src); err != nil {
			t.Fatal(err)
		}
	}
	b.MarkGood(routableAddr(1).ID)
	b.MarkGood(routableAddr(2).ID)
	b.MarkBad(routableAddr(3), time.Hour)
	got := b.Counts()
	if want := (Counts{New: 3, Old: 2, Banned: 1}); got != want {
		t.Fatalf("Counts = %+v, want %+v", got, want)
	}
	if got.New+got.Old != b.Size() {
		t.Fatalf("Counts %+v disagrees with Size %d", got, b.Size())
	}
	clk.Advance(2 * time.Hour)
	if got := b.Counts().Banned; got != 0 {
		t.Fatalf("expired ban still counted: %d", got)
	}
}
