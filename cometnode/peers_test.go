package cometnode_test

import (
	"testing"
	"time"

	cmtcfg "github.com/cometbft/cometbft/config"
	"github.com/cometbft/cometbft/lp2p"
	"github.com/cometbft/cometbft/p2p"

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
	val.join(t, nil)
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
	val.join(t, nil)
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
	a.join(t, nil)
	b.join(t, a)
	time.Sleep(3 * time.Second)
	if a.switchPeers() != 0 || b.switchPeers() != 0 || len(b.disc.Node().Transport.Peers()) != 0 {
		t.Fatalf("chains peered: a %d, b %d", a.switchPeers(), b.switchPeers())
	}
	if !a.node.IsRunning() || !b.node.IsRunning() {
		t.Fatal("a node stopped over a peer of another chain")
	}
}

// A regular node given as a seed is an ordinary switch peer once dialed,
// as a classic node's seed is: it stays in the switch on both sides
// instead of being re-added by its reactor streams and removed again.
func TestRegularNodeGivenAsSeedIsAStablePeer(t *testing.T) {
	nodes := testChain(t, 1, 1, nil)
	val, full := nodes[0], nodes[1]
	val.join(t, nil)
	full.join(t, val)
	testwait.For(t, chainWait, "the full node peered with the validator it has as its seed", func() bool {
		return full.peeredWith(val) && val.peeredWith(full)
	})
	for range 30 { // three reconcile passes
		if !full.peeredWith(val) || !val.peeredWith(full) {
			t.Fatal("the seed left the switch: it flaps")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// A seed-mode node offers visitors PEX and nothing else: identify lists
// none of the reactors' protocols.
func TestSeedModeNodeServesNoReactorProtocol(t *testing.T) {
	nodes := testChain(t, 1, 1, func(i int, c *cmtcfg.Config) {
		if i == 1 {
			c.P2P.SeedMode = true
		}
	})
	val, seed := nodes[0], nodes[1]
	seed.join(t, nil)
	val.join(t, seed)
	seedID := seed.disc.Node().Key.PeerID()
	ps := val.disc.Node().Transport.Host().Peerstore()
	testwait.For(t, chainWait, "the validator has identified the seed", func() bool {
		protos, _ := ps.GetProtocols(seedID)
		return len(protos) > 0
	})
	if got, _ := ps.SupportsProtocols(seedID, lp2p.ProtocolID(0x20), lp2p.ProtocolID(0x40)); len(got) != 0 {
		t.Fatalf("the seed serves reactor protocols %v", got)
	}
	if got, _ := ps.SupportsProtocols(seedID, transport.PexProtocolID); len(got) != 1 {
		t.Fatal("the seed does not serve PEX")
	}
}
