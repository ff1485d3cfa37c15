package bridge

import (
	"crypto/rand"
	"fmt"
	"testing"
	"time"

	cmtcfg "github.com/cometbft/cometbft/config"
	cmted25519 "github.com/cometbft/cometbft/crypto/ed25519"
	"github.com/cometbft/cometbft/p2p"
	upex "github.com/cometbft/cometbft/p2p/pex"
	"github.com/cometbft/cometbft/version"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/pexp2p/pexp2p/addrbook"
	"github.com/pexp2p/pexp2p/internal/testwait"
	"github.com/pexp2p/pexp2p/pex"
	"github.com/pexp2p/pexp2p/pex/pextest"
	"github.com/pexp2p/pexp2p/transport"
	"github.com/pexp2p/pexp2p/transport/classic"
)

func genKey(t *testing.T) *transport.NodeKey {
	t.Helper()
	k, err := transport.GenNodeKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// lpFace is a libp2p face (transport.Node) with its book; the reactor is
// started when seeds or a handler need it.
type lpFace struct {
	node *transport.Node
	book *addrbook.Book
}

// newLibp2pFace starts a libp2p face listening on QUIC at 127.0.0.1:port
// (0: any). With withReactor it runs a pexp2p reactor (seeds given);
// wrap, if set, wraps the reactor as the node's handler (the bridge hook).
func newLibp2pFace(t *testing.T, key *transport.NodeKey, port uint16, withReactor bool, seeds []string, wrap func(transport.Handler) transport.Handler) *lpFace {
	t.Helper()
	return newLibp2pFaceWithBook(t, newPeerIDBook(t), key, port, withReactor, seeds, wrap)
}

func newPeerIDBook(t *testing.T) *addrbook.Book {
	t.Helper()
	book, err := addrbook.New(addrbook.Options{IDRule: transport.PeerIDs})
	if err != nil {
		t.Fatal(err)
	}
	return book
}

func newLibp2pFaceWithBook(t *testing.T, book *addrbook.Book, key *transport.NodeKey, port uint16, withReactor bool, seeds []string, wrap func(transport.Handler) transport.Handler) *lpFace {
	t.Helper()
	node, err := transport.NewNode(key, transport.Config{
		ListenAddrs:      []ma.Multiaddr{ma.StringCast(fmt.Sprintf("/ip4/127.0.0.1/udp/%d/quic-v1", port))},
		Network:          chainID,
		AllowDuplicateIP: true,
		Bans:             book,
		// Default handshake and stream timeouts: shorter ones turn a
		// loaded CI machine's slowness into disconnects and refusals.
	})
	if err != nil {
		t.Fatal(err)
	}
	var r *pex.Reactor
	if withReactor {
		r = pex.NewReactor(book, node, pextest.FastConfig(transport.PeerIDs, seeds...))
		var h transport.Handler = r
		if wrap != nil {
			h = wrap(r)
		}
		node.SetHandler(h)
	} else {
		node.SetHandler(nopHandler{})
	}
	if err := node.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = node.Stop() })
	for _, a := range node.OurNetAddresses() {
		book.AddOurAddress(a)
	}
	if r != nil {
		if err := r.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = r.Stop() })
	}
	return &lpFace{node: node, book: book}
}

func (f *lpFace) addr(t *testing.T) addrbook.NetAddress {
	t.Helper()
	as := f.node.OurNetAddresses()
	if len(as) == 0 {
		t.Fatal("libp2p face has no address")
	}
	return as[0]
}

func (f *lpFace) connectedTo(id string) bool {
	for _, p := range f.node.Peers() {
		if p.ID == id {
			return true
		}
	}
	return false
}

// newClassicFace starts a classic face at 127.0.0.1:port with, when
// withReactor, a pexp2p reactor and book (seeds given).
func newClassicFace(t *testing.T, key *transport.NodeKey, port uint16, withReactor bool, seeds []string) (*classic.Face, *addrbook.Book) {
	t.Helper()
	book, err := addrbook.New(addrbook.Options{IDRule: addrbook.ClassicIDs})
	if err != nil {
		t.Fatal(err)
	}
	face, err := classic.New(classic.Config{
		NodeKey:    &p2p.NodeKey{PrivKey: cmted25519.PrivKey(key.PrivateKey())},
		ChainID:    chainID,
		ListenAddr: fmt.Sprintf("tcp://127.0.0.1:%d", port),
		P2P:        allowDuplicateIP(),
		Book:       book,
	})
	if err != nil {
		t.Fatal(err)
	}
	var r *pex.Reactor
	if withReactor {
		pc := pextest.FastConfig(addrbook.ClassicIDs, seeds...)
		// Upstream v0.40 nodes ask a seed again at once after each answer
		// (cometbft#4620 regression); see docs/bridge.md.
		pc.MinReceiveRequestInterval = time.Millisecond
		r = pex.NewReactor(book, face, pc)
		face.SetHandler(r)
	} else {
		face.SetHandler(nopHandler{})
	}
	if err := face.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = face.Stop() })
	if r != nil {
		if err := r.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = r.Stop() })
	}
	return face, book
}

// bridgeHook hands every libp2p peer the bridge's libp2p face meets to the
// bridge, as cmd/pexp2p does.
type bridgeHook struct {
	transport.Handler
	b *Bridge
}

func (h bridgeHook) AddPeer(p pex.PeerInfo) {
	h.Handler.AddPeer(p)
	h.b.Libp2pPeerConnected(p)
}

// upstreamClassic is an upstream v0.40 classic node with upstream's own
// PEX reactor, book and switch.
func upstreamClassic(t *testing.T, seeds []string) (*p2p.Switch, upex.AddrBook) {
	t.Helper()
	key := p2p.NodeKey{PrivKey: cmted25519.GenPrivKey()}
	port := freeDualPort(t)
	laddr := fmt.Sprintf("127.0.0.1:%d", port)
	na, err := p2p.NewNetAddressString(p2p.IDAddressString(key.ID(), laddr))
	if err != nil {
		t.Fatal(err)
	}
	cfg := cmtcfg.DefaultP2PConfig()
	cfg.AllowDuplicateIP = true
	ni := p2p.DefaultNodeInfo{
		ProtocolVersion: p2p.NewProtocolVersion(version.P2PProtocol, version.BlockProtocol, 0),
		DefaultNodeID:   key.ID(),
		ListenAddr:      laddr,
		Network:         chainID,
		Version:         version.TMCoreSemVer,
		Channels:        []byte{upex.PexChannel},
		Moniker:         "upstream",
	}
	mt := p2p.NewMultiplexTransport(ni, key, p2p.MConnConfig(cfg))
	if err := mt.Listen(*na); err != nil {
		t.Fatal(err)
	}
	sw := p2p.NewSwitch(cfg, mt)
	sw.SetNodeInfo(ni)
	sw.SetNodeKey(&key)
	book := upex.NewAddrBook(t.TempDir()+"/addrbook.json", false)
	book.AddOurAddress(na)
	sw.SetAddrBook(book)
	r := upex.NewReactor(book, &upex.ReactorConfig{Seeds: seeds})
	r.SetEnsurePeersPeriod(300 * time.Millisecond)
	sw.AddReactor("PEX", r)
	if err := sw.Start(); err != nil {
		_ = mt.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = sw.Stop()
		_ = mt.Close()
	})
	return sw, book
}

// Crossing faces end to end through both faces' PEX: a
// dual-stack node met on the classic face is, after verification, offered
// on the libp2p face and reached by a libp2p-only pexp2p node; one met on
// the libp2p face is offered on the classic face and reached by an
// upstream classic node running upstream's own reactor. Fakes (the other
// face's port held by another key) are offered to nobody.
func TestEndToEndCrossingThroughPex(t *testing.T) {
	bClassic, bClassicBook, bLibp2p, metrics := startBridge(t)
	bridgeClassicSeed := bClassic.NetAddress().String()
	bridgeLibp2pSeed := bLibp2p.addr(t).String()

	// Classic → libp2p. D1 is honest; F1's libp2p side holds another key.
	d1 := genKey(t)
	d1Port := freeDualPort(t)
	newLibp2pFace(t, d1, d1Port, false, nil, nil)
	newClassicFace(t, d1, d1Port, true, []string{bridgeClassicSeed})
	f1 := genKey(t)
	f1Port := freeDualPort(t)
	newLibp2pFace(t, genKey(t), f1Port, false, nil, nil)
	newClassicFace(t, f1, f1Port, true, []string{bridgeClassicSeed})
	// L only speaks libp2p and only knows the bridge.
	l := newLibp2pFace(t, genKey(t), 0, true, []string{bridgeLibp2pSeed}, nil)

	// Libp2p → classic. D2 is honest; F2's classic side holds another key.
	d2 := genKey(t)
	d2Port := freeDualPort(t)
	newLibp2pFace(t, d2, d2Port, true, []string{bridgeLibp2pSeed}, nil)
	newClassicFace(t, d2, d2Port, false, nil)
	f2 := genKey(t)
	f2Port := freeDualPort(t)
	newLibp2pFace(t, f2, f2Port, true, []string{bridgeLibp2pSeed}, nil)
	newClassicFace(t, genKey(t), f2Port, false, nil)
	// U is an upstream classic node whose only seed is the bridge.
	u, uBook := upstreamClassic(t, []string{bridgeClassicSeed})

	d1Peer, f1Peer := d1.PeerID().String(), f1.PeerID().String()
	d2Comet, f2Comet := d2.CometID(), f2.CometID()
	if !testwait.Until(30*time.Second, func() bool {
		return l.connectedTo(d1Peer) && u.Peers().Has(p2p.ID(d2Comet))
	}) {
		t.Fatalf("crossed nodes not reached: L→D1 %v, U→D2 %v; metrics %+v",
			l.connectedTo(d1Peer), u.Peers().Has(p2p.ID(d2Comet)), metrics.n)
	}
	// Both fakes were probed (settled) and refused by now or soon.
	if !testwait.Until(15*time.Second, func() bool {
		return metrics.get(ClassicToLibp2p, Failed) >= 1 && metrics.get(Libp2pToClassic, Failed) >= 1
	}) {
		t.Fatalf("fakes not settled: %+v", metrics.n)
	}
	if bLibp2p.book.HasAddress(f1Peer) || l.book.HasAddress(f1Peer) || l.connectedTo(f1Peer) {
		t.Errorf("fake F1 (classic key %s) was offered on the libp2p face", f1Peer)
	}
	if bClassicBook.HasAddress(f2Comet) || u.Peers().Has(p2p.ID(f2Comet)) {
		t.Errorf("fake F2 (libp2p key, classic ID %s) was offered on the classic face", f2Comet)
	}
	if uBook.HasAddress(mustP2PAddr(t, f2Comet, f2Port)) {
		t.Errorf("upstream node learned fake F2")
	}
}

// startBridge runs a whole bridge: one key, two faces, two books, two
// reactors, and the crossing logic between them.
func startBridge(t *testing.T) (*classic.Face, *addrbook.Book, *lpFace, *countMetrics) {
	t.Helper()
	// The bridge: one key, two faces, two books, two reactors.
	bkey := genKey(t)
	bClassic, bClassicBook := newClassicFace(t, bkey, 0, true, nil)
	prober, err := NewLibp2pProber(time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = prober.Close() })
	metrics := &countMetrics{}
	// The bridge exists before the libp2p face so the face's handler can
	// call it; its own libp2p address is read only once probing starts.
	bLibp2pBook := newPeerIDBook(t)
	var bLibp2p *lpFace
	br, err := New(Config{
		Classic: Side{Book: bClassicBook, Prober: bClassic, Self: bClassic.NetAddress},
		Libp2p: Side{Book: bLibp2pBook, Prober: prober, Self: func() addrbook.NetAddress {
			return bLibp2p.node.OurNetAddresses()[0]
		}},
		Metrics: metrics,
	})
	if err != nil {
		t.Fatal(err)
	}
	bLibp2p = newLibp2pFaceWithBook(t, bLibp2pBook, bkey, 0, true, nil, func(h transport.Handler) transport.Handler {
		return bridgeHook{Handler: h, b: br}
	})
	bClassic.SetPeerObserver(br)
	if err := br.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = br.Stop() })
	return bClassic, bClassicBook, bLibp2p, metrics
}

// Three pexp2p libp2p nodes whose only seed
// is the bridge's libp2p face discover each other through it.
func TestLibp2pNodesDiscoverEachOtherThroughBridge(t *testing.T) {
	_, _, bLibp2p, _ := startBridge(t)
	seed := bLibp2p.addr(t).String()
	nodes := make([]*lpFace, 3)
	for i := range nodes {
		nodes[i] = newLibp2pFace(t, genKey(t), 0, true, []string{seed}, nil)
	}
	found := func() bool {
		for i, n := range nodes {
			for j, m := range nodes {
				if i != j && (!n.connectedTo(m.node.ID().String()) || !n.book.HasAddress(m.node.ID().String())) {
					return false
				}
			}
		}
		return true
	}
	if !testwait.Until(30*time.Second, found) {
		for i, n := range nodes {
			t.Logf("node %d %s: peers %v, book %d", i, n.node.ID(), peerIDs(n.node.Peers()), n.book.Size())
		}
		t.Logf("bridge: peers %v, book %d", peerIDs(bLibp2p.node.Peers()), bLibp2p.book.Size())
		t.Fatal("libp2p nodes did not find each other through the bridge")
	}
}

func peerIDs(ps []pex.PeerInfo) []string {
	out := make([]string, 0, len(ps))
	for _, p := range ps {
		out = append(out, p.ID)
	}
	return out
}

func mustP2PAddr(t *testing.T, id string, port uint16) *p2p.NetAddress {
	t.Helper()
	na, err := p2p.NewNetAddressString(fmt.Sprintf("%s@127.0.0.1:%d", id, port))
	if err != nil {
		t.Fatal(err)
	}
	return na
}
