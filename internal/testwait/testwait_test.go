package testwait

import (
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestUntilReturnsOnceTheConditionHolds(t *testing.T) {
	var n atomic.Int32
	go func() {
		for range 3 {
			n.Add(1)
		}
	}()
	if !Until(10*time.Second, func() bool { return n.Load() == 3 }) {
		t.Fatal("condition that became true was reported false")
	}
}

func TestUntilReportsAConditionThatNeverHolds(t *testing.T) {
	start := time.Now()
	if Until(50*time.Millisecond, func() bool { return false }) {
		t.Fatal("condition that never held was reported true")
	}
	if time.Since(start) < 50*time.Millisecond {
		t.Fatal("gave up before the deadline")
	}
}

func TestUntilWakesOnTheChannel(t *testing.T) {
	wake := make(chan struct{})
	var flag atomic.Bool
	go func() {
		flag.Store(true)
		close(wake)
	}()
	if !Until(10*time.Second, flag.Load, wake) {
		t.Fatal("condition set before the wake-up was reported false")
	}
}
