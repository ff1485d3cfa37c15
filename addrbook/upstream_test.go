package addrbook

import (
	"errors"
	"net"
	"net/netip"
	"testing"

	"github.com/cometbft/cometbft/p2p"
)

// Item 2: conversion to and from upstream's p2p.NetAddress round-trips and
// prints the same text as upstream (N2), IPv6 bracketed.
func TestUpstreamConversionRoundTrip(t *testing.T) {
	for _, s := range []string{
		testID(1) + "@1.2.3.4:26656",
		testID(2) + "@[2001:470:1f10:a1::2]:26656",
		testID(3) + "@127.0.0.1:0",
	} {
		a, err := ParseNetAddress(ClassicIDs, s)
		if err != nil {
			t.Fatal(err)
		}
		u := a.ToUpstream()
		if u.String() != a.String() || u.String() != s {
			t.Fatalf("upstream prints %q, we print %q, want %q", u.String(), a.String(), s)
		}
		if err := u.Valid(); err != nil {
			t.Fatalf("upstream refuses %s: %v", s, err)
		}
		back, err := FromUpstream(ClassicIDs, u)
		if err != nil || back != a {
			t.Fatalf("round trip %v -> %v (%v)", a, back, err)
		}
	}
	// An IPv4-mapped upstream address comes back as IPv4 (N2).
	u := p2p.NewNetAddressIPPort(net.ParseIP("::ffff:1.2.3.4"), 1)
	u.ID = p2p.ID(testID(4))
	a, err := FromUpstream(ClassicIDs, u)
	if err != nil || a.IP != netip.MustParseAddr("1.2.3.4") {
		t.Fatalf("%v %v", a, err)
	}
	// Upper-case IDs are normalised (cometbft#835).
	u.ID = "ABCDEF0123456789ABCDEF0123456789ABCDEF01"
	a, err = FromUpstream(ClassicIDs, u)
	if err != nil || a.ID != "abcdef0123456789abcdef0123456789abcdef01" {
		t.Fatalf("%v %v", a, err)
	}
}

func TestFromUpstreamRefusals(t *testing.T) {
	for name, u := range map[string]*p2p.NetAddress{
		"nil":     nil,
		"no IP":   {ID: p2p.ID(testID(1)), Port: 1},
		"bad IP":  {ID: p2p.ID(testID(1)), IP: net.IP{1, 2, 3}, Port: 1},
		"bad ID":  {ID: "zz", IP: net.ParseIP("1.2.3.4"), Port: 1},
		"peer ID": {ID: "12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA", IP: net.ParseIP("1.2.3.4"), Port: 1},
	} {
		if _, err := FromUpstream(ClassicIDs, u); !errors.Is(err, ErrInvalidAddress) {
			t.Errorf("%s: %v", name, err)
		}
	}
}
