package transport

import (
	"testing"
	"time"

	"github.com/pexp2p/pexp2p/addrbook"
)

// The ban sweep looks at connections only while some peer or IP is
// blocked or banned.
func TestAnyBlockedSeesBansAndBlocks(t *testing.T) {
	book, err := addrbook.New(addrbook.Options{IDRule: PeerIDs})
	if err != nil {
		t.Fatal(err)
	}
	n, _ := testNode(t, 73, func(c *Config) { c.Bans = book })
	if n.anyBlocked() {
		t.Fatal("a fresh node reports a block")
	}
	other, _ := testNode(t, 74, nil)
	book.MarkBad(netAddrOf(t, other), time.Hour)
	if !n.anyBlocked() {
		t.Fatal("a ban in the book is not seen")
	}
	n2, _ := testNode(t, 75, nil)
	n2.mu.Lock()
	n2.blocked[other.ID()] = n2.cfg.Clock.Now().Add(time.Minute)
	n2.mu.Unlock()
	if !n2.anyBlocked() {
		t.Fatal("a blocked peer is not seen")
	}
}
