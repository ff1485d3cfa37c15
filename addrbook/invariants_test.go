package addrbook

import (
	"strings"
	"testing"
)

// The checker must catch each kind of corruption it claims to; a checker
// that cannot fail would make the fuzzers meaningless.
func TestInvariantCheckerCatchesCorruption(t *testing.T) {
	build := func() *Book {
		b, _ := newTestBook(t, Options{})
		for i := 0; i < 50; i++ {
			mustAddQuiet(t, b, routableAddr(i), routableAddr(1000+i%4))
		}
		b.MarkGood(routableAddr(0).ID)
		mustInvariants(t, b)
		return b
	}
	for _, tc := range []struct {
		name, want string
		corrupt    func(b *Book)
	}{
		{"count", "counts", func(b *Book) { b.nNew++ }},
		{"lookup", "lookup", func(b *Book) { delete(b.lookup, b.entries[3].id) }},
		{"no bucket", "buckets", func(b *Book) { b.entries[5].nb = 0 }},
		{"old in two", "old entry", func(b *Book) {
			i := b.lookup[routableAddr(0).ID]
			b.entries[i].nb = 2
		}},
		{"bucket over 64", "holds", func(b *Book) { b.newB[0].n = bucketSize + 1 }},
		{"back pointer", "point back", func(b *Book) { b.entries[7].slot[0]++ }},
		{"refs", "reference", func(b *Book) { b.refs[0]++ }},
		{"source", "source", func(b *Book) { b.srcs[b.entries[1].src].refs++ }},
		{"private stored", "private", func(b *Book) { b.private[b.entries[2].id] = struct{}{} }},
		{"banned stored", "banned", func(b *Book) { b.bans[b.entries[2].id] = &banRecord{until: b.nowNanos() + 1} }},
	} {
		b := build()
		tc.corrupt(b)
		err := b.checkInvariants()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: checker said %v, want an error about %q", tc.name, err, tc.want)
		}
	}
}
