package addrbook

import "slices"

// Test-before-evict (Bitcoin Core's addrman, after Heilman et al. 2015):
// when promoting an address would push an old entry out of a full old
// bucket, the book first asks its user to test the old entry and keeps
// it if it answers. Without it an attacker who gets many of its own
// addresses marked good (it only needs us to connect to them) demotes
// our proven peers one by one; with it, only dead entries give way.
// Off by default (Options.TestBeforeEvict): upstream demotes at once.

// EvictionTester tests whether an old entry still answers. The book
// calls Test outside its lock; the tester connects to addr (briefly: the
// connection's only purpose is the answer) and calls done exactly once,
// from any goroutine, with whether addr answered as its ID. The pex
// reactor implements it.
type EvictionTester interface {
	Test(addr NetAddress, done func(alive bool))
}

// maxPendingTests bounds the promotions waiting for a test, as Bitcoin
// Core bounds its collision set (ADDRMAN_SET_TRIED_COLLISION_SIZE = 10):
// a burst of promotions into full buckets cannot make us dial more than
// this many old entries at a time. A promotion beyond it waits for the
// next MarkGood of that ID.
const maxPendingTests = 10

// evictTest is one promotion waiting for its old entry's test.
type evictTest struct {
	candidate, incumbent string // IDs
}

// SetEvictionTester sets who tests old entries before they are evicted.
// With Options.TestBeforeEvict off, or without a tester, a full old
// bucket demotes its entry tried longest ago at once, as upstream.
func (b *Book) SetEvictionTester(t EvictionTester) {
	b.mu.Lock()
	b.tester = t
	b.mu.Unlock()
}

// PendingEvictionTests returns how many promotions wait for a test.
func (b *Book) PendingEvictionTests() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.pending)
}

// testFirst is moveToOld's hook; b.mu held. It reports true when the
// promotion of entry i into the full old bucket oldIdx is deferred: the
// entry stays new and the old entry the bucket would lose is queued for
// a test (fired by runTests once the lock is released).
func (b *Book) testFirst(i int32, oldIdx int) bool {
	if !b.testBeforeEvict || b.tester == nil {
		return false
	}
	cand := b.entries[i].id
	if _, waiting := b.pending[cand]; waiting {
		return true
	}
	if len(b.pending) >= maxPendingTests {
		return true
	}
	inc := b.entries[b.pickOldest(bucketTypeOld, oldIdx)]
	b.pending[cand] = evictTest{candidate: cand, incumbent: inc.id}
	b.toTest = append(b.toTest, inc.addr())
	return true
}

// takeTests returns the tests queued under the lock; b.mu held.
func (b *Book) takeTests() []NetAddress {
	t := b.toTest
	b.toTest = nil
	return t
}

// runTests starts the queued tests; b.mu not held.
func (b *Book) runTests(tester EvictionTester, addrs []NetAddress) {
	for _, a := range addrs {
		id := a.ID
		tester.Test(a, func(alive bool) { b.resolveTests(id, alive) })
	}
}

// resolveTests applies the result of testing the old entry incumbent to
// every promotion waiting on it: alive, the entry counts as just seen
// and the candidates stay new; dead, the candidates are promoted (and
// the incumbent demoted) as without the option. A candidate or incumbent
// that left the book meanwhile simply drops its test.
func (b *Book) resolveTests(incumbent string, alive bool) {
	b.mu.Lock()
	var cands []string
	for c, t := range b.pending {
		if t.incumbent == incumbent {
			cands = append(cands, c)
		}
	}
	slices.Sort(cands)
	now := b.nowNanos()
	if j, ok := b.lookup[incumbent]; ok && alive {
		b.entries[j].markGood(now)
	}
	for _, c := range cands {
		delete(b.pending, c)
		if alive {
			continue
		}
		if i, ok := b.lookup[c]; ok && b.entries[i].isNew() {
			b.promote(i)
		}
	}
	tester, again := b.tester, b.takeTests()
	b.mu.Unlock()
	if tester != nil {
		b.runTests(tester, again)
	}
}
