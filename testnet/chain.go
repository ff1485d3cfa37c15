package testnet

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"time"
)

// ChainSpec is a CometBFT chain on loopback, one OS process of
// `pexp2p cometbft start` per node: one seed (seed mode), Validators
// validators and FullNodes full nodes, kvstore, every node knowing only
// the seed's address.
type ChainSpec struct {
	Validators int
	FullNodes  int
	// PEX off is upstream's behaviour: a libp2p node knows only its
	// bootstrap peers, here none.
	PEX bool
	// StaticMesh replaces discovery with upstream's only option: PEX off
	// and every node listing every other in [p2p.libp2p] bootstrap_peers.
	StaticMesh bool
	// Period is the ensure-peers period of the PEX reactor.
	Period time.Duration
	// TargetHeight every node must reach.
	TargetHeight int64
	MaxOutbound  int
	// Duration bounds the run.
	Duration time.Duration
	// CostWindow, after both criteria are met, keeps the chain running
	// and measures each process's CPU over it: the steady-state cost.
	CostWindow time.Duration
	// Binary is the pexp2p executable started for each node.
	Binary string
	// Dir holds the homes; "" makes a temporary one, removed afterwards.
	Dir string
	// FirstIP offsets the loopback addresses (LoopbackIP), so that two
	// chains of one run do not share a port.
	FirstIP int
	// Log, when set, receives what the runner does (not node logs: those
	// are in each home's node.log).
	Log io.Writer
}

// ChainSpecError names a setting that cannot run.
type ChainSpecError struct {
	Field string
	Value any
	Why   string
}

func (e *ChainSpecError) Error() string {
	return fmt.Sprintf("testnet: chain setting %s = %v: %s", e.Field, e.Value, e.Why)
}

func (e *ChainSpecError) Unwrap() error { return ErrSpec }

// MaxChainNodes bounds a chain: each node is a full CometBFT process.
const MaxChainNodes = 60

// Validate reports the first setting that cannot run.
func (s ChainSpec) Validate() error {
	switch {
	case s.Validators < 1:
		return &ChainSpecError{"validators", s.Validators, "a chain needs at least one validator"}
	case s.FullNodes < 0:
		return &ChainSpecError{"full-nodes", s.FullNodes, "must not be negative"}
	case s.Validators+s.FullNodes+1 > MaxChainNodes:
		return &ChainSpecError{"validators+full-nodes", s.Validators + s.FullNodes, fmt.Sprintf("at most %d nodes with the seed", MaxChainNodes)}
	case s.Period <= 0:
		return &ChainSpecError{"period", s.Period, "must be positive"}
	case s.TargetHeight < 1:
		return &ChainSpecError{"height", s.TargetHeight, "must be at least 1"}
	case s.MaxOutbound < 1:
		return &ChainSpecError{"max-outbound", s.MaxOutbound, "must be at least 1"}
	case s.Duration <= 0:
		return &ChainSpecError{"duration", s.Duration, "must be positive"}
	case s.Binary == "":
		return &ChainSpecError{"binary", s.Binary, "the pexp2p executable is needed to start nodes"}
	}
	return nil
}

// PeerTarget is the switch peers every node must reach.
func (s ChainSpec) PeerTarget() int { return min(s.MaxOutbound, s.Validators+s.FullNodes-1) }

// ChainNode is one node's state at the end of a run.
type ChainNode struct {
	Name   string `json:"name"`
	Role   string `json:"role"` // seed, validator, full
	IP     string `json:"ip"`
	PeerID string `json:"peer_id"`
	Height int64  `json:"height"`
	// Peers are the CometBFT switch's peers (/net_info).
	Peers int `json:"peers"`
	// Book is the size of pexp2p's address book (its metrics).
	Book int `json:"book"`
	// CPUSeconds and PeakRSSMiB are the process's from its start until
	// both criteria were met (or the end of a run that did not meet
	// them).
	CPUSeconds float64 `json:"cpu_seconds"`
	PeakRSSMiB float64 `json:"peak_rss_mib"`
	// WindowCPUPercent is the process's CPU over the cost window, in
	// percent of one core; WindowRSSMiB its resident set at the window's
	// end. Zero without a window.
	WindowCPUPercent float64 `json:"window_cpu_percent,omitempty"`
	WindowRSSMiB     float64 `json:"window_rss_mib,omitempty"`
	// Goroutines and Streams are the process's goroutines and its host's
	// open libp2p streams at the last sample; the ...AtConverged values
	// at the moment both criteria were met. Their growth over a long
	// cost window is the leak check.
	Goroutines            int `json:"goroutines"`
	Streams               int `json:"streams"`
	GoroutinesAtConverged int `json:"goroutines_at_converged"`
	// HeightAtConverged is the height when both criteria were met: the
	// blocks made over the cost window are Height − HeightAtConverged,
	// which normalises its CPU (a chain that commits faster works more).
	HeightAtConverged  int64 `json:"height_at_converged"`
	StreamsAtConverged int   `json:"streams_at_converged"`
	// Up says the node answered its RPC at the last sample.
	Up bool `json:"up"`
}

// ChainResult is one chain run.
type ChainResult struct {
	Mode            string      `json:"mode"` // pexp2p, no-pex, static-mesh
	Validators      int         `json:"validators"`
	FullNodes       int         `json:"full_nodes"`
	PeerTarget      int         `json:"peer_target"`
	TargetHeight    int64       `json:"target_height"`
	Peered          bool        `json:"peered"`
	AtHeight        bool        `json:"at_height"`
	SecondsToPeered float64     `json:"seconds_to_peered"`
	SecondsToHeight float64     `json:"seconds_to_height"`
	WallSeconds     float64     `json:"wall_seconds"`
	CostWindow      float64     `json:"cost_window_seconds,omitempty"`
	Nodes           []ChainNode `json:"nodes"`
}

// ChainProgress hears every sample.
type ChainProgress func(elapsed time.Duration, nodes []ChainNode)

type chainProc struct {
	ChainNode
	home string
	cmd  *exec.Cmd
	done chan struct{}
	peak int64
}

// RunChain lays out the chain, starts every node, samples them until every
// non-seed node has PeerTarget switch peers and TargetHeight blocks (then
// runs the cost window, if any) or Duration passes or ctx ends, and stops
// them. Every process is killed before it returns, whatever happened.
func RunChain(ctx context.Context, spec ChainSpec, progress ChainProgress) (ChainResult, error) {
	res := ChainResult{Mode: spec.mode(), Validators: spec.Validators, FullNodes: spec.FullNodes,
		PeerTarget: spec.PeerTarget(), TargetHeight: spec.TargetHeight}
	if err := spec.Validate(); err != nil {
		return res, err
	}
	dir := spec.Dir
	if dir == "" {
		d, err := os.MkdirTemp("", "pexp2p-chain-")
		if err != nil {
			return res, err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	procs, err := layoutChain(dir, spec)
	if err != nil {
		return res, err
	}
	defer stopChain(procs)
	start := time.Now()
	for _, p := range procs {
		if err := p.start(spec); err != nil {
			return res, err
		}
	}
	spec.logf("started %d nodes in %s", len(procs), dir)
	client := &http.Client{Timeout: time.Second}
	tick := time.NewTicker(sampleEvery)
	defer tick.Stop()
	deadline := time.NewTimer(spec.Duration)
	defer deadline.Stop()
	var windowEnd <-chan time.Time
	var windowStart time.Time
	var windowBase []Usage
	for {
		select {
		case <-ctx.Done():
			res.finish(procs, start)
			return res, ctx.Err()
		case <-deadline.C:
			res.finish(procs, start)
			return res, nil
		case <-windowEnd:
			res.CostWindow = time.Since(windowStart).Seconds()
			for i, p := range procs {
				u, _ := ProcessUsage(p.cmd.Process.Pid)
				p.WindowCPUPercent = 100 * (u.CPUSeconds - windowBase[i].CPUSeconds) / res.CostWindow
				p.WindowRSSMiB = float64(u.RSSBytes) / (1 << 20)
			}
			res.finish(procs, start)
			return res, nil
		case <-tick.C:
		}
		sampleChain(client, procs)
		elapsed := time.Since(start)
		if progress != nil {
			progress(elapsed, snapshot(procs))
		}
		if !res.Peered && chainPeered(procs, res.PeerTarget) {
			res.Peered, res.SecondsToPeered = true, elapsed.Seconds()
		}
		if !res.AtHeight && chainAtHeight(procs, spec.TargetHeight) {
			res.AtHeight, res.SecondsToHeight = true, elapsed.Seconds()
		}
		if res.Peered && res.AtHeight && windowEnd == nil {
			for _, p := range procs {
				u, _ := ProcessUsage(p.cmd.Process.Pid)
				p.CPUSeconds = u.CPUSeconds
				p.PeakRSSMiB = float64(p.peak) / (1 << 20)
				p.GoroutinesAtConverged, p.StreamsAtConverged = p.Goroutines, p.Streams
				p.HeightAtConverged = p.Height
			}
			if spec.CostWindow <= 0 {
				res.finish(procs, start)
				return res, nil
			}
			windowStart = time.Now()
			windowBase = make([]Usage, len(procs))
			for i, p := range procs {
				windowBase[i], _ = ProcessUsage(p.cmd.Process.Pid)
			}
			windowEnd = time.After(spec.CostWindow)
			// Sampling (RPC and a metrics scrape of every node) is work
			// the nodes do for the runner; over the window it is kept to
			// what the leak check needs.
			tick.Reset(windowSampleEvery)
			spec.logf("converged at %.1fs; measuring cost over %s", elapsed.Seconds(), spec.CostWindow)
		}
	}
}

func (s ChainSpec) mode() string {
	switch {
	case s.StaticMesh:
		return "static-mesh"
	case !s.PEX:
		return "no-pex"
	}
	return "pexp2p"
}

func (s ChainSpec) logf(format string, args ...any) {
	if s.Log != nil {
		fmt.Fprintf(s.Log, format+"\n", args...)
	}
}

func (r *ChainResult) finish(procs []*chainProc, start time.Time) {
	r.WallSeconds = time.Since(start).Seconds()
	r.Nodes = nil
	for _, p := range procs {
		if p.CPUSeconds == 0 && p.cmd != nil && p.cmd.Process != nil {
			u, _ := ProcessUsage(p.cmd.Process.Pid)
			p.CPUSeconds = u.CPUSeconds
			p.PeakRSSMiB = float64(p.peak) / (1 << 20)
		}
		r.Nodes = append(r.Nodes, p.ChainNode)
	}
}

func snapshot(procs []*chainProc) []ChainNode {
	out := make([]ChainNode, len(procs))
	for i, p := range procs {
		out[i] = p.ChainNode
	}
	return out
}

func chainPeered(procs []*chainProc, target int) bool {
	for _, p := range procs {
		if p.Role != "seed" && p.Peers < target {
			return false
		}
	}
	return true
}

func chainAtHeight(procs []*chainProc, h int64) bool {
	for _, p := range procs {
		if p.Role != "seed" && p.Height < h {
			return false
		}
	}
	return true
}

// Sampling intervals: fine until convergence, to time it; coarse over
// the cost window, so that serving the runner costs the nodes little.
const (
	sampleEvery       = 250 * time.Millisecond
	windowSampleEvery = 5 * time.Second
)
