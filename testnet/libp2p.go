package testnet

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"

	ma "github.com/multiformats/go-multiaddr"

	"github.com/pexp2p/pexp2p/pex"
	"github.com/pexp2p/pexp2p/pexnode"
	"github.com/pexp2p/pexp2p/transport"
)

// Libp2pHooks adjust the nodes of a libp2p cluster, for diagnostics and
// for the command's logging. Both are called from Start, node by node.
type Libp2pHooks struct {
	// Options, when set, adjusts node i's options before it is built
	// (observers, loggers).
	Options func(i int, o *pexnode.Options)
	// Built, when set, sees node i once built, before it starts
	// (pexnode.Node.WrapHandler, its identity).
	Built func(i int, n *pexnode.Node)
}

// Libp2p is pexp2p's stack on spec's topology: N nodes built by pexnode
// (book, reactor and a real libp2p host each) in this process, node i
// listening on LoopbackIP(i) on an ephemeral port over spec.Transport,
// with in-memory non-strict books. The first spec.Seeds nodes are
// everyone else's seeds.
func Libp2p(spec Spec, hooks Libp2pHooks) Cluster {
	return &libp2pCluster{spec: spec, hooks: hooks, obs: &Counter{}}
}

type libp2pCluster struct {
	spec  Spec
	hooks Libp2pHooks
	obs   *Counter
	nodes []*pexnode.Node
	ids   []string
	seedM []bool // seed-mode nodes, not measured
	// started marks the nodes Stop must stop: a node built but never
	// started holds no socket, file or goroutine.
	started []bool
	// stopParallelism bounds how many nodes close at once (default four
	// per core); afterQuiet, for tests, runs between Stop's two passes.
	stopParallelism int
	afterQuiet      func()
}

func (c *libp2pCluster) Name() string { return "pexp2p/libp2p-" + c.spec.Transport }

// options are node i's: upstream's reactor defaults except the periods,
// which follow spec.Period so that a short demo round does not leave
// backoffs and crawl spacing at upstream's 30 s scale.
func (c *libp2pCluster) options(i int, seeds []transport.ConfigPeer) (pexnode.Options, error) {
	key, err := transport.GenNodeKey(nil)
	if err != nil {
		return pexnode.Options{}, err
	}
	l := "/ip4/" + LoopbackIP(i) + "/udp/0/quic-v1"
	if c.spec.Transport == "tcp" {
		l = "/ip4/" + LoopbackIP(i) + "/tcp/0"
	}
	listen, err := ma.NewMultiaddr(l)
	if err != nil {
		return pexnode.Options{}, err
	}
	period := c.spec.Period
	pc := pex.DefaultConfig()
	pc.IDRule = transport.PeerIDs
	pc.SeedMode = c.spec.SeedMode && i < c.spec.Seeds
	pc.EnsurePeersPeriod = period
	pc.CrawlPeerPeriod = period
	pc.MinTimeBetweenCrawls = 4 * period
	pc.OverLimitGrace = period
	o := pexnode.Options{
		Key: key,
		Transport: transport.Config{
			ListenAddrs:      []ma.Multiaddr{listen},
			Network:          c.spec.ChainID,
			Moniker:          fmt.Sprintf("node%d", i),
			Version:          "pexp2p",
			MaxInboundPeers:  c.spec.MaxInbound,
			MaxOutboundPeers: c.spec.MaxOutbound,
			SeedMode:         pc.SeedMode,
			Seeds:            seeds,
		},
		PEX:       &pc,
		Observers: []pex.Observer{c.obs},
	}
	if c.hooks.Options != nil {
		c.hooks.Options(i, &o)
	}
	return o, nil
}

func (c *libp2pCluster) build(i int, seeds []transport.ConfigPeer) (*pexnode.Node, error) {
	o, err := c.options(i, seeds)
	if err != nil {
		return nil, err
	}
	n, err := pexnode.New(o)
	if err != nil {
		return nil, err
	}
	if c.hooks.Built != nil {
		c.hooks.Built(i, n)
	}
	return n, nil
}

// Start starts the seeds first (their listen ports are ephemeral and must
// be known), then every other node at once.
func (c *libp2pCluster) Start(ctx context.Context) error {
	N, K := c.spec.Nodes, c.spec.Seeds
	if N < 2 || K < 1 || K >= N {
		return specErr("nodes", fmt.Sprintf("%d with %d seeds", N, K), "need at least one seed and one other node")
	}
	c.nodes = make([]*pexnode.Node, N)
	c.ids = make([]string, N)
	c.seedM = make([]bool, N)
	c.started = make([]bool, N)
	var seeds []transport.ConfigPeer
	for i := 0; i < K; i++ {
		n, err := c.startNode(i, nil, nil)
		if err != nil {
			return fmt.Errorf("seed %d: %w", i, err)
		}
		c.nodes[i], c.ids[i], c.seedM[i], c.started[i] = n, n.Key.PeerID().String(), c.spec.SeedMode, true
		as := n.Transport.OurNetAddresses()
		if len(as) == 0 {
			return fmt.Errorf("seed %d has no address", i)
		}
		cp, err := transport.ParseConfigPeers(as[0].String())
		if err != nil {
			return fmt.Errorf("seed %d: %w", i, err)
		}
		seeds = append(seeds, cp...)
	}
	for i := K; i < N; i++ {
		n, err := c.build(i, seeds)
		if err != nil {
			return fmt.Errorf("node %d: %w", i, err)
		}
		c.nodes[i], c.ids[i] = n, n.Key.PeerID().String()
	}
	errs := make([]error, N)
	var wg sync.WaitGroup
	for i := K; i < N; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := ctx.Err(); err != nil {
				errs[i] = err
				return
			}
			n, err := c.startNode(i, seeds, c.nodes[i])
			if err == nil {
				c.nodes[i], c.ids[i], c.started[i] = n, n.Key.PeerID().String(), true
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			return fmt.Errorf("node %d: %w", i, err)
		}
	}
	return nil
}

// startNode starts built (if any) or a new node i. An ephemeral listen
// port can be taken by another process between the moment the transport
// picks it (one port shared by QUIC and TCP) and the bind; that says
// nothing about discovery, so the node is rebuilt on a new port, up to
// three times.
func (c *libp2pCluster) startNode(i int, seeds []transport.ConfigPeer, built *pexnode.Node) (*pexnode.Node, error) {
	n := built
	var err error
	for range 3 {
		if n == nil {
			if n, err = c.build(i, seeds); err != nil {
				return nil, err
			}
		}
		if err = n.Start(); err == nil || !strings.Contains(err.Error(), "address already in use") {
			return n, err
		}
		n = nil
	}
	return nil, err
}

func (c *libp2pCluster) Sample() []NodeSample {
	out := make([]NodeSample, 0, len(c.nodes))
	for i, n := range c.nodes {
		if !c.started[i] || c.seedM[i] {
			continue
		}
		// Known is the book's size: in this closed network a book holds
		// only other testnet nodes, one entry per ID, never its own (the
		// node registers its addresses with AddOurAddress at start, and
		// the book refuses its ID from then on);
		// TestLibp2pSampleCountsOtherNodesInBooks checks it. Copying
		// every book (Entries) five times a round cost 51 µs and 50 KB
		// per 192-entry book, growing with N² over the network, all
		// charged to the stack under measurement; asking HasAddress for
		// each of the N − 1 others is N² lookups.
		out = append(out, NodeSample{Peers: len(n.Transport.Peers()), Known: n.Book.Size()})
	}
	return out
}

func (c *libp2pCluster) Traffic() Traffic {
	t := c.obs.Traffic()
	for i, n := range c.nodes {
		if c.started[i] {
			msgs, bytes := n.Traffic.Sent()
			t.Msgs += msgs
			t.Bytes += bytes
		}
	}
	return t
}

// Stop takes the cluster down in two passes. First every reactor stops,
// so that no node reacts to its peers going away by dialing a
// replacement (a node that lost a peer redials within a period, and with
// hundreds of hosts closing, those dials and their handshakes were most of
// a slow teardown); then every node closes its host and book, at most
// stopParallelism at a time, since closing hosts all at once only
// contends for the same cores.
func (c *libp2pCluster) Stop() error {
	var started []*pexnode.Node
	for i, n := range c.nodes {
		if c.started[i] {
			started = append(started, n)
		}
	}
	limit := c.stopParallelism
	if limit <= 0 {
		limit = 4 * runtime.GOMAXPROCS(0)
	}
	quiet := forEachBounded(len(started), limit, func(i int) error {
		if r := started[i].Reactor; r != nil {
			if err := r.Stop(); err != nil && !errors.Is(err, pex.ErrNotStarted) {
				return err
			}
		}
		return nil
	})
	if c.afterQuiet != nil {
		c.afterQuiet()
	}
	closed := forEachBounded(len(started), limit, func(i int) error {
		return errors.Join(started[i].Transport.Stop(), started[i].Book.Stop())
	})
	c.nodes, c.started = nil, nil
	return errors.Join(append(quiet, closed...)...)
}

// forEachBounded runs f(0) … f(n−1) with at most limit running at once
// and returns their errors by index.
func forEachBounded(n, limit int, f func(i int) error) []error {
	errs := make([]error, n)
	sem := make(chan struct{}, max(limit, 1))
	var wg sync.WaitGroup
	for i := range n {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			errs[i] = f(i)
		}()
	}
	wg.Wait()
	return errs
}
