package transport

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	tmp2p "github.com/cometbft/cometbft/proto/tendermint/p2p"
	"github.com/cosmos/gogoproto/proto"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	"go.uber.org/goleak"

	"github.com/pexp2p/pexp2p/addrbook"
	"github.com/pexp2p/pexp2p/internal/testhost"
	"github.com/pexp2p/pexp2p/internal/testwait"
	"github.com/pexp2p/pexp2p/pex"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
	os.Exit(0)
}

// fakeHandler records what the node hands to the reactor.
type fakeHandler struct {
	mu       sync.Mutex
	added    map[string]pex.PeerInfo
	removed  map[string]int
	received []received
	changed  chan struct{}
}

type received struct {
	from string
	msg  pex.Message
}

func newFakeHandler() *fakeHandler {
	return &fakeHandler{added: map[string]pex.PeerInfo{}, removed: map[string]int{}, changed: make(chan struct{}, 1000)}
}

func (f *fakeHandler) AddPeer(p pex.PeerInfo) {
	f.mu.Lock()
	f.added[p.ID] = p
	f.mu.Unlock()
	f.changed <- struct{}{}
}

func (f *fakeHandler) RemovePeer(id string, _ any) {
	f.mu.Lock()
	delete(f.added, id)
	f.removed[id]++
	f.mu.Unlock()
	f.changed <- struct{}{}
}

func (f *fakeHandler) Receive(id string, msg pex.Message) {
	f.mu.Lock()
	f.received = append(f.received, received{id, msg})
	f.mu.Unlock()
	f.changed <- struct{}{}
}

func (f *fakeHandler) snapshot() (map[string]pex.PeerInfo, map[string]int, []received) {
	f.mu.Lock()
	defer f.mu.Unlock()
	a := map[string]pex.PeerInfo{}
	for k, v := range f.added {
		a[k] = v
	}
	r := map[string]int{}
	for k, v := range f.removed {
		r[k] = v
	}
	return a, r, append([]received(nil), f.received...)
}

// testNodeConfig is the configuration of test node i: QUIC and TCP on
// 127.<i>.0.1, short timeouts.
func testNodeConfig(i int) Config {
	ip := fmt.Sprintf("127.%d.0.1", i)
	return Config{
		ListenAddrs: []ma.Multiaddr{
			ma.StringCast("/ip4/" + ip + "/udp/0/quic-v1"),
			ma.StringCast("/ip4/" + ip + "/tcp/0"),
		},
		Network:          "test-chain",
		Moniker:          fmt.Sprintf("node%d", i),
		HandshakeTimeout: 5 * time.Second,
		StreamTimeout:    2 * time.Second,
		BanSweepPeriod:   100 * time.Millisecond,
	}
}

// testNode starts a node on 127.<i>.0.1 with QUIC and TCP on one free port.
func testNode(t testing.TB, i int, mod func(*Config)) (*Node, *fakeHandler) {
	t.Helper()
	key, err := GenNodeKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	cfg := testNodeConfig(i)
	if mod != nil {
		mod(&cfg)
	}
	n, err := NewNode(key, cfg)
	if err != nil {
		t.Fatal(err)
	}
	h := newFakeHandler()
	n.SetHandler(h)
	if err := n.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.Stop() })
	return n, h
}

func netAddrOf(t testing.TB, n *Node) addrbook.NetAddress {
	t.Helper()
	addrs := n.OurNetAddresses()
	if len(addrs) == 0 {
		t.Fatal("node has no address")
	}
	return addrs[0]
}

// dial has a dial b by its book address, bounded in time.
func dial(t testing.TB, a, b *Node) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return a.Dial(ctx, netAddrOf(t, b))
}

// On the libp2p face, a peer reaches the handler only after
// identify and NodeInfo, with its real direction and advertised address;
// messages cross in both directions; RemovePeer follows the disconnect.
func TestTwoNodesLifecycleAndMessages(t *testing.T) {
	a, ha := testNode(t, 11, nil)
	b, hb := testNode(t, 12, nil)
	if err := dial(t, a, b); err != nil {
		t.Fatalf("dial: %v", err)
	}
	// Dial returns after our side is set up; the other side follows.
	addedA, _, _ := ha.snapshot()
	pb, ok := addedA[b.ID().String()]
	if !ok || !pb.Outbound {
		t.Fatalf("a's view of b: %+v %v", pb, ok)
	}
	if pb.ListenAddr != netAddrOf(t, b) {
		t.Fatalf("b advertises %v, want %v", pb.ListenAddr, netAddrOf(t, b))
	}
	testwait.For(t, 5*time.Second, "b to add a", func() bool {
		m, _, _ := hb.snapshot()
		_, ok := m[a.ID().String()]
		return ok
	})
	addedB, _, _ := hb.snapshot()
	pa := addedB[a.ID().String()]
	if pa.Outbound {
		t.Fatal("b sees a as outbound; direction must be real")
	}
	if pa.ListenAddr.IP.String() != "127.11.0.1" || pa.ListenAddr.ID != a.ID().String() {
		t.Fatalf("b learned a's address as %v", pa.ListenAddr)
	}
	if out, in, dial := a.NumPeers(); out != 1 || in != 0 || dial != 0 {
		t.Fatalf("a NumPeers = %d %d %d", out, in, dial)
	}
	if out, in, _ := b.NumPeers(); out != 0 || in != 1 {
		t.Fatalf("b NumPeers = %d %d", out, in)
	}
	if err := dial(t, a, b); err != pex.ErrAlreadyConnectedOrDialing {
		t.Fatalf("second dial: %v", err)
	}
	if !a.IsDialingOrConnected(netAddrOf(t, b)) {
		t.Fatal("IsDialingOrConnected false for a connected peer")
	}

	want := &tmp2p.PexAddrs{Addrs: []tmp2p.NetAddress{{ID: a.ID().String(), IP: "127.11.0.1", Port: 5}}}
	if !a.Send(b.ID().String(), &tmp2p.PexRequest{}) || !b.Send(a.ID().String(), want) {
		t.Fatal("Send refused")
	}
	testwait.For(t, 5*time.Second, "messages", func() bool {
		_, _, rb := hb.snapshot()
		_, _, ra := ha.snapshot()
		return len(rb) == 1 && len(ra) == 1
	})
	_, _, rb := hb.snapshot()
	_, _, ra := ha.snapshot()
	if _, ok := rb[0].msg.(*tmp2p.PexRequest); !ok || rb[0].from != a.ID().String() {
		t.Fatalf("b received %+v", rb[0])
	}
	if !proto.Equal(ra[0].msg, want) || ra[0].from != b.ID().String() {
		t.Fatalf("a received %+v", ra[0])
	}

	a.StopPeerGracefully(b.ID().String())
	testwait.For(t, 5*time.Second, "RemovePeer on both", func() bool {
		_, ra, _ := ha.snapshot()
		_, rb, _ := hb.snapshot()
		return ra[b.ID().String()] == 1 && rb[a.ID().String()] == 1
	})
	if len(a.Peers()) != 0 {
		t.Fatalf("a still has peers %v", a.Peers())
	}
}

// handlerHas waits for the handler's own record, which lags the node's
// peer table by one call.
func (f *fakeHandler) has(id peer.ID) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, ok := f.added[id.String()]
	return ok
}

// A Start that fails in libp2p.New (the listen fails) returns an error
// and leaves no libp2p goroutine behind (peerstore GC, swarm dial
// backoff and event emitter); a Stop after it is a no-op, not a panic.
func TestStartFailureLeaksNothing(t *testing.T) {
	taken := "/ip4/127.0.0.1/tcp/" + strconv.Itoa(int(testhost.Taken(t, "tcp").Port()))
	for _, tc := range []struct{ name, listen string }{
		{"port taken by a plain TCP listener", taken},
		{"address not on this host", "/ip4/192.0.2.1/tcp/0"}, // TEST-NET-1
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
			key, err := GenNodeKey(nil)
			if err != nil {
				t.Fatal(err)
			}
			n, err := NewNode(key, Config{ListenAddrs: []ma.Multiaddr{ma.StringCast(tc.listen)}, Network: "leak-test"})
			if err != nil {
				t.Fatal(err)
			}
			n.SetHandler(newFakeHandler())
			if err := n.Start(); err == nil {
				_ = n.Stop()
				t.Fatalf("Start listening on %s succeeded", tc.listen)
			}
			if err := n.Stop(); err != nil {
				t.Fatalf("Stop after a failed Start: %v", err)
			}
		})
	}
}
