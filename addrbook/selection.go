package addrbook

import "math"

// PickAddress draws an address to dial. bias (clamped to 0..100) is
// the preference for new addresses; the two classes are weighted by the
// square root of their sizes, as upstream. Within the class a non-empty
// bucket is drawn uniformly, then an entry of it uniformly — upstream's
// distribution, without its loop over empty buckets that hangs on an
// inconsistent book (counts that say non-zero while the buckets are empty).
//
// With Options.PreferVerified, and verified entries in the book, the
// class is still drawn as upstream; within it, up to verifiedPickTries
// entries are drawn that way and the first verified one wins, else the
// first draw. The bias between new and old, which the eclipse defences
// and the reactor tune, is unchanged, and where no peer signs records
// the pick is upstream's.
func (b *Book) PickAddress(bias int) (NetAddress, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.nNew+b.nOld == 0 {
		return NetAddress{}, false
	}
	bias = clampPercent(bias)
	oldC := math.Sqrt(float64(b.nOld)) * float64(100-bias)
	newC := math.Sqrt(float64(b.nNew)) * float64(bias)
	pickOld := (oldC+newC)*b.rng.Float64() < oldC
	typ := bucketTypeNew
	if pickOld {
		typ = bucketTypeOld
	}
	if (pickOld && b.nOld == 0) || (!pickOld && b.nNew == 0) {
		return NetAddress{}, false
	}
	set := &b.nonEmpty[typeIndex(typ)]
	if len(set.list) == 0 {
		return NetAddress{}, false
	}
	draw := func() int32 {
		bk := b.bucketOf(typ, int(set.list[b.rng.IntN(len(set.list))]))
		return bk.e[b.rng.IntN(int(bk.n))]
	}
	e := draw()
	if b.preferringVerified() && !b.entries[e].verified() {
		// Upstream's draw, conditioned on verified when one turns up
		// within the budget; the first draw otherwise.
		for t := 1; t < verifiedPickTries; t++ {
			if c := draw(); b.entries[c].verified() {
				e = c
				break
			}
		}
	}
	return b.entries[e].addr(), true
}

func clampPercent(p int) int {
	return min(max(p, 0), 100)
}

// selectionSize is upstream's gossip size: 23 % of the book, at least
// min(32, size), at most 250.
func selectionSize(size int) int {
	return min(maxGetSelection, max(min(minGetSelection, size), size*getSelectionPercent/100))
}

func percentageOfNum(p, n int) int {
	return int(math.Round(float64(p) / 100 * float64(n)))
}

// GetSelection returns a uniformly random set of addresses to gossip,
// one per ID. A partial Fisher–Yates shuffle over a virtual array costs
// O(selection) rather than upstream's O(book). Options.PreferVerified
// leaves it, and GetSelectionWithBias, as they are: gossiping verified
// entries first made the honest network's books converge in 19 to 26
// rounds instead of 10 (docs/eclipse.md).
func (b *Book) GetSelection() []NetAddress {
	b.mu.Lock()
	defer b.mu.Unlock()
	size := len(b.entries)
	if size == 0 {
		return nil
	}
	n := selectionSize(size)
	out := make([]NetAddress, n)
	perm := b.scratch
	clear(perm)
	at := func(k int32) int32 {
		if v, ok := perm[k]; ok {
			return v
		}
		return k
	}
	for i := 0; i < n; i++ {
		j := int32(i + b.rng.IntN(size-i))
		vi, vj := at(int32(i)), at(j)
		perm[j] = vi // position i is never read again
		out[i] = b.entries[vj].addr()
	}
	return out
}

// GetSelectionWithBias returns a selection (same size as GetSelection)
// laid out as [new…][old…], with at least bias percent new addresses and
// more when there are not enough old ones. Within a class an address
// in k buckets is k times as likely to come early, as upstream.
func (b *Book) GetSelectionWithBias(bias int) []NetAddress {
	b.mu.Lock()
	defer b.mu.Unlock()
	size := b.nNew + b.nOld
	if size == 0 {
		return nil
	}
	bias = clampPercent(bias)
	n := selectionSize(size)
	numNew := max(percentageOfNum(bias, n), n-b.nOld)
	out := make([]NetAddress, 0, n)
	out = b.randomPick(out, bucketTypeNew, numNew)
	return b.randomPick(out, bucketTypeOld, n-len(out))
}

// randomPick appends up to num distinct addresses of one class, each draw
// proportional to the entry's number of bucket references among those not
// yet drawn — the distribution of upstream's shuffle-then-deduplicate.
func (b *Book) randomPick(out []NetAddress, typ uint8, num int) []NetAddress {
	if num <= 0 {
		return out
	}
	t := typeIndex(typ)
	count := b.nNew
	if typ == bucketTypeOld {
		count = b.nOld
	}
	gen := b.nextMark()
	want := len(out) + min(num, count)
	// Rejection sampling over (bucket, slot) is uniform over references and
	// cheap while few are drawn; near exhaustion it degrades, so it gets a
	// budget and the exact shuffle finishes the job.
	if 2*num < count {
		set := &b.nonEmpty[t]
		budget := 64 * 8 * num
		for len(out) < want && budget > 0 && len(set.list) > 0 {
			budget--
			bk := b.bucketOf(typ, int(set.list[b.rng.IntN(len(set.list))]))
			s := b.rng.IntN(bucketSize)
			if s >= int(bk.n) {
				continue
			}
			e := bk.e[s]
			if b.mark[e] == gen {
				continue
			}
			b.mark[e] = gen
			out = append(out, b.entries[e].addr())
		}
	}
	if len(out) >= want {
		return out
	}
	refs := make([]int32, 0, b.refs[t])
	for _, idx := range b.nonEmpty[t].list {
		bk := b.bucketOf(typ, int(idx))
		for s := 0; s < int(bk.n); s++ {
			if e := bk.e[s]; b.mark[e] != gen {
				refs = append(refs, e)
			}
		}
	}
	b.rng.Shuffle(len(refs), func(i, j int) { refs[i], refs[j] = refs[j], refs[i] })
	for _, e := range refs {
		if len(out) >= want {
			break
		}
		if b.mark[e] == gen {
			continue
		}
		b.mark[e] = gen
		out = append(out, b.entries[e].addr())
	}
	return out
}

// nextMark returns a fresh generation for b.mark, sized to the entries.
func (b *Book) nextMark() uint32 {
	if len(b.mark) < len(b.entries) {
		b.mark = make([]uint32, len(b.entries)+len(b.entries)/4)
		b.markGen = 0
	}
	b.markGen++
	if b.markGen == 0 {
		clear(b.mark)
		b.markGen = 1
	}
	return b.markGen
}
