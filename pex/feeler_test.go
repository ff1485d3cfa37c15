package pex_test

import (
	"net/netip"
	"testing"
	"time"

	"github.com/pexp2p/pexp2p/addrbook"
	"github.com/pexp2p/pexp2p/pex"
	"github.com/pexp2p/pexp2p/pex/pextest"
)

// feelerNode starts node 1 whose regular rounds are an hour apart, so
// that within the test only feelers connect, and which marks nothing
// good on outbound connections (only feelers do).
func feelerNode(e *env, interval time.Duration) *tnode {
	cfg := testConfig()
	cfg.EnsurePeersPeriod = time.Hour
	cfg.MarkGoodOnOutbound = false
	cfg.FeelerInterval = interval
	n := e.reactorNode(1, cfg, nil)
	dead := pextest.NodeAddr(9) // nobody listens: the first round's dial fails
	if err := n.book.AddAddress(dead, dead); err != nil {
		e.t.Fatal(err)
	}
	e.start(n)
	e.settle()
	n.book.RemoveAddress(dead.ID) // only Start needed it
	return n
}

func peerAt(e *env, i int, ip string) *peer {
	return e.peer(i, func(c *pextest.NodeConfig) {
		c.Addr = addrbook.NetAddress{ID: pextest.NodeAddr(i).ID, IP: netip.MustParseAddr(ip), Port: 26656}
	})
}

func TestFeelerMovesALiveNewAddressToOldAndHangsUp(t *testing.T) {
	for _, interval := range []time.Duration{0, time.Minute} {
		e := newEnv(t)
		n := feelerNode(e, interval)
		p := e.peer(2, nil)
		if err := n.book.AddAddress(p.addr, p.addr); err != nil {
			t.Fatal(err)
		}
		e.clk.Run(2 * time.Minute)
		if got, want := n.book.IsGood(p.addr.ID), interval > 0; got != want {
			t.Fatalf("FeelerInterval %v: live new address good = %v, want %v", interval, got, want)
		}
		if n.node.Connected(p.addr.ID) {
			t.Fatalf("FeelerInterval %v: feeler connection still open", interval)
		}
		if got := p.rec.Requests(n.addr.ID); got != 0 {
			t.Fatalf("feeler sent %d PexRequests, want 0", got)
		}
	}
}

func TestFeelerPrefersAGroupWithoutOldEntries(t *testing.T) {
	e := newEnv(t)
	n := feelerNode(e, time.Minute)
	covered := peerAt(e, 2, "20.30.0.1")
	if err := n.book.AddAddress(covered.addr, covered.addr); err != nil {
		t.Fatal(err)
	}
	n.book.MarkGood(covered.addr.ID) // 20.30/16 now has an old entry
	sameGroup := peerAt(e, 3, "20.30.0.2")
	fresh := peerAt(e, 4, "40.50.0.1")
	for _, p := range []*peer{sameGroup, fresh} {
		if err := n.book.AddAddress(p.addr, p.addr); err != nil {
			t.Fatal(err)
		}
	}
	// Step until the first feeler has answered (it fires within 30..90 s).
	for i := 0; i < 100 && !n.book.IsGood(fresh.addr.ID) && !n.book.IsGood(sameGroup.addr.ID); i++ {
		e.clk.Run(time.Second)
	}
	if !n.book.IsGood(fresh.addr.ID) || n.book.IsGood(sameGroup.addr.ID) {
		t.Fatalf("after one feeler: 40.50.0.1 good %v, 20.30.0.2 good %v; want the uncovered group probed",
			n.book.IsGood(fresh.addr.ID), n.book.IsGood(sameGroup.addr.ID))
	}
}

func TestFeelerIntervalMustNotBeNegative(t *testing.T) {
	cfg := pex.DefaultConfig()
	cfg.FeelerInterval = -time.Second
	if err := cfg.Validate(); err == nil {
		t.Fatal("negative FeelerInterval accepted")
	}
}
