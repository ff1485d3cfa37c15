// Package discovery runs the side-by-side discovery benchmark of issue 7
// item 4: N nodes on one stack, all on loopback, every node but one
// knowing only that one as its seed, the seed in seed mode or not, the
// same ensure-peers period everywhere; it samples every node's peers and
// book size over time and reports how fast the network converged and
// what it cost. Two stacks are built in: pexp2p's libp2p stack (Libp2p)
// and upstream CometBFT's classic stack, its p2p.Switch with its own
// pex.Reactor (Classic). `pexp2p testnet --compare-classic` calls Compare.
//
// Stacks run one after the other in this process, so that CPU time and
// loopback traffic can be attributed to one stack: CPU is the process's
// user+system time during the run, memory the growth of the process's
// resident set during the run, both divided by N (per-process figures,
// not per-node measurements). Bytes on the wire are read from the
// loopback interface's counters, which count every process of the
// network namespace; run under `unshare -n` for an exact figure (see
// docs/performance.md).
package discovery

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"runtime"
	"runtime/debug"
	"strings"
	"text/tabwriter"
	"time"
)

// Config describes one discovery run. Zero fields take the defaults noted.
type Config struct {
	// Nodes is N, the seed included (node 0). At least 2, at most 250
	// (node i listens on 127.(i+1).0.1, so every node has its own /16).
	Nodes int
	// Period is the ensure-peers period of every node; default 1 s.
	Period time.Duration
	// SeedMode runs node 0 as a seed (crawler); otherwise it is an
	// ordinary node the others have as their only seed.
	SeedMode bool
	// MaxOutbound and MaxInbound are every node's peer limits; defaults
	// 10 and 40 (CometBFT's).
	MaxOutbound int
	MaxInbound  int
	// Duration bounds the run; default 120 s.
	Duration time.Duration
	// RunFull keeps running until Duration even after both criteria are
	// met; by default the run ends SettleRounds periods after that.
	RunFull      bool
	SettleRounds int // default 3
	// SampleEvery is the sampling interval; default Period/4.
	SampleEvery time.Duration
	// BookTarget is the share of the other nodes every book must hold;
	// default 0.9.
	BookTarget float64
	// OnSample, if set, is called with every sample as it is taken
	// (live display). It must not block.
	OnSample func(stack string, s Sample)
	// OnSnapshot, if set, receives every node's raw state (index 0 the
	// seed) at each sample, for per-node curves. It must not block or
	// keep the slice.
	OnSnapshot func(stack string, elapsed time.Duration, nodes []NodeStat)
	// Logf, if set, receives progress lines.
	Logf func(format string, args ...any)
}

// ErrConfig is wrapped by every configuration error.
var ErrConfig = errors.New("discovery: invalid config")

// ConfigError names the field that is out of range.
type ConfigError struct {
	Field string
	Value any
}

func (e *ConfigError) Error() string {
	return fmt.Sprintf("discovery: invalid config: %s = %v", e.Field, e.Value)
}
func (e *ConfigError) Is(target error) bool { return target == ErrConfig }

// WithDefaults returns cfg with its zero fields filled in, or a
// *ConfigError.
func (cfg Config) WithDefaults() (Config, error) {
	if cfg.Nodes < 2 || cfg.Nodes > 250 {
		return cfg, &ConfigError{"Nodes", cfg.Nodes}
	}
	if cfg.Period == 0 {
		cfg.Period = time.Second
	}
	if cfg.MaxOutbound == 0 {
		cfg.MaxOutbound = 10
	}
	if cfg.MaxInbound == 0 {
		cfg.MaxInbound = 40
	}
	if cfg.Duration == 0 {
		cfg.Duration = 120 * time.Second
	}
	if cfg.SettleRounds == 0 {
		cfg.SettleRounds = 3
	}
	if cfg.SampleEvery == 0 {
		cfg.SampleEvery = cfg.Period / 4
	}
	if cfg.BookTarget == 0 {
		cfg.BookTarget = 0.9
	}
	switch {
	case cfg.Period < time.Millisecond:
		return cfg, &ConfigError{"Period", cfg.Period}
	case cfg.MaxOutbound < 1:
		return cfg, &ConfigError{"MaxOutbound", cfg.MaxOutbound}
	case cfg.MaxInbound < 1:
		return cfg, &ConfigError{"MaxInbound", cfg.MaxInbound}
	case cfg.Duration < cfg.Period:
		return cfg, &ConfigError{"Duration", cfg.Duration}
	case cfg.SettleRounds < 0:
		return cfg, &ConfigError{"SettleRounds", cfg.SettleRounds}
	case cfg.SampleEvery < time.Millisecond:
		return cfg, &ConfigError{"SampleEvery", cfg.SampleEvery}
	case cfg.BookTarget <= 0 || cfg.BookTarget > 1 || math.IsNaN(cfg.BookTarget):
		return cfg, &ConfigError{"BookTarget", cfg.BookTarget}
	}
	return cfg, nil
}

// PeerTarget is the peer count every node must reach:
// min(MaxOutbound, N−1).
// A zero MaxOutbound counts as its default, 10.
func (cfg Config) PeerTarget() int {
	out := cfg.MaxOutbound
	if out == 0 {
		out = 10
	}
	return min(out, cfg.Nodes-1)
}

// NodeIP is the loopback address node i listens on.
func NodeIP(i int) string { return fmt.Sprintf("127.%d.0.1", i+1) }

// NodeStat is one node at one moment.
type NodeStat struct {
	Outbound, Inbound int
	// Book is the number of addresses in its book (on loopback all of
	// them are other nodes of the run).
	Book int
	// Bans in force in its book; -1 when the stack cannot tell
	// (upstream's book has no way to list them).
	Bans int
}

// Peers is the number of connected peers.
func (s NodeStat) Peers() int { return s.Outbound + s.Inbound }

// Network is one stack's N running nodes.
type Network interface {
	// Start starts PEX on every node, the seed first; the clock of the
	// run starts here.
	Start() error
	// Snapshot reports every node, index 0 being the seed.
	Snapshot() []NodeStat
	// Stop stops every node and releases everything Build made.
	Stop() error
}

// Stack builds networks of one kind.
type Stack interface {
	Name() string
	// Build creates cfg.Nodes listening nodes with PEX not yet started.
	Build(cfg Config) (Network, error)
}

// Sample summarises the counted nodes (see Result.Counted) at one moment.
type Sample struct {
	Elapsed time.Duration
	// Rounds is Elapsed in ensure-peers periods.
	Rounds float64
	// MinPeers and MeanPeers over the counted nodes.
	MinPeers  int
	MeanPeers float64
	// MinBook and MeanBook: book size as a share of the other N−1 nodes.
	MinBook, MeanBook float64
	// AtPeerTarget and AtBookTarget count nodes meeting each criterion.
	AtPeerTarget, AtBookTarget int
	// Isolated counts nodes with no peer at all.
	Isolated int
	// Bans is the total of the counted nodes' bans in force, -1 unknown.
	Bans int
}

// Result is one stack's run.
type Result struct {
	Stack  string
	Config Config
	// Counted is how many nodes the criteria are judged on: all N, or
	// N−1 when node 0 is a seed (a crawler keeps few peers by design).
	Counted int

	// PeersReached: every counted node had ≥ PeerTarget peers at one
	// sample; PeersAt is the first such moment.
	PeersReached bool
	PeersAt      time.Duration
	// BooksReached: every counted book held ≥ BookTarget of the other
	// nodes at one sample.
	BooksReached bool
	BooksAt      time.Duration

	// Final is the last sample (the "final figure" when a criterion was
	// not reached); Joined = Counted − Final.Isolated.
	Final  Sample
	Joined int

	// CPUAtPeers and CPUAtBooks are the process CPU from Start until
	// each criterion was met (0 when not reached); RSSAtPeers and
	// RSSAtBooks the peak resident-set growth until then. Unlike the
	// whole-run figures they compare stacks whose runs lasted
	// differently long (one converging in 3 s, one running to Duration).
	CPUAtPeers, CPUAtBooks float64
	RSSAtPeers, RSSAtBooks uint64

	Wall       time.Duration // from Start to the end of sampling
	CPUSeconds float64       // process user+system CPU during the run
	// RSSGrowth is the process's peak resident set during the run minus
	// its resident set before Build; PeakRSS the peak itself.
	RSSGrowth, PeakRSS uint64
	// WireBytes is the loopback interface's transmitted bytes during the
	// run (IP packets, headers included); -1 when unavailable.
	WireBytes int64

	// LoadBefore and LoadAfter are the machine's 1-minute load average
	// when the run started and ended (0 when unavailable): on a shared
	// machine they say how much the figures were disturbed.
	LoadBefore, LoadAfter float64

	Samples []Sample
}

// Rounds converts a duration of this run into ensure-peers periods.
func (r *Result) Rounds(d time.Duration) float64 { return float64(d) / float64(r.Config.Period) }

// CPUPerNode and RSSPerNode divide the process figures by N.
func (r *Result) CPUPerNode() float64 { return r.CPUSeconds / float64(r.Config.Nodes) }
func (r *Result) RSSPerNode() float64 { return float64(r.RSSGrowth) / float64(r.Config.Nodes) }

// Run builds a network of stack, starts it and samples it until both
// criteria are met (plus SettleRounds periods) or Duration passes, or ctx
// ends; it always stops the network.
func Run(ctx context.Context, stack Stack, cfg Config) (res *Result, err error) {
	cfg, err = cfg.WithDefaults()
	if err != nil {
		return nil, err
	}
	logf := cfg.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	runtime.GC()
	debug.FreeOSMemory()
	baseRSS := ReadRSS()

	net, err := stack.Build(cfg)
	if err != nil {
		return nil, fmt.Errorf("discovery: building %s: %w", stack.Name(), err)
	}
	defer func() {
		if serr := net.Stop(); serr != nil && err == nil {
			err = fmt.Errorf("discovery: stopping %s: %w", stack.Name(), serr)
		}
	}()
	res = &Result{Stack: stack.Name(), Config: cfg, Counted: cfg.Nodes, WireBytes: -1}
	first := 0
	if cfg.SeedMode {
		first = 1
		res.Counted = cfg.Nodes - 1
	}
	peak := ReadRSS()
	res.LoadBefore = loadAvg()
	cpu0 := CPUSeconds()
	lo0, loErr := loopbackTxBytes()
	start := time.Now()
	if err := net.Start(); err != nil {
		return nil, fmt.Errorf("discovery: starting %s: %w", stack.Name(), err)
	}
	logf("%s: %d nodes started (seed mode %v, period %v)", stack.Name(), cfg.Nodes, cfg.SeedMode, cfg.Period)

	tick := time.NewTicker(cfg.SampleEvery)
	defer tick.Stop()
	var doneAt time.Duration = -1
	nextLog := cfg.Period * 10
	for {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-tick.C:
		}
		el := time.Since(start)
		snap := net.Snapshot()
		if cfg.OnSnapshot != nil {
			cfg.OnSnapshot(stack.Name(), el, snap)
		}
		s := summarise(snap[first:], cfg, el)
		res.Samples = append(res.Samples, s)
		if rss := ReadRSS(); rss > peak {
			peak = rss
		}
		if cfg.OnSample != nil {
			cfg.OnSample(stack.Name(), s)
		}
		growth := func() uint64 {
			if peak > baseRSS {
				return peak - baseRSS
			}
			return 0
		}
		if !res.PeersReached && s.AtPeerTarget == res.Counted {
			res.PeersReached, res.PeersAt = true, el
			res.CPUAtPeers, res.RSSAtPeers = CPUSeconds()-cpu0, growth()
		}
		if !res.BooksReached && s.AtBookTarget == res.Counted {
			res.BooksReached, res.BooksAt = true, el
			res.CPUAtBooks, res.RSSAtBooks = CPUSeconds()-cpu0, growth()
		}
		if el >= nextLog {
			logf("%s: %.0f rounds: peers min %d mean %.1f, books min %.0f%% mean %.0f%%, isolated %d, bans %d",
				stack.Name(), s.Rounds, s.MinPeers, s.MeanPeers, 100*s.MinBook, 100*s.MeanBook, s.Isolated, s.Bans)
			nextLog += cfg.Period * 10
		}
		if doneAt < 0 && res.PeersReached && res.BooksReached && !cfg.RunFull {
			doneAt = el + time.Duration(cfg.SettleRounds)*cfg.Period
		}
		if el >= cfg.Duration || (doneAt >= 0 && el >= doneAt) {
			break
		}
	}
	res.Wall = time.Since(start)
	res.CPUSeconds = CPUSeconds() - cpu0
	if loErr == nil {
		if lo1, err := loopbackTxBytes(); err == nil {
			res.WireBytes = lo1 - lo0
		}
	}
	res.LoadAfter = loadAvg()
	res.PeakRSS = peak
	if peak > baseRSS {
		res.RSSGrowth = peak - baseRSS
	}
	res.Final = res.Samples[len(res.Samples)-1]
	res.Joined = res.Counted - res.Final.Isolated
	logf("%s: done after %v (load average %.1f → %.1f)", stack.Name(), res.Wall.Round(time.Millisecond), res.LoadBefore, res.LoadAfter)
	return res, nil
}

func summarise(nodes []NodeStat, cfg Config, el time.Duration) Sample {
	s := Sample{Elapsed: el, Rounds: float64(el) / float64(cfg.Period), MinPeers: math.MaxInt, MinBook: math.Inf(1)}
	others := float64(cfg.Nodes - 1)
	target := cfg.PeerTarget()
	for _, n := range nodes {
		p := n.Peers()
		b := float64(n.Book) / others
		s.MinPeers = min(s.MinPeers, p)
		s.MinBook = math.Min(s.MinBook, b)
		s.MeanPeers += float64(p)
		s.MeanBook += b
		if p >= target {
			s.AtPeerTarget++
		}
		// A small tolerance keeps 0.9 of 49 from failing on rounding.
		if b >= cfg.BookTarget-1e-9 {
			s.AtBookTarget++
		}
		if p == 0 {
			s.Isolated++
		}
		if n.Bans < 0 || s.Bans < 0 {
			s.Bans = -1
		} else {
			s.Bans += n.Bans
		}
	}
	if len(nodes) > 0 {
		s.MeanPeers /= float64(len(nodes))
		s.MeanBook /= float64(len(nodes))
	}
	return s
}

// Compare runs cfg on each stack in turn (default: Libp2p() then
// Classic()) and returns their results in the same order. A stack that
// fails ends the comparison with its error and the results so far.
func Compare(ctx context.Context, cfg Config, stacks ...Stack) ([]*Result, error) {
	if len(stacks) == 0 {
		stacks = []Stack{Libp2p(), Classic()}
	}
	var out []*Result
	for _, st := range stacks {
		r, err := Run(ctx, st, cfg)
		if err != nil {
			return out, err
		}
		out = append(out, r)
	}
	return out, nil
}

func fmtReached(ok bool, at time.Duration, r *Result, final string) string {
	if !ok {
		return "not reached (" + final + ")"
	}
	return fmt.Sprintf("%.1f rounds / %.1fs", r.Rounds(at), at.Seconds())
}

// WriteTable prints one row per result and, for two results, the ratio
// of the first to the second; then the CPU and memory each stack spent
// until each criterion (WriteCostTable).
func WriteTable(w io.Writer, results []*Result) error {
	if err := writeMainTable(w, results); err != nil {
		return err
	}
	return WriteCostTable(w, results)
}

// SameWindow says whether two results' whole-run figures cover
// comparable windows: both ran to Duration (RunFull, or never
// converged), or their lengths differ by less than 10 %.
func SameWindow(a, b *Result) bool {
	lo, hi := min(a.Wall, b.Wall), max(a.Wall, b.Wall)
	return hi > 0 && float64(lo) >= 0.9*float64(hi)
}

// WriteCostTable prints CPU s/node and peak RSS MiB/node until the peer
// criterion, until the book criterion and over the whole run, with the
// ratio of the first result to the second where it compares like with
// like: a milestone both reached, or whole runs of the same length.
func WriteCostTable(w io.Writer, results []*Result) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "stack\tCPU s/node to peers\tto books\twhole run\tRSS MiB/node to peers\tto books\twhole run\trun")
	n := func(r *Result, v float64, ok bool, f string) string {
		if !ok {
			return "-"
		}
		return fmt.Sprintf(f, v/float64(r.Config.Nodes))
	}
	for _, r := range results {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%.3f\t%s\t%s\t%.2f\t%.1fs\n", r.Stack,
			n(r, r.CPUAtPeers, r.PeersReached, "%.3f"), n(r, r.CPUAtBooks, r.BooksReached, "%.3f"), r.CPUPerNode(),
			n(r, float64(r.RSSAtPeers)/(1<<20), r.PeersReached, "%.2f"), n(r, float64(r.RSSAtBooks)/(1<<20), r.BooksReached, "%.2f"),
			r.RSSPerNode()/(1<<20), r.Wall.Seconds())
	}
	if len(results) == 2 {
		a, b := results[0], results[1]
		rt := func(ok bool, x, y float64) string {
			if !ok {
				return "-"
			}
			return fmtRatio(x, y)
		}
		bp, bb, same := a.PeersReached && b.PeersReached, a.BooksReached && b.BooksReached, SameWindow(a, b)
		fmt.Fprintf(tw, "ratio %s/%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", a.Stack, b.Stack,
			rt(bp, a.CPUAtPeers, b.CPUAtPeers), rt(bb, a.CPUAtBooks, b.CPUAtBooks), rt(same, a.CPUPerNode(), b.CPUPerNode()),
			rt(bp, float64(a.RSSAtPeers), float64(b.RSSAtPeers)), rt(bb, float64(a.RSSAtBooks), float64(b.RSSAtBooks)),
			rt(same, a.RSSPerNode(), b.RSSPerNode()))
	}
	return tw.Flush()
}

func writeMainTable(w io.Writer, results []*Result) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "stack\tN\tseed mode\tperiod\tpeers ≥ target\tbooks ≥ 90%\tjoined\tCPU s/node\tRSS MiB/node\twire MiB")
	for _, r := range results {
		fmt.Fprintf(tw, "%s\t%d\t%v\t%v\t%s\t%s\t%d/%d\t%.3f\t%.2f\t%s\n",
			r.Stack, r.Config.Nodes, r.Config.SeedMode, r.Config.Period,
			fmtReached(r.PeersReached, r.PeersAt, r, fmt.Sprintf("min %d, %d/%d at target", r.Final.MinPeers, r.Final.AtPeerTarget, r.Counted)),
			fmtReached(r.BooksReached, r.BooksAt, r, fmt.Sprintf("min %.0f%%, mean %.0f%%", 100*r.Final.MinBook, 100*r.Final.MeanBook)),
			r.Joined, r.Counted, r.CPUPerNode(), r.RSSPerNode()/(1<<20), fmtBytes(r.WireBytes))
	}
	if len(results) == 2 {
		a, b := results[0], results[1]
		fmt.Fprintf(tw, "ratio %s/%s\t\t\t\t%s\t%s\t\t%s\t%s\t%s\n", a.Stack, b.Stack,
			ratio(a.PeersReached, b.PeersReached, a.Rounds(a.PeersAt), b.Rounds(b.PeersAt), "rounds"),
			ratio(a.BooksReached, b.BooksReached, a.Rounds(a.BooksAt), b.Rounds(b.BooksAt), "rounds"),
			windowRatio(a, b, a.CPUPerNode(), b.CPUPerNode()), windowRatio(a, b, a.RSSPerNode(), b.RSSPerNode()),
			windowRatio(a, b, float64(a.WireBytes), float64(b.WireBytes)))
	}
	return tw.Flush()
}

// windowRatio divides whole-run figures only when the runs lasted
// equally long: otherwise "-" (see WriteCostTable for the milestones).
func windowRatio(a, b *Result, x, y float64) string {
	if !SameWindow(a, b) {
		return "-"
	}
	return fmtRatio(x, y)
}

func fmtBytes(n int64) string {
	if n < 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.1f", float64(n)/(1<<20))
}

func fmtRatio(a, b float64) string {
	if b <= 0 || a < 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.2f×", a/b)
}

func ratio(okA, okB bool, a, b float64, unit string) string {
	switch {
	case okA && okB:
		return fmtRatio(a, b) + " " + unit
	case okA && !okB:
		return "only " + "first reached"
	case !okA && okB:
		return "only second reached"
	}
	return "neither reached"
}

// String is a one-line summary.
func (r *Result) String() string {
	var b strings.Builder
	_ = WriteTable(&b, []*Result{r})
	return b.String()
}
