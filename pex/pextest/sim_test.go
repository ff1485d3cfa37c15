package pextest

import (
	"reflect"
	"testing"

	"go.uber.org/goleak"

	"github.com/pexp2p/pexp2p/pex"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// Convergence on virtual time: 30 nodes, one seed, all started at once;
// every node reaches min(maxOutbound, N-1) peers and a book with ≥ 90 %
// of the others, and honest nodes never punish each other (the request
// pacing keeps to the request-rate contract).
func TestConvergence30(t *testing.T) {
	for _, seedMode := range []bool{true, false} {
		res, err := RunSim(SimConfig{N: 30, Seed: 42, SeedMode: seedMode, MaxRounds: 10})
		if err != nil {
			t.Fatal(err)
		}
		if res.RoundsToPeers < 0 || res.RoundsToBooks < 0 {
			last := res.Rounds[len(res.Rounds)-1]
			t.Fatalf("seedMode=%v: not converged in 10 rounds: %+v", seedMode, last)
		}
		if res.Misbehavior != 0 {
			t.Fatalf("seedMode=%v: %d misbehaviour reports between honest nodes", seedMode, res.Misbehavior)
		}
		t.Logf("seedMode=%v: peers in %d rounds, books in %d", seedMode, res.RoundsToPeers, res.RoundsToBooks)
	}
}

// The same config gives the same run.
func TestSimDeterministic(t *testing.T) {
	cfg := SimConfig{N: 40, Seed: 3, SeedMode: true, MaxRounds: 5, BookTarget: 1}
	a, err := RunSim(cfg)
	if err != nil {
		t.Fatal(err)
	}
	b, err := RunSim(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a.Rounds, b.Rounds) || a.Hub != b.Hub {
		t.Fatalf("two runs differ:\n%+v\n%+v", a.Hub, b.Hub)
	}
	cfg.Seed = 4
	c, err := RunSim(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if reflect.DeepEqual(a.Rounds, c.Rounds) && a.Hub == c.Hub {
		t.Fatal("another seed gave the identical run; randomness is not injected")
	}
}

// Over-limit answer: with the only seed a regular node whose inbound slots
// fill, newcomers starve forever when full nodes refuse them (upstream:
// 9 of 50 never connect); answering one request over the limit fixes it.
func TestNewcomersNotStarved(t *testing.T) {
	upstream, err := RunSim(SimConfig{N: 50, Seed: 1, OverLimitSlots: -1, MaxRounds: 20})
	if err != nil {
		t.Fatal(err)
	}
	last := upstream.Rounds[len(upstream.Rounds)-1]
	if upstream.RoundsToPeers >= 0 || last.MinPeers != 0 {
		t.Fatalf("without over-limit answers every node connected (%+v); the test lost its point", last)
	}
	fixed, err := RunSim(SimConfig{N: 50, Seed: 1, MaxRounds: 20})
	if err != nil {
		t.Fatal(err)
	}
	if fixed.RoundsToPeers < 0 || fixed.RoundsToBooks < 0 {
		t.Fatalf("with over-limit answers: %+v", fixed.Rounds[len(fixed.Rounds)-1])
	}
	t.Logf("upstream-like: %d of 49 nodes with peers after 20 rounds; fixed: peers in %d rounds", last.NodesWithPeers, fixed.RoundsToPeers)
}

// Refresh after outbound is full: once outbound is full upstream stops asking, and books
// stall below 90 %; refreshing at the usual pace reaches it.
func TestBooksKeepRefreshing(t *testing.T) {
	noRefresh := func(_ int, c *pex.Config) { c.RefreshWhenOutboundFull = false }
	upstream, err := RunSim(SimConfig{N: 50, Seed: 1, SeedMode: true, OverLimitSlots: -1, MaxRounds: 20, Tweak: noRefresh})
	if err != nil {
		t.Fatal(err)
	}
	if upstream.RoundsToBooks >= 0 {
		t.Fatalf("books reached 90 %% without refreshing (round %d); the test lost its point", upstream.RoundsToBooks)
	}
	fixed, err := RunSim(SimConfig{N: 50, Seed: 1, SeedMode: true, OverLimitSlots: -1, MaxRounds: 20})
	if err != nil {
		t.Fatal(err)
	}
	if fixed.RoundsToBooks < 0 {
		t.Fatalf("books did not reach 90 %% with refreshing: %+v", fixed.Rounds[len(fixed.Rounds)-1])
	}
	t.Logf("no refresh: min book %d after 20 rounds; refresh: 90 %% in %d rounds",
		upstream.Rounds[len(upstream.Rounds)-1].MinBook, fixed.RoundsToBooks)
}

func TestRunSimRejectsTinyNetworks(t *testing.T) {
	if _, err := RunSim(SimConfig{N: 1}); err == nil {
		t.Fatal("N=1 accepted")
	}
}
