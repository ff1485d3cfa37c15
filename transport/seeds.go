package transport

import (
	"context"
	"fmt"
	"net"
	"strconv"

	ma "github.com/multiformats/go-multiaddr"
)

// MultiaddrResolver resolves /dns, /dns4, /dns6 and /dnsaddr multiaddrs;
// *madns.Resolver (github.com/multiformats/go-multiaddr-dns) implements it.
type MultiaddrResolver interface {
	Resolve(ctx context.Context, m ma.Multiaddr) ([]ma.Multiaddr, error)
}

// maxDNSAddrDepth is go-libp2p's limit on nested /dnsaddr records.
const maxDNSAddrDepth = 4

// ReactorSeeds turns configured seeds into the "peerID@host:port" strings
// pex.Config.Seeds takes. IP seeds pass through; /dns* seeds keep their
// host name, which the reactor resolves at start (and the node again at
// every dial, because NewNode keeps the configured multiaddrs); /dnsaddr
// seeds, which have no host:port form, are resolved here through r, at
// start. Seeds that cannot be expressed are reported in errs and left out;
// nothing DNS-based is ever put in the address book.
func ReactorSeeds(ctx context.Context, seeds []ConfigPeer, r MultiaddrResolver) (out []string, errs []error) {
	seen := map[string]bool{}
	add := func(s string) {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	for _, p := range seeds {
		pending := append([]ma.Multiaddr(nil), p.Addrs...)
		for depth := 0; len(pending) > 0 && depth <= maxDNSAddrDepth; depth++ {
			var next []ma.Multiaddr
			for _, a := range pending {
				if len(a) == 0 {
					continue
				}
				switch a[0].Code() {
				case ma.P_IP4, ma.P_IP6:
					na, _, err := NetAddressFromMultiaddr(a, p.ID)
					if err != nil {
						errs = append(errs, configPeerErr(p.Input, "resolved address unusable", err))
						continue
					}
					add(na.String())
				case ma.P_DNS, ma.P_DNS4, ma.P_DNS6:
					port, err := portOf(a)
					if err != nil {
						errs = append(errs, configPeerErr(p.Input, "no port", err))
						continue
					}
					add(p.ID.String() + "@" + net.JoinHostPort(a[0].Value(), strconv.Itoa(int(port))))
				case ma.P_DNSADDR:
					if r == nil {
						errs = append(errs, configPeerErr(p.Input, "no resolver for /dnsaddr", nil))
						continue
					}
					res, err := r.Resolve(ctx, a)
					if err != nil {
						errs = append(errs, configPeerErr(p.Input, "resolving /dnsaddr", err))
						continue
					}
					next = append(next, res...)
				default:
					errs = append(errs, configPeerErr(p.Input, "unsupported seed address "+a.String(), nil))
				}
			}
			pending = next
		}
		if len(pending) > 0 {
			errs = append(errs, configPeerErr(p.Input, fmt.Sprintf("/dnsaddr nested deeper than %d", maxDNSAddrDepth), nil))
		}
	}
	return out, errs
}

// portOf reads the TCP or UDP port of a multiaddr.
func portOf(a ma.Multiaddr) (uint16, error) {
	for _, c := range a {
		if c.Code() == ma.P_TCP || c.Code() == ma.P_UDP {
			raw := c.RawValue()
			if len(raw) == 2 {
				return uint16(raw[0])<<8 | uint16(raw[1]), nil
			}
		}
	}
	return 0, maErr(a.String(), ErrMalformedMultiaddr, "no tcp or udp port", nil)
}
