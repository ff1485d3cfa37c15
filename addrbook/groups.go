package addrbook

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

// appendGroup appends addr's network group as the book computes it.
func (b *Book) appendGroup(dst []byte, addr NetAddress) []byte {
	return appendGroupKey(dst, addr, b.strict)
}
