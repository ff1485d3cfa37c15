package addrbook

import (
	"net"
	"net/netip"

	"github.com/cometbft/cometbft/p2p"
)

// FromUpstream converts upstream's *p2p.NetAddress (item 2). The ID must
// pass rule (upstream's own NetAddressFromProto does not check it, N6);
// nil, a missing or malformed IP are *AddressError.
func FromUpstream(rule IDRule, u *p2p.NetAddress) (NetAddress, error) {
	if u == nil {
		return NetAddress{}, &AddressError{Input: "<nil>", Reason: "nil address"}
	}
	ip, ok := netip.AddrFromSlice(u.IP)
	if !ok {
		return NetAddress{}, &AddressError{Input: u.String(), Reason: "IP is not 4 or 16 bytes"}
	}
	return NewNetAddress(rule, string(u.ID), ip, u.Port)
}

// ToUpstream converts to upstream's type, e.g. to hand an address to
// upstream's switch on the classic face. IPv4 addresses get the 16-byte
// form net.ParseIP produces, so upstream's comparisons and String() treat
// them as it treats its own.
func (na NetAddress) ToUpstream() *p2p.NetAddress {
	var ip net.IP
	if na.IP.IsValid() {
		ip = net.IP(na.IP.Unmap().AsSlice())
		if na.IP.Unmap().Is4() {
			ip = ip.To16()
		}
	}
	return &p2p.NetAddress{ID: p2p.ID(na.ID), IP: ip, Port: na.Port}
}
