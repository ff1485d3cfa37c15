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
	code := run(ctx, []string{"testnet", "--nodes", "5", "--period", "500ms", "--duration", "40s", "--json", "--plot", plot}, &out, &errOut)
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
