package cometnode

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"sync"

	cmtcfg "github.com/cometbft/cometbft/config"
	cmtlog "github.com/cometbft/cometbft/libs/log"
	"github.com/cometbft/cometbft/lp2p"
	"github.com/cometbft/cometbft/node"
	"github.com/cometbft/cometbft/p2p"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/pexp2p/pexp2p/addrbook"
	"github.com/pexp2p/pexp2p/pex"
	"github.com/pexp2p/pexp2p/pexnode"
	"github.com/pexp2p/pexp2p/transport"
)

// ErrNotLibp2p: the node runs CometBFT's classic p2p stack, which has its
// own PEX; cometnode serves nodes with [p2p.libp2p] enabled = true.
var ErrNotLibp2p = errors.New("cometnode: the node does not use the libp2p switch ([p2p.libp2p] enabled = false)")

// ErrKeyMismatch: the key given to cometnode is not the node's key.
var ErrKeyMismatch = errors.New("cometnode: node key differs from the node's libp2p identity")

// Option adjusts a Discovery.
type Option func(*Discovery)

// WithSettings replaces what New read from config.toml (after it read
// it), e.g. a shorter ensure-peers period for a testnet.
func WithSettings(adjust func(*Settings)) Option {
	return func(d *Discovery) { adjust(&d.settings) }
}

// WithObservers hands the PEX reactor's events to observers (metrics).
func WithObservers(obs ...pex.Observer) Option {
	return func(d *Discovery) { d.observers = append(d.observers, obs...) }
}

// WithRegisterer registers pexp2p's metrics on reg instead of the
// default registry that CometBFT's Prometheus server serves.
func WithRegisterer(reg prometheus.Registerer) Option {
	return func(d *Discovery) { d.registerer = reg }
}

// MetricsPrefix starts the names of pexp2p's metrics on a CometBFT node
// (pexp2p_cometbft_p2p_peers, pexp2p_cometbft_p2p_addrbook_size, …):
// CometBFT already registers cometbft_p2p_peers with other labels.
const MetricsPrefix = "pexp2p_"

// Discovery is pexp2p's peer discovery for one CometBFT v0.40 node on
// libp2p: pexp2p's face becomes the node's only libp2p host (one key, one
// peer ID, QUIC and TCP listeners), the PEX reactor and address book run
// beside CometBFT's reactors, and every peer PEX connects that speaks
// the reactors' protocols is handed to the switch.
//
// Build it with New before node.NewNode (which turns [p2p] pex off on
// libp2p), pass Option() to NewNode, and check Err() afterwards; or use
// Provider, which does all three.
type Discovery struct {
	cfg        *cmtcfg.Config
	settings   Settings
	logger     cmtlog.Logger
	key        *transport.NodeKey
	asmap      *addrbook.ASMap
	observers  []pex.Observer
	registerer prometheus.Registerer

	mu       sync.Mutex
	err      error
	node     *pexnode.Node
	handoff  *handoff
	stop     chan struct{}
	loopDone chan struct{}
	stopOnce sync.Once
	stopErr  error
}

// New reads the discovery settings from c and the node key from
// c.NodeKeyFile() (created if absent, as CometBFT does). It must run
// before node.NewNode.
func New(c *cmtcfg.Config, logger cmtlog.Logger, opts ...Option) (*Discovery, error) {
	s, err := SettingsFromConfig(c)
	if err != nil {
		return nil, err
	}
	nk, err := p2p.LoadOrGenNodeKey(c.NodeKeyFile())
	if err != nil {
		return nil, fmt.Errorf("cometnode: node key %s: %w", c.NodeKeyFile(), err)
	}
	key, err := transport.NewNodeKey(ed25519.PrivateKey(nk.PrivKey.Bytes()))
	if err != nil {
		return nil, fmt.Errorf("cometnode: node key %s: %w", c.NodeKeyFile(), err)
	}
	d := &Discovery{cfg: c, settings: s, logger: logger.With("module", "pexp2p"), key: key}
	for _, w := range s.Warnings {
		d.logger.Error("left out of the configuration", "err", w)
	}
	for _, o := range opts {
		o(d)
	}
	// Checked after the options, which may set them, and before NewNode,
	// so that a bad value stops the node before anything is built.
	if d.asmap, err = d.settings.checkDefences(c.RootDir); err != nil {
		return nil, err
	}
	return d, nil
}

// Settings are the settings in force.
func (d *Discovery) Settings() Settings { return d.settings }

// Option attaches discovery to the node being built; NewNode runs it last,
// before the node starts. It cannot return an error: check Err().
func (d *Discovery) Option() node.Option {
	return func(n *node.Node) {
		err := d.Attach(n)
		d.mu.Lock()
		d.err = err
		d.mu.Unlock()
	}
}

// Err is the error of attaching through Option, nil when it worked.
func (d *Discovery) Err() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.err
}

// Node is the running discovery node (book, reactor, face); nil before
// Attach.
func (d *Discovery) Node() *pexnode.Node {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.node
}

// Attach makes pexp2p's face the host of n's libp2p switch and starts
// discovery. n must be built with libp2p on and not started yet. The
// host CometBFT built is closed first, which frees its listen port for
// the face. Stopping n stops discovery and saves the book.
func (d *Discovery) Attach(n *node.Node) error {
	sw, ok := n.Switch().(*lp2p.Switch)
	if !ok {
		return ErrNotLibp2p
	}
	lh, err := switchHost(sw)
	if err != nil {
		return err
	}
	// NewNode turned [p2p] pex off in the caller's config because libp2p
	// is on; it read the key only while building. Putting the operator's
	// value back keeps a config reused for another node (a restart in
	// the same process) from silently losing discovery.
	n.Config().P2P.PexReactor = d.settings.PEX
	if lh.ID() != d.key.PeerID() {
		return fmt.Errorf("%w: key %s, node %s", ErrKeyMismatch, d.key.PeerID(), lh.ID())
	}
	info, ok := n.NodeInfo().(p2p.DefaultNodeInfo)
	if !ok {
		return fmt.Errorf("cometnode: unexpected node info type %T", n.NodeInfo())
	}
	s := d.settings
	tc := transport.Config{
		ListenAddrs:          s.Listen,
		ExternalAddrs:        s.External,
		Network:              info.Network,
		Moniker:              info.Moniker,
		Version:              info.Version,
		MaxInboundPeers:      s.MaxInbound,
		MaxOutboundPeers:     s.MaxOutbound,
		PersistentPeers:      s.Persistent,
		Seeds:                s.Seeds,
		UnconditionalPeerIDs: s.Unconditional,
		AllowDuplicateIP:     s.AllowDuplicateIP,
		HandshakeTimeout:     s.HandshakeTimeout,
		DialTimeout:          s.DialTimeout,
		Ping:                 true,
	}
	if s.LimitsMode != cmtcfg.LibP2PLimitsModeDefault {
		rm, _, err := lp2p.ResourceManagerFromConfig(d.cfg.P2P.LibP2PConfig)
		if err != nil {
			return &ConfigError{Key: "p2p.libp2p.limits", Value: s.LimitsMode, Err: err}
		}
		tc.ResourceManager = rm
	}
	opts := pexnode.Options{
		Key:       d.key,
		Transport: tc,
		Book: addrbook.Options{
			FilePath:     s.AddrBookFile,
			Strict:       s.AddrBookStrict,
			SaveInterval: s.AddrBookSaveInterval,
			Logger:       slogFor(d.logger.With("sub", "addrbook")),
		},
		PrivateIDs: s.Private,
		Observers:  d.observers,
		Logger:     slogFor(d.logger),
	}
	if s.PEX {
		pc := pex.DefaultConfig()
		pc.SeedMode = s.SeedMode
		pc.EnsurePeersPeriod = s.EnsurePeersPeriod
		opts.PEX = &pc
	}
	s.Defences.Apply(&opts, d.asmap)
	reg := d.metricsRegisterer()
	if reg != nil {
		m, err := pexnode.NewMetrics(reg)
		if err != nil {
			d.logger.Error("pexp2p metrics not registered", "err", err)
			reg = nil
		} else {
			opts.Observers = append(opts.Observers, m)
		}
	}
	pn, err := pexnode.New(opts)
	if err != nil {
		return err
	}
	if reg != nil {
		if err := pexnode.RegisterGauges(reg, pn.Transport, pn.Book); err != nil {
			d.logger.Error("pexp2p gauges not registered", "err", err)
		}
		if err := reg.Register(newConnsCollector(pn.Transport.Host)); err != nil {
			d.logger.Error("pexp2p connection gauges not registered", "err", err)
		}
	}
	h := newHandoff(sw, lh, pn.Transport, s, d.logger.Debug)
	pn.WrapHandler(func(r transport.Handler) transport.Handler {
		h.Handler = r
		return h
	})
	// CometBFT's host listens on the port the face needs; nothing has
	// used it yet, as the node has not started.
	if err := lh.Host.Close(); err != nil {
		return fmt.Errorf("cometnode: closing CometBFT's own libp2p host: %w", err)
	}
	if err := pn.Start(); err != nil {
		return fmt.Errorf("cometnode: starting discovery: %w", err)
	}
	lh.Host = sharedHost{Host: pn.Transport.Host(), onClose: func() { _ = d.Stop() }, serveReactors: !s.SeedMode}
	d.mu.Lock()
	d.node, d.handoff = pn, h
	d.stop, d.loopDone = make(chan struct{}), make(chan struct{})
	d.mu.Unlock()
	go h.run(d.stop, d.loopDone)
	d.logger.Info("pexp2p discovery attached", "peer_id", pn.Key.PeerID().String(),
		"addrs", fmt.Sprint(pn.Transport.FullAddrs()), "pex", s.PEX, "seed_mode", s.SeedMode, "seeds", len(s.Seeds))
	return nil
}

// metricsRegisterer is where metrics go: the option's registerer, else
// the default registry when CometBFT serves Prometheus, else nowhere.
func (d *Discovery) metricsRegisterer() prometheus.Registerer {
	if d.registerer != nil {
		return prometheus.WrapRegistererWithPrefix(MetricsPrefix, d.registerer)
	}
	if d.cfg.Instrumentation != nil && d.cfg.Instrumentation.Prometheus {
		return prometheus.WrapRegistererWithPrefix(MetricsPrefix, prometheus.DefaultRegisterer)
	}
	return nil
}

// Stop stops discovery and saves the book. The node's own Stop calls it;
// call it yourself only for a node that was attached and never started.
func (d *Discovery) Stop() error {
	d.stopOnce.Do(func() {
		d.mu.Lock()
		pn, stop, done := d.node, d.stop, d.loopDone
		d.mu.Unlock()
		if pn == nil {
			return
		}
		close(stop)
		<-done
		d.stopErr = pn.Stop()
		if d.stopErr != nil {
			d.logger.Error("stopping pexp2p discovery", "err", d.stopErr)
		}
	})
	return d.stopErr
}

// Provider is node.DefaultNewNode with pexp2p discovery attached: the
// drop-in for chains whose main passes a node.Provider to CometBFT's
// commands.NewRunNodeCmd. A node with libp2p off, or with [p2p] pex off,
// is built exactly as upstream builds it.
func Provider(opts ...Option) node.Provider {
	return func(c *cmtcfg.Config, logger cmtlog.Logger) (*node.Node, error) {
		// Without libp2p the node has upstream's own PEX; without PEX
		// pexp2p would only replace upstream's host. Both get exactly
		// upstream's node, which is also the fair control to compare with.
		if !c.P2P.LibP2PEnabled() || !c.P2P.PexReactor {
			return node.DefaultNewNode(c, logger)
		}
		d, err := New(c, logger, opts...)
		if err != nil {
			return nil, err
		}
		n, err := newDefaultNode(c, logger, d.Option())
		if err != nil {
			return nil, err
		}
		if err := d.Err(); err != nil {
			return nil, err
		}
		return n, nil
	}
}
