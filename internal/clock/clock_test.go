package clock

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

func TestSimulatedFiresInDeadlineOrder(t *testing.T) {
	s := NewSimulated(time.Time{})
	start := s.Now()
	if !start.Equal(DefaultEpoch) {
		t.Fatalf("start = %v, want DefaultEpoch", start)
	}
	var got []string
	s.AfterFunc(3*time.Second, func() { got = append(got, "c") })
	s.AfterFunc(time.Second, func() { got = append(got, "a") })
	s.AfterFunc(time.Second, func() { got = append(got, "b") }) // tie: creation order
	stopped := s.AfterFunc(2*time.Second, func() { got = append(got, "never") })
	if !stopped.Stop() {
		t.Fatal("Stop of a pending timer returned false")
	}
	if stopped.Stop() {
		t.Fatal("second Stop returned true")
	}
	s.Run(2 * time.Second)
	if want := "ab"; join(got) != want {
		t.Fatalf("after 2s fired %q, want %q", join(got), want)
	}
	if d := s.Since(start); d != 2*time.Second {
		t.Fatalf("Since = %v, want 2s", d)
	}
	s.Run(time.Second)
	if want := "abc"; join(got) != want {
		t.Fatalf("after 3s fired %q, want %q", join(got), want)
	}
}

func join(s []string) string {
	out := ""
	for _, x := range s {
		out += x
	}
	return out
}

func TestSimulatedCallbackSchedulesWithinRun(t *testing.T) {
	s := NewSimulated(time.Time{})
	var times []time.Duration
	start := s.Now()
	var tick func()
	tick = func() {
		times = append(times, s.Since(start))
		if len(times) < 5 {
			s.AfterFunc(time.Second, tick)
		}
	}
	s.AfterFunc(0, tick)
	s.Run(10 * time.Second)
	if len(times) != 5 || times[4] != 4*time.Second {
		t.Fatalf("chained callbacks at %v, want 0..4s", times)
	}
	if s.Since(start) != 10*time.Second {
		t.Fatalf("clock at %v, want 10s", s.Since(start))
	}
}

func TestSimulatedTimerAndTicker(t *testing.T) {
	s := NewSimulated(time.Time{})
	tm := s.NewTimer(time.Second)
	tk := s.NewTicker(time.Second)
	s.Run(999 * time.Millisecond)
	select {
	case <-tm.C():
		t.Fatal("timer fired early")
	default:
	}
	s.Run(time.Millisecond)
	select {
	case <-tm.C():
	default:
		t.Fatal("timer did not fire at its deadline")
	}
	// The ticker drops ticks nobody takes: 5 more seconds leave one.
	s.Run(5 * time.Second)
	n := 0
	for len(tk.C()) > 0 {
		<-tk.C()
		n++
	}
	if n != 1 {
		t.Fatalf("buffered ticks = %d, want 1", n)
	}
	tk.Stop()
	if s.Pending() != 0 {
		t.Fatalf("pending after ticker stop = %d, want 0", s.Pending())
	}
	tm.Reset(time.Second)
	if !tm.Stop() {
		t.Fatal("Stop after Reset returned false")
	}
}

func TestSimulatedWaitForTimers(t *testing.T) {
	s := NewSimulated(time.Time{})
	var wg sync.WaitGroup
	wg.Add(1)
	fired := make(chan struct{})
	go func() {
		defer wg.Done()
		<-s.After(time.Minute)
		close(fired)
	}()
	s.WaitForTimers(1)
	s.Run(time.Minute)
	<-fired
	wg.Wait()
}

func TestStepAndNext(t *testing.T) {
	s := NewSimulated(time.Time{})
	if s.Step() {
		t.Fatal("Step on an empty clock returned true")
	}
	fired := false
	s.AfterFunc(time.Hour, func() { fired = true })
	at, ok := s.Next()
	if !ok || !at.Equal(DefaultEpoch.Add(time.Hour)) {
		t.Fatalf("Next = %v %v", at, ok)
	}
	if !s.Step() || !fired || !s.Now().Equal(at) {
		t.Fatal("Step did not fire the timer at its deadline")
	}
}

func TestSystemClock(t *testing.T) {
	c := System
	done := make(chan struct{})
	c.AfterFunc(time.Millisecond, func() { close(done) })
	<-done
	tm := c.NewTimer(time.Hour)
	if !tm.Stop() {
		t.Fatal("stopping a pending system timer returned false")
	}
	tk := c.NewTicker(time.Millisecond)
	<-tk.C()
	tk.Stop()
	if c.Since(c.Now().Add(-time.Second)) < time.Second {
		t.Fatal("Since is wrong")
	}
}

func TestSleepEndsWithTheContextOrAfterD(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Sleep(ctx, System, time.Hour); !errors.Is(err, context.Canceled) {
		t.Fatalf("Sleep with an ended context: %v, want context.Canceled", err)
	}
	if err := Sleep(ctx, System, 0); !errors.Is(err, context.Canceled) {
		t.Fatalf("Sleep(0) with an ended context: %v, want context.Canceled", err)
	}
	if err := Sleep(context.Background(), System, time.Millisecond); err != nil {
		t.Fatalf("Sleep(1ms): %v", err)
	}
}
