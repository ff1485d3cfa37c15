package addrbook

import (
	"math/rand/v2"
	"testing"

	"github.com/cometbft/cometbft/p2p"
)

// Parity with upstream, differentially. The same random sequence
// of adds, re-adds from other sources, attempts, promotions and removals
// runs on this book and on upstream's pex.NewAddrBook; as long as no bucket
// overflows (where upstream's bugs live: see fixes_test.go) both must hold
// the same IDs, with the same old/new status, and give selections of the
// same sizes and old/new split.
func TestParityWithUpstream(t *testing.T) {
	for _, strict := range []bool{false, true} {
		up := newUpstreamBook(t, strict)
		b, _ := newTestBook(t, Options{Strict: strict})
		r := rand.New(rand.NewPCG(3, 4))
		const n = 150
		addr := func(i int) NetAddress { return routableAddr(i) }
		src := func(j int) NetAddress { return addrAt(20000+j, 203, byte(j), 0, 1) }
		upID := func(i int) *p2p.NetAddress { return upAddr(addr(i)) }
		for step := 0; step < 3000; step++ {
			i := r.IntN(n)
			switch r.IntN(10) {
			case 0, 1, 2, 3:
				a, s := addr(i), src(r.IntN(40))
				upErr := up.AddAddress(upAddr(a), upAddr(s))
				ourErr := b.AddAddress(a, s)
				if (upErr == nil) != (ourErr == nil) {
					t.Fatalf("add %s: upstream %v, ours %v", a, upErr, ourErr)
				}
			case 4:
				// A refused address: both must refuse it.
				bad := addrAt(i, 10, 0, 0, byte(i))
				if !strict {
					bad = addrAt(i, 0, 0, 0, 0)
				}
				if up.AddAddress(upAddr(bad), upAddr(src(0))) == nil || b.AddAddress(bad, src(0)) == nil {
					t.Fatalf("%s accepted", bad)
				}
			case 5, 6:
				up.MarkGood(upID(i).ID)
				b.MarkGood(addr(i).ID)
			case 7, 8:
				up.MarkAttempt(upID(i))
				b.MarkAttempt(addr(i).ID)
			case 9:
				up.RemoveAddress(upID(i))
				b.RemoveAddress(addr(i).ID)
			}
		}
		mustInvariants(t, b)
		if up.Size() != b.Size() {
			t.Fatalf("strict=%v: size upstream %d, ours %d", strict, up.Size(), b.Size())
		}
		for i := 0; i < n; i++ {
			u := upID(i)
			if up.HasAddress(u) != b.HasAddress(addr(i).ID) {
				t.Fatalf("%d: has upstream %v", i, up.HasAddress(u))
			}
			if up.HasAddress(u) && up.IsGood(u) != b.IsGood(addr(i).ID) {
				t.Fatalf("%d: good upstream %v", i, up.IsGood(u))
			}
		}
		if len(up.GetSelection()) != len(b.GetSelection()) {
			t.Fatal("selection sizes differ")
		}
		us, os := up.GetSelectionWithBias(30), b.GetSelectionWithBias(30)
		if len(us) != len(os) {
			t.Fatal("biased selection sizes differ")
		}
		uOld, oOld := 0, 0
		for k := range us {
			if up.IsGood(us[k]) {
				uOld++
			}
			if b.IsGood(os[k].ID) {
				oOld++
			}
		}
		if uOld != oOld {
			t.Fatalf("biased selection: upstream %d old, ours %d", uOld, oOld)
		}
	}
}
