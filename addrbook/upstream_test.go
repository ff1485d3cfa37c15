package addrbook

import (
	"net"

	"github.com/cometbft/cometbft/p2p"
)

// upAddr hands an address to upstream's book in the tests that run the
// same steps on both. The exported conversion is in interop/upstreamconv;
// it imports this package, so tests inside it cannot use it. IPv4 gets
// the 16-byte form net.ParseIP gives, as in upstream's own parsing.
func upAddr(na NetAddress) *p2p.NetAddress {
	var ip net.IP
	if na.IP.IsValid() {
		ip = net.IP(na.IP.Unmap().AsSlice()).To16()
	}
	return &p2p.NetAddress{ID: p2p.ID(na.ID), IP: ip, Port: na.Port}
}
