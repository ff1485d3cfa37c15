package pexnode_test

import (
	"slices"
	"testing"
	"time"

	"github.com/pexp2p/pexp2p/internal/testwait"
	"github.com/pexp2p/pexp2p/pexnode"
	"github.com/pexp2p/pexp2p/transport"
)

// recordsNode builds a node on ip with one outbound slot, so that it
// stays with the peer it dials first, and signed records on or off.
func recordsNode(t *testing.T, ip string, signed bool, seeds []transport.ConfigPeer) *pexnode.Node {
	t.Helper()
	n := newNodeWith(t, pexnode.Options{
		Transport: transport.Config{
			ListenAddrs: loopbackQUIC(t, ip), Network: "pexnode-test", AllowDuplicateIP: true,
			Seeds: seeds, MaxOutboundPeers: 1,
		},
		PEX:           fastPEX(),
		SignedRecords: signed,
	})
	if err := n.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.Stop() })
	return n
}

func seedOf(t *testing.T, n *pexnode.Node) []transport.ConfigPeer {
	t.Helper()
	cps, err := transport.ParseConfigPeers(n.Transport.FullAddrs()[0].String())
	if err != nil {
		t.Fatal(err)
	}
	return cps
}

// Through the whole node, a gossiped address becomes verified: B and C
// both know only A, and each keeps A as its one outbound peer, so C
// learns B's address from A's PexAddrs alone, without ever meeting B.
// C's book marks it verified because A relayed B's own signed record.
// Without the option the same exchange leaves it unverified and no
// node serves the protocol.
func TestGossipedAddressBecomesVerified(t *testing.T) {
	for _, signed := range []bool{true, false} {
		a := recordsNode(t, "127.0.3.1", signed, nil)
		b := recordsNode(t, "127.0.3.2", signed, seedOf(t, a))
		bID := b.Key.PeerID().String()
		testwait.For(t, 20*time.Second, "A to know B", func() bool { return a.Book.HasAddress(bID) })
		c := recordsNode(t, "127.0.3.3", signed, seedOf(t, a))
		testwait.For(t, 20*time.Second, "C to learn B's address from A", func() bool { return c.Book.HasAddress(bID) })

		if !signed {
			if c.Book.IsVerified(bID) || a.Book.IsVerified(bID) {
				t.Fatal("an address was verified with signed records off")
			}
			if slices.Contains(c.Transport.Host().Mux().Protocols(), transport.PeerRecordsProtocolID) {
				t.Fatal("the peer-records protocol is served with signed records off")
			}
			continue
		}
		testwait.For(t, 20*time.Second, "B's address verified at C", func() bool { return c.Book.IsVerified(bID) })
		if !a.Book.IsVerified(bID) {
			t.Fatal("A, B's peer, did not verify B's own record")
		}
		if connected(c, b) || connected(b, c) {
			t.Fatal("C met B, so the verification did not have to come through A")
		}
		want := b.Transport.OurNetAddresses()[0]
		if got := c.Book.Addresses(bID); len(got) == 0 || got[0] != want {
			t.Fatalf("C holds %v for B, want %v first", got, want)
		}
	}
}

// A seed relays records too, although it lets each visitor go after its
// one answer (transport's TestRecordsFetchedBeforeTheAnswererLetsGo has
// the ordering that makes this hold on slow links). B visits the seed
// and stops; C, visiting later, can never meet B, yet its book marks
// B's address verified.
func TestSeedRelaysRecordsToItsVisitors(t *testing.T) {
	sc := fastPEX()
	sc.SeedMode = true
	s := newNodeWith(t, pexnode.Options{
		Transport:     transport.Config{ListenAddrs: loopbackQUIC(t, "127.0.4.1"), Network: "pexnode-test", AllowDuplicateIP: true},
		PEX:           sc,
		SignedRecords: true,
	})
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Stop() })
	b := recordsNode(t, "127.0.4.2", true, seedOf(t, s))
	bID := b.Key.PeerID().String()
	testwait.For(t, 20*time.Second, "the seed to know B", func() bool { return s.Book.HasAddress(bID) })
	if err := b.Stop(); err != nil {
		t.Fatal(err)
	}
	c := recordsNode(t, "127.0.4.3", true, seedOf(t, s))
	testwait.For(t, 20*time.Second, "B's address verified at C", func() bool { return c.Book.IsVerified(bID) })
}
