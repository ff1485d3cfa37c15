package addrbook

import (
	"encoding/json"
	"reflect"
	"slices"
	"testing"
	"time"
)

// Entries reports, for every stored address, exactly what the book file
// records for it: class, buckets, attempts, times and source.
func TestEntriesMatchWhatTheBookStores(t *testing.T) {
	b, clk := newTestBook(t, Options{})
	fill(t, b, 40, 0)
	clk.Advance(time.Minute)
	b.MarkAttempt(routableAddr(5).ID)
	b.MarkAttempt(routableAddr(5).ID)
	b.MarkGood(routableAddr(7).ID)

	got := b.Entries()
	if len(got) != b.Size() {
		t.Fatalf("%d entries, book size %d", len(got), b.Size())
	}
	seen := map[string]bool{}
	for _, e := range got {
		if seen[e.Addr.ID] {
			t.Fatalf("%s listed twice", e.Addr)
		}
		seen[e.Addr.ID] = true
		ka := &b.entries[b.lookup[e.Addr.ID]]
		want := make([]int, ka.nb)
		for r := range want {
			want[r] = int(ka.bk[r])
		}
		if e.Addr != ka.addr() || e.Src != b.srcs[ka.src].addr || e.Old != ka.isOld() ||
			!slices.Equal(e.Buckets, want) || e.Attempts != int(ka.attempts) ||
			toNanos(e.LastAttempt) != ka.lastAttempt || toNanos(e.LastSuccess) != ka.lastSuccess {
			t.Fatalf("entry %+v does not match the stored %+v", e, *ka)
		}
	}
	e5 := entryFor(t, got, routableAddr(5).ID)
	if e5.Attempts != 2 || e5.Old || !e5.LastSuccess.IsZero() || !e5.LastAttempt.Equal(clk.Now()) {
		t.Fatalf("attempted entry: %+v", e5)
	}
	e7 := entryFor(t, got, routableAddr(7).ID)
	if !e7.Old || len(e7.Buckets) != 1 || !e7.LastSuccess.Equal(clk.Now()) {
		t.Fatalf("good entry: %+v", e7)
	}
	if e7.Src != routableAddr(100000+7%13) {
		t.Fatalf("source %v, want %v", e7.Src, routableAddr(100000+7%13))
	}
}

// The snapshot is the caller's: changing it, even appending to one
// entry's bucket list, touches neither the book nor the other entries.
func TestEntriesAreACopy(t *testing.T) {
	b, _ := newTestBook(t, Options{})
	fill(t, b, 20, 5)
	before := string(b.Marshal())
	got := b.Entries()
	first := slices.Clone(got[1].Buckets)
	got[0].Buckets = append(got[0].Buckets, 999)
	got[0].Addr.Port = 1
	if !slices.Equal(got[1].Buckets, first) {
		t.Fatalf("appending to one entry's buckets changed the next one: %v -> %v", first, got[1].Buckets)
	}
	if string(b.Marshal()) != before {
		t.Fatal("changing the snapshot changed the book")
	}
	mustInvariants(t, b)
}

func TestEntriesOfAnEmptyBookIsEmpty(t *testing.T) {
	b, _ := newTestBook(t, Options{})
	if got := b.Entries(); len(got) != 0 {
		t.Fatalf("empty book listed %v", got)
	}
}

func entryFor(t *testing.T, es []Entry, id string) Entry {
	t.Helper()
	for _, e := range es {
		if e.Addr.ID == id {
			return e
		}
	}
	t.Fatalf("%s not listed", id)
	return Entry{}
}

// Entry.FileEntry gives, for every entry, exactly what the book file
// holds for it, so tools can write upstream's format without parsing ours.
func TestFileEntryIsWhatTheFileHolds(t *testing.T) {
	b, clk := newTestBook(t, Options{})
	fill(t, b, 40, 9)
	clk.Advance(time.Hour)
	b.MarkAttempt(routableAddr(30).ID)
	var f fileJSON
	if err := json.Unmarshal(b.Marshal(), &f); err != nil {
		t.Fatal(err)
	}
	inFile := map[string]FileEntry{}
	for _, fe := range f.Addrs {
		inFile[fe.Addr.ID] = fe
	}
	entries := b.Entries()
	if len(entries) != len(inFile) {
		t.Fatalf("%d entries, the file has %d", len(entries), len(inFile))
	}
	for _, e := range entries {
		if got, want := e.FileEntry(), inFile[e.Addr.ID]; !reflect.DeepEqual(got, want) {
			t.Fatalf("FileEntry %+v\nthe file holds %+v", got, want)
		}
	}
}
