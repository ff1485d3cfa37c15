package addrbook

import "time"

// Entry is a copy of one stored address and what the book knows about it,
// for tools that list or export the book. Changing it changes nothing in
// the book.
type Entry struct {
	Addr NetAddress
	// Src is who told us about Addr (itself, for an inbound peer).
	Src NetAddress
	// Old means Addr sits in an old bucket: we have connected to it.
	// Otherwise it is new: only announced.
	Old bool
	// Buckets are the indices of the buckets holding Addr, within the
	// range of its class (new or old), as the file stores them.
	Buckets  []int
	Attempts int
	// LastAttempt and LastSuccess are UTC; zero means never.
	LastAttempt time.Time
	LastSuccess time.Time
}

// Entries returns a copy of every stored address, in the book's storage
// order (arbitrary but the same for the same calls). It is one consistent
// snapshot taken under the book's lock; callers walk it without holding
// the lock, so they may call the book meanwhile without deadlocking.
func (b *Book) Entries() []Entry {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]Entry, len(b.entries))
	refs := 0
	for i := range b.entries {
		refs += int(b.entries[i].nb)
	}
	// One backing array for every entry's bucket list: a full book has
	// 16k entries, and a slice each would be 16k small allocations.
	all := make([]int, 0, refs)
	for i := range b.entries {
		ka := &b.entries[i]
		start := len(all)
		for r := 0; r < int(ka.nb); r++ {
			all = append(all, int(ka.bk[r]))
		}
		out[i] = Entry{
			Addr:        ka.addr(),
			Src:         b.srcs[ka.src].addr,
			Old:         ka.isOld(),
			Buckets:     all[start:len(all):len(all)],
			Attempts:    int(ka.attempts),
			LastAttempt: fromNanos(ka.lastAttempt),
			LastSuccess: fromNanos(ka.lastSuccess),
		}
	}
	return out
}

// Key returns upstream's "key" field of the book file, which seeds
// bucket placement. Tools that write an upstream addrbook.json carry it
// over so upstream keeps the stored bucket indices meaningful.
func (b *Book) Key() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.key
}
