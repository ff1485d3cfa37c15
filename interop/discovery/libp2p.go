package discovery

import (
	"crypto/rand"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	tmp2p "github.com/cometbft/cometbft/proto/tendermint/p2p"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/pexp2p/pexp2p/addrbook"
	"github.com/pexp2p/pexp2p/pex"
	"github.com/pexp2p/pexp2p/transport"
)

// Libp2p is pexp2p's stack: transport.Node (QUIC and TCP on one port)
// with pex.Reactor and an in-memory, non-strict addrbook.Book keyed by
// peer IDs. Every period and limit is pex.DefaultConfig's (upstream's),
// except EnsurePeersPeriod = cfg.Period and OverLimitGrace = Period/3
// (its default is the default period's third).
func Libp2p() Stack { return libp2pStack{} }

type libp2pStack struct {
	// logger, when set, gives node i's reactor its own logger
	// (diagnostics: which node sent and received what).
	logger func(i int) pex.Logger
	// trace, when set, hears what the face hands node i's reactor
	// (diagnostics: a per-node timeline of peers and answers).
	trace func(i int, ev traceEvent)
	// wrapNet, when set, stands between node i's reactor and its face
	// (diagnostics: dial latencies and errors).
	wrapNet func(i int, n pex.Network) pex.Network
}

// traceEvent is one hand-over from the face to a reactor.
type traceEvent struct {
	Kind     string // "add", "remove", "addrs", "request"
	Peer     string
	Outbound bool
	Addrs    int // entries of a PexAddrs
}

func (libp2pStack) Name() string { return "pexp2p" }

type libp2pNode struct {
	node    *transport.Node
	book    *addrbook.Book
	reactor *pex.Reactor
	started bool
}

type libp2pNet struct{ nodes []*libp2pNode }

func (st libp2pStack) Build(cfg Config) (Network, error) {
	cfg, err := cfg.WithDefaults()
	if err != nil {
		return nil, err
	}
	n := &libp2pNet{}
	var seed string
	for i := 0; i < cfg.Nodes; i++ {
		nd, err := newLibp2pNode(cfg, i, seed, st)
		if err != nil {
			_ = n.Stop()
			return nil, fmt.Errorf("pexp2p node %d: %w", i, err)
		}
		n.nodes = append(n.nodes, nd)
		if i == 0 {
			seed = nd.node.OurNetAddresses()[0].String()
		}
	}
	return n, nil
}

func newLibp2pNode(cfg Config, i int, seed string, st libp2pStack) (*libp2pNode, error) {
	key, err := transport.GenNodeKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	book, err := addrbook.New(addrbook.Options{IDRule: transport.PeerIDs, Seed: uint64(i + 1)})
	if err != nil {
		return nil, err
	}
	ip := NodeIP(i)
	node, err := transport.NewNode(key, transport.Config{
		ListenAddrs: []ma.Multiaddr{
			ma.StringCast("/ip4/" + ip + "/udp/0/quic-v1"),
			ma.StringCast("/ip4/" + ip + "/tcp/0"),
		},
		Network:          "discovery-bench",
		Moniker:          fmt.Sprintf("pexp2p-%d", i),
		MaxInboundPeers:  cfg.MaxInbound,
		MaxOutboundPeers: cfg.MaxOutbound,
		AllowDuplicateIP: true,
		Bans:             book,
	})
	if err != nil {
		return nil, err
	}
	// The reactor needs the seed's address, known only once its node
	// listens, and the node needs its handler before it starts.
	proxy := &handlerProxy{}
	if st.trace != nil {
		proxy.trace = func(ev traceEvent) { st.trace(i, ev) }
	}
	node.SetHandler(proxy)
	if err := node.Start(); err != nil {
		return nil, err
	}
	ours := node.OurNetAddresses()
	if len(ours) == 0 {
		_ = node.Stop()
		return nil, errors.New("node has no usable listen address")
	}
	for _, a := range ours {
		book.AddOurAddress(a)
	}
	pc := pex.DefaultConfig()
	pc.IDRule = transport.PeerIDs
	pc.EnsurePeersPeriod = cfg.Period
	pc.OverLimitGrace = cfg.Period / 3
	pc.SeedMode = cfg.SeedMode && i == 0
	if i == 0 {
		// As on the classic stack: the reactor will not start with an
		// empty book and no seed, so the seed lists itself.
		seed = ours[0].String()
	}
	pc.Seeds = []string{seed}
	var opts []pex.Option
	if st.logger != nil {
		opts = append(opts, pex.WithLogger(st.logger(i)))
	}
	var pn pex.Network = node
	if st.wrapNet != nil {
		pn = st.wrapNet(i, node)
	}
	r := pex.NewReactor(book, pn, pc, opts...)
	proxy.r.Store(r)
	return &libp2pNode{node: node, book: book, reactor: r}, nil
}

func (n *libp2pNet) Start() error {
	for i, nd := range n.nodes {
		if err := nd.reactor.Start(); err != nil {
			return fmt.Errorf("pexp2p node %d: %w", i, err)
		}
		nd.started = true
	}
	return nil
}

func (n *libp2pNet) Snapshot() []NodeStat {
	out := make([]NodeStat, len(n.nodes))
	for i, nd := range n.nodes {
		o, in, _ := nd.node.NumPeers()
		out[i] = NodeStat{Outbound: o, Inbound: in, Book: nd.book.Size(), Bans: len(nd.book.Bans())}
	}
	return out
}

func (n *libp2pNet) Stop() error {
	var errs []error
	for _, nd := range n.nodes {
		if nd.started {
			errs = append(errs, nd.reactor.Stop())
		}
	}
	for _, nd := range n.nodes {
		errs = append(errs, nd.node.Stop())
	}
	return errors.Join(errs...)
}

// handlerProxy hands peers and messages to the reactor once it exists;
// nothing arrives before then, since no node dials before Start.
type handlerProxy struct {
	r     atomic.Pointer[pex.Reactor]
	trace func(traceEvent)
}

func (h *handlerProxy) AddPeer(p pex.PeerInfo) {
	if h.trace != nil {
		h.trace(traceEvent{Kind: "add", Peer: p.ID, Outbound: p.Outbound})
	}
	if r := h.r.Load(); r != nil {
		r.AddPeer(p)
	}
}

func (h *handlerProxy) RemovePeer(id string, reason any) {
	if h.trace != nil {
		h.trace(traceEvent{Kind: "remove", Peer: id})
	}
	if r := h.r.Load(); r != nil {
		r.RemovePeer(id, reason)
	}
}

func (h *handlerProxy) Receive(id string, msg pex.Message) {
	h.ReceiveAt(id, msg, time.Time{})
}

// ReceiveAt passes the face's arrival time on to the reactor (Q4 is
// measured from it, see transport.ArrivalReceiver).
func (h *handlerProxy) ReceiveAt(id string, msg pex.Message, arrived time.Time) {
	if h.trace != nil {
		ev := traceEvent{Kind: "request", Peer: id}
		m := msg
		if w, ok := m.(*tmp2p.Message); ok {
			if inner, err := w.Unwrap(); err == nil {
				m = inner
			}
		}
		if a, ok := m.(*tmp2p.PexAddrs); ok {
			ev.Kind, ev.Addrs = "addrs", len(a.Addrs)
		}
		h.trace(ev)
	}
	if r := h.r.Load(); r != nil {
		r.ReceiveAt(id, msg, arrived)
	}
}
