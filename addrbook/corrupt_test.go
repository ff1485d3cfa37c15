package addrbook

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	cmtpex "github.com/cometbft/cometbft/p2p/pex"
)

// Every kind of bad input, one test each. A file that is not
// an address book is moved aside and the book starts empty; a bad entry
// in a readable file is dropped and counted, the rest loads.

// loadFile writes data as the book file, starts and stops a book on it,
// and returns the book and the file's path.
func loadFile(t *testing.T, data []byte) (*Book, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "addrbook.json")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	b, _ := fileBook(t, path, Options{})
	if err := b.Start(); err != nil {
		t.Fatalf("Start: %v", err)
	}
	mustInvariants(t, b)
	if err := b.Stop(); err != nil {
		t.Fatal(err)
	}
	return b, path
}

func expectMovedAside(t *testing.T, data []byte) {
	t.Helper()
	b, path := loadFile(t, data)
	st := b.LoadStats()
	if st.CorruptMovedTo == "" || !strings.HasPrefix(st.CorruptMovedTo, path+".corrupt-") {
		t.Fatalf("not moved aside: %+v", st)
	}
	if b.Size() != 0 {
		t.Fatalf("size %d", b.Size())
	}
	kept, err := os.ReadFile(st.CorruptMovedTo)
	if err != nil || string(kept) != string(data) {
		t.Fatalf("moved file lost its content: %v", err)
	}
	// The name carries the UTC time of the fake clock.
	if !strings.HasSuffix(st.CorruptMovedTo, ".corrupt-20260102T030405Z") {
		t.Fatalf("name %s", st.CorruptMovedTo)
	}
}

// validEntries returns a good file's content as generic JSON: 5 entries
// (4 new, 1 old) so tests can break one of them.
func validFile(t *testing.T) map[string]any {
	t.Helper()
	b, _ := newTestBook(t, Options{})
	fill(t, b, 5, 1)
	var v map[string]any
	if err := json.Unmarshal(b.Marshal(), &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func entry(v map[string]any, i int) map[string]any {
	return v["addrs"].([]any)[i].(map[string]any)
}

// expectDropped breaks entry 1 (new) or 0 (old) with mutate and checks
// that exactly that entry is dropped for reason, the other four load.
func expectDropped(t *testing.T, reason string, mutate func(v map[string]any)) {
	t.Helper()
	v := validFile(t)
	mutate(v)
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := loadFile(t, data)
	st := b.LoadStats()
	if st.CorruptMovedTo != "" {
		t.Fatalf("moved aside: %+v", st)
	}
	if st.Dropped[reason] != 1 || st.Loaded != 4 || b.Size() != 4 {
		t.Fatalf("want 1 dropped for %q and 4 loaded; stats %+v, size %d", reason, st, b.Size())
	}
}

func TestLoadEmptyFile(t *testing.T)      { expectMovedAside(t, []byte{}) }
func TestLoadWhitespaceFile(t *testing.T) { expectMovedAside(t, []byte(" \n\t")) }
func TestLoadNonJSON(t *testing.T)        { expectMovedAside(t, []byte("this is not json")) }
func TestLoadWrongTopLevel(t *testing.T)  { expectMovedAside(t, []byte(`[1,2,3]`)) }
func TestLoadAddrsNotArray(t *testing.T)  { expectMovedAside(t, []byte(`{"key":"x","addrs":5}`)) }
func TestLoadTrailingGarbage(t *testing.T) {
	b, _ := newTestBook(t, Options{})
	fill(t, b, 3, 0)
	expectMovedAside(t, append(b.Marshal(), "garbage"...))
}

func TestLoadTruncated(t *testing.T) {
	b, _ := newTestBook(t, Options{})
	fill(t, b, 20, 0)
	data := b.Marshal()
	expectMovedAside(t, data[:len(data)/2])
}

// Moving aside never overwrites an earlier corrupt copy.
func TestLoadCorruptTwiceKeepsBothCopies(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "addrbook.json")
	for i := 0; i < 2; i++ {
		if err := os.WriteFile(path, []byte("bad"), 0o644); err != nil {
			t.Fatal(err)
		}
		b, _ := fileBook(t, path, Options{})
		startStop(t, b)
	}
	matches, _ := filepath.Glob(path + ".corrupt-*")
	if len(matches) != 2 {
		t.Fatalf("corrupt copies: %v", matches)
	}
}

func TestLoadBucketIndexOutOfRange(t *testing.T) {
	expectDropped(t, DropBucketIndex, func(v map[string]any) { entry(v, 1)["buckets"] = []any{999} })
}

func TestLoadNegativeBucketIndex(t *testing.T) {
	expectDropped(t, DropBucketIndex, func(v map[string]any) { entry(v, 1)["buckets"] = []any{-1} })
}

func TestLoadOldBucketIndexOutOfRange(t *testing.T) {
	expectDropped(t, DropBucketIndex, func(v map[string]any) {
		for i := 0; i < 5; i++ {
			if entry(v, i)["bucket_type"].(float64) == 2 {
				entry(v, i)["buckets"] = []any{64} // valid for new, not for old
			}
		}
	})
}

func TestLoadUnknownBucketType(t *testing.T) {
	expectDropped(t, DropBucketType, func(v map[string]any) { entry(v, 1)["bucket_type"] = 7 })
}

func TestLoadEmptyBuckets(t *testing.T) {
	expectDropped(t, DropNoBuckets, func(v map[string]any) { entry(v, 1)["buckets"] = []any{} })
}

func TestLoadNullBuckets(t *testing.T) {
	expectDropped(t, DropNoBuckets, func(v map[string]any) { entry(v, 1)["buckets"] = nil })
}

func TestLoadTooManyBuckets(t *testing.T) {
	expectDropped(t, DropBucketCount, func(v map[string]any) { entry(v, 1)["buckets"] = []any{1, 2, 3, 4, 5} })
}

func TestLoadDuplicateBucketIndex(t *testing.T) {
	expectDropped(t, DropBucketDup, func(v map[string]any) { entry(v, 1)["buckets"] = []any{3, 3} })
}

func TestLoadDuplicateIDs(t *testing.T) {
	v := validFile(t)
	addrs := v["addrs"].([]any)
	dup := map[string]any{}
	for k, x := range addrs[1].(map[string]any) {
		dup[k] = x
	}
	v["addrs"] = append(addrs, dup)
	data, _ := json.Marshal(v)
	b, _ := loadFile(t, data)
	if st := b.LoadStats(); st.Dropped[DropDuplicateID] != 1 || st.Loaded != 5 {
		t.Fatalf("stats %+v", st)
	}
}

func TestLoadInvalidIP(t *testing.T) {
	expectDropped(t, DropInvalidAddr, func(v map[string]any) { entry(v, 1)["addr"].(map[string]any)["ip"] = "not-an-ip" })
}

func TestLoadUnspecifiedIP(t *testing.T) {
	expectDropped(t, DropInvalidAddr, func(v map[string]any) { entry(v, 1)["addr"].(map[string]any)["ip"] = "0.0.0.0" })
}

func TestLoadInvalidID(t *testing.T) {
	expectDropped(t, DropInvalidAddr, func(v map[string]any) { entry(v, 1)["addr"].(map[string]any)["id"] = "nothex" })
}

func TestLoadPortOutOfRange(t *testing.T) {
	expectDropped(t, DropInvalidAddr, func(v map[string]any) { entry(v, 1)["addr"].(map[string]any)["port"] = 70000 })
}

func TestLoadMissingAddr(t *testing.T) {
	expectDropped(t, DropMissingAddr, func(v map[string]any) { delete(entry(v, 1), "addr") })
}

func TestLoadMissingSrc(t *testing.T) {
	expectDropped(t, DropMissingSrc, func(v map[string]any) { entry(v, 1)["src"] = nil })
}

func TestLoadNegativeAttempts(t *testing.T) {
	expectDropped(t, DropAttempts, func(v map[string]any) { entry(v, 1)["attempts"] = -3 })
}

func TestLoadTimeOutOfRange(t *testing.T) {
	expectDropped(t, DropTime, func(v map[string]any) { entry(v, 1)["last_attempt"] = "9999-01-01T00:00:00Z" })
}

// A field of the wrong type spoils only its entry.
func TestLoadUndecodableEntry(t *testing.T) {
	expectDropped(t, DropUndecodable, func(v map[string]any) { entry(v, 1)["last_success"] = "yesterday" })
}

func TestLoadEntryNotAnObject(t *testing.T) {
	expectDropped(t, DropUndecodable, func(v map[string]any) { v["addrs"].([]any)[1] = "x" })
}

// A broken hash_key is reported and placement recomputed; nothing is lost.
func TestLoadBadHashKey(t *testing.T) {
	v := validFile(t)
	v["hash_key"] = "zz"
	data, _ := json.Marshal(v)
	b, _ := loadFile(t, data)
	if st := b.LoadStats(); !st.Recomputed || st.Loaded != 5 || st.Dropped[DropBadHeaderKeys] != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestLoadBadBan(t *testing.T) {
	v := validFile(t)
	v["bans"] = []any{
		map[string]any{"id": "nothex", "until": "2030-01-01T00:00:00Z"},
		map[string]any{"id": testID(77), "until": "2030-01-01T00:00:00Z"},
		map[string]any{"id": testID(78), "until": 5},
	}
	data, _ := json.Marshal(v)
	b, _ := loadFile(t, data)
	if st := b.LoadStats(); st.Dropped[DropBadBan] != 2 || st.Loaded != 5 {
		t.Fatalf("stats %+v", st)
	}
	if !b.IsBanned(testID(77)) {
		t.Fatal("valid ban not loaded")
	}
}

// Upstream panics on the same bad bucket index; shown for contrast.
func TestUpstreamPanicsOnBadBucketIndex(t *testing.T) {
	v := validFile(t)
	entry(v, 1)["buckets"] = []any{999}
	data, _ := json.Marshal(v)
	path := filepath.Join(t.TempDir(), "addrbook.json")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	up := cmtpex.NewAddrBook(path, false)
	panicked := func() (p bool) {
		defer func() { p = recover() != nil }()
		_ = up.Start()
		return false
	}()
	if !panicked {
		_ = up.Stop()
		up.(interface{ Wait() }).Wait()
		t.Fatal("upstream: expected a panic on bucket index 999")
	}
}
