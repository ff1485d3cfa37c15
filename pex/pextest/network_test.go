package pextest

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	tmp2p "github.com/cometbft/cometbft/proto/tendermint/p2p"

	"github.com/pexp2p/pexp2p/addrbook"
	"github.com/pexp2p/pexp2p/internal/clock"
	"github.com/pexp2p/pexp2p/pex"
)

type rec struct {
	added   []pex.PeerInfo
	removed []any
	got     []pex.Message
}

func (r *rec) AddPeer(p pex.PeerInfo)          { r.added = append(r.added, p) }
func (r *rec) RemovePeer(_ string, reason any) { r.removed = append(r.removed, reason) }
func (r *rec) Receive(_ string, m pex.Message) { r.got = append(r.got, m) }
func hubNode(t *testing.T, h *Hub, nc NodeConfig) (*Node, *rec) {
	t.Helper()
	n, err := h.AddNode(nc)
	if err != nil {
		t.Fatal(err)
	}
	r := &rec{}
	n.SetHandler(r)
	return n, r
}

func TestHubDialAndDeliver(t *testing.T) {
	clk := clock.NewSimulated(time.Time{})
	h := NewHub(clk, time.Second)
	a, ra := hubNode(t, h, NodeConfig{Addr: NodeAddr(0)})
	b, rb := hubNode(t, h, NodeConfig{Addr: NodeAddr(1)})
	ctx := context.Background()

	if err := a.Dial(ctx, b.Addr()); err != nil {
		t.Fatal(err)
	}
	if len(ra.added) != 1 || !ra.added[0].Outbound || len(rb.added) != 1 || rb.added[0].Outbound {
		t.Fatalf("AddPeer calls: %+v / %+v", ra.added, rb.added)
	}
	if rb.added[0].ListenAddr != a.Addr() || rb.added[0].RemoteIP != a.Addr().IP {
		t.Fatalf("inbound PeerInfo %+v", rb.added[0])
	}
	if err := a.Dial(ctx, b.Addr()); !errors.Is(err, pex.ErrAlreadyConnectedOrDialing) {
		t.Fatalf("second dial = %v", err)
	}
	if err := b.Dial(ctx, a.Addr()); !errors.Is(err, pex.ErrAlreadyConnectedOrDialing) {
		t.Fatalf("reverse dial = %v", err)
	}
	if !a.Send(b.ID(), &tmp2p.PexRequest{}) {
		t.Fatal("send on a connection failed")
	}
	clk.Run(time.Second - time.Nanosecond)
	if len(rb.got) != 0 {
		t.Fatal("message arrived before the latency")
	}
	clk.Run(time.Nanosecond)
	if len(rb.got) != 1 {
		t.Fatal("message not delivered after the latency")
	}
	// A message in flight when the connection drops is lost.
	a.Send(b.ID(), &tmp2p.PexRequest{})
	a.StopPeerForError(b.ID(), errors.New("bye"))
	clk.Run(2 * time.Second)
	if len(rb.got) != 1 || len(ra.removed) != 1 || len(rb.removed) != 1 {
		t.Fatalf("after stop: got %d, removed %d/%d", len(rb.got), len(ra.removed), len(rb.removed))
	}
	if a.Send(b.ID(), &tmp2p.PexRequest{}) {
		t.Fatal("send without a connection succeeded")
	}
	// Graceful: messages sent before the stop arrive first.
	if err := a.Dial(ctx, b.Addr()); err != nil {
		t.Fatal(err)
	}
	a.Send(b.ID(), &tmp2p.PexAddrs{})
	a.StopPeerGracefully(b.ID())
	clk.Run(2 * time.Second)
	if len(rb.got) != 2 || a.Connected(b.ID()) {
		t.Fatal("graceful stop lost the message or kept the connection")
	}
	if st := a.Stops(); len(st) != 2 || st[0].Graceful || !st[1].Graceful {
		t.Fatalf("stops %+v", st)
	}
}

func TestHubDialErrors(t *testing.T) {
	clk := clock.NewSimulated(time.Time{})
	h := NewHub(clk, time.Millisecond)
	a, _ := hubNode(t, h, NodeConfig{Addr: NodeAddr(0)})
	b, _ := hubNode(t, h, NodeConfig{Addr: NodeAddr(1), MaxInbound: 1, Accept: func(id string) error {
		if id == NodeAddr(3).ID {
			return errors.New("banned")
		}
		return nil
	}})
	c, _ := hubNode(t, h, NodeConfig{Addr: NodeAddr(2)})
	d, _ := hubNode(t, h, NodeConfig{Addr: NodeAddr(3)})
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		from *Node
		to   addrbook.NetAddress
		want error
	}{
		{"self", a, a.Addr(), ErrSelf},
		{"nobody there", a, NodeAddr(9), ErrUnreachable},
		{"wrong ID", a, addrbook.NetAddress{ID: NodeAddr(9).ID, IP: b.Addr().IP, Port: b.Addr().Port}, pex.ErrAuthFailure},
		{"refused by Accept", d, b.Addr(), ErrRejected},
	} {
		err := tc.from.Dial(ctx, tc.to)
		var de *DialError
		if !errors.Is(err, tc.want) || !errors.As(err, &de) || de.Addr != tc.to {
			t.Errorf("%s: %v, want %v naming the address", tc.name, err, tc.want)
		}
	}
	if err := a.Dial(ctx, b.Addr()); err != nil {
		t.Fatal(err)
	}
	if err := c.Dial(ctx, b.Addr()); !errors.Is(err, ErrRejected) {
		t.Fatalf("dial into a full node without over-limit slots = %v", err)
	}
	b.SetOnline(false)
	if a.Connected(b.ID()) {
		t.Fatal("offline node kept its connections")
	}
	if err := a.Dial(ctx, b.Addr()); !errors.Is(err, ErrUnreachable) {
		t.Fatalf("dial to an offline node = %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := a.Dial(cctx, c.Addr()); !errors.Is(err, context.Canceled) {
		t.Fatalf("dial with a cancelled context = %v", err)
	}
	if _, err := h.AddNode(NodeConfig{Addr: NodeAddr(0)}); err == nil {
		t.Fatal("duplicate node accepted")
	}
	if _, err := h.AddNode(NodeConfig{}); err == nil {
		t.Fatal("node without address accepted")
	}
}

func TestHubDuplicateIPAndSize(t *testing.T) {
	clk := clock.NewSimulated(time.Time{})
	h := NewHub(clk, time.Millisecond)
	a, _ := hubNode(t, h, NodeConfig{Addr: NodeAddr(0)})
	b, _ := hubNode(t, h, NodeConfig{Addr: NodeAddr(1)})
	if err := a.Dial(context.Background(), b.Addr()); err != nil {
		t.Fatal(err)
	}
	sameIP := addrbook.NetAddress{ID: NodeAddr(5).ID, IP: b.Addr().IP, Port: 1}
	if !a.IsDialingOrConnected(sameIP) {
		t.Fatal("a second ID on a connected IP is not reported")
	}
	a2, _ := hubNode(t, h, NodeConfig{Addr: NodeAddr(2), AllowDuplicateIP: true})
	if err := a2.Dial(context.Background(), b.Addr()); err != nil {
		t.Fatal(err)
	}
	if a2.IsDialingOrConnected(sameIP) {
		t.Fatal("duplicate IP reported although allowed")
	}
	// An oversized message closes the connection, as a face's frame cap.
	big := &tmp2p.PexAddrs{}
	for i := 0; i < 1500; i++ {
		big.Addrs = append(big.Addrs, tmp2p.NetAddress{ID: NodeAddr(i).ID, IP: netip.MustParseAddr("11.0.0.1").String(), Port: 26656})
	}
	a.Send(b.ID(), big)
	clk.Run(time.Second)
	if a.Connected(b.ID()) {
		t.Fatal("oversized message did not close the connection")
	}
}

func TestMemBook(t *testing.T) {
	clk := clock.NewSimulated(time.Time{})
	b := NewMemBook(clk, rand.New(rand.NewPCG(1, 2)))
	self := NodeAddr(0)
	b.AddOurAddress(self)
	if err := b.AddAddress(self, self); !errors.Is(err, ErrBookOurs) {
		t.Fatalf("own address: %v", err)
	}
	b.AddPrivateIDs([]string{NodeAddr(1).ID})
	if err := b.AddAddress(NodeAddr(1), NodeAddr(1)); !errors.Is(err, ErrBookPrivate) {
		t.Fatalf("private: %v", err)
	}
	for i := 2; i < 202; i++ {
		if err := b.AddAddress(NodeAddr(i), self); err != nil {
			t.Fatal(err)
		}
	}
	if got := len(b.GetSelection()); got != 46 {
		t.Fatalf("selection of 200 = %d, want 23 %% = 46", got)
	}
	b.MarkGood(NodeAddr(2).ID)
	if a, ok := b.PickAddress(0); !ok || a != NodeAddr(2) {
		t.Fatalf("bias 0 picked %v, want the only old address", a)
	}
	b.MarkBad(NodeAddr(3), time.Minute)
	if b.HasAddress(NodeAddr(3).ID) || !b.IsBanned(NodeAddr(3).ID) {
		t.Fatal("MarkBad did not ban")
	}
	clk.Run(time.Minute)
	b.ReinstateBadPeers()
	if !b.HasAddress(NodeAddr(3).ID) || b.IsBanned(NodeAddr(3).ID) {
		t.Fatal("expired ban not reinstated")
	}
}
