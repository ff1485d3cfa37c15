package addrbook

import (
	"net/netip"
	"time"
)

// Bucket types, with the values upstream persists as "bucket_type".
const (
	bucketTypeNew uint8 = 0x01
	bucketTypeOld uint8 = 0x02
)

// knownAddress is one entry of the book. It is stored by value in the
// book's dense entry slice and refers to its source through the interned
// source table, so a stored address costs one small fixed-size record
// instead of a handful of pointers and strings (the book's memory budget).
// Times are Unix nanoseconds, 0 meaning "never".
type knownAddress struct {
	id          string
	ip          netip.Addr
	lastAttempt int64
	lastSuccess int64
	src         int32 // index into Book.srcs
	attempts    int32
	port        uint16
	bk          [maxNewBucketsPerAddress]uint16 // bucket indices, first nb valid
	slot        [maxNewBucketsPerAddress]uint8  // position inside each bucket
	nb          uint8
	typ         uint8
	// ext holds what only the signed-records and several-addresses
	// options store; nil for every entry of a book that uses neither, so
	// those cost a book one pointer per entry.
	ext *entryExt
}

// entryExt is an entry's alternative addresses and whether its primary
// address came from a record its own peer signed (alternatives.go). An
// entry owns its ext: copies made for bans take the pointer over from an
// entry that is then dropped, so it is never shared between live entries.
type entryExt struct {
	alts     []NetAddress
	verified bool
}

func (ka *knownAddress) verified() bool { return ka.ext != nil && ka.ext.verified }

func (ka *knownAddress) alts() []NetAddress {
	if ka.ext == nil {
		return nil
	}
	return ka.ext.alts
}

func (ka *knownAddress) addr() NetAddress {
	return NetAddress{ID: ka.id, IP: ka.ip, Port: ka.port}
}

func (ka *knownAddress) isOld() bool { return ka.typ == bucketTypeOld }
func (ka *knownAddress) isNew() bool { return ka.typ == bucketTypeNew }

// newKnownAddress starts an entry as upstream does: new, no attempts,
// and LastAttempt set to now, so a fresh address is never "bad" at once.
func newKnownAddress(na NetAddress, src int32, now int64) knownAddress {
	return knownAddress{
		id:          na.ID,
		ip:          na.IP,
		port:        na.Port,
		src:         src,
		lastAttempt: now,
		typ:         bucketTypeNew,
	}
}

// markAttempt and markGood are upstream's: an attempt stamps LastAttempt and
// counts; a success stamps both times and resets the count.
func (ka *knownAddress) markAttempt(now int64) {
	ka.lastAttempt = now
	ka.attempts++
}

func (ka *knownAddress) markGood(now int64) {
	ka.lastAttempt = now
	ka.lastSuccess = now
	ka.attempts = 0
}

// refIndex returns the position of bucket idx among ka's references, or -1.
func (ka *knownAddress) refIndex(idx int) int {
	for i := 0; i < int(ka.nb); i++ {
		if int(ka.bk[i]) == idx {
			return i
		}
	}
	return -1
}

// addRef records that ka sits at slot s of bucket idx. It returns the new
// number of references, or -1 when idx is already referenced.
func (ka *knownAddress) addRef(idx int, s int) int {
	if ka.refIndex(idx) >= 0 || int(ka.nb) == len(ka.bk) {
		return -1
	}
	ka.bk[ka.nb] = uint16(idx)
	ka.slot[ka.nb] = uint8(s)
	ka.nb++
	return int(ka.nb)
}

// removeRef forgets bucket idx and returns the remaining number of
// references, or -1 when idx was not referenced. Order is kept so
// the persisted "buckets" list stays in insertion order, as upstream's.
func (ka *knownAddress) removeRef(idx int) int {
	i := ka.refIndex(idx)
	if i < 0 {
		return -1
	}
	copy(ka.bk[i:ka.nb], ka.bk[i+1:ka.nb])
	copy(ka.slot[i:ka.nb], ka.slot[i+1:ka.nb])
	ka.nb--
	return int(ka.nb)
}

// isBad is upstream's expiry rule (not tried for a week, or failing with
// no recent success; never within a minute of an attempt); it only
// matters for new entries.
// The "claims to be from the future" rule stays unimplemented, as upstream.
func (ka *knownAddress) isBad(now int64) bool {
	if ka.typ == bucketTypeOld {
		return false
	}
	if ka.lastAttempt > now-int64(time.Minute) {
		return false
	}
	if ka.lastAttempt < now-int64(numMissingDays*24*time.Hour) {
		return true
	}
	if ka.lastSuccess == 0 && ka.attempts >= numRetries {
		return true
	}
	if ka.lastSuccess < now-int64(minBadDays*24*time.Hour) && ka.attempts >= maxFailures {
		return true
	}
	return false
}

// toNanos and fromNanos convert between time.Time and the stored form.
func toNanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}
