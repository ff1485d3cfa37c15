package addrbook

import (
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"
)

// fakeClock is a virtual clock tests move by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// testID returns a valid classic ID derived from n.
func testID(n int) string { return fmt.Sprintf("%040x", n+1) }

// addrAt is testID(n) at a.b.c.d:26656.
func addrAt(n int, a, b, c, d byte) NetAddress {
	return NetAddress{ID: testID(n), IP: netip.AddrFrom4([4]byte{a, b, c, d}), Port: 26656}
}

// routableAddr gives distinct routable addresses, each in its own /16
// (for n < 65536), like upstream's randIPv4Address.
func routableAddr(n int) NetAddress {
	return addrAt(n, byte(11+n/256%200), byte(n%256), byte(n/51200%256), 1)
}

func newTestBook(t testing.TB, opts Options) (*Book, *fakeClock) {
	t.Helper()
	clk := newFakeClock()
	if opts.Now == nil {
		opts.Now = clk.Now
	}
	if opts.Seed == 0 && opts.Rand == nil {
		opts.Seed = 42
	}
	b, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return b, clk
}

func mustInvariants(t testing.TB, b *Book) {
	t.Helper()
	if err := b.checkInvariants(); err != nil {
		t.Fatalf("invariant violated: %v", err)
	}
}

func mustAdd(t testing.TB, b *Book, addr, src NetAddress) {
	t.Helper()
	if err := b.AddAddress(addr, src); err != nil {
		t.Fatalf("AddAddress(%s, %s): %v", addr, src, err)
	}
	mustInvariants(t, b)
}
