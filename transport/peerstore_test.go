package transport

import (
	"slices"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// peerstoreKnows reports whether n's peerstore still holds anything but
// addresses for id: a stored key, protocols or identify metadata.
func peerstoreKnows(n *Node, id peer.ID) bool {
	ps := n.Host().Peerstore()
	protos, _ := ps.GetProtocols(id)
	_, agentErr := ps.Get(id, "AgentVersion")
	return len(protos) > 0 || agentErr == nil || slices.Contains(ps.PeersWithKeys(), id)
}

// Issue 7 item 5 (seed capacity; P1/P2 lifecycle): go-libp2p keeps every
// peer's key, protocols and metadata for the life of the host, so a seed,
// which meets a new identity per visitor, grew without bound. A peer that
// has disconnected is forgotten, whether it was accepted or refused, and
// one that comes back is identified and set up again as if new.
func TestPeerstoreForgetsDisconnectedPeers(t *testing.T) {
	n, h := testNode(t, 41, nil)

	rp := newRawPeer(t, 42)
	id := rp.h.ID()
	for round := 1; round <= 2; round++ {
		if err := rp.connect(t, n); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 5*time.Second, "the visitor to be set up", func() bool { return hasPeer(n, id) })
		if !peerstoreKnows(n, id) {
			t.Fatalf("round %d: a connected peer's protocols should be in the peerstore", round)
		}
		added, _, _ := h.snapshot()
		if added[id.String()].ListenAddr.IsZero() {
			t.Fatalf("round %d: no listen address from identify: %+v", round, added[id.String()])
		}
		_ = rp.h.Network().ClosePeer(n.ID())
		waitFor(t, 5*time.Second, "RemovePeer", func() bool {
			_, removed, _ := h.snapshot()
			return removed[id.String()] == round
		})
		waitFor(t, 5*time.Second, "the peerstore to forget the visitor", func() bool { return !peerstoreKnows(n, id) })
	}

	// Refused in setup (strict mode, no NodeInfo): forgotten too.
	strict, _ := testNode(t, 43, func(c *Config) { c.StrictNodeInfo = true })
	if err := rp.connect(t, strict); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "the refused peer to be disconnected", func() bool {
		return len(strict.Host().Network().ConnsToPeer(id)) == 0
	})
	waitFor(t, 5*time.Second, "the peerstore to forget the refused peer", func() bool { return !peerstoreKnows(strict, id) })
	if hasPeer(strict, id) {
		t.Fatal("strict node accepted a peer without NodeInfo")
	}
}
