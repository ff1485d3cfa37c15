package hostile

import (
	"crypto/rand"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"github.com/pexp2p/pexp2p/internal/testwait"
	"github.com/pexp2p/pexp2p/transport"
)

// TestBanSurvivesNodeRestart: on the real face, a peer banned for
// breaking the wire protocol stays banned when the node restarts with the
// same key and book file (upstream loses every ban in a restart), so a
// forced restart does not let it back in, while a good peer's old entry
// survives and it reconnects.
func TestBanSurvivesNodeRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "addrbook.json")
	key, err := transport.GenNodeKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	v := newVictim(t, 16, path, key)
	bad := newRawPeer(t, netip.MustParseAddr("127.90.0.1"), nil)
	good := newRawPeer(t, netip.MustParseAddr("127.91.0.1"), nil)
	for _, p := range []*rawPeer{bad, good} {
		if err := p.connect(v); err != nil {
			t.Fatal(err)
		}
	}
	testwait.For(t, 30*time.Second, "both peers set up", func() bool { return v.has(bad.h.ID()) && v.has(good.h.ID()) })
	// Inbound peers are added with their advertised address; the good one
	// is then vetted, as consensus would mark it.
	testwait.For(t, 10*time.Second, "good peer's address in the book", func() bool { return v.book.HasAddress(good.h.ID().String()) })
	v.book.MarkGood(good.h.ID().String())
	if !v.book.IsGood(good.h.ID().String()) {
		t.Fatal("good peer not old after MarkGood")
	}
	_ = bad.sendRaw(v, []byte{0x02, 0x1a, 0x00}) // unknown oneof arm
	testwait.For(t, 20*time.Second, "bad peer banned and out", func() bool {
		return v.book.IsBanned(bad.h.ID().String()) && !v.connected(bad.h.ID())
	})

	v.stop()
	_ = good.h.Network().ClosePeer(v.node.ID())
	_ = bad.h.Network().ClosePeer(v.node.ID())

	v2 := newVictim(t, 16, path, key)
	if !v2.book.IsBanned(bad.h.ID().String()) {
		t.Fatal("ban lost in the restart")
	}
	if !v2.book.IsGood(good.h.ID().String()) {
		t.Fatal("good (old) entry lost in the restart")
	}
	for range 5 {
		_ = bad.connect(v2)
	}
	if err := good.connect(v2); err != nil {
		t.Fatalf("good peer cannot reconnect: %v", err)
	}
	testwait.For(t, 30*time.Second, "good peer set up after the restart", func() bool { return v2.has(good.h.ID()) })
	if v2.has(bad.h.ID()) || v2.connected(bad.h.ID()) {
		t.Fatal("banned peer got back in after the restart")
	}
}
