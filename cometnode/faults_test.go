package cometnode_test

import (
	"testing"

	cmtcfg "github.com/cometbft/cometbft/config"

	"github.com/pexp2p/pexp2p/internal/testwait"
)

// A validator over its inbound limit still answers a newcomer that uses
// it as its seed, with the addresses it knows, instead of dropping it;
// the newcomer joins through them and the full validator keeps it out of
// its switch.
func TestNodeOverInboundLimitAnswersNewcomerWithAddresses(t *testing.T) {
	nodes := testChain(t, 2, 3, func(i int, c *cmtcfg.Config) {
		if i == 0 {
			c.P2P.MaxNumInboundPeers = 1
		}
	})
	v0, v1, full, newcomer, seed := nodes[0], nodes[1], nodes[2], nodes[3], nodes[4]
	startChain(t, seed, []*chainNode{v0, v1, full}, 2, 0)
	testwait.For(t, chainWait, "validator0 at its inbound limit", func() bool {
		_, in, _ := v0.disc.Node().Transport.NumPeers()
		return in >= 1
	})
	newcomer.join(t, v0)
	testwait.For(t, chainWait, "newcomer peered with validator1 and the full node from validator0's answer", func() bool {
		return newcomer.peeredWith(v1) && newcomer.peeredWith(full)
	})
	if v0.peeredWith(newcomer) {
		t.Error("validator0 handed a visitor beyond its inbound limit to its switch")
	}
}
