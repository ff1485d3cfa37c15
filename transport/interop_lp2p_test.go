package transport

import (
	"context"
	"crypto/rand"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/cometbft/cometbft/config"
	"github.com/cometbft/cometbft/crypto/ed25519"
	cmtlog "github.com/cometbft/cometbft/libs/log"
	"github.com/cometbft/cometbft/lp2p"
	"github.com/cometbft/cometbft/p2p"
	"github.com/cometbft/cometbft/p2p/conn"
	tmp2p "github.com/cometbft/cometbft/proto/tendermint/p2p"
	"github.com/cosmos/gogoproto/proto"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/pexp2p/pexp2p/addrbook"
	"github.com/pexp2p/pexp2p/internal/testwait"
)

// chan0Reactor is a minimal upstream reactor on channel 0 with
// tendermint.p2p.Message as its message type, as upstream's PEX reactor
// declares it.
type chan0Reactor struct {
	p2p.BaseReactor
	mu    sync.Mutex
	peers map[p2p.ID]p2p.Peer
	got   []p2p.Envelope
}

func newChan0Reactor() *chan0Reactor {
	r := &chan0Reactor{peers: map[p2p.ID]p2p.Peer{}}
	r.BaseReactor = *p2p.NewBaseReactor("chan0", r)
	return r
}

func (r *chan0Reactor) GetChannels() []*conn.ChannelDescriptor {
	return []*conn.ChannelDescriptor{{
		ID: 0x00, Priority: 1, SendQueueCapacity: 10,
		RecvMessageCapacity: MaxMsgSize, MessageType: &tmp2p.Message{},
	}}
}

func (r *chan0Reactor) AddPeer(p p2p.Peer) {
	r.mu.Lock()
	r.peers[p.ID()] = p
	r.mu.Unlock()
}

func (r *chan0Reactor) RemovePeer(p p2p.Peer, _ any) {
	r.mu.Lock()
	delete(r.peers, p.ID())
	r.mu.Unlock()
}

func (r *chan0Reactor) Receive(e p2p.Envelope) {
	r.mu.Lock()
	r.got = append(r.got, e)
	r.mu.Unlock()
}

func (r *chan0Reactor) state() (map[p2p.ID]p2p.Peer, []p2p.Envelope) {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := map[p2p.ID]p2p.Peer{}
	for k, v := range r.peers {
		m[k] = v
	}
	return m, append([]p2p.Envelope(nil), r.got...)
}

// Interop with upstream cometbft v0.40.0's lp2p switch: a reactor on
// channel 0 there receives our PexAddrs decoded exactly, and its
// PexRequest reaches our handler decoded. The lp2p node speaks QUIC only
// and no NodeInfo protocol, so this also covers the lenient NodeInfo path.
// With signed records on, the same holds; upstream's own signed record
// from identify reaches our book as verified, and its PexAddrs does not
// make us open the peer-records protocol, which it does not announce.
func TestInteropUpstreamLp2pSwitch(t *testing.T) {
	t.Run("records off", func(t *testing.T) { interopUpstreamLp2p(t, false) })
	t.Run("records on", func(t *testing.T) { interopUpstreamLp2p(t, true) })
}

func interopUpstreamLp2p(t *testing.T, signed bool) {
	cfg := config.DefaultP2PConfig()
	cfg.RootDir = t.TempDir()
	cfg.ListenAddress = "127.0.0.1:0"
	cfg.ExternalAddress = ""
	cfg.LibP2PConfig.Enabled = true
	upKey := ed25519.GenPrivKey()
	uh, err := lp2p.NewHost(cfg, upKey, cmtlog.NewNopLogger())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = uh.Close() })
	reactor := newChan0Reactor()
	sw, err := lp2p.NewSwitch(nil, uh, []lp2p.SwitchReactor{{Reactor: reactor, Name: "PEX"}}, p2p.NopMetrics(), cmtlog.NewNopLogger())
	if err != nil {
		t.Fatal(err)
	}
	if err := sw.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sw.Stop() })

	// The upstream node's key is an ordinary CometBFT key; our identity
	// functions give its peer ID.
	upNodeKey, err := NewNodeKey([]byte(upKey))
	if err != nil {
		t.Fatal(err)
	}
	if upNodeKey.PeerID() != uh.ID() {
		t.Fatalf("peer ID of the upstream key: ours %s, lp2p %s", upNodeKey.PeerID(), uh.ID())
	}
	var upAddr addrbook.NetAddress
	for _, a := range uh.Addrs() {
		ip, port, _, _, err := SplitMultiaddr(a)
		if err == nil {
			upAddr = addrbook.NetAddress{ID: uh.ID().String(), IP: ip, Port: port}
		}
	}
	if upAddr.IsZero() {
		t.Fatalf("no usable upstream address in %v", uh.Addrs())
	}

	key, _ := GenNodeKey(rand.Reader)
	sink := newFakeSink()
	ours, err := NewNode(key, Config{
		ListenAddrs: []ma.Multiaddr{ma.StringCast("/ip4/127.0.0.1/udp/0/quic-v1"), ma.StringCast("/ip4/127.0.0.1/tcp/0")},
		Network:     "interop", HandshakeTimeout: 5 * time.Second, StreamTimeout: 3 * time.Second,
		SignedRecords: signed, DialAlternatives: signed, Addresses: sink,
	})
	if err != nil {
		t.Fatal(err)
	}
	decided := make(chan bool, 1)
	if signed {
		ours.rec.onPexAddrs = func(_ peer.ID, _ []peer.ID, asking bool) { decided <- asking }
	}
	h := newFakeHandler()
	ours.SetHandler(h)
	if err := ours.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ours.Stop() })

	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := ours.Dial(ctx, upAddr); err != nil {
		t.Fatalf("dialing upstream lp2p: %v", err)
	}
	added, _, _ := h.snapshot()
	if got := added[uh.ID().String()].ListenAddr; got.IP != netip.MustParseAddr("127.0.0.1") || got.Port != upAddr.Port {
		t.Fatalf("listen address of the lp2p peer from identify: %v", got)
	}

	want := &tmp2p.PexAddrs{Addrs: []tmp2p.NetAddress{
		{ID: key.PeerID().String(), IP: "127.0.0.1", Port: 26656},
		{ID: uh.ID().String(), IP: "::1", Port: 1},
	}}
	if !ours.Send(uh.ID().String(), want) {
		t.Fatal("Send refused")
	}
	testwait.For(t, 10*time.Second, "upstream reactor to receive our PexAddrs", func() bool {
		_, got := reactor.state()
		return len(got) == 1
	})
	_, got := reactor.state()
	if got[0].ChannelID != 0x00 || !proto.Equal(got[0].Message, want) {
		t.Fatalf("upstream decoded %T %v on channel %#x", got[0].Message, got[0].Message, got[0].ChannelID)
	}
	if string(got[0].Src.ID()) != key.PeerID().String() {
		t.Fatalf("upstream sees sender %s", got[0].Src.ID())
	}

	peers, _ := reactor.state()
	up := peers[p2p.ID(key.PeerID().String())]
	if up == nil {
		t.Fatal("upstream reactor has no peer for us")
	}
	if !up.Send(p2p.Envelope{ChannelID: 0x00, Message: &tmp2p.PexRequest{}}) {
		t.Fatal("upstream Send refused")
	}
	testwait.For(t, 10*time.Second, "our handler to receive upstream's PexRequest", func() bool {
		_, _, r := h.snapshot()
		return len(r) == 1
	})
	_, _, r := h.snapshot()
	if _, ok := r[0].msg.(*tmp2p.PexRequest); !ok || r[0].from != uh.ID().String() {
		t.Fatalf("we decoded %T from %s", r[0].msg, r[0].from)
	}
	if !signed {
		return
	}
	testwait.For(t, 10*time.Second, "upstream's own record verified", func() bool {
		got, _, ok := sink.verifiedOf(uh.ID())
		return ok && slices.Contains(got, upAddr)
	})
	_, someone := recordKey(t)
	if !up.Send(p2p.Envelope{ChannelID: 0x00, Message: &tmp2p.PexAddrs{Addrs: []tmp2p.NetAddress{{ID: someone.String(), IP: "127.0.0.9", Port: 9}}}}) {
		t.Fatal("upstream Send refused")
	}
	select {
	case asking := <-decided:
		if asking {
			t.Fatal("we opened the peer-records protocol to upstream, which does not announce it")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("upstream's PexAddrs never reached the records side")
	}
	if !hasPeer(ours, uh.ID()) {
		t.Fatal("upstream peer dropped")
	}
}
