package pextest

import (
	"testing"
)

func TestSimExplore(t *testing.T) {
	for _, seedMode := range []bool{true, false} {
		for _, n := range []int{30, 100} {
			res, err := RunSim(SimConfig{N: n, Seed: 1, SeedMode: seedMode})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("N=%d seedMode=%v peers=%d books=%d misb=%d hub=%+v", n, seedMode, res.RoundsToPeers, res.RoundsToBooks, res.Misbehavior, res.Hub)
			for _, r := range res.Rounds {
				t.Logf("  %+v", r)
			}
		}
	}
}
