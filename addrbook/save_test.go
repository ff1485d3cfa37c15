package addrbook

import (
	"encoding/hex"
	"encoding/json"
	"maps"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"

	cmtpex "github.com/cometbft/cometbft/p2p/pex"
)

// A file written here loads in upstream's own book.
func TestFileLoadsInUpstream(t *testing.T) {
	path := filepath.Join(t.TempDir(), "addrbook.json")
	b, _ := fileBook(t, path, Options{})
	fill(t, b, 300, 50)
	b.MarkBad(routableAddr(299), time.Hour)
	up := loadInUpstream(t, b, path)
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

// The hand encoder writes the same value encoding/json writes for the
// book, escapes included: a source ID is kept verbatim from a file, so it
// can hold any character.
func TestMarshalEncodesWhatEncodingJSONWould(t *testing.T) {
	b, clk := newTestBook(t, Options{})
	fill(t, b, 30, 8)
	b.MarkAttempt(routableAddr(20).ID)
	// Signed and identify-learned addresses, one of them banned with
	// its entry.
	mustVerified(t, b, []NetAddress{routableAddr(40), v6Of(40), portOf(40, 1)}, routableAddr(100000))
	mustVerified(t, b, []NetAddress{routableAddr(41)}, routableAddr(100000))
	if err := b.AddAlternatives(testID(5), []NetAddress{v6Of(5)}); err != nil {
		t.Fatal(err)
	}
	b.MarkBad(routableAddr(40), time.Hour)
	b.MarkBad(routableAddr(4), time.Hour)   // banned with its entry
	b.MarkBad(routableAddr(777), time.Hour) // never in the book
	clk.Advance(time.Second)
	odd := `{"addrs":[{"addr":{"id":"` + testID(5000) + `","ip":"55.66.77.88","port":7},` +
		`"src":{"id":"q\"<>&\u2028\u00e9\n","ip":"9.9.9.9","port":1},"buckets":[3],"attempts":0,"bucket_type":1}]}`
	if st, err := b.LoadBytes([]byte(odd)); err != nil || st.Loaded != 1 {
		t.Fatalf("loading an entry with an odd source ID: %+v, %v", st, err)
	}
	var hand, std fileJSON
	if err := json.Unmarshal(b.Marshal(), &hand); err != nil {
		t.Fatalf("hand encoder wrote invalid JSON: %v", err)
	}
	if err := json.Unmarshal(marshalStd(b), &std); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(hand, std) {
		t.Fatalf("hand encoder: %+v\nencoding/json: %+v", hand, std)
	}
	if len(hand.Addrs) != b.Size() || len(hand.Bans) != 3 {
		t.Fatalf("%d entries and %d bans written, book has %d and 3", len(hand.Addrs), len(hand.Bans), b.Size())
	}
}

// marshalStd is the book file written with encoding/json alone, from
// the same values Entries and Entry.FileEntry give tools.
func marshalStd(b *Book) []byte {
	b.mu.Lock()
	f := fileJSON{Key: b.key, Version: FormatVersion, HashKey: hex.EncodeToString(b.hashKey[:]), Addrs: make([]FileEntry, len(b.entries))}
	for i := range b.entries {
		ka := &b.entries[i]
		f.Addrs[i] = entryOf(ka, b.srcs[ka.src].addr, ka.appendBuckets(nil)).FileEntry()
	}
	f.Bans = make([]banJSON, 0, len(b.bans))
	for _, id := range slices.Sorted(maps.Keys(b.bans)) {
		rec := b.bans[id]
		bj := banJSON{ID: id, Until: fromNanos(rec.until), Addr: fileAddr(rec.addr)}
		if rec.hasEntry {
			e := entryOf(&rec.entry, rec.src, rec.entry.appendBuckets(nil)).FileEntry()
			e.LastBanTime = fromNanos(rec.until)
			bj.Entry = &e
		}
		f.Bans = append(f.Bans, bj)
	}
	b.mu.Unlock()
	out, err := json.MarshalIndent(f, "", "\t")
	if err != nil {
		panic(err)
	}
	return append(out, '\n')
}

// loadInUpstream saves b to path and starts upstream's own book on that
// file; the book is stopped, and its final save waited for, when the test
// ends (before TempDir's cleanup removes the directory).
func loadInUpstream(t *testing.T, b *Book, path string) cmtpex.AddrBook {
	t.Helper()
	if err := b.Save(); err != nil {
		t.Fatal(err)
	}
	up := cmtpex.NewAddrBook(path, false)
	if err := up.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = up.Stop()
		up.(interface{ Wait() }).Wait()
	})
	return up
}
