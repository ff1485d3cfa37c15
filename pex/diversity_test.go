package pex_test

import (
	"fmt"
	"testing"
)

func TestOutboundGroupLimitKeepsOnePeerPerGroup(t *testing.T) {
	for _, limit := range []int{0, 1} {
		e := newEnv(t)
		cfg := testConfig()
		cfg.OutboundGroupLimit = limit
		n := e.reactorNode(1, cfg, nil)
		var sameGroup []*peer
		for i := 0; i < 6; i++ {
			p := peerAt(e, 10+i, fmt.Sprintf("20.30.0.%d", i+1))
			sameGroup = append(sameGroup, p)
			if err := n.book.AddAddress(p.addr, p.addr); err != nil {
				t.Fatal(err)
			}
		}
		other := peerAt(e, 20, "40.50.0.1")
		if err := n.book.AddAddress(other.addr, other.addr); err != nil {
			t.Fatal(err)
		}
		e.start(n)
		e.settle()
		inGroup := 0
		for _, p := range sameGroup {
			if n.node.Connected(p.addr.ID) {
				inGroup++
			}
		}
		switch {
		case limit == 1 && (inGroup != 1 || !n.node.Connected(other.addr.ID)):
			t.Fatalf("limit 1: %d outbound peers in 20.30/16, other group connected %v; want 1 and true",
				inGroup, n.node.Connected(other.addr.ID))
		case limit == 0 && inGroup < 2:
			t.Fatalf("no limit: only %d outbound peers in 20.30/16; the scenario should take several", inGroup)
		}
	}
}
