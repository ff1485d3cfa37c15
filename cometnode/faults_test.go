package cometnode_test

import (
	"os"
	"testing"
	"time"

	cmtcfg "github.com/cometbft/cometbft/config"

	"github.com/pexp2p/pexp2p/cometnode"
	"github.com/pexp2p/pexp2p/internal/testwait"
)

// A full node restarted while the seed is down reconnects to the chain
// from the book it saved when it stopped, and catches up.
func TestRestartedNodeReconnectsFromSavedBookWithSeedDown(t *testing.T) {
	nodes := testChain(t, 2, 2, nil)
	seed, chain := nodes[3], nodes[:3]
	startChain(t, seed, chain, 2)
	full := chain[2]
	seed.stop(t)
	full.stop(t)
	if fi, err := os.Stat(full.cfg.P2P.AddrBookFile()); err != nil || fi.Size() == 0 {
		t.Fatalf("no saved book after stop: %v", err)
	}
	stoppedAt := full.height()
	full.restart(t, cometnode.WithSettings(fastDiscovery))
	defer func() {
		if t.Failed() {
			pn := full.disc.Node()
			t.Logf("restarted: book %d, face peers %v, switch peers %d, height %d (stopped at %d)",
				pn.Book.Size(), pn.Transport.Peers(), full.switchPeers(), full.height(), stoppedAt)
		}
	}()
	testwait.For(t, 60*time.Second, "restarted node peered with both validators and syncing", func() bool {
		return full.peeredWith(chain[0]) && full.peeredWith(chain[1]) && full.height() >= stoppedAt+3
	})
}

// With the seed gone the chain keeps committing, and a new node that
// knows one validator's address (as a [p2p.libp2p] bootstrap peer, the
// upstream way) learns the others from it through PEX and joins.
func TestNewNodeJoinsThroughOnePeerAfterSeedKilled(t *testing.T) {
	nodes := testChain(t, 3, 2, nil)
	seed, chain, newcomer := nodes[3], nodes[:3], nodes[4]
	startChain(t, seed, chain, 2)
	seed.stop(t)
	before := chain[0].height()
	testwait.For(t, 30*time.Second, "chain still committing without the seed", func() bool {
		return chain[0].height() >= before+3
	})
	v0 := chain[0]
	v0Key := v0.disc.Node().Key.PeerID().String()
	v0Addr := v0.disc.Node().Transport.OurNetAddresses()[0]
	newcomer.cfg.P2P.LibP2PConfig.BootstrapPeers = []cmtcfg.LibP2PBootstrapPeer{{Host: v0Addr.DialString(), ID: v0Key}}
	newcomer.build(t, cometnode.WithSettings(fastDiscovery))
	newcomer.start(t)
	testwait.For(t, 60*time.Second, "newcomer peered with all three validators and syncing", func() bool {
		for _, v := range chain {
			if !newcomer.peeredWith(v) {
				return false
			}
		}
		return newcomer.height() >= before+3
	})
}

// A validator over its inbound limit still answers a newcomer that uses
// it as its seed, with the addresses it knows, instead of dropping it;
// the newcomer joins through them and the full validator keeps it out of
// its switch.
func TestNodeOverInboundLimitAnswersNewcomerWithAddresses(t *testing.T) {
	nodes := testChain(t, 3, 2, func(i int, c *cmtcfg.Config) {
		if i == 0 {
			c.P2P.MaxNumInboundPeers = 1
		}
	})
	seed, chain, newcomer := nodes[3], nodes[:3], nodes[4]
	startChain(t, seed, chain, 2)
	full := chain[0]
	testwait.For(t, 30*time.Second, "validator0 at its inbound limit", func() bool {
		_, in, _ := full.disc.Node().Transport.NumPeers()
		return in >= 1
	})
	newcomer.cfg.P2P.Seeds = full.addr(t)
	newcomer.build(t, cometnode.WithSettings(fastDiscovery))
	newcomer.start(t)
	testwait.For(t, 60*time.Second, "newcomer peered with validator1 and validator2 from validator0's answer", func() bool {
		return newcomer.peeredWith(chain[1]) && newcomer.peeredWith(chain[2])
	})
	if full.peeredWith(newcomer) {
		t.Error("validator0 handed a visitor beyond its inbound limit to its switch")
	}
}
