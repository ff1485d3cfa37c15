package transport

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"sort"
	"sync"
	"time"

	tmp2p "github.com/cometbft/cometbft/proto/tendermint/p2p"
	logging "github.com/ipfs/go-log/v2"
	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/connmgr"
	"github.com/libp2p/go-libp2p/core/control"
	"github.com/libp2p/go-libp2p/core/event"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/sec"
	"github.com/libp2p/go-libp2p/gologshim"
	"github.com/libp2p/go-libp2p/p2p/host/peerstore/pstoremem"
	rcmgr "github.com/libp2p/go-libp2p/p2p/host/resource-manager"
	"github.com/libp2p/go-libp2p/p2p/net/swarm"
	"github.com/libp2p/go-libp2p/p2p/protocol/identify"
	libp2pquic "github.com/libp2p/go-libp2p/p2p/transport/quic"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	"github.com/libp2p/go-libp2p/x/rate"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"
	"go.uber.org/fx"

	"github.com/pexp2p/pexp2p/addrbook"
	"github.com/pexp2p/pexp2p/internal/clock"
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
type Handler interface {
	AddPeer(p pex.PeerInfo)
	RemovePeer(peerID string, reason any)
	Receive(peerID string, msg pex.Message)
}

// ArrivalReceiver is a Handler that takes the time a message reached the
// node: the moment libp2p accepted its stream, before protocol
// negotiation and the face's own goroutines. *pex.Reactor is one; it
// measures a peer's request rate (Q4) from that time.
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

// BanList is the part of the address book the connection gater consults.
// *addrbook.Book implements it.
type BanList interface {
	IsBanned(id string) bool
	Bans() []addrbook.Ban
}

// Config configures a libp2p Node. Zero fields take the defaults noted.
type Config struct {
	// ListenAddrs default to QUIC v1 and TCP on 0.0.0.0:26656.
	ListenAddrs []ma.Multiaddr
	// ExternalAddrs, when set, replace what we advertise (identify and
	// NodeInfo), as CometBFT's external_address does.
	ExternalAddrs []ma.Multiaddr

	// Network is the chain ID exchanged in NodeInfo; peers of another
	// network are dropped and not dialed again.
	Network string
	Moniker string
	Version string
	// StrictNodeInfo drops peers that do not speak the NodeInfo protocol
	// (upstream lp2p nodes); by default they are accepted.
	StrictNodeInfo bool

	MaxInboundPeers  int // default 40 (CometBFT's max_num_inbound_peers)
	MaxOutboundPeers int // default 10
	// OverLimitSlots inbound peers may connect beyond MaxInboundPeers;
	// they are handed over with PeerInfo.OverLimit, get one answer and
	// are let go. Negative disables; default 2.
	OverLimitSlots int

	PersistentPeers []ConfigPeer
	// Seeds are remembered so that a dial of a seed's ID also tries its
	// configured (possibly /dns or /dnsaddr) multiaddrs, which libp2p
	// resolves at dial time. Pass ReactorSeeds(…) to pex.Config.Seeds.
	Seeds                []ConfigPeer
	UnconditionalPeerIDs []string
	AllowDuplicateIP     bool
	// ipRuleOnLoopback, for tests, applies the IP rule to loopback too
	// (tests use loopback only).
	ipRuleOnLoopback bool

	// Bans is consulted at connection time (usually the address book).
	Bans BanList

	StreamTimeout time.Duration // one PEX message stream; default 10 s
	// HandshakeTimeout bounds the security handshake, identify and the
	// NodeInfo exchange of a connection; default 20 s (CometBFT's
	// handshake_timeout).
	HandshakeTimeout time.Duration
	// DialTimeout bounds a TCP connect; default 3 s (CometBFT's
	// dial_timeout, which bounds only the connect, too). QUIC has no
	// connect apart from its handshake: an unreachable QUIC address fails
	// after quic-go's handshake idle timeout (5 s) or at once on an ICMP
	// error. A whole Dial may take DialTimeout + HandshakeTimeout.
	DialTimeout time.Duration
	// PersistentDialPeriod is how often disconnected persistent peers are
	// redialed; default 5 s.
	PersistentDialPeriod time.Duration
	// BanSweepPeriod is how often live connections are checked against
	// the ban list, closing those of newly banned peers; default 1 s.
	BanSweepPeriod time.Duration
	// StopBlockTime keeps a peer stopped for an error from reconnecting
	// even if nobody bans it in the book; default 1 min.
	StopBlockTime time.Duration

	// MaxStalledStreams PEX streams of one peer that time out without a
	// complete message within StallWindow get it stopped and banned like
	// a wire violation (a slowloris): our writers send the whole frame at
	// once, so an honest peer stalls only on a failing link. Defaults: 3
	// within 10 min.
	MaxStalledStreams int
	StallWindow       time.Duration

	// Clock stamps PeerInfo.ConnectedAt; default clock.System.
	Clock clock.Clock

	// OnWireViolation, when set, is called for every peer stopped for
	// breaking the channel-0 wire protocol, with WireViolationReason's
	// label and whether a ban was recorded in Bans: the reactor never sees
	// these peers' bad messages, so its observer cannot count them. It is
	// called synchronously and must not block.
	OnWireViolation func(peerID, reason string, banned bool)
}

func (c *Config) setDefaults() {
	if len(c.ListenAddrs) == 0 {
		c.ListenAddrs = []ma.Multiaddr{
			ma.StringCast("/ip4/0.0.0.0/udp/26656/quic-v1"),
			ma.StringCast("/ip4/0.0.0.0/tcp/26656"),
		}
	}
	if c.MaxInboundPeers == 0 {
		c.MaxInboundPeers = 40
	}
	if c.MaxOutboundPeers == 0 {
		c.MaxOutboundPeers = 10
	}
	if c.OverLimitSlots == 0 {
		c.OverLimitSlots = 2
	}
	if c.OverLimitSlots < 0 {
		c.OverLimitSlots = 0
	}
	if c.StreamTimeout == 0 {
		c.StreamTimeout = DefaultStreamTimeout
	}
	if c.MaxStalledStreams <= 0 {
		c.MaxStalledStreams = 3
	}
	if c.StallWindow <= 0 {
		c.StallWindow = 10 * time.Minute
	}
	if c.HandshakeTimeout == 0 {
		c.HandshakeTimeout = 20 * time.Second
	}
	if c.DialTimeout == 0 {
		c.DialTimeout = 3 * time.Second
	}
	if c.PersistentDialPeriod == 0 {
		c.PersistentDialPeriod = 5 * time.Second
	}
	if c.BanSweepPeriod == 0 {
		c.BanSweepPeriod = time.Second
	}
	if c.StopBlockTime == 0 {
		c.StopBlockTime = time.Minute
	}
	if c.Clock == nil {
		c.Clock = clock.System
	}
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
		return nil, &NodeKeyError{Reason: "no node key"}
	}
	cfg.setDefaults()
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
			return nil, &ConfigPeerError{Input: s, Reason: "bad unconditional peer ID", Err: err}
		}
		id, _ := peer.Decode(norm)
		n.unconditional[id] = true
	}
	for _, m := range append(append([]ma.Multiaddr{}, cfg.ListenAddrs...), cfg.ExternalAddrs...) {
		if err := classifyUnsupported(m); err != nil {
			return nil, err
		}
	}
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

// resourceManager builds go-libp2p's resource manager with limits that
// agree with CometBFT's: enough system and transient connections for our
// peer limits, and, when duplicate IPs are allowed, per-IP connection and
// rate limits raised so that honest peers behind one IP are not refused
// (the default is 8 connections and 0.2 new connections/s per IPv4).
func (n *Node) resourceManager() (network.ResourceManager, error) {
	limits := rcmgr.DefaultLimits
	libp2p.SetDefaultServiceLimits(&limits)
	scaled := limits.AutoScale()
	peersTotal := n.cfg.MaxInboundPeers + n.cfg.MaxOutboundPeers + n.cfg.OverLimitSlots + len(n.persistent) + len(n.unconditional)
	// Two transports and simultaneous dials give up to four connections
	// per peer while duplicates are sorted out.
	need := rcmgr.LimitVal(4*peersTotal + 16)
	partial := scaled.ToPartialLimitConfig()
	raise := func(l *rcmgr.ResourceLimits) {
		if l.Conns != rcmgr.Unlimited && (l.Conns == rcmgr.DefaultLimit || l.Conns < need) {
			l.Conns = need
		}
		if l.ConnsInbound != rcmgr.Unlimited && (l.ConnsInbound == rcmgr.DefaultLimit || l.ConnsInbound < need) {
			l.ConnsInbound = need
		}
		if l.ConnsOutbound != rcmgr.Unlimited && (l.ConnsOutbound == rcmgr.DefaultLimit || l.ConnsOutbound < need) {
			l.ConnsOutbound = need
		}
	}
	raise(&partial.System)
	raise(&partial.Transient)
	concrete := partial.Build(scaled)
	// Without this the resource manager turns every scope event into a
	// timestamped trace record for a Prometheus reporter on the default
	// registry, which pexp2p never serves (its metrics have their own
	// registry): 2-3 % of a seed's CPU per visitor in
	// BenchmarkSeedCapacity's profile.
	opts := []rcmgr.Option{rcmgr.WithMetricsDisabled()}
	if n.cfg.AllowDuplicateIP {
		perIP := 4*peersTotal + 16
		opts = append(opts,
			rcmgr.WithLimitPerSubnet(
				[]rcmgr.ConnLimitPerSubnet{{PrefixLength: 32, ConnCount: perIP}},
				[]rcmgr.ConnLimitPerSubnet{{PrefixLength: 56, ConnCount: perIP}, {PrefixLength: 48, ConnCount: 8 * perIP}},
			),
			rcmgr.WithConnRateLimiters(&rate.Limiter{
				NetworkPrefixLimits: []rate.PrefixLimit{
					{Prefix: netip.MustParsePrefix("127.0.0.0/8"), Limit: rate.Limit{}},
					{Prefix: netip.MustParsePrefix("::1/128"), Limit: rate.Limit{}},
				},
				SubnetRateLimiter: rate.SubnetLimiter{
					IPv4SubnetLimits: []rate.SubnetLimit{{PrefixLength: 32, Limit: rate.Limit{RPS: 2, Burst: perIP}}},
					IPv6SubnetLimits: []rate.SubnetLimit{{PrefixLength: 56, Limit: rate.Limit{RPS: 2, Burst: perIP}}},
					GracePeriod:      time.Minute,
				},
			}),
		)
	}
	return rcmgr.NewResourceManager(rcmgr.NewFixedLimiter(concrete), opts...)
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
	rm, err := n.resourceManager()
	if err != nil {
		return fmt.Errorf("transport: resource manager: %w", err)
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
		libp2p.Ping(false),
		libp2p.UserAgent("pexp2p"),
		libp2p.SwarmOpts(swarm.WithDialRanker(quicFirstRanker(n.cfg.DialTimeout / 3))),
	}
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
	p2p := ma.StringCast("/p2p/" + h.ID().String())
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

func (n *Node) buildNodeInfo(h host.Host) *tmp2p.DefaultNodeInfo {
	listen := ""
	addrs := h.Addrs()
	if len(n.cfg.ExternalAddrs) > 0 {
		addrs = n.cfg.ExternalAddrs
	}
	for _, a := range addrs {
		if ip, port, _, _, err := SplitMultiaddr(a); err == nil {
			listen = netip.AddrPortFrom(ip, port).String()
			if !ip.IsLoopback() {
				break
			}
		}
	}
	return &tmp2p.DefaultNodeInfo{
		ProtocolVersion: tmp2p.ProtocolVersion{P2P: 9, Block: 11},
		DefaultNodeID:   h.ID().String(),
		ListenAddr:      listen,
		Network:         n.cfg.Network,
		Version:         n.cfg.Version,
		Channels:        []byte{0x00},
		Moniker:         n.cfg.Moniker,
	}
}

// ---- pex.Network ----

// Peers lists the peers handed to the handler.
func (n *Node) Peers() []pex.PeerInfo {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := make([]pex.PeerInfo, 0, len(n.peers))
	for _, ps := range n.peers {
		if ps.added {
			out = append(out, ps.info)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Send delivers msg on a fresh stream without blocking the caller; false
// when the peer is not (yet) a set-up peer or msg is not a PEX message.
func (n *Node) Send(peerID string, msg pex.Message) bool {
	id, err := peer.Decode(peerID)
	if err != nil {
		return false
	}
	if _, err := MarshalMessage(msg); err != nil {
		log.Warnw("not sending", "peer", peerID, "err", err)
		return false
	}
	n.mu.Lock()
	ps := n.peers[id]
	if ps == nil || !ps.added || ps.stopping || n.stopped {
		n.mu.Unlock()
		return false
	}
	_, isReq := msg.(*tmp2p.PexRequest)
	if isReq && ps.requestQueued {
		// NewStream waits for identify on a fresh connection, so sends
		// can pile up and then leave together; two requests landing at
		// once look like a flood (Q4) to the peer. The queued one asks
		// the same question.
		n.mu.Unlock()
		log.Debugw("PexRequest already queued; not sending another", "peer", peerID)
		return true
	}
	if isReq {
		ps.requestQueued = true
	}
	h, ctx := n.host, n.ctx
	ps.sending++
	n.wg.Add(1)
	n.mu.Unlock()
	go func() {
		defer n.wg.Done()
		written := false
		defer func() {
			n.mu.Lock()
			ps.sending--
			if isReq && !written {
				ps.requestQueued = false
			}
			n.mu.Unlock()
		}()
		sctx, cancel := context.WithTimeout(network.WithNoDial(ctx, "pex send"), n.cfg.StreamTimeout)
		defer cancel()
		s, err := h.NewStream(sctx, id, PexProtocolID)
		if err != nil {
			log.Debugw("opening PEX stream failed", "peer", peerID, "err", err)
			return
		}
		b, _ := FrameMessage(msg)
		if timeout := n.cfg.StreamTimeout; timeout > 0 {
			_ = s.SetWriteDeadline(time.Now().Add(timeout))
		}
		if _, err := s.Write(b); err != nil {
			_ = s.Reset()
			log.Debugw("sending PEX message failed", "peer", peerID, "err", err)
			return
		}
		// The request has left; a later one is a new question.
		if isReq {
			n.mu.Lock()
			ps.requestQueued = false
			n.mu.Unlock()
			written = true
		}
		// Half-close, then hold the send open until the reader closes
		// its side: StopPeerGracefully closes the connection once no send
		// is in flight, and closing a QUIC connection discards stream data
		// the reader has not read yet (the seed's one answer was lost so,
		// about 1 visit in 300–500). Our readers and upstream lp2p's close
		// right after reading, so this costs a round trip; a reader that
		// never closes holds only this goroutine, for the stream timeout.
		if err := s.CloseWrite(); err != nil {
			_ = s.Reset()
			log.Debugw("closing PEX stream failed", "peer", peerID, "err", err)
			return
		}
		_ = s.SetReadDeadline(time.Now().Add(n.cfg.StreamTimeout))
		var one [1]byte
		_, _ = s.Read(one[:]) // EOF when the reader is done; any error ends the wait too
		_ = s.Close()
	}()
	return true
}

// Dial connects to addr (QUIC, then TCP on the same port, plus any
// configured addresses of that peer) and returns once the peer is set up.
func (n *Node) Dial(ctx context.Context, addr addrbook.NetAddress) error {
	id, err := peer.Decode(addr.ID)
	if err != nil {
		return &addrbook.AddressError{Input: addr.String(), Reason: "not a peer ID", Err: err}
	}
	n.mu.Lock()
	if !n.started || n.stopped {
		n.mu.Unlock()
		return ErrNotStarted
	}
	if id == n.host.ID() {
		n.mu.Unlock()
		// W3: the book learns the address is ours, so it is not picked
		// again.
		if ob, ok := n.cfg.Bans.(OwnAddressBook); ok {
			ob.RemoveAddress(addr.ID)
			ob.AddOurAddress(addr)
		}
		return &PeerRefusedError{Peer: addr.ID, Reason: "that is us"}
	}
	if n.wrongNet[id] {
		n.mu.Unlock()
		return &PeerRefusedError{Peer: addr.ID, Reason: "on another network"}
	}
	if n.dialing[id] || n.peers[id] != nil {
		n.mu.Unlock()
		return pex.ErrAlreadyConnectedOrDialing
	}
	n.dialing[id] = true
	h := n.host
	nctx := n.ctx
	n.mu.Unlock()
	defer func() {
		n.mu.Lock()
		delete(n.dialing, id)
		delete(n.dialConns, id)
		n.mu.Unlock()
	}()

	var addrs []ma.Multiaddr
	if addr.IP.IsValid() && addr.Port != 0 {
		full, err := NetAddressToMultiaddrs(addr)
		if err != nil {
			return err
		}
		for _, m := range full {
			t, _ := peer.SplitAddr(m)
			addrs = append(addrs, t)
		}
	}
	addrs = append(addrs, n.configured[id]...)
	if len(addrs) == 0 {
		return &PeerRefusedError{Peer: addr.ID, Reason: "no address to dial"}
	}
	// The reactor paces its own retries; libp2p's per-peer backoff on top
	// would turn them into immediate failures.
	if sw, ok := h.Network().(*swarm.Swarm); ok {
		sw.Backoff().Clear(id)
	}
	dctx, cancel := context.WithTimeout(ctx, n.cfg.DialTimeout+n.cfg.HandshakeTimeout)
	defer cancel()
	stop := context.AfterFunc(nctx, cancel)
	defer stop()
	for attempt := 0; ; attempt++ {
		err := n.connectAndSetup(dctx, h, id, addr, addrs)
		if err == nil || attempt == busyRetries || !n.refusedBusy(id) {
			return err
		}
		log.Debugw("redialing a peer whose accept queue was full", "peer", id, "attempt", attempt+1)
		if n.onBusyRetry != nil {
			n.onBusyRetry(id)
		}
		if werr := waitBusyBackoff(dctx, attempt); werr != nil {
			return err
		}
		if sw, ok := h.Network().(*swarm.Swarm); ok {
			sw.Backoff().Clear(id)
		}
	}
}

// connectAndSetup is one attempt of Dial: connect, then wait for the
// peer's setup.
func (n *Node) connectAndSetup(dctx context.Context, h host.Host, id peer.ID, addr addrbook.NetAddress, addrs []ma.Multiaddr) error {
	// The connect alone is bounded by DialTimeout (the TCP transport's
	// connection timeout); the handshake gets the rest of the budget, as
	// upstream gives it handshake_timeout: a loaded remote that is slow to
	// handshake is not a dead one.
	err := h.Connect(network.WithDialPeerTimeout(dctx, n.cfg.DialTimeout+n.cfg.HandshakeTimeout), peer.AddrInfo{ID: id, Addrs: addrs})
	if err != nil {
		var mismatch sec.ErrPeerIDMismatch
		if errors.As(err, &mismatch) {
			return fmt.Errorf("%w: dialed %s, got %s", pex.ErrAuthFailure, id, mismatch.Actual)
		}
		return err
	}
	n.mu.Lock()
	wrong := n.wrongNet[id]
	n.mu.Unlock()
	if wrong {
		return &PeerRefusedError{Peer: addr.ID, Reason: "on another network"}
	}
	// Connect returns once identify ran; the connectedness event may not
	// have reached eventLoop yet, so start the setup here if needed.
	n.peerConnected(id)
	n.mu.Lock()
	ps := n.peers[id]
	n.mu.Unlock()
	if ps == nil {
		return &PeerRefusedError{Peer: addr.ID, Reason: "connection closed during setup"}
	}
	select {
	case <-ps.ready:
		return ps.err
	case <-dctx.Done():
		return fmt.Errorf("%w: %v", ErrSetupTimedOut, dctx.Err())
	}
}

// StopPeerForError disconnects the peer now and keeps it (and, unless
// duplicate IPs are allowed or it is loopback, its IP) from reconnecting
// for StopBlockTime; the reactor bans it in the book for longer.
func (n *Node) StopPeerForError(peerID string, reason error) {
	id, err := peer.Decode(peerID)
	if err != nil {
		return
	}
	n.mu.Lock()
	h := n.host
	until := n.cfg.Clock.Now().Add(n.cfg.StopBlockTime)
	n.blocked[id] = until
	if ps := n.peers[id]; ps != nil && ps.added {
		if ip := ps.info.RemoteIP; n.ipBanApplies(ip) {
			n.blockedIPs[ip] = until
		}
	}
	n.mu.Unlock()
	log.Infow("stopping peer for error", "peer", peerID, "err", reason)
	if h != nil {
		_ = h.Network().ClosePeer(id)
	}
}

// StopPeerGracefully lets in-flight sends finish (bounded by the stream
// timeout), then disconnects.
func (n *Node) StopPeerGracefully(peerID string) {
	id, err := peer.Decode(peerID)
	if err != nil {
		return
	}
	n.mu.Lock()
	ps := n.peers[id]
	h := n.host
	if ps != nil {
		ps.stopping = true
	}
	n.mu.Unlock()
	// Poll rather than wait on a WaitGroup: sends may still be added by
	// racing callers until stopping is seen.
	deadline := time.Now().Add(n.cfg.StreamTimeout)
	for ps != nil && time.Now().Before(deadline) {
		n.mu.Lock()
		busy := ps.sending > 0
		n.mu.Unlock()
		if !busy {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if h != nil {
		_ = h.Network().ClosePeer(id)
	}
}

// NumPeers counts set-up peers by direction (unconditional ones and
// over-limit visitors excluded) and dials in flight.
func (n *Node) NumPeers() (outbound, inbound, dialing int) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for id, ps := range n.peers {
		if !ps.added || n.unconditional[id] || ps.info.OverLimit {
			continue
		}
		if ps.info.Outbound {
			outbound++
		} else {
			inbound++
		}
	}
	return outbound, inbound, len(n.dialing)
}

// MaxNumOutboundPeers is the configured outbound limit.
func (n *Node) MaxNumOutboundPeers() int { return n.cfg.MaxOutboundPeers }

// IsDialingOrConnected: addr's ID is dialed, connected or being set up,
// or (unless duplicate IPs are allowed, or the IP is loopback) a
// connected peer uses addr's IP.
func (n *Node) IsDialingOrConnected(addr addrbook.NetAddress) bool {
	id, err := peer.Decode(addr.ID)
	n.mu.Lock()
	defer n.mu.Unlock()
	if err == nil && (n.dialing[id] || n.peers[id] != nil) {
		return true
	}
	if !n.ipBanApplies(addr.IP) {
		return false
	}
	for _, ps := range n.peers {
		if ps.added && (ps.info.RemoteIP == addr.IP || ps.info.ListenAddr.IP == addr.IP) {
			return true
		}
	}
	return false
}

// IsPersistent reports whether addr's ID is a configured persistent peer.
func (n *Node) IsPersistent(addr addrbook.NetAddress) bool {
	id, err := peer.Decode(addr.ID)
	if err != nil {
		return false
	}
	_, ok := n.persistent[id]
	return ok
}

// ipBanApplies: IP-based rules (duplicate IPs, IP bans) are skipped for
// loopback, where every in-process test node and QUIC dial share one
// source address, and when the operator allows duplicate IPs, because
// many honest peers then share one IP. Caller holds n.mu or needs none.
func (n *Node) ipBanApplies(ip netip.Addr) bool {
	return ip.IsValid() && (!ip.IsLoopback() || n.cfg.ipRuleOnLoopback) && !n.cfg.AllowDuplicateIP
}

// ---- peer lifecycle ----

// eventLoop turns connectedness changes into peer setup and teardown, in
// order per peer; notifiee callbacks fire per connection and must not
// block, the event bus gives one event per peer transition.
func (n *Node) eventLoop(sub event.Subscription) {
	defer n.wg.Done()
	defer sub.Close()
	for {
		select {
		case <-n.ctx.Done():
			return
		case ev, ok := <-sub.Out():
			if !ok {
				return
			}
			e := ev.(event.EvtPeerConnectednessChanged)
			if n.beforeEvent != nil {
				n.beforeEvent(e)
			}
			switch e.Connectedness {
			case network.Connected:
				n.peerConnected(e.Peer)
			case network.NotConnected:
				n.peerDisconnected(e.Peer)
			}
		}
	}
}

func (n *Node) peerConnected(id peer.ID) {
	n.mu.Lock()
	if n.stopped || n.peers[id] != nil || n.host.Network().Connectedness(id) != network.Connected {
		n.mu.Unlock()
		return
	}
	ps := &peerState{id: id, ready: make(chan struct{})}
	n.peers[id] = ps
	n.wg.Add(1)
	n.mu.Unlock()
	go func() {
		defer n.wg.Done()
		err := n.setupPeer(ps)
		n.finishSetup(ps, err)
	}()
}

func (n *Node) peerDisconnected(id peer.ID) {
	n.mu.Lock()
	// A new connection may already be up again; only the last one counts.
	if n.host.Network().Connectedness(id) == network.Connected {
		n.mu.Unlock()
		return
	}
	ps := n.peers[id]
	delete(n.peers, id)
	forget := !n.dialing[id]
	n.mu.Unlock()
	if forget {
		n.forgetPeer(id)
	}
	if ps != nil && ps.added && n.handler != nil {
		n.handler.RemovePeer(id.String(), "disconnected")
	}
}

// forgetPeer drops what go-libp2p's peerstore keeps of a peer that has
// gone: its key, protocols and identify metadata, which go-libp2p keeps
// for the life of the host. A seed meets a new identity on nearly every
// connection, so they grew without bound (about 0.7 KB of heap per
// visitor, measured on a peerstore of 20,000 such peers) and the GC
// scanned them all (TestPeerstoreForgetsDisconnectedPeers).
// Addresses are left to their own TTLs. Identify fills the rest in again
// on the peer's next connection; a dial in flight keeps the entries
// (peerDisconnected does not call this then).
func (n *Node) forgetPeer(id peer.ID) {
	n.host.Peerstore().RemovePeer(id)
}

// setupPeer waits for identify, runs the NodeInfo exchange and decides
// whether the peer may stay. It returns nil when the peer is accepted.
func (n *Node) setupPeer(ps *peerState) error {
	h := n.host
	conns := h.Network().ConnsToPeer(ps.id)
	if len(conns) == 0 {
		return &PeerRefusedError{Peer: ps.id.String(), Reason: "disconnected before setup"}
	}
	conn := conns[0]
	n.mu.Lock()
	wrong := n.wrongNet[ps.id]
	n.mu.Unlock()
	if wrong {
		return &PeerRefusedError{Peer: ps.id.String(), Reason: "on another network"}
	}
	ctx, cancel := context.WithTimeout(n.ctx, n.cfg.HandshakeTimeout)
	defer cancel()
	if ider, ok := h.(interface{ IDService() identify.IDService }); ok {
		select {
		case <-ider.IDService().IdentifyWait(conn):
		case <-ctx.Done():
			return fmt.Errorf("%w: identify", ErrSetupTimedOut)
		}
	}
	// IdentifyWait also returns when the connection dies; the protocol
	// list would then be empty and the peer wrongly taken for one that
	// does not speak NodeInfo.
	if conn.IsClosed() {
		return &PeerRefusedError{Peer: ps.id.String(), Reason: "connection closed during identify"}
	}
	// Every libp2p peer lists at least identify itself; an empty list
	// means identify failed, and without it we know neither the peer's
	// protocols nor its listen addresses.
	if protos, err := h.Peerstore().GetProtocols(ps.id); err != nil || len(protos) == 0 {
		return &PeerRefusedError{Peer: ps.id.String(), Reason: "identify did not complete"}
	}
	outbound := conn.Stat().Direction == network.DirOutbound
	remoteIP := netip.Addr{}
	if ip, err := manet.ToIP(conn.RemoteMultiaddr()); err == nil {
		remoteIP, _ = netip.AddrFromSlice(ip)
		remoteIP = remoteIP.Unmap()
	}
	var listen addrbook.NetAddress
	protos, _ := h.Peerstore().SupportsProtocols(ps.id, NodeInfoProtocolID)
	if len(protos) > 0 {
		var theirs *tmp2p.DefaultNodeInfo
		var err error
		// One retry: with two connections (TCP and QUIC, or a
		// simultaneous open) the one the exchange used may be the one
		// that gets closed as redundant.
		for attempt := 0; attempt < 2; attempt++ {
			var s network.Stream
			s, err = h.NewStream(network.WithNoDial(ctx, "nodeinfo"), ps.id, NodeInfoProtocolID)
			if err != nil {
				err = &NodeInfoError{Peer: ps.id.String(), Kind: ErrNodeInfoIO, Detail: "opening stream", Err: err}
			} else {
				theirs, err = exchangeNodeInfo(s, n.ourNodeInfo, n.cfg.HandshakeTimeout)
			}
			if err == nil || !errors.Is(err, ErrNodeInfoIO) || ctx.Err() != nil ||
				h.Network().Connectedness(ps.id) != network.Connected {
				break
			}
		}
		if err != nil {
			return err
		}
		listen, err = checkNodeInfo(theirs, ps.id, n.cfg.Network)
		if err != nil {
			if errors.Is(err, ErrWrongNetwork) {
				n.mu.Lock()
				n.wrongNet[ps.id] = true
				n.mu.Unlock()
			}
			return err
		}
	} else if n.cfg.StrictNodeInfo {
		return &NodeInfoError{Peer: ps.id.String(), Kind: ErrNoNodeInfo, Detail: "strict mode"}
	}
	if listen.IsZero() {
		listen = n.listenFromIdentify(ps.id, remoteIP)
	}

	n.mu.Lock()
	defer n.mu.Unlock()
	info := pex.PeerInfo{
		ID:          ps.id.String(),
		Outbound:    outbound,
		Persistent:  n.persistent[ps.id].ID != "",
		ListenAddr:  listen,
		RemoteIP:    remoteIP,
		ConnectedAt: n.cfg.Clock.Now(),
	}
	exempt := info.Persistent || n.unconditional[ps.id]
	if !exempt {
		if n.ipBanApplies(remoteIP) {
			for _, other := range n.peers {
				if other != ps && other.added && other.info.RemoteIP == remoteIP {
					return &PeerRefusedError{Peer: info.ID, Reason: "another peer already uses IP " + remoteIP.String()}
				}
			}
		}
		out, in := 0, 0
		over := 0
		for id, other := range n.peers {
			if !other.added || n.unconditional[id] {
				continue
			}
			switch {
			case other.info.OverLimit:
				over++
			case other.info.Outbound:
				out++
			default:
				in++
			}
		}
		if outbound && out >= n.cfg.MaxOutboundPeers && !n.dialing[ps.id] {
			return &PeerRefusedError{Peer: info.ID, Reason: "outbound peer limit reached"}
		}
		if !outbound && in >= n.cfg.MaxInboundPeers {
			if over >= n.cfg.OverLimitSlots {
				return &PeerRefusedError{Peer: info.ID, Reason: "inbound peer limit reached"}
			}
			info.OverLimit = true
		}
	}
	ps.info = info
	return nil
}

// listenFromIdentify picks the advertised address from identify's listen
// addresses: one on the connection's IP if any, else the first usable.
func (n *Node) listenFromIdentify(id peer.ID, remote netip.Addr) addrbook.NetAddress {
	var first addrbook.NetAddress
	for _, a := range n.host.Peerstore().Addrs(id) {
		na, _, err := NetAddressFromMultiaddr(a, id)
		if err != nil {
			continue
		}
		if na.IP == remote {
			return na
		}
		if first.IsZero() {
			first = na
		}
	}
	return first
}

func (n *Node) finishSetup(ps *peerState, err error) {
	n.mu.Lock()
	current := n.peers[ps.id] == ps && !n.stopped
	if err == nil && !current {
		err = &PeerRefusedError{Peer: ps.id.String(), Reason: "disconnected during setup"}
	}
	ps.err = err
	if err == nil {
		ps.added = true
	} else if current {
		delete(n.peers, ps.id)
	}
	h := n.host
	n.mu.Unlock()
	if err != nil {
		log.Debugw("peer not accepted", "peer", ps.id, "err", err)
		close(ps.ready)
		if current {
			_ = h.Network().ClosePeer(ps.id)
		}
		return
	}
	log.Debugw("peer ready", "peer", ps.id, "outbound", ps.info.Outbound, "listen", ps.info.ListenAddr)
	if n.handler != nil {
		n.handler.AddPeer(ps.info)
	}
	close(ps.ready)
}

// ---- stream handlers ----

const pexServiceName = "pexp2p.pex"

// isTimeout reports a deadline expiry, whichever muxer raised it (QUIC
// wraps os.ErrDeadlineExceeded, yamux returns a net.Error).
func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

// noteStall records a PEX stream of p that timed out before a complete
// message and reports whether p has now stalled MaxStalledStreams times
// within StallWindow. Old records are pruned on the way, so the table
// holds only peers that stalled recently.
func (n *Node) noteStall(p peer.ID) bool {
	now := time.Now()
	n.mu.Lock()
	defer n.mu.Unlock()
	for id, ts := range n.stalls {
		if now.Sub(ts[len(ts)-1]) > n.cfg.StallWindow {
			delete(n.stalls, id)
		}
	}
	recent := n.stalls[p][:0:0]
	for _, t := range n.stalls[p] {
		if now.Sub(t) <= n.cfg.StallWindow {
			recent = append(recent, t)
		}
	}
	recent = append(recent, now)
	if len(recent) >= n.cfg.MaxStalledStreams {
		delete(n.stalls, p)
		return true
	}
	n.stalls[p] = recent
	return false
}

// handlePexStream serves one inbound channel-0 message, in the manner of
// go-libp2p's ping handler: attach to a service scope, reserve memory for
// the largest message, bound the stream in time, reset on any error.
func (n *Node) handlePexStream(s network.Stream) {
	if err := s.Scope().SetService(pexServiceName); err != nil {
		log.Debugw("attaching PEX stream to service", "err", err)
		_ = s.ResetWithError(network.StreamResourceLimitExceeded)
		return
	}
	if err := s.Scope().ReserveMemory(MaxMsgSize, network.ReservationPriorityAlways); err != nil {
		log.Debugw("reserving memory for PEX stream", "err", err)
		_ = s.ResetWithError(network.StreamResourceLimitExceeded)
		return
	}
	defer s.Scope().ReleaseMemory(MaxMsgSize)

	from := s.Conn().RemotePeer()
	arrived := s.Stat().Opened
	violation := func(err error) {
		_ = s.ResetWithError(network.StreamProtocolViolation)
		log.Infow("peer broke the PEX wire protocol", "peer", from, "err", err)
		banned := n.banForWire(from)
		if f := n.cfg.OnWireViolation; f != nil {
			f(from.String(), WireViolationReason(err), banned)
		}
		n.StopPeerForError(from.String(), err)
	}
	_ = s.SetReadDeadline(time.Now().Add(n.cfg.StreamTimeout))
	msg, size, err := readFrame(s)
	if err != nil {
		switch {
		case IsProtocolViolation(err):
			violation(err)
		case isTimeout(err) && n.noteStall(from):
			violation(wireErr(ErrStalledStreams, err, "%d PEX streams without a complete message within %v",
				n.cfg.MaxStalledStreams, n.cfg.StallWindow))
		default:
			_ = s.Reset()
			log.Debugw("PEX stream failed", "peer", from, "err", err)
		}
		return
	}
	// The message is delivered as soon as it is complete and the end of
	// the stream is checked afterwards: waiting for the writer's close
	// first lets a stalled connection release several streams at once,
	// which the reactor would take for a request flood (Q4). A second
	// message is still caught, and still a violation.
	defer func() {
		_ = s.SetReadDeadline(time.Now().Add(n.cfg.StreamTimeout))
		switch err := checkEnd(s, size); {
		case err == nil:
			_ = s.Close()
		case IsProtocolViolation(err):
			violation(err)
		default:
			_ = s.Reset()
		}
	}()
	// A message may beat our own setup of the peer (its setup finished
	// first); wait for ours rather than lose it. It may even beat the
	// connectedness event to eventLoop (the bus delivers it
	// asynchronously, late on a loaded host): the stream proves the
	// connection, so start the setup here, as Dial does; peerConnected
	// is idempotent. Dropping the message instead cost a seed's visitor
	// its only answer (about 1 in 150 under BenchmarkSeedCapacity).
	n.mu.Lock()
	ps := n.peers[from]
	if ps == nil {
		n.mu.Unlock()
		n.peerConnected(from)
		n.mu.Lock()
		ps = n.peers[from]
	}
	held := false
	if ps != nil && !ps.added && ps.err == nil {
		if _, isReq := msg.(*tmp2p.PexRequest); isReq {
			if ps.waitingRequest {
				// The sender re-asked after its request timeout while our
				// setup was slow. Delivering both at once would look like
				// a flood (Q4) and ban an honest peer; they are the same
				// question, so one answer serves both.
				n.mu.Unlock()
				log.Debugw("dropping repeated PexRequest held during setup", "peer", from)
				return
			}
			ps.waitingRequest, held = true, true
		}
	}
	n.mu.Unlock()
	if ps == nil {
		log.Debugw("PEX message from a peer without setup", "peer", from)
		return
	}
	if held {
		defer func() {
			n.mu.Lock()
			ps.waitingRequest = false
			n.mu.Unlock()
		}()
	}
	select {
	case <-ps.ready:
	case <-time.After(n.cfg.HandshakeTimeout):
		return
	case <-n.ctx.Done():
		return
	}
	if ps.err != nil || n.handler == nil {
		return
	}
	DeliverAt(n.handler, from.String(), msg, arrived)
}

// OwnAddressBook is implemented by a ban list that also records our own
// addresses (the address book); a dial of our own ID feeds it (W3).
type OwnAddressBook interface {
	RemoveAddress(id string)
	AddOurAddress(addr addrbook.NetAddress)
}

// WireBanner is implemented by a ban list that can record bans (the
// address book): a peer that breaks the wire protocol is banned there
// for WireBanTime, as the reactor bans other misbehaviour.
type WireBanner interface {
	MarkBad(addr addrbook.NetAddress, d time.Duration)
}

// WireBanTime is how long a peer that sends undecodable channel-0 data is
// banned; upstream's defaultBanTime.
const WireBanTime = 24 * time.Hour

// banForWire bans the peer in the book, reporting whether it could.
func (n *Node) banForWire(id peer.ID) bool {
	wb, ok := n.cfg.Bans.(WireBanner)
	if !ok {
		return false
	}
	n.mu.Lock()
	addr := addrbook.NetAddress{ID: id.String()}
	if ps := n.peers[id]; ps != nil {
		if !ps.info.ListenAddr.IsZero() {
			addr = ps.info.ListenAddr
		} else {
			addr.IP = ps.info.RemoteIP
		}
	}
	n.mu.Unlock()
	wb.MarkBad(addr, WireBanTime)
	return true
}

// WireViolationReason labels a protocol violation for metrics (the
// reason label of cometbft_p2p_pex_misbehavior_total): "wire_too_large",
// "wire_malformed", "wire_empty", "wire_unknown_type" or
// "wire_second_message"; "" when err is not a violation.
func WireViolationReason(err error) string {
	for _, k := range []struct {
		err   error
		label string
	}{
		{ErrMessageTooLarge, "wire_too_large"},
		{ErrMalformed, "wire_malformed"},
		{ErrEmptyMessage, "wire_empty"},
		{ErrUnknownMessage, "wire_unknown_type"},
		{ErrSecondMessage, "wire_second_message"},
		{ErrStalledStreams, "wire_stalled"},
	} {
		if errors.Is(err, k.err) {
			return k.label
		}
	}
	return ""
}

func (n *Node) handleNodeInfoStream(s network.Stream) {
	if err := s.Scope().SetService(pexServiceName); err != nil {
		_ = s.ResetWithError(network.StreamResourceLimitExceeded)
		return
	}
	if err := s.Scope().ReserveMemory(MaxNodeInfoSize, network.ReservationPriorityAlways); err != nil {
		_ = s.ResetWithError(network.StreamResourceLimitExceeded)
		return
	}
	defer s.Scope().ReleaseMemory(MaxNodeInfoSize)
	_ = s.SetDeadline(time.Now().Add(n.cfg.HandshakeTimeout))
	if _, err := readNodeInfo(s, s.Conn().RemotePeer().String()); err != nil {
		if errors.Is(err, ErrBadNodeInfo) {
			_ = s.ResetWithError(network.StreamProtocolViolation)
		} else {
			_ = s.Reset()
		}
		return
	}
	// Their NodeInfo is checked on the stream we open ourselves; here we
	// only answer.
	n.mu.Lock()
	ours := n.ourNodeInfo
	n.mu.Unlock()
	if err := writeNodeInfo(s, ours); err != nil {
		_ = s.Reset()
		return
	}
	_ = s.Close()
}

// ---- background ----

// banSweep closes connections of peers banned since they connected.
func (n *Node) banSweep() {
	defer n.wg.Done()
	t := time.NewTicker(n.cfg.BanSweepPeriod)
	defer t.Stop()
	for {
		select {
		case <-n.ctx.Done():
			return
		case <-t.C:
		}
		for _, c := range n.host.Network().Conns() {
			if !n.allowPeer(c.RemotePeer()) || !n.allowAddr(c.RemoteMultiaddr()) {
				log.Infow("closing connection of banned peer", "peer", c.RemotePeer())
				_ = c.Close()
			}
		}
	}
}

// persistentLoop keeps persistent peers connected.
func (n *Node) persistentLoop() {
	defer n.wg.Done()
	if len(n.persistent) == 0 {
		return
	}
	t := time.NewTicker(n.cfg.PersistentDialPeriod)
	defer t.Stop()
	for {
		for id, cp := range n.persistent {
			n.mu.Lock()
			busy := n.peers[id] != nil || n.dialing[id]
			n.mu.Unlock()
			if busy {
				continue
			}
			na, _ := cp.NetAddress()
			na.ID = id.String()
			n.wg.Add(1)
			go func() {
				defer n.wg.Done()
				if err := n.Dial(n.ctx, na); err != nil && !errors.Is(err, pex.ErrAlreadyConnectedOrDialing) {
					log.Debugw("persistent peer dial failed", "peer", id, "err", err)
				}
			}()
		}
		select {
		case <-n.ctx.Done():
			return
		case <-t.C:
		}
	}
}

// ---- gating ----

// allowPeer: not banned in the book, not recently stopped for an error.
func (n *Node) allowPeer(id peer.ID) bool {
	n.mu.Lock()
	until, blocked := n.blocked[id]
	now := n.cfg.Clock.Now()
	if blocked && !now.Before(until) {
		delete(n.blocked, id)
		blocked = false
	}
	bans := n.cfg.Bans
	n.mu.Unlock()
	if blocked {
		return false
	}
	return bans == nil || !bans.IsBanned(id.String())
}

// allowAddr: the IP is not the IP of a banned peer (loopback and
// allow_duplicate_ip exempt, see ipBanApplies).
func (n *Node) allowAddr(m ma.Multiaddr) bool {
	ip0, err := manet.ToIP(m)
	if err != nil {
		return true
	}
	ip, _ := netip.AddrFromSlice(ip0)
	ip = ip.Unmap()
	if !n.ipBanApplies(ip) {
		return true
	}
	n.mu.Lock()
	until, blocked := n.blockedIPs[ip]
	now := n.cfg.Clock.Now()
	if blocked && !now.Before(until) {
		delete(n.blockedIPs, ip)
		blocked = false
	}
	bans := n.cfg.Bans
	n.mu.Unlock()
	if blocked {
		return false
	}
	if bans != nil {
		for _, b := range bans.Bans() {
			if b.Addr.IP == ip {
				return false
			}
		}
	}
	return true
}

// gater is the Node seen as a libp2p connection gater.
type gater Node

func (g *gater) InterceptPeerDial(p peer.ID) bool {
	n := (*Node)(g)
	n.mu.Lock()
	wrong := n.wrongNet[p]
	n.mu.Unlock()
	return !wrong && n.allowPeer(p)
}

func (g *gater) InterceptAddrDial(_ peer.ID, m ma.Multiaddr) bool {
	return (*Node)(g).allowAddr(m)
}

func (g *gater) InterceptAccept(cm network.ConnMultiaddrs) bool {
	return (*Node)(g).allowAddr(cm.RemoteMultiaddr())
}

func (g *gater) InterceptSecured(dir network.Direction, p peer.ID, cm network.ConnMultiaddrs) bool {
	n := (*Node)(g)
	if !n.allowPeer(p) {
		return false
	}
	if dir != network.DirInbound {
		return true
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.wrongNet[p] {
		return false
	}
	// Another connection of a known peer is the same peer.
	if n.peers[p] != nil || n.unconditional[p] || n.persistent[p].ID != "" {
		return true
	}
	// A cheap early refusal; setupPeer makes the exact decision once the
	// direction of every pending peer is known.
	in := 0
	for id, ps := range n.peers {
		if ps.added && !n.unconditional[id] && !ps.info.Outbound {
			in++
		}
	}
	return in < n.cfg.MaxInboundPeers+n.cfg.OverLimitSlots
}

func (g *gater) InterceptUpgraded(network.Conn) (bool, control.DisconnectReason) { return true, 0 }

// Peer IDs of the peers handed to the handler, for tests and tools.
func (n *Node) peerIDs() []string {
	var out []string
	for _, p := range n.Peers() {
		out = append(out, p.ID)
	}
	return out
}

// sharedPorts gives port-0 listen addresses one port number per IP that
// is free for both TCP and UDP, so that a node's QUIC and TCP addresses
// share the port a NetAddress can carry (the kubo and lp2p convention).
func sharedPorts(addrs []ma.Multiaddr) ([]ma.Multiaddr, error) {
	chosen := map[netip.Addr]uint16{}
	out := make([]ma.Multiaddr, 0, len(addrs))
	for _, a := range addrs {
		ip, port, tpt, _, err := splitListen(a)
		if err != nil {
			return nil, err
		}
		if port != 0 {
			out = append(out, a)
			continue
		}
		p, ok := chosen[ip]
		if !ok {
			p, err = freeSharedPort(ip)
			if err != nil {
				return nil, fmt.Errorf("transport: choosing a port for %s: %w", a, err)
			}
			chosen[ip] = p
		}
		fam := "ip4"
		if ip.Is6() {
			fam = "ip6"
		}
		text := fmt.Sprintf("/%s/%s/tcp/%d", fam, ip, p)
		if tpt == TransportQUIC {
			text = fmt.Sprintf("/%s/%s/udp/%d/quic-v1", fam, ip, p)
		}
		m, err := ma.NewMultiaddr(text)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

// splitListen is SplitMultiaddr for listen addresses, where the
// unspecified IP and port 0 are allowed.
func splitListen(a ma.Multiaddr) (netip.Addr, uint16, Transport, peer.ID, error) {
	if len(a) < 2 {
		return netip.Addr{}, 0, 0, "", maErr(a.String(), ErrUnsupportedAddr, "listen address", nil)
	}
	ip, _ := netip.AddrFromSlice(a[0].RawValue())
	port := uint16(0)
	if raw := a[1].RawValue(); len(raw) == 2 {
		port = uint16(raw[0])<<8 | uint16(raw[1])
	}
	// Validate the shape on a stand-in with a usable IP and port.
	probe := slices.Clone(a)
	fam := "ip4"
	if a[0].Code() == ma.P_IP6 {
		fam = "ip6"
	}
	stand := "192.0.2.1"
	if fam == "ip6" {
		stand = "2001:db8::1"
	}
	probe[0] = *mustComponent(fam, stand)
	if port == 0 {
		probe[1] = *mustComponent(a[1].Protocol().Name, "1")
	}
	_, _, tpt, id, err := SplitMultiaddr(probe)
	if err != nil {
		var me *MultiaddrError
		if errors.As(err, &me) {
			me.Addr = a.String()
		}
		return ip, 0, 0, "", err
	}
	return ip.Unmap(), port, tpt, id, nil
}

func freeSharedPort(ip netip.Addr) (uint16, error) {
	var last error
	for range 20 {
		tl, err := net.Listen("tcp", netip.AddrPortFrom(ip, 0).String())
		if err != nil {
			return 0, err
		}
		port := uint16(tl.Addr().(*net.TCPAddr).Port)
		ul, err := net.ListenPacket("udp", netip.AddrPortFrom(ip, port).String())
		_ = tl.Close()
		if err != nil {
			last = err
			continue
		}
		_ = ul.Close()
		return port, nil
	}
	return 0, last
}
