package addrbook

import (
	"math"
	"testing"
)

// GetSelection's size for books of every size class, on real books.
func TestGetSelectionSizeTable(t *testing.T) {
	b, _ := newTestBook(t, Options{})
	want := map[int]int{1: 1, 10: 10, 32: 32, 100: 32, 139: 32, 140: 32, 200: 46, 1000: 230, 1086: 249, 1087: 250, 2000: 250}
	for n := 0; n < 2000; n++ {
		mustAddQuiet(t, b, routableAddr(n), routableAddr(100000+n%50))
		if w, ok := want[n+1]; ok {
			if b.Size() != n+1 {
				t.Fatalf("size %d, want %d", b.Size(), n+1)
			}
			if got := len(b.GetSelection()); got != w {
				t.Errorf("book %d: selection %d, want %d", n+1, got, w)
			}
			if got := len(b.GetSelectionWithBias(30)); got != w {
				t.Errorf("book %d: biased selection %d, want %d", n+1, got, w)
			}
		}
	}
	mustInvariants(t, b)
}

func mustAddQuiet(t *testing.T, b *Book, a, src NetAddress) {
	t.Helper()
	if err := b.AddAddress(a, src); err != nil {
		t.Fatal(err)
	}
}

// GetSelection is uniform over IDs, however many buckets an ID is in.
func TestGetSelectionUniform(t *testing.T) {
	b, _ := newTestBook(t, Options{})
	for n := 0; n < 200; n++ {
		mustAddQuiet(t, b, routableAddr(n), routableAddr(100000))
	}
	// Put ID 0 in more buckets: announce it from many sources.
	for s := 0; s < 200; s++ {
		mustAddQuiet(t, b, routableAddr(0), routableAddr(200000+s))
	}
	if b.entries[b.lookup[routableAddr(0).ID]].nb < 2 {
		t.Fatal("setup: ID 0 should be in several buckets")
	}
	counts := map[string]int{}
	const rounds = 2000
	for r := 0; r < rounds; r++ {
		for _, a := range b.GetSelection() {
			counts[a.ID]++
		}
	}
	// 46 of 200 per round: expectation 460 each; allow a generous 5 sigma.
	exp := float64(rounds) * 46 / 200
	sd := math.Sqrt(exp * (1 - 46.0/200))
	for id, c := range counts {
		if math.Abs(float64(c)-exp) > 5*sd {
			t.Errorf("%s chosen %d times, expected about %.0f", id, c, exp)
		}
	}
	if len(counts) != 200 {
		t.Fatalf("only %d IDs ever selected", len(counts))
	}
}

// The sqrt weighting between classes: with 100 old and 400 new and bias
// 50, P(new) = sqrt(400)*50 / (sqrt(400)*50 + sqrt(100)*50) = 2/3.
func TestPickAddressSqrtWeighting(t *testing.T) {
	b := bookWith(t, 11, 100, 400)
	const rounds = 30000
	nNew := 0
	for r := 0; r < rounds; r++ {
		a, ok := b.PickAddress(50)
		if !ok {
			t.Fatal("nothing picked")
		}
		if !b.IsGood(a.ID) {
			nNew++
		}
	}
	p := float64(nNew) / rounds
	if math.Abs(p-2.0/3) > 0.02 {
		t.Fatalf("P(new) = %.3f, want 0.667", p)
	}
}

// A known new ID is added to a further bucket with probability 1/(2n)
// (0.49 for the 2nd bucket, measured on upstream), never more than 4, and
// its first-learned address is kept.
func TestAddAgainProbability(t *testing.T) {
	b, _ := newTestBook(t, Options{})
	const trials = 2000
	second := 0
	for i := 0; i < trials; i++ {
		a := routableAddr(i)
		mustAddQuiet(t, b, a, routableAddr(100000))
		// A different source group: a different bucket is (almost surely) computed.
		moved := a
		moved.IP = addrAt(0, 99, byte(i%250), 1, 1).IP
		mustAddQuiet(t, b, moved, routableAddr(200000+i%1000))
		ka := &b.entries[b.lookup[a.ID]]
		if ka.nb == 2 {
			second++
		}
		if ka.ip != a.IP {
			t.Fatalf("stored IP changed to %s", ka.ip)
		}
	}
	p := float64(second) / trials
	if math.Abs(p-0.5) > 0.04 {
		t.Fatalf("P(2nd bucket) = %.3f, want about 0.5", p)
	}
	mustInvariants(t, b)
	// Many more announcements never exceed 4 buckets.
	a := routableAddr(0)
	for s := 0; s < 500; s++ {
		mustAddQuiet(t, b, a, routableAddr(300000+s))
	}
	if nb := b.entries[b.lookup[a.ID]].nb; nb != maxNewBucketsPerAddress {
		t.Fatalf("in %d buckets, want %d", nb, maxNewBucketsPerAddress)
	}
	mustInvariants(t, b)
}

// MarkAttempt counts attempts by ID; unknown IDs are ignored.
func TestMarkAttempt(t *testing.T) {
	b, _ := newTestBook(t, Options{})
	a := routableAddr(1)
	mustAdd(t, b, a, a)
	b.MarkAttempt(a.ID)
	b.MarkAttempt(a.ID)
	b.MarkAttempt(routableAddr(2).ID)
	if got := b.entries[b.lookup[a.ID]].attempts; got != 2 {
		t.Fatalf("attempts %d", got)
	}
	b.MarkGood(a.ID)
	if got := b.entries[b.lookup[a.ID]].attempts; got != 0 {
		t.Fatalf("attempts after MarkGood %d", got)
	}
}
