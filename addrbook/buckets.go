package addrbook

// Bucket bookkeeping. Entries live in b.entries by value; buckets hold
// entry indices; every entry records where it sits in each of its buckets,
// so adding and removing are O(1) and nothing is ever searched for. All
// functions here run with b.mu held.

func typeIndex(typ uint8) int {
	if typ == bucketTypeOld {
		return 1
	}
	return 0
}

func (b *Book) bucketOf(typ uint8, idx int) *bucket {
	if typ == bucketTypeOld {
		return &b.oldB[idx]
	}
	return &b.newB[idx]
}

// internSource returns the index of src in the source table, adding it if
// needed, and takes a reference.
func (b *Book) internSource(src NetAddress) int32 {
	if i, ok := b.srcIdx[src]; ok {
		b.srcs[i].refs++
		return i
	}
	var i int32
	if n := len(b.srcFree); n > 0 {
		i = b.srcFree[n-1]
		b.srcFree = b.srcFree[:n-1]
		b.srcs[i] = source{addr: src, refs: 1}
	} else {
		i = int32(len(b.srcs))
		b.srcs = append(b.srcs, source{addr: src, refs: 1})
	}
	b.srcIdx[src] = i
	return i
}

func (b *Book) releaseSource(i int32) {
	s := &b.srcs[i]
	s.refs--
	if s.refs > 0 {
		return
	}
	delete(b.srcIdx, s.addr)
	*s = source{}
	b.srcFree = append(b.srcFree, i)
}

// appendEntry stores ka (with no bucket references yet) and indexes it.
func (b *Book) appendEntry(ka knownAddress) int32 {
	ka.nb = 0
	i := int32(len(b.entries))
	b.entries = append(b.entries, ka)
	b.lookup[ka.id] = i
	if ka.isOld() {
		b.nOld++
	} else {
		b.nNew++
	}
	if ka.verified() {
		b.nVerified++
	}
	return i
}

// place puts entry i into bucket idx of its own type. The caller has made
// room (makeRoom) and checked that the entry is not in that bucket yet.
func (b *Book) place(i int32, idx int) {
	ka := &b.entries[i]
	bk := b.bucketOf(ka.typ, idx)
	s := int(bk.n)
	bk.e[s] = i
	bk.n++
	ka.addRef(idx, s)
	t := typeIndex(ka.typ)
	b.refs[t]++
	if bk.n == 1 {
		b.nonEmpty[t].add(idx)
	}
}

// unplace takes entry i out of bucket idx; the entry stays stored even if
// that was its last bucket (callers decide whether to drop or re-place it).
func (b *Book) unplace(i int32, idx int) {
	ka := &b.entries[i]
	r := ka.refIndex(idx)
	if r < 0 {
		return
	}
	bk := b.bucketOf(ka.typ, idx)
	s := int(ka.slot[r])
	last := int(bk.n) - 1
	if s != last {
		moved := bk.e[last]
		bk.e[s] = moved
		m := &b.entries[moved]
		m.slot[m.refIndex(idx)] = uint8(s)
	}
	bk.e[last] = 0
	bk.n--
	ka.removeRef(idx)
	t := typeIndex(ka.typ)
	b.refs[t]--
	if bk.n == 0 {
		b.nonEmpty[t].remove(idx)
	}
}

func (b *Book) unplaceAll(i int32) {
	ka := &b.entries[i]
	for ka.nb > 0 {
		b.unplace(i, int(ka.bk[ka.nb-1]))
	}
}

// dropEntry deletes entry i, which must be in no bucket, by moving the
// last entry into its place.
func (b *Book) dropEntry(i int32) {
	ka := &b.entries[i]
	delete(b.lookup, ka.id)
	b.releaseSource(ka.src)
	if ka.isOld() {
		b.nOld--
	} else {
		b.nNew--
	}
	if ka.verified() {
		b.nVerified--
	}
	last := int32(len(b.entries) - 1)
	if i != last {
		b.entries[i] = b.entries[last]
		m := &b.entries[i]
		b.lookup[m.id] = i
		for r := 0; r < int(m.nb); r++ {
			b.bucketOf(m.typ, int(m.bk[r])).e[m.slot[r]] = i
		}
	}
	b.entries[last] = knownAddress{}
	b.entries = b.entries[:last]
}

// removeEntry takes entry i out of every bucket and out of the book.
func (b *Book) removeEntry(i int32) {
	b.unplaceAll(i)
	b.dropEntry(i)
}

// removeFromBucket is upstream's removeFromBucket: the entry leaves one
// bucket and the book too when that was its last one.
func (b *Book) removeFromBucket(i int32, idx int) {
	b.unplace(i, idx)
	if b.entries[i].nb == 0 {
		b.dropEntry(i)
	}
}

// makeRoom frees one slot in a full bucket. Exactly bucketSize entries fit
// (upstream's "> 64" check let 65 in).
func (b *Book) makeRoom(typ uint8, idx int) {
	if typ == bucketTypeNew && int(b.newB[idx].n) >= bucketSize {
		b.expireNew(idx)
	}
}

// expireNew drops one entry from a full new bucket: a bad one if any,
// else the one tried longest ago, as upstream. The scan starts at a
// random slot, standing in for upstream's random map order.
func (b *Book) expireNew(idx int) {
	bk := &b.newB[idx]
	n := int(bk.n)
	if n == 0 {
		return
	}
	now := b.nowNanos()
	start := b.rng.IntN(n)
	for k := 0; k < n; k++ {
		i := bk.e[(start+k)%n]
		if b.entries[i].isBad(now) {
			b.removeFromBucket(i, idx)
			return
		}
	}
	b.removeFromBucket(b.pickOldest(bucketTypeNew, idx), idx)
}

// pickOldest returns the entry of a non-empty bucket with the earliest
// last attempt.
func (b *Book) pickOldest(typ uint8, idx int) int32 {
	bk := b.bucketOf(typ, idx)
	best := bk.e[0]
	for s := 1; s < int(bk.n); s++ {
		if e := bk.e[s]; b.entries[e].lastAttempt < b.entries[best].lastAttempt {
			best = e
		}
	}
	return best
}

// moveToOld promotes new entry i to its old bucket. When that bucket is
// full, the entry tried longest ago is demoted to a new bucket — and kept, unlike
// upstream, which drops it because it forgets to reset its type.
//
// With Options.TestBeforeEvict and a tester, a promotion into a full old
// bucket waits for a test of the entry it would push out (evict.go).
func (b *Book) moveToOld(i int32) {
	ka := &b.entries[i]
	if ka.isOld() || ka.nb == 0 {
		return
	}
	if oldIdx := b.calcOldBucket(ka.addr()); int(b.oldB[oldIdx].n) >= bucketSize && b.testFirst(i, oldIdx) {
		return
	}
	b.promote(i)
}

// promote is moveToOld without the test: the oldest entry of a full old
// bucket is demoted at once.
func (b *Book) promote(i int32) {
	ka := &b.entries[i]
	if ka.isOld() || ka.nb == 0 {
		return
	}
	id := ka.id
	b.unplaceAll(i)
	ka.typ = bucketTypeOld
	b.nNew--
	b.nOld++
	oldIdx := b.calcOldBucket(ka.addr())
	if int(b.oldB[oldIdx].n) >= bucketSize {
		b.demote(b.pickOldest(bucketTypeOld, oldIdx), oldIdx)
		i = b.lookup[id] // demotion may have moved entries
	}
	b.place(i, oldIdx)
}

// demote moves old entry d out of old bucket oldIdx into the new bucket
// its address and source hash to, as btcd does.
func (b *Book) demote(d int32, oldIdx int) {
	b.unplace(d, oldIdx)
	ka := &b.entries[d]
	ka.typ = bucketTypeNew
	b.nOld--
	b.nNew++
	id := ka.id
	newIdx := b.calcNewBucket(ka.addr(), b.srcs[ka.src].addr)
	b.makeRoom(bucketTypeNew, newIdx)
	b.place(b.lookup[id], newIdx)
}
