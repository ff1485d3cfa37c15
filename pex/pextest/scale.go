package pextest

import (
	"fmt"
	"time"

	"github.com/pexp2p/pexp2p/pex"
)

// TestnetSim is the simulation of `pexp2p testnet`'s default topology
// with its numbers: N nodes started at once, node 0 the only seed, in
// seed mode, every period (ensure-peers and crawl) 1 s, the next crawl of
// a peer no sooner than 4 periods, over-limit visitors let go after one
// period, 10 outbound and 40 inbound peers, and visitors the over-limit
// slots of a full face (package transport's default is 2). Latency is a
// loopback round trip's order, 1 ms.
func TestnetSim(n, visitors int, seed uint64) SimConfig {
	period := time.Second
	return SimConfig{
		N: n, Seed: seed, SeedMode: true, Period: period, Latency: time.Millisecond,
		MaxOutbound: 10, MaxInbound: 40, OverLimitSlots: visitors,
		MaxRounds: 200,
		Tweak: func(_ int, c *pex.Config) {
			c.MinTimeBetweenCrawls = 4 * period
			c.OverLimitGrace = period
		},
	}
}

// ScalePoint is one simulated network size: the rounds until every node
// has its peers and until every book holds 90 % of the others (-1: not
// within the run), and how many nodes had met each criterion after each
// round, which shows whether the network fills at a steady number of
// nodes per round (a bottleneck) or geometrically (gossip).
type ScalePoint struct {
	N, Visitors   int
	RoundsToPeers int
	RoundsToBooks int
	PeersByRound  []int
	BooksByRound  []int
}

// RunScale runs TestnetSim(n, visitors, seed).
func RunScale(n, visitors int, seed uint64) (ScalePoint, error) {
	if n < 2 {
		return ScalePoint{}, fmt.Errorf("pextest: scale run needs N >= 2, got %d", n)
	}
	res, err := RunSim(TestnetSim(n, visitors, seed))
	if err != nil {
		return ScalePoint{}, err
	}
	p := ScalePoint{N: n, Visitors: visitors, RoundsToPeers: res.RoundsToPeers, RoundsToBooks: res.RoundsToBooks}
	for _, r := range res.Rounds {
		p.PeersByRound = append(p.PeersByRound, r.NodesWithPeers)
		p.BooksByRound = append(p.BooksByRound, r.NodesWithFullEnough)
	}
	return p, nil
}
