package clock

import (
	"container/heap"
	"sync"
	"time"
)

// DefaultEpoch is where a Simulated clock made by NewSimulated with a zero
// start begins. A fixed, non-zero instant keeps logs and time arithmetic
// reproducible and avoids the special meaning code gives to time.Time{}.
var DefaultEpoch = time.Date(2026, time.January, 1, 0, 0, 0, 0, time.UTC)

// Simulated is a virtual clock. Time stands still until Run or Step moves
// it; timers then fire in order of deadline (ties in order of creation).
// AfterFunc callbacks run synchronously on the goroutine that called
// Run/Step, with no lock held, so they may schedule further timers (those
// due within the same Run fire in the same call). Channel timers and
// tickers send without blocking on a buffered channel.
//
// Run must not be called from inside a callback. All methods are safe for
// concurrent use, but determinism holds only when every callback that
// schedules work does so on the goroutine running the clock.
type Simulated struct {
	mu    sync.Mutex
	cond  *sync.Cond
	now   time.Time
	seq   uint64
	queue eventQueue
}

// NewSimulated returns a virtual clock reading start (DefaultEpoch when
// start is zero).
func NewSimulated(start time.Time) *Simulated {
	if start.IsZero() {
		start = DefaultEpoch
	}
	s := &Simulated{now: start}
	s.cond = sync.NewCond(&s.mu)
	return s
}

type event struct {
	at    time.Time
	seq   uint64
	fn    func()
	index int // position in the heap; -1 once fired or stopped
}

type eventQueue []*event

func (q eventQueue) Len() int { return len(q) }
func (q eventQueue) Less(i, j int) bool {
	if !q[i].at.Equal(q[j].at) {
		return q[i].at.Before(q[j].at)
	}
	return q[i].seq < q[j].seq
}
func (q eventQueue) Swap(i, j int) {
	q[i], q[j] = q[j], q[i]
	q[i].index = i
	q[j].index = j
}
func (q *eventQueue) Push(x any) {
	e := x.(*event)
	e.index = len(*q)
	*q = append(*q, e)
}
func (q *eventQueue) Pop() any {
	old := *q
	n := len(old)
	e := old[n-1]
	old[n-1] = nil
	e.index = -1
	*q = old[:n-1]
	return e
}

// Now returns the virtual time.
func (s *Simulated) Now() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.now
}

// Since returns the virtual time elapsed since t.
func (s *Simulated) Since(t time.Time) time.Duration { return s.Now().Sub(t) }

// schedule adds fn at now+d; callers hold s.mu.
func (s *Simulated) scheduleLocked(d time.Duration, fn func()) *event {
	if d < 0 {
		d = 0
	}
	s.seq++
	e := &event{at: s.now.Add(d), seq: s.seq, fn: fn}
	heap.Push(&s.queue, e)
	s.cond.Broadcast()
	return e
}

func (s *Simulated) stopLocked(e *event) bool {
	if e.index < 0 {
		return false
	}
	heap.Remove(&s.queue, e.index)
	s.cond.Broadcast()
	return true
}

// AfterFunc schedules f to run on the goroutine that advances the clock.
func (s *Simulated) AfterFunc(d time.Duration, f func()) Timer {
	s.mu.Lock()
	defer s.mu.Unlock()
	return &simFuncTimer{s: s, e: s.scheduleLocked(d, f)}
}

type simFuncTimer struct {
	s *Simulated
	e *event
}

func (t *simFuncTimer) Stop() bool {
	t.s.mu.Lock()
	defer t.s.mu.Unlock()
	return t.s.stopLocked(t.e)
}

// NewTimer returns a one-shot channel timer on virtual time.
func (s *Simulated) NewTimer(d time.Duration) ChanTimer {
	t := &simChanTimer{s: s, ch: make(chan time.Time, 1)}
	s.mu.Lock()
	defer s.mu.Unlock()
	t.e = s.scheduleLocked(d, t.fire)
	return t
}

// After is NewTimer(d).C().
func (s *Simulated) After(d time.Duration) <-chan time.Time { return s.NewTimer(d).C() }

type simChanTimer struct {
	s  *Simulated
	ch chan time.Time
	e  *event
}

func (t *simChanTimer) fire() {
	select {
	case t.ch <- t.s.Now():
	default:
	}
}

func (t *simChanTimer) C() <-chan time.Time { return t.ch }

func (t *simChanTimer) Stop() bool {
	t.s.mu.Lock()
	defer t.s.mu.Unlock()
	return t.s.stopLocked(t.e)
}

func (t *simChanTimer) Reset(d time.Duration) {
	t.s.mu.Lock()
	defer t.s.mu.Unlock()
	t.s.stopLocked(t.e)
	t.e = t.s.scheduleLocked(d, t.fire)
}

// NewTicker returns a ticker on virtual time. It panics when d <= 0, as
// time.NewTicker does: that is a programming error, not bad input.
func (s *Simulated) NewTicker(d time.Duration) Ticker {
	if d <= 0 {
		panic("clock: non-positive interval for NewTicker")
	}
	t := &simTicker{s: s, d: d, ch: make(chan time.Time, 1)}
	s.mu.Lock()
	defer s.mu.Unlock()
	t.e = s.scheduleLocked(d, t.fire)
	return t
}

type simTicker struct {
	s       *Simulated
	d       time.Duration
	ch      chan time.Time
	mu      sync.Mutex
	e       *event
	stopped bool
}

func (t *simTicker) fire() {
	select {
	case t.ch <- t.s.Now():
	default:
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stopped {
		return
	}
	t.s.mu.Lock()
	t.e = t.s.scheduleLocked(t.d, t.fire)
	t.s.mu.Unlock()
}

func (t *simTicker) C() <-chan time.Time { return t.ch }

func (t *simTicker) Stop() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.stopped = true
	t.s.mu.Lock()
	t.s.stopLocked(t.e)
	t.s.mu.Unlock()
}

// Run advances the clock by d, firing every timer due up to and including
// the new time, in deadline order. Timers that callbacks schedule within
// the interval fire too.
func (s *Simulated) Run(d time.Duration) {
	s.mu.Lock()
	end := s.now.Add(d)
	s.mu.Unlock()
	s.RunUntil(end)
}

// RunUntil advances the clock to t (no-op if t is not after Now), firing
// due timers in order.
func (s *Simulated) RunUntil(t time.Time) {
	for {
		s.mu.Lock()
		if len(s.queue) == 0 || s.queue[0].at.After(t) {
			if t.After(s.now) {
				s.now = t
			}
			s.mu.Unlock()
			return
		}
		e := heap.Pop(&s.queue).(*event)
		if e.at.After(s.now) {
			s.now = e.at
		}
		s.mu.Unlock()
		e.fn()
	}
}

// Step fires the earliest pending timer, moving time to its deadline. It
// reports false when no timer is pending.
func (s *Simulated) Step() bool {
	s.mu.Lock()
	if len(s.queue) == 0 {
		s.mu.Unlock()
		return false
	}
	e := heap.Pop(&s.queue).(*event)
	if e.at.After(s.now) {
		s.now = e.at
	}
	s.mu.Unlock()
	e.fn()
	return true
}

// RunPending fires every timer due now (zero-delay work included) without
// moving time.
func (s *Simulated) RunPending() { s.Run(0) }

// Pending returns the number of scheduled timers.
func (s *Simulated) Pending() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.queue)
}

// Next returns the deadline of the earliest pending timer.
func (s *Simulated) Next() (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.queue) == 0 {
		return time.Time{}, false
	}
	return s.queue[0].at, true
}

// WaitForTimers blocks until at least n timers are pending. It lets a test
// synchronise with a goroutine that is about to wait on the clock before
// advancing time.
func (s *Simulated) WaitForTimers(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.queue) < n {
		s.cond.Wait()
	}
}
