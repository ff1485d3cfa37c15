package main

import (
	"context"
	"math"
	"runtime"
	"runtime/debug"
	"time"

	"github.com/pexp2p/pexp2p/interop/discovery"
)

// Cluster is one stack's N nodes as the convergence measurement sees
// them. The libp2p testnet (libp2pCluster) implements it; a cluster of
// upstream's classic p2p.Switch + pex.Reactor (testnet --compare-classic)
// implements the same four methods and is measured by the same code, so
// the two rows of the table are comparable by construction.
type Cluster interface {
	// Name labels the row ("pexp2p/libp2p", "cometbft/classic").
	Name() string
	// Start starts every node; discovery begins. It returns once all are
	// running.
	Start(ctx context.Context) error
	// Sample reads the current state of every measured node (seed-mode
	// nodes are excluded: they let their peers go by design).
	Sample() []NodeSample
	// Traffic is what the nodes sent so far on the PEX channel.
	Traffic() Traffic
	// Stop stops every node and waits for them.
	Stop() error
}

// NodeSample is one node at one instant.
type NodeSample struct {
	Peers int // connected peers
	Known int // how many of the other N-1 nodes its book holds
}

// Traffic counts PEX messages and bytes (framed payload, without the
// transport's own overhead) sent by all nodes together.
type Traffic struct {
	Msgs  int64 `json:"msgs"`
	Bytes int64 `json:"bytes"`
	// Misbehavior counts peers stopped for a PEX violation, Bans the bans
	// issued: between honest nodes both should stay 0.
	Misbehavior int64 `json:"misbehavior"`
	Bans        int64 `json:"bans"`
	// Reasons counts Misbehavior by reason (the reactor's reason labels,
	// wire_* for the transport's own stops), so a run with bans says why.
	Reasons map[string]int64 `json:"misbehavior_reasons,omitempty"`
}

// MeasureSpec says what convergence means for a run.
type MeasureSpec struct {
	Nodes      int           // N
	Period     time.Duration // the ensure-peers period: a round
	PeerTarget int           // min(max_outbound, N-1)
	BookTarget int           // ceil(0.9 * (N-1))
	Duration   time.Duration // give up after this long
	// SampleEvery is the sampling interval (default Period/5, at least 20 ms).
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
	// Final is the share of nodes meeting it at the end (useful when not reached).
	Final float64 `json:"final"`
	// CPUSecondsPerNode is the process CPU from the start of the stack's
	// run until the criterion was met, ÷ N; PeakRSSMiBPerNode the peak
	// resident-set growth until then, ÷ N. Both 0 when not reached. They
	// compare stacks over the work each needed to get there, whatever
	// the length of its run.
	CPUSecondsPerNode float64 `json:"cpu_seconds_per_node"`
	PeakRSSMiBPerNode float64 `json:"peak_rss_mib_per_node"`
}

// StackResult is one row of the final table.
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

// Measure starts cl, samples it until both criteria are met by every
// measured node or spec.Duration passes, stops it and reports. progress,
// when set, is called after every sample.
func Measure(ctx context.Context, cl Cluster, spec MeasureSpec, progress func(elapsed time.Duration, withPeers, withBooks, measured int)) (StackResult, error) {
	res := StackResult{Stack: cl.Name(), Nodes: spec.Nodes, PeerTarget: spec.PeerTarget, BookTarget: spec.BookTarget, RunFull: spec.RunFull}
	every := spec.SampleEvery
	if every <= 0 {
		every = spec.Period / 5
	}
	if every < 20*time.Millisecond {
		every = 20 * time.Millisecond
	}
	// Stacks run one after the other in this process: hand the previous
	// stack's freed heap back to the OS first, or the next stack grows
	// into pages already resident and its memory reads as nearly zero.
	runtime.GC()
	debug.FreeOSMemory()
	cpu0 := discovery.CPUSeconds()
	rss0 := int64(discovery.ReadRSS())
	peakRSS := rss0
	start := time.Now()
	if err := cl.Start(ctx); err != nil {
		_ = cl.Stop()
		return res, err
	}
	deadline := time.NewTimer(spec.Duration)
	defer deadline.Stop()
	tick := time.NewTicker(every)
	defer tick.Stop()
	var last []NodeSample
	profiled := false
	for {
		el := time.Since(start)
		s := cl.Sample()
		last = s
		if r := int64(discovery.ReadRSS()); r > peakRSS {
			peakRSS = r
		}
		wp, wb := 0, 0
		for _, x := range s {
			if x.Peers >= spec.PeerTarget {
				wp++
			}
			if x.Known >= spec.BookTarget {
				wb++
			}
		}
		m := len(s)
		res.Measured = m
		frac := func(k int) float64 {
			if m == 0 {
				return 0
			}
			return float64(k) / float64(m)
		}
		res.Timeline = append(res.Timeline, Point{T: el.Seconds(), PeersFrac: frac(wp), BooksFrac: frac(wb)})
		mark := func(ms *Milestone, k int) {
			ms.Final = frac(k)
			if !ms.Reached && m > 0 && k == m {
				ms.Reached, ms.Seconds, ms.Rounds = true, el.Seconds(), durationRounds(el, spec.Period)
				if spec.Nodes > 0 {
					ms.CPUSecondsPerNode = (discovery.CPUSeconds() - cpu0) / float64(spec.Nodes)
					ms.PeakRSSMiBPerNode = float64(peakRSS-rss0) / float64(spec.Nodes) / (1 << 20)
				}
			}
		}
		mark(&res.Peers, wp)
		mark(&res.Books, wb)
		if progress != nil {
			progress(el, wp, wb, m)
		}
		if res.Peers.Reached && res.Books.Reached {
			if spec.HeapProfile != nil && !profiled {
				spec.HeapProfile(cl.Name())
				profiled = true
			}
			if !spec.RunFull {
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
	// Counted before Stop: stopping many hosts costs CPU that is not
	// discovery's.
	if spec.Nodes > 0 {
		res.CPUSecondsPerNode = (discovery.CPUSeconds() - cpu0) / float64(spec.Nodes)
		res.RSSMiBPerNode = float64(peakRSS-rss0) / float64(spec.Nodes) / (1 << 20)
	}
	if spec.HeapProfile != nil && !profiled {
		spec.HeapProfile(cl.Name())
	}
	err := cl.Stop()
	return res, err
}
