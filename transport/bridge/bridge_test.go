package bridge

import (
	"context"
	"errors"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/cometbft/cometbft/crypto/ed25519"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/pexp2p/pexp2p/addrbook"
	"github.com/pexp2p/pexp2p/internal/clock"
	"github.com/pexp2p/pexp2p/internal/testhost"
	"github.com/pexp2p/pexp2p/internal/testwait"
	"github.com/pexp2p/pexp2p/pex"
	"github.com/pexp2p/pexp2p/transport"
	"github.com/pexp2p/pexp2p/transport/classic"
)

func TestMain(m *testing.M) { testhost.VerifyTestMain(m) }

// Golden vector of the design brief: the key from secret "test".
const (
	goldenClassicID = "c14ff30999c0d33fc2eff45b09ffee7b4c4a3527"
)

func goldenPub() []byte {
	return ed25519.GenPrivKeyFromSecret([]byte("test")).PubKey().Bytes()
}

func goldenPeerID(t testing.TB) string {
	t.Helper()
	pid, err := transport.PeerIDFromPubKey(goldenPub())
	if err != nil {
		t.Fatal(err)
	}
	return pid.String()
}

var lo = netip.MustParseAddr("127.0.0.1")

// fakeProber answers from a table: addresses listed in ok are proven.
type fakeProber struct {
	mu    sync.Mutex
	ok    map[addrbook.NetAddress]bool
	calls []addrbook.NetAddress
	block chan struct{} // when set, Probe waits for it (or ctx)
}

func (p *fakeProber) Probe(ctx context.Context, a addrbook.NetAddress) error {
	p.mu.Lock()
	p.calls = append(p.calls, a)
	ok, block := p.ok[a], p.block
	p.mu.Unlock()
	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if !ok {
		return errors.New("fake: identity not proven")
	}
	return nil
}

func (p *fakeProber) nCalls() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.calls)
}

type added struct{ addr, src addrbook.NetAddress }

type fakeBook struct {
	mu     sync.Mutex
	adds   []added
	refuse error
}

func (b *fakeBook) AddAddress(a, s addrbook.NetAddress) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.refuse != nil {
		return b.refuse
	}
	b.adds = append(b.adds, added{a, s})
	return nil
}

func (b *fakeBook) all() []added {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]added(nil), b.adds...)
}

type countMetrics struct {
	mu sync.Mutex
	n  map[Direction]map[Result]int
}

func (m *countMetrics) Crossing(d Direction, r Result) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.n == nil {
		m.n = map[Direction]map[Result]int{}
	}
	if m.n[d] == nil {
		m.n[d] = map[Result]int{}
	}
	m.n[d][r]++
}

func (m *countMetrics) get(d Direction, r Result) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.n[d][r]
}

type rig struct {
	b                         *Bridge
	clk                       *clock.Simulated
	classicBook, libp2pBook   *fakeBook
	classicProbe, libp2pProbe *fakeProber
	metrics                   *countMetrics
	classicSelf, libp2pSelf   addrbook.NetAddress
}

func newRig(t *testing.T, mutate func(*Config)) *rig {
	t.Helper()
	r := &rig{
		clk:          clock.NewSimulated(time.Time{}),
		classicBook:  &fakeBook{},
		libp2pBook:   &fakeBook{},
		classicProbe: &fakeProber{ok: map[addrbook.NetAddress]bool{}},
		libp2pProbe:  &fakeProber{ok: map[addrbook.NetAddress]bool{}},
		metrics:      &countMetrics{},
		classicSelf:  addrbook.NetAddress{ID: "0000000000000000000000000000000000000001", IP: lo, Port: 26656},
		libp2pSelf:   addrbook.NetAddress{ID: "12D3KooWSelf", IP: lo, Port: 26656},
	}
	cfg := Config{
		Classic:       Side{Book: r.classicBook, Prober: r.classicProbe, Self: func() addrbook.NetAddress { return r.classicSelf }},
		Libp2p:        Side{Book: r.libp2pBook, Prober: r.libp2pProbe, Self: func() addrbook.NetAddress { return r.libp2pSelf }},
		Clock:         r.clk,
		Metrics:       r.metrics,
		ProbeInterval: time.Second,
		ProbeBurst:    2,
		VerifiedTTL:   time.Hour,
		FailedTTL:     10 * time.Minute,
	}
	if mutate != nil {
		mutate(&cfg)
	}
	b, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	r.b = b
	t.Cleanup(func() { _ = b.Stop() })
	return r
}

func TestCandidates(t *testing.T) {
	addr := addrbook.NetAddress{ID: goldenClassicID, IP: lo, Port: 26656}
	c, err := ClassicCandidate(goldenClassicID, goldenPub(), addr)
	if err != nil {
		t.Fatal(err)
	}
	want := addrbook.NetAddress{ID: goldenPeerID(t), IP: lo, Port: 26656}
	if c.Dir != ClassicToLibp2p || c.Target != want {
		t.Errorf("ClassicCandidate = %+v, want %v", c, want)
	}

	l, err := Libp2pCandidate(want)
	if err != nil {
		t.Fatal(err)
	}
	if l.Dir != Libp2pToClassic || l.Target != addr {
		t.Errorf("Libp2pCandidate = %+v, want %v", l, addr)
	}

	otherPub := ed25519.GenPrivKey().PubKey().Bytes()
	bad := []struct {
		name string
		err  error
	}{
		{"key of another node", second(ClassicCandidate(goldenClassicID, otherPub, addr))},
		{"no key", second(ClassicCandidate(goldenClassicID, nil, addr))},
		{"wildcard IP", second(ClassicCandidate(goldenClassicID, goldenPub(), addrbook.NetAddress{ID: goldenClassicID, IP: netip.IPv4Unspecified(), Port: 1}))},
		{"port 0", second(ClassicCandidate(goldenClassicID, goldenPub(), addrbook.NetAddress{ID: goldenClassicID, IP: lo}))},
		{"no IP", second(Libp2pCandidate(addrbook.NetAddress{ID: want.ID, Port: 1}))},
		{"classic ID on libp2p side", second(Libp2pCandidate(addr))},
		{"garbage peer ID", second(Libp2pCandidate(addrbook.NetAddress{ID: "12D3KooWnope", IP: lo, Port: 1}))},
	}
	for _, tc := range bad {
		var ce *CandidateError
		if !errors.Is(tc.err, ErrCandidate) || !errors.As(tc.err, &ce) || ce.Addr == "" {
			t.Errorf("%s: err = %v, want a *CandidateError naming the address", tc.name, tc.err)
		}
	}
}

func second(_ Candidate, err error) error { return err }

// Verified crossings enter the other book with the bridge as source and
// are probed once per TTL; both directions.
func TestCrossVerifiedBothWays(t *testing.T) {
	r := newRig(t, nil)
	ctx := context.Background()
	c2l, _ := ClassicCandidate(goldenClassicID, goldenPub(), addrbook.NetAddress{ID: goldenClassicID, IP: lo, Port: 26656})
	l2c, _ := Libp2pCandidate(addrbook.NetAddress{ID: goldenPeerID(t), IP: lo, Port: 26657})
	r.libp2pProbe.ok[c2l.Target] = true
	r.classicProbe.ok[l2c.Target] = true

	if res, err := r.b.Cross(ctx, c2l); res != Verified || err != nil {
		t.Fatalf("classic→libp2p: %v, %v", res, err)
	}
	if res, err := r.b.Cross(ctx, l2c); res != Verified || err != nil {
		t.Fatalf("libp2p→classic: %v, %v", res, err)
	}
	if got := r.libp2pBook.all(); len(got) != 1 || got[0].addr != c2l.Target || got[0].src != r.libp2pSelf {
		t.Errorf("libp2p book got %+v, want %v from %v", got, c2l.Target, r.libp2pSelf)
	}
	if got := r.classicBook.all(); len(got) != 1 || got[0].addr != l2c.Target || got[0].src != r.classicSelf {
		t.Errorf("classic book got %+v, want %v from %v", got, l2c.Target, r.classicSelf)
	}

	// Within the TTL the result is reused: no second probe.
	r.clk.Run(59 * time.Minute)
	if res, _ := r.b.Cross(ctx, c2l); res != CachedVerified {
		t.Errorf("second crossing = %v, want cached_verified", res)
	}
	if n := r.libp2pProbe.nCalls(); n != 1 {
		t.Errorf("libp2p prober called %d times, want 1", n)
	}
	// After it, the address is probed again.
	r.clk.Run(2 * time.Minute)
	if res, _ := r.b.Cross(ctx, c2l); res != Verified {
		t.Errorf("after TTL = %v, want verified", res)
	}
	if n := r.libp2pProbe.nCalls(); n != 2 {
		t.Errorf("libp2p prober called %d times after TTL, want 2", n)
	}
	if r.metrics.get(ClassicToLibp2p, Verified) != 2 || r.metrics.get(ClassicToLibp2p, CachedVerified) != 1 || r.metrics.get(Libp2pToClassic, Verified) != 1 {
		t.Errorf("metrics = %+v", r.metrics.n)
	}
}

// An address whose key is not proven on the other face never crosses, and
// the failure is remembered for FailedTTL only.
func TestUnverifiedNeverCrosses(t *testing.T) {
	r := newRig(t, nil)
	ctx := context.Background()
	l2c, _ := Libp2pCandidate(addrbook.NetAddress{ID: goldenPeerID(t), IP: lo, Port: 26657})
	if res, err := r.b.Cross(ctx, l2c); res != Failed || err == nil {
		t.Fatalf("Cross = %v, %v; want failed with the probe error", res, err)
	}
	if res, _ := r.b.Cross(ctx, l2c); res != CachedFailed {
		t.Errorf("repeat = %v, want cached_failed", res)
	}
	if n := r.classicProbe.nCalls(); n != 1 {
		t.Errorf("probed %d times within FailedTTL, want 1", n)
	}
	r.clk.Run(10 * time.Minute)
	r.classicProbe.ok[l2c.Target] = true // the node came up
	if res, _ := r.b.Cross(ctx, l2c); res != Verified {
		t.Errorf("after FailedTTL = %v, want verified", res)
	}
	if n := len(r.classicBook.all()); n != 1 {
		t.Errorf("classic book has %d additions, want 1 (only after verification)", n)
	}
	if r.metrics.get(Libp2pToClassic, Failed) != 1 || r.metrics.get(Libp2pToClassic, CachedFailed) != 1 {
		t.Errorf("metrics = %+v", r.metrics.n)
	}
	if n := len(r.libp2pBook.all()); n != 0 {
		t.Errorf("libp2p book touched: %d", n)
	}
}

func TestRateLimit(t *testing.T) {
	r := newRig(t, nil) // burst 2, one probe per second
	ctx := context.Background()
	cands := make([]Candidate, 3)
	for i := range cands {
		cands[i], _ = Libp2pCandidate(addrbook.NetAddress{ID: goldenPeerID(t), IP: lo, Port: uint16(1000 + i)})
	}
	for i := 0; i < 2; i++ {
		if res, _ := r.b.Cross(ctx, cands[i]); res != Failed {
			t.Fatalf("candidate %d: %v, want a probe (failed)", i, res)
		}
	}
	if res, _ := r.b.Cross(ctx, cands[2]); res != RateLimited {
		t.Fatalf("third probe in the same instant = %v, want rate_limited", res)
	}
	if n := r.classicProbe.nCalls(); n != 2 {
		t.Errorf("probes = %d, want 2", n)
	}
	// Rate limiting caches nothing: the candidate is probed once budget returns.
	r.clk.Run(999 * time.Millisecond)
	if res, _ := r.b.Cross(ctx, cands[2]); res != RateLimited {
		t.Errorf("before a whole token = %v, want rate_limited", res)
	}
	r.clk.Run(time.Millisecond)
	if res, _ := r.b.Cross(ctx, cands[2]); res != Failed {
		t.Errorf("after one interval = %v, want a probe", res)
	}
	if r.metrics.get(Libp2pToClassic, RateLimited) != 2 {
		t.Errorf("rate_limited count = %d, want 2", r.metrics.get(Libp2pToClassic, RateLimited))
	}
}

func TestCacheBounded(t *testing.T) {
	r := newRig(t, func(c *Config) { c.CacheSize = 3; c.ProbeBurst = 100 })
	ctx := context.Background()
	for i := 0; i < 10; i++ {
		c, _ := Libp2pCandidate(addrbook.NetAddress{ID: goldenPeerID(t), IP: lo, Port: uint16(2000 + i)})
		r.clk.Run(time.Second)
		if res, _ := r.b.Cross(ctx, c); res != Failed {
			t.Fatalf("probe %d = %v", i, res)
		}
		if n := r.b.CacheLen(); n > 3 {
			t.Fatalf("cache grew to %d, limit 3", n)
		}
	}
}

func TestBookRefusal(t *testing.T) {
	r := newRig(t, nil)
	r.libp2pBook.refuse = errors.New("banned")
	c, _ := ClassicCandidate(goldenClassicID, goldenPub(), addrbook.NetAddress{ID: goldenClassicID, IP: lo, Port: 3})
	r.libp2pProbe.ok[c.Target] = true
	if res, err := r.b.Cross(context.Background(), c); res != BookRefused || err == nil {
		t.Errorf("Cross = %v, %v; want book_refused", res, err)
	}
}

// A probe cut short by shutdown is no evidence against the node.
func TestCancelledProbeNotCached(t *testing.T) {
	r := newRig(t, nil)
	r.classicProbe.block = make(chan struct{})
	c, _ := Libp2pCandidate(addrbook.NetAddress{ID: goldenPeerID(t), IP: lo, Port: 4})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if res, _ := r.b.Cross(ctx, c); res != Failed {
		t.Errorf("Cross = %v", res)
	}
	if n := r.b.CacheLen(); n != 0 {
		t.Errorf("cancelled probe cached (%d entries)", n)
	}
}

func TestNewRejectsIncompleteSides(t *testing.T) {
	_, err := New(Config{})
	if !errors.Is(err, ErrConfig) {
		t.Errorf("New(empty) = %v, want ErrConfig", err)
	}
}

// The worker drains offers in the background, deduplicates pending ones,
// settles cached ones without a probe and counts invalid ones.
func TestWorkerOffers(t *testing.T) {
	r := newRig(t, func(c *Config) { c.Clock = clock.System; c.ProbeInterval = time.Millisecond; c.ProbeBurst = 10 })
	r.classicProbe.block = make(chan struct{})
	target := addrbook.NetAddress{ID: goldenPeerID(t), IP: lo, Port: 26657}
	l2c, _ := Libp2pCandidate(target)
	r.classicProbe.ok[l2c.Target] = true
	if err := r.b.Start(); err != nil {
		t.Fatal(err)
	}
	r.b.Libp2pPeerConnected(pex.PeerInfo{ID: target.ID, ListenAddr: target})
	r.b.OfferLibp2pAddr(target) // pending: not queued twice
	close(r.classicProbe.block)
	if !testwait.Until(5*time.Second, func() bool { return len(r.classicBook.all()) == 1 }) {
		t.Fatal("offered address never crossed")
	}
	r.b.OfferLibp2pAddr(target) // cached now
	if !testwait.Until(5*time.Second, func() bool { return r.metrics.get(Libp2pToClassic, CachedVerified) == 1 }) {
		t.Error("repeat offer not settled from the cache")
	}
	if n := r.classicProbe.nCalls(); n != 1 {
		t.Errorf("probed %d times, want 1", n)
	}
	r.b.ClassicPeerConnected(classic.Peer{PeerInfo: pex.PeerInfo{ID: goldenClassicID}, DialAddr: addrbook.NetAddress{ID: goldenClassicID, IP: lo, Port: 5}})
	if r.metrics.get(ClassicToLibp2p, Invalid) != 1 {
		t.Error("classic peer without a key not counted invalid")
	}
	if err := r.b.Stop(); err != nil {
		t.Fatal(err)
	}
}

func TestQueueFullDrops(t *testing.T) {
	r := newRig(t, func(c *Config) { c.QueueSize = 1 })
	// Not started: the queue only fills.
	for i := 0; i < 3; i++ {
		r.b.OfferLibp2pAddr(addrbook.NetAddress{ID: goldenPeerID(t), IP: lo, Port: uint16(100 + i)})
	}
	if got := r.metrics.get(Libp2pToClassic, Dropped); got != 2 {
		t.Errorf("dropped = %d, want 2", got)
	}
}

func TestPrometheusMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := NewPrometheusMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	m.Crossing(ClassicToLibp2p, Verified)
	m.Crossing(ClassicToLibp2p, Verified)
	m.Crossing(Libp2pToClassic, Failed)
	if v := counterValue(t, m, "classic_to_libp2p", "verified"); v != 2 {
		t.Errorf("verified classic_to_libp2p = %v", v)
	}
	if v := counterValue(t, m, "libp2p_to_classic", "failed"); v != 1 {
		t.Errorf("failed libp2p_to_classic = %v", v)
	}
	if _, err := NewPrometheusMetrics(reg); err == nil {
		t.Error("double registration not reported")
	}
}

func counterValue(t *testing.T, m *PrometheusMetrics, labels ...string) float64 {
	t.Helper()
	var out dto.Metric
	if err := m.crossings.WithLabelValues(labels...).Write(&out); err != nil {
		t.Fatal(err)
	}
	return out.GetCounter().GetValue()
}
