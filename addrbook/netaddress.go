package addrbook

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/pexp2p/pexp2p/internal/errmsg"
)

// NetAddress is a node's ID with the IP and port it can be reached at:
// CometBFT's NetAddress, built on net/netip so it is a comparable value.
// The ID has already passed the book's IDRule; IPv4-mapped IPv6 addresses
// are stored unmapped, so they print and group as IPv4, as upstream does.
type NetAddress struct {
	ID   string
	IP   netip.Addr
	Port uint16
}

// ErrInvalidAddress is wrapped by every address parsing or validation error.
var ErrInvalidAddress = errors.New("invalid network address")

// AddressError names the address text that was refused and why.
type AddressError struct {
	Input  string
	Reason string
	Err    error // an underlying cause, such as an *IDError; may be nil
}

func (e *AddressError) Error() string {
	return errmsg.Join(fmt.Sprintf("invalid network address %q", e.Input), e.Reason, e.Err)
}

// Is lets errors.Is match both ErrInvalidAddress and the wrapped cause.
func (e *AddressError) Is(target error) bool { return target == ErrInvalidAddress }

func (e *AddressError) Unwrap() error { return e.Err }

// NewNetAddress builds an address from parts, normalising the ID with rule.
func NewNetAddress(rule IDRule, id string, ip netip.Addr, port uint16) (NetAddress, error) {
	nid, err := rule.Normalize(id)
	if err != nil {
		return NetAddress{}, &AddressError{Input: id + "@" + netip.AddrPortFrom(ip, port).String(), Reason: "bad ID", Err: err}
	}
	if !ip.IsValid() {
		return NetAddress{}, &AddressError{Input: id, Reason: "missing IP"}
	}
	return NetAddress{ID: nid, IP: ip.Unmap(), Port: port}, nil
}

// ParseNetAddress parses "id@ip:port" (IPv6 in brackets). A leading
// "scheme://" is ignored, as upstream does. Host names are refused: a DNS
// name is resolved by the dialer, never stored (tendermint#1521).
func ParseNetAddress(rule IDRule, s string) (NetAddress, error) {
	rest := s
	if i := strings.Index(rest, "://"); i >= 0 {
		rest = rest[i+3:]
	}
	id, hostport, ok := strings.Cut(rest, "@")
	if !ok || strings.Contains(hostport, "@") {
		return NetAddress{}, &AddressError{Input: s, Reason: "want exactly one '@' between ID and host:port"}
	}
	host, portText, err := net.SplitHostPort(hostport)
	if err != nil {
		return NetAddress{}, &AddressError{Input: s, Reason: "bad host:port", Err: err}
	}
	if host == "" {
		return NetAddress{}, &AddressError{Input: s, Reason: "empty host"}
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return NetAddress{}, &AddressError{Input: s, Reason: "host is not an IP literal"}
	}
	if ip.Zone() != "" {
		return NetAddress{}, &AddressError{Input: s, Reason: "IPv6 zones are not allowed"}
	}
	port, err := strconv.ParseUint(portText, 10, 16)
	if err != nil {
		return NetAddress{}, &AddressError{Input: s, Reason: "port is not a number in 0..65535"}
	}
	nid, err := rule.Normalize(id)
	if err != nil {
		return NetAddress{}, &AddressError{Input: s, Reason: "bad ID", Err: err}
	}
	return NetAddress{ID: nid, IP: ip.Unmap(), Port: uint16(port)}, nil
}

// String gives "id@host:port", or "host:port" when the ID is empty.
func (na NetAddress) String() string {
	if na.ID == "" {
		return na.DialString()
	}
	return na.ID + "@" + na.DialString()
}

// DialString gives "host:port" with IPv6 bracketed.
func (na NetAddress) DialString() string {
	if !na.IP.IsValid() {
		return ":" + strconv.Itoa(int(na.Port))
	}
	return net.JoinHostPort(na.IP.String(), strconv.Itoa(int(na.Port)))
}

// AddrPort returns the IP and port as one value.
func (na NetAddress) AddrPort() netip.AddrPort { return netip.AddrPortFrom(na.IP, na.Port) }

// IsZero reports whether na is the zero NetAddress.
func (na NetAddress) IsZero() bool { return na == NetAddress{} }
