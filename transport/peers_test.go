package transport

import (
	"context"
	"slices"
	"testing"
	"time"

	tmp2p "github.com/cometbft/cometbft/proto/tendermint/p2p"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"

	"github.com/pexp2p/pexp2p/internal/testwait"
)

// peerstoreKnows reports whether n's peerstore still holds anything but
// addresses for id: a stored key, protocols or identify metadata.
func peerstoreKnows(n *Node, id peer.ID) bool {
	ps := n.Host().Peerstore()
	protos, _ := ps.GetProtocols(id)
	_, agentErr := ps.Get(id, "AgentVersion")
	return len(protos) > 0 || agentErr == nil || slices.Contains(ps.PeersWithKeys(), id)
}

// Seed capacity and the peer lifecycle: go-libp2p keeps every peer's key,
// protocols and metadata for the life of the host, so a seed, which meets
// a new identity per visitor, grew without bound. A peer that has
// disconnected is forgotten, whether it was accepted or refused, and one
// that comes back is identified and set up again as if new.
func TestPeerstoreForgetsDisconnectedPeers(t *testing.T) {
	n, h := testNode(t, 41, nil)

	rp := newRawPeer(t, 42)
	id := rp.h.ID()
	for round := 1; round <= 2; round++ {
		if err := rp.connect(t, n); err != nil {
			t.Fatal(err)
		}
		testwait.For(t, 5*time.Second, "the visitor to be set up", func() bool { return hasPeer(n, id) })
		if !peerstoreKnows(n, id) {
			t.Fatalf("round %d: a connected peer's protocols should be in the peerstore", round)
		}
		added, _, _ := h.snapshot()
		if added[id.String()].ListenAddr.IsZero() {
			t.Fatalf("round %d: no listen address from identify: %+v", round, added[id.String()])
		}
		_ = rp.h.Network().ClosePeer(n.ID())
		testwait.For(t, 5*time.Second, "RemovePeer", func() bool {
			_, removed, _ := h.snapshot()
			return removed[id.String()] == round
		})
		testwait.For(t, 5*time.Second, "the peerstore to forget the visitor", func() bool { return !peerstoreKnows(n, id) })
	}

	// Refused in setup (strict mode, no NodeInfo): forgotten too.
	strict, _ := testNode(t, 43, func(c *Config) { c.StrictNodeInfo = true })
	if err := rp.connect(t, strict); err != nil {
		t.Fatal(err)
	}
	testwait.For(t, 5*time.Second, "the refused peer to be disconnected", func() bool {
		return len(strict.Host().Network().ConnsToPeer(id)) == 0
	})
	testwait.For(t, 5*time.Second, "the peerstore to forget the refused peer", func() bool { return !peerstoreKnows(strict, id) })
	if hasPeer(strict, id) {
		t.Fatal("strict node accepted a peer without NodeInfo")
	}
}

// One peer with several connections is one peer: one AddPeer, and
// RemovePeer only when the last connection closes. libp2p does not merge
// connections, but Connect reuses one that exists, so a's TCP dial of b
// is held in a proxy until b's QUIC connection to a is set up on both
// sides; released, it becomes a second connection.
func TestSeveralConnectionsOnePeer(t *testing.T) {
	a, ha := testNode(t, 13, nil)
	b, hb := testNode(t, 14, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var bTCP string
	for _, m := range b.Host().Addrs() {
		if port, err := m.ValueForProtocol(ma.P_TCP); err == nil {
			bTCP = "127.14.0.1:" + port
		}
	}
	var aQUIC []ma.Multiaddr
	for _, m := range a.Host().Addrs() {
		if _, err := m.ValueForProtocol(ma.P_QUIC_V1); err == nil {
			aQUIC = append(aQUIC, m)
		}
	}
	if bTCP == "" || len(aQUIC) == 0 {
		t.Fatalf("want a TCP address on b and a QUIC one on a: %v, %v", b.Host().Addrs(), a.Host().Addrs())
	}
	held := make(chan struct{}, 1)
	release := make(chan struct{})
	proxy := holdingProxy(t, "127.130.0.1", bTCP, func() <-chan struct{} {
		held <- struct{}{}
		return release
	})
	viaProxy, err := manet.FromNetAddr(proxy)
	if err != nil {
		t.Fatal(err)
	}
	dialed := make(chan error, 1)
	go func() { dialed <- a.Host().Connect(ctx, peer.AddrInfo{ID: b.ID(), Addrs: []ma.Multiaddr{viaProxy}}) }()
	select {
	case <-held:
	case <-ctx.Done():
		t.Fatal("a's dial never reached the proxy")
	}
	if err := b.Host().Connect(ctx, peer.AddrInfo{ID: a.ID(), Addrs: aQUIC}); err != nil {
		t.Fatal(err)
	}
	testwait.For(t, 5*time.Second, "a and b set each other up", func() bool {
		return hasPeer(a, b.ID()) && ha.has(b.ID()) && hb.has(a.ID())
	})
	close(release)
	if err := <-dialed; err != nil {
		t.Fatalf("a's held dial: %v", err)
	}
	if n := len(a.Host().Network().ConnsToPeer(b.ID())); n != 2 {
		t.Fatalf("a has %d connections to b, want 2", n)
	}
	added, removed, _ := ha.snapshot()
	before := removed[b.ID().String()]
	if len(added) != 1 {
		t.Fatalf("added %v", added)
	}
	conns := a.Host().Network().ConnsToPeer(b.ID())
	_ = conns[0].Close()
	testwait.For(t, 5*time.Second, "the closed connection to go", func() bool {
		return len(a.Host().Network().ConnsToPeer(b.ID())) == 1
	})
	// A round trip on the remaining connection gives a wrong removal
	// time to show, and proves the peer is still served.
	_, _, got := hb.snapshot()
	if !a.Send(b.ID().String(), &tmp2p.PexRequest{}) {
		t.Fatal("a no longer sends to b after one of two connections closed")
	}
	testwait.For(t, 5*time.Second, "b receives a's request", func() bool {
		_, _, now := hb.snapshot()
		return len(now) > len(got)
	})
	if _, removed, _ := ha.snapshot(); removed[b.ID().String()] != before || !hasPeer(a, b.ID()) {
		t.Fatal("peer removed while a connection remains")
	}
	for _, c := range a.Host().Network().ConnsToPeer(b.ID()) {
		_ = c.Close()
	}
	testwait.For(t, 5*time.Second, "RemovePeer after the last connection", func() bool {
		_, removed, _ := ha.snapshot()
		return removed[b.ID().String()] == before+1 && !hasPeer(a, b.ID())
	})
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
	testwait.For(t, 10*time.Second, "p1", func() bool { return h.has(p1.h.ID()) })
	if err := p2.connect(t, n); err != nil {
		t.Fatal(err)
	}
	testwait.For(t, 10*time.Second, "p2", func() bool { return h.has(p2.h.ID()) })
	added, _, _ := h.snapshot()
	if added[p1.h.ID().String()].OverLimit || !added[p2.h.ID().String()].OverLimit {
		t.Fatalf("OverLimit flags: p1 %v p2 %v", added[p1.h.ID().String()].OverLimit, added[p2.h.ID().String()].OverLimit)
	}
	_ = p3.connect(t, n)
	time.Sleep(500 * time.Millisecond)
	testwait.For(t, 10*time.Second, "p3 refused", func() bool {
		return !hasPeer(n, p3.h.ID()) && n.Host().Network().Connectedness(p3.h.ID()) != network.Connected
	})
	if err := uncond.connect(t, n); err != nil {
		t.Fatal(err)
	}
	testwait.For(t, 10*time.Second, "unconditional peer", func() bool { return hasPeer(n, uncond.h.ID()) })
	if out, in, _ := n.NumPeers(); out != 0 || in != 1 {
		t.Fatalf("NumPeers = %d out, %d in; want 0, 1 (visitor and unconditional not counted)", out, in)
	}
}

// A peer of another chain is dropped and never dialed again; a peer of
// ours is not affected (NodeInfo, design brief).
func TestWrongNetworkDropped(t *testing.T) {
	a, ha := testNode(t, 81, nil)
	b, _ := testNode(t, 82, func(c *Config) { c.Network = "other-chain" })
	err := dial(t, a, b)
	if err == nil {
		t.Fatal("peer of another network accepted")
	}
	if hasPeer(a, b.ID()) || hasPeer(b, a.ID()) {
		t.Fatal("peer handed to a reactor")
	}
	if added, _, _ := ha.snapshot(); len(added) != 0 {
		t.Fatalf("handler saw %v", added)
	}
	err2 := dial(t, a, b)
	if err2 == nil || !isRefused(err2) {
		t.Fatalf("second dial must be refused outright, got %v", err2)
	}
}

func isRefused(err error) bool {
	_, ok := err.(*PeerRefusedError)
	return ok
}

// Strict mode drops a peer without the NodeInfo protocol; by default it
// is accepted with its listen address from identify.
func TestPeerWithoutNodeInfo(t *testing.T) {
	lenient, h := testNode(t, 91, nil)
	strict, _ := testNode(t, 92, func(c *Config) { c.StrictNodeInfo = true })
	raw := newRawPeer(t, 93)
	if err := raw.connect(t, lenient); err != nil {
		t.Fatal(err)
	}
	testwait.For(t, 5*time.Second, "lenient node accepts raw peer", func() bool { return h.has(raw.h.ID()) })
	added, _, _ := h.snapshot()
	la := added[raw.h.ID().String()].ListenAddr
	if la.IP.String() != "127.93.0.1" || la.ID != raw.h.ID().String() {
		t.Fatalf("listen address from identify: %v", la)
	}
	_ = raw.connect(t, strict)
	time.Sleep(500 * time.Millisecond)
	testwait.For(t, 5*time.Second, "strict node to drop raw peer", func() bool {
		return !hasPeer(strict, raw.h.ID()) && strict.Host().Network().Connectedness(raw.h.ID()) != network.Connected
	})
}
