package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
	"golang.org/x/term"

	"github.com/pexp2p/pexp2p/pexnode"
	"github.com/pexp2p/pexp2p/testnet"
)

func newTestnetCmd() *cobra.Command {
	spec := testnet.DefaultSpec()
	var (
		asJSON bool
		plot   string
		chain  chainFlags
	)
	cmd := &cobra.Command{
		Use:   "testnet",
		Short: "Run N nodes on loopback in this process and show PEX discovery converging",
		Long: `Start N real pexp2p nodes (libp2p hosts on 127.x.y.1, ephemeral ports) in
this process; the first --seeds of them are the others' seeds. Discovery
is shown live; the run ends as soon as every node is connected to
min(max-outbound, N-1) peers and every book holds 90 % of the other nodes,
or after --duration. The table reports rounds (periods) and wall time to
each criterion, PEX messages and bytes sent, and CPU and memory per node
(process totals divided by N: the nodes share one process).`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			if chain.on {
				return runChainDemo(cmd, &chain, asJSON)
			}
			if err := spec.Validate(); err != nil {
				return specUsage(err)
			}
			out := cmd.OutOrStdout()
			live := !asJSON && isTerminal(out)
			if !asJSON {
				mode := "regular nodes"
				if spec.SeedMode {
					mode = "seed mode"
				}
				c := spec.Criteria()
				fmt.Fprintf(out, "pexp2p testnet: %d nodes on loopback over %s, %d seed(s) (%s), period %v, max outbound %d\n",
					spec.Nodes, spec.Transport, spec.Seeds, mode, spec.Period, spec.MaxOutbound)
				fmt.Fprintf(out, "converged when every node has ≥ %d peers and every book holds ≥ %d of the %d other nodes\n\n",
					c.PeerTarget, c.BookTarget, spec.Nodes-1)
			}
			var report testnet.Reporter
			if !asJSON {
				report = progressReporter(out, spec, live)
			}
			results, err := testnet.Run(cmd.Context(), spec, spec.Clusters(testnetLogging()), report)
			if err != nil {
				return specUsage(err)
			}
			if plot != "" {
				if err := os.WriteFile(plot, testnet.SVG(spec, results), 0o644); err != nil {
					return usage("flag --plot", plot, err)
				}
			}
			if asJSON {
				return writeIndentedJSON(out, map[string]any{"spec": spec.JSONView(), "results": results})
			}
			if err := testnet.WriteTable(out, spec, results); err != nil {
				return err
			}
			if plot != "" {
				fmt.Fprintf(out, "\nplot written to %s\n", plot)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVar(&spec.Nodes, "nodes", spec.Nodes, "number of nodes")
	f.IntVar(&spec.Seeds, "seeds", spec.Seeds, "how many of the nodes are the others' seeds")
	f.BoolVar(&spec.SeedMode, "seed-mode", spec.SeedMode, "run the seeds in seed mode (crawl, answer once, hang up); --seed-mode=false makes them regular nodes")
	f.DurationVar(&spec.Period, "period", spec.Period, "ensure-peers period of every node (one round)")
	f.StringVar(&spec.Transport, "transport", spec.Transport, "quic or tcp")
	f.IntVar(&spec.MaxOutbound, "max-outbound", spec.MaxOutbound, "max_num_outbound_peers of every node")
	f.IntVar(&spec.MaxInbound, "max-inbound", spec.MaxInbound, "max_num_inbound_peers of every node")
	f.DurationVar(&spec.Duration, "duration", spec.Duration, "give up after this long")
	f.StringVar(&spec.ChainID, "chain-id", spec.ChainID, "chain ID of the testnet")
	f.BoolVar(&asJSON, "json", false, "print the results (with the timeline) as JSON")
	f.BoolVar(&spec.CompareClassic, "compare-classic", false, "also run the same topology on upstream CometBFT's classic stack (p2p.Switch + its pex.Reactor) and print both rows and their ratio")
	f.BoolVar(&spec.CompareDHT, "compare-dht", false, "also run the same N libp2p hosts (same transport, addresses and resource manager) with go-libp2p-kad-dht in server mode, the seed as their only bootstrap peer, and print its row and ratio")
	f.StringVar(&plot, "plot", "", "write an SVG of the fraction of converged nodes over time to this file")
	f.BoolVar(&spec.RunFull, "run-full", false, "run every stack for the whole --duration even after it converged, so whole-run CPU, memory and traffic compare over equal windows")
	f.StringVar(&spec.MemProfile, "memprofile", "", "write each stack's heap profile to `PREFIX`-<stack>.pprof when it converges (or at the end of its run), before its nodes stop")
	f.StringVar(&spec.CPUProfile, "cpuprofile", "", "write each stack's CPU profile, from its start until it converges (or its run ends), to `PREFIX`-<stack>.cpu.pprof")
	addChainFlags(f, &chain)
	return cmd
}

// specUsage reports a bad testnet setting as the flag that set it, so it
// exits with the usage status like every other bad flag.
func specUsage(err error) error {
	var se *testnet.SpecError
	if errors.As(err, &se) {
		return usage("flag --"+se.Field, se.Value, se.Err)
	}
	return err
}

// testnetLogging routes the testnet nodes' books and build warnings into
// go-log, as a started node's are, so GOLOG_LOG_LEVEL governs them too.
func testnetLogging() testnet.Libp2pHooks {
	books, p2p := slogFor("addrbook"), slogFor("p2p")
	return testnet.Libp2pHooks{Options: func(_ int, o *pexnode.Options) {
		o.Book.Logger, o.Logger = books, p2p
	}}
}

// isTerminal is true for a terminal with a known width: progress bars
// need both (a pseudo-terminal without a size renders nothing).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return false
	}
	width, _, err := term.GetSize(int(f.Fd()))
	return err == nil && width > 0
}

// progressReporter shows discovery live: two mpb bars (nodes at the peer
// target, nodes at the book target) on a terminal, or else one line per
// round.
func progressReporter(out io.Writer, spec testnet.Spec, live bool) testnet.Reporter {
	c := spec.Criteria()
	return func(stack string) (testnet.Progress, func()) {
		name := testnet.ShortName(stack)
		if !live {
			lastRound := -1
			return func(el time.Duration, wp, wb, m int) {
				r := testnet.Rounds(el, spec.Period)
				if r == lastRound {
					return
				}
				lastRound = r
				fmt.Fprintf(out, "%s round %2d  t=%6.2fs  peers ok %3d/%d  books ok %3d/%d\n", name, r, el.Seconds(), wp, m, wb, m)
			}, func() {}
		}
		p := mpb.New(mpb.WithOutput(out), mpb.WithWidth(40), mpb.WithRefreshRate(100*time.Millisecond))
		var mu sync.Mutex
		var round int
		total := int64(spec.Measured())
		bar := func(label string) *mpb.Bar {
			return p.New(total, mpb.BarStyle(),
				mpb.PrependDecorators(decor.Name(fmt.Sprintf("%-28s", label))),
				mpb.AppendDecorators(
					decor.CountersNoUnit("%d/%d nodes"),
					decor.Any(func(decor.Statistics) string { mu.Lock(); defer mu.Unlock(); return fmt.Sprintf("  round %d", round) }),
				))
		}
		bp := bar(fmt.Sprintf("%s peers ≥ %d", name, c.PeerTarget))
		bb := bar(fmt.Sprintf("%s books ≥ %d", name, c.BookTarget))
		return func(el time.Duration, wp, wb, m int) {
				mu.Lock()
				round = testnet.Rounds(el, spec.Period)
				mu.Unlock()
				bp.SetTotal(int64(m), false)
				bb.SetTotal(int64(m), false)
				bp.SetCurrent(int64(wp))
				bb.SetCurrent(int64(wb))
			}, func() {
				// Complete (or abort) the bars so Wait returns.
				for _, b := range []*mpb.Bar{bp, bb} {
					if !b.Completed() {
						b.Abort(false)
					}
				}
				p.Wait()
			}
	}
}
