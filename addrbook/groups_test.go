package addrbook

import "testing"

func TestOldInGroupSeesOnlyOldEntriesOfTheSameGroup(t *testing.T) {
	b, _ := newTestBook(t, Options{Strict: true})
	a := addrAt(1, 20, 30, 1, 1)
	sameGroup := addrAt(2, 20, 30, 9, 9)
	other := addrAt(3, 40, 50, 1, 1)
	mustAdd(t, b, a, routableAddr(100))
	if b.OldInGroup(sameGroup) {
		t.Fatal("a new entry counted as old coverage of its group")
	}
	b.MarkGood(a.ID)
	mustInvariants(t, b)
	if !b.OldInGroup(sameGroup) {
		t.Fatal("old entry 20.30.1.1 does not cover 20.30.9.9")
	}
	if b.OldInGroup(other) {
		t.Fatal("old entry in 20.30/16 covers 40.50/16")
	}
}
