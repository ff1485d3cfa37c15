package pex_test

import (
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/pexp2p/pexp2p/addrbook"
	"github.com/pexp2p/pexp2p/pex"
	"github.com/pexp2p/pexp2p/pex/pextest"
)

func TestPreferVerifiedAddrsIsOffByDefault(t *testing.T) {
	if pex.DefaultConfig().PreferVerifiedAddrs {
		t.Fatal("DefaultConfig prefers verified addresses; upstream has no such preference")
	}
}

// pickedVerifiedShare starts a reactor over a book of 300 gossiped and 40
// signed addresses and returns the share of signed ones among the book's
// picks afterwards.
func pickedVerifiedShare(t *testing.T, prefer bool) float64 {
	e := newEnv(t)
	book := e.newBook(0)
	src := pextest.NodeAddr(1000)
	for i := 1; i <= 300; i++ {
		if err := book.AddAddress(pextest.NodeAddr(i), src); err != nil {
			t.Fatal(err)
		}
	}
	for i := 301; i <= 340; i++ {
		a := pextest.NodeAddr(i)
		if err := book.AddVerified(a.ID, []addrbook.NetAddress{a}, src); err != nil {
			t.Fatal(err)
		}
	}
	cfg := testConfig()
	cfg.PreferVerifiedAddrs = prefer
	n := e.reactorNodeWithBook(0, book, cfg, nil)
	e.start(n)
	v := 0
	for k := 0; k < 1000; k++ {
		a, ok := book.PickAddress(100)
		if !ok {
			t.Fatal("the book has nothing to pick")
		}
		if book.IsVerified(a.ID) {
			v++
		}
	}
	return float64(v) / 1000
}

// The reactor switches the preference on in the book it is given.
func TestPreferVerifiedAddrsReachesTheBook(t *testing.T) {
	off, on := pickedVerifiedShare(t, false), pickedVerifiedShare(t, true)
	// 40 of 340: about 12 % by upstream's draw; with the preference a
	// pick misses only after 8 unverified draws, (300/340)^8 ≈ 37 %.
	if off > 0.2 || on < 0.5 {
		t.Fatalf("verified share of picks %.3f without the option, %.3f with it", off, on)
	}
}

// A book that cannot prefer verified addresses is a configuration error,
// not a silently ignored option.
func TestPreferVerifiedAddrsNeedsABookThatCan(t *testing.T) {
	e := newEnv(t)
	book := pextest.NewMemBook(e.clk, rand.New(rand.NewPCG(1, 1)))
	cfg := testConfig()
	cfg.PreferVerifiedAddrs = true
	n := e.reactorNodeWithBook(0, book, cfg, nil)
	err := n.r.Start()
	var ce *pex.ConfigError
	if !errors.Is(err, pex.ErrInvalidConfig) || !errors.As(err, &ce) || ce.Field != "PreferVerifiedAddrs" {
		t.Fatalf("Start = %v, want a ConfigError for PreferVerifiedAddrs", err)
	}
	if err := n.r.Stop(); !errors.Is(err, pex.ErrNotStarted) {
		t.Fatalf("Stop after a refused start = %v", err)
	}
}
