package cometnode_test

import (
	"os"
	"testing"
	"time"

	cmtcfg "github.com/cometbft/cometbft/config"

	"github.com/pexp2p/pexp2p/cometnode"
	"github.com/pexp2p/pexp2p/internal/testwait"
)

func fastDiscovery(s *cometnode.Settings) { s.EnsurePeersPeriod = 500 * time.Millisecond }

// One chain through its life: two validators and a full node whose only
// known address is a seed's (a CometBFT node in seed mode, built the same
// way) find each other through PEX and make blocks, with the seed in no
// switch; the seed is stopped and the chain goes on; a newcomer that
// knows one validator as a [p2p.libp2p] bootstrap peer (the upstream
// way) learns the rest from it and joins; the full node restarts with
// the seed still down and reconnects from the book it saved.
func TestChainFindsPeersFromOneSeedAndSurvivesItsLoss(t *testing.T) {
	nodes := testChain(t, 2, 3, nil)
	v0, v1, full, newcomer, seed := nodes[0], nodes[1], nodes[2], nodes[3], nodes[4]
	chain := []*chainNode{v0, v1, full}
	startChain(t, seed, chain, 2, 3)
	for _, n := range chain {
		if n.peeredWith(seed) {
			t.Errorf("%s handed the seed to its switch", n.name)
		}
	}
	if got := seed.switchPeers(); got != 0 {
		t.Errorf("the seed's switch holds %d peers, want 0", got)
	}

	seed.stop(t)
	before := v0.height()
	testwait.For(t, chainWait, "the chain committing without its seed", func() bool {
		return v0.height() >= before+2
	})

	v0Addr := v0.disc.Node().Transport.OurNetAddresses()[0]
	newcomer.cfg.P2P.LibP2PConfig.BootstrapPeers = []cmtcfg.LibP2PBootstrapPeer{{
		Host: v0Addr.DialString(), ID: v0.disc.Node().Key.PeerID().String(),
	}}
	newcomer.join(t, nil)
	testwait.For(t, chainWait, "the newcomer peered with all three and syncing", func() bool {
		return newcomer.peeredWith(v0) && newcomer.peeredWith(v1) && newcomer.peeredWith(full) &&
			newcomer.height() >= before+2
	})

	full.stop(t)
	if fi, err := os.Stat(full.cfg.P2P.AddrBookFile()); err != nil || fi.Size() == 0 {
		t.Fatalf("no saved book after stop: %v", err)
	}
	stoppedAt := full.height()
	full.restart(t, cometnode.WithSettings(fastDiscovery))
	testwait.For(t, chainWait, "the restarted full node peered with both validators and syncing", func() bool {
		return full.peeredWith(v0) && full.peeredWith(v1) && full.height() >= stoppedAt+2
	})
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
	seed.join(t, nil)
	for _, n := range nodes[:2] {
		n.cfg.P2P.PexReactor = false
		n.join(t, seed)
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
