package e2e

import (
	"math/rand/v2"
	"testing"
	"time"
)

func testPort(l Netem) *port {
	return &port{link: l, rng: rand.New(rand.NewPCG(1, 2))}
}

func TestLinkDelaysEveryFrameByItsDelay(t *testing.T) {
	p := testPort(Netem{Delay: 20 * time.Millisecond})
	t0 := time.Unix(1000, 0)
	for i := 0; i < 10; i++ {
		now := t0.Add(time.Duration(i) * time.Millisecond)
		fr, ok := p.admit(make([]byte, 100), now)
		if !ok {
			t.Fatal("a lossless link lost a frame")
		}
		if d := fr.depart.Sub(now); d != 20*time.Millisecond {
			t.Fatalf("frame %d leaves after %v, want 20ms", i, d)
		}
	}
}

func TestJitterStaysWithinBoundsAndKeepsOrder(t *testing.T) {
	p := testPort(Netem{Delay: 20 * time.Millisecond, Jitter: 5 * time.Millisecond})
	t0 := time.Unix(1000, 0)
	var last time.Time
	spread := map[bool]bool{}
	for i := 0; i < 2000; i++ {
		// Frames 100 µs apart for the first half (order binds), 10 ms
		// apart for the second (every frame free to jitter).
		now := t0.Add(time.Duration(min(i, 1000)) * 100 * time.Microsecond)
		if i > 1000 {
			now = now.Add(time.Duration(i-1000) * 10 * time.Millisecond)
		}
		fr, _ := p.admit(make([]byte, 100), now)
		d := fr.depart.Sub(now)
		if fr.depart.Before(last) {
			t.Fatalf("frame %d leaves before frame %d", i, i-1)
		}
		last = fr.depart
		// In order means a frame may wait for the one before it, so the
		// upper bound stretches by the gap to it; the lower bound holds.
		if d < 15*time.Millisecond || d > 25*time.Millisecond+100*time.Microsecond {
			t.Fatalf("frame %d delayed %v, want 20ms ± 5ms", i, d)
		}
		if i > 1010 {
			spread[d < 20*time.Millisecond] = true
		}
	}
	if len(spread) != 2 {
		t.Error("jitter never went both ways")
	}
}

func TestLossDropsAboutItsShare(t *testing.T) {
	p := testPort(Netem{Loss: 10})
	lost := 0
	const n = 20000
	for i := 0; i < n; i++ {
		if _, ok := p.admit(make([]byte, 60), time.Unix(0, 0)); !ok {
			lost++
		}
	}
	// 10 % of 20000 is 2000 with a standard deviation of about 42.
	if lost < 1800 || lost > 2200 {
		t.Errorf("lost %d of %d at 10%%", lost, n)
	}
}

func TestRateSerialisesFramesOneAfterAnother(t *testing.T) {
	p := testPort(Netem{Rate: "1mbit"})
	now := time.Unix(1000, 0)
	// 1250 bytes at 1 Mbit/s take 10 ms each; three at once leave at
	// 10, 20 and 30 ms.
	for i := 1; i <= 3; i++ {
		fr, _ := p.admit(make([]byte, 1250), now)
		if d := fr.depart.Sub(now); d != time.Duration(i)*10*time.Millisecond {
			t.Fatalf("frame %d leaves after %v, want %v", i, d, time.Duration(i)*10*time.Millisecond)
		}
	}
}
