package testnet

import (
	"context"
	"math"
	"runtime"
	"runtime/debug"
	"time"
)

// Criteria says what convergence means for a run (Spec.Criteria derives
// it) and how long to wait for it.
type Criteria struct {
	Nodes      int           // N
	Period     time.Duration // the ensure-peers period: a round
	PeerTarget int           // peers every measured node must reach
	BookTarget int           // other nodes every measured book must hold
	Duration   time.Duration // give up after this long
	// SampleEvery is the sampling interval (default Period/5, at least
	// 20 ms).
	SampleEvery time.Duration
	// RunFull keeps sampling until Duration even after both criteria are
	// met, so that every stack of a comparison is charged CPU and memory
	// over the same window (a stack that converges in 3 s and one that
	// never does would otherwise be charged 3 s and Duration).
	RunFull bool
	// HeapProfile, when set, is called with the stack's name once, just
	// before Stop (or when both criteria are first met, whichever comes
	// first), while every node still holds its state: a heap profile
	// taken there shows what a node keeps, not what Stop freed.
	HeapProfile func(stack string)
}

// Point is one sample of the timeline.
type Point struct {
	T         float64 `json:"t"`          // seconds since start
	PeersFrac float64 `json:"peers_frac"` // share of measured nodes at the peer target
	BooksFrac float64 `json:"books_frac"` // share of measured nodes at the book target
}

// Milestone is when a criterion was first met by every measured node.
type Milestone struct {
	Reached bool    `json:"reached"`
	Rounds  int     `json:"rounds"`  // whole periods, rounded up
	Seconds float64 `json:"seconds"` // wall time
	// Final is the share of nodes meeting it at the end (useful when not
	// reached).
	Final float64 `json:"final"`
	// CPUSecondsPerNode is the CPU from the start of the stack's run
	// until the criterion was met, ÷ N; PeakRSSMiBPerNode the peak
	// resident-set growth until then, ÷ N. Both 0 when not reached. They
	// compare stacks over the work each needed to get there, whatever
	// the length of its run.
	CPUSecondsPerNode float64 `json:"cpu_seconds_per_node"`
	PeakRSSMiBPerNode float64 `json:"peak_rss_mib_per_node"`
}

// StackResult is one stack's run: one row of the tables.
type StackResult struct {
	Stack      string    `json:"stack"`
	Nodes      int       `json:"nodes"`
	Measured   int       `json:"measured"`
	PeerTarget int       `json:"peer_target"`
	BookTarget int       `json:"book_target"`
	Peers      Milestone `json:"peers"`
	Books      Milestone `json:"books"`
	WallTime   float64   `json:"wall_seconds"`
	Traffic    Traffic   `json:"traffic"`
	// CPU and memory are the process's, divided by N: all nodes share one
	// process, so a per-node figure is the average. They cover the whole
	// run (WallTime): compare them across stacks only when the runs had
	// the same window (RunFull), else use the milestones' own figures.
	CPUSecondsPerNode float64 `json:"cpu_seconds_per_node"`
	RSSMiBPerNode     float64 `json:"rss_mib_per_node"`
	// RunFull says the run lasted Duration whatever the milestones.
	RunFull   bool    `json:"run_full"`
	MinPeers  int     `json:"final_min_peers"`
	MeanPeers float64 `json:"final_mean_peers"`
	MinKnown  int     `json:"final_min_known"`
	Timeline  []Point `json:"timeline"`
}

// Progress hears every sample: the time since start and how many of the
// measured nodes meet each criterion.
type Progress func(elapsed time.Duration, withPeers, withBooks, measured int)

// Measure starts cl, samples it until both criteria are met by every
// measured node or c.Duration passes or ctx ends, stops it and reports.
// progress, when set, is called after every sample.
func Measure(ctx context.Context, cl Cluster, c Criteria, progress Progress) (StackResult, error) {
	res := StackResult{Stack: cl.Name(), Nodes: c.Nodes, PeerTarget: c.PeerTarget, BookTarget: c.BookTarget, RunFull: c.RunFull}
	every := c.SampleEvery
	if every <= 0 {
		every = c.Period / 5
	}
	every = max(every, 20*time.Millisecond)
	perNode := func(v float64) float64 {
		if c.Nodes <= 0 {
			return 0
		}
		return v / float64(c.Nodes)
	}
	// Stacks run one after the other in this process: hand the previous
	// stack's freed heap back to the OS first, or the next stack grows
	// into pages already resident and its memory reads as nearly zero.
	runtime.GC()
	debug.FreeOSMemory()
	m := newMeter(cl)
	start := time.Now()
	if err := cl.Start(ctx); err != nil {
		_ = cl.Stop()
		return res, err
	}
	deadline := time.NewTimer(c.Duration)
	defer deadline.Stop()
	tick := time.NewTicker(every)
	defer tick.Stop()
	var last []NodeSample
	profiled := false
	for {
		el := time.Since(start)
		s := cl.Sample()
		last = s
		m.sample()
		wp, wb := 0, 0
		for _, x := range s {
			if x.Peers >= c.PeerTarget {
				wp++
			}
			if x.Known >= c.BookTarget {
				wb++
			}
		}
		n := len(s)
		res.Measured = n
		frac := func(k int) float64 {
			if n == 0 {
				return 0
			}
			return float64(k) / float64(n)
		}
		res.Timeline = append(res.Timeline, Point{T: el.Seconds(), PeersFrac: frac(wp), BooksFrac: frac(wb)})
		mark := func(ms *Milestone, k int) {
			ms.Final = frac(k)
			if !ms.Reached && n > 0 && k == n {
				ms.Reached, ms.Seconds, ms.Rounds = true, el.Seconds(), Rounds(el, c.Period)
				cpu, rss := m.spent()
				ms.CPUSecondsPerNode, ms.PeakRSSMiBPerNode = perNode(cpu), perNode(float64(rss)/(1<<20))
			}
		}
		mark(&res.Peers, wp)
		mark(&res.Books, wb)
		if progress != nil {
			progress(el, wp, wb, n)
		}
		if res.Peers.Reached && res.Books.Reached {
			if c.HeapProfile != nil && !profiled {
				c.HeapProfile(cl.Name())
				profiled = true
			}
			if !c.RunFull {
				break
			}
		}
		stop := false
		select {
		case <-ctx.Done():
			stop = true
		case <-deadline.C:
			stop = true
		case <-tick.C:
		}
		if stop {
			break
		}
	}
	res.WallTime = time.Since(start).Seconds()
	res.Traffic = cl.Traffic()
	if len(last) > 0 {
		res.MinPeers, res.MinKnown = math.MaxInt, math.MaxInt
		sum := 0
		for _, x := range last {
			res.MinPeers = min(res.MinPeers, x.Peers)
			res.MinKnown = min(res.MinKnown, x.Known)
			sum += x.Peers
		}
		res.MeanPeers = float64(sum) / float64(len(last))
	}
	// Read before Stop: stopping many hosts costs CPU that is not
	// discovery's.
	m.sample()
	cpu, rss := m.spent()
	res.CPUSecondsPerNode, res.RSSMiBPerNode = perNode(cpu), perNode(float64(rss)/(1<<20))
	if c.HeapProfile != nil && !profiled {
		c.HeapProfile(cl.Name())
	}
	err := cl.Stop()
	return res, err
}
