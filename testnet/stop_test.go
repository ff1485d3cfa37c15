package testnet

import (
	"context"
	"os"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pexp2p/pexp2p/internal/testwait"
	"github.com/pexp2p/pexp2p/pex"
	"github.com/pexp2p/pexp2p/pexnode"
)

// dialCounter counts the reactors' dial attempts.
type dialCounter struct {
	pex.NopObserver
	n atomic.Int64
}

func (d *dialCounter) Dial(pex.DialResult) { d.n.Add(1) }

// startConnected starts a libp2p cluster of n nodes (a regular seed, so
// that peers stay connected) and waits until at least want of them have a
// peer.
func startConnected(tb testing.TB, n, want int, period time.Duration, dials *dialCounter) *libp2pCluster {
	tb.Helper()
	spec := Spec{Nodes: n, Seeds: 1, Period: period, Transport: "quic",
		MaxOutbound: 10, MaxInbound: 40, ChainID: "testnet-test"}
	cl := Libp2p(spec, Libp2pHooks{Options: func(_ int, o *pexnode.Options) {
		o.Observers = append(o.Observers, dials)
	}}).(*libp2pCluster)
	if err := cl.Start(context.Background()); err != nil {
		_ = cl.Stop()
		tb.Fatal(err)
	}
	ok := testwait.Until(60*time.Second, func() bool {
		with := 0
		for _, x := range cl.Sample() {
			if x.Peers > 0 {
				with++
			}
		}
		return with >= want
	})
	if !ok {
		last := cl.Sample()
		_ = cl.Stop()
		tb.Fatalf("nodes did not connect: %+v", last)
	}
	return cl
}

// Stop silences every reactor before it closes any host: once the first
// pass is over, the hosts are all still up and no node dials again while
// its peers go away.
func TestLibp2pStopQuietsReactorsBeforeClosingHosts(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-node run")
	}
	dials := &dialCounter{}
	cl := startConnected(t, 6, 6, 200*time.Millisecond, dials)
	var atQuiet int64 = -1
	connected := 0
	cl.afterQuiet = func() {
		atQuiet = dials.n.Load()
		for i, n := range cl.nodes {
			if cl.started[i] && len(n.Transport.Host().Network().Conns()) > 0 {
				connected++
			}
		}
	}
	cl.stopParallelism = 2
	if err := cl.Stop(); err != nil {
		t.Fatal(err)
	}
	if atQuiet < 0 {
		t.Fatal("Stop never ran its quiet pass")
	}
	if connected != 6 {
		t.Fatalf("%d of 6 hosts still had connections when the reactors had stopped, want all", connected)
	}
	if got := dials.n.Load(); got != atQuiet {
		t.Fatalf("%d dials while the hosts closed, want none", got-atQuiet)
	}
}

// forEachBounded runs every index once and never more than limit at once.
func TestForEachBoundedRespectsItsLimit(t *testing.T) {
	for _, limit := range []int{1, 3, 64} {
		var in, peak atomic.Int32
		calls := make([]atomic.Int32, 200)
		errs := forEachBounded(len(calls), limit, func(i int) error {
			cur := in.Add(1)
			for {
				p := peak.Load()
				if cur <= p || peak.CompareAndSwap(p, cur) {
					break
				}
			}
			runtime.Gosched()
			calls[i].Add(1)
			in.Add(-1)
			if i == 7 {
				return context.Canceled
			}
			return nil
		})
		if p := peak.Load(); p > int32(limit) || p < 1 {
			t.Fatalf("limit %d: %d ran at once", limit, p)
		}
		for i := range calls {
			if calls[i].Load() != 1 {
				t.Fatalf("limit %d: index %d ran %d times", limit, i, calls[i].Load())
			}
			if (errs[i] != nil) != (i == 7) {
				t.Fatalf("limit %d: error of index %d is %v", limit, i, errs[i])
			}
		}
	}
}

// BenchmarkLibp2pClusterStop reports how long Stop takes for a connected
// cluster (PEXP2P_STOP_NODES nodes, default 100, 90 % of them with a
// peer) and the goroutines per node it ran before.
func BenchmarkLibp2pClusterStop(b *testing.B) {
	n := 100
	if v := os.Getenv("PEXP2P_STOP_NODES"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 2 {
			b.Fatalf("PEXP2P_STOP_NODES=%q: want a node count of at least 2", v)
		}
	}
	for b.Loop() {
		cl := startConnected(b, n, n*9/10, time.Second, &dialCounter{})
		g := runtime.NumGoroutine()
		start := time.Now()
		if err := cl.Stop(); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(time.Since(start).Seconds(), "stop-s")
		b.ReportMetric(float64(g)/float64(n), "goroutines/node")
	}
}

// Sample's book count (the book's size) is the number of other testnet
// nodes the book holds: no entry of its own, none foreign.
func TestLibp2pSampleCountsOtherNodesInBooks(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-node run")
	}
	cl := startConnected(t, 8, 8, 200*time.Millisecond, &dialCounter{})
	defer func() { _ = cl.Stop() }()
	testwait.For(t, 30*time.Second, "books to fill", func() bool {
		for _, x := range cl.Sample() {
			if x.Known < 3 {
				return false
			}
		}
		return true
	})
	index := map[string]int{}
	for i, id := range cl.ids {
		index[id] = i
	}
	for i, n := range cl.nodes {
		entries := n.Book.Entries()
		walked := 0
		for _, e := range entries {
			if j, ok := index[e.Addr.ID]; ok && j != i {
				walked++
			}
		}
		if walked != len(entries) {
			t.Fatalf("node %d: %d entries, %d of them other testnet nodes", i, len(entries), walked)
		}
	}
}
