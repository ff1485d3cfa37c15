package addrbook

import (
	"fmt"
	"slices"
)

// checkInvariants verifies the book's internal consistency and returns the
// first violation found. The fuzzers run it after every operation and the
// unit tests after theirs; it is the property upstream's book
// loses on a corrupt but parseable file (it loads without validation) and
// on demotion from a full old bucket (the demoted entry is dropped).
//
//   - the new and old counts match the entries and the buckets;
//   - every entry is in 1–4 new buckets or exactly 1 old bucket;
//   - the ID index and the buckets agree, both ways;
//   - no bucket holds more than 64 entries;
//   - sources, non-empty-bucket sets and reference counts are exact;
//   - no stored ID is private, ours, or banned right now;
//   - at most maxPendingTests promotions wait for a test-before-evict;
//   - alternatives carry their entry's ID, are valid (routable in strict
//     mode), distinct, not the primary, at most MaxAlternatives; an entry
//     with neither alternatives nor the verified flag has no ext, and the
//     verified count is exact.
func (b *Book) checkInvariants() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.lookup) != len(b.entries) {
		return fmt.Errorf("lookup has %d IDs, entries %d", len(b.lookup), len(b.entries))
	}
	var nNew, nOld, nVerified int
	var refs [2]int
	srcRefs := make([]int32, len(b.srcs))
	now := b.nowNanos()
	for i := range b.entries {
		ka := &b.entries[i]
		if j, ok := b.lookup[ka.id]; !ok || int(j) != i {
			return fmt.Errorf("entry %d (%s): lookup says %d, %v", i, ka.id, j, ok)
		}
		switch ka.typ {
		case bucketTypeNew:
			nNew++
			if ka.nb < 1 || ka.nb > maxNewBucketsPerAddress {
				return fmt.Errorf("new entry %s in %d buckets", ka.id, ka.nb)
			}
		case bucketTypeOld:
			nOld++
			if ka.nb != 1 {
				return fmt.Errorf("old entry %s in %d buckets", ka.id, ka.nb)
			}
		default:
			return fmt.Errorf("entry %s has bucket type %d", ka.id, ka.typ)
		}
		limit := newBucketCount
		if ka.isOld() {
			limit = oldBucketCount
		}
		for r := 0; r < int(ka.nb); r++ {
			idx := int(ka.bk[r])
			if idx >= limit {
				return fmt.Errorf("entry %s: bucket %d out of range", ka.id, idx)
			}
			for q := 0; q < r; q++ {
				if ka.bk[q] == ka.bk[r] {
					return fmt.Errorf("entry %s: bucket %d twice", ka.id, idx)
				}
			}
			bk := b.bucketOf(ka.typ, idx)
			if int(ka.slot[r]) >= int(bk.n) || bk.e[ka.slot[r]] != int32(i) {
				return fmt.Errorf("entry %s: bucket %d slot %d does not point back", ka.id, idx, ka.slot[r])
			}
		}
		refs[typeIndex(ka.typ)] += int(ka.nb)
		if ka.src < 0 || int(ka.src) >= len(b.srcs) {
			return fmt.Errorf("entry %s: source index %d out of range", ka.id, ka.src)
		}
		srcRefs[ka.src]++ // in range: checked just above
		if _, p := b.private[ka.id]; p {
			return fmt.Errorf("private ID %s stored", ka.id)
		}
		if _, p := b.ourIDs[ka.id]; p {
			return fmt.Errorf("our ID %s stored", ka.id)
		}
		if rec, ok := b.bans[ka.id]; ok && rec.until > now {
			return fmt.Errorf("banned ID %s stored", ka.id)
		}
		if err := b.checkExt(ka); err != nil {
			return err
		}
		if ka.verified() {
			nVerified++
		}
	}
	if nVerified != b.nVerified {
		return fmt.Errorf("%d verified entries, counter %d", nVerified, b.nVerified)
	}
	if nNew != b.nNew || nOld != b.nOld {
		return fmt.Errorf("counts new %d old %d, entries say %d %d", b.nNew, b.nOld, nNew, nOld)
	}
	for t, typ := range []uint8{bucketTypeNew, bucketTypeOld} {
		count := newBucketCount
		if typ == bucketTypeOld {
			count = oldBucketCount
		}
		sum, nonEmpty := 0, 0
		for idx := 0; idx < count; idx++ {
			bk := b.bucketOf(typ, idx)
			if int(bk.n) > bucketSize {
				return fmt.Errorf("bucket %d/%d holds %d", typ, idx, bk.n)
			}
			sum += int(bk.n)
			if bk.n > 0 {
				nonEmpty++
				if b.nonEmpty[t].pos[idx] < 0 {
					return fmt.Errorf("non-empty bucket %d/%d not in set", typ, idx)
				}
			} else if b.nonEmpty[t].pos[idx] >= 0 {
				return fmt.Errorf("empty bucket %d/%d in set", typ, idx)
			}
			for s := 0; s < int(bk.n); s++ {
				e := bk.e[s]
				if e < 0 || int(e) >= len(b.entries) {
					return fmt.Errorf("bucket %d/%d slot %d: entry %d out of range", typ, idx, s, e)
				}
				ka := &b.entries[e]
				r := ka.refIndex(idx)
				if ka.typ != typ || r < 0 || int(ka.slot[r]) != s {
					return fmt.Errorf("bucket %d/%d slot %d: entry %s does not point back", typ, idx, s, ka.id)
				}
			}
		}
		if sum != refs[t] || sum != b.refs[t] {
			return fmt.Errorf("type %d: buckets hold %d, entries reference %d, counter %d", typ, sum, refs[t], b.refs[t])
		}
		if nonEmpty != len(b.nonEmpty[t].list) {
			return fmt.Errorf("type %d: %d non-empty buckets, set has %d", typ, nonEmpty, len(b.nonEmpty[t].list))
		}
	}
	if len(b.pending) > maxPendingTests {
		return fmt.Errorf("%d promotions wait for a test, limit %d", len(b.pending), maxPendingTests)
	}
	live := 0
	for i := range b.srcs {
		s := &b.srcs[i]
		if s.refs == 0 {
			continue
		}
		live++
		if s.refs != srcRefs[i] {
			return fmt.Errorf("source %s: %d refs counted, %d used", s.addr, s.refs, srcRefs[i])
		}
		if j, ok := b.srcIdx[s.addr]; !ok || int(j) != i {
			return fmt.Errorf("source %s not indexed", s.addr)
		}
	}
	if live != len(b.srcIdx) || live != len(b.srcs)-len(b.srcFree) {
		return fmt.Errorf("sources: %d live, %d indexed, %d slots, %d free", live, len(b.srcIdx), len(b.srcs), len(b.srcFree))
	}
	return nil
}

func (b *Book) checkExt(ka *knownAddress) error {
	if ka.ext == nil {
		return nil
	}
	alts := ka.ext.alts
	if len(alts) == 0 && !ka.ext.verified {
		return fmt.Errorf("entry %s keeps an empty ext", ka.id)
	}
	if len(alts) > MaxAlternatives {
		return fmt.Errorf("entry %s has %d alternatives, limit %d", ka.id, len(alts), MaxAlternatives)
	}
	for k, a := range alts {
		switch {
		case a.ID != ka.id:
			return fmt.Errorf("entry %s: alternative %s has another ID", ka.id, a)
		case a.Valid() != nil || (b.strict && !a.Routable()):
			return fmt.Errorf("entry %s: alternative %s is not storable", ka.id, a)
		case a == ka.addr():
			return fmt.Errorf("entry %s: alternative %s is the primary", ka.id, a)
		case slices.Contains(alts[:k], a):
			return fmt.Errorf("entry %s: alternative %s twice", ka.id, a)
		}
	}
	return nil
}
