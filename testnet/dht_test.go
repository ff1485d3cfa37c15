package testnet

import (
	"context"
	"encoding/binary"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// The kad-dht stack runs a small network through the same Measure as the
// other stacks: every measured host connects to the peer target and holds
// 90 % of the others in its peerstore, its DHT traffic is counted, and
// Stop releases every host (TestMain checks for leaked goroutines). The
// duration is a bound, not a figure: at 6 hosts the DHT's bootstrap
// lookup alone connects everyone.
func TestKadDHTClusterConvergesAndReports(t *testing.T) {
	spec := multiNodeSpec(t, 6, 500*time.Millisecond, 90*time.Second)
	spec.CompareDHT = true
	cls := spec.Clusters(Libp2pHooks{})
	cl := cls[len(cls)-1]
	if !strings.Contains(cl.Name(), "dht") {
		t.Fatalf("last cluster of a --compare-dht spec is %q, want the kad-dht stack", cl.Name())
	}
	r, err := Measure(context.Background(), cl, spec.Criteria(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.Measured != 5 {
		t.Fatalf("measured %d hosts, want the 5 that are not the bootstrap host", r.Measured)
	}
	if !r.Peers.Reached || !r.Books.Reached {
		t.Fatalf("did not converge within %v: peers %.0f %%, books %.0f %%, final min peers %d, min known %d",
			spec.Duration, 100*r.Peers.Final, 100*r.Books.Final, r.MinPeers, r.MinKnown)
	}
	if r.Traffic.Msgs == 0 || r.Traffic.Bytes < 2*r.Traffic.Msgs {
		t.Fatalf("no DHT traffic counted: %+v", r.Traffic)
	}
	if r.Books.CPUSecondsPerNode <= 0 {
		t.Fatalf("no CPU charged: %+v", r.Books)
	}
}

// Stop on a kad-dht cluster that never started is a no-op.
func TestKadDHTStopBeforeStart(t *testing.T) {
	cl := KadDHT(Spec{Nodes: 3, Seeds: 1, Transport: "tcp"})
	if s := cl.Sample(); len(s) != 0 {
		t.Fatalf("samples from a cluster that never started: %v", s)
	}
	if err := cl.Stop(); err != nil {
		t.Fatal(err)
	}
}

// The DHT's messages are counted by their uvarint length prefixes,
// wherever the writer splits the bytes: one byte at a time, all at once,
// or across a multi-byte prefix.
func TestFrameCounterCountsFramesHoweverTheBytesAreSplit(t *testing.T) {
	var stream []byte
	sizes := []int{0, 1, 127, 128, 300, 20000}
	for _, n := range sizes {
		stream = binary.AppendUvarint(stream, uint64(n))
		stream = append(stream, make([]byte, n)...)
	}
	for _, chunk := range []int{1, 2, 3, 7, 129, len(stream)} {
		var f frameCounter
		got := 0
		for p := stream; len(p) > 0; {
			k := min(chunk, len(p))
			got += f.feed(p[:k])
			p = p[k:]
		}
		if got != len(sizes) {
			t.Errorf("chunks of %d bytes: counted %d frames, want %d", chunk, got, len(sizes))
		}
	}
}

// kad-dht is the harness's comparison only: the packages a pexp2p node is
// made of never link it.
func TestNodePackagesDoNotDependOnKadDHT(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to list dependencies")
	}
	pkgs := []string{"addrbook", "pex", "transport", "pexnode"}
	for _, p := range pkgs {
		out, err := exec.Command(goBin, "list", "-deps", "github.com/pexp2p/pexp2p/"+p).CombinedOutput()
		if err != nil {
			t.Fatalf("go list -deps %s: %v\n%s", p, err, out)
		}
		for _, dep := range strings.Fields(string(out)) {
			if strings.HasPrefix(dep, "github.com/libp2p/go-libp2p-kad-dht") {
				t.Errorf("%s depends on %s", p, dep)
			}
		}
	}
}

// With three stacks (--compare-classic --compare-dht) the first is
// divided by each of the others: two ratio rows in each table.
func TestWriteTableDividesTheFirstStackByEachOther(t *testing.T) {
	spec := Spec{Nodes: 3, Seeds: 1, Period: time.Second, MaxOutbound: 10, Duration: time.Minute}
	ms := Milestone{Reached: true, Rounds: 2, Seconds: 2, CPUSecondsPerNode: 0.05, PeakRSSMiBPerNode: 3}
	rs := []StackResult{
		{Stack: "pexp2p/libp2p-quic", Nodes: 3, Peers: ms, Books: ms, WallTime: 2},
		{Stack: "cometbft/classic-tcp", Nodes: 3, Peers: ms, Books: ms, WallTime: 2},
		{Stack: "kad-dht/libp2p-quic", Nodes: 3, Peers: ms, Books: ms, WallTime: 2},
	}
	var b strings.Builder
	if err := WriteTable(&b, spec, rs); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"ratio pexp2p/cometbft", "ratio pexp2p/kad-dht"} {
		if n := strings.Count(b.String(), want); n != 2 {
			t.Errorf("%q appears %d times, want 2 (rounds and cost tables):\n%s", want, n, b.String())
		}
	}
}
