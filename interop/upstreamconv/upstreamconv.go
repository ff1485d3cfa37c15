// Package upstreamconv converts between addrbook.NetAddress and upstream
// CometBFT's *p2p.NetAddress, for the tests and benchmarks that drive both
// books with the same addresses. It lives outside addrbook so that the
// book does not pull in upstream's networking packages (and goleveldb
// behind them) just to offer a conversion only comparisons need.
package upstreamconv

import (
	"net"
	"net/netip"

	"github.com/cometbft/cometbft/p2p"

	"github.com/pexp2p/pexp2p/addrbook"
)

// FromUpstream converts upstream's address. The ID must pass rule, which
// upstream's own NetAddressFromProto does not check; nil, a missing or a
// malformed IP are an *addrbook.AddressError (errors.Is
// addrbook.ErrInvalidAddress) naming the address.
func FromUpstream(rule addrbook.IDRule, u *p2p.NetAddress) (addrbook.NetAddress, error) {
	if u == nil {
		return addrbook.NetAddress{}, &addrbook.AddressError{Input: "<nil>", Reason: "nil address"}
	}
	ip, ok := netip.AddrFromSlice(u.IP)
	if !ok {
		return addrbook.NetAddress{}, &addrbook.AddressError{Input: u.String(), Reason: "IP is not 4 or 16 bytes"}
	}
	return addrbook.NewNetAddress(rule, string(u.ID), ip, u.Port)
}

// ToUpstream converts to upstream's type. IPv4 addresses get the 16-byte
// form net.ParseIP produces, so upstream's comparisons and String() treat
// them as they treat addresses upstream parsed itself.
func ToUpstream(na addrbook.NetAddress) *p2p.NetAddress {
	var ip net.IP
	if na.IP.IsValid() {
		ip = net.IP(na.IP.Unmap().AsSlice())
		if na.IP.Unmap().Is4() {
			ip = ip.To16()
		}
	}
	return &p2p.NetAddress{ID: p2p.ID(na.ID), IP: ip, Port: na.Port}
}
