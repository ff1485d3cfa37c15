package pex_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	tmp2p "github.com/cometbft/cometbft/proto/tendermint/p2p"

	"github.com/pexp2p/pexp2p/addrbook"
	"github.com/pexp2p/pexp2p/pex"
	"github.com/pexp2p/pexp2p/pex/pextest"
)

// Dial backoff: the waits before dials 2..17 are 2^n s plus under 1 s of
// jitter; the check after the 17th failure bans the address.
func TestDialBackoffTimeline(t *testing.T) {
	e := newEnv(t)
	n := e.reactorNode(0, testConfig(), nil) // not started: no ticks interfere
	addr := pextest.NodeAddr(1)              // unreachable
	if err := n.book.AddAddress(addr, addr); err != nil {
		t.Fatal(err)
	}
	if err := n.r.DialPeer(addr); err == nil {
		t.Fatal("dial to nobody succeeded")
	}
	for k := 1; k <= 16; k++ {
		wait := time.Duration(1<<k) * time.Second
		e.clk.Run(wait - time.Nanosecond)
		if err := n.r.DialPeer(addr); !errors.Is(err, pex.ErrTooEarlyToDial) {
			t.Fatalf("after %d failures, %v later: %v, want too early", k, wait-time.Nanosecond, err)
		}
		e.clk.Run(time.Second + time.Nanosecond) // past the maximal jitter
		if err := n.r.DialPeer(addr); err == nil || errors.Is(err, pex.ErrTooEarlyToDial) {
			t.Fatalf("after %d failures and %v: %v, want a dial failure", k, wait+time.Second, err)
		}
		if got := n.r.AttemptsToDial(addr); got != k+1 {
			t.Fatalf("attempts %d, want %d", got, k+1)
		}
	}
	dials := e.hub.Stats().Dials
	err := n.r.DialPeer(addr)
	if !errors.Is(err, pex.ErrMaxAttemptsToDial) {
		t.Fatalf("after 17 failures: %v, want ErrMaxAttemptsToDial", err)
	}
	if e.hub.Stats().Dials != dials || !n.book.IsBanned(addr.ID) || n.book.HasAddress(addr.ID) {
		t.Fatal("address past the limit was dialed, or not banned")
	}
	if e.obs.dials[pex.DialMaxAttempts] != 1 || e.obs.dials[pex.DialFailed] != 17 {
		t.Fatalf("dial results %v, want 17 failed and 1 max_attempts", e.obs.dials)
	}
	// Saturation instead of overflow for absurd attempt counts.
	if b := n.r.Backoff(200, time.Second); b <= 0 {
		t.Fatalf("backoff overflowed: %v", b)
	}
}

// Persistent peers have their backoff capped and are never banned for
// failing.
func TestDialBackoffPersistentPeer(t *testing.T) {
	e := newEnv(t)
	cfg := testConfig()
	cfg.PersistentPeersMaxDialPeriod = 5 * time.Second
	addr := pextest.NodeAddr(1)
	n := e.reactorNode(0, cfg, func(nc *pextest.NodeConfig) { nc.Persistent = []addrbook.NetAddress{addr} })
	n.r.SetAttempts(addr, 30, e.clk.Now())
	if err := n.r.DialPeer(addr); !errors.Is(err, pex.ErrTooEarlyToDial) {
		t.Fatalf("at once: %v, want too early", err)
	}
	e.clk.Run(5 * time.Second)
	if err := n.r.DialPeer(addr); errors.Is(err, pex.ErrTooEarlyToDial) || errors.Is(err, pex.ErrMaxAttemptsToDial) {
		t.Fatalf("after the cap: %v, want a dial", err)
	}
	if n.book.IsBanned(addr.ID) {
		t.Fatal("persistent peer banned")
	}
}

// An address whose node proves another identity is banned and its attempt
// counter reset.
func TestDialAuthFailure(t *testing.T) {
	e := newEnv(t)
	n := e.reactorNode(0, testConfig(), nil)
	real := e.peer(1, nil)
	liar := addrbook.NetAddress{ID: pextest.NodeAddr(2).ID, IP: real.addr.IP, Port: real.addr.Port}
	n.r.SetAttempts(liar, 1, e.clk.Now().Add(-time.Hour))
	err := n.r.DialPeer(liar)
	if !errors.Is(err, pex.ErrAuthFailure) {
		t.Fatalf("dial = %v, want ErrAuthFailure", err)
	}
	if !n.book.IsBanned(liar.ID) || n.r.AttemptsToDial(liar) != 0 || e.obs.dials[pex.DialAuthFailure] != 1 {
		t.Fatal("auth failure: not banned, or attempts not reset, or not counted")
	}
}

// The request rate: a peer asking once per interval is never punished; two
// requests arriving bunched after a quiet spell are the allowed burst (an
// arrival-gap rule, upstream's, bans them: honest requests sent a period
// apart can arrive close together on separate streams); a third in the
// same bunch is punished with a ban and gets no answer.
func TestRequestRateLimit(t *testing.T) {
	for _, period := range []time.Duration{30 * time.Second, 3 * time.Second} {
		t.Run(period.String(), func(t *testing.T) {
			e := newEnv(t)
			cfg := testConfig()
			cfg.EnsurePeersPeriod = period
			n, p := requester(e, cfg)
			interval := period / 3
			// Each send advances the clock by 5 latencies, so this is a
			// steady requester at exactly one request per interval.
			for i := 0; i < 10; i++ {
				e.send(p, n.addr.ID, &tmp2p.PexRequest{})
				e.clk.Run(interval - 5*latency)
			}
			if !n.node.Connected(p.addr.ID) {
				t.Fatal("a requester at one request per interval was punished")
			}
			e.clk.Run(2 * interval)
			e.send(p, n.addr.ID, &tmp2p.PexRequest{})
			e.send(p, n.addr.ID, &tmp2p.PexRequest{})
			if !n.node.Connected(p.addr.ID) {
				t.Fatal("two bunched requests after a quiet spell were punished")
			}
			e.send(p, n.addr.ID, &tmp2p.PexRequest{})
			wantPunishedUnanswered(t, n, p, 12, "a third request in the bunch")
		})
	}
}

// The request rate measured at arrival (ReceiveAt): requests that reached
// the node one interval apart but were handled together, because the face
// was slow to get to its streams, are a steady requester, not a burst;
// arrival times that come out of order never make a gap; a bunch that also
// arrived together is still punished at its third request.
func TestRequestRateFromArrivalTime(t *testing.T) {
	e := newEnv(t)
	cfg := testConfig()
	cfg.EnsurePeersPeriod = 3 * time.Second
	interval := time.Second
	n, p := requester(e, cfg)

	t0 := e.clk.Now()
	e.clk.Run(4 * interval) // the face was busy; four requests queued meanwhile
	for i := 0; i < 4; i++ {
		n.r.ReceiveAt(p.addr.ID, &tmp2p.PexRequest{}, t0.Add(time.Duration(i)*interval))
	}
	e.settle()
	if !n.node.Connected(p.addr.ID) || n.book.IsBanned(p.addr.ID) {
		t.Fatal("requests that arrived one interval apart were punished when handled together")
	}
	if got := len(p.rec.Answers(n.addr.ID)); got != 4 {
		t.Fatalf("answers %d, want 4", got)
	}

	e.clk.Run(3 * interval)
	t1 := e.clk.Now()
	// Out of order: the later one is handled first; the earlier one then
	// counts as arriving with it (a pair, within the burst).
	n.r.ReceiveAt(p.addr.ID, &tmp2p.PexRequest{}, t1.Add(-interval/2))
	n.r.ReceiveAt(p.addr.ID, &tmp2p.PexRequest{}, t1.Add(-interval))
	e.settle()
	if !n.node.Connected(p.addr.ID) {
		t.Fatal("two requests with out-of-order arrival times were punished")
	}
	// A third that arrived together with them is a burst beyond 2.
	n.r.ReceiveAt(p.addr.ID, &tmp2p.PexRequest{}, t1.Add(-interval/2))
	e.settle()
	wantPunishedUnanswered(t, n, p, 6, "a third request arriving in the same bunch")
}

// An unanswered request times out (upstream keeps it outstanding forever),
// so the peer is asked again at the next round; late answers to both
// requests are accepted, a third answer is unsolicited.
func TestRequestTimeout(t *testing.T) {
	e := newEnv(t)
	cfg := testConfig()
	cfg.RequestTimeout = 20 * time.Second
	n := e.startNode(0, cfg)
	e.settle()
	p := e.peer(1, nil)
	e.dial(n.node, p.addr)
	if p.rec.Requests(n.addr.ID) != 1 {
		t.Fatal("no request on connect")
	}
	if n.r.RequestAddrs(p.addr.ID) {
		t.Fatal("asked again before the timeout")
	}
	e.clk.Run(29 * time.Second)
	if got := p.rec.Requests(n.addr.ID); got != 1 {
		t.Fatalf("requests %d before the next round, want 1", got)
	}
	e.clk.Run(2 * time.Second) // the round at 30 s finds the request timed out
	if got := p.rec.Requests(n.addr.ID); got != 2 {
		t.Fatalf("requests %d after the timeout and a round, want 2", got)
	}
	e.send(p, n.addr.ID, addrsMsg(pextest.NodeAddr(5)))
	e.send(p, n.addr.ID, addrsMsg(pextest.NodeAddr(6)))
	if !n.node.Connected(p.addr.ID) || !n.book.HasAddress(pextest.NodeAddr(6).ID) {
		t.Fatal("late answers to timed-out requests were punished or dropped")
	}
	e.send(p, n.addr.ID, addrsMsg(pextest.NodeAddr(7)))
	if n.node.Connected(p.addr.ID) {
		t.Fatal("third answer to two requests accepted")
	}
}

// Config: RequestTimeout below the spacing peers enforce is refused.
func TestConfigValidate(t *testing.T) {
	if err := func() error { c := pex.DefaultConfig(); return c.Validate() }(); err != nil {
		t.Fatalf("DefaultConfig invalid: %v", err)
	}
	for _, tc := range []struct {
		field string
		mod   func(*pex.Config)
	}{
		{"EnsurePeersPeriod", func(c *pex.Config) { c.EnsurePeersPeriod = 0 }},
		{"RequestTimeout", func(c *pex.Config) { c.RequestTimeout = 5 * time.Second }},
		{"MaxAddrsPerMsg", func(c *pex.Config) { c.MaxAddrsPerMsg = 251 }},
		{"MaxAttemptsToDial", func(c *pex.Config) { c.MaxAttemptsToDial = 0 }},
		{"BiasToSelectNewPeers", func(c *pex.Config) { c.BiasToSelectNewPeers = 101 }},
		{"MaxDialJitter", func(c *pex.Config) { c.MaxDialJitter = -1 }},
		{"MaxTrackedDials", func(c *pex.Config) { c.MaxTrackedDials = 0 }},
	} {
		c := pex.DefaultConfig()
		tc.mod(&c)
		err := c.Validate()
		var ce *pex.ConfigError
		if !errors.Is(err, pex.ErrInvalidConfig) || !errors.As(err, &ce) || ce.Field != tc.field {
			t.Errorf("%s: Validate = %v, want a ConfigError for it", tc.field, err)
		}
		e := newEnv(t)
		n := e.reactorNode(0, c, nil)
		if err := n.r.Start(); !errors.Is(err, pex.ErrInvalidConfig) {
			t.Errorf("%s: Start = %v, want ErrInvalidConfig", tc.field, err)
		}
	}
}

// A book that fails to start fails the reactor's start.
func TestStartBookError(t *testing.T) {
	e := newEnv(t)
	book := pextest.NewMemBook(e.clk, rand.New(rand.NewPCG(1, 1)))
	book.StartErr = errors.New("disk on fire")
	n := e.reactorNodeWithBook(0, book, testConfig(), nil)
	if err := n.r.Start(); err == nil || !errors.Is(err, book.StartErr) {
		t.Fatalf("Start = %v, want the book's error", err)
	}
	if err := n.r.Stop(); !errors.Is(err, pex.ErrNotStarted) {
		t.Fatalf("Stop after a failed start = %v, want ErrNotStarted", err)
	}
}

// requester starts node 0 with cfg and connects a scripted peer to it
// inbound, a peer that will send it requests.
func requester(e *env, cfg pex.Config) (*tnode, *peer) {
	n := e.startNode(0, cfg)
	e.settle()
	p := e.peer(1, nil)
	e.dial(p.node, n.addr)
	return n, p
}

// solicited connects n out to a scripted peer whose request is pending.
func solicited(t *testing.T, e *env) (*tnode, *peer) {
	n := e.startNode(0, testConfig())
	e.settle()
	p := e.peer(1, nil)
	e.dial(n.node, p.addr)
	if !n.r.HasOutstandingRequest(p.addr.ID) {
		t.Fatal("no outstanding request")
	}
	return n, p
}

// More than 250 addresses in one PexAddrs is misbehaviour.
func TestTooManyAddrs(t *testing.T) {
	for _, count := range []int{250, 251} {
		t.Run(fmt.Sprint(count), func(t *testing.T) {
			e := newEnv(t)
			n, p := solicited(t, e)
			addrs := make([]addrbook.NetAddress, count)
			for i := range addrs {
				addrs[i] = pextest.NodeAddr(100 + i)
			}
			e.send(p, n.addr.ID, addrsMsg(addrs...))
			punished := !n.node.Connected(p.addr.ID)
			if punished != (count > 250) {
				t.Fatalf("%d addresses: punished=%v", count, punished)
			}
			if punished {
				if !n.book.IsBanned(p.addr.ID) || e.obs.misb(pex.ReasonTooManyAddrs) != 1 || n.book.Size() > 1 {
					t.Fatal("oversized PexAddrs: not banned, not counted, or its addresses added")
				}
				if st := n.node.Stops(); len(st) != 1 || !errors.Is(st[0].Reason, pex.ErrTooManyAddrs) {
					t.Fatalf("stop reason %+v", st)
				}
			} else if n.book.Size() < 200 {
				t.Fatalf("book holds %d of 250 received addresses", n.book.Size())
			}
		})
	}
}

// Any entry that no honest book can hold makes the whole message
// misbehaviour; an entry the book merely refuses (unroutable) does not.
func TestInvalidAddrEntries(t *testing.T) {
	good := pex.AddrToProto(pextest.NodeAddr(5))
	for _, tc := range []struct {
		name   string
		entry  tmp2p.NetAddress
		punish bool
	}{
		{"IP not an IP", tmp2p.NetAddress{ID: good.ID, IP: "not-an-ip", Port: 1}, true},
		{"host name", tmp2p.NetAddress{ID: good.ID, IP: "example.com", Port: 1}, true},
		{"bad ID", tmp2p.NetAddress{ID: "xyz", IP: "11.9.0.1", Port: 1}, true},
		{"empty ID", tmp2p.NetAddress{ID: "", IP: "11.9.0.1", Port: 1}, true},
		{"port above 65535", tmp2p.NetAddress{ID: good.ID, IP: "11.9.0.1", Port: 70000}, true},
		{"unspecified", tmp2p.NetAddress{ID: good.ID, IP: "0.0.0.0", Port: 1}, true},
		{"broadcast", tmp2p.NetAddress{ID: good.ID, IP: "255.255.255.255", Port: 1}, true},
		{"RFC 3849", tmp2p.NetAddress{ID: good.ID, IP: "2001:db8::1", Port: 1}, true},
		{"IPv6 zone", tmp2p.NetAddress{ID: good.ID, IP: "fe80::1%eth0", Port: 1}, true},
		{"private IP is only refused by a strict book", tmp2p.NetAddress{ID: pextest.NodeAddr(6).ID, IP: "10.0.0.1", Port: 1}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			n, p := solicited(t, e)
			e.send(p, n.addr.ID, &tmp2p.PexAddrs{Addrs: []tmp2p.NetAddress{good, tc.entry}})
			punished := !n.node.Connected(p.addr.ID)
			if punished != tc.punish {
				t.Fatalf("punished=%v, want %v", punished, tc.punish)
			}
			if !punished {
				if !n.book.HasAddress(pextest.NodeAddr(5).ID) {
					t.Fatal("the valid entry was not added")
				}
				return
			}
			if n.book.HasAddress(pextest.NodeAddr(5).ID) {
				t.Fatal("entries of a rejected message were added")
			}
			st := n.node.Stops()
			var me *pex.MisbehaviorError
			if len(st) != 1 || !errors.As(st[0].Reason, &me) || me.Reason != pex.ReasonInvalidAddr || !errors.Is(me, addrbook.ErrInvalidAddress) {
				t.Fatalf("stop reason %+v, want invalid_addr wrapping ErrInvalidAddress", st)
			}
			if !n.book.IsBanned(p.addr.ID) {
				t.Fatal("peer not banned")
			}
		})
	}
}

// Receive unwraps a tendermint.p2p.Message and only logs unknown types.
func TestReceiveWrappedAndUnknown(t *testing.T) {
	e := newEnv(t)
	n, p := solicited(t, e)
	wrapped := &tmp2p.Message{Sum: &tmp2p.Message_PexAddrs{PexAddrs: addrsMsg(pextest.NodeAddr(5))}}
	n.r.Receive(p.addr.ID, wrapped)
	if !n.book.HasAddress(pextest.NodeAddr(5).ID) {
		t.Fatal("wrapped PexAddrs not handled")
	}
	n.r.Receive(p.addr.ID, &tmp2p.NetAddress{})
	n.r.Receive(p.addr.ID, &tmp2p.Message{})
	e.settle()
	if !n.node.Connected(p.addr.ID) {
		t.Fatal("unknown message type punished")
	}
}

// A wake-up round never sends a request (cometbft#4620); a periodic round
// asks one random peer.
func TestEnsurePeersRequestsOnlyWhenPeriodElapsed(t *testing.T) {
	e := newEnv(t)
	n, p := solicited(t, e)
	e.send(p, n.addr.ID, addrsMsg()) // answer: nothing outstanding now
	n.r.EnsurePeers(false)
	e.settle()
	if got := p.rec.Requests(n.addr.ID); got != 1 {
		t.Fatalf("wake-up round sent a request (%d total)", got)
	}
	n.r.EnsurePeers(true)
	e.settle()
	if got := p.rec.Requests(n.addr.ID); got != 2 {
		t.Fatalf("periodic round did not ask the peer (%d total)", got)
	}
}

// With outbound full, the book is still refreshed once per period while it
// needs addresses; upstream's early return is available.
func TestRefreshWhenOutboundFull(t *testing.T) {
	for _, refresh := range []bool{true, false} {
		t.Run(fmt.Sprint("refresh=", refresh), func(t *testing.T) {
			e := newEnv(t)
			cfg := testConfig()
			cfg.RefreshWhenOutboundFull = refresh
			n := e.reactorNode(0, cfg, func(nc *pextest.NodeConfig) { nc.MaxOutbound = 1 })
			e.start(n)
			e.settle()
			p := e.peer(1, nil)
			e.dial(n.node, p.addr)
			e.send(p, n.addr.ID, addrsMsg(pextest.NodeAddr(5)))
			e.clk.Run(3 * pex.DefaultEnsurePeersPeriod)
			got := p.rec.Requests(n.addr.ID)
			if refresh && got != 4 {
				t.Fatalf("requests %d over 3 rounds with outbound full, want 1 + 3", got)
			}
			if !refresh && got != 1 {
				t.Fatalf("requests %d with upstream's early return, want 1", got)
			}
		})
	}
}

// Fix (a): a node whose inbound slots are full answers one request from a
// newcomer accepted over the limit, then lets it go; a visitor that asks
// nothing is let go after OverLimitGrace.
func TestOverLimitPeer(t *testing.T) {
	e := newEnv(t)
	n := e.reactorNode(0, testConfig(), func(nc *pextest.NodeConfig) { nc.MaxInbound = 1; nc.OverLimitSlots = 1 })
	if err := n.book.AddAddress(pextest.NodeAddr(9), pextest.NodeAddr(9)); err != nil {
		t.Fatal(err)
	}
	e.start(n)
	e.settle()
	regular := e.peer(1, nil)
	e.dial(regular.node, n.addr)
	asker := e.peer(2, nil)
	e.dial(asker.node, n.addr)
	if _, in, _ := n.node.NumPeers(); in != 1 {
		t.Fatalf("inbound count %d, want 1 (over-limit peers excluded)", in)
	}
	silent := e.peer(3, nil)
	if err := silent.node.Dial(t.Context(), n.addr); !errors.Is(err, pextest.ErrRejected) {
		t.Fatalf("dial beyond the over-limit slots = %v, want rejected", err)
	}
	asker.node.Send(n.addr.ID, &tmp2p.PexRequest{})
	asker.node.Send(n.addr.ID, &tmp2p.PexRequest{})
	e.settle()
	if got := len(asker.rec.Answers(n.addr.ID)); got != 1 {
		t.Fatalf("over-limit peer got %d answers, want 1", got)
	}
	if n.node.Connected(asker.addr.ID) || n.book.IsBanned(asker.addr.ID) {
		t.Fatal("over-limit peer kept, or punished for its second request")
	}
	e.dial(silent.node, n.addr)
	e.clk.Run(testConfig().OverLimitGrace - 10*latency)
	if !n.node.Connected(silent.addr.ID) {
		t.Fatal("silent visitor dropped before the grace period")
	}
	e.clk.Run(20 * latency)
	if n.node.Connected(silent.addr.ID) || !n.node.Connected(regular.addr.ID) {
		t.Fatal("silent visitor kept after the grace period, or the regular peer dropped")
	}
}

// The dial-attempt table is bounded and forgets addresses the book no
// longer holds (persistent peers excepted).
func TestDialAttemptTableBounded(t *testing.T) {
	e := newEnv(t)
	cfg := testConfig()
	cfg.MaxTrackedDials = 3
	persistent := pextest.NodeAddr(50)
	n := e.reactorNode(0, cfg, func(nc *pextest.NodeConfig) { nc.Persistent = []addrbook.NetAddress{persistent} })
	var addrs []addrbook.NetAddress
	for i := 1; i <= 5; i++ {
		a := pextest.NodeAddr(i)
		addrs = append(addrs, a)
		if err := n.book.AddAddress(a, a); err != nil {
			t.Fatal(err)
		}
		_ = n.r.DialPeer(a)
		e.clk.Run(time.Millisecond)
	}
	if got := n.r.TrackedDials(); got != 3 {
		t.Fatalf("tracked %d, want the bound 3", got)
	}
	if n.r.AttemptsToDial(addrs[0]) != 0 || n.r.AttemptsToDial(addrs[4]) != 1 {
		t.Fatal("the bound did not evict the entry dialed longest ago")
	}
	_ = n.r.DialPeer(persistent)
	n.book.RemoveAddress(addrs[4].ID)
	n.r.SweepAttempts()
	if n.r.AttemptsToDial(addrs[4]) != 0 {
		t.Fatal("entry of an address no longer in the book kept")
	}
	if n.r.AttemptsToDial(persistent) != 1 || n.r.AttemptsToDial(addrs[3]) != 1 {
		t.Fatal("sweep dropped a persistent peer's entry or one still in the book")
	}
}

// Seeds are dialed when nothing in the book is dialable, and not when
// something is.
func TestDialSeedsOnlyWhenNothingDialable(t *testing.T) {
	for _, dialable := range []bool{false, true} {
		t.Run(fmt.Sprint("dialable=", dialable), func(t *testing.T) {
			e := newEnv(t)
			seed := e.peer(9, nil)
			connected := e.peer(1, nil)
			other := e.peer(2, nil)
			cfg := testConfig()
			cfg.Seeds = []string{seed.addr.String()}
			n := e.reactorNode(0, cfg, nil)
			for _, a := range []addrbook.NetAddress{connected.addr, other.addr} {
				if !dialable && a == other.addr {
					continue
				}
				if err := n.book.AddAddress(a, a); err != nil {
					t.Fatal(err)
				}
			}
			e.dial(n.node, connected.addr)
			e.start(n) // has a peer: the first round comes within a period
			e.clk.Run(pex.DefaultEnsurePeersPeriod)
			if n.node.Connected(seed.addr.ID) == dialable {
				t.Fatalf("seed connected=%v with a dialable address=%v", n.node.Connected(seed.addr.ID), dialable)
			}
			if dialable && !n.node.Connected(other.addr.ID) {
				t.Fatal("the dialable address was not dialed")
			}
		})
	}
}

// A round dials max outbound − (out + dialing), the bias is
// min(out,8)·10+10, and at most 3·numToDial picks are tried.
func TestEnsurePeersBiasAndPickBudget(t *testing.T) {
	for _, out := range []int{0, 3, 9} {
		t.Run(fmt.Sprint("out=", out), func(t *testing.T) {
			e := newEnv(t)
			spy := &spyBook{AddrBook: e.newBook(0)}
			n := e.reactorNodeWithBook(0, spy, testConfig(), nil)
			for i := 1; i <= out; i++ {
				e.dial(n.node, e.peer(i, nil).addr)
			}
			n.r.EnsurePeers(false)
			picks := spy.picks()
			wantBias := min(out, 8)*10 + 10
			if len(picks) != 3*(10-out) {
				t.Fatalf("%d picks from an empty book, want 3·%d", len(picks), 10-out)
			}
			for _, b := range picks {
				if b != wantBias {
					t.Fatalf("bias %d, want %d", b, wantBias)
				}
			}
		})
	}
}

// A node with peers spreads its first round over [0, period); one without
// peers runs it at once.
func TestFirstRoundJitter(t *testing.T) {
	for _, withPeer := range []bool{false, true} {
		t.Run(fmt.Sprint("withPeer=", withPeer), func(t *testing.T) {
			e := newEnv(t)
			spy := &spyBook{AddrBook: e.newBook(0)}
			n := e.reactorNodeWithBook(0, spy, testConfig(), nil)
			if withPeer {
				e.dial(n.node, e.peer(1, nil).addr)
			}
			start := e.clk.Now()
			e.start(n)
			var first time.Duration = -1
			for e.clk.Since(start) < pex.DefaultEnsurePeersPeriod {
				e.clk.Run(100 * time.Millisecond)
				if len(spy.picks()) > 0 {
					first = e.clk.Since(start)
					break
				}
			}
			if !withPeer && first != 100*time.Millisecond {
				t.Fatalf("first round at %v without peers, want at once", first)
			}
			if withPeer && (first < 0 || first > pex.DefaultEnsurePeersPeriod) {
				t.Fatalf("first round at %v with a peer, want within one period", first)
			}
		})
	}
}

// Seed crawl: the crawler dials what its book holds, asks each peer, skips
// IDs crawled in the last 2 min, and re-asks peers it is still connected
// to once that time has passed.
func TestSeedCrawl(t *testing.T) {
	e := newEnv(t)
	cfg := testConfig()
	cfg.SeedMode = true
	seed := e.reactorNode(0, cfg, nil)
	var peers []*peer
	for i := 1; i <= 3; i++ {
		p := e.peer(i, nil)
		peers = append(peers, p)
		if err := seed.book.AddAddress(p.addr, p.addr); err != nil {
			t.Fatal(err)
		}
	}
	e.start(seed)
	e.settle()
	for _, p := range peers {
		if !seed.node.Connected(p.addr.ID) || p.rec.Requests(seed.addr.ID) != 1 {
			t.Fatalf("first crawl: peer %s connected=%v requests=%d", p.addr.ID[:8], seed.node.Connected(p.addr.ID), p.rec.Requests(seed.addr.ID))
		}
		e.send(p, seed.addr.ID, addrsMsg())
	}
	dials := e.hub.Stats().Dials
	e.clk.Run(cfg.CrawlPeerPeriod) // 30 s: inside minTimeBetweenCrawls
	if e.hub.Stats().Dials != dials || peers[0].rec.Requests(seed.addr.ID) != 1 {
		t.Fatal("re-crawled within 2 minutes")
	}
	e.clk.Run(cfg.MinTimeBetweenCrawls) // next crawl after 2 min
	for _, p := range peers {
		if got := p.rec.Requests(seed.addr.ID); got != 2 {
			t.Fatalf("connected peer %s asked %d times after 2 min, want 2 (upstream: 1)", p.addr.ID[:8], got)
		}
	}
}

// A seed answers its outbound (crawled) peers through the rate-limited
// path, not the answer-once path.
func TestSeedOutboundPeerRateLimited(t *testing.T) {
	e := newEnv(t)
	seed := e.startSeed(testConfig())
	e.settle()
	p := e.peer(1, nil)
	seed.r.CrawlPeers([]addrbook.NetAddress{p.addr})
	for i := 0; i < 3; i++ {
		p.node.Send(seed.addr.ID, &tmp2p.PexRequest{})
	}
	e.settle()
	if seed.node.Connected(p.addr.ID) || e.obs.misb(pex.ReasonRequestTooSoon) != 1 {
		t.Fatal("a seed's outbound peer was not rate limited")
	}
}

// Crawl records older than 24 h are forgotten at a crawl round.
func TestSeedCrawlInfoExpiry(t *testing.T) {
	e := newEnv(t)
	seed := e.startSeed(testConfig())
	e.settle()
	gone := pextest.NodeAddr(1) // unreachable, then removed from the book
	seed.r.CrawlPeers([]addrbook.NetAddress{gone})
	if seed.r.CrawlInfos() != 1 {
		t.Fatal("crawl not recorded")
	}
	e.clk.Run(24 * time.Hour)
	if seed.r.CrawlInfos() != 1 {
		t.Fatal("crawl record dropped before 24 h")
	}
	e.clk.Run(testConfig().CrawlPeerPeriod + time.Second)
	if seed.r.CrawlInfos() != 0 {
		t.Fatal("crawl record kept after 24 h")
	}
}

// Metrics hooks: requests in both directions and received addresses are
// reported to the Observer.
func TestObserverCounts(t *testing.T) {
	e := newEnv(t)
	n, p := solicited(t, e)
	e.send(p, n.addr.ID, addrsMsg(pextest.NodeAddr(5), pextest.NodeAddr(6)))
	e.send(p, n.addr.ID, &tmp2p.PexRequest{})
	e.obs.mu.Lock()
	defer e.obs.mu.Unlock()
	if e.obs.sent != 1 || e.obs.recv != 1 || e.obs.addrs != 2 {
		t.Fatalf("observer: sent %d recv %d addrs %d, want 1 1 2", e.obs.sent, e.obs.recv, e.obs.addrs)
	}
}

// An outbound peer reached at its book address and authenticated is marked
// good (moved to an old bucket), so a node without consensus still fills
// the eclipse-resistant old buckets. Off, the address stays new, as
// upstream leaves it.
func TestMarkGoodOnOutbound(t *testing.T) {
	for _, on := range []bool{true, false} {
		t.Run(fmt.Sprint("on=", on), func(t *testing.T) {
			e := newEnv(t)
			cfg := testConfig()
			cfg.MarkGoodOnOutbound = on
			n := e.reactorNode(0, cfg, nil)
			e.start(n)
			e.settle()
			p := e.peer(1, nil)
			if err := n.book.AddAddress(p.addr, pextest.NodeAddr(7)); err != nil {
				t.Fatal(err)
			}
			if n.book.IsGood(p.addr.ID) {
				t.Fatal("address good before any connection")
			}
			e.dial(n.node, p.addr)
			if got := n.book.IsGood(p.addr.ID); got != on {
				t.Fatalf("IsGood after outbound connect = %v, want %v", got, on)
			}
			// An inbound peer proves nothing about its advertised address.
			q := e.peer(2, nil)
			e.dial(q.node, n.addr)
			if n.book.IsGood(q.addr.ID) {
				t.Fatal("inbound peer's address marked good")
			}
		})
	}
}
