package addrbook

import (
	"encoding/binary"
	"testing"

	"github.com/minio/highwayhash"
)

// upstreamHash is how upstream hashes: a HighwayHash-64 hasher's Sum(nil)
// read big-endian.
func upstreamHash(t *testing.T, key []byte, data []byte) uint64 {
	h, err := highwayhash.New64(key)
	if err != nil {
		t.Fatal(err)
	}
	h.Write(data)
	return binary.BigEndian.Uint64(h.Sum(nil))
}

// The bucket formulas, with upstream's input layout (ASCII key prefix,
// group strings, big-endian 8-byte inner hash), recomputed here the slow
// way so that a placement is comparable with upstream's for equal keys.
func TestPlacementMatchesUpstreamLayout(t *testing.T) {
	for _, strict := range []bool{false, true} {
		b, _ := newTestBook(t, Options{Strict: strict})
		key := b.hashKey[:]
		for i := 0; i < 300; i++ {
			addr := routableAddr(i)
			src := routableAddr(1000 + i%7)
			if i%3 == 0 {
				addr = na("2001:470:1f10:a1::2")
				addr.ID = testID(i)
			}
			d1 := []byte(b.key + GroupKey(addr, strict) + GroupKey(src, strict))
			h1 := upstreamHash(t, key, d1) % newBucketsPerGroup
			d2 := binary.BigEndian.AppendUint64([]byte(b.key+GroupKey(src, strict)), h1)
			want := int(upstreamHash(t, key, d2) % newBucketCount)
			if got := b.calcNewBucket(addr, src); got != want {
				t.Fatalf("calcNewBucket(%s, %s) = %d, upstream layout gives %d", addr, src, got, want)
			}
			o1 := upstreamHash(t, key, []byte(b.key+addr.String())) % oldBucketsPerGroup
			o2 := binary.BigEndian.AppendUint64([]byte(b.key+GroupKey(addr, strict)), o1)
			wantOld := int(upstreamHash(t, key, o2) % oldBucketCount)
			if got := b.calcOldBucket(addr); got != wantOld {
				t.Fatalf("calcOldBucket(%s) = %d, upstream layout gives %d", addr, got, wantOld)
			}
		}
	}
}

// One source group reaches at most 32 new buckets; one address group at
// most 4 old buckets.
func TestPlacementSpreadLimits(t *testing.T) {
	b, _ := newTestBook(t, Options{})
	src := addrAt(5000, 44, 1, 1, 1)
	newSeen := map[int]bool{}
	oldSeen := map[int]bool{}
	for i := 0; i < 5000; i++ {
		newSeen[b.calcNewBucket(routableAddr(i), src)] = true
		oldSeen[b.calcOldBucket(addrAt(i, 77, 7, byte(i/256), byte(i)))] = true
	}
	if len(newSeen) > newBucketsPerGroup {
		t.Errorf("one source reached %d new buckets, max %d", len(newSeen), newBucketsPerGroup)
	}
	if len(oldSeen) > oldBucketsPerGroup {
		t.Errorf("one /16 reached %d old buckets, max %d", len(oldSeen), oldBucketsPerGroup)
	}
}

// The same seed gives the same keys, hence the same placement.
func TestSameSeedSamePlacement(t *testing.T) {
	a, _ := newTestBook(t, Options{Seed: 7})
	c, _ := newTestBook(t, Options{Seed: 7})
	d, _ := newTestBook(t, Options{Seed: 8})
	if a.key != c.key || a.hashKey != c.hashKey {
		t.Fatal("same seed, different keys")
	}
	if a.hashKey == d.hashKey {
		t.Fatal("different seeds, same hash key")
	}
	src := routableAddr(99)
	for i := 0; i < 200; i++ {
		mustAdd(t, a, routableAddr(i), src)
		mustAdd(t, c, routableAddr(i), src)
	}
	if string(a.Marshal()) != string(c.Marshal()) {
		t.Fatal("same seed and calls gave different books")
	}
}
