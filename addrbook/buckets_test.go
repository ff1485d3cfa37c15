package addrbook

import (
	"testing"
	"time"
)

// A full new bucket expires a bad entry first, else the oldest.
func TestExpireNewPrefersBad(t *testing.T) {
	b, clk := newTestBook(t, Options{})
	src := addrAt(5000, 44, 1, 1, 1)
	at := func(i int) NetAddress { return addrAt(i, 77, 7, 0, byte(i+1)) }
	for i := 0; i < bucketSize; i++ {
		mustAdd(t, b, at(i), src)
		clk.Advance(time.Second)
	}
	// Entry 10 becomes bad: 3 failed attempts, never a success, tried > 1 min ago.
	for k := 0; k < 3; k++ {
		b.MarkAttempt(at(10).ID)
	}
	clk.Advance(2 * time.Minute)
	mustAdd(t, b, at(100), src)
	if b.HasAddress(at(10).ID) || b.Size() != bucketSize {
		t.Fatal("the bad entry was not the one expired")
	}
	// No bad entry now: the oldest (entry 0, whose last attempt is earliest) goes.
	mustAdd(t, b, at(101), src)
	if b.HasAddress(at(0).ID) || !b.HasAddress(at(1).ID) || b.Size() != bucketSize {
		t.Fatal("the oldest entry was not the one expired")
	}
}

// Removing entries from the middle keeps every index exact (entries move
// to fill holes; buckets and the ID index follow).
func TestRemoveKeepsIndicesExact(t *testing.T) {
	b, _ := newTestBook(t, Options{})
	for i := 0; i < 300; i++ {
		mustAddQuiet(t, b, routableAddr(i), routableAddr(1000+i%3))
	}
	for i := 0; i < 300; i += 3 {
		b.RemoveAddress(routableAddr(i).ID)
		mustInvariants(t, b)
	}
	if b.Size() != 200 {
		t.Fatalf("size %d", b.Size())
	}
	for i := 0; i < 300; i++ {
		if got, ok := b.Lookup(routableAddr(i).ID); ok != (i%3 != 0) || (ok && got != routableAddr(i)) {
			t.Fatalf("%d: %v %v", i, got, ok)
		}
	}
	// Sources are shared and released with their last entry: every entry
	// of source 1000 is gone.
	if len(b.srcIdx) != 2 {
		t.Fatalf("%d sources", len(b.srcIdx))
	}
	for i := 0; i < 300; i++ {
		b.RemoveAddress(routableAddr(i).ID)
	}
	mustInvariants(t, b)
	if len(b.srcIdx) != 0 || b.refs != [2]int{} {
		t.Fatalf("sources %d refs %v after emptying", len(b.srcIdx), b.refs)
	}
}
