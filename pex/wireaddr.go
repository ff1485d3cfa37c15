package pex

import (
	"net"
	"net/netip"
	"strconv"

	tmp2p "github.com/cometbft/cometbft/proto/tendermint/p2p"

	"github.com/pexp2p/pexp2p/addrbook"
)

// The wire form of an address lives here, with the messages that carry
// it, so that the address book does not import the protobuf packages.

// AddrToProto converts a book address to the wire type; the IP travels as
// text, as upstream sends it.
func AddrToProto(na addrbook.NetAddress) tmp2p.NetAddress {
	return tmp2p.NetAddress{ID: na.ID, IP: na.IP.String(), Port: uint32(na.Port)}
}

// AddrsToProto converts a slice for a PexAddrs message.
func AddrsToProto(addrs []addrbook.NetAddress) []tmp2p.NetAddress {
	out := make([]tmp2p.NetAddress, 0, len(addrs))
	for _, a := range addrs {
		out = append(out, AddrToProto(a))
	}
	return out
}

// AddrFromProto converts a wire address. Unlike upstream, the ID is
// validated too (upstream's NetAddressFromProto skips it). A bad address
// is an *addrbook.AddressError naming it.
func AddrFromProto(rule addrbook.IDRule, pb tmp2p.NetAddress) (addrbook.NetAddress, error) {
	input := pb.ID + "@" + net.JoinHostPort(pb.IP, strconv.FormatUint(uint64(pb.Port), 10))
	ip, err := netip.ParseAddr(pb.IP)
	if err != nil {
		return addrbook.NetAddress{}, &addrbook.AddressError{Input: input, Reason: "IP is not an IP literal"}
	}
	if ip.Zone() != "" {
		return addrbook.NetAddress{}, &addrbook.AddressError{Input: input, Reason: "IPv6 zones are not allowed"}
	}
	if pb.Port > 65535 {
		return addrbook.NetAddress{}, &addrbook.AddressError{Input: input, Reason: "port above 65535"}
	}
	nid, err := rule.Normalize(pb.ID)
	if err != nil {
		return addrbook.NetAddress{}, &addrbook.AddressError{Input: input, Reason: "bad ID", Err: err}
	}
	return addrbook.NetAddress{ID: nid, IP: ip.Unmap(), Port: uint16(pb.Port)}, nil
}
