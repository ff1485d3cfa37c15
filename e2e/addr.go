package e2e

import (
	"fmt"
	"net"
	"net/netip"
)

// The nodes live in 100.64.0.0/10 (RFC 6598, shared address space). The
// address book counts it as routable, as upstream's does, so strict books
// (addr_book_strict=true) accept these addresses and bucket them by /16:
// 64 groups. Unlike RFC 1918 space it is not what a host's own LAN
// normally uses, and the runner refuses to start if the host holds any
// address in it, so nothing inside a run can shadow or reach a real
// address. Every node is on-link for the whole /10 (one flat bridge), so
// no router and no route beyond the link exist anywhere in the run.
var (
	netPrefix = netip.MustParsePrefix("100.64.0.0/10")
	// NetBits is the prefix length each node's interface carries.
	NetBits = netPrefix.Bits()
)

// NodeIP is the k-th address (0-based) of group g (0-based):
// 100.(64+g).(k/250).(k%250+1), so the group is the address's /16 and no
// address ends in .0 or .255.
func NodeIP(g, k int) netip.Addr {
	return netip.AddrFrom4([4]byte{100, byte(64 + g), byte(k / 250), byte(k%250 + 1)})
}

// GroupOf is the /16 group number of an address NodeIP made, or -1.
func GroupOf(ip netip.Addr) int {
	if !netPrefix.Contains(ip) {
		return -1
	}
	return int(ip.As4()[1]) - 64
}

// checkHostAddrs refuses to run when an address of the host lies in the
// run's prefix: the run's addresses must exist only inside its namespaces.
func checkHostAddrs(addrs []net.Addr) error {
	for _, a := range addrs {
		var ip net.IP
		switch v := a.(type) {
		case *net.IPNet:
			ip = v.IP
		case *net.IPAddr:
			ip = v.IP
		default:
			continue
		}
		if na, ok := netip.AddrFromSlice(ip); ok && netPrefix.Contains(na.Unmap()) {
			return fmt.Errorf("the host has address %s inside %s, the range the testnet uses; refusing to run so that no node address can shadow a real one", na.Unmap(), netPrefix)
		}
	}
	return nil
}
