package testnet

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/pexp2p/pexp2p/pexnode"
)

// Both built-in stacks run a small network end to end through Measure:
// nodes connect and learn addresses, PEX traffic is counted, CPU is
// charged, and Stop releases everything (TestMain checks for leaked
// goroutines). Convergence speed is the benchmarks' business: on a loaded
// 2-core machine it depends on scheduling, so only progress is asserted.
func TestBuiltInStacksRunASmallNetwork(t *testing.T) {
	spec := multiNodeSpec(t, 4, 300*time.Millisecond, 6*time.Second)
	var mu sync.Mutex
	built := map[int]bool{}
	hooks := Libp2pHooks{
		Options: func(i int, o *pexnode.Options) {
			if o.Key == nil || o.PEX == nil {
				t.Errorf("node %d: options without key or PEX", i)
			}
		},
		Built: func(i int, n *pexnode.Node) {
			mu.Lock()
			built[i] = n.Reactor != nil
			mu.Unlock()
		},
	}
	for _, cl := range []Cluster{Libp2p(spec, hooks), Classic(spec)} {
		t.Run(cl.Name(), func(t *testing.T) {
			r, err := Measure(context.Background(), cl, spec.Criteria(), nil)
			if err != nil {
				t.Fatal(err)
			}
			// The seed is in seed mode: three nodes are measured.
			if r.Measured != 3 || len(r.Timeline) == 0 || r.CPUSecondsPerNode <= 0 {
				t.Fatalf("not measured: %+v", r)
			}
			if r.Traffic.Msgs == 0 || r.Traffic.Bytes < 2*r.Traffic.Msgs {
				t.Fatalf("no PEX traffic counted: %+v", r.Traffic)
			}
			// Upstream's stack at 300 ms rounds has been seen to reach
			// the peer target and lose it again within a second under
			// -race: progress at any sample is what shows discovery ran.
			progressed := false
			for _, p := range r.Timeline {
				progressed = progressed || p.PeersFrac > 0
			}
			if !progressed {
				t.Fatalf("no node ever reached the peer target: final min peers %d, mean %.1f", r.MinPeers, r.MeanPeers)
			}
		})
	}
	if len(built) != spec.Nodes {
		t.Fatalf("Built hook saw nodes %v, want all %d", built, spec.Nodes)
	}
}

// A classic cluster asked for more nodes than loopback /16s it can give
// them fails with a *SpecError before building anything.
func TestClassicRefusesMoreNodesThanItsAddressPlan(t *testing.T) {
	cl := Classic(Spec{Nodes: MaxClassicNodes + 1, Seeds: 1, Period: time.Second})
	err := cl.Start(context.Background())
	var se *SpecError
	if !errors.As(err, &se) || se.Field != "nodes" {
		t.Fatalf("got %v, want a *SpecError naming nodes", err)
	}
	if cl.Sample() != nil {
		t.Fatal("samples from a cluster that never started")
	}
	if err := cl.Stop(); err != nil {
		t.Fatal(err)
	}
}

// Stop after a Start cancelled before any node started is safe and
// returns no error.
func TestLibp2pStopAfterCancelledStart(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	spec := Spec{Nodes: 3, Seeds: 1, Period: time.Second, Transport: "tcp", MaxOutbound: 10, MaxInbound: 40, ChainID: "testnet-test"}
	cl := Libp2p(spec, Libp2pHooks{})
	if err := cl.Start(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("start: %v", err)
	}
	if err := cl.Stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
}

// multiNodeSpec is the small network of real hosts the stack tests run:
// one seed in seed mode, QUIC, upstream's peer limits. Such runs are
// skipped with -short.
func multiNodeSpec(t *testing.T, nodes int, period, duration time.Duration) Spec {
	t.Helper()
	if testing.Short() {
		t.Skip("multi-node run")
	}
	return Spec{Nodes: nodes, Seeds: 1, SeedMode: true, Period: period, Transport: "quic",
		MaxOutbound: 10, MaxInbound: 40, Duration: duration, ChainID: "testnet-test"}
}
