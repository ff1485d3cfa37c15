package transport

import (
	"fmt"
	"net"
	"net/netip"

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
		m, err := IPPortMultiaddr(ip, p, tpt)
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
	return splitMultiaddr(a, allowListen)
}

// freeSharedPort finds a port free for both TCP and UDP on ip. The two
// probes are not atomic, so a port taken in between is tried again.
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
