package discovery

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	tmp2p "github.com/cometbft/cometbft/proto/tendermint/p2p"

	"github.com/pexp2p/pexp2p/pex"
	"github.com/pexp2p/pexp2p/pexnode"
	"github.com/pexp2p/pexp2p/testnet"
	"github.com/pexp2p/pexp2p/transport"
)

// traceEvent is one hand-over from a node's face to its reactor.
type traceEvent struct {
	at       time.Time
	kind     string // "add", "remove", "addrs", "request"
	peer     string
	outbound bool
	addrs    int // entries of a PexAddrs
}

// timeline records every node's events and dial outcomes.
type timeline struct {
	mu     sync.Mutex
	events map[int][]traceEvent
	dials  map[pex.DialResult]int
	seedID string
}

func (tl *timeline) add(i int, ev traceEvent) {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	tl.events[i] = append(tl.events[i], ev)
}

// tracer stands between node i's face and its reactor.
type tracer struct {
	transport.Handler
	i  int
	tl *timeline
}

func (h tracer) AddPeer(p pex.PeerInfo) {
	h.tl.add(h.i, traceEvent{at: time.Now(), kind: "add", peer: p.ID, outbound: p.Outbound})
	h.Handler.AddPeer(p)
}

func (h tracer) RemovePeer(id string, reason any) {
	h.tl.add(h.i, traceEvent{at: time.Now(), kind: "remove", peer: id})
	h.Handler.RemovePeer(id, reason)
}

func (h tracer) Receive(id string, msg pex.Message) { h.ReceiveAt(id, msg, time.Now()) }

// ReceiveAt passes the face's arrival time on, since the reactor measures
// a peer's request rate from it.
func (h tracer) ReceiveAt(id string, msg pex.Message, arrived time.Time) {
	ev := traceEvent{at: arrived, kind: "request", peer: id}
	m := msg
	if w, ok := m.(*tmp2p.Message); ok {
		if inner, err := w.Unwrap(); err == nil {
			m = inner
		}
	}
	if a, ok := m.(*tmp2p.PexAddrs); ok {
		ev.kind, ev.addrs = "addrs", len(a.Addrs)
	}
	h.tl.add(h.i, ev)
	transport.DeliverAt(h.Handler, id, msg, arrived)
}

// dialCounter counts the outcomes of every node's dials.
type dialCounter struct {
	pex.NopObserver
	tl *timeline
}

func (d dialCounter) Dial(r pex.DialResult) {
	d.tl.mu.Lock()
	defer d.tl.mu.Unlock()
	d.tl.dials[r]++
}

// Diagnostic for the rounds to the peer target: a per-node timeline of one
// pexp2p discovery run (when each node got the seed, the seed's answer and
// how many addresses it held, when it reached the peer target), with the
// slowest nodes' events and every dial's outcome. Run with
// PEXP2P_DISCOVERY_TIMELINE=N (and PEXP2P_DISCOVERY_SEED=false for a
// regular seed); skipped otherwise.
func TestDiscoveryTimeline(t *testing.T) {
	nStr := os.Getenv("PEXP2P_DISCOVERY_TIMELINE")
	if nStr == "" {
		t.Skip("diagnostic; set PEXP2P_DISCOVERY_TIMELINE=N")
	}
	n, err := strconv.Atoi(nStr)
	if err != nil {
		t.Fatalf("PEXP2P_DISCOVERY_TIMELINE=%q: %v", nStr, err)
	}
	spec := testnet.DefaultSpec()
	spec.Nodes, spec.SeedMode, spec.Duration = n, os.Getenv("PEXP2P_DISCOVERY_SEED") != "false", 40*time.Second
	if err := spec.Validate(); err != nil {
		t.Fatal(err)
	}
	tl := &timeline{events: map[int][]traceEvent{}, dials: map[pex.DialResult]int{}}
	hooks := testnet.Libp2pHooks{
		Options: func(i int, o *pexnode.Options) {
			o.Observers = append(o.Observers, dialCounter{tl: tl})
		},
		Built: func(i int, nd *pexnode.Node) {
			if i == 0 {
				tl.mu.Lock()
				tl.seedID = nd.Key.PeerID().String()
				tl.mu.Unlock()
			}
			nd.WrapHandler(func(h transport.Handler) transport.Handler { return tracer{Handler: h, i: i, tl: tl} })
		},
	}
	// The run's clock starts inside Measure; the first sample says when.
	var start time.Time
	res, err := testnet.Measure(context.Background(), testnet.Libp2p(spec, hooks), spec.Criteria(),
		func(el time.Duration, _, _, _ int) {
			if start.IsZero() {
				start = time.Now().Add(-el)
			}
		})
	if err != nil {
		t.Fatal(err)
	}
	var sb strings.Builder
	_ = testnet.WriteTable(&sb, spec, []testnet.StackResult{res})
	t.Logf("\n%s", sb.String())

	tl.mu.Lock()
	defer tl.mu.Unlock()
	since := func(at time.Time) float64 { return at.Sub(start).Seconds() }
	target := spec.Criteria().PeerTarget
	type row struct {
		node                          int
		seedAdd, seedAddrs, atTarget  float64
		seedN, removes, adds, inbound int
	}
	var rows []row
	for i := spec.Seeds; i < n; i++ {
		r := row{node: i, seedAdd: -1, seedAddrs: -1, atTarget: -1}
		peers := map[string]bool{}
		for _, e := range tl.events[i] {
			switch e.kind {
			case "add":
				peers[e.peer] = true
				r.adds++
				if !e.outbound {
					r.inbound++
				}
				if e.peer == tl.seedID && r.seedAdd < 0 {
					r.seedAdd = since(e.at)
				}
			case "remove":
				delete(peers, e.peer)
				r.removes++
			case "addrs":
				if e.peer == tl.seedID && r.seedAddrs < 0 {
					r.seedAddrs, r.seedN = since(e.at), e.addrs
				}
			}
			if r.atTarget < 0 && len(peers) >= target {
				r.atTarget = since(e.at)
			}
		}
		rows = append(rows, r)
	}
	// Never-reached (-1) sorts last.
	key := func(r row) float64 {
		if r.atTarget < 0 {
			return 1e9
		}
		return r.atTarget
	}
	sort.Slice(rows, func(a, b int) bool { return key(rows[a]) < key(rows[b]) })
	var b strings.Builder
	fmt.Fprintf(&b, "node  seed-added  seed-answer(n)  at-target  adds(in)  removes\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "%4d  %9.3fs  %9.3fs(%3d)  %8.3fs  %4d(%2d)  %4d\n", r.node, r.seedAdd, r.seedAddrs, r.seedN, r.atTarget, r.adds, r.inbound, r.removes)
	}
	t.Logf("per node (sorted by time to %d peers; -1 = never):\n%s", target, b.String())
	t.Logf("dial outcomes: %v", tl.dials)
	for _, r := range rows[max(0, len(rows)-3):] {
		var lines []string
		for _, e := range tl.events[r.node] {
			lines = append(lines, fmt.Sprintf("%7.3fs %s %s out=%v n=%d", since(e.at), e.kind, short(e.peer, tl.seedID), e.outbound, e.addrs))
		}
		t.Logf("slow node %d:\n%s", r.node, strings.Join(lines, "\n"))
	}
}

func short(id, seed string) string {
	if id == seed {
		return "SEED"
	}
	if len(id) > 8 {
		return id[len(id)-6:]
	}
	return id
}
