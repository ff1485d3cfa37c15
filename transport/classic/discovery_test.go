package classic

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cometbft/cometbft/p2p"
	upex "github.com/cometbft/cometbft/p2p/pex"

	"github.com/pexp2p/pexp2p/addrbook"
	"github.com/pexp2p/pexp2p/internal/testwait"
	"github.com/pexp2p/pexp2p/pex"
)

// startPexFace runs this project's reactor and book on a classic face, as
// the bridge's classic face does.
func startPexFace(t *testing.T, period time.Duration, seedMode bool) (*Face, *pex.Reactor, *addrbook.Book) {
	t.Helper()
	book, err := addrbook.New(addrbook.Options{IDRule: addrbook.ClassicIDs, FilePath: filepath.Join(t.TempDir(), "addrbook.json")})
	if err != nil {
		t.Fatal(err)
	}
	face, err := New(Config{
		NodeKey:    &p2p.NodeKey{PrivKey: newKey()},
		ChainID:    testChain,
		ListenAddr: "tcp://127.0.0.1:0",
		P2P:        func() *cmtP2P { c := defaultP2P(); c.AllowDuplicateIP = true; return c }(),
		Book:       book,
		Logger:     testLogger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	cfg := pex.DefaultConfig()
	cfg.IDRule = addrbook.ClassicIDs
	cfg.EnsurePeersPeriod = period
	cfg.SeedMode = seedMode
	cfg.CrawlPeerPeriod = period
	cfg.MinReceiveRequestInterval = time.Millisecond // see TestUpstreamNodesDiscoverEachOtherThroughFace
	r := pex.NewReactor(book, face, cfg)
	face.SetHandler(r)
	if err := face.Start(); err != nil {
		t.Fatal(err)
	}
	if err := r.Start(); err != nil {
		_ = face.Stop()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = r.Stop()
		_ = face.Stop()
	})
	return face, r, book
}

// Three upstream classic nodes running
// upstream's own, unmodified pex.Reactor, whose only seed is our classic
// face, discover each other through it, with the face's reactor in normal
// and in seed mode. Covers inbound peers entering the book with their
// advertised address, seed and non-seed answers read by upstream's
// reactor, and the face's Dial/NumPeers/IsDialingOrConnected used by
// ensurePeers and the crawler against real upstream switches.
//
// The request spacing is relaxed here, and only here: upstream v0.40's reactor
// asks a seed again at once after every answer from it (cometbft#4620,
// fixed in v0.38.x, regressed in v0.39+), which the default rule —
// upstream's own — punishes with a 24 h ban, so with v0.40 nodes the test
// would measure that regression rather than discovery. v0.38 nodes (the
// interop script) do not do it.
func TestUpstreamNodesDiscoverEachOtherThroughFace(t *testing.T) {
	for _, seedMode := range []bool{false, true} {
		name := "normal"
		if seedMode {
			name = "seed_mode"
		}
		t.Run(name, func(t *testing.T) { testUpstreamDiscovery(t, seedMode) })
	}
}

func testUpstreamDiscovery(t *testing.T, seedMode bool) {
	const period = 300 * time.Millisecond
	face, _, book := startPexFace(t, period, seedMode)
	seed := face.NetAddress().String()

	nodes := make([]*upstreamNode, 3)
	for i := range nodes {
		nodes[i] = newUpstreamNode(t, testChain, []string{seed}, period)
	}
	// Done when every node is connected to the two others. They were
	// never configured with each other, so in each pair at least one
	// learned the other's address from the face (directly or from a node
	// that learned it there). Their books are not checked: upstream v0.40
	// nodes ban each other now and then for the same cometbft#4620
	// request burst, which removes the entry from the banning node's book
	// while the peer, unbanned on its side, dials back in.
	found := func() bool {
		for i, n := range nodes {
			for j, m := range nodes {
				if i != j && !n.sw.Peers().Has(m.key.ID()) {
					return false
				}
			}
		}
		return true
	}
	if !testwait.Until(20*time.Second, found) {
		for i, n := range nodes {
			t.Logf("node %d (%s): %d peers, book %d", i, n.key.ID(), n.sw.Peers().Size(), n.book.Size())
		}
		t.Fatalf("upstream nodes did not find each other through the face; face book has %d addresses", book.Size())
	}
	for i, n := range nodes {
		if !book.HasAddress(string(n.key.ID())) {
			t.Errorf("face's book lacks node %d (size %d)", i, book.Size())
		}
		if book.IsBanned(string(n.key.ID())) {
			t.Errorf("face banned node %d", i)
		}
	}

	// The face's book file, as saved, loads in upstream's own book.
	if err := book.Save(); err != nil {
		t.Fatal(err)
	}
	// A copy, so upstream's own saves do not touch the face's file.
	raw, err := os.ReadFile(book.FilePath())
	if err != nil {
		t.Fatal(err)
	}
	upPath := filepath.Join(t.TempDir(), "upstream-addrbook.json")
	if err := os.WriteFile(upPath, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	up := upex.NewAddrBook(upPath, false)
	if err := up.Start(); err != nil {
		t.Fatalf("upstream cannot load the face's book: %v", err)
	}
	defer func() { _ = up.Stop() }()
	for i, n := range nodes {
		if !up.HasAddress(n.addr) {
			t.Errorf("upstream's load of the face's book lacks node %d", i)
		}
	}
}
