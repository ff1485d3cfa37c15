package transport

import (
	"context"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"

	tmp2p "github.com/cometbft/cometbft/proto/tendermint/p2p"
)

// Issue 8 item 3: a peer that keeps opening PEX streams and never
// completes a message (one byte of a length prefix, then silence) is
// stopped and banned once MaxStalledStreams of them time out within the
// window; one stalled stream alone (a bad link) is not punished, and a
// good peer is still served.
func TestSlowlorisPeerBanned(t *testing.T) {
	pc := fastPexConfig()
	pc.EnsurePeersPeriod = 30 * time.Second
	v := prepareFull(t, 80, pc, func(c *Config) {
		c.StreamTimeout = 300 * time.Millisecond
		c.MaxStalledStreams = 3
	})
	v.startReactor(t)
	good := newRawPeer(t, 81)
	bad := newRawPeer(t, 82)
	for _, rp := range []*rawPeer{good, bad} {
		if err := rp.connect(t, v.node); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 10*time.Second, "peer set up", func() bool { return hasPeer(v.node, rp.h.ID()) })
	}
	stall := func() network.Stream {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s, err := bad.h.NewStream(ctx, v.node.ID(), PexProtocolID)
		if err != nil {
			t.Fatalf("opening stream: %v", err)
		}
		if _, err := s.Write([]byte{0x81}); err != nil { // a length prefix that never ends
			t.Fatal(err)
		}
		return s
	}
	first := stall()
	defer first.Reset()
	time.Sleep(time.Second) // well past the stream timeout
	if !hasPeer(v.node, bad.h.ID()) || v.book.IsBanned(bad.h.ID().String()) {
		t.Fatal("one stalled stream punished")
	}
	for range 2 {
		s := stall()
		defer s.Reset()
	}
	waitFor(t, 10*time.Second, "slowloris peer disconnected and banned", func() bool {
		return !hasPeer(v.node, bad.h.ID()) &&
			v.node.Host().Network().Connectedness(bad.h.ID()) != network.Connected &&
			v.book.IsBanned(bad.h.ID().String())
	})
	before := len(good.received())
	good.send(t, v.node.ID(), &tmp2p.PexRequest{})
	waitFor(t, 10*time.Second, "answer to the good peer", func() bool { return len(good.received()) > before })
}
