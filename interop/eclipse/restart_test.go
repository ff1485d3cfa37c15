package eclipse

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/pexp2p/pexp2p/addrbook"
)

// filePlacement is what the book file says of each entry.
type filePlacement struct {
	Key     string `json:"key"`
	HashKey string `json:"hash_key"`
	Addrs   []struct {
		Addr struct {
			ID string `json:"id"`
		} `json:"addr"`
		Buckets    []int `json:"buckets"`
		BucketType int   `json:"bucket_type"`
	} `json:"addrs"`
}

func readPlacement(t *testing.T, data []byte) (fp filePlacement, byID map[string]string) {
	t.Helper()
	if err := json.Unmarshal(data, &fp); err != nil {
		t.Fatal(err)
	}
	byID = map[string]string{}
	for _, a := range fp.Addrs {
		b := append([]int(nil), a.Buckets...)
		sort.Ints(b)
		byID[a.Addr.ID] = fmt.Sprint(a.BucketType, b)
	}
	return fp, byID
}

// attackerNewBuckets is the set of new buckets holding attacker entries.
func attackerNewBuckets(fp filePlacement, att map[string]bool) map[int]bool {
	out := map[int]bool{}
	for _, a := range fp.Addrs {
		if att[a.Addr.ID] && a.BucketType == 1 {
			for _, b := range a.Buckets {
				out[b] = true
			}
		}
	}
	return out
}

// TestRestartDoesNotFlushTheBook (hash key and bans persisted): an
// attacker who forces the victim to restart
// gains nothing. After the restart the bans, the hash key, every entry's
// bucket placement and the good (old) addresses are as before, banned
// attackers are refused, and a fresh flood from the same k groups lands
// only in the buckets the attacker already held — with a new key it would
// spread over new buckets and evict honest entries.
func TestRestartDoesNotFlushTheBook(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "addrbook.json")
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	clk := func() time.Time { return now }
	open := func(seed uint64) *addrbook.Book {
		b, err := addrbook.New(addrbook.Options{FilePath: path, Strict: true, Seed: seed, Now: clk,
			Tick: func(time.Duration) (<-chan time.Time, func()) { return nil, func() {} }})
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Start(); err != nil {
			t.Fatal(err)
		}
		return b
	}
	const k = 8
	b1 := open(1)
	vb := ours{b1}
	at := &attacker{k: k, ids: map[string]bool{}, rng: newRand(5)}
	rng := newRand(6)
	nHonest := honestGroups * honestPerGroup
	for range historyBatches {
		src := honestAddr(rng.IntN(honestSources) * (nHonest / honestSources))
		for range 100 {
			vb.add(honestAddr(rng.IntN(nHonest)), src)
		}
	}
	var good []string
	for i := range historyGood {
		a := honestAddr(i * (nHonest / historyGood))
		b1.MarkGood(a.ID)
		if b1.IsGood(a.ID) {
			good = append(good, a.ID)
		}
	}
	// A flood large enough to saturate the attacker's reachable buckets.
	for i := range 200 {
		src := at.source(i % (k * sourcesPerGrp))
		for range batchSize {
			vb.add(at.addr(), src)
		}
	}
	// Misbehaving attacker peers banned, some of them in the book.
	var banned []addrbook.NetAddress
	for i := range 40 {
		a := at.addr()
		if i%2 == 0 {
			_ = b1.AddAddress(a, at.source(i))
		}
		b1.MarkBad(a, 24*time.Hour)
		banned = append(banned, a)
	}
	if err := b1.Stop(); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(path)
	fp1, place1 := readPlacement(t, before)
	bans1 := b1.Bans()

	// The forced restart: a new process, a different generator seed.
	now = now.Add(time.Minute)
	b2 := open(2)
	defer func() { _ = b2.Stop() }()
	st := b2.LoadStats()
	if st.Recomputed || len(st.Dropped) != 0 || st.CorruptMovedTo != "" {
		t.Fatalf("restart changed the book: %+v", st)
	}
	if b2.Size() != b1.Size() {
		t.Fatalf("size %d after restart, %d before", b2.Size(), b1.Size())
	}
	fp2, place2 := readPlacement(t, b2.Marshal())
	if fp2.HashKey != fp1.HashKey || fp2.Key != fp1.Key {
		t.Fatal("hash key or book key changed across the restart")
	}
	for id, p := range place1 {
		if place2[id] != p {
			t.Fatalf("placement of %s changed across the restart", id)
		}
	}
	for _, id := range good {
		if !b2.IsGood(id) {
			t.Fatalf("good address %s is no longer old after the restart", id)
		}
	}
	bans2 := b2.Bans()
	if len(bans2) != len(bans1) || len(bans1) != len(banned) {
		t.Fatalf("bans: %d before, %d after, %d issued", len(bans1), len(bans2), len(banned))
	}
	for _, a := range banned {
		if !b2.IsBanned(a.ID) {
			t.Fatalf("ban of %s lost in the restart", a.ID)
		}
		if err := b2.AddAddress(a, at.source(0)); !errors.Is(err, addrbook.ErrBanned) {
			t.Fatalf("banned attacker address re-added after restart: %v", err)
		}
	}
	// A fresh flood right after the restart reaches no new bucket.
	held := attackerNewBuckets(fp1, at.ids)
	for i := range 100 {
		src := at.source(i % (k * sourcesPerGrp))
		for range batchSize {
			_ = b2.AddAddress(at.addr(), src)
		}
	}
	fp3, _ := readPlacement(t, b2.Marshal())
	for bk := range attackerNewBuckets(fp3, at.ids) {
		if !held[bk] {
			t.Fatalf("after the restart the attacker reached new bucket %d it did not hold before", bk)
		}
	}
	for _, id := range good {
		if !b2.IsGood(id) {
			t.Fatalf("post-restart flood evicted good address %s", id)
		}
	}
	t.Logf("k=%d: %d entries, %d old kept, %d bans kept, attacker confined to %d new buckets before and after",
		k, b2.Size(), len(good), len(bans2), len(held))
}
