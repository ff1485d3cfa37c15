package bridge

import (
	"context"
	stded25519 "crypto/ed25519"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	cmtcfg "github.com/cometbft/cometbft/config"
	cmted25519 "github.com/cometbft/cometbft/crypto/ed25519"
	"github.com/cometbft/cometbft/p2p"
	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/host"
	libp2pquic "github.com/libp2p/go-libp2p/p2p/transport/quic"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"

	"github.com/pexp2p/pexp2p/addrbook"
	"github.com/pexp2p/pexp2p/internal/testwait"
	"github.com/pexp2p/pexp2p/pex"
	"github.com/pexp2p/pexp2p/transport"
	"github.com/pexp2p/pexp2p/transport/classic"
)

const chainID = "bridge-test-chain"

type nopHandler struct{}

func (nopHandler) AddPeer(pex.PeerInfo)        {}
func (nopHandler) RemovePeer(string, any)      {}
func (nopHandler) Receive(string, pex.Message) {}

// allowDuplicateIP: every node of these tests is on 127.0.0.1.
func allowDuplicateIP() *cmtcfg.P2PConfig {
	c := cmtcfg.DefaultP2PConfig()
	c.AllowDuplicateIP = true
	return c
}

// freeDualPort finds a port number free on 127.0.0.1 for both TCP and UDP,
// because a dual-stack node serves classic TCP and libp2p QUIC on one
// number.
func freeDualPort(t *testing.T) uint16 {
	t.Helper()
	for i := 0; i < 50; i++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		pc, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port))
		_ = ln.Close()
		if err == nil {
			_ = pc.Close()
			return uint16(port)
		}
	}
	t.Fatal("no port free for both TCP and UDP")
	return 0
}

func startClassicFace(t *testing.T, key cmted25519.PrivKey, port uint16) *classic.Face {
	t.Helper()
	f, err := classic.New(classic.Config{
		NodeKey:      &p2p.NodeKey{PrivKey: key},
		ChainID:      chainID,
		ListenAddr:   fmt.Sprintf("tcp://127.0.0.1:%d", port),
		P2P:          allowDuplicateIP(),
		ProbeTimeout: 3 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	f.SetHandler(nopHandler{})
	if err := f.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Stop() })
	return f
}

func startLibp2pHost(t *testing.T, key cmted25519.PrivKey, listen string) host.Host {
	t.Helper()
	nk, err := transport.NewNodeKey(stded25519.PrivateKey(key))
	if err != nil {
		t.Fatal(err)
	}
	h, err := libp2p.New(
		libp2p.Identity(nk.LibP2PKey()),
		libp2p.ListenAddrStrings(listen),
		libp2p.Transport(libp2pquic.NewTransport),
		libp2p.Transport(tcp.NewTCPTransport),
		libp2p.DisableRelay(),
		libp2p.DisableMetrics(),
	)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Close() })
	return h
}

func peerIDOf(t *testing.T, key cmted25519.PrivKey) string {
	t.Helper()
	pid, err := transport.PeerIDFromPubKey(key.PubKey().Bytes())
	if err != nil {
		t.Fatal(err)
	}
	return pid.String()
}

// Crossing faces on real transports over loopback: a
// dual-stack node (one key; classic TCP and libp2p QUIC on the same port)
// learned on either face crosses to the other after verification; a fake
// one (another key on the libp2p side of the same port) never does.
func TestDualStackCrossesFakeDoesNot(t *testing.T) {
	bridgeFace := startClassicFace(t, cmted25519.GenPrivKey(), 0)
	prober, err := NewLibp2pProber(0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = prober.Close() })

	classicBook, err := addrbook.New(addrbook.Options{IDRule: addrbook.ClassicIDs})
	if err != nil {
		t.Fatal(err)
	}
	libp2pBook, err := addrbook.New(addrbook.Options{IDRule: transport.PeerIDs})
	if err != nil {
		t.Fatal(err)
	}
	bridgeLibp2pSelf := addrbook.NetAddress{ID: peerIDOf(t, cmted25519.GenPrivKey()), IP: lo, Port: 1}
	metrics := &countMetrics{}
	b, err := New(Config{
		Classic:      Side{Book: classicBook, Prober: bridgeFace, Self: bridgeFace.NetAddress},
		Libp2p:       Side{Book: libp2pBook, Prober: prober, Self: func() addrbook.NetAddress { return bridgeLibp2pSelf }},
		Metrics:      metrics,
		ProbeTimeout: 5 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	bridgeFace.SetPeerObserver(b)
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Stop() })

	// The honest dual-stack node.
	dualKey := cmted25519.GenPrivKey()
	dualPort := freeDualPort(t)
	dualClassic := startClassicFace(t, dualKey, dualPort)
	startLibp2pHost(t, dualKey, fmt.Sprintf("/ip4/127.0.0.1/udp/%d/quic-v1", dualPort))
	dualPeerID := peerIDOf(t, dualKey)

	// The fake: its libp2p side holds a different key than its classic side.
	fakeKey := cmted25519.GenPrivKey()
	fakePort := freeDualPort(t)
	fakeClassic := startClassicFace(t, fakeKey, fakePort)
	startLibp2pHost(t, cmted25519.GenPrivKey(), fmt.Sprintf("/ip4/127.0.0.1/udp/%d/quic-v1", fakePort))
	fakePeerID := peerIDOf(t, fakeKey)

	ctx := context.Background()
	// Classic → libp2p: both connect to the bridge's classic face, which
	// learns their keys in the handshake and hands them to the bridge.
	for _, f := range []*classic.Face{dualClassic, fakeClassic} {
		if err := f.Dial(ctx, bridgeFace.NetAddress()); err != nil {
			t.Fatalf("dial bridge: %v", err)
		}
	}
	settled := func(d Direction, n int) func() bool {
		return func() bool { return metrics.get(d, Verified)+metrics.get(d, Failed) >= n }
	}
	if !testwait.Until(15*time.Second, settled(ClassicToLibp2p, 2)) {
		t.Fatalf("classic peers not settled: %+v", metrics.n)
	}
	if !libp2pBook.HasAddress(dualPeerID) {
		t.Errorf("verified dual-stack node %s missing from the libp2p book", dualPeerID)
	}
	if libp2pBook.HasAddress(fakePeerID) {
		t.Errorf("fake node %s crossed into the libp2p book", fakePeerID)
	}
	if metrics.get(ClassicToLibp2p, Verified) != 1 || metrics.get(ClassicToLibp2p, Failed) != 1 {
		t.Errorf("classic_to_libp2p metrics = %+v", metrics.n[ClassicToLibp2p])
	}

	// Libp2p → classic: the same nodes as libp2p addresses (as PEX on the
	// libp2p face would teach them). The fake's libp2p key names a classic
	// ID nobody holds at that port.
	fakeLibp2pID := peerIDOf(t, cmted25519.GenPrivKey())
	b.OfferLibp2pAddr(addrbook.NetAddress{ID: dualPeerID, IP: lo, Port: dualPort})
	b.OfferLibp2pAddr(addrbook.NetAddress{ID: fakeLibp2pID, IP: lo, Port: fakePort})
	if !testwait.Until(15*time.Second, settled(Libp2pToClassic, 2)) {
		t.Fatalf("libp2p addresses not settled: %+v", metrics.n)
	}
	if !classicBook.HasAddress(dualClassic.ID()) {
		t.Errorf("verified dual-stack node %s missing from the classic book", dualClassic.ID())
	}
	fakeCometID, _ := transport.CometIDFromPeerIDText(fakeLibp2pID)
	if classicBook.HasAddress(fakeCometID) {
		t.Errorf("fake libp2p node crossed into the classic book")
	}
	if classicBook.HasAddress(fakeClassic.ID()) {
		t.Errorf("fake classic node entered the classic book through the bridge")
	}
	if metrics.get(Libp2pToClassic, Verified) != 1 || metrics.get(Libp2pToClassic, Failed) != 1 {
		t.Errorf("libp2p_to_classic metrics = %+v", metrics.n[Libp2pToClassic])
	}
}

// The libp2p probe falls back to TCP when nothing answers QUIC, and a
// wrong peer ID fails on both transports with both errors reported.
func TestLibp2pProberFallbackAndMismatch(t *testing.T) {
	prober, err := NewLibp2pProber(time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = prober.Close() })
	key := cmted25519.GenPrivKey()
	port := freeDualPort(t)
	startLibp2pHost(t, key, fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", port))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	if err := prober.Probe(ctx, addrbook.NetAddress{ID: peerIDOf(t, key), IP: lo, Port: port}); err != nil {
		t.Fatalf("TCP-only node not proven: %v", err)
	}
	err = prober.Probe(ctx, addrbook.NetAddress{ID: peerIDOf(t, cmted25519.GenPrivKey()), IP: lo, Port: port})
	var pe *Libp2pProbeError
	if !errors.Is(err, ErrLibp2pProbe) || !errors.As(err, &pe) || len(pe.Attempts) != 2 {
		t.Fatalf("wrong ID: %v, want a Libp2pProbeError with QUIC and TCP attempts", err)
	}
	if err := prober.Probe(ctx, addrbook.NetAddress{ID: "not-a-peer-id", IP: lo, Port: port}); !errors.Is(err, ErrLibp2pProbe) {
		t.Errorf("bad peer ID: %v", err)
	}
}
