package addrbook

import (
	"sort"
	"time"
)

// banRecord is one banned ID. When the ID was in the book, the entry is
// kept (with its source) so ReinstateBadPeers can bring it back.
type banRecord struct {
	until    int64 // Unix nanoseconds
	addr     NetAddress
	hasEntry bool
	entry    knownAddress // src field unused; see src
	src      NetAddress
}

// Ban describes one ban, for inspection and tools.
type Ban struct {
	ID    string
	Addr  NetAddress // zero when the ID was never in the book
	Until time.Time
}

// MarkBad bans addr's ID for d and removes its entry. Unlike
// upstream, an ID that is not in the book is banned too (the reactor bans
// misbehaving peers whatever the book knows of them), and banning an
// already banned ID extends the ban to the later end (upstream leaves a
// standing ban as it is); a ban is never shortened.
func (b *Book) MarkBad(addr NetAddress, d time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	id := b.normID(addr.ID)
	if id == "" {
		return
	}
	until := b.nowNanos() + int64(d)
	rec, ok := b.bans[id]
	if !ok {
		rec = &banRecord{until: until, addr: addr}
		rec.addr.ID = id
		b.bans[id] = rec
	} else if until > rec.until {
		rec.until = until
	}
	if i, ok := b.lookup[id]; ok {
		ka := b.entries[i]
		rec.hasEntry = true
		rec.entry = ka
		rec.entry.nb = 0
		rec.src = b.srcs[ka.src].addr
		rec.addr = ka.addr()
		b.removeEntry(i)
	}
}

// IsBanned reports whether the ID is banned now. An expired ban does not
// count, whether or not ReinstateBadPeers has run (upstream's IsBanned
// stays true after expiry until then).
func (b *Book) IsBanned(id string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	rec, ok := b.bans[b.normID(id)]
	return ok && rec.until > b.nowNanos()
}

// ReinstateBadPeers puts the entries of expired bans back into a new
// bucket — including entries that were old when banned, which
// upstream loses — and forgets the expired bans. IDs are handled
// in sorted order so a seeded book stays reproducible.
func (b *Book) ReinstateBadPeers() {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.nowNanos()
	var expired []string
	for id, rec := range b.bans {
		if rec.until <= now {
			expired = append(expired, id)
		}
	}
	sort.Strings(expired)
	for _, id := range expired {
		rec := b.bans[id]
		delete(b.bans, id)
		if !rec.hasEntry {
			continue
		}
		if _, in := b.lookup[id]; in {
			continue
		}
		if _, p := b.private[id]; p {
			continue
		}
		if _, p := b.private[rec.src.ID]; p {
			continue
		}
		if _, self := b.ourIDs[id]; self {
			continue
		}
		ka := rec.entry
		ka.typ = bucketTypeNew
		ka.nb = 0
		idx := b.calcNewBucket(ka.addr(), rec.src)
		b.makeRoom(bucketTypeNew, idx)
		ka.src = b.internSource(rec.src)
		b.place(b.appendEntry(ka), idx)
	}
}

// Bans lists the bans that are in force, sorted by ID.
func (b *Book) Bans() []Ban {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.nowNanos()
	out := make([]Ban, 0, len(b.bans))
	for id, rec := range b.bans {
		if rec.until > now {
			out = append(out, Ban{ID: id, Addr: rec.addr, Until: fromNanos(rec.until)})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}
