package transport

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/pexp2p/pexp2p/addrbook"
)

func testPeer(t testing.TB, b byte) peer.ID {
	t.Helper()
	k, err := GenNodeKey(strings.NewReader(strings.Repeat(string(rune('a'+b%26)), 64)))
	if err != nil {
		t.Fatal(err)
	}
	return k.PeerID()
}

func TestNetAddressToMultiaddrs(t *testing.T) {
	id := testPeer(t, 1)
	cases := []struct {
		ip         string
		quic, tcp_ string
	}{
		{"1.2.3.4", "/ip4/1.2.3.4/udp/26656/quic-v1/p2p/", "/ip4/1.2.3.4/tcp/26656/p2p/"},
		{"2001:db8::1", "/ip6/2001:db8::1/udp/26656/quic-v1/p2p/", "/ip6/2001:db8::1/tcp/26656/p2p/"},
		{"::ffff:10.0.0.1", "/ip4/10.0.0.1/udp/26656/quic-v1/p2p/", "/ip4/10.0.0.1/tcp/26656/p2p/"},
	}
	for _, c := range cases {
		na := addrbook.NetAddress{ID: id.String(), IP: netip.MustParseAddr(c.ip), Port: 26656}
		got, err := NetAddressToMultiaddrs(na)
		if err != nil || len(got) != 2 {
			t.Fatalf("%s: %v %v", c.ip, got, err)
		}
		if got[0].String() != c.quic+id.String() || got[1].String() != c.tcp_+id.String() {
			t.Fatalf("%s: got %v", c.ip, got)
		}
		for i, m := range got {
			back, tpt, err := NetAddressFromMultiaddr(m, id)
			if err != nil || back != (addrbook.NetAddress{ID: id.String(), IP: na.IP.Unmap(), Port: 26656}) {
				t.Fatalf("round trip of %s: %v %v", m, back, err)
			}
			if want := []Transport{TransportQUIC, TransportTCP}[i]; tpt != want {
				t.Fatalf("%s: transport %v", m, tpt)
			}
		}
	}
	bad := []struct {
		na   addrbook.NetAddress
		kind error
	}{
		{addrbook.NetAddress{ID: "c14ff30999c0d33fc2eff45b09ffee7b4c4a3527", IP: netip.MustParseAddr("1.2.3.4"), Port: 1}, ErrNoPeerID},
		{addrbook.NetAddress{ID: id.String(), IP: netip.MustParseAddr("1.2.3.4"), Port: 0}, ErrPortZero},
		{addrbook.NetAddress{ID: id.String(), IP: netip.MustParseAddr("fe80::1%eth0"), Port: 1}, ErrIPv6Zone},
		{addrbook.NetAddress{ID: id.String(), IP: netip.MustParseAddr("0.0.0.0"), Port: 1}, ErrUnspecifiedIP},
		{addrbook.NetAddress{ID: id.String(), Port: 1}, ErrMalformedMultiaddr},
	}
	for _, b := range bad {
		_, err := NetAddressToMultiaddrs(b.na)
		if !errors.Is(err, b.kind) || !errors.Is(err, ErrMultiaddr) {
			t.Fatalf("%v: %v, want %v", b.na, err, b.kind)
		}
	}
}

func TestNetAddressFromMultiaddrRejects(t *testing.T) {
	id := testPeer(t, 1)
	other := testPeer(t, 2)
	p := "/p2p/" + id.String()
	cases := []struct {
		addr string
		kind error
	}{
		{"/ip4/1.2.3.4/tcp/4001/p2p/" + other.String() + "/p2p-circuit" + p, ErrRelayAddr},
		{"/ip4/1.2.3.4/udp/4001/quic-v1/p2p/" + other.String() + "/p2p-circuit", ErrRelayAddr},
		{"/dns/example.com/tcp/4001" + p, ErrDNSAddr},
		{"/dns4/example.com/udp/4001/quic-v1" + p, ErrDNSAddr},
		{"/dns6/example.com/tcp/4001", ErrDNSAddr},
		{"/dnsaddr/bootstrap.example.com" + p, ErrDNSAddr},
		{"/ip4/1.2.3.4/tcp/4001/ws" + p, ErrUnsupportedAddr},
		{"/ip4/1.2.3.4/tcp/443/wss", ErrUnsupportedAddr},
		{"/ip4/1.2.3.4/tcp/443/tls/sni/example.com/ws", ErrUnsupportedAddr},
		{"/ip4/1.2.3.4/udp/4001/quic-v1/webtransport/certhash/uEiDDq4_xNyDorZBH3TlGazyJdOWSwvo4PUo5YHFMrvDE8g", ErrUnsupportedAddr},
		{"/ip4/1.2.3.4/udp/4001/webrtc-direct/certhash/uEiDDq4_xNyDorZBH3TlGazyJdOWSwvo4PUo5YHFMrvDE8g", ErrUnsupportedAddr},
		{"/ip4/1.2.3.4/udp/4001/quic", ErrUnsupportedAddr},
		{"/ip6zone/eth0/ip6/fe80::1/tcp/4001", ErrIPv6Zone},
		{"/ip4/1.2.3.4/tcp/4001/p2p/" + other.String(), ErrPeerMismatch},
		{"/ip4/1.2.3.4/tcp/0" + p, ErrPortZero},
		{"/ip4/1.2.3.4/udp/0/quic-v1" + p, ErrPortZero},
		{"/ip4/0.0.0.0/tcp/4001" + p, ErrUnspecifiedIP},
		{"/ip6/::/tcp/4001" + p, ErrUnspecifiedIP},
		{"/ip6/::ffff:1.2.3.4/tcp/4001" + p, ErrMappedIPv6},
		{"/ip4/1.2.3.4/udp/4001" + p, ErrUnsupportedAddr},
		{"/ip4/1.2.3.4", ErrUnsupportedAddr},
		{"/ip4/1.2.3.4/tcp/1/tcp/2", ErrUnsupportedAddr},
		{"/ip4/1.2.3.4/tcp/1" + p + p, ErrUnsupportedAddr},
		{p, ErrUnsupportedAddr},
		{"/unix/tmp/sock", ErrUnsupportedAddr},
	}
	for _, c := range cases {
		m, err := ma.NewMultiaddr(c.addr)
		if err != nil {
			t.Fatalf("test address %s: %v", c.addr, err)
		}
		_, _, err = NetAddressFromMultiaddr(m, id)
		var me *MultiaddrError
		if !errors.Is(err, c.kind) || !errors.Is(err, ErrMultiaddr) || !errors.As(err, &me) || me.Addr != m.String() {
			t.Errorf("%s: got %v, want %v", c.addr, err, c.kind)
		}
	}
	// Without an expected peer and without /p2p, there is no ID.
	m := ma.StringCast("/ip4/1.2.3.4/tcp/4001")
	if _, _, err := NetAddressFromMultiaddr(m, ""); !errors.Is(err, ErrNoPeerID) {
		t.Fatalf("no ID: %v", err)
	}
	if _, _, err := NetAddressFromMultiaddr(nil, ""); !errors.Is(err, ErrMalformedMultiaddr) {
		t.Fatalf("empty: %v", err)
	}
	// The /p2p part alone is enough when no peer is expected.
	na, _, err := NetAddressFromMultiaddr(ma.StringCast("/ip4/1.2.3.4/tcp/4001"+p), "")
	if err != nil || na.ID != id.String() {
		t.Fatalf("/p2p only: %v %v", na, err)
	}
}

func TestParseConfigPeer(t *testing.T) {
	id := testPeer(t, 3)
	good := []struct {
		in    string
		addrs []string
		na    string // "" when DNS-only
	}{
		{"/ip4/10.1.2.3/tcp/26656/p2p/" + id.String(), []string{"/ip4/10.1.2.3/tcp/26656/p2p/" + id.String()}, "10.1.2.3:26656"},
		{"/ip6/2001:db8::5/udp/26656/quic-v1/p2p/" + id.String(), []string{"/ip6/2001:db8::5/udp/26656/quic-v1/p2p/" + id.String()}, "[2001:db8::5]:26656"},
		{id.String() + "@10.1.2.3:26656", []string{"/ip4/10.1.2.3/udp/26656/quic-v1/p2p/" + id.String(), "/ip4/10.1.2.3/tcp/26656/p2p/" + id.String()}, "10.1.2.3:26656"},
		{"tcp://" + id.String() + "@[2001:db8::5]:1", []string{"/ip6/2001:db8::5/udp/1/quic-v1/p2p/" + id.String(), "/ip6/2001:db8::5/tcp/1/p2p/" + id.String()}, "[2001:db8::5]:1"},
		{id.String() + "@seed.example.com:26656", []string{"/dns/seed.example.com/udp/26656/quic-v1/p2p/" + id.String(), "/dns/seed.example.com/tcp/26656/p2p/" + id.String()}, ""},
		{"/dns4/seed.example.com/tcp/26656/p2p/" + id.String(), []string{"/dns4/seed.example.com/tcp/26656/p2p/" + id.String()}, ""},
		{"/dnsaddr/bootstrap.example.com/p2p/" + id.String(), []string{"/dnsaddr/bootstrap.example.com/p2p/" + id.String()}, ""},
	}
	for _, g := range good {
		p, err := ParseConfigPeer(g.in)
		if err != nil {
			t.Fatalf("%s: %v", g.in, err)
		}
		if p.ID != id || len(p.Addrs) != len(g.addrs) {
			t.Fatalf("%s: %+v", g.in, p)
		}
		for i := range g.addrs {
			if p.Addrs[i].String() != g.addrs[i] {
				t.Fatalf("%s: addr %d = %s, want %s", g.in, i, p.Addrs[i], g.addrs[i])
			}
		}
		na, ok := p.NetAddress()
		if g.na == "" && ok || g.na != "" && (!ok || na.DialString() != g.na || na.ID != id.String()) {
			t.Fatalf("%s: NetAddress %v %v", g.in, na, ok)
		}
		ai := p.AddrInfo()
		if ai.ID != id || len(ai.Addrs) != len(g.addrs) {
			t.Fatalf("%s: AddrInfo %v", g.in, ai)
		}
	}
	bad := []struct {
		in   string
		kind error // an extra kind besides ErrConfigPeer, or nil
	}{
		{"", nil},
		{"c14ff30999c0d33fc2eff45b09ffee7b4c4a3527@1.2.3.4:26656", addrbook.ErrInvalidID},
		{"/ip4/1.2.3.4/tcp/26656", ErrNoPeerID},
		{"/ip4/1.2.3.4/tcp/26656/p2p/" + id.String() + "/p2p-circuit/p2p/" + id.String(), ErrRelayAddr},
		{"/dns4/x.example/tcp/1/ws/p2p/" + id.String(), ErrUnsupportedAddr},
		{"/dnsaddr/x.example/tcp/1/p2p/" + id.String(), ErrUnsupportedAddr},
		{id.String() + "@1.2.3.4:0", ErrPortZero},
		{id.String() + "@[fe80::1%eth0]:1", ErrIPv6Zone},
		{id.String() + "@0.0.0.0:1", ErrUnspecifiedIP},
		{id.String() + "1.2.3.4:1", nil},
		{"/not/a/multiaddr", ErrMalformedMultiaddr},
	}
	for _, b := range bad {
		_, err := ParseConfigPeer(b.in)
		var ce *ConfigPeerError
		if !errors.Is(err, ErrConfigPeer) || !errors.As(err, &ce) || ce.Input != b.in || (b.kind != nil && !errors.Is(err, b.kind)) {
			t.Errorf("%q: got %v, want %v", b.in, err, b.kind)
		}
	}
	list, err := ParseConfigPeers(" , " + id.String() + "@10.0.0.1:1,/ip4/10.0.0.2/tcp/2/p2p/" + id.String() + ",")
	if err != nil || len(list) != 1 || len(list[0].Addrs) != 3 {
		t.Fatalf("list: %+v %v", list, err)
	}
	if _, err := ParseConfigPeers("x@y"); !errors.Is(err, ErrConfigPeer) {
		t.Fatalf("bad list: %v", err)
	}
}

// FuzzMultiaddr: translating arbitrary multiaddr bytes never panics, every
// error is typed, and every accepted multiaddr round-trips exactly.
func FuzzMultiaddr(f *testing.F) {
	id := testPeer(f, 5)
	for _, s := range []string{
		"/ip4/1.2.3.4/tcp/26656/p2p/" + id.String(),
		"/ip6/2001:db8::1/udp/26656/quic-v1",
		"/ip4/1.2.3.4/tcp/4001/p2p/" + id.String() + "/p2p-circuit",
		"/dnsaddr/x.example",
		"/ip6zone/x/ip6/fe80::1/tcp/1",
	} {
		f.Add(ma.StringCast(s).Bytes())
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ma.NewMultiaddrBytes(data)
		if err != nil {
			return
		}
		na, tpt, err := NetAddressFromMultiaddr(m, "")
		if err != nil {
			if !errors.Is(err, ErrMultiaddr) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		out, err := NetAddressToMultiaddrs(na)
		if err != nil {
			t.Fatalf("%s accepted as %v but not translatable back: %v", m, na, err)
		}
		want := out[0]
		if tpt == TransportTCP {
			want = out[1]
		}
		// The input may lack /p2p; compare on the transport part then.
		if _, hasID := peer.SplitAddr(m); hasID == "" {
			want, _ = peer.SplitAddr(want)
		}
		if !want.Equal(m) {
			t.Fatalf("round trip %s -> %v -> %s", m, na, want)
		}
	})
}

func TestIPPortMultiaddrSpellsEachTransport(t *testing.T) {
	for _, c := range []struct {
		ip   string
		port uint16
		tpt  Transport
		want string
	}{
		{"1.2.3.4", 26656, TransportQUIC, "/ip4/1.2.3.4/udp/26656/quic-v1"},
		{"1.2.3.4", 26656, TransportTCP, "/ip4/1.2.3.4/tcp/26656"},
		{"2001:db8::1", 1, TransportTCP, "/ip6/2001:db8::1/tcp/1"},
		{"::ffff:10.0.0.1", 7, TransportQUIC, "/ip4/10.0.0.1/udp/7/quic-v1"},
		{"0.0.0.0", 0, TransportTCP, "/ip4/0.0.0.0/tcp/0"},
		{"::", 0, TransportQUIC, "/ip6/::/udp/0/quic-v1"},
	} {
		m, err := IPPortMultiaddr(netip.MustParseAddr(c.ip), c.port, c.tpt)
		if err != nil || m.String() != c.want {
			t.Errorf("IPPortMultiaddr(%s, %d, %v) = %v, %v; want %s", c.ip, c.port, c.tpt, m, err, c.want)
		}
	}
}

func TestIPPortMultiaddrRejects(t *testing.T) {
	for _, c := range []struct {
		ip   netip.Addr
		tpt  Transport
		kind error
		addr string
	}{
		{netip.Addr{}, TransportTCP, ErrMalformedMultiaddr, "<no IP>:1"},
		{netip.MustParseAddr("fe80::1%eth0"), TransportTCP, ErrIPv6Zone, "[fe80::1%eth0]:1"},
		{netip.MustParseAddr("1.2.3.4"), Transport(9), ErrUnsupportedAddr, "1.2.3.4:1"},
		{netip.MustParseAddr("1.2.3.4"), 0, ErrUnsupportedAddr, "1.2.3.4:1"},
	} {
		_, err := IPPortMultiaddr(c.ip, 1, c.tpt)
		var me *MultiaddrError
		if !errors.Is(err, c.kind) || !errors.As(err, &me) || me.Addr != c.addr {
			t.Errorf("IPPortMultiaddr(%v, 1, %v): %v; want %v naming %q", c.ip, c.tpt, err, c.kind, c.addr)
		}
	}
}
