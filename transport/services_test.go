package transport

import (
	"runtime"
	"strings"
	"testing"
	"time"

	ma "github.com/multiformats/go-multiaddr"

	"github.com/pexp2p/pexp2p/internal/testwait"
)

// Observed addresses are kept only where they can add an address: not
// with ExternalAddrs (they replace everything advertised) and not when
// every listen address is loopback.
func TestAddressDiscoveryOnlyWhereItCanHelp(t *testing.T) {
	m := func(s string) ma.Multiaddr { return ma.StringCast(s) }
	for _, c := range []struct {
		listen, external []string
		want             bool
	}{
		{[]string{"/ip4/127.0.0.1/udp/0/quic-v1", "/ip6/::1/tcp/0"}, nil, false},
		{[]string{"/ip4/0.0.0.0/udp/26656/quic-v1"}, nil, true},
		{[]string{"/ip4/127.0.0.1/udp/0/quic-v1", "/ip4/10.1.2.3/tcp/26656"}, nil, true},
		{[]string{"/ip4/0.0.0.0/udp/26656/quic-v1"}, []string{"/ip4/1.2.3.4/udp/26656/quic-v1"}, false},
	} {
		var cfg Config
		for _, s := range c.listen {
			cfg.ListenAddrs = append(cfg.ListenAddrs, m(s))
		}
		for _, s := range c.external {
			cfg.ExternalAddrs = append(cfg.ExternalAddrs, m(s))
		}
		if got := addressDiscoveryUseful(cfg); got != c.want {
			t.Errorf("listen %v, external %v: address discovery %v, want %v", c.listen, c.external, got, c.want)
		}
	}
}

// A loopback node runs neither AutoNAT's prober nor the observed-address
// manager, and its addresses are its listen addresses.
func TestLoopbackHostRunsNoAutoNATOrObservedAddrs(t *testing.T) {
	n, _ := testNode(t, 39, nil)
	buf := make([]byte, 1<<22)
	stacks := string(buf[:runtime.Stack(buf, true)])
	for _, f := range []string{"autonat.(*AmbientAutoNAT)", "observedaddrs.(*Manager)"} {
		if strings.Contains(stacks, f) {
			t.Errorf("a goroutine runs %s", f)
		}
	}
	if got, want := len(n.Host().Addrs()), len(n.cfg.ListenAddrs); got != want {
		t.Errorf("host advertises %v, listening on %v", n.Host().Addrs(), n.cfg.ListenAddrs)
	}
}

// BenchmarkHostGoroutines starts 8 nodes, connects them in a ring and
// reports the goroutines each idle host runs and those each connection end
// adds.
func BenchmarkHostGoroutines(b *testing.B) {
	const hosts = 8
	for b.Loop() {
		before := runtime.NumGoroutine()
		var nodes []*Node
		for i := range hosts {
			n, _ := testNode(b, 40+i, nil)
			nodes = append(nodes, n)
		}
		idle := runtime.NumGoroutine() - before
		for i, n := range nodes {
			next := nodes[(i+1)%hosts]
			if err := n.Dial(b.Context(), netAddrOf(b, next)); err != nil {
				b.Fatal(err)
			}
		}
		testwait.For(b, 10*time.Second, "ring connected", func() bool {
			for _, n := range nodes {
				if len(n.Peers()) != 2 {
					return false
				}
			}
			return true
		})
		connected := runtime.NumGoroutine() - before
		b.ReportMetric(float64(idle)/hosts, "goroutines/idle-host")
		b.ReportMetric(float64(connected-idle)/(2*hosts), "goroutines/conn-end")
		for _, n := range nodes {
			_ = n.Stop()
		}
	}
}
