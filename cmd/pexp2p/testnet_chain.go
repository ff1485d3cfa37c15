package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/pexp2p/pexp2p/testnet"
)

// chainFlags are `pexp2p testnet --cometbft`'s own settings.
type chainFlags struct {
	on            bool
	spec          testnet.ChainSpec
	compareStatic bool
	keep          bool
}

func addChainFlags(f *pflag.FlagSet, c *chainFlags) {
	c.spec = testnet.ChainSpec{Validators: 4, FullNodes: 4, PEX: true, Period: time.Second, TargetHeight: 10, MaxOutbound: 10, Duration: 120 * time.Second}
	f.BoolVar(&c.on, "cometbft", false, "run a CometBFT v0.40 chain instead: a seed, --validators and --full-nodes, each an OS process of `pexp2p cometbft start` over libp2p, knowing only the seed")
	f.IntVar(&c.spec.Validators, "validators", c.spec.Validators, "with --cometbft: validators")
	f.IntVar(&c.spec.FullNodes, "full-nodes", c.spec.FullNodes, "with --cometbft: full nodes")
	f.Int64Var(&c.spec.TargetHeight, "height", c.spec.TargetHeight, "with --cometbft: the height every node must reach")
	f.BoolVar(&c.spec.PEX, "pex", c.spec.PEX, "with --cometbft: --pex=false is the control, upstream's behaviour (no discovery on libp2p)")
	f.BoolVar(&c.compareStatic, "compare-static", false, "with --cometbft: run, at the same time, the same chain with PEX off and a full-mesh [p2p.libp2p] bootstrap_peers list (upstream's only option), and compare the cost per node")
	f.DurationVar(&c.spec.CostWindow, "cost-window", 0, "with --cometbft: after convergence keep running this long and report each process's CPU and RSS over it")
	f.BoolVar(&c.keep, "keep", false, "with --cometbft: keep the nodes' homes (and their node.log) and print where")
}

func runChainDemo(cmd *cobra.Command, c *chainFlags, asJSON bool) error {
	out := cmd.OutOrStdout()
	spec := c.spec
	f := cmd.Flags()
	if f.Changed("duration") {
		spec.Duration, _ = f.GetDuration("duration")
	}
	if f.Changed("period") {
		spec.Period, _ = f.GetDuration("period")
	}
	if f.Changed("max-outbound") {
		spec.MaxOutbound, _ = f.GetInt("max-outbound")
	}
	bin, err := os.Executable()
	if err != nil {
		return fmt.Errorf("testnet: finding the pexp2p executable: %w", err)
	}
	spec.Binary = bin
	if err := spec.Validate(); err != nil {
		var se *testnet.ChainSpecError
		if errors.As(err, &se) {
			return usage("flag --"+se.Field, fmt.Sprint(se.Value), errors.New(se.Why))
		}
		return err
	}
	if c.keep {
		dir, err := os.MkdirTemp("", "pexp2p-chain-")
		if err != nil {
			return err
		}
		spec.Dir = dir
	}
	specs := []testnet.ChainSpec{spec}
	if c.compareStatic {
		static := spec
		static.StaticMesh = true
		static.FirstIP = spec.Validators + spec.FullNodes + 1
		if static.Dir != "" {
			static.Dir += "-static"
		}
		specs = append(specs, static)
	}
	// With --compare-static both chains run at once, so that whatever
	// else the machine does weighs on both alike; their cost windows
	// overlap as far as their convergence times allow.
	results := make([]testnet.ChainResult, len(specs))
	errs := make([]error, len(specs))
	var wg sync.WaitGroup
	var outMu sync.Mutex
	for i, s := range specs {
		if !asJSON {
			fmt.Fprintf(out, "pexp2p testnet --cometbft (%s): a seed, %d validators and %d full nodes, each its own process; period %v; done at %d switch peers each and height %d, or after %v\n",
				modeName(s), s.Validators, s.FullNodes, s.Period, s.PeerTarget(), s.TargetHeight, s.Duration)
		}
		var progress testnet.ChainProgress
		if !asJSON {
			prefix := ""
			if len(specs) > 1 {
				prefix = testnetModeTag(s) + " "
			}
			progress = chainProgressPrinter(&lockedWriter{w: out, mu: &outMu}, prefix)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = testnet.RunChain(cmd.Context(), s, progress)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if c.keep && !asJSON {
		for _, s := range specs {
			fmt.Fprintf(out, "homes kept in %s\n", dirOr(s.Dir))
		}
	}
	if asJSON {
		if len(results) == 1 {
			return writeIndentedJSON(out, results[0])
		}
		return writeIndentedJSON(out, map[string]any{"nodes": results[0].Nodes, "seconds_to_peered": results[0].SecondsToPeered,
			"seconds_to_height": results[0].SecondsToHeight, "runs": results})
	}
	for _, r := range results {
		writeChainTable(out, r)
	}
	if len(results) == 2 {
		writeChainCost(out, results[0], results[1])
	}
	return nil
}

func dirOr(d string) string {
	if d == "" {
		return "(temporary, removed)"
	}
	return d
}

func modeName(s testnet.ChainSpec) string {
	switch {
	case s.StaticMesh:
		return "static full mesh, PEX off"
	case !s.PEX:
		return "PEX off: upstream's behaviour"
	}
	return "pexp2p discovery"
}

// chainProgressPrinter prints one line a second: every node's switch
// peers and height.
func chainProgressPrinter(out io.Writer, prefix string) testnet.ChainProgress {
	last := -1
	return func(el time.Duration, nodes []testnet.ChainNode) {
		s := int(el / time.Second)
		if s == last {
			return
		}
		last = s
		var b strings.Builder
		fmt.Fprintf(&b, "%s%4ds ", prefix, s)
		for _, n := range nodes {
			if n.Role == "seed" {
				continue
			}
			fmt.Fprintf(&b, " %s %dp h%d", short(n.Name), n.Peers, n.Height)
		}
		fmt.Fprintln(out, b.String())
	}
}

func testnetModeTag(s testnet.ChainSpec) string {
	if s.StaticMesh {
		return "static"
	}
	return "pexp2p"
}

// lockedWriter lets the progress of two chains share one output.
type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func short(name string) string {
	name = strings.Replace(name, "validator", "v", 1)
	return strings.Replace(name, "full", "f", 1)
}

func writeChainTable(out io.Writer, r testnet.ChainResult) {
	fmt.Fprintf(out, "\n%s: ", r.Mode)
	if r.Peered {
		fmt.Fprintf(out, "every node peered (%d switch peers) after %.1f s; ", r.PeerTarget, r.SecondsToPeered)
	} else {
		fmt.Fprintf(out, "NOT every node peered within %.0f s; ", r.WallSeconds)
	}
	if r.AtHeight {
		fmt.Fprintf(out, "every node at height %d after %.1f s\n", r.TargetHeight, r.SecondsToHeight)
	} else {
		fmt.Fprintf(out, "NOT every node at height %d\n", r.TargetHeight)
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	window := r.CostWindow > 0
	head := "node\trole\tip\theight\tswitch peers\tbook\tCPU-s\tpeak RSS MiB\t"
	if window {
		head += "CPU %\tRSS MiB\tgoroutines\tstreams\t"
	}
	fmt.Fprintln(tw, head)
	for _, n := range r.Nodes {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%.2f\t%.0f\t", n.Name, n.Role, n.IP, n.Height, n.Peers, n.Book, n.CPUSeconds, n.PeakRSSMiB)
		if window {
			fmt.Fprintf(tw, "%.2f\t%.1f\t%d→%d\t%d→%d\t", n.WindowCPUPercent, n.WindowRSSMiB, n.GoroutinesAtConverged, n.Goroutines, n.StreamsAtConverged, n.Streams)
		}
		fmt.Fprintln(tw)
	}
	_ = tw.Flush()
	if window {
		fmt.Fprintf(out, "CPU %% and RSS over the %.0f s cost window after convergence; goroutines and open libp2p streams at convergence → at its end\n", r.CostWindow)
	}
}

// writeChainCost compares the steady-state cost per node of discovery
// against the static mesh, over each run's cost window: CPU in percent of
// a core and per block committed in the window (the two chains need not
// commit at the same rate), and resident memory at the window's end.
func writeChainCost(out io.Writer, pexRun, static testnet.ChainResult) {
	type cost struct{ cpu, perBlock, rss float64 }
	avg := func(r testnet.ChainResult) cost {
		var c cost
		n := 0
		for _, x := range r.Nodes {
			if x.Role == "seed" {
				continue
			}
			c.cpu += x.WindowCPUPercent
			c.rss += x.WindowRSSMiB
			if blocks := x.Height - x.HeightAtConverged; blocks > 0 {
				c.perBlock += 1000 * x.WindowCPUPercent / 100 * r.CostWindow / float64(blocks)
			}
			n++
		}
		if n > 0 {
			c.cpu, c.perBlock, c.rss = c.cpu/float64(n), c.perBlock/float64(n), c.rss/float64(n)
		}
		return c
	}
	p, s := avg(pexRun), avg(static)
	fmt.Fprintf(out, "\nsteady state per node (cost window %.0f s / %.0f s, seed excluded):\n", pexRun.CostWindow, static.CostWindow)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "\tpexp2p discovery\tstatic mesh\tratio\t")
	fmt.Fprintf(tw, "CPU %% of a core\t%.2f\t%.2f\t%s\t\n", p.cpu, s.cpu, ratio(p.cpu, s.cpu))
	fmt.Fprintf(tw, "CPU ms per block\t%.1f\t%.1f\t%s\t\n", p.perBlock, s.perBlock, ratio(p.perBlock, s.perBlock))
	fmt.Fprintf(tw, "RSS MiB\t%.1f\t%.1f\t%s\t\n", p.rss, s.rss, ratio(p.rss, s.rss))
	_ = tw.Flush()
}

func ratio(a, b float64) string {
	if b == 0 {
		return "–"
	}
	return fmt.Sprintf("%.3f", a/b)
}
