package addrbook

import (
	"slices"
	"time"
)

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
	// Alternatives are other addresses of the same peer (AddVerified,
	// AddAlternatives), in the order they are kept; nil when none.
	Alternatives []NetAddress
	// Verified means Addr came from a record its own peer signed.
	Verified bool
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
		all = ka.appendBuckets(all)
		out[i] = entryOf(ka, b.srcs[ka.src].addr, all[start:len(all):len(all)])
	}
	return out
}

func entryOf(ka *knownAddress, src NetAddress, buckets []int) Entry {
	return Entry{
		Addr:        ka.addr(),
		Src:         src,
		Old:         ka.isOld(),
		Buckets:     buckets,
		Attempts:    int(ka.attempts),
		LastAttempt: fromNanos(ka.lastAttempt),
		LastSuccess: fromNanos(ka.lastSuccess),
		// A copy: the book replaces, never edits, an ext's list, but
		// tools may edit theirs.
		Alternatives: slices.Clone(ka.alts()),
		Verified:     ka.verified(),
	}
}

func (ka *knownAddress) appendBuckets(dst []int) []int {
	for r := 0; r < int(ka.nb); r++ {
		dst = append(dst, int(ka.bk[r]))
	}
	return dst
}

// FileEntry returns e as upstream's addrbook.json stores it, with
// upstream's bucket type codes. LastBanTime stays zero: a banned address
// is not among the entries.
func (e Entry) FileEntry() FileEntry {
	fe := FileEntry{
		Addr:        fileAddr(e.Addr),
		Src:         fileAddr(e.Src),
		Buckets:     make([]int64, len(e.Buckets)),
		Attempts:    int64(e.Attempts),
		BucketType:  int64(bucketTypeNew),
		LastAttempt: e.LastAttempt,
		LastSuccess: e.LastSuccess,
		Verified:    e.Verified,
	}
	for _, a := range e.Alternatives {
		fe.Alternatives = append(fe.Alternatives, fileAddr(a))
	}
	if e.Old {
		fe.BucketType = int64(bucketTypeOld)
	}
	for i, idx := range e.Buckets {
		fe.Buckets[i] = int64(idx)
	}
	return fe
}

func fileAddr(na NetAddress) *FileAddr {
	a := &FileAddr{ID: na.ID, Port: int64(na.Port)}
	if na.IP.IsValid() {
		a.IP = na.IP.String()
	}
	return a
}

// Key returns upstream's "key" field of the book file, which seeds
// bucket placement. Tools that write an upstream addrbook.json carry it
// over so upstream keeps the stored bucket indices meaningful.
func (b *Book) Key() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.key
}
