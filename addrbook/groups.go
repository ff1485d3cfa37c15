package addrbook

import "strconv"

// OldInGroup reports whether an old entry shares addr's network group.
// Feelers use it to spend their connections on groups the old buckets
// do not cover yet: an attacker's group gets in once, not once per
// address it floods. It scans the old entries (at most 64·64), which is
// cheap at a feeler's pace.
func (b *Book) OldInGroup(addr NetAddress) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	var want, got [64]byte
	w := b.appendGroup(want[:0], addr)
	for i := range b.entries {
		ka := &b.entries[i]
		if ka.isOld() && string(b.appendGroup(got[:0], ka.addr())) == string(w) {
			return true
		}
	}
	return false
}

// Group returns addr's network group as this book computes it: its AS
// ("AS64512") when the book has an AS map covering it, else GroupKey's
// /16-style group. Outbound diversity counts peers by it.
func (b *Book) Group(addr NetAddress) string {
	var buf [64]byte
	return string(b.appendGroup(buf[:0], addr))
}

// appendGroup appends addr's network group as the book computes it.
// Without an AS map it is exactly upstream's group, so placement (and
// the file) stay upstream's. Local and unroutable addresses keep their
// strict-mode groups: no AS announces them.
func (b *Book) appendGroup(dst []byte, addr NetAddress) []byte {
	if b.asmap != nil && (!b.strict || addr.Routable()) {
		if asn, ok := b.asmap.Lookup(addr.IP); ok {
			dst = append(dst, "AS"...)
			return strconv.AppendUint(dst, uint64(asn), 10)
		}
	}
	return appendGroupKey(dst, addr, b.strict)
}
