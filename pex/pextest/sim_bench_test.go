package pextest

import (
	"fmt"
	"testing"
)

// BenchmarkSim runs the issue-3 discovery simulation and reports the
// rounds (ensure-peers periods) until every node has min(10, N-1) peers
// and until every book holds 90 % of the others (-1: not within
// MaxRounds). Run: go test -run ^$ -bench BenchmarkSim -benchtime 1x ./pex/pextest
func BenchmarkSim(b *testing.B) {
	for _, n := range []int{100, 1000} {
		for _, seedMode := range []bool{true, false} {
			for _, over := range []int{0, -1} {
				if n == 1000 && over == -1 {
					continue
				}
				b.Run(fmt.Sprintf("N=%d/seedMode=%v/overLimit=%d", n, seedMode, over), func(b *testing.B) {
					var res *SimResult
					for i := 0; i < b.N; i++ {
						var err error
						res, err = RunSim(SimConfig{N: n, Seed: uint64(i + 1), SeedMode: seedMode, OverLimitSlots: over, MaxRounds: 40})
						if err != nil {
							b.Fatal(err)
						}
					}
					b.ReportMetric(float64(res.RoundsToPeers), "rounds-to-peers")
					b.ReportMetric(float64(res.RoundsToBooks), "rounds-to-books")
				})
			}
		}
	}
}
