package transport

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"time"

	tmp2p "github.com/cometbft/cometbft/proto/tendermint/p2p"
	logging "github.com/ipfs/go-log/v2"
	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/connmgr"
	"github.com/libp2p/go-libp2p/core/event"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/gologshim"
	"github.com/libp2p/go-libp2p/p2p/host/peerstore/pstoremem"
	"github.com/libp2p/go-libp2p/p2p/net/swarm"
	libp2pquic "github.com/libp2p/go-libp2p/p2p/transport/quic"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	ma "github.com/multiformats/go-multiaddr"
	"go.uber.org/fx"

	"github.com/pexp2p/pexp2p/addrbook"
	"github.com/pexp2p/pexp2p/pex"
)

var log = logging.Logger("transport")

var routeOnce sync.Once

// RouteLibp2pLogs sends go-libp2p's slog output into go-log, so one
// GOLOG_LOG_LEVEL setting governs both. It must run before go-libp2p
// logs its first line; NewNode calls it.
func RouteLibp2pLogs() {
	routeOnce.Do(func() { gologshim.SetDefaultHandler(logging.SlogHandler()) })
}

// Handler is what the node hands peers and messages to: the PEX reactor.
type Handler = pex.Handler

// ArrivalReceiver is a Handler that takes the time a message reached the
// node: the moment libp2p accepted its stream, before protocol
// negotiation and the face's own goroutines. *pex.Reactor is one; it
// measures a peer's request rate from that time.
type ArrivalReceiver interface {
	ReceiveAt(peerID string, msg pex.Message, arrived time.Time)
}

// DeliverAt hands msg to h with its arrival time if h takes it, else
// through Receive. Handlers that wrap another one call it to pass the
// time on.
func DeliverAt(h Handler, peerID string, msg pex.Message, arrived time.Time) {
	if ar, ok := h.(ArrivalReceiver); ok {
		ar.ReceiveAt(peerID, msg, arrived)
		return
	}
	h.Receive(peerID, msg)
}

// Errors of the node itself.
var (
	ErrNotStarted    = errors.New("transport node not started")
	ErrPeerRefused   = errors.New("peer refused")
	ErrDialAddress   = errors.New("address cannot be dialed")
	ErrAlreadyActive = errors.New("transport node already started")
)

// PeerRefusedError says why we will not dial or keep a peer.
type PeerRefusedError struct {
	Peer   string
	Reason string
}

func (e *PeerRefusedError) Error() string {
	return fmt.Sprintf("peer %s refused: %s", e.Peer, e.Reason)
}
func (e *PeerRefusedError) Is(target error) bool { return target == ErrPeerRefused }

// peerState is one remote peer from its first connection to its last.
type peerState struct {
	id    peer.ID
	ready chan struct{} // closed when setup ends, either way
	err   error         // set before ready closes when setup failed
	added bool          // handed to the handler
	info  pex.PeerInfo
	// sends in flight and whether a graceful stop is under way; guarded
	// by Node.mu.
	sending  int
	stopping bool
	// waitingRequest: a PexRequest is already held until setup ends.
	waitingRequest bool
	// requestQueued: a PexRequest to this peer is not written yet.
	requestQueued bool
}

// Node is the libp2p face: a host speaking channel 0 as a stream
// protocol, implementing pex.Network.
type Node struct {
	cfg     Config
	key     *NodeKey
	handler Handler

	persistent    map[peer.ID]ConfigPeer
	configured    map[peer.ID][]ma.Multiaddr // persistent peers and seeds
	unconditional map[peer.ID]bool

	mu          sync.Mutex
	started     bool
	stopped     bool
	host        host.Host
	ctx         context.Context
	cancel      context.CancelFunc
	peers       map[peer.ID]*peerState
	dialing     map[peer.ID]bool
	blocked     map[peer.ID]time.Time // stopped for error: no reconnect until
	blockedIPs  map[netip.Addr]time.Time
	wrongNet    map[peer.ID]bool           // another chain: never again this run
	stalls      map[peer.ID][]time.Time    // recent stalled PEX streams per peer
	dialConns   map[peer.ID][]network.Conn // connections of the current dial attempt (busy.go)
	ourNodeInfo *tmp2p.DefaultNodeInfo
	wg          sync.WaitGroup
	// rec runs signed records and alternative addresses (records.go);
	// nil when both are off.
	rec *recordsService

	// beforeEvent, set by tests before Start, runs in eventLoop ahead of
	// each connectedness event (to hold events back deterministically).
	beforeEvent func(event.EvtPeerConnectednessChanged)
	// onBusyRetry, set by tests before Start, runs before Dial retries a
	// peer whose accept queue was full (busy.go).
	onBusyRetry func(peer.ID)
}

var _ pex.Network = (*Node)(nil)

// NewNode prepares a node; Start creates the host and listens.
func NewNode(key *NodeKey, cfg Config) (*Node, error) {
	RouteLibp2pLogs()
	if key == nil {
		return nil, nodeKeyErr("", "no node key", nil)
	}
	cfg.setDefaults()
	if err := cfg.validateRecords(); err != nil {
		return nil, err
	}
	n := &Node{
		cfg:           cfg,
		key:           key,
		persistent:    map[peer.ID]ConfigPeer{},
		configured:    map[peer.ID][]ma.Multiaddr{},
		unconditional: map[peer.ID]bool{},
		peers:         map[peer.ID]*peerState{},
		dialing:       map[peer.ID]bool{},
		blocked:       map[peer.ID]time.Time{},
		blockedIPs:    map[netip.Addr]time.Time{},
		wrongNet:      map[peer.ID]bool{},
		stalls:        map[peer.ID][]time.Time{},
		dialConns:     map[peer.ID][]network.Conn{},
	}
	for _, p := range cfg.PersistentPeers {
		if old, ok := n.persistent[p.ID]; ok {
			old.Addrs = append(old.Addrs, p.Addrs...)
			n.persistent[p.ID] = old
			continue
		}
		n.persistent[p.ID] = p
	}
	for _, p := range append(slices.Clone(cfg.PersistentPeers), cfg.Seeds...) {
		n.configured[p.ID] = append(n.configured[p.ID], p.AddrInfo().Addrs...)
	}
	for _, s := range cfg.UnconditionalPeerIDs {
		norm, err := PeerIDs.Normalize(s)
		if err != nil {
			return nil, configPeerErr(s, "bad unconditional peer ID", err)
		}
		id, _ := peer.Decode(norm)
		n.unconditional[id] = true
	}
	for _, m := range append(append([]ma.Multiaddr{}, cfg.ListenAddrs...), cfg.ExternalAddrs...) {
		if err := classifyUnsupported(m, 0); err != nil {
			return nil, err
		}
	}
	n.rec = newRecordsService(n)
	return n, nil
}

// SetHandler installs the reactor; call it before Start.
func (n *Node) SetHandler(h Handler) { n.handler = h }

// ID is our peer ID.
func (n *Node) ID() peer.ID { return n.key.PeerID() }

// Host gives the underlying libp2p host (nil before Start).
func (n *Node) Host() host.Host {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.host
}

// Start creates the libp2p host, registers the protocols and starts the
// background work (peer events, ban sweep, persistent peers).
func (n *Node) Start() error {
	n.mu.Lock()
	if n.started {
		n.mu.Unlock()
		return ErrAlreadyActive
	}
	n.started = true
	n.mu.Unlock()

	listen, err := sharedPorts(n.cfg.ListenAddrs)
	if err != nil {
		return err
	}
	n.cfg.ListenAddrs = listen
	rm := n.cfg.ResourceManager
	if rm == nil {
		if rm, err = n.resourceManager(); err != nil {
			return fmt.Errorf("transport: resource manager: %w", err)
		}
	}
	// libp2p.New does not release what it built when a listen fails (fx
	// only stops components whose start succeeded, and the swarm's start
	// is the listen): the peerstore and the swarm are captured here so
	// every failure path closes them.
	ps, err := pstoremem.NewPeerstore()
	if err != nil {
		_ = rm.Close()
		return fmt.Errorf("transport: peerstore: %w", err)
	}
	var sw *swarm.Swarm
	opts := []libp2p.Option{
		libp2p.Identity(n.key.LibP2PKey()),
		libp2p.Peerstore(ps),
		libp2p.WithFxOption(fx.Populate(&sw)),
		libp2p.NoTransports,
		libp2p.Transport(libp2pquic.NewTransport),
		libp2p.Transport(tcp.NewTCPTransport, tcp.WithConnectionTimeout(n.cfg.DialTimeout)),
		libp2p.ListenAddrs(n.cfg.ListenAddrs...),
		libp2p.ConnectionGater((*gater)(n)),
		libp2p.ResourceManager(rm),
		// CometBFT's peer limits decide who stays; libp2p's default
		// connection manager would trim peers on its own watermarks.
		libp2p.ConnectionManager(&connmgr.NullConnMgr{}),
		libp2p.DisableRelay(),
		libp2p.DisableMetrics(),
		libp2p.Ping(n.cfg.Ping),
		libp2p.UserAgent("pexp2p"),
		libp2p.SwarmOpts(swarm.WithDialRanker(quicFirstRanker(n.cfg.DialTimeout / 3))),
	}
	opts = append(opts, HostServiceOptions(n.cfg)...)
	if len(n.cfg.ExternalAddrs) > 0 {
		ext := slices.Clone(n.cfg.ExternalAddrs)
		opts = append(opts, libp2p.AddrsFactory(func([]ma.Multiaddr) []ma.Multiaddr { return ext }))
	}
	h, err := libp2p.New(opts...)
	if err != nil {
		if sw != nil {
			_ = sw.Close()
		}
		_ = ps.Close()
		_ = rm.Close()
		return fmt.Errorf("transport: starting libp2p host: %w", err)
	}
	sub, err := h.EventBus().Subscribe(new(event.EvtPeerConnectednessChanged))
	if err != nil {
		_ = h.Close()
		return fmt.Errorf("transport: subscribing to peer events: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	n.mu.Lock()
	n.host, n.ctx, n.cancel = h, ctx, cancel
	n.ourNodeInfo = n.buildNodeInfo(h)
	n.mu.Unlock()

	h.Network().Notify(&network.NotifyBundle{ConnectedF: n.connOpened})
	h.SetStreamHandler(PexProtocolID, n.handlePexStream)
	h.SetStreamHandler(NodeInfoProtocolID, n.handleNodeInfoStream)
	if err := n.rec.start(h); err != nil {
		cancel()
		_ = sub.Close()
		_ = h.Close()
		return err
	}

	n.wg.Add(3)
	go n.eventLoop(sub)
	go n.banSweep()
	go n.persistentLoop()
	log.Infow("libp2p node started", "peer", h.ID(), "addrs", n.FullAddrs())
	return nil
}

// Stop closes every connection and the host, and waits for the node's
// goroutines. The handler gets RemovePeer for every peer it had.
func (n *Node) Stop() error {
	n.mu.Lock()
	if !n.started || n.stopped {
		n.mu.Unlock()
		return nil
	}
	n.stopped = true
	h, cancel := n.host, n.cancel
	n.mu.Unlock()
	if h == nil {
		return nil // Start failed and released everything itself
	}
	cancel()
	h.RemoveStreamHandler(PexProtocolID)
	h.RemoveStreamHandler(NodeInfoProtocolID)
	n.rec.stop(h)
	err := h.Close()
	n.wg.Wait()
	n.mu.Lock()
	rest := n.peers
	n.peers = map[peer.ID]*peerState{}
	n.mu.Unlock()
	for _, ps := range rest {
		if ps.added && n.handler != nil {
			n.handler.RemovePeer(ps.id.String(), "node stopped")
		}
	}
	return err
}

// FullAddrs are our listen (or external) addresses with /p2p/<id>.
func (n *Node) FullAddrs() []ma.Multiaddr {
	h := n.Host()
	if h == nil {
		return nil
	}
	p2p, err := ma.NewComponent("p2p", h.ID().String())
	if err != nil {
		log.Errorw("our own peer ID makes no /p2p component", "peer", h.ID(), "err", err)
		return nil
	}
	var out []ma.Multiaddr
	for _, a := range h.Addrs() {
		out = append(out, a.Encapsulate(p2p))
	}
	return out
}

// OurNetAddresses are our advertised addresses as book entries (for
// AddOurAddress and NodeInfo).
func (n *Node) OurNetAddresses() []addrbook.NetAddress {
	h := n.Host()
	if h == nil {
		return nil
	}
	seen := map[addrbook.NetAddress]bool{}
	var out []addrbook.NetAddress
	for _, a := range h.Addrs() {
		if na, _, err := NetAddressFromMultiaddr(a, h.ID()); err == nil && !seen[na] {
			seen[na] = true
			out = append(out, na)
		}
	}
	return out
}
