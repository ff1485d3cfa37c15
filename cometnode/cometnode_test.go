package cometnode_test

import (
	"testing"
	"time"

	cmtcfg "github.com/cometbft/cometbft/config"

	"github.com/pexp2p/pexp2p/cometnode"
	"github.com/pexp2p/pexp2p/internal/testwait"
)

func fastDiscovery(s *cometnode.Settings) { s.EnsurePeersPeriod = 500 * time.Millisecond }

// Three validators and a full node whose only known address is a seed's
// (itself a CometBFT node in seed mode, built the same way) find each
// other through PEX, are handed to CometBFT's switch, and make blocks;
// the seed stays out of every switch and keeps none in its own.
func TestChainFindsPeersFromOneSeed(t *testing.T) {
	const v, f = 3, 1
	nodes := testChain(t, v, f+1, func(i int, c *cmtcfg.Config) {
		if i == v+f { // the last full node is the seed
			c.P2P.SeedMode = true
		}
	})
	seed := nodes[v+f]
	seed.build(t, cometnode.WithSettings(fastDiscovery))
	seed.start(t)
	seedAddr := seed.addr(t)
	chain := nodes[:v+f]
	for _, n := range chain {
		n.cfg.P2P.Seeds = seedAddr
		n.build(t, cometnode.WithSettings(fastDiscovery))
	}
	for _, n := range chain {
		n.start(t)
	}
	testwait.For(t, 60*time.Second, "every node peered with the other three", func() bool {
		for _, n := range chain {
			if n.switchPeers() < v+f-1 {
				return false
			}
		}
		return true
	})
	testwait.For(t, 60*time.Second, "every node at height 5", func() bool {
		for _, n := range chain {
			if n.height() < 5 {
				return false
			}
		}
		return true
	})
	seedID := seed.disc.Node().Key.PeerID().String()
	for _, n := range chain {
		if n.node.Switch().Peers().Has(p2pID(seedID)) {
			t.Errorf("%s handed the seed to its switch", n.name)
		}
	}
	if got := seed.switchPeers(); got != 0 {
		t.Errorf("the seed's switch holds %d peers, want 0", got)
	}
}

// Upstream's behaviour, the control: with PEX off a libp2p node knows
// only its bootstrap peers, so nodes given just a seed stay alone.
func TestChainWithoutPEXStaysUnpeered(t *testing.T) {
	nodes := testChain(t, 2, 1, func(i int, c *cmtcfg.Config) {
		if i == 2 {
			c.P2P.SeedMode = true
		}
	})
	seed := nodes[2]
	seed.build(t, cometnode.WithSettings(fastDiscovery))
	seed.start(t)
	for _, n := range nodes[:2] {
		n.cfg.P2P.Seeds = seed.addr(t)
		n.cfg.P2P.PexReactor = false
		n.build(t, cometnode.WithSettings(fastDiscovery))
		n.start(t)
	}
	time.Sleep(3 * time.Second)
	for _, n := range nodes[:2] {
		if got := n.switchPeers(); got != 0 {
			t.Errorf("%s has %d switch peers with PEX off", n.name, got)
		}
		if h := n.height(); h != 0 {
			t.Errorf("%s made blocks alone: height %d", n.name, h)
		}
	}
}
