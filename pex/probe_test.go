package pex_test

import (
	"testing"

	"github.com/pexp2p/pexp2p/pex/pextest"
)

// answers collects the results of probes.
type answers struct{ got []bool }

func (a *answers) done(alive bool) { a.got = append(a.got, alive) }

func probingNode(e *env) *tnode {
	n := e.reactorNode(1, testConfig(), nil)
	// A book with one address so that Start needs no seed.
	if err := n.book.AddAddress(pextest.NodeAddr(9), pextest.NodeAddr(9)); err != nil {
		e.t.Fatal(err)
	}
	e.start(n)
	return n
}

// probeLivePeer probes a listening peer times times at once from a fresh
// probing node and lets the network settle.
func probeLivePeer(t *testing.T, times int) (*tnode, *peer, *answers) {
	e := newEnv(t)
	n := probingNode(e)
	p := e.peer(2, nil)
	a := &answers{}
	for i := 0; i < times; i++ {
		n.r.Test(p.addr, a.done)
	}
	e.settle()
	return n, p, a
}

func TestProbeOfALivePeerAnswersAliveAsksNothingAndHangsUp(t *testing.T) {
	n, p, a := probeLivePeer(t, 1)
	if len(a.got) != 1 || !a.got[0] {
		t.Fatalf("answers %v, want [true]", a.got)
	}
	if got := p.rec.Requests(n.addr.ID); got != 0 {
		t.Fatalf("probed peer was sent %d PexRequests, want 0", got)
	}
	if n.node.Connected(p.addr.ID) {
		t.Fatal("probe connection still open")
	}
}

func TestProbeOfADeadAddressAnswersDead(t *testing.T) {
	e := newEnv(t)
	n := probingNode(e)
	var a answers
	n.r.Test(pextest.NodeAddr(3), a.done) // nobody listens there
	e.settle()
	if len(a.got) != 1 || a.got[0] {
		t.Fatalf("answers %v, want [false]", a.got)
	}
}

func TestProbesOfOneIDShareOneDial(t *testing.T) {
	_, p, a := probeLivePeer(t, 2)
	added, _, _ := p.rec.Snapshot()
	conns := len(added)
	if conns != 1 {
		t.Fatalf("%d connections for two probes of one ID, want 1", conns)
	}
	if len(a.got) != 2 || !a.got[0] || !a.got[1] {
		t.Fatalf("answers %v, want [true true]", a.got)
	}
}

func TestProbeOpenAtStopAnswersAliveOnce(t *testing.T) {
	e := newEnv(t)
	n := e.reactorNode(1, testConfig(), nil)
	if err := n.book.AddAddress(pextest.NodeAddr(9), pextest.NodeAddr(9)); err != nil {
		t.Fatal(err)
	}
	if err := n.r.Start(); err != nil {
		t.Fatal(err)
	}
	var a answers
	n.r.Test(pextest.NodeAddr(3), a.done) // queued, not yet run
	if err := n.r.Stop(); err != nil {
		t.Fatal(err)
	}
	e.settle()
	if len(a.got) != 1 || !a.got[0] {
		t.Fatalf("answers %v, want [true]: stopping must not cost the book an entry", a.got)
	}
}
