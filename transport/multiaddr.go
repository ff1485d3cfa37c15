package transport

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"

	"github.com/pexp2p/pexp2p/addrbook"
	"github.com/pexp2p/pexp2p/internal/errmsg"
)

// Transport names which libp2p transport a translated multiaddr uses.
type Transport int

const (
	TransportQUIC Transport = iota + 1 // /udp/<port>/quic-v1
	TransportTCP                       // /tcp/<port>
)

func (t Transport) String() string {
	switch t {
	case TransportQUIC:
		return "quic-v1"
	case TransportTCP:
		return "tcp"
	default:
		return "transport(" + strconv.Itoa(int(t)) + ")"
	}
}

// Multiaddr translation errors. Each *MultiaddrError wraps ErrMultiaddr
// and one kind, so callers can say exactly why a shape was refused.
var (
	ErrMultiaddr = errors.New("multiaddr not usable as a NetAddress")

	ErrMalformedMultiaddr = errors.New("malformed multiaddr")
	ErrRelayAddr          = errors.New("relay circuit address")
	ErrDNSAddr            = errors.New("DNS name instead of an IP")
	ErrUnsupportedAddr    = errors.New("transport not supported on this face")
	ErrIPv6Zone           = errors.New("IPv6 zone")
	ErrPeerMismatch       = errors.New("/p2p part names a different peer")
	ErrNoPeerID           = errors.New("no peer ID")
	ErrPortZero           = errors.New("port 0")
	ErrUnspecifiedIP      = errors.New("unspecified IP")
	ErrMappedIPv6         = errors.New("IPv4-mapped IPv6 address")
)

// MultiaddrError reports which multiaddr was refused and why.
type MultiaddrError struct {
	Addr string
	errmsg.Kinded
}

func (e *MultiaddrError) Error() string        { return e.Message(fmt.Sprintf("multiaddr %q", e.Addr)) }
func (e *MultiaddrError) Is(target error) bool { return target == ErrMultiaddr || target == e.Kind }

func maErr(addr string, kind error, detail string, err error) *MultiaddrError {
	return &MultiaddrError{Addr: addr, Kinded: errmsg.Kinded{Kind: kind, Detail: detail, Err: err}}
}

// NetAddressToMultiaddrs gives the two dialable forms of a book address:
// QUIC first (upstream lp2p speaks only QUIC), then TCP, both on the same
// port number and ending in /p2p/<id>.
func NetAddressToMultiaddrs(na addrbook.NetAddress) ([]ma.Multiaddr, error) {
	text := na.String()
	id, err := decodePeerID(na.ID)
	if err != nil {
		return nil, maErr(text, ErrNoPeerID, "ID is not a peer ID", err)
	}
	if !na.IP.IsValid() {
		return nil, maErr(text, ErrMalformedMultiaddr, "no IP", nil)
	}
	if na.IP.Zone() != "" {
		return nil, maErr(text, ErrIPv6Zone, na.IP.Zone(), nil)
	}
	if na.Port == 0 {
		return nil, maErr(text, ErrPortZero, "", nil)
	}
	ip := na.IP.Unmap()
	if ip.IsUnspecified() {
		return nil, maErr(text, ErrUnspecifiedIP, ip.String(), nil)
	}
	p2p, err := ma.NewComponent("p2p", id.String())
	if err != nil {
		return nil, maErr(text, ErrNoPeerID, "", err)
	}
	out := make([]ma.Multiaddr, 0, 2)
	for _, tpt := range []Transport{TransportQUIC, TransportTCP} {
		m, err := IPPortMultiaddr(ip, na.Port, tpt)
		if err != nil {
			return nil, maErr(text, ErrMalformedMultiaddr, "", err)
		}
		out = append(out, m.AppendComponent(p2p))
	}
	return out, nil
}

// IPPortMultiaddr spells ip and port as the multiaddr of one transport,
// without a peer ID: /ip4|ip6/<ip>/udp/<port>/quic-v1 or
// /ip4|ip6/<ip>/tcp/<port>. An IPv4-mapped IPv6 address is written as
// /ip4. The unspecified IP and port 0 are accepted, for listen addresses.
func IPPortMultiaddr(ip netip.Addr, port uint16, tpt Transport) (ma.Multiaddr, error) {
	if !ip.IsValid() {
		return nil, maErr("<no IP>:"+strconv.Itoa(int(port)), ErrMalformedMultiaddr, "no IP", nil)
	}
	text := netip.AddrPortFrom(ip, port).String()
	if ip.Zone() != "" {
		return nil, maErr(text, ErrIPv6Zone, ip.Zone(), nil)
	}
	host, err := manet.FromIP(ip.Unmap().AsSlice())
	if err != nil {
		return nil, maErr(text, ErrMalformedMultiaddr, "", err)
	}
	tail, err := portComponents(port, tpt)
	if err != nil {
		return nil, maErr(text, ErrUnsupportedAddr, tpt.String(), err)
	}
	return ma.Join(host, tail), nil
}

// portComponents is the transport part of a multiaddr: /tcp/<port> or
// /udp/<port>/quic-v1.
func portComponents(port uint16, tpt Transport) (ma.Multiaddr, error) {
	var parts [][2]string
	switch tpt {
	case TransportTCP:
		parts = [][2]string{{"tcp", strconv.Itoa(int(port))}}
	case TransportQUIC:
		parts = [][2]string{{"udp", strconv.Itoa(int(port))}, {"quic-v1", ""}}
	default:
		return nil, fmt.Errorf("no multiaddr for transport %v", tpt)
	}
	var out ma.Multiaddr
	for _, p := range parts {
		c, err := ma.NewComponent(p[0], p[1])
		if err != nil {
			return nil, err
		}
		out = out.AppendComponent(c)
	}
	return out, nil
}

// classifyUnsupported names the first component that keeps m out of the
// book, most specific reason first: a relay circuit also contains IP and
// port parts that manet.DialArgs would wrongly accept as the target.
func classifyUnsupported(m ma.Multiaddr, rules addrRules) error {
	text := m.String()
	if _, err := m.ValueForProtocol(ma.P_CIRCUIT); err == nil {
		return maErr(text, ErrRelayAddr, "the address is the relay's, not the peer's", nil)
	}
	for i, c := range m {
		switch c.Code() {
		case ma.P_DNS, ma.P_DNS4, ma.P_DNS6:
			if i == 0 && rules&allowDNSHost != 0 {
				continue
			}
			return maErr(text, ErrDNSAddr, "/"+c.Protocol().Name+" is resolved when dialing, never stored", nil)
		case ma.P_DNSADDR:
			return maErr(text, ErrDNSAddr, "/"+c.Protocol().Name+" is resolved when dialing, never stored", nil)
		case ma.P_IP6ZONE:
			return maErr(text, ErrIPv6Zone, c.Value(), nil)
		case ma.P_WS, ma.P_WSS, ma.P_WEBTRANSPORT, ma.P_WEBRTC, ma.P_WEBRTC_DIRECT, ma.P_P2P_WEBRTC_DIRECT,
			ma.P_CERTHASH, ma.P_TLS, ma.P_SNI, ma.P_HTTP, ma.P_HTTPS, ma.P_HTTP_PATH, ma.P_QUIC:
			return maErr(text, ErrUnsupportedAddr, "/"+c.Protocol().Name, nil)
		}
	}
	return nil
}

// SplitMultiaddr checks that m has exactly the shape
// /ip4|ip6/<ip>/tcp/<port> or /ip4|ip6/<ip>/udp/<port>/quic-v1, optionally
// followed by /p2p/<id>, and returns its parts. id is empty when m has no
// /p2p part.
func SplitMultiaddr(m ma.Multiaddr) (ip netip.Addr, port uint16, tpt Transport, id peer.ID, err error) {
	return splitMultiaddr(m, 0)
}

// addrRules relax SplitMultiaddr's shape for addresses that never enter
// the book.
type addrRules uint8

const (
	// allowListen accepts the unspecified IP, port 0 and an IPv4-mapped
	// /ip6 (listen addresses).
	allowListen addrRules = 1 << iota
	// allowDNSHost accepts /dns, /dns4 or /dns6 in place of the IP
	// (configured peers, resolved when dialed); ip is then the zero Addr.
	allowDNSHost
)

func splitMultiaddr(m ma.Multiaddr, rules addrRules) (ip netip.Addr, port uint16, tpt Transport, id peer.ID, err error) {
	text := m.String()
	if len(m) == 0 {
		return ip, 0, 0, "", maErr(text, ErrMalformedMultiaddr, "empty", nil)
	}
	if err := classifyUnsupported(m, rules); err != nil {
		return ip, 0, 0, "", err
	}
	shape := func(detail string) error {
		return maErr(text, ErrUnsupportedAddr, detail+"; want /ip4|ip6/<ip>/tcp/<port> or /ip4|ip6/<ip>/udp/<port>/quic-v1, optionally /p2p/<id>", nil)
	}
	rest := m
	switch rest[0].Code() {
	case ma.P_IP4, ma.P_IP6:
		var ok bool
		ip, ok = netip.AddrFromSlice(rest[0].RawValue())
		if !ok {
			return ip, 0, 0, "", maErr(text, ErrMalformedMultiaddr, "bad IP bytes", nil)
		}
		if rest[0].Code() == ma.P_IP6 && ip.Is4In6() && rules&allowListen == 0 {
			return ip, 0, 0, "", maErr(text, ErrMappedIPv6, "write it as /ip4", nil)
		}
		ip = ip.Unmap()
	case ma.P_DNS, ma.P_DNS4, ma.P_DNS6:
		// classifyUnsupported let it through: allowDNSHost is set.
	default:
		return ip, 0, 0, "", shape("starts with /" + rest[0].Protocol().Name)
	}
	if ip.IsUnspecified() && rules&allowListen == 0 {
		return ip, 0, 0, "", maErr(text, ErrUnspecifiedIP, ip.String(), nil)
	}
	rest = rest[1:]
	if len(rest) == 0 {
		return ip, 0, 0, "", shape("no transport")
	}
	switch rest[0].Code() {
	case ma.P_TCP:
		tpt = TransportTCP
		rest = rest[1:]
	case ma.P_UDP:
		if len(rest) < 2 || rest[1].Code() != ma.P_QUIC_V1 {
			return ip, 0, 0, "", shape("/udp without /quic-v1")
		}
		tpt = TransportQUIC
		rest = rest[2:]
	default:
		return ip, 0, 0, "", shape("transport /" + rest[0].Protocol().Name)
	}
	raw := m[1].RawValue()
	if len(raw) != 2 {
		return ip, 0, 0, "", maErr(text, ErrMalformedMultiaddr, "bad port bytes", nil)
	}
	port = binary.BigEndian.Uint16(raw)
	if port == 0 && rules&allowListen == 0 {
		return ip, 0, 0, "", maErr(text, ErrPortZero, "", nil)
	}
	if len(rest) > 0 {
		if rest[0].Code() != ma.P_P2P {
			return ip, 0, 0, "", shape("unexpected /" + rest[0].Protocol().Name)
		}
		id, err = peer.IDFromBytes(rest[0].RawValue())
		if err != nil {
			return ip, 0, 0, "", maErr(text, ErrMalformedMultiaddr, "bad /p2p value", err)
		}
		rest = rest[1:]
	}
	if len(rest) > 0 {
		return ip, 0, 0, "", shape("unexpected /" + rest[0].Protocol().Name + " after the peer ID")
	}
	return ip, port, tpt, id, nil
}

// NetAddressFromMultiaddr translates m into a book address. expected, when
// not empty, is the peer m belongs to (the connection's authenticated
// peer, or the peer identify reported it for): a /p2p part naming anyone
// else is refused, and m without a /p2p part takes expected as its ID.
func NetAddressFromMultiaddr(m ma.Multiaddr, expected peer.ID) (addrbook.NetAddress, Transport, error) {
	ip, port, tpt, id, err := SplitMultiaddr(m)
	if err != nil {
		return addrbook.NetAddress{}, 0, err
	}
	switch {
	case id == "" && expected == "":
		return addrbook.NetAddress{}, 0, maErr(m.String(), ErrNoPeerID, "no /p2p part and no known peer", nil)
	case id == "":
		id = expected
	case expected != "" && id != expected:
		return addrbook.NetAddress{}, 0, maErr(m.String(), ErrPeerMismatch, "expected "+expected.String(), nil)
	}
	na, err := addrbook.NewNetAddress(PeerIDs, id.String(), ip, port)
	if err != nil {
		return addrbook.NetAddress{}, 0, maErr(m.String(), ErrNoPeerID, "", err)
	}
	return na, tpt, nil
}

// ConfigPeer is one entry of seeds or persistent_peers on the libp2p face.
// Addrs may hold /dns* and /dnsaddr multiaddrs: they are resolved by the
// dialer each time, never stored in the book.
type ConfigPeer struct {
	ID    peer.ID
	Addrs []ma.Multiaddr
	Input string
}

// NetAddress gives the book address of the peer when one of its addresses
// is an IP literal; false for DNS-only peers.
func (p ConfigPeer) NetAddress() (addrbook.NetAddress, bool) {
	for _, a := range p.Addrs {
		if na, _, err := NetAddressFromMultiaddr(a, p.ID); err == nil {
			return na, true
		}
	}
	return addrbook.NetAddress{}, false
}

// AddrInfo gives the libp2p dial target.
func (p ConfigPeer) AddrInfo() peer.AddrInfo {
	addrs := make([]ma.Multiaddr, 0, len(p.Addrs))
	for _, a := range p.Addrs {
		t, _ := peer.SplitAddr(a)
		if t != nil {
			addrs = append(addrs, t)
		}
	}
	return peer.AddrInfo{ID: p.ID, Addrs: addrs}
}

// ErrConfigPeer is wrapped by ParseConfigPeer errors.
var ErrConfigPeer = errors.New("invalid peer in configuration")

// ConfigPeerError names the configured entry that was refused.
type ConfigPeerError struct {
	Input string
	errmsg.Reasoned
}

func (e *ConfigPeerError) Error() string        { return e.Message(fmt.Sprintf("invalid peer %q", e.Input)) }
func (e *ConfigPeerError) Is(target error) bool { return target == ErrConfigPeer }

func configPeerErr(input, reason string, err error) *ConfigPeerError {
	return &ConfigPeerError{Input: input, Reasoned: errmsg.Reasoned{Reason: reason, Err: err}}
}

// ParseConfigPeer accepts a full multiaddr ending in /p2p/<peer ID> (IP,
// /dns, /dns4, /dns6 or /dnsaddr based), or peerID@host:port where host is
// an IP or a DNS name; the latter stands for both QUIC and TCP on that
// port. A 40-hex CometBFT ID is refused: libp2p cannot dial without the
// peer ID, which a CometBFT ID does not contain.
func ParseConfigPeer(s string) (ConfigPeer, error) {
	in := strings.TrimSpace(s)
	if in == "" {
		return ConfigPeer{}, configPeerErr(s, "empty", nil)
	}
	if strings.HasPrefix(in, "/") {
		return parseConfigMultiaddr(s, in)
	}
	rest := in
	if i := strings.Index(rest, "://"); i >= 0 {
		rest = rest[i+3:]
	}
	idText, hostport, ok := strings.Cut(rest, "@")
	if !ok {
		return ConfigPeer{}, configPeerErr(s, "want a multiaddr ending in /p2p/<peer ID> or peerID@host:port", nil)
	}
	norm, err := PeerIDs.Normalize(idText)
	if err != nil {
		return ConfigPeer{}, configPeerErr(s, "bad peer ID", err)
	}
	id, _ := peer.Decode(norm)
	host, portText, err := net.SplitHostPort(hostport)
	if err != nil {
		return ConfigPeer{}, configPeerErr(s, "bad host:port", err)
	}
	port, err := strconv.ParseUint(portText, 10, 16)
	if err != nil || port == 0 {
		return ConfigPeer{}, configPeerErr(s, "port must be 1..65535", maErr(hostport, ErrPortZero, "", nil))
	}
	// base is the host part: an IP, or a DNS name resolved at dial time.
	var base ma.Multiaddr
	if ip, err := netip.ParseAddr(host); err == nil {
		if ip.Zone() != "" {
			return ConfigPeer{}, configPeerErr(s, "IPv6 zones are not allowed", maErr(host, ErrIPv6Zone, ip.Zone(), nil))
		}
		ip = ip.Unmap()
		if ip.IsUnspecified() {
			return ConfigPeer{}, configPeerErr(s, "unspecified IP", maErr(host, ErrUnspecifiedIP, "", nil))
		}
		base, err = manet.FromIP(ip.AsSlice())
		if err != nil {
			return ConfigPeer{}, configPeerErr(s, "bad host", err)
		}
	} else {
		if host == "" || strings.ContainsAny(host, "/ ") {
			return ConfigPeer{}, configPeerErr(s, "bad host name", nil)
		}
		c, err := ma.NewComponent("dns", host)
		if err != nil {
			return ConfigPeer{}, configPeerErr(s, "bad host", err)
		}
		base = c.Multiaddr()
	}
	p2p, err := ma.NewComponent("p2p", id.String())
	if err != nil {
		return ConfigPeer{}, configPeerErr(s, "bad peer ID", err)
	}
	var addrs []ma.Multiaddr
	for _, tpt := range []Transport{TransportQUIC, TransportTCP} {
		tail, err := portComponents(uint16(port), tpt)
		if err != nil {
			return ConfigPeer{}, configPeerErr(s, "bad port", err)
		}
		addrs = append(addrs, ma.Join(base, tail, p2p))
	}
	return ConfigPeer{ID: id, Addrs: addrs, Input: s}, nil
}

func parseConfigMultiaddr(orig, in string) (ConfigPeer, error) {
	m, err := ma.NewMultiaddr(in)
	if err != nil {
		return ConfigPeer{}, configPeerErr(orig, "not a multiaddr", maErr(in, ErrMalformedMultiaddr, "", err))
	}
	transportPart, id := peer.SplitAddr(m)
	if id == "" {
		return ConfigPeer{}, configPeerErr(orig, "missing /p2p/<peer ID>: libp2p cannot dial without it", maErr(in, ErrNoPeerID, "", nil))
	}
	if len(transportPart) > 0 && transportPart[0].Code() == ma.P_DNSADDR {
		if len(transportPart) != 1 {
			return ConfigPeer{}, configPeerErr(orig, "/dnsaddr takes only a domain and /p2p", maErr(in, ErrUnsupportedAddr, "", nil))
		}
		return ConfigPeer{ID: id, Addrs: []ma.Multiaddr{m}, Input: orig}, nil
	}
	if len(transportPart) > 0 {
		switch transportPart[0].Code() {
		case ma.P_DNS, ma.P_DNS4, ma.P_DNS6:
			// DNS peers obey the same transport rules as IP peers.
			if _, _, _, _, err := splitMultiaddr(transportPart, allowDNSHost); err != nil {
				var me *MultiaddrError
				if errors.As(err, &me) {
					me.Addr = in
				}
				return ConfigPeer{}, configPeerErr(orig, "unsupported address", err)
			}
			return ConfigPeer{ID: id, Addrs: []ma.Multiaddr{m}, Input: orig}, nil
		}
	}
	if _, _, _, _, err := SplitMultiaddr(m); err != nil {
		return ConfigPeer{}, configPeerErr(orig, "unsupported address", err)
	}
	return ConfigPeer{ID: id, Addrs: []ma.Multiaddr{m}, Input: orig}, nil
}

// ParseConfigPeers parses a comma-separated list (CometBFT's format for
// seeds and persistent_peers); empty entries are skipped. Entries for the
// same peer are merged.
func ParseConfigPeers(list string) ([]ConfigPeer, error) {
	var out []ConfigPeer
	index := map[peer.ID]int{}
	for _, part := range strings.Split(list, ",") {
		if strings.TrimSpace(part) == "" {
			continue
		}
		p, err := ParseConfigPeer(part)
		if err != nil {
			return nil, err
		}
		if i, ok := index[p.ID]; ok {
			out[i].Addrs = append(out[i].Addrs, p.Addrs...)
			continue
		}
		index[p.ID] = len(out)
		out = append(out, p)
	}
	return out, nil
}
