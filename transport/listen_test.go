package transport

import (
	"errors"
	"net/netip"
	"testing"

	ma "github.com/multiformats/go-multiaddr"
)

func TestSplitListenAllowsWhatOnlyListeningNeeds(t *testing.T) {
	for _, c := range []struct {
		addr string
		ip   string
		port uint16
		tpt  Transport
	}{
		{"/ip4/0.0.0.0/tcp/0", "0.0.0.0", 0, TransportTCP},
		{"/ip6/::/udp/0/quic-v1", "::", 0, TransportQUIC},
		{"/ip4/127.0.0.1/udp/26656/quic-v1", "127.0.0.1", 26656, TransportQUIC},
		{"/ip6/::ffff:127.0.0.1/tcp/5", "127.0.0.1", 5, TransportTCP},
	} {
		ip, port, tpt, _, err := splitListen(ma.StringCast(c.addr))
		if err != nil || ip != netip.MustParseAddr(c.ip) || port != c.port || tpt != c.tpt {
			t.Errorf("splitListen(%s) = %v %d %v, %v; want %s %d %v", c.addr, ip, port, tpt, err, c.ip, c.port, c.tpt)
		}
	}
}

func TestSplitListenRefusesOtherShapes(t *testing.T) {
	for _, c := range []struct {
		addr string
		kind error
	}{
		{"/ip4/0.0.0.0/tcp/0/ws", ErrUnsupportedAddr},
		{"/ip4/0.0.0.0/udp/0", ErrUnsupportedAddr},
		{"/ip4/0.0.0.0", ErrUnsupportedAddr},
		{"/dns4/example.com/tcp/0", ErrDNSAddr},
		{"/unix/tmp/sock", ErrUnsupportedAddr},
	} {
		m := ma.StringCast(c.addr)
		_, _, _, _, err := splitListen(m)
		var me *MultiaddrError
		if !errors.Is(err, c.kind) || !errors.As(err, &me) || me.Addr != m.String() {
			t.Errorf("splitListen(%s): %v; want %v naming the address", c.addr, err, c.kind)
		}
	}
}

func TestSharedPortsGivesQUICAndTCPOnePort(t *testing.T) {
	out, err := sharedPorts([]ma.Multiaddr{
		ma.StringCast("/ip4/127.0.0.1/udp/0/quic-v1"),
		ma.StringCast("/ip4/127.0.0.1/tcp/0"),
		ma.StringCast("/ip4/127.0.0.1/tcp/1234"),
	})
	if err != nil {
		t.Fatal(err)
	}
	_, quicPort, quic, _, err1 := SplitMultiaddr(out[0])
	_, tcpPort, tcp, _, err2 := SplitMultiaddr(out[1])
	if err1 != nil || err2 != nil || quic != TransportQUIC || tcp != TransportTCP || quicPort != tcpPort {
		t.Fatalf("shared ports: %v (%v, %v)", out, err1, err2)
	}
	if out[2].String() != "/ip4/127.0.0.1/tcp/1234" {
		t.Fatalf("a fixed port was changed: %v", out[2])
	}
}
