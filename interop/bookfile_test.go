package interop

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/cometbft/cometbft/p2p"
	upex "github.com/cometbft/cometbft/p2p/pex"

	"github.com/pexp2p/pexp2p/addrbook"
	"github.com/pexp2p/pexp2p/interop/upstreamconv"
)

// addrPool returns n routable addresses with classic IDs spread over many
// /16 (IPv4) and /32 (IPv6) groups; every fifth is IPv6. The same seed
// gives the same pool.
func addrPool(seed uint64, n int) []addrbook.NetAddress {
	rng := rand.New(rand.NewPCG(seed, 1))
	out := make([]addrbook.NetAddress, n)
	for i := range out {
		var ip netip.Addr
		if i%5 == 4 {
			// 2a00::/12 is ordinary routable space (not 6to4, Teredo, HE).
			var b [16]byte
			b[0], b[1] = 0x2a, byte(rng.IntN(16))
			b[2], b[3] = byte(rng.IntN(256)), byte(rng.IntN(256))
			b[15] = byte(i%250 + 1)
			ip = netip.AddrFrom16(b)
		} else {
			// 11.0.0.0–99.255.255.255 avoids every special range upstream knows.
			ip = netip.AddrFrom4([4]byte{byte(11 + rng.IntN(89)), byte(rng.IntN(256)), byte(rng.IntN(256)), byte(1 + rng.IntN(254))})
		}
		out[i] = addrbook.NetAddress{ID: fmt.Sprintf("%040x", seed<<32|uint64(i+1)), IP: ip, Port: uint16(20000 + rng.IntN(40000))}
	}
	return out
}

func up(a addrbook.NetAddress) *p2p.NetAddress { return upstreamconv.ToUpstream(a) }

// upstreamFileEntry is the part of upstream's addrbook.json the tests look at.
type upstreamFileEntry struct {
	Addr       struct{ ID string } `json:"addr"`
	Buckets    []int               `json:"buckets"`
	BucketType int                 `json:"bucket_type"`
}

func readUpstreamFile(t *testing.T, path string) (key string, entries []upstreamFileEntry) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Key   string              `json:"key"`
		Addrs []upstreamFileEntry `json:"addrs"`
	}
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatalf("%s is not upstream's format: %v", path, err)
	}
	return f.Key, f.Addrs
}

// populate adds every address of pool to both books (either may be nil)
// from a handful of sources and marks every third one good, so both
// bucket types and many buckets are used.
func populate(t *testing.T, pool []addrbook.NetAddress, ub upex.AddrBook, ob *addrbook.Book) (good map[string]bool) {
	t.Helper()
	srcs := addrPool(99, 8)
	good = map[string]bool{}
	for i, a := range pool {
		src := srcs[i%len(srcs)]
		if ub != nil {
			if err := ub.AddAddress(up(a), up(src)); err != nil {
				t.Fatalf("upstream add %v: %v", a, err)
			}
		}
		if ob != nil {
			if err := ob.AddAddress(a, src); err != nil {
				t.Fatalf("our add %v: %v", a, err)
			}
		}
		if i%3 == 0 {
			good[a.ID] = true
		}
	}
	for id := range good {
		if ub != nil {
			ub.MarkGood(p2p.ID(id))
		}
		if ob != nil {
			ob.MarkGood(id)
		}
	}
	return good
}

// Book files, upstream → pexp2p: a file written by upstream's own
// pex.AddrBook (new and old entries, many buckets, IPv6) loads here with
// every address, the same IP and port, and the same bucket type.
func TestBookFileFromUpstream(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "addrbook.json")
	pool := addrPool(1, 600)
	ub := upex.NewAddrBook(path, true)
	good := populate(t, pool, ub, nil)
	ub.Save()

	_, entries := readUpstreamFile(t, path)
	buckets := map[[2]int]bool{}
	types := map[int]int{}
	for _, e := range entries {
		types[e.BucketType]++
		for _, b := range e.Buckets {
			buckets[[2]int{e.BucketType, b}] = true
		}
	}
	if len(entries) != len(pool) || types[1] == 0 || types[2] == 0 || len(buckets) < 50 {
		t.Fatalf("upstream's file lacks the mix of new, old and bucket spread the test needs: %d entries, types %v, %d buckets", len(entries), types, len(buckets))
	}

	ob := startedBook(t, path, 7)
	st := ob.LoadStats()
	if st.Loaded != len(pool) || len(st.Dropped) != 0 || st.CorruptMovedTo != "" {
		t.Fatalf("load stats %+v, want all %d loaded", st, len(pool))
	}
	if ob.Size() != ub.Size() {
		t.Fatalf("sizes: ours %d, upstream %d", ob.Size(), ub.Size())
	}
	for _, a := range pool {
		got, ok := ob.Lookup(a.ID)
		if !ok || got != a {
			t.Fatalf("%s: loaded as %v (%v)", a, got, ok)
		}
		if ob.IsGood(a.ID) != good[a.ID] || ub.IsGood(up(a)) != good[a.ID] {
			t.Fatalf("%s: old? ours %v, upstream %v, want %v", a, ob.IsGood(a.ID), ub.IsGood(up(a)), good[a.ID])
		}
	}
}

// Book files, pexp2p → upstream: a file written here (with the fields
// pexp2p adds: version, hash key, bans) loads in upstream's pex.AddrBook
// with every address and bucket type, and upstream writes it back.
func TestBookFileToUpstream(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "addrbook.json")
	pool := addrPool(2, 600)
	ob, err := addrbook.New(addrbook.Options{FilePath: path, Strict: true, Seed: 11})
	if err != nil {
		t.Fatal(err)
	}
	good := populate(t, pool, nil, ob)
	// A ban, so that the file carries pexp2p's extra "bans" field.
	banned := addrPool(3, 1)[0]
	ob.MarkBad(banned, time.Hour)
	if err := ob.Save(); err != nil {
		t.Fatal(err)
	}

	ub := upex.NewAddrBook(path, true)
	if err := ub.Start(); err != nil {
		t.Fatal(err)
	}
	if ub.Size() != len(pool) {
		t.Fatalf("upstream loaded %d of %d", ub.Size(), len(pool))
	}
	for _, a := range pool {
		if !ub.HasAddress(up(a)) {
			t.Fatalf("upstream lacks %s", a)
		}
		if ub.IsGood(up(a)) != good[a.ID] {
			t.Fatalf("%s: upstream old=%v, want %v", a, ub.IsGood(up(a)), good[a.ID])
		}
	}
	// Upstream keeps the addresses exactly: its own selection returns
	// them with our IPs and ports.
	want := map[string]addrbook.NetAddress{}
	for _, a := range pool {
		want[a.ID] = a
	}
	for _, u := range ub.GetSelection() {
		a, err := upstreamconv.FromUpstream(addrbook.ClassicIDs, u)
		if err != nil || want[a.ID] != a {
			t.Fatalf("upstream returned %v (%v), stored %v", u, err, want[a.ID])
		}
	}
	if err := ub.Stop(); err != nil {
		t.Fatal(err)
	}
	// Its save routine writes the file once more on the way out.
	ub.(interface{ Wait() }).Wait()

	// What upstream saves back (its own format, our extras gone) loads
	// here again with the same content: the round trip is closed.
	ub.Save()
	back := startedBook(t, path, 12)
	if back.Size() != len(pool) {
		t.Fatalf("round trip: %d of %d", back.Size(), len(pool))
	}
	var mismatched []string
	for _, a := range pool {
		if got, ok := back.Lookup(a.ID); !ok || got != a || back.IsGood(a.ID) != good[a.ID] {
			mismatched = append(mismatched, a.String())
		}
	}
	sort.Strings(mismatched)
	if len(mismatched) > 0 {
		t.Fatalf("round trip changed %d entries, e.g. %s", len(mismatched), mismatched[0])
	}
}

// startedBook starts a strict pexp2p book with seed on the file at path;
// it is stopped when the test ends.
func startedBook(t *testing.T, path string, seed uint64) *addrbook.Book {
	t.Helper()
	b, err := addrbook.New(addrbook.Options{FilePath: path, Strict: true, Seed: seed})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Stop() })
	return b
}
