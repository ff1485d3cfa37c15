package pextest

import (
	"slices"
	"testing"
)

// In `pexp2p testnet`'s topology every newcomer knows only the seed, so
// the network fills at the seed's inbound slots plus its visitor slots
// per round: 40 + 2 = 42 nodes in round 1 with the old default, all 99
// with a seed-mode face's 160. The run is deterministic.
func TestSeedAdmitsItsInboundPlusVisitorSlotsPerRound(t *testing.T) {
	if testing.Short() {
		t.Skip("simulation of 100 nodes")
	}
	a, err := RunScale(100, 2, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(a.PeersByRound) < 2 || a.PeersByRound[0] != 42 || a.PeersByRound[1] != 84 {
		t.Fatalf("2 visitor slots: nodes at the peer target by round %v, want 42, 84, …", a.PeersByRound)
	}
	b, err := RunScale(100, 2, 1)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(a.PeersByRound, b.PeersByRound) || !slices.Equal(a.BooksByRound, b.BooksByRound) {
		t.Fatalf("same config, different runs: %v / %v", a, b)
	}
	c, err := RunScale(100, 160, 1)
	if err != nil {
		t.Fatal(err)
	}
	if c.RoundsToPeers != 1 {
		t.Fatalf("160 visitor slots: rounds to peers %d, want 1 (nodes by round %v)", c.RoundsToPeers, c.PeersByRound)
	}
	if _, err := RunScale(1, 2, 1); err == nil {
		t.Fatal("RunScale accepted N = 1")
	}
}
