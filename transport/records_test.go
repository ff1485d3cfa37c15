package transport

import (
	"context"
	"crypto/rand"
	"errors"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	tmp2p "github.com/cometbft/cometbft/proto/tendermint/p2p"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/pexp2p/pexp2p/addrbook"
	"github.com/pexp2p/pexp2p/internal/testwait"
)

// fakeSink is the book side of signed records, recording every call.
type fakeSink struct {
	mu       sync.Mutex
	verified map[string][]addrbook.NetAddress
	sources  map[string]addrbook.NetAddress
	alts     map[string][]addrbook.NetAddress
	// addresses answers Addresses.
	addresses map[string][]addrbook.NetAddress
}

func newFakeSink() *fakeSink {
	return &fakeSink{
		verified:  map[string][]addrbook.NetAddress{},
		sources:   map[string]addrbook.NetAddress{},
		alts:      map[string][]addrbook.NetAddress{},
		addresses: map[string][]addrbook.NetAddress{},
	}
}

func (f *fakeSink) AddVerified(id string, addrs []addrbook.NetAddress, src addrbook.NetAddress) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.verified[id] = slices.Clone(addrs)
	f.sources[id] = src
	return nil
}

func (f *fakeSink) AddAlternatives(id string, addrs []addrbook.NetAddress) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.alts[id] = slices.Clone(addrs)
	return nil
}

func (f *fakeSink) Addresses(id string) []addrbook.NetAddress {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.addresses[id])
}

func (f *fakeSink) verifiedOf(id peer.ID) ([]addrbook.NetAddress, addrbook.NetAddress, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	a, ok := f.verified[id.String()]
	return a, f.sources[id.String()], ok
}

func (f *fakeSink) altsOf(id peer.ID) []addrbook.NetAddress {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.alts[id.String()]
}

// decision is what a node decided for one PexAddrs.
type decision struct {
	from   peer.ID
	ask    []peer.ID
	asking bool
}

// recordsNode is a transport node with signed records on, a fake sink
// and a real book as its ban list.
type recordsNode struct {
	*Node
	h         *fakeHandler
	sink      *fakeSink
	book      *addrbook.Book
	mu        sync.Mutex
	decisions []decision
	fetched   map[peer.ID]error
	violation []string // OnWireViolation reasons
}

func newRecordsNode(t testing.TB, i int, mod func(*Config)) *recordsNode {
	t.Helper()
	book, err := addrbook.New(addrbook.Options{IDRule: PeerIDs})
	if err != nil {
		t.Fatal(err)
	}
	rn := &recordsNode{sink: newFakeSink(), book: book, fetched: map[peer.ID]error{}}
	n, h := testNode(t, i, func(c *Config) {
		// Room for a loaded machine: a stream that times out is no one's
		// fault and would not be punished.
		c.StreamTimeout = 10 * time.Second
		c.SignedRecords = true
		c.Addresses = rn.sink
		c.Bans = book
		c.OnWireViolation = func(_, reason string, _ bool) {
			rn.mu.Lock()
			rn.violation = append(rn.violation, reason)
			rn.mu.Unlock()
		}
		if mod != nil {
			mod(c)
		}
	})
	rn.Node, rn.h = n, h
	if n.rec != nil {
		n.rec.onPexAddrs = func(from peer.ID, ask []peer.ID, asking bool) {
			rn.mu.Lock()
			rn.decisions = append(rn.decisions, decision{from, ask, asking})
			rn.mu.Unlock()
		}
		n.rec.onFetched = func(from peer.ID, err error) {
			rn.mu.Lock()
			rn.fetched[from] = err
			rn.mu.Unlock()
		}
	}
	return rn
}

func (rn *recordsNode) decisionsFrom(p peer.ID) []decision {
	rn.mu.Lock()
	defer rn.mu.Unlock()
	var out []decision
	for _, d := range rn.decisions {
		if d.from == p {
			out = append(out, d)
		}
	}
	return out
}

// fetchResult is the outcome of our request to p, once there is one.
func (rn *recordsNode) fetchResult(p peer.ID) (done bool, err error) {
	rn.mu.Lock()
	defer rn.mu.Unlock()
	err, done = rn.fetched[p]
	return done, err
}

func (rn *recordsNode) violations() []string {
	rn.mu.Lock()
	defer rn.mu.Unlock()
	return slices.Clone(rn.violation)
}

// connectNodes dials b from a and waits until both have set the other up.
func connectNodes(t testing.TB, a, b *recordsNode) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.Dial(ctx, netAddrOf(t, b.Node)); err != nil {
		t.Fatal(err)
	}
	testwait.For(t, 10*time.Second, "both sides set up", func() bool { return hasPeer(a.Node, b.ID()) && hasPeer(b.Node, a.ID()) })
}

func pexAddrsOf(addrs ...addrbook.NetAddress) *tmp2p.PexAddrs {
	m := &tmp2p.PexAddrs{}
	for _, a := range addrs {
		m.Addrs = append(m.Addrs, tmp2p.NetAddress{ID: a.ID, IP: a.IP.String(), Port: uint32(a.Port)})
	}
	return m
}

// A gossiped address becomes verified: B's own record reaches A by
// identify, A passes B's address to C, and C fetches B's record from A,
// checks B's signature and feeds B's addresses to its book as verified,
// with A as the source. Each node also feeds its direct peers' own
// records.
func TestRelayedRecordVerifiesGossipedAddress(t *testing.T) {
	a := newRecordsNode(t, 71, nil)
	b := newRecordsNode(t, 72, nil)
	c := newRecordsNode(t, 73, nil)
	connectNodes(t, b, a)
	bAddr := netAddrOf(t, b.Node)
	testwait.For(t, 10*time.Second, "A to hold B's own record", func() bool {
		_, _, ok := a.sink.verifiedOf(b.ID())
		return ok && a.rec.store.get(b.ID()) != nil
	})
	if got, _, _ := a.sink.verifiedOf(b.ID()); !slices.Contains(got, bAddr) {
		t.Fatalf("A's book got %v as B's verified addresses, want %v among them", got, bAddr)
	}

	connectNodes(t, c, a)
	if !a.Send(c.ID().String(), pexAddrsOf(bAddr)) {
		t.Fatal("A could not send to C")
	}
	testwait.For(t, 10*time.Second, "C to verify B's address", func() bool {
		_, _, ok := c.sink.verifiedOf(b.ID())
		return ok
	})
	got, src, _ := c.sink.verifiedOf(b.ID())
	if !slices.Contains(got, bAddr) {
		t.Fatalf("C's book got %v as B's verified addresses, want %v among them", got, bAddr)
	}
	if src != netAddrOf(t, a.Node) {
		t.Fatalf("source of B's record at C is %v, want A (%v)", src, netAddrOf(t, a.Node))
	}
	d := c.decisionsFrom(a.ID())
	if len(d) != 1 || !d[0].asking || len(d[0].ask) != 1 || d[0].ask[0] != b.ID() {
		t.Fatalf("C's decisions for A's PexAddrs: %+v", d)
	}
	if len(c.violations()) != 0 || !hasPeer(c.Node, a.ID()) {
		t.Fatalf("honest relay punished: %v", c.violations())
	}
}

// rawRecordsPeer is a bare host that speaks the peer-records protocol
// with answers of the test's making.
type rawRecordsPeer struct {
	*rawPeer
	asked chan []peer.ID
}

func newRawRecordsPeer(t testing.TB, i int, answer func(ids []peer.ID) []byte) *rawRecordsPeer {
	t.Helper()
	rp := &rawRecordsPeer{rawPeer: newRawPeer(t, i), asked: make(chan []peer.ID, 10)}
	rp.h.SetStreamHandler(PeerRecordsProtocolID, func(s network.Stream) {
		_ = s.SetDeadline(time.Now().Add(5 * time.Second))
		body, err := readRecordsFrame(s, maxRecordsRequestSize)
		if err != nil {
			_ = s.Reset()
			return
		}
		ids, err := DecodeRecordsRequest(body)
		if err != nil {
			_ = s.Reset()
			return
		}
		rp.asked <- ids
		_, _ = s.Write(answer(ids))
		_ = s.Close()
	})
	return rp
}

// A relayer whose answer does not verify — a record signed by another
// key for the victim's ID, a bad signature, another payload type, a
// record of a peer not asked for, an oversized answer — is stopped and
// banned under the right reason, none of its records reaches the book,
// and an honest peer connected all along is untouched.
func TestForgingRelayerStoppedAndBanned(t *testing.T) {
	c := newRecordsNode(t, 74, nil)
	honest := newRecordsNode(t, 75, nil)
	connectNodes(t, honest, c)

	victimKey, victim := recordKey(t)
	attackerKey, _ := recordKey(t)
	_, stranger := recordKey(t)
	victimAddr := addrbook.NetAddress{ID: victim.String(), IP: mustIP("127.76.0.9"), Port: 4001}
	good := sealRecord(t, victimKey, victim, 1, "/ip4/127.76.0.9/tcp/4001")

	cases := []struct {
		name   string
		answer []byte
		reason string
	}{
		{"signed by another key", EncodeRecordsResponse([][]byte{sealRecord(t, attackerKey, victim, 1, "/ip4/127.76.0.66/tcp/4001")}), "forged_peer_record"},
		{"bad signature", EncodeRecordsResponse([][]byte{flipSignature(t, good)}), "forged_peer_record"},
		{"another payload type", EncodeRecordsResponse([][]byte{sealAs(t, otherTypeRecord{peer.PeerRecordFromAddrInfo(peer.AddrInfo{ID: victim})}, victimKey)}), "forged_peer_record"},
		{"a record not asked for", EncodeRecordsResponse([][]byte{good, sealRecord(t, attackerKey, stranger, 1)}), "forged_peer_record"},
		{"oversized answer", []byte{0xff, 0xff, 0xff, 0x0f}, "peer_records_wire"},
		{"garbage answer", []byte{0x03, 0x05, 0x01, 0x02}, "peer_records_wire"},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			bad := newRawRecordsPeer(t, 77+i, func([]peer.ID) []byte { return tc.answer })
			if err := bad.connect(t, c.Node); err != nil {
				t.Fatal(err)
			}
			testwait.For(t, 10*time.Second, "relayer set up", func() bool { return hasPeer(c.Node, bad.h.ID()) })
			before := len(c.violations())
			bad.send(t, c.ID(), pexAddrsOf(victimAddr))
			select {
			case ids := <-bad.asked:
				if len(ids) != 1 || ids[0] != victim {
					t.Fatalf("C asked for %v, want [%s]", ids, victim)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("C never asked the relayer")
			}
			testwait.For(t, 15*time.Second, "C's request to end", func() bool { done, _ := c.fetchResult(bad.h.ID()); return done })
			if _, err := c.fetchResult(bad.h.ID()); !IsRecordsViolation(err) || IsForgedRecord(err) != (tc.reason == "forged_peer_record") {
				t.Fatalf("C's request ended with %v, want a %s violation", err, tc.reason)
			}
			testwait.For(t, 10*time.Second, "relayer stopped and banned", func() bool {
				return !hasPeer(c.Node, bad.h.ID()) && c.book.IsBanned(bad.h.ID().String()) &&
					c.Host().Network().Connectedness(bad.h.ID()) != network.Connected
			})
			v := c.violations()
			if len(v) != before+1 || v[before] != tc.reason {
				t.Fatalf("violations %v, want %q added", v, tc.reason)
			}
			if got, _, ok := c.sink.verifiedOf(victim); ok {
				t.Fatalf("the victim got verified addresses %v from a forging relayer", got)
			}
			if !hasPeer(c.Node, honest.ID()) {
				t.Fatal("the honest peer was dropped")
			}
		})
	}
}

func mustIP(s string) netip.Addr { return netip.MustParseAddr(s) }

// A peer whose identify does not list the protocol (upstream lp2p, a
// bare host) is never asked, and a node with signed records off serves
// no such protocol and asks nobody.
func TestRecordsOnlyWithPeersThatAnnounceThem(t *testing.T) {
	c := newRecordsNode(t, 84, nil)
	classic := newRawPeer(t, 85)
	if err := classic.connect(t, c.Node); err != nil {
		t.Fatal(err)
	}
	testwait.For(t, 10*time.Second, "classic peer set up", func() bool { return hasPeer(c.Node, classic.h.ID()) })
	_, someone := recordKey(t)
	classic.send(t, c.ID(), pexAddrsOf(addrbook.NetAddress{ID: someone.String(), IP: mustIP("127.85.0.9"), Port: 9}))
	testwait.For(t, 10*time.Second, "C's decision on the classic peer's PexAddrs", func() bool { return len(c.decisionsFrom(classic.h.ID())) == 1 })
	if d := c.decisionsFrom(classic.h.ID())[0]; d.asking || len(d.ask) != 1 {
		t.Fatalf("decision %+v: want the ID noted but the peer not asked", d)
	}
	if !hasPeer(c.Node, classic.h.ID()) || len(c.violations()) != 0 {
		t.Fatal("the classic peer was disturbed")
	}

	off, _ := testNode(t, 86, nil)
	if off.rec != nil {
		t.Fatal("a node with both options off runs the records service")
	}
	if slices.Contains(off.Host().Mux().Protocols(), PeerRecordsProtocolID) {
		t.Fatal("a node with signed records off serves the protocol")
	}
	if !slices.Contains(c.Host().Mux().Protocols(), PeerRecordsProtocolID) {
		t.Fatal("a node with signed records on does not serve the protocol")
	}
}

// requestRecords opens the protocol to n from h and sends raw; it returns
// the answer's body or the error.
func requestRecords(t testing.TB, rp *rawPeer, to peer.ID, raw []byte) ([]byte, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := rp.h.NewStream(ctx, to, PeerRecordsProtocolID)
	if err != nil {
		return nil, err
	}
	_ = s.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := s.Write(raw); err != nil {
		_ = s.Reset()
		return nil, err
	}
	_ = s.CloseWrite()
	body, err := readRecordsFrame(s, MaxRecordsMsgSize)
	if err == nil {
		err = expectRecordsEnd(s)
	}
	_ = s.Close()
	return body, err
}

// The serving side: a peer gets the records we hold (its own ask for our
// ID included) within its rate, is refused beyond it without being
// punished, and is stopped and banned for a malformed request.
func TestRecordsServerAnswersLimitsAndPunishes(t *testing.T) {
	srv := newRecordsNode(t, 87, func(c *Config) {
		c.RecordRequestBurst = 2
		c.RecordRequestInterval = time.Hour
	})
	client := newRawPeer(t, 88)
	if err := client.connect(t, srv.Node); err != nil {
		t.Fatal(err)
	}
	testwait.For(t, 10*time.Second, "client set up", func() bool { return hasPeer(srv.Node, client.h.ID()) })
	_, unknown := recordKey(t)
	req, err := EncodeRecordsRequest([]peer.ID{srv.ID(), unknown})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		body, err := requestRecords(t, client, srv.ID(), req)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		envs, err := DecodeRecordsResponse(body)
		if err != nil || len(envs) != 1 {
			t.Fatalf("request %d: %d envelopes, %v; want the server's own only", i, len(envs), err)
		}
		rec, err := VerifyPeerRecord(envs[0], map[peer.ID]bool{srv.ID(): true})
		if err != nil || len(recordNetAddrs(rec)) == 0 {
			t.Fatalf("the server's own record: %v (addrs %v)", err, rec)
		}
	}
	if _, err := requestRecords(t, client, srv.ID(), req); err == nil {
		t.Fatal("a request beyond the burst was answered")
	}
	var se *network.StreamError
	if _, err := requestRecords(t, client, srv.ID(), req); !errors.As(err, &se) || se.ErrorCode != network.StreamRateLimited {
		t.Fatalf("over-rate request: %v, want a reset with the rate-limited code", err)
	}
	if !hasPeer(srv.Node, client.h.ID()) || srv.book.IsBanned(client.h.ID().String()) {
		t.Fatal("a peer over the rate was punished")
	}

	bad := newRawPeer(t, 89)
	if err := bad.connect(t, srv.Node); err != nil {
		t.Fatal(err)
	}
	testwait.For(t, 10*time.Second, "bad client set up", func() bool { return hasPeer(srv.Node, bad.h.ID()) })
	_, _ = requestRecords(t, bad, srv.ID(), []byte{0x02, 0x00, 0x00})
	testwait.For(t, 10*time.Second, "malformed requester stopped and banned", func() bool {
		return !hasPeer(srv.Node, bad.h.ID()) && srv.book.IsBanned(bad.h.ID().String())
	})
	if v := srv.violations(); len(v) != 1 || v[0] != "peer_records_wire" {
		t.Fatalf("violations %v, want one peer_records_wire", v)
	}
	if !hasPeer(srv.Node, client.h.ID()) {
		t.Fatal("the well-behaved client was dropped")
	}
}

// deadAddr is a loopback address where nothing listens (TCP or UDP).
func deadAddr(t testing.TB, ip string, id peer.ID) addrbook.NetAddress {
	t.Helper()
	l, err := net.Listen("tcp", ip+":0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	na, err := addrbook.NewNetAddress(PeerIDs, id.String(), netip.MustParseAddr(ip), uint16(port))
	if err != nil {
		t.Fatal(err)
	}
	return na
}

// Dialing a book entry offers the swarm every address the book holds for
// the peer: a peer whose primary address is dead but whose alternative
// is live gets connected, and without the option the same dial fails.
func TestDialReachesPeerThroughAlternativeAddress(t *testing.T) {
	b, _ := testNode(t, 91, nil)
	live := netAddrOf(t, b)
	dead := deadAddr(t, "127.91.0.2", b.ID())

	sink := newFakeSink()
	sink.addresses[b.ID().String()] = []addrbook.NetAddress{dead, live}
	without, _ := testNode(t, 92, func(c *Config) { c.DialTimeout = time.Second })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := without.Dial(ctx, dead); err == nil {
		t.Fatal("a dial of the dead address alone succeeded")
	}

	with, _ := testNode(t, 93, func(c *Config) {
		c.DialAlternatives = true
		c.Addresses = sink
		c.DialTimeout = time.Second
	})
	if err := with.Dial(ctx, dead); err != nil {
		t.Fatalf("dial with the live alternative: %v", err)
	}
	if !hasPeer(with, b.ID()) {
		t.Fatal("peer not set up after the dial")
	}
}

// Identify's listen addresses of a peer reach the book as alternatives
// once the peer is set up.
func TestIdentifyListenAddrsFedAsAlternatives(t *testing.T) {
	sink := newFakeSink()
	a, _ := testNode(t, 94, func(c *Config) {
		c.DialAlternatives = true
		c.Addresses = sink
	})
	b, _ := testNode(t, 95, func(c *Config) {
		c.ListenAddrs = append(c.ListenAddrs, ma.StringCast("/ip4/127.95.0.2/tcp/0"))
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.Dial(ctx, netAddrOf(t, b)); err != nil {
		t.Fatal(err)
	}
	testwait.For(t, 10*time.Second, "B's listen addresses as alternatives", func() bool { return len(sink.altsOf(b.ID())) >= 2 })
	ips := map[string]bool{}
	for _, na := range sink.altsOf(b.ID()) {
		ips[na.IP.String()] = true
	}
	if !ips["127.95.0.1"] || !ips["127.95.0.2"] {
		t.Fatalf("alternatives %v, want both listen IPs", sink.altsOf(b.ID()))
	}
}

// Turning either option on without a book to feed is refused by name.
func TestRecordsConfigNeedsABook(t *testing.T) {
	key, err := GenNodeKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		cfg   Config
		field string
	}{
		{Config{SignedRecords: true}, "SignedRecords"},
		{Config{DialAlternatives: true}, "DialAlternatives"},
		{Config{MaxPeerRecords: -1}, "MaxPeerRecords"},
		{Config{RecordRequestBurst: -1}, "RecordRequestBurst"},
		{Config{RecordRequestInterval: -time.Second}, "RecordRequestInterval"},
	} {
		_, err := NewNode(key, c.cfg)
		if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), c.field+" = ") {
			t.Fatalf("%+v: got %v, want ErrConfig naming %s", c.cfg, err, c.field)
		}
	}
}

// A node that lets a peer go right after answering it (a seed and its
// visitors: StopPeerGracefully) still serves that peer's records
// request: the peer asks before it closes the answer's stream, which the
// sender holds open until then. The request is delayed as a long round
// trip would delay it, so that asking after the close would lose the
// race to the disconnect.
func TestRecordsFetchedBeforeTheAnswererLetsGo(t *testing.T) {
	s := newRecordsNode(t, 96, nil)
	b := newRecordsNode(t, 97, nil)
	c := newRecordsNode(t, 98, nil)
	connectNodes(t, b, s)
	testwait.For(t, 10*time.Second, "S to hold B's record", func() bool { return s.rec.store.get(b.ID()) != nil })
	c.rec.beforeFetch = func(peer.ID) { time.Sleep(300 * time.Millisecond) }
	connectNodes(t, c, s)
	if !s.Send(c.ID().String(), pexAddrsOf(netAddrOf(t, b.Node))) {
		t.Fatal("S could not send to C")
	}
	s.StopPeerGracefully(c.ID().String())
	testwait.For(t, 10*time.Second, "C's request to end", func() bool { done, _ := c.fetchResult(s.ID()); return done })
	if _, err := c.fetchResult(s.ID()); err != nil {
		t.Fatalf("C's request to S: %v", err)
	}
	if _, _, ok := c.sink.verifiedOf(b.ID()); !ok {
		t.Fatal("B's record did not reach C's book")
	}
}
