package pex_test

// Upstream's 16 reactor tests (p2p/pex/pex_reactor_test.go), ported as behaviour tests
// on virtual time over pextest and the real *addrbook.Book.

import (
	"context"
	"encoding/hex"
	"errors"
	"net/netip"
	"testing"
	"time"

	tmp2p "github.com/cometbft/cometbft/proto/tendermint/p2p"

	"github.com/pexp2p/pexp2p/addrbook"
	"github.com/pexp2p/pexp2p/pex"
	"github.com/pexp2p/pexp2p/pex/pextest"
)

// Construction, lifecycle and upstream's constants.
func TestPEXReactorBasic(t *testing.T) {
	e := newEnv(t)
	n := e.reactorNode(0, testConfig(), nil)
	if err := n.r.Start(); err != nil {
		t.Fatal(err)
	}
	if err := n.r.Start(); !errors.Is(err, pex.ErrAlreadyStarted) {
		t.Fatalf("second Start = %v, want ErrAlreadyStarted", err)
	}
	if err := n.r.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := n.r.Stop(); !errors.Is(err, pex.ErrNotStarted) {
		t.Fatalf("second Stop = %v, want ErrNotStarted", err)
	}
	c := pex.DefaultConfig()
	for _, tc := range []struct {
		name      string
		got, want any
	}{
		{"EnsurePeersPeriod", c.EnsurePeersPeriod, 30 * time.Second},
		{"CrawlPeerPeriod", c.CrawlPeerPeriod, 30 * time.Second},
		{"MinTimeBetweenCrawls", c.MinTimeBetweenCrawls, 2 * time.Minute},
		{"CrawlInfoExpiry", c.CrawlInfoExpiry, 24 * time.Hour},
		{"MaxAttemptsToDial", c.MaxAttemptsToDial, 16},
		{"BanTime", c.BanTime, 24 * time.Hour},
		{"BiasToSelectNewPeers", c.BiasToSelectNewPeers, 30},
		{"SeedDisconnectWaitPeriod", c.SeedDisconnectWaitPeriod, 28 * time.Hour},
		{"MaxAddrsPerMsg", c.MaxAddrsPerMsg, 250},
		{"MaxDialJitter", c.MaxDialJitter, time.Second},
		{"PersistentPeersMaxDialPeriod", c.PersistentPeersMaxDialPeriod, time.Duration(0)},
		{"MaxMsgSize", pex.MaxMsgSize, 64000},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %v, want upstream's %v", tc.name, tc.got, tc.want)
		}
	}
}

// An inbound peer's advertised address enters the book with the peer as
// source; an outbound peer is asked instead; removal forgets the request
// state.
func TestPEXReactorAddRemovePeer(t *testing.T) {
	e := newEnv(t)
	n := e.startNode(0, testConfig())
	e.settle() // the first ensurePeers round, with no peers yet
	in := e.peer(1, nil)
	out := e.peer(2, nil)

	size := n.book.Size()
	e.dial(in.node, n.addr)
	if got := n.book.Size(); got != size+1 || !n.book.HasAddress(in.addr.ID) {
		t.Fatalf("after inbound peer: size %d (want %d), has=%v", got, size+1, n.book.HasAddress(in.addr.ID))
	}
	if in.rec.Requests(n.addr.ID) != 0 {
		t.Fatal("an inbound peer was asked for addresses on connect")
	}

	e.dial(n.node, out.addr)
	if got := n.book.Size(); got != size+1 {
		t.Fatalf("outbound peers should not be added to the book: size %d, want %d", got, size+1)
	}
	if out.rec.Requests(n.addr.ID) != 1 || !n.r.HasOutstandingRequest(out.addr.ID) {
		t.Fatal("outbound peer was not asked for addresses while the book needs more")
	}
	n.node.StopPeerForError(out.addr.ID, errors.New("test"))
	if n.r.HasOutstandingRequest(out.addr.ID) {
		t.Fatal("RemovePeer kept the outstanding request")
	}
}

// Upstream's TestPEXReactorRunning: three nodes with partial books (0→1,
// 1→0, 2→1) all reach two peers.
func TestPEXReactorRunning(t *testing.T) {
	e := newEnv(t)
	cfg := testConfig()
	cfg.EnsurePeersPeriod = 250 * time.Millisecond
	var nodes []*tnode
	for i := 0; i < 3; i++ {
		nodes = append(nodes, e.reactorNode(i, cfg, nil))
	}
	add := func(from, to int) {
		if err := nodes[from].book.AddAddress(nodes[to].addr, nodes[from].addr); err != nil {
			t.Fatal(err)
		}
	}
	add(0, 1)
	add(1, 0)
	add(2, 1)
	for _, n := range nodes {
		e.start(n)
	}
	e.clk.Run(10 * cfg.EnsurePeersPeriod)
	for i, n := range nodes {
		if got := len(n.node.Peers()); got < 2 {
			t.Errorf("node %d has %d peers, want 2", i, got)
		}
	}
	if e.obs.misb(pex.ReasonRequestTooSoon)+e.obs.misb(pex.ReasonUnsolicited) != 0 {
		t.Fatalf("honest nodes punished each other: %v", e.obs.misbehavior)
	}
}

// A solicited PexAddrs grows the book; a PexRequest is answered.
func TestPEXReactorReceive(t *testing.T) {
	e := newEnv(t)
	n, p := solicited(t, e) // outbound: the reactor asks p

	size := n.book.Size()
	e.send(p, n.addr.ID, addrsMsg(pextest.NodeAddr(5)))
	if got := n.book.Size(); got != size+1 || !n.book.HasAddress(pextest.NodeAddr(5).ID) {
		t.Fatalf("book size %d after a one-address answer, want %d", got, size+1)
	}
	e.send(p, n.addr.ID, &tmp2p.PexRequest{})
	if got := len(p.rec.Answers(n.addr.ID)); got != 1 {
		t.Fatalf("peer got %d answers to its request, want 1", got)
	}
	if !n.node.Connected(p.addr.ID) {
		t.Fatal("honest peer disconnected")
	}
}

// The first two requests are free, a third one at once is abuse.
func TestPEXReactorRequestMessageAbuse(t *testing.T) {
	e := newEnv(t)
	n := e.startNode(0, testConfig())
	p := e.peer(1, nil)
	e.dial(p.node, n.addr)
	if !n.book.HasAddress(p.addr.ID) {
		t.Fatal("inbound peer not in the book")
	}

	e.send(p, n.addr.ID, &tmp2p.PexRequest{})
	if !n.r.HasReceivedRequests(p.addr.ID) || !n.node.Connected(p.addr.ID) {
		t.Fatal("first request: not tracked or peer dropped")
	}
	e.send(p, n.addr.ID, &tmp2p.PexRequest{})
	if !n.r.HasReceivedRequests(p.addr.ID) || !n.node.Connected(p.addr.ID) {
		t.Fatal("second request: not tracked or peer dropped")
	}
	e.send(p, n.addr.ID, &tmp2p.PexRequest{})
	if n.r.HasReceivedRequests(p.addr.ID) || n.node.Connected(p.addr.ID) {
		t.Fatal("third request too soon: peer still connected or tracked")
	}
	if !n.book.IsBanned(p.addr.ID) {
		t.Fatal("abusive peer not banned")
	}
	stops := n.node.Stops()
	if len(stops) != 1 || !errors.Is(stops[0].Reason, pex.ErrRequestTooSoon) || !errors.Is(stops[0].Reason, pex.ErrMisbehavior) {
		t.Fatalf("stops = %+v, want one for ErrRequestTooSoon", stops)
	}
	var me *pex.MisbehaviorError
	if !errors.As(stops[0].Reason, &me) || me.Reason != pex.ReasonRequestTooSoon || me.PeerID != p.addr.ID {
		t.Fatalf("stop reason %v is not a MisbehaviorError naming the peer", stops[0].Reason)
	}
	if e.obs.misb(pex.ReasonRequestTooSoon) != 1 {
		t.Fatalf("misbehaviour counter = %v", e.obs.misbehavior)
	}
}

// An answer clears the outstanding request; a second, unsolicited PexAddrs
// is abuse.
func TestPEXReactorAddrsMessageAbuse(t *testing.T) {
	e := newEnv(t)
	n, p := solicited(t, e)
	e.send(p, n.addr.ID, addrsMsg(pextest.NodeAddr(5)))
	if n.r.HasOutstandingRequest(p.addr.ID) || !n.node.Connected(p.addr.ID) {
		t.Fatal("answer did not clear the request, or the peer was dropped")
	}
	e.send(p, n.addr.ID, addrsMsg(pextest.NodeAddr(6)))
	if n.node.Connected(p.addr.ID) {
		t.Fatal("unsolicited PexAddrs: peer still connected")
	}
	if !n.book.IsBanned(p.addr.ID) {
		t.Fatal("unsolicited PexAddrs: peer not banned")
	}
	if n.book.HasAddress(pextest.NodeAddr(6).ID) {
		t.Fatal("addresses of an unsolicited PexAddrs were added")
	}
	if e.obs.misb(pex.ReasonUnsolicited) != 1 {
		t.Fatalf("misbehaviour counter = %v", e.obs.misbehavior)
	}
}

// Seeds are parsed at start, DNS failures are tolerated, and an empty book
// with no resolvable seed is an error.
func TestCheckSeeds(t *testing.T) {
	good := pextest.NodeAddr(9)
	resolver := func(_ context.Context, host string) ([]netip.Addr, error) {
		if host == "seed.example" {
			return []netip.Addr{good.IP}, nil
		}
		return nil, errors.New("no such host " + host)
	}
	hostSeed := func(id, host string) string { return id + "@" + host + ":26656" }
	for _, tc := range []struct {
		name      string
		seeds     []string
		bookAddr  bool
		wantErr   error
		wantSeeds int
	}{
		{"no seeds, empty book", nil, false, nil, 0},
		{"one online seed", []string{good.String()}, false, nil, 1},
		{"all seeds unresolvable, empty book", []string{hostSeed(good.ID, "bad1.invalid"), hostSeed(good.ID, "bad2.invalid")}, false, pex.ErrEmptyBookNoSeeds, 0},
		{"all seeds unresolvable, book not empty", []string{hostSeed(good.ID, "bad1.invalid")}, true, nil, 0},
		{"two bad and one good", []string{hostSeed(good.ID, "bad1.invalid"), hostSeed(good.ID, "bad2.invalid"), hostSeed(good.ID, "seed.example")}, false, nil, 1},
		{"malformed seed", []string{"not-an-address"}, false, pex.ErrSeedConfig, 0},
		{"bad ID", []string{"xyz@11.0.0.1:26656"}, false, pex.ErrSeedConfig, 0},
		{"bad ID with a host name is refused before DNS", []string{hostSeed("xyz", "bad1.invalid")}, false, pex.ErrSeedConfig, 0},
		{"bad port", []string{good.ID + "@seed.example:99999"}, false, pex.ErrSeedConfig, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			book := e.newBook(0)
			if tc.bookAddr {
				if err := book.AddAddress(pextest.NodeAddr(3), pextest.NodeAddr(3)); err != nil {
					t.Fatal(err)
				}
			}
			cfg := testConfig()
			cfg.Seeds = tc.seeds
			node, err := e.hub.AddNode(pextest.NodeConfig{Addr: pextest.NodeAddr(0)})
			if err != nil {
				t.Fatal(err)
			}
			r := pex.NewReactor(book, node, cfg, pex.WithClock(e.clk), pex.WithExecutor(e.hub.Go), pex.WithResolver(resolver))
			err = r.Start()
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("Start = %v, want %v", err, tc.wantErr)
				}
				if errors.Is(err, pex.ErrSeedConfig) {
					var se *pex.SeedError
					if !errors.As(err, &se) || se.Seed != tc.seeds[0] {
						t.Fatalf("error %v does not name the seed %q", err, tc.seeds[0])
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("Start: %v", err)
			}
			defer func() { _ = r.Stop() }()
			if got := r.SeedAddrs(); len(got) != tc.wantSeeds {
				t.Fatalf("seeds %v, want %d", got, tc.wantSeeds)
			} else if len(got) == 1 && got[0] != good {
				t.Fatalf("seed parsed as %v, want %v", got[0], good)
			}
		})
	}
}

// A node that knows only a seed connects to it at once.
func TestPEXReactorUsesSeedsIfNeeded(t *testing.T) {
	e := newEnv(t)
	seedCfg := testConfig()
	seedCfg.SeedMode = true
	seed := e.startNode(0, seedCfg)
	cfg := testConfig()
	cfg.Seeds = []string{seed.addr.String()}
	n := e.startNode(1, cfg)
	e.clk.Run(latency)
	if !n.node.Connected(seed.addr.ID) {
		t.Fatal("node did not dial its seed")
	}
}

// The fast dial (tendermint#2093, cometbft#486): after the seed answers,
// the node dials the addresses at once, within its outbound limit, and
// without sending a request in that wake-up round (cometbft#4620). The
// seed is recognised by ID even when it advertises an unusable address.
func TestConnectionSpeedForPeerReceivedFromSeed(t *testing.T) {
	for _, advertise := range []bool{false, true} {
		name := "seed advertises its address"
		if advertise {
			name = "seed advertises 0.0.0.0"
		}
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			seedCfg := testConfig()
			seedCfg.SeedMode = true
			seed := e.reactorNode(0, seedCfg, func(nc *pextest.NodeConfig) {
				if advertise {
					nc.Advertise = addrbook.NetAddress{ID: nc.Addr.ID, IP: netip.IPv4Unspecified(), Port: nc.Addr.Port}
				}
			})
			var peers []*peer
			for i := 2; i <= 4; i++ {
				p := e.peer(i, nil)
				peers = append(peers, p)
				if err := seed.book.AddAddress(p.addr, p.addr); err != nil {
					t.Fatal(err)
				}
				seed.book.MarkGood(p.addr.ID)
			}
			e.start(seed)
			cfg := testConfig()
			cfg.Seeds = []string{seed.addr.String()}
			n := e.reactorNode(1, cfg, func(nc *pextest.NodeConfig) { nc.MaxOutbound = 2 })
			e.start(n)

			e.clk.Run(latency)
			if !n.node.Connected(seed.addr.ID) {
				t.Fatal("not connected to the seed")
			}
			e.clk.Run(5 * latency) // far less than a period
			connected := 0
			for _, p := range peers {
				if n.node.Connected(p.addr.ID) {
					connected++
					if got := p.rec.Requests(n.addr.ID); got != 1 {
						t.Errorf("peer %s got %d requests, want exactly the one of AddPeer", p.addr.ID[:8], got)
					}
				}
			}
			if connected < 2 {
				t.Fatalf("connected to %d of the seed's peers before a period elapsed, want 2", connected)
			}
			out, in, dialing := n.node.NumPeers()
			if out > 2 || in > 40 || dialing > 0 {
				t.Fatalf("limits exceeded: out %d in %d dialing %d", out, in, dialing)
			}
		})
	}
}

// A seed keeps a crawled peer until SeedDisconnectWaitPeriod, then lets it
// go gracefully.
func TestPEXReactorSeedMode(t *testing.T) {
	e := newEnv(t)
	cfg := testConfig()
	cfg.SeedMode = true
	cfg.SeedDisconnectWaitPeriod = 10 * time.Millisecond
	seed := e.startNode(0, cfg)
	e.settle()
	if len(seed.node.Peers()) != 0 {
		t.Fatal("seed has peers before crawling")
	}
	p := e.peer(1, nil)
	seed.r.CrawlPeers([]addrbook.NetAddress{p.addr})
	if !seed.node.Connected(p.addr.ID) || len(seed.node.Peers()) != 1 {
		t.Fatal("crawl did not connect to the peer")
	}
	seed.r.AttemptDisconnects()
	e.clk.Run(latency / 2)
	if !seed.node.Connected(p.addr.ID) {
		t.Fatal("peer dropped before the wait period")
	}
	e.clk.Run(10 * time.Millisecond)
	seed.r.AttemptDisconnects()
	e.settle()
	if len(seed.node.Peers()) != 0 {
		t.Fatal("peer kept after the wait period")
	}
	if st := seed.node.Stops(); len(st) != 1 || !st[0].Graceful {
		t.Fatalf("stops = %+v, want one graceful", st)
	}
}

// A seed never lets persistent peers go.
func TestPEXReactorDoesNotDisconnectFromPersistentPeerInSeedMode(t *testing.T) {
	e := newEnv(t)
	cfg := testConfig()
	cfg.SeedMode = true
	cfg.SeedDisconnectWaitPeriod = time.Millisecond
	p := e.peer(1, nil)
	seed := e.reactorNode(0, cfg, func(nc *pextest.NodeConfig) { nc.Persistent = []addrbook.NetAddress{p.addr} })
	e.start(seed)
	seed.r.CrawlPeers([]addrbook.NetAddress{p.addr})
	if !seed.node.Connected(p.addr.ID) {
		t.Fatal("crawl did not connect")
	}
	e.clk.Run(time.Second)
	seed.r.AttemptDisconnects()
	e.settle()
	if !seed.node.Connected(p.addr.ID) {
		t.Fatal("persistent peer disconnected")
	}
}

// In seed mode, an address past the attempt limit is banned, not dialed.
func TestPEXReactorDialsPeerUpToMaxAttemptsInSeedMode(t *testing.T) {
	e := newEnv(t)
	seed := e.startSeed(testConfig())
	addr := pextest.NodeAddr(1) // nobody listens there
	if err := seed.book.AddAddress(addr, addr); err != nil {
		t.Fatal(err)
	}
	seed.r.SetAttempts(addr, testConfig().MaxAttemptsToDial+1, e.clk.Now())
	dials := e.hub.Stats().Dials
	seed.r.CrawlPeers([]addrbook.NetAddress{addr})
	if seed.book.HasAddress(addr.ID) || !seed.book.IsBanned(addr.ID) {
		t.Fatal("address past max attempts still in the book or not banned")
	}
	if e.hub.Stats().Dials != dials {
		t.Fatal("address past max attempts was dialed")
	}
}

// A seed answers an inbound peer once with a biased selection, then
// disconnects it after the answer is delivered; a repeated request
// meanwhile is ignored, and stopping the seed while the graceful stop is
// pending neither panics nor hangs.
func TestPEXReactorSeedModeFlushStop(t *testing.T) {
	e := newEnv(t)
	cfg := testConfig()
	cfg.SeedMode = true
	spy := &spyBook{AddrBook: e.newBook(0)}
	seed := e.reactorNodeWithBook(0, spy, cfg, nil)
	for i := 10; i < 20; i++ {
		if err := spy.AddAddress(pextest.NodeAddr(i), pextest.NodeAddr(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := seed.r.Start(); err != nil {
		t.Fatal(err)
	}
	e.settle() // the first crawl reads GetSelection
	spy.mu.Lock()
	spy.selections = 0
	spy.mu.Unlock()
	p := e.peer(1, nil)
	var order []pextest.EventKind
	e.hub.Trace(func(ev pextest.Event) {
		if ev.To == p.addr.ID || ev.From == p.addr.ID {
			order = append(order, ev.Kind)
		}
	})
	if err := p.node.Dial(t.Context(), seed.addr); err != nil {
		t.Fatal(err)
	}
	p.node.Send(seed.addr.ID, &tmp2p.PexRequest{})
	e.clk.Run(latency) // request arrives; answer and graceful stop start
	p.node.Send(seed.addr.ID, &tmp2p.PexRequest{})
	e.settle()
	answers := p.rec.Answers(seed.addr.ID)
	if len(answers) != 1 || len(answers[0].Addrs) == 0 {
		t.Fatalf("peer got %d answers, want exactly one non-empty", len(answers))
	}
	if len(spy.biasSelections) != 1 || spy.biasSelections[0] != 30 || spy.selections != 0 {
		t.Fatalf("seed answered with selections %d / biased %v, want one GetSelectionWithBias(30)", spy.selections, spy.biasSelections)
	}
	if seed.node.Connected(p.addr.ID) {
		t.Fatal("seed kept the peer after answering")
	}
	if st := seed.node.Stops(); len(st) != 1 || !st[0].Graceful {
		t.Fatalf("stops = %+v, want one graceful", st)
	}
	if spy.IsBanned(p.addr.ID) || e.obs.misb(pex.ReasonRequestTooSoon) != 0 {
		t.Fatal("repeated request to a seed was punished")
	}
	// connect, request delivered, answer delivered, then the disconnect.
	want := []pextest.EventKind{pextest.EvConnect, pextest.EvDeliver, pextest.EvDeliver, pextest.EvDisconnect}
	if len(order) < 4 || order[0] != want[0] || order[2] != want[2] || order[len(order)-1] != pextest.EvDisconnect {
		t.Fatalf("event order %v, want the answer before the disconnect", order)
	}

	// Stop with a graceful stop pending.
	q := e.peer(2, nil)
	if err := q.node.Dial(t.Context(), seed.addr); err != nil {
		t.Fatal(err)
	}
	q.node.Send(seed.addr.ID, &tmp2p.PexRequest{})
	e.clk.Run(latency)
	if err := seed.r.Stop(); err != nil {
		t.Fatal(err)
	}
	e.settle()
}

// Private peers (tendermint#1706) never enter the book, nor do addresses
// they send.
func TestPEXReactorDoesNotAddPrivatePeersToAddrBook(t *testing.T) {
	e := newEnv(t)
	n := e.startNode(0, testConfig())
	in := e.peer(1, nil)
	out := e.peer(2, nil)
	n.book.AddPrivateIDs([]string{in.addr.ID, out.addr.ID})
	size := n.book.Size()
	e.dial(in.node, n.addr)
	if n.book.Size() != size {
		t.Fatal("private inbound peer added to the book")
	}
	e.dial(n.node, out.addr)
	e.send(out, n.addr.ID, addrsMsg(pextest.NodeAddr(7)))
	if n.book.Size() != size {
		t.Fatal("address from a private peer added to the book")
	}
	if !n.node.Connected(out.addr.ID) {
		t.Fatal("private peer punished for an honest answer")
	}
}

// A failed dial counts; a retry inside the backoff is refused without
// counting; after 2^1 s + jitter it counts again.
func TestPEXReactorDialPeer(t *testing.T) {
	e := newEnv(t)
	n := e.startNode(0, testConfig())
	addr := pextest.NodeAddr(1) // unreachable
	if got := n.r.AttemptsToDial(addr); got != 0 {
		t.Fatalf("attempts %d before dialing", got)
	}
	if err := n.r.DialPeer(addr); err == nil {
		t.Fatal("dial to nobody succeeded")
	}
	if got := n.r.AttemptsToDial(addr); got != 1 {
		t.Fatalf("attempts %d after one failure, want 1", got)
	}
	err := n.r.DialPeer(addr)
	if !errors.Is(err, pex.ErrTooEarlyToDial) {
		t.Fatalf("immediate retry = %v, want ErrTooEarlyToDial", err)
	}
	var de *pex.DialError
	if !errors.As(err, &de) || de.Addr != addr {
		t.Fatalf("error %v does not name the address", err)
	}
	if got := n.r.AttemptsToDial(addr); got != 1 {
		t.Fatalf("attempts %d after a refused retry, want 1", got)
	}
	e.clk.Run(3 * time.Second)
	if err := n.r.DialPeer(addr); err == nil || errors.Is(err, pex.ErrTooEarlyToDial) {
		t.Fatalf("retry after the backoff = %v, want a dial failure", err)
	}
	if got := n.r.AttemptsToDial(addr); got != 2 {
		t.Fatalf("attempts %d, want 2", got)
	}
}

// Upstream's wire vectors for PexRequest and PexAddrs.
func TestPexVectors(t *testing.T) {
	for _, tc := range []struct {
		name string
		msg  tmp2p.Message
		want string
	}{
		{"PexRequest", tmp2p.Message{Sum: &tmp2p.Message_PexRequest{PexRequest: &tmp2p.PexRequest{}}}, "0a00"},
		{"PexAddrs", tmp2p.Message{Sum: &tmp2p.Message_PexAddrs{PexAddrs: &tmp2p.PexAddrs{Addrs: []tmp2p.NetAddress{{ID: "1", IP: "127.0.0.1", Port: 9090}}}}},
			"12130a110a013112093132372e302e302e31188247"},
	} {
		bz, err := tc.msg.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if got := hex.EncodeToString(bz); got != tc.want {
			t.Errorf("%s = %s, want %s", tc.name, got, tc.want)
		}
	}
}
