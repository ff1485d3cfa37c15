package pex_test

import (
	"errors"
	"testing"
	"time"

	"github.com/pexp2p/pexp2p/addrbook"
	"github.com/pexp2p/pexp2p/pex"
	"github.com/pexp2p/pexp2p/pex/pextest"
)

// memAnchors is an AnchorStore in memory.
type memAnchors struct {
	saved   []addrbook.NetAddress
	loadErr error
}

func (m *memAnchors) LoadAnchors() ([]addrbook.NetAddress, error) { return m.saved, m.loadErr }
func (m *memAnchors) SaveAnchors(a []addrbook.NetAddress) error {
	m.saved = append([]addrbook.NetAddress(nil), a...)
	return nil
}

func anchoredNode(e *env, i int, maxAnchors int, store pex.AnchorStore, book *addrbook.Book) *tnode {
	cfg := testConfig()
	cfg.MaxAnchors = maxAnchors
	node, nc := e.hubNode(i, nil)
	r := pex.NewReactor(book, node, cfg, pex.WithClock(e.clk), pex.WithExecutor(e.hub.Go), pex.WithAnchors(store))
	node.SetHandler(r)
	return &tnode{addr: nc.Addr, node: node, r: r, book: book}
}

// startAnchoredNode starts node 1 with maxAnchors, an empty anchor store
// and a book that knows peers, and lets it connect.
func startAnchoredNode(e *env, maxAnchors int, peers ...*peer) (*tnode, *memAnchors) {
	e.t.Helper()
	book := e.newBook(1)
	for _, p := range peers {
		if err := book.AddAddress(p.addr, p.addr); err != nil {
			e.t.Fatal(err)
		}
	}
	store := &memAnchors{}
	n := anchoredNode(e, 1, maxAnchors, store, book)
	if err := n.r.Start(); err != nil {
		e.t.Fatal(err)
	}
	e.settle()
	return n, store
}

func TestAnchorsSavedAtStopAreDialledFirstAfterRestart(t *testing.T) {
	e := newEnv(t)
	n, store := startAnchoredNode(e, 2, e.peer(2, nil), e.peer(3, nil), e.peer(4, nil))
	if err := n.r.Stop(); err != nil {
		t.Fatal(err)
	}
	if len(store.saved) != 2 {
		t.Fatalf("saved %v, want the 2 longest outbound peers", store.saved)
	}
	// The restarted node's book knows only a dead address: whatever it
	// reaches at once came from the anchors.
	n.node.SetOnline(false)
	e.settle()
	n.node.SetOnline(true)
	book2 := e.newBook(1)
	if err := book2.AddAddress(pextest.NodeAddr(9), pextest.NodeAddr(9)); err != nil {
		t.Fatal(err)
	}
	r2 := pex.NewReactor(book2, n.node, n.r.Config(), pex.WithClock(e.clk), pex.WithExecutor(e.hub.Go), pex.WithAnchors(store))
	n.node.SetHandler(r2)
	if err := r2.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r2.Stop() })
	e.settle()
	for _, a := range store.saved {
		if !n.node.Connected(a.ID) {
			t.Fatalf("anchor %s not dialled after the restart", a)
		}
	}
}

func TestAnchorsOffSavesNothing(t *testing.T) {
	e := newEnv(t)
	p := e.peer(2, nil)
	n, store := startAnchoredNode(e, 0, p)
	if !n.node.Connected(p.addr.ID) {
		t.Fatal("setup: node did not connect")
	}
	if err := n.r.Stop(); err != nil {
		t.Fatal(err)
	}
	if store.saved != nil {
		t.Fatalf("MaxAnchors 0 saved %v", store.saved)
	}
}

func TestUnreadableAnchorsDoNotStopTheNode(t *testing.T) {
	e := newEnv(t)
	book := e.newBook(1)
	if err := book.AddAddress(pextest.NodeAddr(9), pextest.NodeAddr(9)); err != nil {
		t.Fatal(err)
	}
	n := anchoredNode(e, 1, 2, &memAnchors{loadErr: errors.New("corrupt")}, book)
	if err := n.r.Start(); err != nil {
		t.Fatalf("start with unreadable anchors: %v", err)
	}
	e.clk.Run(time.Second)
	if err := n.r.Stop(); err != nil {
		t.Fatal(err)
	}
}
