package pex_test

import (
	"errors"
	"testing"

	tmp2p "github.com/cometbft/cometbft/proto/tendermint/p2p"

	"github.com/pexp2p/pexp2p/pex"
	"github.com/pexp2p/pexp2p/pex/pextest"
)

// FuzzReceive feeds arbitrary decoded PEX messages to a reactor with a
// request outstanding: it must never panic or hang, and a peer it keeps
// connected must have sent only a valid, solicited answer or a request.
func FuzzReceive(f *testing.F) {
	for _, m := range []tmp2p.Message{
		{Sum: &tmp2p.Message_PexRequest{PexRequest: &tmp2p.PexRequest{}}},
		{Sum: &tmp2p.Message_PexAddrs{PexAddrs: addrsMsg(pextest.NodeAddr(5))}},
		{Sum: &tmp2p.Message_PexAddrs{PexAddrs: &tmp2p.PexAddrs{Addrs: []tmp2p.NetAddress{{ID: "zz", IP: "::1", Port: 1 << 20}}}}},
		{},
	} {
		bz, err := m.Marshal()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(bz, bz)
	}
	f.Fuzz(func(t *testing.T, first, second []byte) {
		e := newEnv(t)
		n, p := solicited(t, e)
		for _, bz := range [][]byte{first, second} {
			var m tmp2p.Message
			if err := m.Unmarshal(bz); err != nil {
				return // the face drops undecodable frames before the reactor
			}
			p.node.Send(n.addr.ID, &m)
			e.settle()
		}
		stops := n.node.Stops()
		for _, st := range stops {
			if !errors.Is(st.Reason, pex.ErrMisbehavior) || !n.book.IsBanned(p.addr.ID) {
				t.Fatalf("peer stopped for %v, banned=%v: want a banned misbehaviour", st.Reason, n.book.IsBanned(p.addr.ID))
			}
		}
		misb := 0
		e.obs.mu.Lock()
		for _, c := range e.obs.misbehavior {
			misb += c
		}
		e.obs.mu.Unlock()
		if misb != len(stops) || n.node.Connected(p.addr.ID) == (len(stops) > 0) {
			t.Fatalf("%d misbehaviour reports, %d stops, connected=%v", misb, len(stops), n.node.Connected(p.addr.ID))
		}
	})
}
