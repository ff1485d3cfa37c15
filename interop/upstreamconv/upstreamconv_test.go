package upstreamconv

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"testing"

	"github.com/cometbft/cometbft/p2p"

	"github.com/pexp2p/pexp2p/addrbook"
)

func testID(n int) string { return fmt.Sprintf("%040x", n) }

// Both directions keep the address, and upstream prints the same text as
// the book does, IPv6 bracketed.
func TestConversionRoundTripsAndPrintsLikeUpstream(t *testing.T) {
	for _, s := range []string{
		testID(1) + "@1.2.3.4:26656",
		testID(2) + "@[2001:470:1f10:a1::2]:26656",
		testID(3) + "@127.0.0.1:0",
	} {
		a, err := addrbook.ParseNetAddress(addrbook.ClassicIDs, s)
		if err != nil {
			t.Fatal(err)
		}
		u := ToUpstream(a)
		if u.String() != a.String() || u.String() != s {
			t.Fatalf("upstream prints %q, we print %q, want %q", u.String(), a.String(), s)
		}
		if err := u.Valid(); err != nil {
			t.Fatalf("upstream refuses %s: %v", s, err)
		}
		back, err := FromUpstream(addrbook.ClassicIDs, u)
		if err != nil || back != a {
			t.Fatalf("round trip %v -> %v (%v)", a, back, err)
		}
	}
}

func TestFromUpstreamUnmapsIPv4MappedAddresses(t *testing.T) {
	u := p2p.NewNetAddressIPPort(net.ParseIP("::ffff:1.2.3.4"), 1)
	u.ID = p2p.ID(testID(4))
	a, err := FromUpstream(addrbook.ClassicIDs, u)
	if err != nil || a.IP != netip.MustParseAddr("1.2.3.4") {
		t.Fatalf("got %v, %v; want 1.2.3.4", a, err)
	}
}

// cometbft#835: upstream accepts upper-case hex IDs; the book stores them
// in lower case.
func TestFromUpstreamLowerCasesIDs(t *testing.T) {
	u := &p2p.NetAddress{ID: "ABCDEF0123456789ABCDEF0123456789ABCDEF01", IP: net.ParseIP("1.2.3.4"), Port: 1}
	a, err := FromUpstream(addrbook.ClassicIDs, u)
	if err != nil || a.ID != "abcdef0123456789abcdef0123456789abcdef01" {
		t.Fatalf("got %v, %v", a, err)
	}
}

func TestFromUpstreamRefusesInvalidAddressesWithTypedError(t *testing.T) {
	for name, u := range map[string]*p2p.NetAddress{
		"nil":     nil,
		"no IP":   {ID: p2p.ID(testID(1)), Port: 1},
		"bad IP":  {ID: p2p.ID(testID(1)), IP: net.IP{1, 2, 3}, Port: 1},
		"bad ID":  {ID: "zz", IP: net.ParseIP("1.2.3.4"), Port: 1},
		"peer ID": {ID: "12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA", IP: net.ParseIP("1.2.3.4"), Port: 1},
	} {
		_, err := FromUpstream(addrbook.ClassicIDs, u)
		var ae *addrbook.AddressError
		if !errors.Is(err, addrbook.ErrInvalidAddress) || !errors.As(err, &ae) {
			t.Errorf("%s: got %v, want an *addrbook.AddressError", name, err)
		}
	}
}
