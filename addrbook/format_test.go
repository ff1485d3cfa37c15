package addrbook

import (
	"errors"
	"path/filepath"
	"testing"
	"time"
)

func fileBook(t *testing.T, path string, opts Options) (*Book, *fakeClock) {
	t.Helper()
	opts.FilePath = path
	return newTestBook(t, opts)
}

func fill(t *testing.T, b *Book, n, good int) {
	t.Helper()
	for i := 0; i < n; i++ {
		if err := b.AddAddress(routableAddr(i), routableAddr(100000+i%13)); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < good; i++ {
		b.MarkGood(routableAddr(i).ID)
	}
	mustInvariants(t, b)
}

func startStop(t *testing.T, b *Book) {
	t.Helper()
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	if err := b.Stop(); err != nil {
		t.Fatal(err)
	}
}

// TestAddrBookSaveLoad is upstream's test: an empty book saves and loads
// empty; 100 addresses save and load as 100.
func TestAddrBookSaveLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "addrbook.json")
	b, _ := fileBook(t, path, Options{})
	if err := b.Save(); err != nil {
		t.Fatal(err)
	}
	b2, _ := fileBook(t, path, Options{})
	startStop(t, b2)
	if !b2.Empty() {
		t.Fatalf("size %d", b2.Size())
	}
	fill(t, b, 100, 0)
	if err := b.Save(); err != nil {
		t.Fatal(err)
	}
	b3, _ := fileBook(t, path, Options{})
	startStop(t, b3)
	if b3.Size() != 100 {
		t.Fatalf("size %d", b3.Size())
	}
	mustInvariants(t, b3)
}

// The hash key is persisted (upstream's is lost in a restart), so after a
// restart stored placements are kept and equal what the book computes.
func TestHashKeySurvivesRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "addrbook.json")
	b, _ := fileBook(t, path, Options{Seed: 1})
	fill(t, b, 300, 40)
	if err := b.Save(); err != nil {
		t.Fatal(err)
	}
	b2, _ := fileBook(t, path, Options{Seed: 2}) // different seed: keys must come from the file
	startStop(t, b2)
	if st := b2.LoadStats(); st.Recomputed || st.Loaded != 300 || len(st.Dropped) != 0 {
		t.Fatalf("load stats %+v", st)
	}
	if b2.hashKey != b.hashKey || b2.key != b.key {
		t.Fatal("keys not restored")
	}
	for i := 0; i < 300; i++ {
		a := routableAddr(i)
		if b.calcNewBucket(a, routableAddr(7)) != b2.calcNewBucket(a, routableAddr(7)) {
			t.Fatal("placement differs after restart")
		}
		x, y := &b.entries[b.lookup[a.ID]], &b2.entries[b2.lookup[a.ID]]
		if x.bk != y.bk || x.nb != y.nb || x.typ != y.typ {
			t.Fatalf("%s: buckets %v/%d type %d before, %v/%d type %d after", a, x.bk, x.nb, x.typ, y.bk, y.nb, y.typ)
		}
	}
	if string(b.Marshal()) != string(b2.Marshal()) {
		t.Fatal("the reloaded book does not save to the same file")
	}
}

// Bans survive a restart (upstream's do not), with the banned entry, so an
// expired ban reinstates it.
func TestBansSurviveRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "addrbook.json")
	b, clk := fileBook(t, path, Options{})
	fill(t, b, 10, 0)
	b.MarkBad(routableAddr(3), time.Hour)
	b.MarkBad(routableAddr(500), 2*time.Hour) // never in the book
	startStop(t, b)

	b2, err := New(Options{FilePath: path, Now: clk.Now, Seed: 9})
	if err != nil {
		t.Fatal(err)
	}
	startStop(t, b2)
	if !b2.IsBanned(routableAddr(3).ID) || !b2.IsBanned(routableAddr(500).ID) {
		t.Fatal("bans lost on restart")
	}
	if err := b2.AddAddress(routableAddr(3), routableAddr(1)); !errors.Is(err, ErrBanned) {
		t.Fatalf("banned address accepted after restart: %v", err)
	}
	if b2.Size() != 9 {
		t.Fatalf("size %d", b2.Size())
	}
	clk.Advance(90 * time.Minute)
	b2.ReinstateBadPeers()
	if !b2.HasAddress(routableAddr(3).ID) || !b2.IsBanned(routableAddr(500).ID) {
		t.Fatal("reinstate after restart")
	}
	mustInvariants(t, b2)
}
