package transport

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/pexp2p/pexp2p/addrbook"
	"github.com/pexp2p/pexp2p/internal/testwait"
)

// Banned by ID, and by IP where the IP rule applies: a peer stopped for breaking the wire keeps its ID out, and — unless
// duplicate IPs are allowed — any other identity from its IP, while
// peers from other IPs still get in. The rule is off on loopback in
// production (every local test peer shares 127.0.0.1); this test turns
// it on there and dials over TCP, whose source address is the raw
// peer's listen IP.
func TestWireViolatorBannedByIDAndIP(t *testing.T) {
	n, h := testNode(t, 53, func(c *Config) {
		c.ListenAddrs = []ma.Multiaddr{ma.StringCast("/ip4/127.53.0.1/tcp/0")}
		c.ipRuleOnLoopback = true
	})
	connect := func(rp *rawPeer) error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return rp.h.Connect(ctx, peer.AddrInfo{ID: n.ID(), Addrs: n.Host().Addrs()})
	}
	added := func(rp *rawPeer) bool {
		a, _, _ := h.snapshot()
		_, ok := a[rp.h.ID().String()]
		return ok
	}

	bad := newRawPeer(t, 54)
	if err := connect(bad); err != nil {
		t.Fatal(err)
	}
	testwait.For(t, 5*time.Second, "the peer to be set up", func() bool { return added(bad) })
	n.mu.Lock()
	ip := n.peers[bad.h.ID()].info.RemoteIP
	n.mu.Unlock()
	if ip.String() != "127.54.0.1" {
		t.Fatalf("peer's remote IP %v, want 127.54.0.1 (the test relies on TCP dialing from the listen IP)", ip)
	}
	bad.sendRaw(t, n.ID(), []byte{0x02, 0x1a, 0x00}) // an unknown oneof arm
	// Both ends must have seen the close: a dialer that still holds its
	// old connection would have Connect succeed without dialing.
	testwait.For(t, 5*time.Second, "the violator to be disconnected", func() bool {
		return n.Host().Network().Connectedness(bad.h.ID()) != network.Connected && !added(bad) &&
			bad.h.Network().Connectedness(n.ID()) != network.Connected
	})

	// The same ID again, and a new ID from the same IP: both refused by
	// the gater before any handshake, so the dial itself fails and no
	// setup can be under way when the checks below run.
	if err := connect(bad); err == nil {
		t.Fatal("the banned ID connected again")
	}
	sameIP := newRawPeer(t, 54)
	if err := connect(sameIP); err == nil {
		t.Fatal("a new identity from the banned IP connected")
	}
	// Another IP: welcome.
	other := newRawPeer(t, 55)
	if err := connect(other); err != nil {
		t.Fatal(err)
	}
	testwait.For(t, 5*time.Second, "a peer from another IP to be set up", func() bool { return added(other) })
	if added(bad) || n.Host().Network().Connectedness(bad.h.ID()) == network.Connected {
		t.Fatal("the banned ID got back in")
	}
	if added(sameIP) || n.Host().Network().Connectedness(sameIP.h.ID()) == network.Connected {
		t.Fatal("a new identity from the banned IP got in")
	}
}

// Control for the test above: with the IP rule in its production setting
// (off on loopback), a new identity from a banned peer's IP gets in.
func TestIPRuleOffOnLoopback(t *testing.T) {
	n, h := testNode(t, 56, func(c *Config) {
		c.ListenAddrs = []ma.Multiaddr{ma.StringCast("/ip4/127.56.0.1/tcp/0")}
	})
	bad := newRawPeer(t, 57)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	connectAndWaitSetUp(ctx, t, n, h, bad, "the peer")
	bad.sendRaw(t, n.ID(), []byte{0x02, 0x1a, 0x00})
	testwait.For(t, 5*time.Second, "the violator to be disconnected", func() bool {
		return n.Host().Network().Connectedness(bad.h.ID()) != network.Connected
	})
	sameIP := newRawPeer(t, 57)
	connectAndWaitSetUp(ctx, t, n, h, sameIP, "a new identity from the same loopback IP")
}

// connectAndWaitSetUp connects p to n and waits until n's handler h has
// added it as a peer.
func connectAndWaitSetUp(ctx context.Context, t *testing.T, n *Node, h *fakeHandler, p *rawPeer, who string) {
	t.Helper()
	if err := p.h.Connect(ctx, peer.AddrInfo{ID: n.ID(), Addrs: n.Host().Addrs()}); err != nil {
		t.Fatal(err)
	}
	testwait.For(t, 5*time.Second, who+" to be set up", func() bool {
		a, _, _ := h.snapshot()
		_, ok := a[p.h.ID().String()]
		return ok
	})
}

type fakeBans struct{ bans []addrbook.Ban }

// The gater's decisions without a network: IP bans apply to public IPs,
// not to loopback, and not when duplicate IPs are allowed.
func TestGaterDecisions(t *testing.T) {
	banned := testPeer(t, 7)
	bans := fakeBans{[]addrbook.Ban{{ID: banned.String(), Addr: addrbook.NetAddress{ID: banned.String(), IP: netip.MustParseAddr("203.0.113.5"), Port: 1}}}}
	mk := func(dup bool) *gater {
		n, err := NewNode(goldenKey(t), Config{Bans: bans, AllowDuplicateIP: dup})
		if err != nil {
			t.Fatal(err)
		}
		return (*gater)(n)
	}
	g := mk(false)
	if g.InterceptPeerDial(banned) || g.InterceptSecured(network.DirInbound, banned, nil) {
		t.Fatal("banned ID allowed")
	}
	if !g.InterceptPeerDial(testPeer(t, 8)) {
		t.Fatal("unbanned ID refused")
	}
	if g.InterceptAddrDial(testPeer(t, 8), ma.StringCast("/ip4/203.0.113.5/tcp/1")) {
		t.Fatal("banned IP allowed")
	}
	if !g.InterceptAddrDial(testPeer(t, 8), ma.StringCast("/ip4/203.0.113.6/tcp/1")) {
		t.Fatal("other IP refused")
	}
	if !mk(true).InterceptAddrDial(testPeer(t, 8), ma.StringCast("/ip4/203.0.113.5/tcp/1")) {
		t.Fatal("allow_duplicate_ip must disable IP bans")
	}
	loop := fakeBans{[]addrbook.Ban{{ID: banned.String(), Addr: addrbook.NetAddress{ID: banned.String(), IP: netip.MustParseAddr("127.0.0.1"), Port: 1}}}}
	n, _ := NewNode(goldenKey(t), Config{Bans: loop})
	if !(*gater)(n).InterceptAddrDial(testPeer(t, 8), ma.StringCast("/ip4/127.0.0.1/tcp/1")) {
		t.Fatal("loopback must be exempt from IP bans")
	}
}

// A peer banned in the book while connected is disconnected by the ban
// sweep and can neither reconnect nor be dialed.
func TestBannedPeerCannotReconnect(t *testing.T) {
	a, _ := testNode(t, 71, nil)
	book, err := addrbook.New(addrbook.Options{IDRule: PeerIDs})
	if err != nil {
		t.Fatal(err)
	}
	b, hb := testNode(t, 72, func(c *Config) { c.Bans = book })
	if err := dial(t, a, b); err != nil {
		t.Fatal(err)
	}
	testwait.For(t, 5*time.Second, "b to add a", func() bool { return hasPeer(b, a.ID()) })
	book.MarkBad(netAddrOf(t, a), time.Hour)
	testwait.For(t, 5*time.Second, "ban sweep to close a", func() bool {
		_, removed, _ := hb.snapshot()
		return removed[a.ID().String()] == 1 && b.Host().Network().Connectedness(a.ID()) != network.Connected
	})
	if err := dial(t, a, b); err == nil {
		t.Fatal("banned peer dialed in")
	}
	if err := dial(t, b, a); err == nil {
		t.Fatal("dialed a banned peer")
	}
	if hasPeer(b, a.ID()) {
		t.Fatal("banned peer handed to the reactor again")
	}
}
