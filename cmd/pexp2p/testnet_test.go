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

	"github.com/pexp2p/pexp2p/testnet"
)

// A small testnet of real libp2p hosts on loopback converges: every node
// reaches the peer target and every book the 90 % target, within a
// bounded time; the JSON report and the SVG plot carry the run.
func TestTestnetConverges(t *testing.T) {
	plot := filepath.Join(t.TempDir(), "conv.svg")
	prof := filepath.Join(t.TempDir(), "mem")
	var rep struct {
		Results []testnet.StackResult `json:"results"`
	}
	out := runTestnetJSON(t, 60*time.Second, &rep, "--nodes", "5", "--period", "500ms", "--duration", "40s", "--plot", plot, "--memprofile", prof)
	if len(rep.Results) != 1 {
		t.Fatalf("%d results, want 1:\n%s", len(rep.Results), out)
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

// --compare-classic runs the same one-seed topology on
// upstream's classic stack after the libp2p one; the JSON carries both
// rows, the plot both pairs of curves, and the classic row has its own
// counted PEX traffic. Bounded: 6 nodes, 300 ms rounds, at most 25 s per
// stack (pexp2p stops as soon as it converges; 6 s was too short for a
// race build at load 40).
func TestTestnetCompareClassic(t *testing.T) {
	plot := filepath.Join(t.TempDir(), "cmp.svg")
	var rep struct {
		Spec    map[string]any        `json:"spec"`
		Results []testnet.StackResult `json:"results"`
	}
	out := runTestnetJSON(t, 120*time.Second, &rep, "--nodes", "6", "--period", "300ms", "--duration", "25s", "--compare-classic", "--plot", plot)
	if len(rep.Results) != 2 {
		t.Fatalf("%d results, want 2:\n%s", len(rep.Results), out)
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

// runTestnetJSON runs `pexp2p testnet --json` with args, bounded by
// timeout, and decodes its report into rep; it returns the report's text
// for failure messages. Real hosts: skipped with -short.
func runTestnetJSON(t *testing.T, timeout time.Duration, rep any, args ...string) string {
	t.Helper()
	if testing.Short() {
		t.Skip("multi-node run")
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var out, errOut syncBuffer
	if code := run(ctx, append([]string{"testnet", "--json"}, args...), &out, &errOut); code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	if err := json.Unmarshal([]byte(out.String()), rep); err != nil {
		t.Fatalf("json: %v\n%s", err, out.String())
	}
	return out.String()
}
