package transport

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// sharedPorts gives port-0 listen addresses one port number per IP that
// is free for both TCP and UDP, so that a node's QUIC and TCP addresses
// share the port a NetAddress can carry (the kubo and lp2p convention).
func sharedPorts(addrs []ma.Multiaddr) ([]ma.Multiaddr, error) {
	chosen := map[netip.Addr]uint16{}
	out := make([]ma.Multiaddr, 0, len(addrs))
	for _, a := range addrs {
		ip, port, tpt, _, err := splitListen(a)
		if err != nil {
			return nil, err
		}
		if port != 0 {
			out = append(out, a)
			continue
		}
		p, ok := chosen[ip]
		if !ok {
			p, err = freeSharedPort(ip)
			if err != nil {
				return nil, fmt.Errorf("transport: choosing a port for %s: %w", a, err)
			}
			chosen[ip] = p
		}
		fam := "ip4"
		if ip.Is6() {
			fam = "ip6"
		}
		text := fmt.Sprintf("/%s/%s/tcp/%d", fam, ip, p)
		if tpt == TransportQUIC {
			text = fmt.Sprintf("/%s/%s/udp/%d/quic-v1", fam, ip, p)
		}
		m, err := ma.NewMultiaddr(text)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

// splitListen is SplitMultiaddr for listen addresses, where the
// unspecified IP and port 0 are allowed.
func splitListen(a ma.Multiaddr) (netip.Addr, uint16, Transport, peer.ID, error) {
	if len(a) < 2 {
		return netip.Addr{}, 0, 0, "", maErr(a.String(), ErrUnsupportedAddr, "listen address", nil)
	}
	ip, _ := netip.AddrFromSlice(a[0].RawValue())
	port := uint16(0)
	if raw := a[1].RawValue(); len(raw) == 2 {
		port = uint16(raw[0])<<8 | uint16(raw[1])
	}
	// Validate the shape on a stand-in with a usable IP and port.
	probe := slices.Clone(a)
	fam := "ip4"
	if a[0].Code() == ma.P_IP6 {
		fam = "ip6"
	}
	stand := "192.0.2.1"
	if fam == "ip6" {
		stand = "2001:db8::1"
	}
	probe[0] = *mustComponent(fam, stand)
	if port == 0 {
		probe[1] = *mustComponent(a[1].Protocol().Name, "1")
	}
	_, _, tpt, id, err := SplitMultiaddr(probe)
	if err != nil {
		var me *MultiaddrError
		if errors.As(err, &me) {
			me.Addr = a.String()
		}
		return ip, 0, 0, "", err
	}
	return ip.Unmap(), port, tpt, id, nil
}

func freeSharedPort(ip netip.Addr) (uint16, error) {
	var last error
	for range 20 {
		tl, err := net.Listen("tcp", netip.AddrPortFrom(ip, 0).String())
		if err != nil {
			return 0, err
		}
		port := uint16(tl.Addr().(*net.TCPAddr).Port)
		ul, err := net.ListenPacket("udp", netip.AddrPortFrom(ip, port).String())
		_ = tl.Close()
		if err != nil {
			last = err
			continue
		}
		_ = ul.Close()
		return port, nil
	}
	return 0, last
}
