package pexnode_test

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	ma "github.com/multiformats/go-multiaddr"
	"go.uber.org/goleak"

	"github.com/pexp2p/pexp2p/addrbook"
	"github.com/pexp2p/pexp2p/internal/testhost"
	"github.com/pexp2p/pexp2p/pex"
	"github.com/pexp2p/pexp2p/pexnode"
	"github.com/pexp2p/pexp2p/transport"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m, goleak.IgnoreCurrent()) }

func loopbackQUIC(t *testing.T, ip string) []ma.Multiaddr {
	t.Helper()
	return []ma.Multiaddr{ma.StringCast("/ip4/" + ip + "/udp/0/quic-v1")}
}

func newNode(t *testing.T, ip string, pc *pex.Config, seeds []transport.ConfigPeer) *pexnode.Node {
	t.Helper()
	return newNodeWith(t, pexnode.Options{
		Transport: transport.Config{ListenAddrs: loopbackQUIC(t, ip), Network: "pexnode-test", AllowDuplicateIP: true, Seeds: seeds},
		PEX:       pc,
	})
}

// newNodeWith builds a node from o with a fresh key.
func newNodeWith(t *testing.T, o pexnode.Options) *pexnode.Node {
	t.Helper()
	key, err := transport.GenNodeKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	o.Key = key
	n, err := pexnode.New(o)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func fastPEX() *pex.Config {
	pc := pex.DefaultConfig()
	pc.EnsurePeersPeriod = 200 * time.Millisecond
	return &pc
}

// A node whose only address is a seed's learns the seed's other visitor
// from it and connects: the book, reactor and face are wired to each other.
func TestNodesDiscoverEachOtherThroughSeed(t *testing.T) {
	seedCfg := fastPEX()
	seedCfg.SeedMode = true
	seed := newNode(t, "127.0.0.1", seedCfg, nil)
	if err := seed.Start(); err != nil {
		t.Fatal(err)
	}
	defer seed.Stop()
	seedAddrs := seed.Transport.FullAddrs()
	cps, err := transport.ParseConfigPeers(seedAddrs[0].String())
	if err != nil {
		t.Fatal(err)
	}
	a := newNode(t, "127.0.0.2", fastPEX(), cps)
	b := newNode(t, "127.0.0.3", fastPEX(), cps)
	for _, n := range []*pexnode.Node{a, b} {
		if err := n.Start(); err != nil {
			t.Fatal(err)
		}
		defer n.Stop()
	}
	deadline := time.Now().Add(20 * time.Second)
	for !connected(a, b) {
		if time.Now().After(deadline) {
			t.Fatalf("a and b did not connect through the seed: a has %d peers, b %d", len(a.Transport.Peers()), len(b.Transport.Peers()))
		}
		time.Sleep(50 * time.Millisecond)
	}
	if msgs, _ := a.Traffic.Sent(); msgs == 0 {
		t.Fatal("traffic counter saw no PEX message sent")
	}
	if a.RemoteAddr(b.Key.PeerID().String()) == "" {
		t.Fatal("no remote address for a connected peer")
	}
}

func connected(a, b *pexnode.Node) bool {
	for _, p := range a.Transport.Peers() {
		if p.ID == b.Key.PeerID().String() {
			return true
		}
	}
	return false
}

// A port in use fails Start before the book file is written.
func TestStartOnBusyPortLeavesBookFileAbsent(t *testing.T) {
	port := int(testhost.Taken(t, "udp").Port())
	key, _ := transport.GenNodeKey(nil)
	bookPath := filepath.Join(t.TempDir(), "addrbook.json")
	n, err := pexnode.New(pexnode.Options{
		Key:       key,
		Transport: transport.Config{ListenAddrs: []ma.Multiaddr{ma.StringCast("/ip4/127.0.0.1/udp/" + strconv.Itoa(port) + "/quic-v1")}},
		Book:      addrbook.Options{FilePath: bookPath},
		PEX:       fastPEX(),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(); err == nil {
		n.Stop()
		t.Fatal("started on a port in use")
	}
	if _, err := os.Stat(bookPath); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("book file touched by a failed start: %v", err)
	}
}

// A reactor configuration that cannot run is a ConfigError, and a
// missing key a transport.NodeKeyError.
func TestNewRejectsBadInput(t *testing.T) {
	if _, err := pexnode.New(pexnode.Options{}); !errors.Is(err, transport.ErrNodeKey) {
		t.Fatalf("no key: %v", err)
	}
	key, _ := transport.GenNodeKey(nil)
	bad := fastPEX()
	bad.EnsurePeersPeriod = -time.Second
	_, err := pexnode.New(pexnode.Options{Key: key, PEX: bad})
	var cerr *pexnode.ConfigError
	if !errors.As(err, &cerr) {
		t.Fatalf("bad reactor config: %v", err)
	}
}

// Anchors need a file: beside the book by default, or the one given; a
// node with anchors on and nowhere to keep them is refused, naming why,
// rather than silently left undefended at its next restart.
func TestAnchorsNeedAFile(t *testing.T) {
	key, _ := transport.GenNodeKey(nil)
	anchored := fastPEX()
	anchored.MaxAnchors = 2
	_, err := pexnode.New(pexnode.Options{Key: key, PEX: anchored})
	var cerr *pexnode.ConfigError
	if !errors.As(err, &cerr) || !errors.Is(err, pexnode.ErrNoAnchorsFile) {
		t.Fatalf("anchors with an in-memory book: %v", err)
	}
	for _, o := range []pexnode.Options{
		{Key: key, PEX: anchored, Book: addrbook.Options{FilePath: filepath.Join(t.TempDir(), "addrbook.json")}},
		{Key: key, PEX: anchored, AnchorsFile: filepath.Join(t.TempDir(), "anchors.json")},
	} {
		if _, err := pexnode.New(o); err != nil {
			t.Fatalf("anchors with a file: %v", err)
		}
	}
	// A seed keeps no outbound peers, so it has no anchors to keep.
	seed := fastPEX()
	seed.MaxAnchors, seed.SeedMode = 2, true
	if _, err := pexnode.New(pexnode.Options{Key: key, PEX: seed}); err != nil {
		t.Fatalf("seed with max anchors: %v", err)
	}
}

// Apply puts each defence where it acts: the book, the reactor (only when
// PEX runs) and the face; the zero Defences leave upstream's defaults.
func TestDefencesApplyToBookReactorAndFace(t *testing.T) {
	var off pexnode.Options
	pc := pex.DefaultConfig()
	off.PEX = &pc
	pexnode.Defences{}.Apply(&off, nil)
	def := pex.DefaultConfig()
	if off.Book.TestBeforeEvict || off.Book.ASMap != nil || off.SignedRecords || off.PEX.FeelerInterval != def.FeelerInterval ||
		off.PEX.MaxAnchors != def.MaxAnchors || off.PEX.OutboundGroupLimit != def.OutboundGroupLimit || off.PEX.PreferVerifiedAddrs != def.PreferVerifiedAddrs {
		t.Fatalf("zero defences changed the options: %+v", off)
	}
	m, err := addrbook.ParseASMap(strings.NewReader("8.8.0.0/16 15169\n"), "test")
	if err != nil {
		t.Fatal(err)
	}
	d := pexnode.Defences{TestBeforeEvict: true, FeelerInterval: time.Minute, MaxAnchors: 2, OutboundGroupLimit: 1, SignedRecords: true, PreferVerifiedAddrs: true}
	var on pexnode.Options
	pc2 := pex.DefaultConfig()
	on.PEX = &pc2
	d.Apply(&on, m)
	if !on.Book.TestBeforeEvict || on.Book.ASMap != m || !on.SignedRecords ||
		on.PEX.FeelerInterval != time.Minute || on.PEX.MaxAnchors != 2 || on.PEX.OutboundGroupLimit != 1 || !on.PEX.PreferVerifiedAddrs {
		t.Fatalf("applied: book %+v, face records %v, reactor %+v", on.Book, on.SignedRecords, *on.PEX)
	}
	var noPEX pexnode.Options
	d.Apply(&noPEX, nil)
	if noPEX.PEX != nil || !noPEX.Book.TestBeforeEvict {
		t.Fatalf("without PEX: %+v", noPEX)
	}
	var de *pexnode.DefenceError
	if err := d.Check(1); !errors.As(err, &de) || de.Key != "max_anchors" || de.Value != "2" {
		t.Fatalf("two anchors with one outbound slot: %v", err)
	}
	if err := d.Check(10); err != nil {
		t.Fatal(err)
	}
}
