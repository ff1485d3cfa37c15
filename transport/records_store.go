package transport

import (
	"container/list"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/pexp2p/pexp2p/addrbook"
)

// DefaultMaxPeerRecords bounds the verified records a node keeps to
// relay: about 0.5 KB each, a couple of MB for a book's worth of peers.
const DefaultMaxPeerRecords = 4096

// storedRecord is one verified envelope and what it says.
type storedRecord struct {
	id    peer.ID
	seq   uint64
	raw   []byte
	addrs []addrbook.NetAddress
}

// recordStore keeps the newest verified record of each peer, evicting
// the least recently updated when full. A peer's record can only be
// replaced by one with a higher sequence number, so a relayer cannot
// roll a peer back to addresses it has left.
type recordStore struct {
	mu    sync.Mutex
	max   int
	byID  map[peer.ID]*list.Element
	order *list.List // of *storedRecord, least recently updated first
}

func newRecordStore(max int) *recordStore {
	return &recordStore{max: max, byID: map[peer.ID]*list.Element{}, order: list.New()}
}

// put stores r unless an equal or newer record of its peer is held; it
// reports whether r was stored.
func (s *recordStore) put(r *storedRecord) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.byID[r.id]; ok {
		if e.Value.(*storedRecord).seq >= r.seq {
			return false
		}
		e.Value = r
		s.order.MoveToBack(e)
		return true
	}
	for s.order.Len() >= s.max {
		oldest := s.order.Front()
		delete(s.byID, oldest.Value.(*storedRecord).id)
		s.order.Remove(oldest)
	}
	s.byID[r.id] = s.order.PushBack(r)
	return true
}

func (s *recordStore) get(id peer.ID) *storedRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.byID[id]; ok {
		return e.Value.(*storedRecord)
	}
	return nil
}

func (s *recordStore) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.order.Len()
}

// requestBucket is one peer's allowance of record requests: a token
// bucket of burst tokens refilled one per interval.
type requestBucket struct {
	tokens float64
	last   time.Time
}

// requestLimiter bounds how often each peer may ask us for records.
// Entries of peers whose bucket has refilled are dropped on the way, so
// the table holds only peers that asked recently.
type requestLimiter struct {
	mu       sync.Mutex
	interval time.Duration
	burst    int
	buckets  map[peer.ID]*requestBucket
}

func newRequestLimiter(interval time.Duration, burst int) *requestLimiter {
	return &requestLimiter{interval: interval, burst: burst, buckets: map[peer.ID]*requestBucket{}}
}

func (l *requestLimiter) refill(b *requestBucket, now time.Time) {
	if now.After(b.last) {
		b.tokens += float64(now.Sub(b.last)) / float64(l.interval)
		b.last = now
	}
	if b.tokens > float64(l.burst) {
		b.tokens = float64(l.burst)
	}
}

// allow takes one token of p's bucket at now, reporting whether there
// was one.
func (l *requestLimiter) allow(p peer.ID, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for id, b := range l.buckets {
		if id == p {
			continue
		}
		if l.refill(b, now); b.tokens >= float64(l.burst) {
			delete(l.buckets, id)
		}
	}
	b := l.buckets[p]
	if b == nil {
		b = &requestBucket{tokens: float64(l.burst), last: now}
		l.buckets[p] = b
	}
	l.refill(b, now)
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

func (l *requestLimiter) tracked() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}
