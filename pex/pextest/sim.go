package pextest

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"time"

	"github.com/pexp2p/pexp2p/addrbook"
	"github.com/pexp2p/pexp2p/internal/clock"
	"github.com/pexp2p/pexp2p/pex"
)

// NodeAddr returns node i's address in simulations: a classic 40-hex ID
// derived from i and a routable IPv4 address in its own /16 (11.0.0.1,
// 11.1.0.1, …), so that books bucket the nodes as distinct groups.
func NodeAddr(i int) addrbook.NetAddress {
	sum := sha256.Sum256([]byte(fmt.Sprintf("pextest node %d", i)))
	ip := netip.AddrFrom4([4]byte{byte(11 + i/256), byte(i % 256), 0, 1})
	return addrbook.NetAddress{ID: hex.EncodeToString(sum[:20]), IP: ip, Port: 26656}
}

// BookFactory builds node i's book.
type BookFactory func(i int, self addrbook.NetAddress, clk clock.Clock, rng *rand.Rand) (pex.AddrBook, error)

// SimConfig describes one simulated discovery run: N reactors on a Hub,
// node 0 the only seed, every node started at the same virtual instant.
type SimConfig struct {
	N    int
	Seed uint64 // randomness of the run
	// SeedMode runs node 0 as a crawler; otherwise it is a regular node
	// that the others list as their seed.
	SeedMode bool
	// Period is every node's EnsurePeersPeriod and CrawlPeerPeriod
	// (default 30 s); a round is one Period.
	Period time.Duration
	// Latency of every message (default 50 ms).
	Latency time.Duration
	// MaxOutbound / MaxInbound default to 10 / 40; OverLimitSlots is the
	// extra inbound connections a full node accepts to answer once
	// (default MaxInbound; -1 for none, as upstream's switch).
	MaxOutbound, MaxInbound, OverLimitSlots int
	// MaxRounds bounds the run (default 30).
	MaxRounds int
	// BookTarget is the share of the other nodes every book must hold
	// (default 0.9).
	BookTarget float64
	// NewBook builds the books (default: RealBooks).
	NewBook BookFactory
	// Tweak may change node i's reactor config.
	Tweak func(i int, cfg *pex.Config)
}

// RoundStat is the state after one round.
type RoundStat struct {
	Round               int
	MinPeers, MaxPeers  int
	MeanPeers           float64
	MinBook             int
	MeanBook            float64
	NodesWithPeers      int // nodes meeting the peer target
	NodesWithFullEnough int // nodes meeting the book target
}

// SimResult reports a run. RoundsToPeers is the first round after which
// every node (the seed excluded in seed mode, since it lets peers go) had
// at least min(MaxOutbound, N-1) peers; RoundsToBooks the first after
// which every book held at least BookTarget of the other nodes; -1 when
// not reached within MaxRounds.
type SimResult struct {
	Config        SimConfig
	RoundsToPeers int
	RoundsToBooks int
	Rounds        []RoundStat
	Hub           Stats
	Misbehavior   int
}

type simObserver struct {
	pex.NopObserver
	misbehavior *int
}

func (o simObserver) Misbehavior(pex.Reason) { *o.misbehavior++ }

// RunSim runs a simulation on virtual time. It is deterministic for a
// given config.
func RunSim(cfg SimConfig) (*SimResult, error) {
	if cfg.N < 2 {
		return nil, fmt.Errorf("pextest: simulation needs N >= 2, got %d", cfg.N)
	}
	if cfg.Period == 0 {
		cfg.Period = pex.DefaultEnsurePeersPeriod
	}
	if cfg.Latency == 0 {
		cfg.Latency = 50 * time.Millisecond
	}
	if cfg.MaxOutbound == 0 {
		cfg.MaxOutbound = 10
	}
	if cfg.MaxInbound == 0 {
		cfg.MaxInbound = 40
	}
	switch cfg.OverLimitSlots {
	case 0:
		cfg.OverLimitSlots = cfg.MaxInbound
	case -1:
		cfg.OverLimitSlots = 0
	}
	if cfg.MaxRounds == 0 {
		cfg.MaxRounds = 30
	}
	if cfg.BookTarget == 0 {
		cfg.BookTarget = 0.9
	}
	if cfg.NewBook == nil {
		cfg.NewBook = RealBooks
	}

	clk := clock.NewSimulated(time.Time{})
	hub := NewHub(clk, cfg.Latency)
	res := &SimResult{Config: cfg, RoundsToPeers: -1, RoundsToBooks: -1}
	seedAddr := NodeAddr(0)
	books := make([]pex.AddrBook, cfg.N)
	nodes := make([]*Node, cfg.N)
	reactors := make([]*pex.Reactor, cfg.N)
	for i := 0; i < cfg.N; i++ {
		addr := NodeAddr(i)
		book, err := cfg.NewBook(i, addr, clk, rand.New(rand.NewPCG(cfg.Seed, uint64(2*i+1))))
		if err != nil {
			return nil, fmt.Errorf("book of node %d: %w", i, err)
		}
		books[i] = book
		node, err := hub.AddNode(NodeConfig{Addr: addr, MaxOutbound: cfg.MaxOutbound, MaxInbound: cfg.MaxInbound,
			OverLimitSlots: cfg.OverLimitSlots, Accept: func(id string) error {
				if book.IsBanned(id) {
					return fmt.Errorf("banned %s", id)
				}
				return nil
			}})
		if err != nil {
			return nil, err
		}
		nodes[i] = node
		pcfg := pex.DefaultConfig()
		pcfg.EnsurePeersPeriod = cfg.Period
		pcfg.CrawlPeerPeriod = cfg.Period
		pcfg.OverLimitGrace = cfg.Period / 3
		if i == 0 {
			pcfg.SeedMode = cfg.SeedMode
		} else {
			pcfg.Seeds = []string{seedAddr.String()}
		}
		if cfg.Tweak != nil {
			cfg.Tweak(i, &pcfg)
		}
		r := pex.NewReactor(book, node, pcfg,
			pex.WithClock(clk), pex.WithExecutor(hub.Go),
			pex.WithRand(rand.New(rand.NewPCG(cfg.Seed, uint64(2*i+2)))),
			pex.WithObserver(simObserver{misbehavior: &res.Misbehavior}))
		node.SetHandler(r)
		reactors[i] = r
	}
	for i, r := range reactors {
		if err := r.Start(); err != nil {
			return nil, fmt.Errorf("start node %d: %w", i, err)
		}
	}
	defer func() {
		for _, r := range reactors {
			_ = r.Stop()
		}
	}()

	peerTarget := min(cfg.MaxOutbound, cfg.N-1)
	bookTarget := int(float64(cfg.N-1)*cfg.BookTarget + 0.999999)
	for round := 1; round <= cfg.MaxRounds; round++ {
		clk.Run(cfg.Period)
		st := RoundStat{Round: round, MinPeers: 1 << 30, MinBook: 1 << 30}
		sumP, sumB, counted := 0, 0, 0
		for i := 0; i < cfg.N; i++ {
			size := books[i].Size()
			sumB += size
			st.MinBook = min(st.MinBook, size)
			if size >= bookTarget {
				st.NodesWithFullEnough++
			}
			if i == 0 && cfg.SeedMode {
				continue
			}
			out, in, _ := nodes[i].NumPeers()
			p := out + in
			counted++
			sumP += p
			st.MinPeers = min(st.MinPeers, p)
			st.MaxPeers = max(st.MaxPeers, p)
			if p >= peerTarget {
				st.NodesWithPeers++
			}
		}
		st.MeanPeers = float64(sumP) / float64(counted)
		st.MeanBook = float64(sumB) / float64(cfg.N)
		res.Rounds = append(res.Rounds, st)
		if res.RoundsToPeers < 0 && st.NodesWithPeers == counted {
			res.RoundsToPeers = round
		}
		if res.RoundsToBooks < 0 && st.NodesWithFullEnough == cfg.N {
			res.RoundsToBooks = round
		}
		if res.RoundsToPeers > 0 && res.RoundsToBooks > 0 {
			break
		}
	}
	res.Hub = hub.Stats()
	return res, nil
}

// RealBooks builds in-memory *addrbook.Book values in strict mode on the
// simulation's clock and randomness.
func RealBooks(_ int, self addrbook.NetAddress, clk clock.Clock, rng *rand.Rand) (pex.AddrBook, error) {
	b, err := addrbook.New(addrbook.Options{Strict: true, Now: clk.Now, Rand: rng})
	if err != nil {
		return nil, err
	}
	b.AddOurAddress(self)
	return b, nil
}

// MemBooks builds MemBook values.
func MemBooks(_ int, self addrbook.NetAddress, clk clock.Clock, rng *rand.Rand) (pex.AddrBook, error) {
	b := NewMemBook(clk, rng)
	b.AddOurAddress(self)
	return b, nil
}
