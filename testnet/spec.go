package testnet

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"
)

// Spec is one testnet run: the topology every stack of the run gets.
type Spec struct {
	Nodes       int
	Seeds       int  // the first Seeds nodes are everyone else's seeds
	SeedMode    bool // the seeds crawl, answer once and hang up
	Period      time.Duration
	Transport   string // "quic" or "tcp" (the libp2p stack's)
	MaxOutbound int
	MaxInbound  int
	Duration    time.Duration
	ChainID     string
	// CompareClassic also runs the same topology on upstream's classic
	// stack after the libp2p run.
	CompareClassic bool
	// CompareDHT also runs the same N hosts with go-libp2p-kad-dht
	// (KadDHT) as their discovery, after the other stacks.
	CompareDHT bool
	// RunFull runs every stack for the whole Duration, converged or not,
	// so that whole-run CPU, memory and traffic cover the same window.
	RunFull bool
	// MemProfile, when set, is a path prefix: each stack's heap profile
	// is written to <prefix>-<stack>.pprof when it converges (or at the
	// end of its run), while its nodes still hold their state.
	MemProfile string
	// CPUProfile, when set, is a path prefix: each stack's CPU profile,
	// from its start until it converges (or its run ends), is written to
	// <prefix>-<stack>.cpu.pprof.
	CPUProfile string
}

// DefaultSpec is `pexp2p testnet` without flags: 20 nodes, one seed in
// seed mode, 1 s rounds over QUIC, CometBFT's peer limits.
func DefaultSpec() Spec {
	return Spec{
		Nodes:       20,
		Seeds:       1,
		SeedMode:    true,
		Period:      time.Second,
		Transport:   "quic",
		MaxOutbound: 10,
		MaxInbound:  40,
		Duration:    50 * time.Second,
		ChainID:     "pexp2p-testnet",
	}
}

// Limits of one process: every node is a real host with its own
// listeners, and a classic node needs its own /16 on loopback (the
// classic book keeps one address per group and bucket).
const (
	MaxNodes        = 1000
	MaxClassicNodes = 250
)

// ErrSpec is wrapped by every *SpecError.
var ErrSpec = errors.New("testnet: invalid spec")

// SpecError names the setting that is out of range. Field is spelled as
// the `pexp2p testnet` flag that sets it.
type SpecError struct {
	Field string
	Value string
	Err   error
}

func (e *SpecError) Error() string {
	return fmt.Sprintf("testnet: %s = %q: %v", e.Field, e.Value, e.Err)
}
func (e *SpecError) Unwrap() error        { return e.Err }
func (e *SpecError) Is(target error) bool { return target == ErrSpec }

func specErr(field, value, reason string) error {
	return &SpecError{Field: field, Value: value, Err: errors.New(reason)}
}

// Validate returns a *SpecError for the first setting out of range.
func (s Spec) Validate() error {
	itoa := strconv.Itoa
	switch {
	case s.Nodes < 2:
		return specErr("nodes", itoa(s.Nodes), "need at least 2 nodes")
	case s.Nodes > MaxNodes:
		return specErr("nodes", itoa(s.Nodes), fmt.Sprintf("at most %d nodes in one process", MaxNodes))
	case s.Seeds < 1 || s.Seeds >= s.Nodes:
		return specErr("seeds", itoa(s.Seeds), fmt.Sprintf("need 1..%d seeds", s.Nodes-1))
	case s.Period <= 0:
		return specErr("period", s.Period.String(), "must be positive")
	case s.Duration <= 0:
		return specErr("duration", s.Duration.String(), "must be positive")
	case s.MaxOutbound < 1:
		return specErr("max-outbound", itoa(s.MaxOutbound), "must be positive")
	case s.MaxInbound < 0:
		return specErr("max-inbound", itoa(s.MaxInbound), "must not be negative")
	case s.Transport != "quic" && s.Transport != "tcp":
		return specErr("transport", s.Transport, "want quic or tcp")
	case s.CompareClassic && s.Seeds != 1:
		return specErr("seeds", itoa(s.Seeds), "--compare-classic runs the one-seed topology only")
	case s.CompareClassic && s.Nodes > MaxClassicNodes:
		return specErr("nodes", itoa(s.Nodes), fmt.Sprintf("--compare-classic supports at most %d nodes (one /16 per classic node)", MaxClassicNodes))
	}
	return nil
}

// Criteria derives the convergence criteria: every measured node
// connected to ≥ min(max outbound, N−1) peers, and every book holding
// ≥ 90 % of the other nodes. Seed-mode seeds hang up on purpose, so they
// are not counted among the peers a node can keep.
func (s Spec) Criteria() Criteria {
	keepable := s.Nodes - 1
	if s.SeedMode {
		keepable -= s.Seeds
	}
	return Criteria{
		Nodes:      s.Nodes,
		Period:     s.Period,
		PeerTarget: max(1, min(s.MaxOutbound, keepable)),
		BookTarget: int(math.Ceil(0.9 * float64(s.Nodes-1))),
		Duration:   s.Duration,
		RunFull:    s.RunFull,
	}
}

// Measured is how many nodes the criteria are judged on.
func (s Spec) Measured() int {
	if s.SeedMode {
		return s.Nodes - s.Seeds
	}
	return s.Nodes
}

// JSONView is the spec as `pexp2p testnet --json` reports it.
func (s Spec) JSONView() map[string]any {
	return map[string]any{
		"nodes": s.Nodes, "seeds": s.Seeds, "seed_mode": s.SeedMode, "period": s.Period.String(),
		"transport": s.Transport, "max_outbound": s.MaxOutbound, "max_inbound": s.MaxInbound,
		"duration": s.Duration.String(), "compare_classic": s.CompareClassic, "compare_dht": s.CompareDHT, "run_full": s.RunFull,
	}
}

// LoopbackIP gives node i its own 127.x.y.1 address: distinct /16 groups
// for the books (non-strict), and distinct IPs for the per-IP limits.
func LoopbackIP(i int) string {
	return fmt.Sprintf("127.%d.%d.1", 1+i%250, i/250)
}

// Rounds is how many whole periods d spans, rounding up.
func Rounds(d, period time.Duration) int {
	if period <= 0 {
		return 0
	}
	return int((d + period - 1) / period)
}
