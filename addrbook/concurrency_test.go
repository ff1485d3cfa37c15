package addrbook

import (
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// The book is safe for concurrent use — every public method from
// several goroutines at once, with saves and a stop racing them (run under
// -race), and the invariants hold afterwards.
func TestConcurrentUse(t *testing.T) {
	path := filepath.Join(t.TempDir(), "addrbook.json")
	ticks := make(chan time.Time)
	b, clk := fileBook(t, path, Options{Tick: func(time.Duration) (<-chan time.Time, func()) { return ticks, func() {} }})
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 300; i++ {
				a := routableAddr(g*1000 + i%150)
				_ = b.AddAddress(a, routableAddr(50000+g))
				switch i % 10 {
				case 0:
					b.MarkGood(a.ID)
				case 1:
					b.MarkAttempt(a.ID)
				case 2:
					b.MarkBad(a, time.Minute)
				case 3:
					b.ReinstateBadPeers()
				case 4:
					b.PickAddress(i % 100)
				case 5:
					b.GetSelection()
				case 6:
					b.GetSelectionWithBias(30)
				case 7:
					_ = b.IsGood(a.ID) || b.IsBanned(a.ID) || b.HasAddress(a.ID) || b.NeedMoreAddrs()
				case 8:
					if err := b.Save(); err != nil {
						t.Error(err)
					}
				case 9:
					b.RemoveAddress(a.ID)
					clk.Advance(time.Second)
				}
			}
		}(g)
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < 5; i++ {
			ticks <- time.Time{}
		}
	}()
	wg.Wait()
	if err := b.Stop(); err != nil {
		t.Fatal(err)
	}
	mustInvariants(t, b)
	b2, _ := fileBook(t, path, Options{})
	startStop(t, b2)
	if b2.Size() != b.Size() {
		t.Fatalf("saved %d, held %d", b2.Size(), b.Size())
	}
}
