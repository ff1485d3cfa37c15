package transport

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	ma "github.com/multiformats/go-multiaddr"
	madns "github.com/multiformats/go-multiaddr-dns"

	"github.com/pexp2p/pexp2p/internal/testwait"
)

func TestReactorSeeds(t *testing.T) {
	a, b, c := testPeer(t, 1), testPeer(t, 2), testPeer(t, 3)
	mock := &madns.MockResolver{
		IP: map[string][]net.IPAddr{},
		TXT: map[string][]string{
			"_dnsaddr.boot.example": {
				"dnsaddr=/ip4/10.0.0.7/tcp/26656/p2p/" + c.String(),
				"dnsaddr=/dns4/c.example/udp/26656/quic-v1/p2p/" + c.String(),
				"dnsaddr=/ip4/10.0.0.8/tcp/26656/p2p/" + b.String(), // another peer: filtered out
			},
		},
	}
	r, err := madns.NewResolver(madns.WithDefaultResolver(mock))
	if err != nil {
		t.Fatal(err)
	}
	var seeds []ConfigPeer
	for _, s := range []string{
		a.String() + "@10.0.0.1:26656", // QUIC and TCP forms collapse to one seed
		b.String() + "@seed.example:26656",
		"/dnsaddr/boot.example/p2p/" + c.String(),
	} {
		p, err := ParseConfigPeer(s)
		if err != nil {
			t.Fatal(err)
		}
		seeds = append(seeds, p)
	}
	got, errs := ReactorSeeds(context.Background(), seeds, r)
	want := []string{
		a.String() + "@10.0.0.1:26656",
		b.String() + "@seed.example:26656",
		c.String() + "@10.0.0.7:26656",
		c.String() + "@c.example:26656",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) || len(errs) != 0 {
		t.Fatalf("got %v (errs %v), want %v", got, errs, want)
	}
	// Without a resolver a /dnsaddr seed is reported, not silently lost.
	_, errs = ReactorSeeds(context.Background(), seeds[2:], nil)
	if len(errs) != 1 || !errors.Is(errs[0], ErrConfigPeer) {
		t.Fatalf("errs %v", errs)
	}
}

// A persistent peer given by DNS name is resolved when dialed (libp2p's
// swarm resolves /dns multiaddrs) and kept connected by the node.
func TestPersistentPeerByDNSName(t *testing.T) {
	if _, err := net.LookupHost("localhost"); err != nil {
		t.Skip("no localhost name")
	}
	b, _ := testNode(t, 1, func(c *Config) {
		c.ListenAddrs = []ma.Multiaddr{ma.StringCast("/ip4/127.0.0.1/udp/0/quic-v1"), ma.StringCast("/ip4/127.0.0.1/tcp/0")}
	})
	port := netAddrOf(t, b).Port
	p, err := ParseConfigPeer(fmt.Sprintf("%s@localhost:%d", b.ID(), port))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := p.NetAddress(); ok {
		t.Fatal("a DNS peer must not yield a book address")
	}
	a, ha := testNode(t, 2, func(c *Config) {
		c.PersistentPeers = []ConfigPeer{p}
		c.PersistentDialPeriod = 200 * time.Millisecond
	})
	testwait.For(t, 10*time.Second, "persistent DNS peer connected", func() bool {
		added, _, _ := ha.snapshot()
		return added[b.ID().String()].Persistent
	})
	if !a.IsPersistent(netAddrOf(t, b)) {
		t.Fatal("IsPersistent false")
	}
	// Dropped, it comes back.
	_ = a.Host().Network().ClosePeer(b.ID())
	testwait.For(t, 10*time.Second, "persistent peer reconnected", func() bool {
		_, removed, _ := ha.snapshot()
		return removed[b.ID().String()] >= 1 && hasPeer(a, b.ID())
	})
	_ = context.Background
}
