package pextest

import (
	"fmt"
	"testing"
)

// eclipseSeeds are the runs averaged per figure: one seed is one
// network, and a single network's figure moves by a peer or two.
var eclipseSeeds = []uint64{1, 2, 3}

// eclipseVariants are the victim's defence sets, each reported as a
// metric suffix: upstream (none), each option alone, all together.
func eclipseVariants() []Defences {
	return []Defences{{}, {TestBeforeEvict: true}, {Feelers: true}, {Anchors: true}, {Diversity: true}, {ASMap: true}, AllDefences()}
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
// Run: go test -run '^$' -bench BenchmarkEclipse -benchtime 1x ./pex/pextest
func BenchmarkEclipse(b *testing.B) {
	for _, k := range []int{1, 8, 64} {
		b.Run(fmt.Sprintf("k=%d", k), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				for _, d := range eclipseVariants() {
					var out, poison, rec float64
					for _, seed := range eclipseSeeds {
						res, err := RunEclipse(EclipseConfig{Seed: seed, K: k, Victim: d})
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
					b.ReportMetric(out/n, "outbound-share-"+d.String())
					b.ReportMetric(poison/n, "poisoned-share-"+d.String())
					b.ReportMetric(rec/n, "recover-rounds-"+d.String())
				}
			}
		})
	}
}
