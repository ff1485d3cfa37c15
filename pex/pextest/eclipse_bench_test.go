package pextest

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/pexp2p/pexp2p/addrbook"
	"github.com/pexp2p/pexp2p/internal/clock"
	"github.com/pexp2p/pexp2p/pex"
)

// eclipseSeeds are the runs averaged per figure: one seed is one
// network, and a single network's figure moves by a peer or two.
var eclipseSeeds = []uint64{1, 2, 3}

// eclipseVariants are the victim's defence sets, each reported as a
// metric suffix: upstream (none), each option alone, all together.
func eclipseVariants() []Defences {
	return []Defences{{}, {TestBeforeEvict: true}, {Feelers: true}, {Anchors: true}, {Diversity: true}, {ASMap: true},
		{SignedRecords: true}, AllDefences()}
}

// eclipseFakes is the made-up addresses per attacker group of the fakes
// runs: with its 32 nodes, 256 addresses per /16, seven in eight of them
// backed by nothing.
const eclipseFakes = 224

// reportEclipse runs every seed of one scenario and reports its three
// metrics for the defence set.
func reportEclipse(b *testing.B, cfg EclipseConfig) {
	var out, poison, rec float64
	for _, seed := range eclipseSeeds {
		cfg.Seed = seed
		res, err := RunEclipse(cfg)
		if err != nil {
			b.Fatal(err)
		}
		out += res.OutboundShare
		poison += res.PoisonedShare
		r := res.RoundsToRecover
		if r < 0 {
			r = res.Config.AfterRounds + 1
		}
		rec += float64(r)
	}
	n := float64(len(eclipseSeeds))
	name := cfg.Victim.String()
	b.ReportMetric(out/n, "outbound-share-"+name)
	b.ReportMetric(poison/n, "poisoned-share-"+name)
	b.ReportMetric(rec/n, "recover-rounds-"+name)
}

// BenchmarkEclipse runs the eclipse scenario (RunEclipse's defaults:
// 48 honest nodes, 32 attacker nodes per group, 10 warm-up rounds, t = 10
// attack rounds, restart, 10 rounds) for k = 1, 8 and 64 attacker
// groups, once per defence set, and reports, averaged over eclipseSeeds:
// outbound-share-<set> (attacker share of the victim's outbound peers at
// the end), poisoned-share-<set> (attacker share of its book at the
// restart) and recover-rounds-<set> (rounds after the restart until half
// its outbound slots are honest; AfterRounds+1 when never).
//
// The fakes-k=<k> sub-benchmarks run the same scenario against an
// attacker that also announces eclipseFakes made-up addresses per group
// (FakePerGroup), IDs it holds no key for, for upstream, signed records
// alone and all defences.
//
// The honest sub-benchmark checks the defences cost no convergence: the
// issue-3 discovery simulation (RunSim, 100 nodes, no attacker) with
// every node upstream and with every node running all the defences that
// apply without an attacker or a restart (test-before-evict, feelers,
// outbound diversity by /16, signed records preferred), reporting
// rounds-to-peers-<set> and rounds-to-books-<set>.
//
// Run: go test -run '^$' -bench BenchmarkEclipse -benchtime 1x ./pex/pextest
func BenchmarkEclipse(b *testing.B) {
	b.Run("honest", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			for _, all := range []bool{false, true} {
				cfg := SimConfig{N: 100, Seed: 1, MaxRounds: 40}
				name := "upstream"
				if all {
					name = "all"
					// Every node signs its address and relays the records
					// of the peers it has marked good (it was connected
					// to them).
					signed := map[addrbook.NetAddress]bool{}
					for j := 0; j < cfg.N; j++ {
						signed[NodeAddr(j)] = true
					}
					books := map[string]*addrbook.Book{}
					holds := func(relayer addrbook.NetAddress, id string) bool {
						bk, ok := books[relayer.ID]
						return relayer.ID == id || ok && bk.IsGood(id)
					}
					cfg.NewBook = func(_ int, self addrbook.NetAddress, clk clock.Clock, rng *rand.Rand) (pex.AddrBook, error) {
						bk, err := addrbook.New(addrbook.Options{Strict: true, Now: clk.Now, Rand: rng, TestBeforeEvict: true})
						if err != nil {
							return nil, err
						}
						bk.AddOurAddress(self)
						books[self.ID] = bk
						return &recordBook{Book: bk, signed: signed, holds: holds}, nil
					}
					cfg.Tweak = func(_ int, c *pex.Config) {
						c.FeelerInterval = pex.DefaultFeelerInterval
						c.OutboundGroupLimit = pex.DefaultOutboundGroupLimit
						c.PreferVerifiedAddrs = true
					}
				}
				res, err := RunSim(cfg)
				if err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(float64(res.RoundsToPeers), "rounds-to-peers-"+name)
				b.ReportMetric(float64(res.RoundsToBooks), "rounds-to-books-"+name)
			}
		}
	})
	for _, k := range []int{1, 8, 64} {
		b.Run(fmt.Sprintf("k=%d", k), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				for _, d := range eclipseVariants() {
					reportEclipse(b, EclipseConfig{K: k, Victim: d})
				}
			}
		})
	}
	for _, k := range []int{1, 8, 64} {
		b.Run(fmt.Sprintf("fakes-k=%d", k), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				for _, d := range []Defences{{}, {SignedRecords: true}, AllDefences()} {
					reportEclipse(b, EclipseConfig{K: k, FakePerGroup: eclipseFakes, Victim: d})
				}
			}
		})
	}
}
