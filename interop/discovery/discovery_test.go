package discovery

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/procfs"

	"github.com/pexp2p/pexp2p/internal/testhost"
	"github.com/pexp2p/pexp2p/testnet"
)

func TestMain(m *testing.M) { testhost.VerifyTestMain(m) }

// BenchmarkDiscoveryCompare runs both stacks on the same topology, one
// after the other, as `pexp2p testnet --compare-classic` does; use
// -benchtime=1x. Sizes and modes come from PEXP2P_DISCOVERY_N (default
// "50,100") and PEXP2P_DISCOVERY_SEED (default "false,true");
// PEXP2P_DISCOVERY_DURATION bounds each run (default 120s);
// PEXP2P_DISCOVERY_RUNFULL=true runs both stacks for the whole duration
// (equal windows for whole-run CPU, memory and wire bytes);
// PEXP2P_DISCOVERY_PLOT_DIR, when set, receives one SVG per size and mode.
// Wire bytes are the loopback interface's counter, which counts every
// process of the network namespace: run under `unshare -n` for an exact
// figure.
func BenchmarkDiscoveryCompare(b *testing.B) {
	dur := 120 * time.Second
	if s := os.Getenv("PEXP2P_DISCOVERY_DURATION"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			b.Fatalf("PEXP2P_DISCOVERY_DURATION=%q: %v", s, err)
		}
		dur = d
	}
	for _, n := range envList("PEXP2P_DISCOVERY_N", "50,100") {
		nodes, err := strconv.Atoi(n)
		if err != nil {
			b.Fatalf("PEXP2P_DISCOVERY_N: %q is not a number", n)
		}
		for _, m := range envList("PEXP2P_DISCOVERY_SEED", "false,true") {
			spec := testnet.DefaultSpec()
			spec.Nodes, spec.SeedMode, spec.Duration = nodes, m == "true", dur
			spec.RunFull = os.Getenv("PEXP2P_DISCOVERY_RUNFULL") == "true"
			spec.CompareClassic = true
			if err := spec.Validate(); err != nil {
				b.Fatal(err)
			}
			b.Run(fmt.Sprintf("N=%d/seed=%v", nodes, spec.SeedMode), func(b *testing.B) {
				for range b.N {
					compareOnce(b, spec)
				}
			})
		}
	}
}

func compareOnce(b *testing.B, spec testnet.Spec) {
	var results []testnet.StackResult
	for _, cl := range spec.Clusters(testnet.Libp2pHooks{}) {
		lo0, loErr := loopbackTxBytes()
		r, err := testnet.Measure(context.Background(), cl, spec.Criteria(), nil)
		if err != nil {
			b.Fatalf("%s: %v", cl.Name(), err)
		}
		if lo1, err := loopbackTxBytes(); err == nil && loErr == nil {
			b.ReportMetric(float64(lo1-lo0)/(1<<20), testnet.ShortName(r.Stack)+"-wire-MiB")
		}
		results = append(results, r)
		reportResult(b, r)
	}
	var sb strings.Builder
	_ = testnet.WriteTable(&sb, spec, results)
	b.Logf("\n%s", sb.String())
	if dir := os.Getenv("PEXP2P_DISCOVERY_PLOT_DIR"); dir != "" {
		name := filepath.Join(dir, fmt.Sprintf("discovery-N%d-seed%v.svg", spec.Nodes, spec.SeedMode))
		if err := os.WriteFile(name, testnet.SVG(spec, results), 0o644); err != nil {
			b.Fatal(err)
		}
	}
}

func reportResult(b *testing.B, r testnet.StackResult) {
	p := testnet.ShortName(r.Stack) + "-"
	rounds := func(m testnet.Milestone) float64 {
		if !m.Reached {
			return -1
		}
		return float64(m.Rounds)
	}
	b.ReportMetric(rounds(r.Peers), p+"rounds-peers")
	b.ReportMetric(rounds(r.Books), p+"rounds-books")
	b.ReportMetric(float64(r.MinKnown), p+"final-min-known")
	b.ReportMetric(r.CPUSecondsPerNode, p+"cpu-s/node")
	if r.Books.Reached {
		b.ReportMetric(r.Books.CPUSecondsPerNode, p+"cpu-to-books-s/node")
	}
	b.ReportMetric(r.RSSMiBPerNode, p+"rss-MiB/node")
}

// loopbackTxBytes is the loopback interface's transmitted-bytes counter
// of this network namespace.
func loopbackTxBytes() (uint64, error) {
	fs, err := procfs.NewDefaultFS()
	if err != nil {
		return 0, err
	}
	nd, err := fs.NetDev()
	if err != nil {
		return 0, err
	}
	lo, ok := nd["lo"]
	if !ok {
		return 0, fmt.Errorf("no lo interface in /proc/net/dev")
	}
	return lo.TxBytes, nil
}

func envList(name, def string) []string {
	v := os.Getenv(name)
	if v == "" {
		v = def
	}
	return strings.Split(v, ",")
}

// The benchmark's wire-byte figure reads a counter that grows with
// loopback traffic.
func TestLoopbackCounterCountsTraffic(t *testing.T) {
	before, err := loopbackTxBytes()
	if err != nil {
		t.Skip("no /proc/net/dev:", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Skip("no loopback:", err)
	}
	defer ln.Close()
	received := make(chan int64, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			received <- 0
			return
		}
		defer c.Close()
		n, _ := io.Copy(io.Discard, c)
		received <- n
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Write(make([]byte, 64<<10))
	_ = c.Close()
	if n := <-received; err != nil || n != 64<<10 {
		t.Fatalf("sent over loopback: %d bytes, %v", n, err)
	}
	after, err := loopbackTxBytes()
	if err != nil {
		t.Fatal(err)
	}
	if after < before+64<<10 {
		t.Fatalf("64 KiB sent, counter moved from %d to %d", before, after)
	}
}
