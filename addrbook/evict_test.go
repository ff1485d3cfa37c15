package addrbook

import (
	"sync"
	"testing"
)

// recordingTester answers tests with alive, at once or (hold) later.
type recordingTester struct {
	mu     sync.Mutex
	alive  bool
	hold   bool
	tested []NetAddress
	held   []func(bool)
}

func (r *recordingTester) Test(a NetAddress, done func(bool)) {
	r.mu.Lock()
	r.tested = append(r.tested, a)
	if r.hold {
		r.held = append(r.held, done)
		r.mu.Unlock()
		return
	}
	alive := r.alive
	r.mu.Unlock()
	done(alive) // synchronously: the book must not hold its lock here
}

// oneGroupAddr is address n of the single /16 20.30.0.0: one group
// reaches at most 4 old buckets, so 256 promotions fill them.
func oneGroupAddr(n int) NetAddress { return addrAt(n, 20, 30, byte(n/250), byte(1+n%250)) }

// promoteOneGroup adds and marks good n addresses of one group and
// returns the IDs whose promotion collided with a full old bucket (they
// are still new, or something old was demoted for them).
func promoteOneGroup(t *testing.T, b *Book, n int) (stayedNew []string, demoted int) {
	t.Helper()
	for i := 0; i < n; i++ {
		a := oneGroupAddr(i)
		mustAdd(t, b, a, routableAddr(1000+i))
		before := b.Counts()
		b.MarkGood(a.ID)
		mustInvariants(t, b)
		after := b.Counts()
		if !b.IsGood(a.ID) {
			stayedNew = append(stayedNew, a.ID)
		} else if after.Old == before.Old {
			demoted++
		}
	}
	return stayedNew, demoted
}

func TestFullOldBucketDemotesAtOnceWithoutTestBeforeEvict(t *testing.T) {
	b, _ := newTestBook(t, Options{Strict: true})
	tester := &recordingTester{alive: true}
	b.SetEvictionTester(tester) // ignored: the option is off
	stayed, demoted := promoteOneGroup(t, b, 400)
	if len(stayed) != 0 || demoted == 0 {
		t.Fatalf("%d promotions deferred, %d demotions; want none deferred and some demoted", len(stayed), demoted)
	}
	if len(tester.tested) != 0 {
		t.Fatalf("option off, yet %d tests asked for", len(tester.tested))
	}
}

func TestTestBeforeEvictKeepsAnOldEntryThatAnswers(t *testing.T) {
	tester := &recordingTester{alive: true}
	b := testBeforeEvictBook(t, tester)
	stayed, demoted := promoteOneGroup(t, b, 400)
	if demoted != 0 {
		t.Fatalf("%d old entries demoted although every test answered", demoted)
	}
	if len(stayed) == 0 || len(tester.tested) != len(stayed) {
		t.Fatalf("%d promotions deferred, %d tests; want some, one each", len(stayed), len(tester.tested))
	}
	for _, a := range tester.tested {
		if !b.IsGood(a.ID) {
			t.Fatalf("tested entry %s answered but is no longer old", a)
		}
	}
	if n := b.PendingEvictionTests(); n != 0 {
		t.Fatalf("%d tests still pending after every answer", n)
	}
}

func TestTestBeforeEvictPromotesWhenTheOldEntryIsDead(t *testing.T) {
	tester := &recordingTester{alive: false}
	b := testBeforeEvictBook(t, tester)
	stayed, _ := promoteOneGroup(t, b, 400)
	if len(stayed) != 0 {
		t.Fatalf("%d candidates stayed new although their old entry was dead", len(stayed))
	}
	if len(tester.tested) == 0 {
		t.Fatal("no test asked for although old buckets filled")
	}
	for _, a := range tester.tested {
		if b.IsGood(a.ID) {
			t.Fatalf("dead entry %s still old", a)
		}
	}
}

func TestTestBeforeEvictBoundsPendingTests(t *testing.T) {
	tester := &recordingTester{hold: true}
	b := testBeforeEvictBook(t, tester)
	stayed, _ := promoteOneGroup(t, b, 400)
	if got := b.PendingEvictionTests(); got != maxPendingTests || len(tester.held) != maxPendingTests {
		t.Fatalf("%d pending, %d tests running; want %d each", got, len(tester.held), maxPendingTests)
	}
	if len(stayed) <= maxPendingTests {
		t.Fatalf("only %d promotions collided; the scenario should overflow the pending set", len(stayed))
	}
	for _, done := range tester.held {
		done(false)
		mustInvariants(t, b)
	}
	if got := b.PendingEvictionTests(); got != 0 {
		t.Fatalf("%d pending after every answer", got)
	}
}

// testBeforeEvictBook is a strict book that tests old entries with tester
// before a promotion evicts them.
func testBeforeEvictBook(t *testing.T, tester EvictionTester) *Book {
	t.Helper()
	b, _ := newTestBook(t, Options{Strict: true, TestBeforeEvict: true})
	b.SetEvictionTester(tester)
	return b
}
