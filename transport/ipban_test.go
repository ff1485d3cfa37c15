package transport

import (
	"context"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// Issue 8 item 3, "banned by ID, and by IP where the IP rule applies":
// a peer stopped for breaking the wire keeps its ID out, and — unless
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
	waitFor(t, 5*time.Second, "the peer to be set up", func() bool { return added(bad) })
	n.mu.Lock()
	ip := n.peers[bad.h.ID()].info.RemoteIP
	n.mu.Unlock()
	if ip.String() != "127.54.0.1" {
		t.Fatalf("peer's remote IP %v, want 127.54.0.1 (the test relies on TCP dialing from the listen IP)", ip)
	}
	bad.sendRaw(t, n.ID(), []byte{0x02, 0x1a, 0x00}) // an unknown oneof arm
	waitFor(t, 5*time.Second, "the violator to be disconnected", func() bool {
		return n.Host().Network().Connectedness(bad.h.ID()) != network.Connected && !added(bad)
	})

	// The same ID again, and a new ID from the same IP: both refused.
	_ = connect(bad)
	sameIP := newRawPeer(t, 54)
	_ = connect(sameIP)
	// Another IP: welcome.
	other := newRawPeer(t, 55)
	if err := connect(other); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "a peer from another IP to be set up", func() bool { return added(other) })
	time.Sleep(200 * time.Millisecond) // let any wrongly admitted setup finish too
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
	if err := bad.h.Connect(ctx, peer.AddrInfo{ID: n.ID(), Addrs: n.Host().Addrs()}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "the peer to be set up", func() bool {
		a, _, _ := h.snapshot()
		_, ok := a[bad.h.ID().String()]
		return ok
	})
	bad.sendRaw(t, n.ID(), []byte{0x02, 0x1a, 0x00})
	waitFor(t, 5*time.Second, "the violator to be disconnected", func() bool {
		return n.Host().Network().Connectedness(bad.h.ID()) != network.Connected
	})
	sameIP := newRawPeer(t, 57)
	if err := sameIP.h.Connect(ctx, peer.AddrInfo{ID: n.ID(), Addrs: n.Host().Addrs()}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "a new identity from the same loopback IP to be set up", func() bool {
		a, _, _ := h.snapshot()
		_, ok := a[sameIP.h.ID().String()]
		return ok
	})
}
