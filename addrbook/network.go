package addrbook

import (
	"net/netip"
	"strconv"
)

// Address ranges the book treats specially: for validity, routability and
// network grouping. They are the ranges btcd and upstream use; the netip
// form makes every test a comparison, not an allocation.
var (
	rfc1918a   = netip.MustParsePrefix("10.0.0.0/8")
	rfc1918b   = netip.MustParsePrefix("172.16.0.0/12")
	rfc1918c   = netip.MustParsePrefix("192.168.0.0/16")
	rfc3849    = netip.MustParsePrefix("2001:db8::/32")
	rfc3927    = netip.MustParsePrefix("169.254.0.0/16")
	rfc3964    = netip.MustParsePrefix("2002::/16")
	rfc4193    = netip.MustParsePrefix("fc00::/7")
	rfc4380    = netip.MustParsePrefix("2001::/32")
	rfc4843    = netip.MustParsePrefix("2001:10::/28")
	rfc4862    = netip.MustParsePrefix("fe80::/64")
	rfc6052    = netip.MustParsePrefix("64:ff9b::/96")
	rfc6145    = netip.MustParsePrefix("::ffff:0:0:0/96")
	onionCat   = netip.MustParsePrefix("fd87:d87e:eb43::/48")
	zero4      = netip.MustParsePrefix("0.0.0.0/8")
	heNet      = netip.MustParsePrefix("2001:470::/32")
	broadcast4 = netip.AddrFrom4([4]byte{255, 255, 255, 255})
)

// in reports whether ip lies in p. IPv4-mapped addresses are unmapped first
// so they match IPv4 ranges, as net.IPNet.Contains does upstream.
func in(p netip.Prefix, ip netip.Addr) bool { return p.Contains(ip.Unmap()) }

// RFC1918 reports an IPv4 private address (10/8, 172.16/12, 192.168/16).
func (na NetAddress) RFC1918() bool {
	return in(rfc1918a, na.IP) || in(rfc1918b, na.IP) || in(rfc1918c, na.IP)
}

// RFC3849 reports an IPv6 documentation address (2001:db8::/32).
func (na NetAddress) RFC3849() bool { return in(rfc3849, na.IP) }

// RFC3927 reports an IPv4 link-local address (169.254/16).
func (na NetAddress) RFC3927() bool { return in(rfc3927, na.IP) }

// RFC3964 reports a 6to4 address (2002::/16).
func (na NetAddress) RFC3964() bool { return in(rfc3964, na.IP) }

// RFC4193 reports an IPv6 unique local address (fc00::/7).
func (na NetAddress) RFC4193() bool { return in(rfc4193, na.IP) }

// RFC4380 reports a Teredo address (2001::/32).
func (na NetAddress) RFC4380() bool { return in(rfc4380, na.IP) }

// RFC4843 reports an ORCHID address (2001:10::/28).
func (na NetAddress) RFC4843() bool { return in(rfc4843, na.IP) }

// RFC4862 reports an IPv6 link-local address (fe80::/64).
func (na NetAddress) RFC4862() bool { return in(rfc4862, na.IP) }

// RFC6052 reports an address in the NAT64 well-known prefix (64:ff9b::/96).
func (na NetAddress) RFC6052() bool { return in(rfc6052, na.IP) }

// RFC6145 reports an IPv4-translated address (::ffff:0:0:0/96).
func (na NetAddress) RFC6145() bool { return in(rfc6145, na.IP) }

// OnionCatTor reports an OnionCat (Tor) address (fd87:d87e:eb43::/48).
func (na NetAddress) OnionCatTor() bool { return in(onionCat, na.IP) }

// Local reports a loopback address or one in 0.0.0.0/8.
func (na NetAddress) Local() bool {
	return na.IP.IsLoopback() || in(zero4, na.IP)
}

// Valid returns an *AddressError when na cannot be stored in a book:
// no ID, no IP, an unspecified IP, an IPv6 documentation address or the
// IPv4 broadcast address. Port 0 is valid, as upstream has it. The ID's
// spelling is the IDRule's business; Valid only insists that there is one.
func (na NetAddress) Valid() error {
	if na.ID == "" {
		return &AddressError{Input: na.String(), Reason: "no ID"}
	}
	if !na.IP.IsValid() {
		return &AddressError{Input: na.String(), Reason: "no IP"}
	}
	ip := na.IP.Unmap()
	if ip.IsUnspecified() || in(rfc3849, ip) || ip == broadcast4 {
		return &AddressError{Input: na.String(), Reason: "unusable IP (unspecified, documentation or broadcast)"}
	}
	if ip.Zone() != "" {
		return &AddressError{Input: na.String(), Reason: "IPv6 zones are not allowed"}
	}
	return nil
}

// Routable reports whether na is valid and reachable across the public
// Internet: not private, link-local, unique-local, ORCHID or local.
// CGNAT, multicast and TEST-NET ranges count as routable, as upstream has
// them.
func (na NetAddress) Routable() bool {
	if na.Valid() != nil {
		return false
	}
	return !na.RFC1918() && !na.RFC3927() && !na.RFC4862() && !na.RFC4193() &&
		!na.RFC4843() && !na.Local()
}

// GroupKey returns the network group of na: the unit of the bucket
// hash, so that one operator with many addresses in one group cannot fill
// many buckets. In strict mode local and unroutable addresses collapse into
// one group each; otherwise they get ordinary /16 groups, which is what
// lets loopback test networks (127.1.0.1, 127.2.0.1, …) spread out.
func GroupKey(na NetAddress, strict bool) string {
	var buf [64]byte
	return string(appendGroupKey(buf[:0], na, strict))
}

// appendGroupKey is GroupKey without allocation; the bucket hash feeds it
// straight into a stack buffer.
func appendGroupKey(dst []byte, na NetAddress, strict bool) []byte {
	if strict && na.Local() {
		return append(dst, "local"...)
	}
	if strict && !na.Routable() {
		return append(dst, "unroutable"...)
	}
	ip := na.IP.Unmap()
	if !ip.IsValid() {
		return append(dst, "unroutable"...)
	}
	if ip.Is4() {
		return appendMasked4(dst, ip.As4())
	}
	b := ip.As16()
	switch {
	case in(rfc6145, ip) || in(rfc6052, ip):
		return appendMasked4(dst, [4]byte{b[12], b[13], b[14], b[15]})
	case in(rfc3964, ip):
		return appendMasked4(dst, [4]byte{b[2], b[3], b[4], b[5]})
	case in(rfc4380, ip):
		return appendMasked4(dst, [4]byte{b[12] ^ 0xff, b[13] ^ 0xff, b[14] ^ 0xff, b[15] ^ 0xff})
	case in(onionCat, ip):
		dst = append(dst, "tor:"...)
		return strconv.AppendInt(dst, int64(b[6]&0x0f), 10)
	}
	bits := 32
	if in(heNet, ip) {
		bits = 36
	}
	p, _ := ip.WithZone("").Prefix(bits)
	return p.Addr().AppendTo(dst)
}

// appendMasked4 writes the /16 of an IPv4 address as a dotted quad, the
// spelling upstream hashes.
func appendMasked4(dst []byte, a [4]byte) []byte {
	dst = strconv.AppendInt(dst, int64(a[0]), 10)
	dst = append(dst, '.')
	dst = strconv.AppendInt(dst, int64(a[1]), 10)
	return append(dst, ".0.0"...)
}
