package classic

import (
	"context"
	"errors"
	"flag"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cometbft/cometbft/crypto/ed25519"
	"github.com/cometbft/cometbft/p2p"
	tmp2p "github.com/cometbft/cometbft/proto/tendermint/p2p"
	"go.uber.org/goleak"

	"github.com/pexp2p/pexp2p/addrbook"
	"github.com/pexp2p/pexp2p/internal/pexrec"
	"github.com/pexp2p/pexp2p/internal/testhost"
	"github.com/pexp2p/pexp2p/internal/testwait"
	"github.com/pexp2p/pexp2p/pex"
)

var verboseUpstream = flag.Bool("upstream-log", false, "print upstream's switch logs in -v runs")

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const testChain = "pexp2p-test-chain"

type recObserver struct {
	mu    sync.Mutex
	peers []Peer
}

func (o *recObserver) ClassicPeerConnected(p Peer) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.peers = append(o.peers, p)
}

func newTestFace(t *testing.T, h Handler, mutate func(*Config)) *Face {
	t.Helper()
	cfg := Config{
		NodeKey:    &p2p.NodeKey{PrivKey: ed25519.GenPrivKey()},
		ChainID:    testChain,
		ListenAddr: "tcp://127.0.0.1:0",
		Logger:     testLogger(),
	}
	cfg.P2P = nil
	if mutate != nil {
		mutate(&cfg)
	}
	f, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.Switch().SetLogger(testLogger())
	f.SetHandler(h)
	if err := f.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Stop() })
	return f
}

func allowDupIP(c *Config) {
	p := *defaultP2P()
	p.AllowDuplicateIP = true
	c.P2P = &p
}

// An upstream node whose seed is the face connects: the face hands the
// peer to the handler with its advertised address and key, forwards the
// upstream reactor's PexRequest, and delivers our PexAddrs so that they
// land in upstream's own book (an inbound peer is added with its
// advertised address; channel 0 is wire-compatible with upstream's
// reactor).
func TestUpstreamPeerReachesHandler(t *testing.T) {
	h := &pexrec.Recorder{}
	var face *Face
	gossip := addrbook.NetAddress{ID: "c14ff30999c0d33fc2eff45b09ffee7b4c4a3527", IP: netip.MustParseAddr("127.0.0.9"), Port: 26656}
	h.OnReceive = func(id string, msg pex.Message) {
		if _, ok := msg.(*tmp2p.PexRequest); ok {
			face.Send(id, &tmp2p.PexAddrs{Addrs: pex.AddrsToProto([]addrbook.NetAddress{gossip})})
		}
	}
	obs := &recObserver{}
	face = newTestFace(t, h, allowDupIP)
	face.SetPeerObserver(obs)
	up := newUpstreamNode(t, testChain, []string{face.NetAddress().String()}, 200*time.Millisecond)

	upID := string(up.key.ID())
	if !testwait.Until(10*time.Second, func() bool {
		_, _, recv := h.Snapshot()
		return len(recv) > 0 && up.book.HasAddress(mustP2P(t, gossip))
	}) {
		t.Fatalf("upstream node never requested addresses or never stored our answer")
	}
	added, _, recv := h.Snapshot()
	if len(added) != 1 || added[0].ID != upID {
		t.Fatalf("AddPeer calls = %+v, want one for %s", added, upID)
	}
	got := added[0]
	if got.Outbound {
		t.Errorf("upstream dialed us, but PeerInfo.Outbound is true")
	}
	wantListen := addrbook.NetAddress{ID: upID, IP: netip.MustParseAddr("127.0.0.1"), Port: up.addr.Port}
	if got.ListenAddr != wantListen {
		t.Errorf("ListenAddr = %v, want %v", got.ListenAddr, wantListen)
	}
	if got.RemoteIP != netip.MustParseAddr("127.0.0.1") {
		t.Errorf("RemoteIP = %v", got.RemoteIP)
	}
	if _, ok := recv[0].Msg.(*tmp2p.PexRequest); !ok || recv[0].From != upID {
		t.Errorf("first message = %T from %s, want *PexRequest from %s", recv[0].Msg, recv[0].From, upID)
	}
	key, ok := face.PeerPubKey(upID)
	if !ok || string(key) != string(up.key.PubKey().Bytes()) {
		t.Errorf("PeerPubKey = %x, %v; want the upstream node's key %x", key, ok, up.key.PubKey().Bytes())
	}
	obs.mu.Lock()
	if len(obs.peers) != 1 || obs.peers[0].DialAddr != wantListen || len(obs.peers[0].PubKey) != 32 {
		t.Errorf("observer saw %+v", obs.peers)
	}
	obs.mu.Unlock()
	if peers := face.Peers(); len(peers) != 1 || peers[0].ID != upID {
		t.Errorf("Peers() = %+v", peers)
	}
	out, in, _ := face.NumPeers()
	if out != 0 || in != 1 {
		t.Errorf("NumPeers = %d out %d in, want 0/1", out, in)
	}

	// Already connected: the reactor must see ErrAlreadyConnectedOrDialing.
	upAddr := mustAddr(t, up.addr)
	if !face.IsDialingOrConnected(upAddr) {
		t.Errorf("IsDialingOrConnected(%v) = false for a connected peer", upAddr)
	}
	if err := face.Dial(context.Background(), upAddr); !errors.Is(err, pex.ErrAlreadyConnectedOrDialing) {
		t.Errorf("Dial to connected peer: %v, want ErrAlreadyConnectedOrDialing", err)
	}

	face.StopPeerForError(upID, errors.New("test"))
	if !testwait.Until(5*time.Second, func() bool { _, removed, _ := h.Snapshot(); return len(removed) == 1 }) {
		t.Fatalf("RemovePeer not called after StopPeerForError")
	}
	if len(face.Peers()) != 0 {
		t.Errorf("Peers() not empty after removal")
	}
}

// Dialing an address whose ID is not the key listening there is an
// authentication failure the reactor can tell apart (attempts reset, as
// for upstream's ErrSwitchAuthenticationFailure).
func TestDialWrongIDIsAuthFailure(t *testing.T) {
	face := newTestFace(t, &pexrec.Recorder{}, allowDupIP)
	up := newUpstreamNode(t, testChain, []string{face.NetAddress().String()}, time.Hour)
	wrong := mustAddr(t, up.addr)
	wrong.ID = "c14ff30999c0d33fc2eff45b09ffee7b4c4a3527"
	err := face.Dial(context.Background(), wrong)
	if !errors.Is(err, pex.ErrAuthFailure) {
		t.Fatalf("Dial with wrong ID: %v, want ErrAuthFailure", err)
	}
}

func TestDialOutboundAndCancelled(t *testing.T) {
	h := &pexrec.Recorder{}
	face := newTestFace(t, h, allowDupIP)
	other := newTestFace(t, &pexrec.Recorder{}, allowDupIP)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := face.Dial(ctx, other.NetAddress()); !errors.Is(err, context.Canceled) {
		t.Errorf("Dial with cancelled ctx: %v", err)
	}
	if err := face.Dial(context.Background(), other.NetAddress()); err != nil {
		t.Fatalf("Dial: %v", err)
	}
	added, _, _ := h.Snapshot()
	if len(added) != 1 || !added[0].Outbound || added[0].ID != other.ID() {
		t.Fatalf("after dial AddPeer = %+v", added)
	}
	out, in, _ := face.NumPeers()
	if out != 1 || in != 0 {
		t.Errorf("NumPeers = %d/%d, want 1/0", out, in)
	}
	if err := face.Dial(context.Background(), addrbook.NetAddress{ID: "12D3KooWabc", IP: netip.MustParseAddr("127.0.0.1"), Port: 1}); !errors.Is(err, addrbook.ErrInvalidAddress) {
		t.Errorf("Dial of a libp2p ID: %v, want ErrInvalidAddress", err)
	}
	face.StopPeerGracefully(other.ID())
	if !testwait.Until(5*time.Second, func() bool { _, r, _ := h.Snapshot(); return len(r) == 1 }) {
		t.Fatal("RemovePeer not called after StopPeerGracefully")
	}
}

func TestProbe(t *testing.T) {
	face := newTestFace(t, &pexrec.Recorder{}, allowDupIP)
	target := newTestFace(t, &pexrec.Recorder{}, allowDupIP)
	otherChain := newTestFace(t, &pexrec.Recorder{}, func(c *Config) { allowDupIP(c); c.ChainID = "another-chain" })
	ctx := context.Background()

	if err := face.Probe(ctx, target.NetAddress()); err != nil {
		t.Fatalf("probe of a real node: %v", err)
	}
	key, err := face.ProbeKey(ctx, target.NetAddress())
	if err != nil || string(key) != string(target.nodeKey.PubKey().Bytes()) {
		t.Fatalf("ProbeKey = %x, %v", key, err)
	}
	wrong := target.NetAddress()
	wrong.ID = "c14ff30999c0d33fc2eff45b09ffee7b4c4a3527"
	err = face.Probe(ctx, wrong)
	var pe *ProbeError
	if !errors.Is(err, ErrProbeIdentity) || !errors.As(err, &pe) || pe.Stage != "identity" {
		t.Errorf("probe with wrong ID: %v, want ErrProbeIdentity", err)
	}
	if err := face.Probe(ctx, otherChain.NetAddress()); !errors.Is(err, ErrProbeIncompatible) {
		t.Errorf("probe of another chain: %v, want ErrProbeIncompatible", err)
	}
	closed := target.NetAddress()
	closed.Port = freeTCPPort(t)
	if err := face.Probe(ctx, closed); !errors.As(err, &pe) || pe.Stage != "dial" {
		t.Errorf("probe of a closed port: %v, want a dial ProbeError", err)
	}
	if err := face.Probe(ctx, addrbook.NetAddress{ID: "12D3KooWabc"}); !errors.Is(err, addrbook.ErrInvalidID) {
		t.Errorf("probe of a libp2p ID: %v, want ErrInvalidID", err)
	}
	// Probes leave no peer behind on either side.
	if !testwait.Until(5*time.Second, func() bool { return len(target.Peers()) == 0 && len(face.Peers()) == 0 }) {
		t.Errorf("probe left peers: target %v face %v", target.Peers(), face.Peers())
	}
}

func TestRemotePubKey(t *testing.T) {
	if _, ok := RemotePubKey(nil); ok {
		t.Error("RemotePubKey(nil) reported a key")
	}
	// A peer whose type is not upstream's peer yields nothing, not a panic.
	if _, ok := RemotePubKey(p2p.CreateRandomPeer(false)); ok {
		t.Error("RemotePubKey of a connection-less peer reported a key")
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	key := &p2p.NodeKey{PrivKey: ed25519.GenPrivKey()}
	cases := []struct {
		name string
		cfg  Config
		want error
	}{
		{"no key", Config{ChainID: "c", ListenAddr: "127.0.0.1:0"}, ErrNoNodeKey},
		{"no chain", Config{NodeKey: key, ListenAddr: "127.0.0.1:0"}, ErrNoChainID},
		{"empty laddr", Config{NodeKey: key, ChainID: "c"}, ErrBadListenAddr},
		{"bad laddr", Config{NodeKey: key, ChainID: "c", ListenAddr: "tcp://nohost:xx"}, ErrBadListenAddr},
		{"bad external", Config{NodeKey: key, ChainID: "c", ListenAddr: "127.0.0.1:0", ExternalAddr: "::::"}, ErrBadListenAddr},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := New(tc.cfg); !errors.Is(err, tc.want) {
				t.Errorf("New: %v, want %v", err, tc.want)
			}
		})
	}
	f, err := New(Config{NodeKey: key, ChainID: "c", ListenAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Start(); !errors.Is(err, ErrNoHandler) {
		t.Errorf("Start without handler: %v", err)
	}

	// A port already taken fails Start with the address named, and the
	// face can still be stopped.
	taken := testhost.Taken(t, "tcp").String()
	f, err = New(Config{NodeKey: key, ChainID: "c", ListenAddr: taken})
	if err != nil {
		t.Fatal(err)
	}
	f.SetHandler(&pexrec.Recorder{})
	if err := f.Start(); err == nil || !strings.Contains(err.Error(), taken) {
		t.Errorf("Start on a taken port: %v, want an error naming %s", err, taken)
	}
	if err := f.Stop(); err != nil {
		t.Errorf("Stop after a failed Start: %v", err)
	}
}

func TestPubKeyToClassicID(t *testing.T) {
	// Golden vector from the design brief.
	pub := mustHex(t, "67d3b5eaf0c0bf6b5a602d359daecc86a7a74053490ec37ae08e71360587c870")
	id, err := PubKeyToClassicID(pub)
	if err != nil || id != "c14ff30999c0d33fc2eff45b09ffee7b4c4a3527" {
		t.Fatalf("PubKeyToClassicID = %q, %v", id, err)
	}
	if _, err := PubKeyToClassicID(pub[:31]); err == nil {
		t.Error("31-byte key accepted")
	}
}
