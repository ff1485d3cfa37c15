package pextest

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// BenchmarkSimScale runs `pexp2p testnet`'s topology on virtual time
// (TestnetSim) at growing N, with the libp2p face's 2 over-limit
// visitors, with 40 and with a seed-mode face's 160 (transport.SeedVisitorSlots),
// and reports the rounds to every node's peers and
// to 90 % books. Deterministic: seed 1. N = 10,000 runs only with
// PEXP2P_SIM_10K=1 (it takes minutes).
// Run: go test -run '^$' -bench SimScale -benchtime 1x ./pex/pextest
func BenchmarkSimScale(b *testing.B) {
	ns := []int{50, 100, 200, 500, 1000}
	if os.Getenv("PEXP2P_SIM_10K") == "1" {
		ns = append(ns, 10000)
	}
	for _, n := range ns {
		for _, v := range []int{2, 40, 160} { // 160: transport.SeedVisitorSlots
			b.Run(fmt.Sprintf("N=%d/visitors=%d", n, v), func(b *testing.B) {
				var p ScalePoint
				for range b.N {
					var err error
					if p, err = RunScale(n, v, 1); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(p.RoundsToPeers), "rounds-to-peers")
				b.ReportMetric(float64(p.RoundsToBooks), "rounds-to-books")
				b.Logf("N=%d visitors=%d: nodes at peers by round %s; at 90 %% books by round %s",
					n, v, head(p.PeersByRound), head(p.BooksByRound))
			})
		}
	}
}

func head(xs []int) string {
	var s []string
	for i, x := range xs {
		if i == 30 {
			s = append(s, "…")
			break
		}
		s = append(s, fmt.Sprint(x))
	}
	return strings.Join(s, " ")
}
