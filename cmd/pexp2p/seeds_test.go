package main

import (
	"log/slog"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	ma "github.com/multiformats/go-multiaddr"
	madns "github.com/multiformats/go-multiaddr-dns"

	"github.com/pexp2p/pexp2p/internal/testwait"
	"github.com/pexp2p/pexp2p/pexnode"
	"github.com/pexp2p/pexp2p/transport"
)

// seedTestNode builds an in-process node on ip (QUIC, ephemeral port)
// with the given p2p.seeds value.
func seedTestNode(t *testing.T, ip, seeds string, r transport.MultiaddrResolver) *p2pNode {
	t.Helper()
	cfg := DefaultConfig()
	cfg.ChainID = "seeds-test"
	cfg.P2P.AddrBookStrict = false
	cfg.P2P.EnsurePeersPeriod = Duration(300 * time.Millisecond)
	cfg.P2P.Seeds = seeds
	key, err := transport.GenNodeKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	l, err := ma.NewMultiaddr("/ip4/" + ip + "/udp/0/quic-v1")
	if err != nil {
		t.Fatal(err)
	}
	n, err := newP2PNode(nodeOptions{cfg: cfg, key: key, listen: []ma.Multiaddr{l}, resolver: r})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := n.Stop(); err != nil {
			t.Error(err)
		}
	})
	return n
}

// Configured seeds reach the reactor and the face from the command, in
// each accepted form: a multiaddr with /p2p, peerID@host:port, and a
// /dnsaddr name resolved at start (a node with an empty book dials its
// seeds). The node connects to the loopback seed in every case.
func TestSeedsFromConfig(t *testing.T) {
	seed := seedTestNode(t, "127.0.0.1", "", nil)
	id := seed.Key.PeerID().String()
	as := seed.Transport.OurNetAddresses()
	if len(as) == 0 {
		t.Fatal("seed has no address")
	}
	addr := as[0] // id@127.0.0.1:port
	maddr := "/ip4/127.0.0.1/udp/" + itoa(addr.Port) + "/quic-v1/p2p/" + id
	mock := &madns.MockResolver{TXT: map[string][]string{"_dnsaddr.seed.test": {"dnsaddr=" + maddr}}}
	r, err := madns.NewResolver(madns.WithDefaultResolver(mock))
	if err != nil {
		t.Fatal(err)
	}
	for i, tc := range []struct{ name, seeds string }{
		{"multiaddr", maddr},
		{"id@host:port", addr.String()},
		{"dnsaddr", "/dnsaddr/seed.test/p2p/" + id},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := seedTestNode(t, "127.0.0."+itoa(uint16(i+2)), tc.seeds, r)
			testwait.For(t, 15*time.Second, "connection to the seed", func() bool {
				for _, p := range n.Transport.Peers() {
					if p.ID == id {
						return true
					}
				}
				return false
			})
		})
	}
}

// The reactor gets every usable seed in "id@host:port" form; a /dnsaddr
// seed that does not resolve is left out (and logged), not fatal, so a
// node with a book can still start when DNS is down.
func TestReactorSeedsStrings(t *testing.T) {
	key, err := transport.GenNodeKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	id := key.PeerID().String()
	mock := &madns.MockResolver{
		IP:  map[string][]net.IPAddr{},
		TXT: map[string][]string{"_dnsaddr.ok.test": {"dnsaddr=/ip4/10.1.2.3/tcp/26656/p2p/" + id}},
	}
	r, err := madns.NewResolver(madns.WithDefaultResolver(mock))
	if err != nil {
		t.Fatal(err)
	}
	cps, err := transport.ParseConfigPeers(strings.Join([]string{
		id + "@10.0.0.1:26656",
		id + "@seed.example:26657",
		"/dnsaddr/ok.test/p2p/" + id,
		"/dnsaddr/missing.test/p2p/" + id,
	}, ","))
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(pexnode.ReactorSeeds(cps, r, slog.Default()), ",")
	want := strings.Join([]string{id + "@10.0.0.1:26656", id + "@seed.example:26657", id + "@10.1.2.3:26656"}, ",")
	if got != want {
		t.Fatalf("reactor seeds\n got %s\nwant %s", got, want)
	}
	if pexnode.ReactorSeeds(nil, r, slog.Default()) != nil {
		t.Fatal("no seeds must give none")
	}
}

func itoa(p uint16) string { return strconv.Itoa(int(p)) }
