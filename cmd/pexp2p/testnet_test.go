package main

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pexp2p/pexp2p/pex"
)

// A small testnet of real libp2p hosts on loopback converges: every node
// reaches the peer target and every book the 90 % target, within a
// bounded time; the JSON report and the SVG plot carry the run.
func TestTestnetConverges(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-node run")
	}
	plot := filepath.Join(t.TempDir(), "conv.svg")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out, errOut syncBuffer
	prof := filepath.Join(t.TempDir(), "mem")
	code := run(ctx, []string{"testnet", "--nodes", "5", "--period", "500ms", "--duration", "40s", "--json", "--plot", plot, "--memprofile", prof}, &out, &errOut)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	var rep struct {
		Results []StackResult `json:"results"`
	}
	if err := json.Unmarshal([]byte(out.String()), &rep); err != nil || len(rep.Results) != 1 {
		t.Fatalf("json: %v\n%s", err, out.String())
	}
	r := rep.Results[0]
	if !r.Peers.Reached || !r.Books.Reached {
		t.Fatalf("not converged: %+v", r)
	}
	// Seed mode: the seed is not measured; 4 nodes, 3 keepable peers each,
	// books must hold all 4 others (ceil(0.9*4)).
	if r.Measured != 4 || r.PeerTarget != 3 || r.BookTarget != 4 {
		t.Fatalf("targets: measured %d peers %d books %d", r.Measured, r.PeerTarget, r.BookTarget)
	}
	if r.Traffic.Msgs == 0 || r.Traffic.Bytes == 0 || len(r.Timeline) == 0 {
		t.Fatalf("nothing counted: %+v", r.Traffic)
	}
	last := r.Timeline[len(r.Timeline)-1]
	if last.PeersFrac != 1 || last.BooksFrac != 1 {
		t.Fatalf("timeline ends at %+v", last)
	}
	svg, err := os.ReadFile(plot)
	if err != nil {
		t.Fatal(err)
	}
	dec := xml.NewDecoder(strings.NewReader(string(svg)))
	polylines := 0
	for {
		tok, err := dec.Token()
		if err != nil {
			if err.Error() != "EOF" {
				t.Fatalf("SVG is not well-formed XML: %v", err)
			}
			break
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "polyline" {
			polylines++
		}
	}
	if polylines != 2 {
		t.Fatalf("SVG has %d curves, want 2", polylines)
	}
	// --memprofile: heap and goroutine profiles and the MemStats summary.
	for _, suffix := range []string{".pprof", ".goroutine.pprof", ".memstats.txt"} {
		if st, err := os.Stat(prof + "-pexp2p-libp2p-quic" + suffix); err != nil || st.Size() == 0 {
			t.Errorf("memprofile %s: %v", suffix, err)
		}
	}
}

// fakeCluster lets Measure's bookkeeping be checked without networking.
type fakeCluster struct {
	samples [][]NodeSample
	i       int
	stopped bool
}

func (f *fakeCluster) Name() string                { return "fake" }
func (f *fakeCluster) Start(context.Context) error { return nil }
func (f *fakeCluster) Traffic() Traffic            { return Traffic{Msgs: 3, Bytes: 30} }
func (f *fakeCluster) Stop() error                 { f.stopped = true; return nil }
func (f *fakeCluster) Sample() []NodeSample {
	s := f.samples[min(f.i, len(f.samples)-1)]
	f.i++
	return s
}

// Measure records the first sample at which each criterion holds for
// every node, and stops as soon as both hold.
func TestMeasureMilestones(t *testing.T) {
	f := &fakeCluster{samples: [][]NodeSample{
		{{Peers: 1, Known: 1}, {Peers: 0, Known: 0}},
		{{Peers: 2, Known: 1}, {Peers: 2, Known: 3}},
		{{Peers: 2, Known: 3}, {Peers: 1, Known: 3}},
		{{Peers: 2, Known: 3}, {Peers: 2, Known: 3}},
		{{Peers: 9, Known: 9}, {Peers: 9, Known: 9}},
	}}
	spec := MeasureSpec{Nodes: 2, Period: 100 * time.Millisecond, PeerTarget: 2, BookTarget: 3, Duration: 10 * time.Second, SampleEvery: 20 * time.Millisecond}
	r, err := Measure(context.Background(), f, spec, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Peers held at sample 1, books at sample 2: the run stops there.
	if !f.stopped || f.i != 3 {
		t.Fatalf("stopped %v after %d samples, want 3", f.stopped, f.i)
	}
	if !r.Peers.Reached || !r.Books.Reached || r.Peers.Seconds >= r.Books.Seconds {
		t.Fatalf("milestones %+v %+v", r.Peers, r.Books)
	}
	// A node dropping below the peer target later does not undo the
	// milestone, but shows in the timeline.
	if len(r.Timeline) != 3 || r.Timeline[1].PeersFrac != 1 || r.Timeline[2].PeersFrac != 0.5 {
		t.Fatalf("timeline %+v", r.Timeline)
	}
	if r.Traffic.Msgs != 3 || r.MinPeers != 1 || r.MinKnown != 3 {
		t.Fatalf("result %+v", r)
	}

	// Never converging: stops at Duration, reports the final shares.
	f2 := &fakeCluster{samples: [][]NodeSample{{{Peers: 2, Known: 0}, {Peers: 0, Known: 0}}}}
	spec.Duration = 150 * time.Millisecond
	r, err = Measure(context.Background(), f2, spec, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.Peers.Reached || r.Books.Reached || r.Peers.Final != 0.5 || r.Books.Final != 0 || !f2.stopped {
		t.Fatalf("unconverged run %+v", r)
	}
}

// Issue 7 item 4: --compare-classic runs the same one-seed topology on
// upstream's classic stack after the libp2p one; the JSON carries both
// rows, the plot both pairs of curves, and the classic row has its own
// counted PEX traffic. Bounded: 6 nodes, 300 ms rounds, 6 s per stack.
func TestTestnetCompareClassic(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-node run")
	}
	plot := filepath.Join(t.TempDir(), "cmp.svg")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out, errOut syncBuffer
	code := run(ctx, []string{"testnet", "--nodes", "6", "--period", "300ms", "--duration", "6s", "--compare-classic", "--json", "--plot", plot}, &out, &errOut)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	var rep struct {
		Spec    map[string]any `json:"spec"`
		Results []StackResult  `json:"results"`
	}
	if err := json.Unmarshal([]byte(out.String()), &rep); err != nil || len(rep.Results) != 2 {
		t.Fatalf("json: %v\n%s", err, out.String())
	}
	if rep.Spec["compare_classic"] != true {
		t.Fatalf("spec %v", rep.Spec)
	}
	lp, cl := rep.Results[0], rep.Results[1]
	if !strings.HasPrefix(lp.Stack, "pexp2p/") || !strings.HasPrefix(cl.Stack, "cometbft/classic") {
		t.Fatalf("stacks %q, %q", lp.Stack, cl.Stack)
	}
	if !lp.Peers.Reached || !lp.Books.Reached {
		t.Fatalf("pexp2p did not converge: %+v", lp)
	}
	// Same targets for both rows: seed mode, 5 measured nodes each.
	if cl.Measured != 5 || cl.PeerTarget != lp.PeerTarget || cl.BookTarget != lp.BookTarget {
		t.Fatalf("classic row measured %d, targets %d/%d vs %d/%d", cl.Measured, cl.PeerTarget, cl.BookTarget, lp.PeerTarget, lp.BookTarget)
	}
	if cl.Traffic.Msgs == 0 || cl.Traffic.Bytes < 2*cl.Traffic.Msgs || len(cl.Timeline) == 0 || cl.CPUSecondsPerNode <= 0 {
		t.Fatalf("classic row not measured: %+v", cl)
	}
	svg, err := os.ReadFile(plot)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(svg), "<polyline"); n != 4 {
		t.Fatalf("SVG has %d curves, want 4", n)
	}
	if !strings.Contains(string(svg), "cometbft/classic") {
		t.Fatal("SVG legend does not name the classic stack")
	}
}

// The ratio row divides the first stack by the second, and refuses to
// divide by a milestone that was not reached, or whole-run traffic of
// runs of different lengths (issue 7 item 4).
func TestPrintTableRatio(t *testing.T) {
	spec := TestnetSpec{Nodes: 3, Seeds: 1, Period: time.Second, MaxOutbound: 10, Duration: time.Minute}
	rs := []StackResult{
		{Stack: "pexp2p/libp2p-quic", Nodes: 3, Peers: Milestone{Reached: true, Rounds: 2, Seconds: 2, CPUSecondsPerNode: 0.05, PeakRSSMiBPerNode: 3},
			Books:   Milestone{Reached: true, Rounds: 3, Seconds: 3, CPUSecondsPerNode: 0.06, PeakRSSMiBPerNode: 3.5},
			Traffic: Traffic{Msgs: 10, Bytes: 1000}, CPUSecondsPerNode: 0.1, RSSMiBPerNode: 3, WallTime: 3},
		{Stack: "cometbft/classic-tcp", Nodes: 3, Peers: Milestone{Reached: true, Rounds: 8, Seconds: 8, CPUSecondsPerNode: 0.1, PeakRSSMiBPerNode: 2},
			Books:   Milestone{Final: 0.5},
			Traffic: Traffic{Msgs: 40, Bytes: 4000}, CPUSecondsPerNode: 0.2, RSSMiBPerNode: 2, WallTime: 60},
	}
	rows := func(out string) (ratio, cost []string) {
		var ratios []string
		for _, l := range strings.Split(out, "\n") {
			if strings.Contains(l, "ratio pexp2p/cometbft") {
				ratios = append(ratios, l)
			}
		}
		if len(ratios) != 2 {
			t.Fatalf("want 2 ratio rows (rounds, cost):\n%s", out)
		}
		return strings.Fields(ratios[0]), strings.Fields(ratios[1])
	}
	var b strings.Builder
	printTable(&b, spec, rs)
	ratio, cost := rows(b.String())
	// ratio, label, peers rounds, wall, books rounds, wall, msgs, bytes:
	// the runs lasted 3 s and 60 s, so no traffic ratio.
	want := []string{"ratio", "pexp2p/cometbft", "0.25×", "0.25×", "-", "-", "-", "-"}
	if strings.Join(ratio, " ") != strings.Join(want, " ") {
		t.Fatalf("ratio row %q, want %q\n%s", ratio, want, b.String())
	}
	// CPU until peers, until books, whole run; RSS the same: only the
	// peer milestone (both reached) divides; whole run is withheld.
	want = []string{"ratio", "pexp2p/cometbft", "0.50×", "-", "-", "1.50×", "-", "-"}
	if strings.Join(cost, " ") != strings.Join(want, " ") {
		t.Fatalf("cost row %q, want %q\n%s", cost, want, b.String())
	}
	if !strings.Contains(b.String(), "cometbft/classic-tcp: NOT converged") || !strings.Contains(b.String(), "whole-run ratios omitted") {
		t.Fatalf("unconverged classic row or unequal windows not flagged:\n%s", b.String())
	}

	// With --run-full both rows cover the same window: whole-run ratios
	// are printed.
	rs[0].RunFull, rs[1].RunFull = true, true
	rs[0].WallTime = 60
	b.Reset()
	printTable(&b, spec, rs)
	ratio, cost = rows(b.String())
	if ratio[6] != "0.25×" || cost[4] != "0.50×" || cost[7] != "1.50×" || strings.Contains(b.String(), "omitted") {
		t.Fatalf("run-full ratios %q %q\n%s", ratio, cost, b.String())
	}
}

// RunFull keeps sampling until Duration after convergence, and the
// milestones carry the CPU and memory spent until they were met; the
// heap-profile hook runs once, at convergence (issue 7 item 4).
func TestMeasureRunFull(t *testing.T) {
	f := &fakeCluster{samples: [][]NodeSample{
		{{Peers: 0, Known: 0}},
		{{Peers: 2, Known: 3}},
	}}
	var profiled []string
	spec := MeasureSpec{Nodes: 1, Period: 100 * time.Millisecond, PeerTarget: 2, BookTarget: 3, Duration: 300 * time.Millisecond,
		SampleEvery: 20 * time.Millisecond, RunFull: true, HeapProfile: func(s string) { profiled = append(profiled, s) }}
	r, err := Measure(context.Background(), f, spec, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !r.RunFull || !r.Peers.Reached || !r.Books.Reached || f.i < 5 || r.WallTime < 0.3 {
		t.Fatalf("run-full stopped early: %d samples, %.2fs, %+v", f.i, r.WallTime, r)
	}
	if r.Peers.CPUSecondsPerNode < 0 || r.Peers.CPUSecondsPerNode > r.CPUSecondsPerNode || r.Books.PeakRSSMiBPerNode > r.RSSMiBPerNode {
		t.Fatalf("milestone cost exceeds the whole run's: %+v", r)
	}
	if len(profiled) != 1 || profiled[0] != "fake" {
		t.Fatalf("heap profile hook called %q, want once", profiled)
	}
}

// Misbehaviour is counted per reason, the reactor's and the transport's
// alike, and the table names them, so that a run with bans says why.
func TestCountObserverReasons(t *testing.T) {
	o := &countObserver{}
	if o.reasonCounts() != nil {
		t.Fatal("reasons before any misbehaviour")
	}
	o.Misbehavior(pex.ReasonRequestTooSoon)
	o.Misbehavior(pex.ReasonRequestTooSoon)
	o.WireViolation("wire_oversized", true)
	got := o.reasonCounts()
	if got[string(pex.ReasonRequestTooSoon)] != 2 || got["wire_oversized"] != 1 || o.misbehavior.Load() != 3 || o.bans.Load() != 1 {
		t.Fatalf("counts %v, misbehaviour %d, bans %d", got, o.misbehavior.Load(), o.bans.Load())
	}
	var b strings.Builder
	spec := TestnetSpec{Nodes: 3, Seeds: 1, Period: time.Second, MaxOutbound: 10, Duration: time.Minute}
	printTable(&b, spec, []StackResult{{Stack: "pexp2p/libp2p-quic", Nodes: 3, Traffic: Traffic{Misbehavior: 3, Bans: 1, Reasons: got}}})
	want := "by reason: " + string(pex.ReasonRequestTooSoon) + "=2, wire_oversized=1"
	if !strings.Contains(b.String(), want) {
		t.Fatalf("table does not say %q:\n%s", want, b.String())
	}
}
