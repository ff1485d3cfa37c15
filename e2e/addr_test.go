package e2e

import (
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/pexp2p/pexp2p/addrbook"
)

// The addresses must be routable to a strict book and spread one /16
// group per manifest group, or the runner would not exercise bucketing.
func TestNodeAddressesAreRoutableAndOneGroupPerGroup(t *testing.T) {
	seen := map[string]int{}
	for g := 0; g < MaxGroups; g++ {
		for _, k := range []int{0, 1, 249, 250, 251, maxPerGroup - 1} {
			ip := NodeIP(g, k)
			na := addrbook.NetAddress{ID: "x", IP: ip, Port: 26656}
			if !na.Routable() {
				t.Fatalf("%s (group %d, #%d) is not routable to a strict book", ip, g, k)
			}
			key := addrbook.GroupKey(na, true)
			if prev, ok := seen[key]; ok && prev != g {
				t.Fatalf("%s: group key %s shared by groups %d and %d", ip, key, prev, g)
			}
			seen[key] = g
			if GroupOf(ip) != g {
				t.Fatalf("GroupOf(%s) = %d, want %d", ip, GroupOf(ip), g)
			}
			if b := ip.As4(); b[3] == 0 || b[3] == 255 {
				t.Fatalf("%s ends in .0 or .255", ip)
			}
			if !netPrefix.Contains(ip) {
				t.Fatalf("%s outside %s", ip, netPrefix)
			}
		}
	}
	if len(seen) != MaxGroups {
		t.Fatalf("%d group keys, want %d", len(seen), MaxGroups)
	}
}

func TestNodeAddressesWithinAGroupAreDistinct(t *testing.T) {
	seen := map[netip.Addr]bool{}
	for k := 0; k < 2000; k++ {
		ip := NodeIP(5, k)
		if seen[ip] {
			t.Fatalf("#%d repeats %s", k, ip)
		}
		seen[ip] = true
	}
}

func TestRunRefusesAHostAddressInsideTheRunsPrefix(t *testing.T) {
	ok := []net.Addr{&net.IPNet{IP: net.ParseIP("192.0.2.2"), Mask: net.CIDRMask(24, 32)}, &net.IPNet{IP: net.ParseIP("fd00::2"), Mask: net.CIDRMask(64, 128)}}
	if err := checkHostAddrs(ok); err != nil {
		t.Fatalf("refused a host outside the prefix: %v", err)
	}
	bad := append(ok, &net.IPNet{IP: net.ParseIP("100.100.1.1"), Mask: net.CIDRMask(32, 32)})
	err := checkHostAddrs(bad)
	if err == nil || !strings.Contains(err.Error(), "100.100.1.1") {
		t.Fatalf("error %v does not name the host's 100.100.1.1", err)
	}
}
