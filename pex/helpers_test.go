package pex_test

import (
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	tmp2p "github.com/cometbft/cometbft/proto/tendermint/p2p"
	"go.uber.org/goleak"

	"github.com/pexp2p/pexp2p/addrbook"
	"github.com/pexp2p/pexp2p/internal/clock"
	"github.com/pexp2p/pexp2p/internal/pexrec"
	"github.com/pexp2p/pexp2p/pex"
	"github.com/pexp2p/pexp2p/pex/pextest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const latency = 10 * time.Millisecond

// env is one virtual-time network of reactors and scripted peers.
type env struct {
	t   *testing.T
	clk *clock.Simulated
	hub *pextest.Hub
	obs *countObserver
}

func newEnv(t *testing.T) *env {
	clk := clock.NewSimulated(time.Time{})
	return &env{t: t, clk: clk, hub: pextest.NewHub(clk, latency), obs: newCountObserver()}
}

// tnode is a node running a reactor over a real book.
type tnode struct {
	addr addrbook.NetAddress
	book *addrbook.Book
	node *pextest.Node
	r    *pex.Reactor
}

func (e *env) newBook(i int) *addrbook.Book {
	b, err := addrbook.New(addrbook.Options{Strict: true, Now: e.clk.Now, Rand: rand.New(rand.NewPCG(7, uint64(i)))})
	if err != nil {
		e.t.Fatal(err)
	}
	b.AddOurAddress(pextest.NodeAddr(i))
	return b
}

// reactorNode adds node i with a reactor (not started).
func (e *env) reactorNode(i int, cfg pex.Config, ncfg func(*pextest.NodeConfig)) *tnode {
	e.t.Helper()
	return e.reactorNodeWithBook(i, e.newBook(i), cfg, ncfg)
}

// hubNode adds node i to the hub, at pextest.NodeAddr(i) unless ncfg
// says otherwise.
func (e *env) hubNode(i int, ncfg func(*pextest.NodeConfig)) (*pextest.Node, pextest.NodeConfig) {
	e.t.Helper()
	nc := pextest.NodeConfig{Addr: pextest.NodeAddr(i)}
	if ncfg != nil {
		ncfg(&nc)
	}
	node, err := e.hub.AddNode(nc)
	if err != nil {
		e.t.Fatal(err)
	}
	return node, nc
}

func (e *env) reactorNodeWithBook(i int, book pex.AddrBook, cfg pex.Config, ncfg func(*pextest.NodeConfig)) *tnode {
	e.t.Helper()
	node, nc := e.hubNode(i, ncfg)
	r := pex.NewReactor(book, node, cfg, pex.WithClock(e.clk), pex.WithExecutor(e.hub.Go),
		pex.WithRand(rand.New(rand.NewPCG(11, uint64(i)))), pex.WithObserver(e.obs))
	node.SetHandler(r)
	tn := &tnode{addr: nc.Addr, node: node, r: r}
	if b, ok := book.(*addrbook.Book); ok {
		tn.book = b
	}
	return tn
}

func (e *env) start(tn *tnode) {
	e.t.Helper()
	if err := tn.r.Start(); err != nil {
		e.t.Fatalf("start: %v", err)
	}
	e.t.Cleanup(func() { _ = tn.r.Stop() })
}

// startNode adds node i with a reactor and starts it.
func (e *env) startNode(i int, cfg pex.Config) *tnode {
	e.t.Helper()
	n := e.reactorNode(i, cfg, nil)
	e.start(n)
	return n
}

// startSeed adds node 0 with a reactor in seed mode and starts it.
func (e *env) startSeed(cfg pex.Config) *tnode {
	e.t.Helper()
	cfg.SeedMode = true
	return e.startNode(0, cfg)
}

// punished reports whether n has disconnected and banned p.
func punished(n *tnode, p *peer) bool {
	return !n.node.Connected(p.addr.ID) && n.book.IsBanned(p.addr.ID)
}

// wantPunishedUnanswered fails the test unless p was punished for its
// last request (what), which got no answer: p holds only the answered
// answers to its earlier ones.
func wantPunishedUnanswered(t *testing.T, n *tnode, p *peer, answered int, what string) {
	t.Helper()
	if !punished(n, p) {
		t.Fatalf("%s was not punished", what)
	}
	if got := len(p.rec.Answers(n.addr.ID)); got != answered {
		t.Fatalf("answers %d, want %d (none to the abusive request)", got, answered)
	}
}

// peer is a scripted remote: a Hub node without a reactor that records
// what it receives.
type peer struct {
	addr addrbook.NetAddress
	node *pextest.Node
	rec  *pexrec.Recorder
}

func (e *env) peer(i int, ncfg func(*pextest.NodeConfig)) *peer {
	e.t.Helper()
	node, nc := e.hubNode(i, ncfg)
	rec := &pexrec.Recorder{}
	node.SetHandler(rec)
	return &peer{addr: nc.Addr, node: node, rec: rec}
}

// dial connects from → to and runs pending work.
func (e *env) dial(from *pextest.Node, to addrbook.NetAddress) {
	e.t.Helper()
	if err := from.Dial(e.t.Context(), to); err != nil {
		e.t.Fatalf("dial %s: %v", to, err)
	}
	e.settle()
}

// settle lets every message in flight arrive (a few latencies), without
// reaching any period.
func (e *env) settle() { e.clk.Run(5 * latency) }

// send delivers msg from p to id and lets it settle.
func (e *env) send(p *peer, id string, msg pex.Message) {
	e.t.Helper()
	if !p.node.Send(id, msg) {
		e.t.Fatalf("send to %s: not connected", id)
	}
	e.settle()
}

type countObserver struct {
	mu          sync.Mutex
	sent, recv  int
	addrs       int
	misbehavior map[pex.Reason]int
	bans        int
	dials       map[pex.DialResult]int
}

func newCountObserver() *countObserver {
	return &countObserver{misbehavior: map[pex.Reason]int{}, dials: map[pex.DialResult]int{}}
}

func (o *countObserver) PexRequest(d pex.Direction) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if d == pex.DirSent {
		o.sent++
	} else {
		o.recv++
	}
}
func (o *countObserver) AddrsReceived(n int) { o.mu.Lock(); o.addrs += n; o.mu.Unlock() }
func (o *countObserver) Misbehavior(r pex.Reason) {
	o.mu.Lock()
	o.misbehavior[r]++
	o.mu.Unlock()
}
func (o *countObserver) Ban()                  { o.mu.Lock(); o.bans++; o.mu.Unlock() }
func (o *countObserver) Dial(r pex.DialResult) { o.mu.Lock(); o.dials[r]++; o.mu.Unlock() }
func (o *countObserver) misb(r pex.Reason) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.misbehavior[r]
}

// testConfig is DefaultConfig with no seeds; periods stay upstream's.
func testConfig() pex.Config { return pex.DefaultConfig() }

func addrsMsg(addrs ...addrbook.NetAddress) *tmp2p.PexAddrs {
	return &tmp2p.PexAddrs{Addrs: pex.AddrsToProto(addrs)}
}
