package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"runtime/pprof"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/mattn/go-isatty"
	ma "github.com/multiformats/go-multiaddr"
	"github.com/spf13/cobra"
	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
	"golang.org/x/sys/unix"

	"github.com/pexp2p/pexp2p/interop/discovery"
	"github.com/pexp2p/pexp2p/pex"
	"github.com/pexp2p/pexp2p/transport"
)

// TestnetSpec is one testnet run.
type TestnetSpec struct {
	Nodes       int
	Seeds       int
	SeedMode    bool
	Period      time.Duration
	Transport   string // "quic" or "tcp"
	MaxOutbound int
	MaxInbound  int
	Duration    time.Duration
	ChainID     string
	// CompareClassic also runs the same topology on upstream's classic
	// stack (issue 7 item 4) after the libp2p run.
	CompareClassic bool
	// RunFull runs every stack for the whole Duration, converged or not,
	// so that whole-run CPU, memory and traffic cover the same window.
	RunFull bool
	// MemProfile, when set, is a path prefix: each stack's heap profile
	// is written to <prefix>-<stack>.pprof when it converges (or at the
	// end of its run), while its nodes still hold their state.
	MemProfile string
}

func (s *TestnetSpec) validate() error {
	switch {
	case s.Nodes < 2:
		return usage("flag --nodes", fmt.Sprint(s.Nodes), errors.New("need at least 2 nodes"))
	case s.Nodes > 1000:
		return usage("flag --nodes", fmt.Sprint(s.Nodes), errors.New("at most 1000 nodes in one process"))
	case s.Seeds < 1 || s.Seeds >= s.Nodes:
		return usage("flag --seeds", fmt.Sprint(s.Seeds), fmt.Errorf("need 1..%d seeds", s.Nodes-1))
	case s.Period <= 0:
		return usage("flag --period", s.Period.String(), errors.New("must be positive"))
	case s.Duration <= 0:
		return usage("flag --duration", s.Duration.String(), errors.New("must be positive"))
	case s.MaxOutbound < 1:
		return usage("flag --max-outbound", fmt.Sprint(s.MaxOutbound), errors.New("must be positive"))
	case s.Transport != "quic" && s.Transport != "tcp":
		return usage("flag --transport", s.Transport, errors.New("want quic or tcp"))
	case s.CompareClassic && s.Seeds != 1:
		return usage("flag --seeds", fmt.Sprint(s.Seeds), errors.New("--compare-classic runs the one-seed topology only"))
	case s.CompareClassic && s.Nodes > 250:
		return usage("flag --nodes", fmt.Sprint(s.Nodes), errors.New("--compare-classic supports at most 250 nodes (one /16 per classic node)"))
	}
	return nil
}

// measureSpec derives the convergence criteria from the issue's
// definition: every node connected to ≥ min(max_outbound, N−1) peers, and
// every book holding ≥ 90 % of the other nodes. Seed-mode seeds hang up
// on purpose, so they are not counted among the peers a node can keep.
func (s *TestnetSpec) measureSpec() MeasureSpec {
	keepable := s.Nodes - 1
	if s.SeedMode {
		keepable -= s.Seeds
	}
	return MeasureSpec{
		Nodes:      s.Nodes,
		Period:     s.Period,
		PeerTarget: max(1, min(s.MaxOutbound, keepable)),
		BookTarget: int(math.Ceil(0.9 * float64(s.Nodes-1))),
		Duration:   s.Duration,
		RunFull:    s.RunFull,
	}
}

// loopbackIP gives node i its own 127.x.y.1 address: distinct /16 groups
// for the books (non-strict), and distinct IPs for the per-IP limits.
func loopbackIP(i int) string {
	return fmt.Sprintf("127.%d.%d.1", 1+i%250, i/250)
}

// libp2pCluster is N pexp2p nodes on real libp2p hosts in this process.
type libp2pCluster struct {
	spec  TestnetSpec
	obs   *countObserver
	nodes []*p2pNode
	ids   []string
	seedM []bool // seed-mode nodes, excluded from the measurement
}

func newLibp2pCluster(spec TestnetSpec) *libp2pCluster {
	return &libp2pCluster{spec: spec, obs: &countObserver{}}
}

func (c *libp2pCluster) Name() string { return "pexp2p/libp2p-" + c.spec.Transport }

func (c *libp2pCluster) nodeConfig(i int, seeds string) (Config, []ma.Multiaddr, error) {
	cfg := DefaultConfig()
	cfg.ChainID = c.spec.ChainID
	cfg.Moniker = fmt.Sprintf("node%d", i)
	cfg.P2P.AddrBookStrict = false
	cfg.P2P.MaxNumOutboundPeers = c.spec.MaxOutbound
	cfg.P2P.MaxNumInboundPeers = c.spec.MaxInbound
	cfg.P2P.EnsurePeersPeriod = Duration(c.spec.Period)
	cfg.P2P.CrawlPeerPeriod = Duration(c.spec.Period)
	cfg.P2P.Seeds = seeds
	cfg.P2P.SeedMode = c.spec.SeedMode && i < c.spec.Seeds
	ip := loopbackIP(i)
	l := "/ip4/" + ip + "/udp/0/quic-v1"
	if c.spec.Transport == "tcp" {
		l = "/ip4/" + ip + "/tcp/0"
	}
	m, err := ma.NewMultiaddr(l)
	return cfg, []ma.Multiaddr{m}, err
}

func (c *libp2pCluster) add(i int, seeds string) (*p2pNode, error) {
	cfg, listen, err := c.nodeConfig(i, seeds)
	if err != nil {
		return nil, err
	}
	key, err := transport.GenNodeKey(nil)
	if err != nil {
		return nil, err
	}
	period := c.spec.Period
	n, err := newP2PNode(nodeOptions{
		cfg: cfg, key: key, listen: listen,
		observers: []pex.Observer{c.obs},
		pexOverride: func(pc *pex.Config) {
			// Scaled with the period so a short demo period does not
			// leave backoffs and crawl spacing at upstream's 30 s scale.
			pc.MinTimeBetweenCrawls = 4 * period
			pc.OverLimitGrace = period
		},
	})
	if err != nil {
		return nil, err
	}
	return n, nil
}

// Start starts the seeds first (their listen ports are ephemeral and must
// be known), then every other node at once.
func (c *libp2pCluster) Start(ctx context.Context) error {
	N, K := c.spec.Nodes, c.spec.Seeds
	c.nodes = make([]*p2pNode, N)
	c.ids = make([]string, N)
	c.seedM = make([]bool, N)
	var seedAddrs []string
	for i := 0; i < K; i++ {
		n, err := c.startNode(i, "", nil)
		if err != nil {
			return err
		}
		c.nodes[i] = n
		c.ids[i] = n.Key.PeerID().String()
		c.seedM[i] = c.spec.SeedMode
		as := n.Transport.OurNetAddresses()
		if len(as) == 0 {
			return fmt.Errorf("seed %d has no address", i)
		}
		seedAddrs = append(seedAddrs, as[0].String())
	}
	seeds := strings.Join(seedAddrs, ",")
	errs := make([]error, N)
	var wg sync.WaitGroup
	for i := K; i < N; i++ {
		n, err := c.add(i, seeds)
		if err != nil {
			return err
		}
		c.nodes[i] = n
		c.ids[i] = n.Key.PeerID().String()
	}
	for i := K; i < N; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			if err := ctx.Err(); err != nil {
				errs[i] = err
				return
			}
			n, err := c.startNode(i, seeds, c.nodes[i])
			if err == nil {
				c.nodes[i], c.ids[i] = n, n.Key.PeerID().String()
			}
			errs[i] = err
		}(i)
	}
	wg.Wait()
	var first error
	for i, err := range errs {
		if err != nil {
			c.nodes[i] = nil // never started: Stop must skip it
			if first == nil {
				first = fmt.Errorf("node %d: %w", i, err)
			}
		}
	}
	return first
}

// startNode starts first (built beforehand) or a new node i. An ephemeral
// listen port can be taken by another process between the moment the
// transport picks it (one port shared by QUIC and TCP) and the bind; that
// says nothing about discovery, so the node is rebuilt on a new port, up
// to three times.
func (c *libp2pCluster) startNode(i int, seeds string, first *p2pNode) (*p2pNode, error) {
	n := first
	var err error
	for try := 0; try < 3; try++ {
		if n == nil {
			if n, err = c.add(i, seeds); err != nil {
				return nil, err
			}
		}
		if err = n.Start(); err == nil || !strings.Contains(err.Error(), "address already in use") {
			return n, err
		}
		n = nil
	}
	return nil, err
}

func (c *libp2pCluster) Sample() []NodeSample {
	out := make([]NodeSample, 0, len(c.nodes))
	for i, n := range c.nodes {
		if n == nil || c.seedM[i] {
			continue
		}
		s := NodeSample{Peers: len(n.Transport.Peers())}
		for j, id := range c.ids {
			if j != i && n.Book.HasAddress(id) {
				s.Known++
			}
		}
		out = append(out, s)
	}
	return out
}

func (c *libp2pCluster) Traffic() Traffic {
	t := Traffic{Misbehavior: c.obs.misbehavior.Load(), Bans: c.obs.bans.Load(), Reasons: c.obs.reasonCounts()}
	for _, n := range c.nodes {
		if n != nil {
			msgs, bytes := n.Traffic.Sent()
			t.Msgs += msgs
			t.Bytes += bytes
		}
	}
	return t
}

func (c *libp2pCluster) Stop() error {
	errs := make([]error, len(c.nodes))
	var wg sync.WaitGroup
	for i, n := range c.nodes {
		if n == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = n.Stop()
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func newTestnetCmd() *cobra.Command {
	spec := TestnetSpec{}
	var (
		asJSON bool
		plot   string
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
			if err := spec.validate(); err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			ms := spec.measureSpec()
			live := !asJSON && isTerminal(out)
			if !asJSON {
				mode := "regular nodes"
				if spec.SeedMode {
					mode = "seed mode"
				}
				fmt.Fprintf(out, "pexp2p testnet: %d nodes on loopback over %s, %d seed(s) (%s), period %v, max outbound %d\n",
					spec.Nodes, spec.Transport, spec.Seeds, mode, spec.Period, spec.MaxOutbound)
				fmt.Fprintf(out, "converged when every node has ≥ %d peers and every book holds ≥ %d of the %d other nodes\n\n",
					ms.PeerTarget, ms.BookTarget, spec.Nodes-1)
			}
			results, err := runTestnet(cmd.Context(), spec, out, live, !asJSON)
			if err != nil {
				return err
			}
			if plot != "" {
				if err := os.WriteFile(plot, plotSVG(results, spec), 0o644); err != nil {
					return usage("flag --plot", plot, err)
				}
			}
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(map[string]any{"spec": spec.jsonView(), "results": results})
			}
			printTable(out, spec, results)
			if plot != "" {
				fmt.Fprintf(out, "\nplot written to %s\n", plot)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVar(&spec.Nodes, "nodes", 20, "number of nodes")
	f.IntVar(&spec.Seeds, "seeds", 1, "how many of the nodes are the others' seeds")
	f.BoolVar(&spec.SeedMode, "seed-mode", true, "run the seeds in seed mode (crawl, answer once, hang up); --seed-mode=false makes them regular nodes")
	f.DurationVar(&spec.Period, "period", time.Second, "ensure-peers period of every node (one round)")
	f.StringVar(&spec.Transport, "transport", "quic", "quic or tcp")
	f.IntVar(&spec.MaxOutbound, "max-outbound", 10, "max_num_outbound_peers of every node")
	f.IntVar(&spec.MaxInbound, "max-inbound", 40, "max_num_inbound_peers of every node")
	f.DurationVar(&spec.Duration, "duration", 50*time.Second, "give up after this long")
	f.StringVar(&spec.ChainID, "chain-id", "pexp2p-testnet", "chain ID of the testnet")
	f.BoolVar(&asJSON, "json", false, "print the results (with the timeline) as JSON")
	f.BoolVar(&spec.CompareClassic, "compare-classic", false, "also run the same topology on upstream CometBFT's classic stack (p2p.Switch + its pex.Reactor) and print both rows and their ratio")
	f.StringVar(&plot, "plot", "", "write an SVG of the fraction of converged nodes over time to this file")
	f.BoolVar(&spec.RunFull, "run-full", false, "run every stack for the whole --duration even after it converged, so whole-run CPU, memory and traffic compare over equal windows")
	f.StringVar(&spec.MemProfile, "memprofile", "", "write each stack's heap profile to `PREFIX`-<stack>.pprof when it converges (or at the end of its run), before its nodes stop")
	return cmd
}

func (s TestnetSpec) jsonView() map[string]any {
	return map[string]any{
		"nodes": s.Nodes, "seeds": s.Seeds, "seed_mode": s.SeedMode, "period": s.Period.String(),
		"transport": s.Transport, "max_outbound": s.MaxOutbound, "max_inbound": s.MaxInbound,
		"duration": s.Duration.String(), "compare_classic": s.CompareClassic, "run_full": s.RunFull,
	}
}

// isTerminal is true for a terminal with a known width: progress bars
// need both (a pseudo-terminal without a size renders nothing).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok || !(isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd())) {
		return false
	}
	ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ)
	return err == nil && ws.Col > 0
}

// runTestnet measures every stack of the run, one after the other so CPU
// and memory can be attributed to one stack: pexp2p on libp2p, then with
// --compare-classic upstream's classic stack.
func runTestnet(ctx context.Context, spec TestnetSpec, out io.Writer, live, lines bool) ([]StackResult, error) {
	clusters := []Cluster{newLibp2pCluster(spec)}
	if spec.CompareClassic {
		clusters = append(clusters, newClassicCluster(spec))
	}
	var results []StackResult
	ms := spec.measureSpec()
	var profErr error
	if spec.MemProfile != "" {
		// The default rate samples one allocation per 512 KiB, too coarse
		// to tell apart what fifty hosts each hold.
		runtime.MemProfileRate = 16 << 10
		ms.HeapProfile = func(stack string) {
			if err := writeHeapProfile(spec.MemProfile, stack); err != nil && profErr == nil {
				profErr = err
			}
		}
	}
	for _, cl := range clusters {
		progress, done := progressReporter(out, cl.Name(), spec, live, lines)
		res, err := Measure(ctx, cl, ms, progress)
		done()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", cl.Name(), err)
		}
		results = append(results, res)
	}
	if profErr != nil {
		return nil, usage("flag --memprofile", spec.MemProfile, profErr)
	}
	return results, nil
}

// writeHeapProfile writes the live heap (after a GC, so it shows what is
// held rather than garbage) to prefix-<stack>.pprof and the goroutines
// to prefix-<stack>.goroutine.pprof (their stacks are resident memory
// the heap profile does not show), the stack's name made file-safe.
func writeHeapProfile(prefix, stack string) error {
	base := prefix + "-" + strings.NewReplacer("/", "-", " ", "_").Replace(stack)
	runtime.GC()
	for _, p := range []struct{ profile, suffix string }{{"heap", ".pprof"}, {"goroutine", ".goroutine.pprof"}} {
		f, err := os.Create(base + p.suffix)
		if err != nil {
			return err
		}
		if err := pprof.Lookup(p.profile).WriteTo(f, 0); err != nil {
			_ = f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
	}
	// What the resident set is made of: live heap, heap spans in use
	// (live + garbage not yet swept), goroutine stacks, and what the
	// runtime holds from the OS.
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	summary := fmt.Sprintf("goroutines %d\nheap_alloc %d\nheap_inuse %d\nheap_idle %d\nheap_released %d\nstack_inuse %d\nsys %d\nnext_gc %d\nnum_gc %d\nrss %d\n",
		runtime.NumGoroutine(), m.HeapAlloc, m.HeapInuse, m.HeapIdle, m.HeapReleased, m.StackInuse, m.Sys, m.NextGC, m.NumGC, discovery.ReadRSS())
	return os.WriteFile(base+".memstats.txt", []byte(summary), 0o644)
}

// progressReporter shows discovery live: two mpb bars (nodes at the peer
// target, nodes at the book target) on a terminal, or one line per round
// otherwise, or nothing.
func progressReporter(out io.Writer, name string, spec TestnetSpec, live, lines bool) (func(time.Duration, int, int, int), func()) {
	if live {
		p := mpb.New(mpb.WithOutput(out), mpb.WithWidth(40), mpb.WithRefreshRate(100*time.Millisecond))
		var mu sync.Mutex
		var round int
		total := int64(spec.Nodes)
		if spec.SeedMode {
			total -= int64(spec.Seeds)
		}
		mk := func(label string) *mpb.Bar {
			return p.New(total, mpb.BarStyle(),
				mpb.PrependDecorators(decor.Name(fmt.Sprintf("%-28s", label))),
				mpb.AppendDecorators(
					decor.CountersNoUnit("%d/%d nodes"),
					decor.Any(func(decor.Statistics) string { mu.Lock(); defer mu.Unlock(); return fmt.Sprintf("  round %d", round) }),
				))
		}
		ms := spec.measureSpec()
		bp := mk(fmt.Sprintf("%s peers ≥ %d", shortName(name), ms.PeerTarget))
		bb := mk(fmt.Sprintf("%s books ≥ %d", shortName(name), ms.BookTarget))
		return func(el time.Duration, wp, wb, m int) {
				mu.Lock()
				round = durationRounds(el, spec.Period)
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
	if !lines {
		return nil, func() {}
	}
	lastRound := -1
	return func(el time.Duration, wp, wb, m int) {
		r := durationRounds(el, spec.Period)
		if r == lastRound {
			return
		}
		lastRound = r
		fmt.Fprintf(out, "%s round %2d  t=%6.2fs  peers ok %3d/%d  books ok %3d/%d\n", shortName(name), r, el.Seconds(), wp, m, wb, m)
	}, func() {}
}

func shortName(s string) string {
	if i := strings.IndexByte(s, '/'); i >= 0 {
		return s[:i]
	}
	return s
}

func printTable(out io.Writer, spec TestnetSpec, rs []StackResult) {
	ms := spec.measureSpec()
	fmt.Fprintln(out)
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "stack\tnodes\tpeers≥%d rounds\twall\tbooks≥%d rounds\twall\tPEX msgs\tPEX bytes\trun\t\n", ms.PeerTarget, ms.BookTarget)
	for _, r := range rs {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%d\t%s\t%.1fs\t\n",
			r.Stack, r.Nodes, roundsText(r.Peers), wallText(r.Peers), roundsText(r.Books), wallText(r.Books),
			r.Traffic.Msgs, bytesText(r.Traffic.Bytes), r.WallTime)
	}
	if len(rs) == 2 {
		a, b := rs[0], rs[1]
		fmt.Fprintf(tw, "ratio %s/%s\t\t%s\t%s\t%s\t%s\t%s\t%s\t\t\n", shortName(a.Stack), shortName(b.Stack),
			ratioText(a.Peers.Reached && b.Peers.Reached, float64(a.Peers.Rounds), float64(b.Peers.Rounds)),
			ratioText(a.Peers.Reached && b.Peers.Reached, a.Peers.Seconds, b.Peers.Seconds),
			ratioText(a.Books.Reached && b.Books.Reached, float64(a.Books.Rounds), float64(b.Books.Rounds)),
			ratioText(a.Books.Reached && b.Books.Reached, a.Books.Seconds, b.Books.Seconds),
			ratioText(sameWindow(a, b), float64(a.Traffic.Msgs), float64(b.Traffic.Msgs)),
			ratioText(sameWindow(a, b), float64(a.Traffic.Bytes), float64(b.Traffic.Bytes)))
	}
	tw.Flush()
	printCostTable(out, rs)
	for _, r := range rs {
		fmt.Fprintf(out, "%s: final min peers %d (mean %.1f), min book coverage %d/%d, run %.1fs\n",
			r.Stack, r.MinPeers, r.MeanPeers, r.MinKnown, spec.Nodes-1, r.WallTime)
		if r.Traffic.Misbehavior > 0 {
			fmt.Fprintf(out, "%s: %d peers were stopped for PEX misbehaviour (%d bans) during the run, by reason: %s\n", r.Stack, r.Traffic.Misbehavior, r.Traffic.Bans, reasonsText(r.Traffic.Reasons))
		}
		if !r.Peers.Reached || !r.Books.Reached {
			fmt.Fprintf(out, "%s: NOT converged within %v (peers: %.0f%% of nodes, books: %.0f%% of nodes)\n",
				r.Stack, spec.Duration, 100*r.Peers.Final, 100*r.Books.Final)
		}
	}
}

// printCostTable reports CPU and memory per node over two kinds of
// window, because the whole-run figures of two stacks compare only when
// their runs lasted equally long: a stack that converges stops early (its
// CPU covers seconds) while one that never converges runs to --duration.
// The milestone columns charge each stack what it spent until it met the
// criterion, a like-for-like figure whatever the run lengths; the
// whole-run columns are like-for-like only with --run-full (or equal
// runs), and their ratio is printed only then.
func printCostTable(out io.Writer, rs []StackResult) {
	fmt.Fprintln(out)
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "per node (process ÷ N)\tCPU s until peers\tuntil books\twhole run\tpeak RSS MiB until peers\tuntil books\twhole run\trun\t\n")
	for _, r := range rs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%.3f\t%s\t%s\t%.2f\t%.1fs\t\n", r.Stack,
			atText(r.Peers, r.Peers.CPUSecondsPerNode, "%.3f"), atText(r.Books, r.Books.CPUSecondsPerNode, "%.3f"), r.CPUSecondsPerNode,
			atText(r.Peers, r.Peers.PeakRSSMiBPerNode, "%.2f"), atText(r.Books, r.Books.PeakRSSMiBPerNode, "%.2f"), r.RSSMiBPerNode,
			r.WallTime)
	}
	if len(rs) == 2 {
		a, b := rs[0], rs[1]
		bothP, bothB, same := a.Peers.Reached && b.Peers.Reached, a.Books.Reached && b.Books.Reached, sameWindow(a, b)
		fmt.Fprintf(tw, "ratio %s/%s\t%s\t%s\t%s\t%s\t%s\t%s\t\t\n", shortName(a.Stack), shortName(b.Stack),
			ratioText(bothP, a.Peers.CPUSecondsPerNode, b.Peers.CPUSecondsPerNode),
			ratioText(bothB, a.Books.CPUSecondsPerNode, b.Books.CPUSecondsPerNode),
			ratioText(same, a.CPUSecondsPerNode, b.CPUSecondsPerNode),
			ratioText(bothP, a.Peers.PeakRSSMiBPerNode, b.Peers.PeakRSSMiBPerNode),
			ratioText(bothB, a.Books.PeakRSSMiBPerNode, b.Books.PeakRSSMiBPerNode),
			ratioText(same, a.RSSMiBPerNode, b.RSSMiBPerNode))
		tw.Flush()
		if !same {
			fmt.Fprintf(out, "whole-run ratios omitted: the runs lasted %.1fs and %.1fs (use --run-full for equal windows)\n", a.WallTime, b.WallTime)
		}
		return
	}
	tw.Flush()
}

// reasonsText lists reason=count sorted by reason.
func reasonsText(m map[string]int64) string {
	if len(m) == 0 {
		return "not recorded"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%d", k, m[k])
	}
	return strings.Join(parts, ", ")
}

// sameWindow is true when two runs were measured over comparable
// windows: both ran the full duration, or their lengths differ by less
// than 10 %.
func sameWindow(a, b StackResult) bool {
	if a.RunFull && b.RunFull {
		return true
	}
	lo, hi := min(a.WallTime, b.WallTime), max(a.WallTime, b.WallTime)
	return hi > 0 && lo >= 0.9*hi
}

func atText(m Milestone, v float64, format string) string {
	if !m.Reached {
		return "-"
	}
	return fmt.Sprintf(format, v)
}

// ratioText is a/b, or "-" when either side did not reach the milestone
// or b is zero (a ratio to "not reached" would be a made-up number).
func ratioText(ok bool, a, b float64) string {
	if !ok || b <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f×", a/b)
}

func roundsText(m Milestone) string {
	if !m.Reached {
		return "not reached"
	}
	return fmt.Sprint(m.Rounds)
}

func wallText(m Milestone) string {
	if !m.Reached {
		return "-"
	}
	return fmt.Sprintf("%.2fs", m.Seconds)
}

func bytesText(b int64) string {
	switch {
	case b >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20))
	case b >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(b)/(1<<10))
	}
	return fmt.Sprintf("%d B", b)
}

// countObserver counts the reactor events the testnet reports.
type countObserver struct {
	pex.NopObserver
	misbehavior, bans atomic.Int64
	mu                sync.Mutex
	reasons           map[string]int64
}

func (o *countObserver) Misbehavior(r pex.Reason) {
	o.misbehavior.Add(1)
	o.count(string(r))
}
func (o *countObserver) Ban() { o.bans.Add(1) }

// WireViolation counts the transport's own stops and bans with the
// reactor's, so the testnet's misbehaviour line covers both.
func (o *countObserver) WireViolation(reason string, banned bool) {
	o.misbehavior.Add(1)
	o.count(reason)
	if banned {
		o.bans.Add(1)
	}
}

func (o *countObserver) count(reason string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.reasons == nil {
		o.reasons = map[string]int64{}
	}
	o.reasons[reason]++
}

// reasonCounts is a copy of the per-reason counts, nil when none.
func (o *countObserver) reasonCounts() map[string]int64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.reasons) == 0 {
		return nil
	}
	out := make(map[string]int64, len(o.reasons))
	for k, v := range o.reasons {
		out[k] = v
	}
	return out
}
