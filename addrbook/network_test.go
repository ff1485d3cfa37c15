package addrbook

import (
	"errors"
	"net/netip"
	"testing"
)

func na(ip string) NetAddress {
	return NetAddress{ID: testID(0), IP: netip.MustParseAddr(ip).Unmap(), Port: 26656}
}

// What Valid refuses; port 0 is valid.
func TestNetAddressValid(t *testing.T) {
	for _, tc := range []struct {
		addr NetAddress
		ok   bool
	}{
		{na("1.2.3.4"), true},
		{NetAddress{ID: testID(0), IP: netip.MustParseAddr("1.2.3.4"), Port: 0}, true},
		{na("0.0.0.0"), false},
		{na("::"), false},
		{na("255.255.255.255"), false},
		{na("2001:db8::1"), false},
		{na("::ffff:0.0.0.0"), false},
		{NetAddress{ID: testID(0), Port: 1}, false},
		{NetAddress{IP: netip.MustParseAddr("1.2.3.4"), Port: 1}, false},
		{na("10.0.0.1"), true},
		{na("127.0.0.1"), true},
	} {
		err := tc.addr.Valid()
		if (err == nil) != tc.ok {
			t.Errorf("%v.Valid() = %v, want ok=%v", tc.addr, err, tc.ok)
		}
		if err != nil && !errors.Is(err, ErrInvalidAddress) {
			t.Errorf("%v.Valid() error %v does not wrap ErrInvalidAddress", tc.addr, err)
		}
	}
}

// Local and Routable, including what probing upstream showed (no ID is
// never routable; OnionCat is unroutable; CGNAT, multicast, TEST-NET
// routable).
func TestNetAddressRoutable(t *testing.T) {
	for _, tc := range []struct {
		ip              string
		local, routable bool
	}{
		{"127.0.0.1", true, false},
		{"127.255.0.1", true, false},
		{"::1", true, false},
		{"0.1.2.3", true, false},
		{"10.1.2.3", false, false},
		{"172.16.1.2", false, false},
		{"172.31.255.255", false, false},
		{"172.32.0.1", false, true},
		{"192.168.1.2", false, false},
		{"169.254.1.2", false, false},
		{"fe80::1234", false, false},
		{"fc00::1234", false, false},
		{"fd87:d87e:eb43::1", false, false},
		{"2001:10::1234", false, false},
		{"100.64.1.1", false, true},
		{"224.0.0.1", false, true},
		{"192.0.2.1", false, true},
		{"240.0.0.1", false, true},
		{"ff02::1", false, true},
		{"8.8.8.8", false, true},
		{"2602:100::1", false, true},
		{"::ffff:8.8.8.8", false, true},
		{"::ffff:10.0.0.1", false, false},
	} {
		a := na(tc.ip)
		if a.Local() != tc.local || a.Routable() != tc.routable {
			t.Errorf("%s: Local=%v Routable=%v, want %v %v", tc.ip, a.Local(), a.Routable(), tc.local, tc.routable)
		}
	}
	noID := na("8.8.8.8")
	noID.ID = ""
	if noID.Routable() {
		t.Error("an address without ID must not be routable")
	}
}

// TestAddrBookGroupKey is upstream's test of the same name: the non-strict
// table and the strict table, with upstream's vectors.
func TestAddrBookGroupKey(t *testing.T) {
	nonStrict := []struct{ ip, key string }{
		{"12.1.2.3", "12.1.0.0"},
		{"173.1.2.3", "173.1.0.0"},
		{"196.1.2.3", "196.1.0.0"},
		{"2002:0c01:0203::", "12.1.0.0"},
		{"2001:0:1234::f3fe:fdfc", "12.1.0.0"},
		{"64:ff9b::0c01:0203", "12.1.0.0"},
		{"::ffff:0:0c01:0203", "12.1.0.0"},
		{"fd87:d87e:eb43:1234::5678", "tor:2"},
		{"fd87:d87e:eb43:1245::6789", "tor:2"},
		{"fd87:d87e:eb43:1345::6789", "tor:3"},
		{"2602:100::1", "2602:100::"},
		{"2602:0100::1234", "2602:100::"},
		{"2001:470:1f10:a1::2", "2001:470:1000::"},
		{"2001:0470:1f10:a1::2", "2001:470:1000::"},
		// Values probed on upstream: local and private get /16s.
		{"127.0.0.1", "127.0.0.0"},
		{"10.1.2.3", "10.1.0.0"},
		{"100.64.1.1", "100.64.0.0"},
		{"::ffff:12.1.2.3", "12.1.0.0"},
	}
	for _, tc := range nonStrict {
		// Upstream's table uses ID-less addresses; the key must not depend on the ID.
		a := NetAddress{IP: netip.MustParseAddr(tc.ip).Unmap(), Port: 26656}
		if got := GroupKey(a, false); got != tc.key {
			t.Errorf("non-strict %s: %q, want %q", tc.ip, got, tc.key)
		}
	}
	strict := []struct{ ip, key string }{
		{"127.0.0.1", "local"},
		{"::1", "local"},
		{"0.0.0.0", "local"},
		{"0.1.2.3", "local"},
		{"255.255.255.255", "unroutable"},
		{"10.1.2.3", "unroutable"},
		{"172.16.1.2", "unroutable"},
		{"192.168.1.2", "unroutable"},
		{"2001:db8::1234", "unroutable"},
		{"169.254.1.2", "unroutable"},
		{"fc00::1234", "unroutable"},
		{"2001:10::1234", "unroutable"},
		{"fe80::1234", "unroutable"},
		{"fd87:d87e:eb43:1234::5678", "unroutable"},
	}
	for _, tc := range strict {
		a := NetAddress{ID: testID(1), IP: netip.MustParseAddr(tc.ip).Unmap(), Port: 26656}
		if got := GroupKey(a, true); got != tc.key {
			t.Errorf("strict %s: %q, want %q", tc.ip, got, tc.key)
		}
	}
	// Strict mode with a routable address uses the ordinary key, and
	// an ID-less address is unroutable there, as upstream.
	if got := GroupKey(na("100.64.1.1"), true); got != "100.64.0.0" {
		t.Errorf("strict 100.64.1.1: %q", got)
	}
	if got := GroupKey(NetAddress{IP: netip.MustParseAddr("8.8.8.8")}, true); got != "unroutable" {
		t.Errorf("strict ID-less: %q", got)
	}
}
