package pextest

import (
	"fmt"
	"testing"

	"github.com/pexp2p/pexp2p/pex"
)

// BenchmarkSim runs the issue-3 discovery simulation and reports the
// rounds (ensure-peers periods) until every node has min(10, N-1) peers
// and until every book holds 90 % of the others (-1: not within 40
// rounds). default: full nodes answer up to MaxInbound visitors once;
// overLimit=2: two visitors (package transport's default); overLimit=-1
// refuses them as upstream's switch does; fixesOff
// also turns off RefreshWhenOutboundFull (upstream's early return).
// Run: go test -run '^$' -bench BenchmarkSim -benchtime 1x ./pex/pextest
func BenchmarkSim(b *testing.B) {
	noRefresh := func(_ int, c *pex.Config) { c.RefreshWhenOutboundFull = false }
	type variant struct {
		name  string
		over  int
		tweak func(int, *pex.Config)
	}
	for _, n := range []int{100, 1000} {
		for _, seedMode := range []bool{true, false} {
			for _, v := range []variant{{"default", 0, nil}, {"overLimit=2", 2, nil}, {"overLimit=-1", -1, nil}, {"fixesOff", -1, noRefresh}} {
				if n == 1000 && v.name != "default" {
					continue
				}
				b.Run(fmt.Sprintf("N=%d/seedMode=%v/%s", n, seedMode, v.name), func(b *testing.B) {
					var res *SimResult
					for i := 0; i < b.N; i++ {
						var err error
						res, err = RunSim(SimConfig{N: n, Seed: uint64(i + 1), SeedMode: seedMode, OverLimitSlots: v.over, Tweak: v.tweak, MaxRounds: 40})
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
