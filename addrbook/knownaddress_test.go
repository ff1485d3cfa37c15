package addrbook

import (
	"testing"
	"time"
)

// A new entry is new, has no attempts, and LastAttempt = now.
func TestNewKnownAddress(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	ka := newKnownAddress(routableAddr(1), 3, now)
	if !ka.isNew() || ka.isOld() || ka.attempts != 0 || ka.lastAttempt != now || ka.nb != 0 || ka.lastSuccess != 0 {
		t.Fatalf("%+v", ka)
	}
	if ka.addr() != routableAddr(1) {
		t.Fatalf("addr %v", ka.addr())
	}
}

// markAttempt counts; markGood resets the count and stamps success.
func TestMarkAttemptAndGood(t *testing.T) {
	ka := newKnownAddress(routableAddr(1), 0, 1)
	ka.markAttempt(10)
	ka.markAttempt(20)
	if ka.attempts != 2 || ka.lastAttempt != 20 {
		t.Fatalf("%+v", ka)
	}
	ka.markGood(30)
	if ka.attempts != 0 || ka.lastAttempt != 30 || ka.lastSuccess != 30 {
		t.Fatalf("%+v", ka)
	}
}

// Bucket references are a set with -1 for no-ops.
func TestBucketRefs(t *testing.T) {
	var ka knownAddress
	if ka.addRef(5, 0) != 1 || ka.addRef(7, 3) != 2 || ka.addRef(5, 9) != -1 {
		t.Fatal("addRef")
	}
	if ka.removeRef(9) != -1 || ka.removeRef(5) != 1 || ka.bk[0] != 7 || ka.slot[0] != 3 {
		t.Fatalf("removeRef: %+v", ka)
	}
	for i := 0; i < 3; i++ {
		ka.addRef(100+i, i)
	}
	if ka.addRef(200, 0) != -1 {
		t.Fatal("a fifth reference was accepted")
	}
}

// isBad, rule by rule.
func TestIsBad(t *testing.T) {
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	day := int64(24 * time.Hour)
	for _, tc := range []struct {
		name string
		ka   knownAddress
		bad  bool
	}{
		{"old is never bad", knownAddress{typ: bucketTypeOld, lastAttempt: now - 30*day, attempts: 50}, false},
		{"tried within a minute", knownAddress{typ: bucketTypeNew, lastAttempt: now - int64(30*time.Second), attempts: 50}, false},
		{"not tried for 8 days", knownAddress{typ: bucketTypeNew, lastAttempt: now - 8*day}, true},
		{"3 failures, never succeeded", knownAddress{typ: bucketTypeNew, lastAttempt: now - day, attempts: 3}, true},
		{"2 failures, never succeeded", knownAddress{typ: bucketTypeNew, lastAttempt: now - day, attempts: 2}, false},
		{"10 failures, success 8 days ago", knownAddress{typ: bucketTypeNew, lastAttempt: now - day, lastSuccess: now - 8*day, attempts: 10}, true},
		{"10 failures, success yesterday", knownAddress{typ: bucketTypeNew, lastAttempt: now - day, lastSuccess: now - day, attempts: 10}, false},
		{"9 failures, success 8 days ago", knownAddress{typ: bucketTypeNew, lastAttempt: now - day, lastSuccess: now - 8*day, attempts: 9}, false},
	} {
		if got := tc.ka.isBad(now); got != tc.bad {
			t.Errorf("%s: isBad=%v", tc.name, got)
		}
	}
}
