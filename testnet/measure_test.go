package testnet

import (
	"context"
	"testing"
	"time"

	"github.com/pexp2p/pexp2p/internal/testhost"
)

func TestMain(m *testing.M) { testhost.VerifyTestMain(m) }

// fakeCluster replays samples, so Measure's bookkeeping is checked
// without networking.
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
func TestMeasureRecordsFirstSampleOfEachMilestone(t *testing.T) {
	f := &fakeCluster{samples: [][]NodeSample{
		{{Peers: 1, Known: 1}, {Peers: 0, Known: 0}},
		{{Peers: 2, Known: 1}, {Peers: 2, Known: 3}},
		{{Peers: 2, Known: 3}, {Peers: 1, Known: 3}},
		{{Peers: 2, Known: 3}, {Peers: 2, Known: 3}},
		{{Peers: 9, Known: 9}, {Peers: 9, Known: 9}},
	}}
	c := Criteria{Nodes: 2, Period: 100 * time.Millisecond, PeerTarget: 2, BookTarget: 3, Duration: 10 * time.Second, SampleEvery: 20 * time.Millisecond}
	r, err := Measure(context.Background(), f, c, nil)
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
	if r.Traffic.Msgs != 3 || r.MinPeers != 1 || r.MinKnown != 3 || r.Measured != 2 {
		t.Fatalf("result %+v", r)
	}
}

// A cluster that never converges is stopped at Duration, with the final
// share of nodes meeting each criterion.
func TestMeasureStopsAtDurationWhenNotConverged(t *testing.T) {
	f := &fakeCluster{samples: [][]NodeSample{{{Peers: 2, Known: 0}, {Peers: 0, Known: 0}}}}
	c := Criteria{Nodes: 2, Period: 100 * time.Millisecond, PeerTarget: 2, BookTarget: 3, Duration: 150 * time.Millisecond, SampleEvery: 20 * time.Millisecond}
	r, err := Measure(context.Background(), f, c, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.Peers.Reached || r.Books.Reached || r.Peers.Final != 0.5 || r.Books.Final != 0 || !f.stopped {
		t.Fatalf("unconverged run %+v", r)
	}
}

// RunFull keeps sampling until Duration after convergence, and the
// milestones carry the CPU and memory spent until they were met; the
// heap-profile hook runs once, at convergence.
func TestMeasureRunFullSamplesToDurationAndProfilesOnce(t *testing.T) {
	f := &fakeCluster{samples: [][]NodeSample{
		{{Peers: 0, Known: 0}},
		{{Peers: 2, Known: 3}},
	}}
	var profiled []string
	c := Criteria{Nodes: 1, Period: 100 * time.Millisecond, PeerTarget: 2, BookTarget: 3, Duration: 300 * time.Millisecond,
		SampleEvery: 20 * time.Millisecond, RunFull: true, HeapProfile: func(s string) { profiled = append(profiled, s) }}
	r, err := Measure(context.Background(), f, c, nil)
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

// failingCluster fails to start; Measure must still stop it, so a
// partial start releases what it built.
type failingCluster struct{ fakeCluster }

func (f *failingCluster) Start(context.Context) error { return context.DeadlineExceeded }

func TestMeasureStopsAClusterThatFailedToStart(t *testing.T) {
	f := &failingCluster{}
	_, err := Measure(context.Background(), f, Criteria{Nodes: 1, Period: time.Second, Duration: time.Second}, nil)
	if err != context.DeadlineExceeded || !f.stopped {
		t.Fatalf("err %v, stopped %v", err, f.stopped)
	}
}
