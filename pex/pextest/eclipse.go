package pextest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
	"time"

	tmp2p "github.com/cometbft/cometbft/proto/tendermint/p2p"

	"github.com/pexp2p/pexp2p/addrbook"
	"github.com/pexp2p/pexp2p/internal/clock"
	"github.com/pexp2p/pexp2p/pex"
)

// An eclipse run (Heilman et al. 2015, on a whole network rather than on
// a book alone): Honest nodes discover each other for WarmRounds; then an
// attacker holding K /16 groups, PerGroup listening nodes in each, keeps
// the victim's inbound slots full and answers every PexRequest with a
// full PexAddrs of its own addresses for AttackRounds; then the victim
// restarts (same book, every connection lost) while the attacker races
// to fill its inbound slots again, and runs for AfterRounds. The victim
// is node 1; node 0 is the seed everybody lists.

// Defences are the opt-in eclipse defences given to the victim. The zero
// value is the book and reactor as upstream has them.
type Defences struct {
	// TestBeforeEvict is addrbook.Options.TestBeforeEvict.
	TestBeforeEvict bool
	// Feelers sets pex.Config.FeelerInterval to pex.DefaultFeelerInterval.
	Feelers bool
	// Anchors sets pex.Config.MaxAnchors to pex.DefaultMaxAnchors, kept
	// in memory across the restart.
	Anchors bool
	// Diversity sets pex.Config.OutboundGroupLimit to
	// pex.DefaultOutboundGroupLimit, groups being /16s.
	Diversity bool
	// ASMap gives the victim's book an AS map (the attacker's /16s sit
	// in ASes of attackerPrefixesPerAS each; honest /16s are unmapped and
	// keep their /16 group) and the same outbound group limit, by AS.
	ASMap bool
	// SignedRecords models the transport's signed peer records: every
	// node signs one for its own listening address. The victim's book
	// marks an address verified (AddVerified) when the record can reach
	// it, and prefers verified addresses (pex.Config.PreferVerifiedAddrs).
	// A record reaches it from the peer itself, once connected; and from
	// a relayer that gossiped the address and holds the record: an honest
	// node holds those of peers it is or was connected to (its old
	// entries and current peers), the attacker those of all its own
	// nodes, whose keys it has. Made-up IDs (FakePerGroup) have none.
	SignedRecords bool
}

// attackerPrefixesPerAS is how many of the attacker's /16s one AS
// announces in the ASMap scenario: a hosting provider or cloud region
// typically holds several /16s. k = 1 and 8 are one AS, k = 64 eight.
const attackerPrefixesPerAS = 8

// eclipseASMap maps attacker group g's /16 to AS 64512 + g/8.
func eclipseASMap(k int) (*addrbook.ASMap, error) {
	var sb strings.Builder
	for g := 0; g < k; g++ {
		fmt.Fprintf(&sb, "%d.%d.0.0/16 AS%d\n", 150+g/200, g%200, 64512+g/attackerPrefixesPerAS)
	}
	return addrbook.ParseASMap(strings.NewReader(sb.String()), "eclipse")
}

// AllDefences switches every defence on.
func AllDefences() Defences {
	return Defences{TestBeforeEvict: true, Feelers: true, Anchors: true, Diversity: true, ASMap: true, SignedRecords: true}
}

// String names the defences switched on: "upstream" for none, "all" for
// all of them, else their names joined by "+".
func (d Defences) String() string {
	if d == AllDefences() {
		return "all"
	}
	var names []string
	for _, f := range []struct {
		on   bool
		name string
	}{
		{d.TestBeforeEvict, "tbe"},
		{d.Feelers, "feelers"},
		{d.Anchors, "anchors"},
		{d.Diversity, "diversity"},
		{d.ASMap, "asmap"},
		{d.SignedRecords, "records"},
	} {
		if f.on {
			names = append(names, f.name)
		}
	}
	if len(names) == 0 {
		return "upstream"
	}
	return strings.Join(names, "+")
}

// EclipseConfig describes one eclipse run.
type EclipseConfig struct {
	Seed uint64
	// K is the number of /16 groups the attacker holds (>= 1).
	K int
	// PerGroup is how many listening attacker nodes each group holds
	// (default 32): enough to occupy the victim's 40 inbound slots from
	// a single group, as a single cloud /16 can.
	PerGroup int
	// FakePerGroup is how many made-up addresses per group the attacker
	// adds to its answers (default 0): IDs in its /16 with no node and no
	// key behind them, which cost it nothing to announce. A dial to one
	// fails.
	FakePerGroup int
	// Honest is the number of honest nodes, victim and seed included
	// (default 48).
	Honest int
	// WarmRounds, AttackRounds (t) and AfterRounds default to 10, 10, 10.
	WarmRounds, AttackRounds, AfterRounds int
	// Period is every node's EnsurePeersPeriod (default 30 s).
	Period time.Duration
	// Victim are the victim's defences.
	Victim Defences
}

// EclipseResult is what the victim looked like.
type EclipseResult struct {
	Config EclipseConfig
	// OutboundShare is the attacker's share of the victim's outbound
	// peers at the end of the run (0 when it has none).
	OutboundShare float64
	// PoisonedShare is the attacker's share of the victim's book when it
	// restarts.
	PoisonedShare float64
	// BookSize is the victim's book size when it restarts.
	BookSize int
	// Verified is how many entries of that book are marked verified, and
	// FakeVerified how many of those are made-up attacker addresses
	// (none, if records work as modelled).
	Verified, FakeVerified int
	// RoundsToRecover is the first round after the restart at which at
	// least half of the victim's outbound limit is filled with honest
	// peers; -1 when that did not happen within AfterRounds.
	RoundsToRecover int
	// Outbound is the victim's (attacker, honest) outbound count after
	// each round following the restart.
	Outbound [][2]int
}

// ErrEclipseConfig is wrapped by RunEclipse's configuration errors.
var ErrEclipseConfig = errors.New("pextest: invalid eclipse configuration")

// attackerAddr is node n of attacker group g: group g is the /16
// (150+g/200).(g%200), disjoint from NodeAddr's 11.0/16 onwards.
func attackerAddr(g, n int) addrbook.NetAddress {
	a := NodeAddr(1<<20 + g<<10 + n) // a distinct ID; the IP is replaced
	a.IP = netip.AddrFrom4([4]byte{byte(150 + g/200), byte(g % 200), byte(n / 250), byte(1 + n%250)})
	return a
}

// attackerNode answers every PexRequest with MaxAddrsPerMsg random
// attacker addresses and ignores everything else. It never asks, so it
// is never punished for unsolicited messages.
type attackerNode struct {
	node *Node
	all  []addrbook.NetAddress
	rng  *rand.Rand
}

func (a *attackerNode) AddPeer(pex.PeerInfo)   {}
func (a *attackerNode) RemovePeer(string, any) {}
func (a *attackerNode) Receive(from string, m pex.Message) {
	if _, ok := m.(*tmp2p.PexRequest); !ok {
		return
	}
	sel := make([]addrbook.NetAddress, pex.MaxAddrsPerMsg)
	for i := range sel {
		sel[i] = a.all[a.rng.IntN(len(a.all))]
	}
	a.node.Send(from, &tmp2p.PexAddrs{Addrs: pex.AddrsToProto(sel)})
}

func (c *EclipseConfig) defaults() error {
	if c.K < 1 || c.K > 200*100 {
		return fmt.Errorf("%w: K = %d, want 1..20000", ErrEclipseConfig, c.K)
	}
	if c.PerGroup == 0 {
		c.PerGroup = 32
	}
	if c.PerGroup < 1 || c.PerGroup > 1000 {
		return fmt.Errorf("%w: PerGroup = %d, want 1..1000", ErrEclipseConfig, c.PerGroup)
	}
	if c.FakePerGroup < 0 || c.PerGroup+c.FakePerGroup > 1000 {
		return fmt.Errorf("%w: FakePerGroup = %d, want 0..%d with PerGroup %d", ErrEclipseConfig, c.FakePerGroup, 1000-c.PerGroup, c.PerGroup)
	}
	if c.Honest == 0 {
		c.Honest = 48
	}
	if c.Honest < 3 {
		return fmt.Errorf("%w: Honest = %d, want at least 3", ErrEclipseConfig, c.Honest)
	}
	for _, r := range []*int{&c.WarmRounds, &c.AttackRounds, &c.AfterRounds} {
		if *r == 0 {
			*r = 10
		}
		if *r < 0 {
			return fmt.Errorf("%w: negative round count %d", ErrEclipseConfig, *r)
		}
	}
	if c.Period == 0 {
		c.Period = pex.DefaultEnsurePeersPeriod
	}
	return nil
}

// eclipseRun holds one run's network.
type eclipseRun struct {
	cfg      EclipseConfig
	clk      *clock.Simulated
	hub      *Hub
	attacker map[string]bool // the attacker's IDs, its made-up ones too
	attNodes []*Node
	// signed holds every address a node signs a record for: each
	// listening node's own, honest or attacker.
	signed map[addrbook.NetAddress]bool
	// honest are the honest nodes and their books, by ID, for what
	// records they can relay.
	honest  map[string]honestNode
	rng     *rand.Rand
	victim  *Node
	vbook   *addrbook.Book
	anchors memAnchors // the victim's, across its restart
}

// memAnchors is a pex.AnchorStore in memory.
type memAnchors struct{ saved []addrbook.NetAddress }

func (m *memAnchors) LoadAnchors() ([]addrbook.NetAddress, error) { return m.saved, nil }
func (m *memAnchors) SaveAnchors(a []addrbook.NetAddress) error {
	m.saved = append([]addrbook.NetAddress(nil), a...)
	return nil
}

const (
	// eclipseOverLimit is the transport face's default number of
	// over-limit visitors (answered once, then let go).
	eclipseOverLimit = 2
	victimIndex      = 1
)

// RunEclipse runs one eclipse scenario on virtual time; the same config
// gives the same result.
func RunEclipse(cfg EclipseConfig) (*EclipseResult, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	clk := clock.NewSimulated(time.Time{})
	e := &eclipseRun{cfg: cfg, clk: clk, hub: NewHub(clk, 50*time.Millisecond), attacker: map[string]bool{},
		rng: rand.New(rand.NewPCG(cfg.Seed, 0xec11)), signed: map[addrbook.NetAddress]bool{}, honest: map[string]honestNode{}}

	var attAddrs, announced []addrbook.NetAddress
	for g := 0; g < cfg.K; g++ {
		for n := 0; n < cfg.PerGroup; n++ {
			attAddrs = append(attAddrs, attackerAddr(g, n))
		}
	}
	announced = append(announced, attAddrs...)
	for g := 0; g < cfg.K; g++ {
		for n := cfg.PerGroup; n < cfg.PerGroup+cfg.FakePerGroup; n++ {
			fake := attackerAddr(g, n)
			announced = append(announced, fake)
			e.attacker[fake.ID] = true
		}
	}
	for i, a := range attAddrs {
		node, err := e.hub.AddNode(NodeConfig{Addr: a, MaxInbound: 1 << 20})
		if err != nil {
			return nil, err
		}
		node.SetHandler(&attackerNode{node: node, all: announced, rng: rand.New(rand.NewPCG(cfg.Seed, uint64(1<<32+i)))})
		e.attacker[a.ID] = true
		e.signed[a] = true
		e.attNodes = append(e.attNodes, node)
	}
	for i := 0; i < cfg.Honest; i++ {
		e.signed[NodeAddr(i)] = true
	}

	reactors := make([]*pex.Reactor, cfg.Honest)
	defer func() {
		for _, r := range reactors {
			if r != nil {
				_ = r.Stop()
			}
		}
	}()
	seedAddr := NodeAddr(0)
	for i := 0; i < cfg.Honest; i++ {
		addr := NodeAddr(i)
		var d Defences
		if i == victimIndex {
			d = cfg.Victim
		}
		book, err := e.newBook(i, addr, d)
		if err != nil {
			return nil, err
		}
		node, err := e.hub.AddNode(NodeConfig{Addr: addr, OverLimitSlots: eclipseOverLimit, Accept: func(id string) error {
			if book.IsBanned(id) {
				return fmt.Errorf("banned %s", id)
			}
			return nil
		}})
		if err != nil {
			return nil, err
		}
		if i == victimIndex {
			e.victim, e.vbook = node, book
		}
		e.honest[addr.ID] = honestNode{node: node, book: book}
		pcfg := pex.DefaultConfig()
		pcfg.EnsurePeersPeriod = cfg.Period
		pcfg.OverLimitGrace = cfg.Period / 3
		if i != 0 {
			pcfg.Seeds = []string{seedAddr.String()}
		}
		reactors[i] = e.newReactor(i, book, node, pcfg, d, 0)
	}
	for i, r := range reactors {
		if err := r.Start(); err != nil {
			return nil, fmt.Errorf("start node %d: %w", i, err)
		}
	}

	for round := 0; round < cfg.WarmRounds; round++ {
		clk.Run(cfg.Period)
	}
	for round := 0; round < cfg.AttackRounds; round++ {
		e.fillInbound()
		clk.Run(cfg.Period)
	}

	res := &EclipseResult{Config: cfg, RoundsToRecover: -1}
	entries := e.vbook.Entries()
	res.BookSize = len(entries)
	poisoned := 0
	for _, en := range entries {
		if e.attacker[en.Addr.ID] {
			poisoned++
		}
		if en.Verified {
			res.Verified++
			if !e.signed[en.Addr] {
				res.FakeVerified++
			}
		}
	}
	if len(entries) > 0 {
		res.PoisonedShare = float64(poisoned) / float64(len(entries))
	}

	// The restart: the reactor (and book) stop, every connection drops,
	// the attacker is first to reconnect.
	vcfg := reactors[victimIndex].Config()
	if err := reactors[victimIndex].Stop(); err != nil {
		return nil, fmt.Errorf("stop victim: %w", err)
	}
	reactors[victimIndex] = nil
	e.victim.SetOnline(false)
	clk.Run(cfg.Period / 10)
	e.victim.SetOnline(true)
	r := e.newReactor(victimIndex, e.vbook, e.victim, vcfg, cfg.Victim, 1)
	e.victim.SetHandler(r)
	e.fillInbound()
	if err := r.Start(); err != nil {
		return nil, fmt.Errorf("restart victim: %w", err)
	}
	reactors[victimIndex] = r
	for round := 1; round <= cfg.AfterRounds; round++ {
		e.fillInbound()
		clk.Run(cfg.Period)
		att, hon := e.outbound()
		res.Outbound = append(res.Outbound, [2]int{att, hon})
		if res.RoundsToRecover < 0 && 2*hon >= e.victim.MaxNumOutboundPeers() {
			res.RoundsToRecover = round
		}
	}
	att, hon := e.outbound()
	if att+hon > 0 {
		res.OutboundShare = float64(att) / float64(att+hon)
	}
	return res, nil
}

// newBook makes node i's book with defences d.
func (e *eclipseRun) newBook(i int, self addrbook.NetAddress, d Defences) (*addrbook.Book, error) {
	opts := addrbook.Options{Strict: true, Now: e.clk.Now, Rand: rand.New(rand.NewPCG(e.cfg.Seed, uint64(2*i+1))),
		TestBeforeEvict: d.TestBeforeEvict}
	if d.ASMap {
		m, err := eclipseASMap(e.cfg.K)
		if err != nil {
			return nil, err
		}
		opts.ASMap = m
	}
	b, err := addrbook.New(opts)
	if err != nil {
		return nil, err
	}
	b.AddOurAddress(self)
	return b, nil
}

// newReactor makes node i's reactor (incarnation gen) with defences d.
func (e *eclipseRun) newReactor(i int, book *addrbook.Book, node *Node, cfg pex.Config, d Defences, gen uint64) *pex.Reactor {
	var opts []pex.Option
	if d.Feelers {
		cfg.FeelerInterval = pex.DefaultFeelerInterval
	}
	if d.Diversity || d.ASMap {
		cfg.OutboundGroupLimit = pex.DefaultOutboundGroupLimit
	}
	if d.Anchors {
		cfg.MaxAnchors = pex.DefaultMaxAnchors
		opts = append(opts, pex.WithAnchors(&e.anchors))
	}
	var rb pex.AddrBook = book
	if d.SignedRecords {
		cfg.PreferVerifiedAddrs = true
		rb = &recordBook{Book: book, signed: e.signed, holds: e.holdsRecord}
	}
	opts = append(opts, pex.WithClock(e.clk), pex.WithExecutor(e.hub.Go),
		pex.WithRand(rand.New(rand.NewPCG(e.cfg.Seed^gen<<40, uint64(2*i+2)))))
	r := pex.NewReactor(rb, node, cfg, opts...)
	node.SetHandler(r)
	return r
}

// fillInbound has attacker nodes, in random order, dial the victim until
// it refuses one: its inbound and over-limit slots are then all taken.
func (e *eclipseRun) fillInbound() {
	for _, k := range e.rng.Perm(len(e.attNodes)) {
		n := e.attNodes[k]
		if n.Connected(e.victim.ID()) {
			continue
		}
		err := n.Dial(context.Background(), e.victim.Addr())
		if errors.Is(err, ErrRejected) {
			return
		}
	}
}

// outbound counts the victim's outbound peers by side.
func (e *eclipseRun) outbound() (attacker, honest int) {
	for _, p := range e.victim.Peers() {
		if !p.Outbound {
			continue
		}
		if e.attacker[p.ID] {
			attacker++
		} else {
			honest++
		}
	}
	return attacker, honest
}

type honestNode struct {
	node *Node
	book *addrbook.Book
}

// holdsRecord reports whether relayer can pass on a valid record for
// id: its own; an honest node's for a peer it is or was connected to;
// the attacker's for any of its nodes.
func (e *eclipseRun) holdsRecord(relayer addrbook.NetAddress, id string) bool {
	if relayer.ID == id {
		return true
	}
	if e.attacker[relayer.ID] {
		return e.attacker[id]
	}
	h, ok := e.honest[relayer.ID]
	return ok && (h.book.IsGood(id) || h.node.Connected(id))
}

// recordBook is a book fed as the transport feeds it with signed records
// on: an address is stored as AddAddress stores it (so the buckets evolve
// as upstream's) and then marked verified if its record comes with it,
// which holds decides for the relayer; a peer marked good has just been
// connected, and identify brings its own record.
type recordBook struct {
	*addrbook.Book
	signed map[addrbook.NetAddress]bool
	holds  func(relayer addrbook.NetAddress, id string) bool
}

func (b *recordBook) AddAddress(addr, src addrbook.NetAddress) error {
	if err := b.Book.AddAddress(addr, src); err != nil || !b.signed[addr] || !b.holds(src, addr.ID) {
		return err
	}
	return b.Book.AddVerified(addr.ID, []addrbook.NetAddress{addr}, src)
}

func (b *recordBook) MarkGood(id string) {
	b.Book.MarkGood(id)
	if a, ok := b.Book.Lookup(id); ok && b.signed[a] {
		_ = b.Book.AddVerified(id, []addrbook.NetAddress{a}, a) // a is stored, so it passes
	}
}
