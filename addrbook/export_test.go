package addrbook

// Hooks for the external test package (package addrbook_test).

// CheckInvariants exposes the invariant checker to external tests.
func CheckInvariants(b *Book) error { return b.checkInvariants() }
