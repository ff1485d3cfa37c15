package discovery

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreTopFunction("github.com/ipfs/go-log/v2/writer.(*MirrorWriter).logRoutine"),
		goleak.IgnoreTopFunction("go.opencensus.io/stats/view.(*worker).start"),
		goleak.IgnoreAnyFunction("github.com/libp2p/go-libp2p/p2p/transport/quicreuse.(*reuse).gc"),
	)
}

func TestConfigDefaultsAndErrors(t *testing.T) {
	c, err := Config{Nodes: 50}.WithDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if c.Period != time.Second || c.MaxOutbound != 10 || c.MaxInbound != 40 || c.Duration != 120*time.Second || c.BookTarget != 0.9 || c.PeerTarget() != 10 {
		t.Fatalf("defaults: %+v", c)
	}
	if (Config{Nodes: 5}).PeerTarget() != 4 {
		t.Fatal("peer target must be min(max_outbound, N-1)")
	}
	for _, bad := range []Config{
		{Nodes: 1}, {Nodes: 251}, {Nodes: 5, Period: time.Microsecond}, {Nodes: 5, MaxOutbound: -1},
		{Nodes: 5, BookTarget: 1.5}, {Nodes: 5, Period: time.Second, Duration: time.Millisecond},
	} {
		_, err := bad.WithDefaults()
		var ce *ConfigError
		if !errors.Is(err, ErrConfig) || !errors.As(err, &ce) {
			t.Errorf("%+v: got %v, want a *ConfigError", bad, err)
		}
	}
	if _, err := Run(context.Background(), Classic(), Config{Nodes: 0}); !errors.Is(err, ErrConfig) {
		t.Fatalf("Run with a bad config: %v", err)
	}
}

func TestSummariseCriteria(t *testing.T) {
	cfg, _ := Config{Nodes: 11, MaxOutbound: 10}.WithDefaults()
	nodes := []NodeStat{{Outbound: 10, Book: 9}, {Outbound: 3, Inbound: 7, Book: 10}, {Book: 4}}
	s := summarise(nodes, cfg, 2500*time.Millisecond)
	if s.MinPeers != 0 || s.AtPeerTarget != 2 || s.AtBookTarget != 2 || s.Isolated != 1 || s.Rounds != 2.5 {
		t.Fatalf("%+v", s)
	}
	if s.MinBook != 0.4 {
		t.Fatalf("min book %v", s.MinBook)
	}
}

func TestMeasurementsReadable(t *testing.T) {
	if ReadRSS() == 0 {
		t.Fatal("no RSS from /proc/self/statm")
	}
	if _, err := loopbackTxBytes(); err != nil {
		t.Fatal(err)
	}
	c0 := CPUSeconds()
	for x, i := 0, 0; i < 1e7; i++ {
		x += i
		_ = x
	}
	if CPUSeconds() < c0 {
		t.Fatal("CPU time went backwards")
	}
}

// Smoke test of both stacks and the measurement plumbing: a 4-node
// network of each runs for a few seconds and yields samples, CPU, memory
// and a table. Convergence itself is measured by the benchmark, not
// asserted here: on a loaded 2-core machine it depends on scheduling.
func TestSmallNetworksRun(t *testing.T) {
	for _, st := range []Stack{Libp2p(), Classic()} {
		t.Run(st.Name(), func(t *testing.T) {
			var samples, snaps int
			r, err := Run(context.Background(), st, Config{
				Nodes: 4, Period: 500 * time.Millisecond, Duration: 6 * time.Second,
				OnSample: func(string, Sample) { samples++ },
				OnSnapshot: func(_ string, _ time.Duration, nodes []NodeStat) {
					if len(nodes) == 4 {
						snaps++
					}
				},
			})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("\n%s", r)
			if samples != len(r.Samples) || snaps != samples || samples < 5 || r.CPUSeconds <= 0 || r.PeakRSS == 0 {
				t.Fatalf("measurements missing: %d samples, %+v", samples, r)
			}
			if r.Final.MeanPeers == 0 || r.Joined == 0 {
				t.Fatalf("no node ever connected:\n%s", r)
			}
			var b strings.Builder
			if err := WriteTable(&b, []*Result{r, r}); err != nil || !strings.Contains(b.String(), "1.00×") {
				t.Fatalf("table:\n%s (%v)", b.String(), err)
			}
		})
	}
}

// Issue 7 item 4, like-for-like CPU and memory: whole-run ratios of runs
// of different lengths are withheld; milestone figures divide where both
// stacks reached the criterion.
func TestCostTableWindows(t *testing.T) {
	mk := func(name string, wall time.Duration, books bool) *Result {
		return &Result{Stack: name, Config: Config{Nodes: 10, Period: time.Second}, Wall: wall,
			PeersReached: true, PeersAt: time.Second, CPUAtPeers: 1, RSSAtPeers: 10 << 20,
			BooksReached: books, CPUAtBooks: 2, RSSAtBooks: 20 << 20,
			CPUSeconds: 4, RSSGrowth: 40 << 20}
	}
	a, b := mk("a", 3*time.Second, true), mk("b", 120*time.Second, false)
	b.CPUAtPeers, b.CPUSeconds = 2, 8
	var sb strings.Builder
	if err := WriteCostTable(&sb, []*Result{a, b}); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(sb.String()), "\n")
	ratio := strings.Fields(lines[len(lines)-1])
	// ratio a/b, CPU to peers, to books, whole run, RSS to peers, to books, whole run
	want := "ratio a/b 0.50× - - 1.00× - -"
	if strings.Join(ratio, " ") != want {
		t.Fatalf("ratio row %q, want %q\n%s", strings.Join(ratio, " "), want, sb.String())
	}
	if !strings.Contains(lines[1], "0.100") || !strings.Contains(lines[1], "0.400") {
		t.Fatalf("per-node figures missing (1 s ÷ 10 nodes, 4 s ÷ 10):\n%s", sb.String())
	}
	b.Wall = 3100 * time.Millisecond
	sb.Reset()
	_ = WriteCostTable(&sb, []*Result{a, b})
	lines = strings.Split(strings.TrimSpace(sb.String()), "\n")
	if got := strings.Join(strings.Fields(lines[len(lines)-1]), " "); got != "ratio a/b 0.50× - 0.50× 1.00× - 1.00×" {
		t.Fatalf("equal windows must divide whole-run CPU:\n%s", sb.String())
	}
}

func TestWriteSVG(t *testing.T) {
	mk := func(name string) *Result {
		r := &Result{Stack: name, Counted: 4, Config: Config{Nodes: 4, Period: time.Second}}
		for i := 1; i <= 5; i++ {
			r.Samples = append(r.Samples, Sample{Rounds: float64(i), AtPeerTarget: i % 5, MeanBook: float64(i) / 5})
		}
		return r
	}
	var b strings.Builder
	if err := WriteSVG(&b, "a <b>", []*Result{mk("pexp2p"), mk("classic")}); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if strings.Count(out, "<polyline") != 4 || !strings.Contains(out, "a &lt;b&gt;") || !strings.HasSuffix(out, "</svg>\n") {
		t.Fatalf("unexpected SVG:\n%s", out)
	}
}

// Item 4's side-by-side benchmark. Each iteration runs both stacks on
// the same configuration; use -benchtime=1x. Sizes and modes come from
// PEXP2P_DISCOVERY_N (default "50,100") and PEXP2P_DISCOVERY_SEED
// (default "false,true"); PEXP2P_DISCOVERY_DURATION bounds each run
// (default 120s); PEXP2P_DISCOVERY_RUNFULL=true runs both stacks for the
// whole duration (equal windows for whole-run CPU, memory and wire
// bytes). Run it under `unshare -n` for exact wire bytes.
func BenchmarkDiscoveryCompare(b *testing.B) {
	sizes := envList("PEXP2P_DISCOVERY_N", "50,100")
	modes := envList("PEXP2P_DISCOVERY_SEED", "false,true")
	dur := 120 * time.Second
	if s := os.Getenv("PEXP2P_DISCOVERY_DURATION"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			b.Fatal(err)
		}
		dur = d
	}
	for _, n := range sizes {
		for _, m := range modes {
			var nodes int
			fmt.Sscan(n, &nodes)
			seed := m == "true"
			b.Run(fmt.Sprintf("N=%d/seed=%v", nodes, seed), func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					res, err := Compare(context.Background(), Config{
						Nodes: nodes, Period: time.Second, SeedMode: seed, Duration: dur, Logf: b.Logf,
						RunFull: os.Getenv("PEXP2P_DISCOVERY_RUNFULL") == "true",
					})
					if err != nil {
						b.Fatal(err)
					}
					var sb strings.Builder
					_ = WriteTable(&sb, res)
					b.Logf("\n%s", sb.String())
					if dir := os.Getenv("PEXP2P_DISCOVERY_PLOT_DIR"); dir != "" {
						f, err := os.Create(fmt.Sprintf("%s/discovery-N%d-seed%v.svg", dir, nodes, seed))
						if err != nil {
							b.Fatal(err)
						}
						title := fmt.Sprintf("N = %d, seed mode %v, period 1 s", nodes, seed)
						if err := WriteSVG(f, title, res); err != nil {
							b.Fatal(err)
						}
						_ = f.Close()
					}
					for _, r := range res {
						reportResult(b, r)
					}
				}
			})
		}
	}
}

func reportResult(b *testing.B, r *Result) {
	p := r.Stack + "-"
	rounds := func(ok bool, at time.Duration) float64 {
		if !ok {
			return -1
		}
		return r.Rounds(at)
	}
	b.ReportMetric(rounds(r.PeersReached, r.PeersAt), p+"rounds-peers")
	b.ReportMetric(rounds(r.BooksReached, r.BooksAt), p+"rounds-books")
	b.ReportMetric(100*r.Final.MinBook, p+"final-min-book-%")
	b.ReportMetric(float64(r.Joined), p+"joined")
	b.ReportMetric(r.CPUPerNode(), p+"cpu-s/node")
	if r.BooksReached {
		b.ReportMetric(r.CPUAtBooks/float64(r.Config.Nodes), p+"cpu-to-books-s/node")
	}
	b.ReportMetric(r.RSSPerNode()/(1<<20), p+"rss-MiB/node")
	b.ReportMetric(float64(r.WireBytes)/(1<<20), p+"wire-MiB")
}

func envList(name, def string) []string {
	v := os.Getenv(name)
	if v == "" {
		v = def
	}
	return strings.Split(v, ",")
}

// ClassicCluster, the command's view of the classic stack: samples count
// the other nodes' addresses each book holds, and PEX traffic is counted.
func TestClassicCluster(t *testing.T) {
	c, err := NewClassicCluster(Config{Nodes: 4, Period: 300 * time.Millisecond, SeedMode: true})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := c.Stop(); err != nil {
			t.Error(err)
		}
	}()
	if c.Name() != "cometbft/classic" || len(c.Sample()) != 3 {
		t.Fatalf("name %q, %d measured nodes (want 3: the seed is not measured)", c.Name(), len(c.Sample()))
	}
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		known, peers := 0, 0
		for _, s := range c.Sample() {
			known += s.Known
			peers += s.Peers
			if s.Known > 3 {
				t.Fatalf("a book knows %d of 3 others", s.Known)
			}
		}
		msgs, bytes := c.Traffic()
		if known > 0 && peers > 0 && msgs > 0 && bytes >= 2*msgs {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 15 s: known %d, peers %d, traffic %d msgs %d bytes", known, peers, msgs, bytes)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
