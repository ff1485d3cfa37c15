package pex_test

import (
	"errors"
	tmp2p "github.com/cometbft/cometbft/proto/tendermint/p2p"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/pexp2p/pexp2p/addrbook"
	"github.com/pexp2p/pexp2p/internal/clock"
	"github.com/pexp2p/pexp2p/pex"
	"github.com/pexp2p/pexp2p/pex/pextest"
)

// The production paths (wall clock, goroutine executor) connect a small
// network and Stop returns without leaking goroutines (goleak in
// TestMain). This is the only test on wall time: it checks the real
// executor and timers, which virtual time replaces elsewhere.
func TestSystemClockRunAndStop(t *testing.T) {
	hub := pextest.NewHub(clock.System, time.Millisecond)
	cfg := pex.DefaultConfig()
	cfg.EnsurePeersPeriod = 30 * time.Millisecond
	var rs []*pex.Reactor
	var nodes []*pextest.Node
	var books []*addrbook.Book
	for i := 0; i < 3; i++ {
		b, err := addrbook.New(addrbook.Options{Strict: true, Rand: rand.New(rand.NewPCG(1, uint64(i)))})
		if err != nil {
			t.Fatal(err)
		}
		b.AddOurAddress(pextest.NodeAddr(i))
		n, err := hub.AddNode(pextest.NodeConfig{Addr: pextest.NodeAddr(i)})
		if err != nil {
			t.Fatal(err)
		}
		r := pex.NewReactor(b, n, cfg)
		n.SetHandler(r)
		rs, nodes, books = append(rs, r), append(nodes, n), append(books, b)
	}
	for _, e := range [][2]int{{0, 1}, {1, 0}, {2, 1}} {
		if err := books[e[0]].AddAddress(pextest.NodeAddr(e[1]), pextest.NodeAddr(e[0])); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range rs {
		if err := r.Start(); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		done := true
		for _, n := range nodes {
			if len(n.Peers()) < 2 {
				done = false
			}
		}
		if done {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("network of 3 did not connect within 10 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		for _, r := range rs {
			if err := r.Stop(); err != nil {
				t.Error(err)
			}
		}
	}()
	select {
	case <-stopped:
	case <-time.After(10 * time.Second):
		t.Fatal("Stop hung")
	}
}

// Concurrent AddPeer/Receive/RemovePeer from many goroutines while the
// reactor runs and stops: no data race (-race), no deadlock, no panic.
func TestConcurrentHandlers(t *testing.T) {
	hub := pextest.NewHub(clock.System, 0)
	cfg := pex.DefaultConfig()
	// A long period keeps the ensure-peers routine from asking the visitors
	// for addresses: an asked peer's PexAddrs is solicited, and on a loaded
	// machine a short period let every list become solicited, so nothing was
	// left to punish and the test flaked.
	cfg.EnsurePeersPeriod = time.Hour
	b, err := addrbook.New(addrbook.Options{Strict: true, Rand: rand.New(rand.NewPCG(1, 1))})
	if err != nil {
		t.Fatal(err)
	}
	node, err := hub.AddNode(pextest.NodeConfig{Addr: pextest.NodeAddr(0), MaxInbound: 100})
	if err != nil {
		t.Fatal(err)
	}
	r := pex.NewReactor(b, node, cfg)
	node.SetHandler(r)
	if err := r.Start(); err != nil {
		t.Fatal(err)
	}
	var peers []*pextest.Node
	for i := 1; i <= 16; i++ {
		p, err := hub.AddNode(pextest.NodeConfig{Addr: pextest.NodeAddr(i)})
		if err != nil {
			t.Fatal(err)
		}
		peers = append(peers, p)
	}
	done := make(chan struct{})
	for i, p := range peers {
		go func() {
			defer func() { done <- struct{}{} }()
			for k := 0; k < 50; k++ {
				_ = p.Dial(t.Context(), node.Addr())
				p.Send(node.ID(), &tmp2p.PexRequest{})
				p.Send(node.ID(), addrsMsg(pextest.NodeAddr(100+i*50+k)))
				if k%7 == 0 {
					p.StopPeerForError(node.ID(), errors.New("churn"))
				}
			}
		}()
	}
	for range peers {
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			t.Fatal("handlers deadlocked")
		}
	}
	// The churn above races messages against disconnects, so whether any
	// of its lists reached a connected reactor is luck. After it, the
	// reactor must still punish an unsolicited list from a fresh peer.
	late, err := hub.AddNode(pextest.NodeConfig{Addr: pextest.NodeAddr(99)})
	if err != nil {
		t.Fatal(err)
	}
	if err := late.Dial(t.Context(), node.Addr()); err != nil {
		t.Fatal(err)
	}
	punished := func() bool {
		for _, st := range node.Stops() {
			if st.Peer == late.ID() && errors.Is(st.Reason, pex.ErrUnsolicited) {
				return true
			}
		}
		return false
	}
	deadline := time.Now().Add(10 * time.Second)
	for sent := false; !punished(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("unsolicited PexAddrs after the churn not punished (sent: %v); stops: %v", sent, node.Stops())
		}
		if !sent {
			sent = late.Send(node.ID(), addrsMsg(pextest.NodeAddr(98)))
		}
	}
	stopped := make(chan error, 1)
	go func() { stopped <- r.Stop() }()
	select {
	case err := <-stopped:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Stop hung")
	}
}
