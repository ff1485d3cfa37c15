package addrbook

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	cmtpex "github.com/cometbft/cometbft/p2p/pex"
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

// B6 fix (§9.2.7): the hash key is persisted, so after a restart stored
// placements are kept and equal what the book computes.
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

// B5 fix (§9.2.6): bans survive a restart, with the banned entry, so an
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

// B4, item 4: the save is atomic and leaves no temporary file; the file
// is 0644 as upstream writes it.
func TestSaveIsAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "addrbook.json")
	if err := os.WriteFile(path, []byte("old content"), 0o600); err != nil {
		t.Fatal(err)
	}
	b, _ := fileBook(t, path, Options{})
	fill(t, b, 5, 0)
	if err := b.Save(); err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Fatalf("directory holds %d files", len(ents))
	}
	fi, _ := os.Stat(path)
	if fi.Mode().Perm() != 0o644 {
		t.Fatalf("mode %v", fi.Mode())
	}
	var v map[string]any
	data, _ := os.ReadFile(path)
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	// A save into a missing directory fails with a typed error and leaves nothing.
	bad, _ := fileBook(t, filepath.Join(dir, "missing", "addrbook.json"), Options{})
	if err := bad.Save(); !errors.Is(err, ErrFileIO) {
		t.Fatalf("save into a missing directory: %v", err)
	}
}

// Item 4: a file written by upstream's book loads; placement is recomputed
// (upstream's hash key is not in the file), good addresses stay old.
func TestUpstreamFileLoads(t *testing.T) {
	path := filepath.Join(t.TempDir(), "addrbook.json")
	up := cmtpex.NewAddrBook(path, false)
	for i := 0; i < 200; i++ {
		if err := up.AddAddress(upAddr(routableAddr(i)), upAddr(routableAddr(100000+i%5))); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 30; i++ {
		up.MarkGood(upAddr(routableAddr(i)).ID)
	}
	up.Save()
	b, _ := fileBook(t, path, Options{})
	startStop(t, b)
	st := b.LoadStats()
	if !st.Recomputed || st.Loaded != up.Size() || len(st.Dropped) != 0 {
		t.Fatalf("stats %+v, upstream size %d", st, up.Size())
	}
	mustInvariants(t, b)
	for i := 0; i < 200; i++ {
		if !b.HasAddress(routableAddr(i).ID) {
			t.Fatalf("%d missing", i)
		}
		if want := i < 30; b.IsGood(routableAddr(i).ID) != want {
			t.Fatalf("%d: good=%v", i, !want)
		}
	}
}

// Item 4: a file written here loads in upstream's own book.
func TestFileLoadsInUpstream(t *testing.T) {
	path := filepath.Join(t.TempDir(), "addrbook.json")
	b, _ := fileBook(t, path, Options{})
	fill(t, b, 300, 50)
	b.MarkBad(routableAddr(299), time.Hour)
	if err := b.Save(); err != nil {
		t.Fatal(err)
	}
	up := cmtpex.NewAddrBook(path, false)
	if err := up.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = up.Stop()
		up.(interface{ Wait() }).Wait() // its final save must finish before TempDir cleanup
	}()
	if up.Size() != b.Size() {
		t.Fatalf("upstream loaded %d, we hold %d", up.Size(), b.Size())
	}
	for i := 0; i < 299; i++ {
		u := upAddr(routableAddr(i))
		if !up.HasAddress(u) || up.IsGood(u) != (i < 50) {
			t.Fatalf("%d: has=%v", i, up.HasAddress(u))
		}
	}
	if sel := up.GetSelection(); len(sel) == 0 {
		t.Fatal("upstream cannot select from our file")
	}
	if a := up.PickAddress(50); a == nil {
		t.Fatal("upstream cannot pick from our file")
	}
}
