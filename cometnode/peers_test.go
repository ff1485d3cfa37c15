package cometnode_test

import (
	"testing"
	"time"

	cmtcfg "github.com/cometbft/cometbft/config"
	"github.com/cometbft/cometbft/p2p"

	"github.com/pexp2p/pexp2p/cometnode"
	"github.com/pexp2p/pexp2p/internal/testwait"
	"github.com/pexp2p/pexp2p/pex"
	"github.com/pexp2p/pexp2p/pexnode"
	"github.com/pexp2p/pexp2p/transport"
)

// An unmodified CometBFT v0.40 libp2p node (no cometnode: it speaks the
// reactors' protocols but not PEX) whose bootstrap peer is a pexp2p
// validator syncs from it; the validator keeps it as a switch peer even
// though its PEX requests to it go unanswered.
func TestUnmodifiedLibp2pNodeSyncsFromPexp2pValidator(t *testing.T) {
	nodes := testChain(t, 1, 1, nil)
	val, plain := nodes[0], nodes[1]
	val.build(t, cometnode.WithSettings(fastDiscovery))
	val.start(t)
	valAddr := val.disc.Node().Transport.OurNetAddresses()[0]
	plain.cfg.P2P.LibP2PConfig.BootstrapPeers = []cmtcfg.LibP2PBootstrapPeer{{
		Host: valAddr.DialString(), ID: val.disc.Node().Key.PeerID().String(), Persistent: true,
	}}
	plain.buildUpstream(t)
	plain.start(t)
	testwait.For(t, chainWait, "the unmodified node at height 3, peered with the validator", func() bool {
		return plain.height() >= 3 && plain.switchPeers() == 1 && val.switchPeers() == 1
	})
	// Several PEX rounds later the validator still holds it.
	time.Sleep(2 * time.Second)
	if val.switchPeers() != 1 || len(val.disc.Node().Transport.Peers()) != 1 {
		t.Fatalf("validator dropped the node that does not speak PEX: switch %d, face %d",
			val.switchPeers(), len(val.disc.Node().Transport.Peers()))
	}
}

// A discovery-only pexp2p node (PEX, no consensus) connected to a
// validator stays a PEX peer and is never handed to CometBFT's switch.
func TestPeerWithoutReactorProtocolsStaysOutOfSwitch(t *testing.T) {
	nodes := testChain(t, 1, 0, nil)
	val := nodes[0]
	val.build(t, cometnode.WithSettings(fastDiscovery))
	val.start(t)
	valAddr, err := transport.ParseConfigPeers(val.addr(t))
	if err != nil {
		t.Fatal(err)
	}
	key, err := transport.GenNodeKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	pc := pex.DefaultConfig()
	pc.EnsurePeersPeriod = 500 * time.Millisecond
	disco, err := pexnode.New(pexnode.Options{
		Key:       key,
		Transport: transport.Config{ListenAddrs: loopbackListen("127.0.20.1"), Network: "pexp2p-chain-test", PersistentPeers: valAddr},
		PEX:       &pc,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := disco.Start(); err != nil {
		t.Fatal(err)
	}
	defer disco.Stop()
	id := key.PeerID().String()
	testwait.For(t, chainWait, "the discovery node is the validator's PEX peer", func() bool {
		for _, p := range val.disc.Node().Transport.Peers() {
			if p.ID == id {
				return true
			}
		}
		return false
	})
	time.Sleep(2 * time.Second) // a reconcile pass or two
	if val.node.Switch().Peers().Has(p2p.ID(id)) {
		t.Fatal("a peer without reactor protocols was handed to the switch")
	}
}

// A node of another chain is refused at the NodeInfo exchange; both keep
// running and never peer.
func TestNodeOfAnotherChainIsRefused(t *testing.T) {
	a := testChain(t, 1, 0, nil)[0]
	b := testChain(t, 1, 0, func(_ int, c *cmtcfg.Config) {
		c.P2P.ListenAddress = "tcp://127.0.30.1:0"
	})[0]
	b.setChainID(t, "another-chain")
	a.build(t, cometnode.WithSettings(fastDiscovery))
	a.start(t)
	b.cfg.P2P.Seeds = a.addr(t)
	b.build(t, cometnode.WithSettings(fastDiscovery))
	b.start(t)
	time.Sleep(3 * time.Second)
	if a.switchPeers() != 0 || b.switchPeers() != 0 || len(b.disc.Node().Transport.Peers()) != 0 {
		t.Fatalf("chains peered: a %d, b %d", a.switchPeers(), b.switchPeers())
	}
	if !a.node.IsRunning() || !b.node.IsRunning() {
		t.Fatal("a node stopped over a peer of another chain")
	}
}
