package transport

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/netip"
	"os"
	"sync"
	"testing"
	"time"

	tmp2p "github.com/cometbft/cometbft/proto/tendermint/p2p"
	"github.com/cosmos/gogoproto/proto"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	"go.uber.org/goleak"

	"github.com/pexp2p/pexp2p/addrbook"
	"github.com/pexp2p/pexp2p/pex"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
	os.Exit(0)
}

// fakeHandler records what the node hands to the reactor.
type fakeHandler struct {
	mu       sync.Mutex
	added    map[string]pex.PeerInfo
	removed  map[string]int
	received []received
	changed  chan struct{}
}

type received struct {
	from string
	msg  pex.Message
}

func newFakeHandler() *fakeHandler {
	return &fakeHandler{added: map[string]pex.PeerInfo{}, removed: map[string]int{}, changed: make(chan struct{}, 1000)}
}

func (f *fakeHandler) AddPeer(p pex.PeerInfo) {
	f.mu.Lock()
	f.added[p.ID] = p
	f.mu.Unlock()
	f.changed <- struct{}{}
}

func (f *fakeHandler) RemovePeer(id string, _ any) {
	f.mu.Lock()
	delete(f.added, id)
	f.removed[id]++
	f.mu.Unlock()
	f.changed <- struct{}{}
}

func (f *fakeHandler) Receive(id string, msg pex.Message) {
	f.mu.Lock()
	f.received = append(f.received, received{id, msg})
	f.mu.Unlock()
	f.changed <- struct{}{}
}

func (f *fakeHandler) snapshot() (map[string]pex.PeerInfo, map[string]int, []received) {
	f.mu.Lock()
	defer f.mu.Unlock()
	a := map[string]pex.PeerInfo{}
	for k, v := range f.added {
		a[k] = v
	}
	r := map[string]int{}
	for k, v := range f.removed {
		r[k] = v
	}
	return a, r, append([]received(nil), f.received...)
}

// waitFor polls cond until it holds or the deadline passes; the network
// under test runs on real time, so this is the bound, not a sleep.
func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// testNodeConfig is the configuration of test node i: QUIC and TCP on
// 127.<i>.0.1, short timeouts.
func testNodeConfig(i int) Config {
	ip := fmt.Sprintf("127.%d.0.1", i)
	return Config{
		ListenAddrs: []ma.Multiaddr{
			ma.StringCast("/ip4/" + ip + "/udp/0/quic-v1"),
			ma.StringCast("/ip4/" + ip + "/tcp/0"),
		},
		Network:          "test-chain",
		Moniker:          fmt.Sprintf("node%d", i),
		HandshakeTimeout: 5 * time.Second,
		StreamTimeout:    2 * time.Second,
		BanSweepPeriod:   100 * time.Millisecond,
	}
}

// testNode starts a node on 127.<i>.0.1 with QUIC and TCP on one free port.
func testNode(t testing.TB, i int, mod func(*Config)) (*Node, *fakeHandler) {
	t.Helper()
	key, err := GenNodeKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	cfg := testNodeConfig(i)
	if mod != nil {
		mod(&cfg)
	}
	n, err := NewNode(key, cfg)
	if err != nil {
		t.Fatal(err)
	}
	h := newFakeHandler()
	n.SetHandler(h)
	if err := n.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.Stop() })
	return n, h
}

func netAddrOf(t testing.TB, n *Node) addrbook.NetAddress {
	t.Helper()
	addrs := n.OurNetAddresses()
	if len(addrs) == 0 {
		t.Fatal("node has no address")
	}
	return addrs[0]
}

// P1/P2 on the libp2p face: a peer reaches the handler only after
// identify and NodeInfo, with its real direction and advertised address;
// messages cross in both directions; RemovePeer follows the disconnect.
func TestTwoNodesLifecycleAndMessages(t *testing.T) {
	a, ha := testNode(t, 11, nil)
	b, hb := testNode(t, 12, nil)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.Dial(ctx, netAddrOf(t, b)); err != nil {
		t.Fatalf("dial: %v", err)
	}
	// Dial returns after our side is set up; the other side follows.
	addedA, _, _ := ha.snapshot()
	pb, ok := addedA[b.ID().String()]
	if !ok || !pb.Outbound {
		t.Fatalf("a's view of b: %+v %v", pb, ok)
	}
	if pb.ListenAddr != netAddrOf(t, b) {
		t.Fatalf("b advertises %v, want %v", pb.ListenAddr, netAddrOf(t, b))
	}
	waitFor(t, 5*time.Second, "b to add a", func() bool {
		m, _, _ := hb.snapshot()
		_, ok := m[a.ID().String()]
		return ok
	})
	addedB, _, _ := hb.snapshot()
	pa := addedB[a.ID().String()]
	if pa.Outbound {
		t.Fatal("b sees a as outbound; direction must be real")
	}
	if pa.ListenAddr.IP.String() != "127.11.0.1" || pa.ListenAddr.ID != a.ID().String() {
		t.Fatalf("b learned a's address as %v", pa.ListenAddr)
	}
	if out, in, dial := a.NumPeers(); out != 1 || in != 0 || dial != 0 {
		t.Fatalf("a NumPeers = %d %d %d", out, in, dial)
	}
	if out, in, _ := b.NumPeers(); out != 0 || in != 1 {
		t.Fatalf("b NumPeers = %d %d", out, in)
	}
	if err := a.Dial(ctx, netAddrOf(t, b)); err != pex.ErrAlreadyConnectedOrDialing {
		t.Fatalf("second dial: %v", err)
	}
	if !a.IsDialingOrConnected(netAddrOf(t, b)) {
		t.Fatal("IsDialingOrConnected false for a connected peer")
	}

	want := &tmp2p.PexAddrs{Addrs: []tmp2p.NetAddress{{ID: a.ID().String(), IP: "127.11.0.1", Port: 5}}}
	if !a.Send(b.ID().String(), &tmp2p.PexRequest{}) || !b.Send(a.ID().String(), want) {
		t.Fatal("Send refused")
	}
	waitFor(t, 5*time.Second, "messages", func() bool {
		_, _, rb := hb.snapshot()
		_, _, ra := ha.snapshot()
		return len(rb) == 1 && len(ra) == 1
	})
	_, _, rb := hb.snapshot()
	_, _, ra := ha.snapshot()
	if _, ok := rb[0].msg.(*tmp2p.PexRequest); !ok || rb[0].from != a.ID().String() {
		t.Fatalf("b received %+v", rb[0])
	}
	if !proto.Equal(ra[0].msg, want) || ra[0].from != b.ID().String() {
		t.Fatalf("a received %+v", ra[0])
	}

	a.StopPeerGracefully(b.ID().String())
	waitFor(t, 5*time.Second, "RemovePeer on both", func() bool {
		_, ra, _ := ha.snapshot()
		_, rb, _ := hb.snapshot()
		return ra[b.ID().String()] == 1 && rb[a.ID().String()] == 1
	})
	if len(a.Peers()) != 0 {
		t.Fatalf("a still has peers %v", a.Peers())
	}
}

// One peer with several connections is one peer: one AddPeer, and
// RemovePeer only when the last connection closes. Simultaneous dials
// from both sides give two connections (libp2p does not merge them).
func TestSeveralConnectionsOnePeer(t *testing.T) {
	a, ha := testNode(t, 13, nil)
	b, hb := testNode(t, 14, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	aInfo := peer.AddrInfo{ID: a.ID(), Addrs: a.Host().Addrs()}
	bInfo := peer.AddrInfo{ID: b.ID(), Addrs: b.Host().Addrs()}
	for attempt := 0; len(a.Host().Network().ConnsToPeer(b.ID())) < 2; attempt++ {
		if attempt == 10 {
			t.Fatal("no simultaneous connections in 10 attempts")
		}
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { defer wg.Done(); _ = a.Host().Connect(ctx, bInfo) }()
		go func() { defer wg.Done(); _ = b.Host().Connect(ctx, aInfo) }()
		wg.Wait()
		if len(a.Host().Network().ConnsToPeer(b.ID())) < 2 {
			_ = a.Host().Network().ClosePeer(b.ID())
			waitFor(t, 5*time.Second, "disconnect", func() bool {
				added, _, _ := ha.snapshot()
				return len(added) == 0 && !hasPeer(a, b.ID()) && len(a.Host().Network().ConnsToPeer(b.ID())) == 0
			})
		}
	}
	waitFor(t, 5*time.Second, "a sets b up", func() bool {
		added, _, _ := ha.snapshot()
		// b's setup must be over too: a failure there closes every
		// connection between the two.
		return hasPeer(a, b.ID()) && len(added) == 1 && hb.has(a.ID())
	})
	if len(a.Host().Network().ConnsToPeer(b.ID())) < 2 {
		t.Skip("one of the two connections closed during setup; nothing left to test")
	}
	added, removed, _ := ha.snapshot()
	before := removed[b.ID().String()]
	if len(added) != 1 {
		t.Fatalf("added %v", added)
	}
	conns := a.Host().Network().ConnsToPeer(b.ID())
	_ = conns[0].Close()
	time.Sleep(300 * time.Millisecond)
	if _, removed, _ := ha.snapshot(); removed[b.ID().String()] != before || !hasPeer(a, b.ID()) {
		t.Fatal("peer removed while a connection remains")
	}
	for _, c := range a.Host().Network().ConnsToPeer(b.ID()) {
		_ = c.Close()
	}
	waitFor(t, 5*time.Second, "RemovePeer after the last connection", func() bool {
		_, removed, _ := ha.snapshot()
		return removed[b.ID().String()] == before+1 && !hasPeer(a, b.ID())
	})
}

// Streams are released: after messages are exchanged no stream remains
// open in either host's resource manager (item 8).
func TestNoStreamLeaks(t *testing.T) {
	a, _ := testNode(t, 15, nil)
	b, hb := testNode(t, 16, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.Dial(ctx, netAddrOf(t, b)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "b sets a up", func() bool { return hasPeer(b, a.ID()) })
	for range 5 {
		a.Send(b.ID().String(), &tmp2p.PexRequest{})
	}
	waitFor(t, 5*time.Second, "a request delivered", func() bool { _, _, r := hb.snapshot(); return len(r) >= 1 })
	streams := func(n *Node) int {
		total := 0
		_ = n.Host().Network().ResourceManager().ViewSystem(func(s network.ResourceScope) error {
			st := s.Stat()
			total = st.NumStreamsInbound + st.NumStreamsOutbound
			return nil
		})
		return total
	}
	waitFor(t, 10*time.Second, "all streams closed", func() bool { return streams(a) == 0 && streams(b) == 0 })
}

// CometBFT's inbound limit, not libp2p's connection manager, decides:
// beyond max inbound, OverLimitSlots visitors are handed over marked
// OverLimit, then peers are refused; unconditional peers are exempt and
// not counted.
func TestInboundLimitOverLimitAndUnconditional(t *testing.T) {
	uncond := newRawPeer(t, 104)
	n, h := testNode(t, 100, func(c *Config) {
		c.MaxInboundPeers = 1
		c.OverLimitSlots = 1
		c.UnconditionalPeerIDs = []string{uncond.h.ID().String()}
	})
	p1, p2, p3 := newRawPeer(t, 101), newRawPeer(t, 102), newRawPeer(t, 103)
	if err := p1.connect(t, n); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "p1", func() bool { return h.has(p1.h.ID()) })
	if err := p2.connect(t, n); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "p2", func() bool { return h.has(p2.h.ID()) })
	added, _, _ := h.snapshot()
	if added[p1.h.ID().String()].OverLimit || !added[p2.h.ID().String()].OverLimit {
		t.Fatalf("OverLimit flags: p1 %v p2 %v", added[p1.h.ID().String()].OverLimit, added[p2.h.ID().String()].OverLimit)
	}
	_ = p3.connect(t, n)
	time.Sleep(500 * time.Millisecond)
	waitFor(t, 10*time.Second, "p3 refused", func() bool {
		return !hasPeer(n, p3.h.ID()) && n.Host().Network().Connectedness(p3.h.ID()) != network.Connected
	})
	if err := uncond.connect(t, n); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "unconditional peer", func() bool { return hasPeer(n, uncond.h.ID()) })
	if out, in, _ := n.NumPeers(); out != 0 || in != 1 {
		t.Fatalf("NumPeers = %d out, %d in; want 0, 1 (visitor and unconditional not counted)", out, in)
	}
}

// handlerHas waits for the handler's own record, which lags the node's
// peer table by one call.
func (f *fakeHandler) has(id peer.ID) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, ok := f.added[id.String()]
	return ok
}

// IsDialingOrConnected: by ID always; by IP unless allow_duplicate_ip or
// loopback (upstream's switch refuses a second peer from one IP).
func TestIsDialingOrConnectedDuplicateIP(t *testing.T) {
	connected := testPeer(t, 20)
	other := testPeer(t, 21)
	for _, dup := range []bool{false, true} {
		n, err := NewNode(goldenKey(t), Config{AllowDuplicateIP: dup})
		if err != nil {
			t.Fatal(err)
		}
		pub := netip.MustParseAddr("203.0.113.5")
		n.peers[connected] = &peerState{id: connected, added: true, info: pex.PeerInfo{ID: connected.String(), RemoteIP: pub}}
		lo := netip.MustParseAddr("127.0.0.1")
		n.peers[testPeer(t, 22)] = &peerState{added: true, info: pex.PeerInfo{RemoteIP: lo}}
		if !n.IsDialingOrConnected(addrbook.NetAddress{ID: connected.String(), IP: netip.MustParseAddr("198.51.100.1"), Port: 1}) {
			t.Fatal("connected ID not reported")
		}
		if got := n.IsDialingOrConnected(addrbook.NetAddress{ID: other.String(), IP: pub, Port: 1}); got == dup {
			t.Fatalf("allow_duplicate_ip=%v: same IP reported %v", dup, got)
		}
		if n.IsDialingOrConnected(addrbook.NetAddress{ID: other.String(), IP: lo, Port: 1}) {
			t.Fatal("loopback must not count as a duplicate IP")
		}
		n.dialing[other] = true
		if !n.IsDialingOrConnected(addrbook.NetAddress{ID: other.String(), IP: netip.MustParseAddr("198.51.100.2"), Port: 1}) {
			t.Fatal("dial in flight not reported")
		}
		if n.MaxNumOutboundPeers() != 10 {
			t.Fatalf("default outbound limit %d", n.MaxNumOutboundPeers())
		}
	}
}
