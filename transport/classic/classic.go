// Package classic is pexp2p's classic CometBFT face: this project's PEX
// reactor hosted on upstream cometbft's p2p.Switch and MultiplexTransport
// (TCP, SecretConnection, NodeInfo handshake with the chain ID). Nothing of
// the classic wire is reimplemented here; the package only adapts upstream's
// switch to the pex.Network interface and feeds the reactor channel 0.
package classic

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"time"

	cmtcfg "github.com/cometbft/cometbft/config"
	"github.com/cometbft/cometbft/crypto/ed25519"
	cmtlog "github.com/cometbft/cometbft/libs/log"
	"github.com/cometbft/cometbft/p2p"
	"github.com/cometbft/cometbft/version"

	"github.com/pexp2p/pexp2p/addrbook"
	"github.com/pexp2p/pexp2p/pex"
)

// Handler is the part of the PEX reactor the face drives; *pex.Reactor
// implements it.
type Handler = pex.Handler

// Peer is what the face knows about a connected classic peer, including the
// public key proven in the SecretConnection handshake; the bridge needs the
// key because a classic ID (a hash) cannot be turned back into a libp2p
// peer ID.
type Peer struct {
	pex.PeerInfo
	// PubKey is the peer's raw ed25519 public key (32 bytes); nil when it
	// could not be read from the connection.
	PubKey []byte
	// DialAddr is the address a connection to the peer is known to work
	// on: the dialed address for outbound peers, the advertised listen
	// address (with an unspecified IP replaced by the remote IP) for
	// inbound ones. Zero when neither is usable.
	DialAddr addrbook.NetAddress
}

// PeerObserver is told about every peer handed to the handler, after the
// handler saw it. The bridge uses it to learn keys.
type PeerObserver interface {
	ClassicPeerConnected(p Peer)
}

// Errors returned by New for a bad configuration.
var (
	ErrNoNodeKey     = errors.New("classic face: node key is required")
	ErrNoChainID     = errors.New("classic face: chain ID (network) is required")
	ErrBadListenAddr = errors.New("classic face: bad listen address")
	ErrNotStarted    = errors.New("classic face: not started")
	ErrNoHandler     = errors.New("classic face: Start called before SetHandler")
)

// Config describes one classic face.
type Config struct {
	// NodeKey is the node's identity; its ID is the classic node ID.
	NodeKey *p2p.NodeKey
	// ChainID is NodeInfo.Network; peers of another chain are refused by
	// upstream's handshake.
	ChainID string
	// ListenAddr is "tcp://ip:port" or "ip:port". Port 0 picks a free port
	// before listening (upstream's transport needs the port up front to
	// put it in NodeInfo).
	ListenAddr string
	// ExternalAddr, when set, is advertised in NodeInfo instead of the
	// listen address, as upstream's p2p.external_address.
	ExternalAddr string
	// Moniker appears in NodeInfo; default "pexp2p".
	Moniker string
	// P2P carries the switch settings upstream reads (peer limits,
	// AllowDuplicateIP, rates, ...). Nil means upstream's defaults.
	P2P *cmtcfg.P2PConfig
	// PersistentPeers are "id@host:port" strings, as upstream's config.
	PersistentPeers []string
	// Book is the classic book (ClassicIDs); the switch itself needs it to
	// record our own address when it meets itself and for private IDs.
	Book pex.AddrBook
	// PrivatePeerIDs are never gossiped (handed to the book).
	PrivatePeerIDs []string
	// Logger for upstream's switch; nil means silent.
	Logger cmtlog.Logger
	// Now is the clock used for PeerInfo.ConnectedAt; nil means time.Now.
	Now func() time.Time
	// ProbeTimeout bounds one Probe; default 5s.
	ProbeTimeout time.Duration
}

// Face is one classic CometBFT face. It implements pex.Network.
type Face struct {
	cfg       Config
	p2pCfg    *cmtcfg.P2PConfig
	nodeKey   *p2p.NodeKey
	nodeInfo  p2p.DefaultNodeInfo
	listen    *p2p.NetAddress
	self      addrbook.NetAddress
	transport *p2p.MultiplexTransport
	sw        *p2p.Switch
	adapter   *channelReactor
	now       func() time.Time

	mu       sync.Mutex
	handler  Handler
	observer PeerObserver
	peers    map[string]Peer
	started  bool
	stopped  bool
}

var _ pex.Network = (*Face)(nil)

// New builds the face: the transport, the switch and the channel-0 adapter.
// Nothing listens until Start.
func New(cfg Config) (*Face, error) {
	if cfg.NodeKey == nil || cfg.NodeKey.PrivKey == nil {
		return nil, ErrNoNodeKey
	}
	if cfg.ChainID == "" {
		return nil, ErrNoChainID
	}
	p2pCfg := cfg.P2P
	if p2pCfg == nil {
		p2pCfg = cmtcfg.DefaultP2PConfig()
	}
	// The switch keeps the pointer; copy so later edits by the caller do
	// not race with it.
	c := *p2pCfg
	p2pCfg = &c
	if cfg.Moniker == "" {
		cfg.Moniker = "pexp2p"
	}
	if cfg.ProbeTimeout <= 0 {
		cfg.ProbeTimeout = 5 * time.Second
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	logger := cfg.Logger
	if logger == nil {
		logger = cmtlog.NewNopLogger()
	}
	id := cfg.NodeKey.ID()

	listen, err := resolveListenAddr(id, cfg.ListenAddr)
	if err != nil {
		return nil, err
	}
	advertised := listen.DialString()
	if cfg.ExternalAddr != "" {
		ext, err := p2p.NewNetAddressString(p2p.IDAddressString(id, cfg.ExternalAddr))
		if err != nil {
			return nil, fmt.Errorf("%w: external address %q: %v", ErrBadListenAddr, cfg.ExternalAddr, err)
		}
		advertised = ext.DialString()
	}
	self, err := fromP2P(&p2p.NetAddress{ID: id, IP: hostIP(advertised), Port: portOf(advertised)})
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadListenAddr, err)
	}

	ni := p2p.DefaultNodeInfo{
		ProtocolVersion: p2p.NewProtocolVersion(version.P2PProtocol, version.BlockProtocol, 0),
		DefaultNodeID:   id,
		ListenAddr:      advertised,
		Network:         cfg.ChainID,
		Version:         version.TMCoreSemVer,
		// Only PEX: CompatibleWith needs one common channel, and every
		// classic node with PEX on has channel 0.
		Channels: []byte{pexChannel},
		Moniker:  cfg.Moniker,
		Other:    p2p.DefaultNodeInfoOther{TxIndex: "off"},
	}
	if err := ni.Validate(); err != nil {
		return nil, fmt.Errorf("classic face: node info: %w", err)
	}

	mt := p2p.NewMultiplexTransport(ni, *cfg.NodeKey, p2p.MConnConfig(p2pCfg))
	var connFilters []p2p.ConnFilterFunc
	if !p2pCfg.AllowDuplicateIP {
		connFilters = append(connFilters, p2p.ConnDuplicateIPFilter())
	}
	p2p.MultiplexTransportConnFilters(connFilters...)(mt)
	p2p.MultiplexTransportMaxIncomingConnections(p2pCfg.MaxNumInboundPeers)(mt)

	f := &Face{
		cfg:       cfg,
		p2pCfg:    p2pCfg,
		nodeKey:   cfg.NodeKey,
		nodeInfo:  ni,
		listen:    listen,
		self:      self,
		transport: mt,
		now:       now,
		peers:     make(map[string]Peer),
	}
	f.adapter = newChannelReactor(f)
	sw := p2p.NewSwitch(p2pCfg, mt)
	sw.SetLogger(logger)
	sw.AddReactor("PEX", f.adapter)
	sw.SetNodeInfo(ni)
	sw.SetNodeKey(cfg.NodeKey)
	if cfg.Book != nil {
		sw.SetAddrBook(&switchBook{book: cfg.Book})
		cfg.Book.AddOurAddress(self)
	} else {
		// The switch dereferences its book when it meets itself; a book
		// that forgets is safer than a nil pointer.
		sw.SetAddrBook(&switchBook{})
	}
	if len(cfg.PrivatePeerIDs) > 0 {
		if err := sw.AddPrivatePeerIDs(cfg.PrivatePeerIDs); err != nil {
			return nil, fmt.Errorf("classic face: private peer IDs: %w", err)
		}
	}
	if len(cfg.PersistentPeers) > 0 {
		if err := sw.AddPersistentPeers(cfg.PersistentPeers); err != nil {
			return nil, fmt.Errorf("classic face: persistent peers: %w", err)
		}
	}
	f.sw = sw
	return f, nil
}

// SetHandler gives the face its reactor; call it before Start.
func (f *Face) SetHandler(h Handler) {
	f.mu.Lock()
	f.handler = h
	f.mu.Unlock()
}

// SetPeerObserver registers the bridge (or anything else) to hear of every
// connected peer with its public key.
func (f *Face) SetPeerObserver(o PeerObserver) {
	f.mu.Lock()
	f.observer = o
	f.mu.Unlock()
}

// Start listens and starts the switch. The reactor is started by its owner,
// not by the face.
func (f *Face) Start() error {
	f.mu.Lock()
	if f.started {
		f.mu.Unlock()
		return nil
	}
	if f.handler == nil {
		f.mu.Unlock()
		return ErrNoHandler
	}
	f.started = true
	f.mu.Unlock()
	failed := func() {
		f.mu.Lock()
		f.started = false
		f.mu.Unlock()
	}
	if err := f.transport.Listen(*f.listen); err != nil {
		failed()
		return fmt.Errorf("classic face: listen on %s: %w", f.listen.DialString(), err)
	}
	if err := f.sw.Start(); err != nil {
		_ = f.transport.Close()
		failed()
		return fmt.Errorf("classic face: start switch: %w", err)
	}
	if len(f.cfg.PersistentPeers) > 0 {
		// Upstream dials persistent peers in the background and keeps
		// redialing them; it refuses only malformed strings, checked in New.
		if err := f.sw.DialPeersAsync(f.cfg.PersistentPeers); err != nil {
			return fmt.Errorf("classic face: dial persistent peers: %w", err)
		}
	}
	return nil
}

// Stop stops the switch (disconnecting every peer) and closes the listener.
func (f *Face) Stop() error {
	f.mu.Lock()
	if !f.started || f.stopped {
		f.mu.Unlock()
		return nil
	}
	f.stopped = true
	f.mu.Unlock()
	err := f.sw.Stop()
	if cerr := f.transport.Close(); cerr != nil && err == nil {
		err = cerr
	}
	return err
}

// Switch exposes upstream's switch (for tests and metrics).
func (f *Face) Switch() *p2p.Switch { return f.sw }

// ID is the classic node ID.
func (f *Face) ID() string { return string(f.nodeKey.ID()) }

// NetAddress is the address this face advertises (ID@ip:port), which is
// also the source the bridge stamps on addresses crossing into this face.
func (f *Face) NetAddress() addrbook.NetAddress { return f.self }

// ListenAddr is the address actually listened on.
func (f *Face) ListenAddr() addrbook.NetAddress {
	na, _ := fromP2P(f.listen)
	return na
}

// NodeInfo is the face's own NodeInfo, as sent in the handshake.
func (f *Face) NodeInfo() p2p.DefaultNodeInfo { return f.nodeInfo }

// Peer returns what the face knows about a connected peer.
func (f *Face) Peer(id string) (Peer, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, ok := f.peers[id]
	return p, ok
}

// PeerPubKey is the raw ed25519 key a connected peer proved.
func (f *Face) PeerPubKey(id string) ([]byte, bool) {
	p, ok := f.Peer(id)
	if !ok || p.PubKey == nil {
		return nil, false
	}
	return p.PubKey, true
}

// Peers implements pex.Network: the peers handed to the handler.
func (f *Face) Peers() []pex.PeerInfo {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]pex.PeerInfo, 0, len(f.peers))
	for _, p := range f.peers {
		out = append(out, p.PeerInfo)
	}
	return out
}

// Send implements pex.Network.
func (f *Face) Send(peerID string, msg pex.Message) bool {
	p := f.sw.Peers().Get(p2p.ID(peerID))
	if p == nil {
		return false
	}
	return p.Send(p2p.Envelope{ChannelID: pexChannel, Message: msg})
}

// Dial implements pex.Network over Switch.DialPeerWithAddress. Upstream's
// dial cannot be cancelled; it is bounded by upstream's transport timeouts
// (1 s to connect, 3 s for the handshakes), so ctx is only checked before.
func (f *Face) Dial(ctx context.Context, addr addrbook.NetAddress) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	na, err := toP2P(addr)
	if err != nil {
		return err
	}
	return mapDialError(addr, f.sw.DialPeerWithAddress(na))
}

// mapDialError turns upstream's dial errors into the ones the reactor
// distinguishes, keeping upstream's error in the chain.
func mapDialError(addr addrbook.NetAddress, err error) error {
	if err == nil {
		return nil
	}
	var busy p2p.ErrCurrentlyDialingOrExistingAddress
	if errors.As(err, &busy) {
		return fmt.Errorf("dial %s: %w (%v)", addr, pex.ErrAlreadyConnectedOrDialing, err)
	}
	var rej p2p.ErrRejected
	if errors.As(err, &rej) {
		switch {
		case rej.IsDuplicate():
			return fmt.Errorf("dial %s: %w (%v)", addr, pex.ErrAlreadyConnectedOrDialing, err)
		case rej.IsAuthFailure() && isIDMismatch(err):
			return fmt.Errorf("dial %s: %w (%v)", addr, pex.ErrAuthFailure, err)
		}
	}
	return fmt.Errorf("dial %s: %w", addr, err)
}

// StopPeerForError implements pex.Network.
func (f *Face) StopPeerForError(peerID string, reason error) {
	if p := f.sw.Peers().Get(p2p.ID(peerID)); p != nil {
		f.sw.StopPeerForError(p, reason)
	}
}

// StopPeerGracefully implements pex.Network: pending sends are flushed
// before the switch removes the peer, as upstream's seed mode does.
func (f *Face) StopPeerGracefully(peerID string) {
	if p := f.sw.Peers().Get(p2p.ID(peerID)); p != nil {
		p.FlushStop()
		f.sw.StopPeerGracefully(p)
	}
}

// NumPeers implements pex.Network.
func (f *Face) NumPeers() (outbound, inbound, dialing int) { return f.sw.NumPeers() }

// MaxNumOutboundPeers implements pex.Network.
func (f *Face) MaxNumOutboundPeers() int { return f.sw.MaxNumOutboundPeers() }

// IsDialingOrConnected implements pex.Network.
func (f *Face) IsDialingOrConnected(addr addrbook.NetAddress) bool {
	na, err := toP2P(addr)
	if err != nil {
		return false
	}
	return f.sw.IsDialingOrExistingAddress(na)
}

// IsPersistent implements pex.Network.
func (f *Face) IsPersistent(addr addrbook.NetAddress) bool {
	na, err := toP2P(addr)
	if err != nil {
		return false
	}
	return f.sw.IsPeerPersistent(na)
}

// peerAdded is called by the adapter once upstream started the peer.
func (f *Face) peerAdded(p p2p.Peer) {
	info := peerInfo(p, f.now())
	cp := Peer{PeerInfo: info}
	if pk, ok := RemotePubKey(p); ok {
		cp.PubKey = pk.Bytes()
	}
	cp.DialAddr = dialAddr(p, info)
	f.mu.Lock()
	f.peers[info.ID] = cp
	h, o := f.handler, f.observer
	f.mu.Unlock()
	if h != nil {
		h.AddPeer(info)
	}
	if o != nil {
		o.ClassicPeerConnected(cp)
	}
}

func (f *Face) peerRemoved(p p2p.Peer, reason any) {
	id := string(p.ID())
	f.mu.Lock()
	_, known := f.peers[id]
	delete(f.peers, id)
	h := f.handler
	f.mu.Unlock()
	if known && h != nil {
		h.RemovePeer(id, reason)
	}
}

func (f *Face) received(e p2p.Envelope) {
	f.mu.Lock()
	h := f.handler
	f.mu.Unlock()
	if h != nil && e.Src != nil {
		h.Receive(string(e.Src.ID()), e.Message)
	}
}

// peerInfo converts upstream's peer into the reactor's view.
func peerInfo(p p2p.Peer, now time.Time) pex.PeerInfo {
	info := pex.PeerInfo{
		ID:          string(p.ID()),
		Outbound:    p.IsOutbound(),
		Persistent:  p.IsPersistent(),
		ConnectedAt: now,
	}
	if ip, ok := netip.AddrFromSlice(p.RemoteIP()); ok {
		info.RemoteIP = ip.Unmap()
	}
	if ni := p.NodeInfo(); ni != nil {
		if na, err := ni.NetAddress(); err == nil {
			if a, err := fromP2P(na); err == nil {
				info.ListenAddr = a
			}
		}
	}
	return info
}

// dialAddr is the address worth probing for the bridge: where we reached
// the peer, or where it says it listens with a wildcard IP replaced by the
// IP it connected from (nodes listening on 0.0.0.0 without an external
// address advertise that wildcard).
func dialAddr(p p2p.Peer, info pex.PeerInfo) addrbook.NetAddress {
	if p.IsOutbound() {
		if sa := p.SocketAddr(); sa != nil {
			if a, err := fromP2P(sa); err == nil {
				return a
			}
		}
	}
	la := info.ListenAddr
	if la.IsZero() || la.Port == 0 {
		return addrbook.NetAddress{}
	}
	if la.IP.IsUnspecified() && info.RemoteIP.IsValid() {
		la.IP = info.RemoteIP
	}
	return la
}

// PubKeyToClassicID is CometBFT's ID rule: hex of SHA-256(pubkey)[:20].
func PubKeyToClassicID(raw []byte) (string, error) {
	if len(raw) != ed25519.PubKeySize {
		return "", fmt.Errorf("classic ID: ed25519 public key has %d bytes, want %d", len(raw), ed25519.PubKeySize)
	}
	return string(p2p.PubKeyToID(ed25519.PubKey(raw))), nil
}

// resolveListenAddr parses the listen address and, for port 0, picks a free
// port now, because upstream's NodeInfo must carry the real port before the
// transport listens.
func resolveListenAddr(id p2p.ID, laddr string) (*p2p.NetAddress, error) {
	if laddr == "" {
		return nil, fmt.Errorf("%w: empty", ErrBadListenAddr)
	}
	na, err := p2p.NewNetAddressString(p2p.IDAddressString(id, laddr))
	if err != nil {
		return nil, fmt.Errorf("%w: %q: %v", ErrBadListenAddr, laddr, err)
	}
	if na.Port == 0 {
		ln, err := net.Listen("tcp", na.DialString())
		if err != nil {
			return nil, fmt.Errorf("%w: %q: %v", ErrBadListenAddr, laddr, err)
		}
		na.Port = uint16(ln.Addr().(*net.TCPAddr).Port)
		_ = ln.Close()
	}
	return na, nil
}

func hostIP(hostport string) net.IP {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		return nil
	}
	return net.ParseIP(host)
}

func portOf(hostport string) uint16 {
	_, p, err := net.SplitHostPort(hostport)
	if err != nil {
		return 0
	}
	n, err := strconv.ParseUint(p, 10, 16)
	if err != nil {
		return 0
	}
	return uint16(n)
}

// toP2P converts to upstream's address type; the ID must be a classic ID.
func toP2P(a addrbook.NetAddress) (*p2p.NetAddress, error) {
	id, err := addrbook.ClassicIDs.Normalize(a.ID)
	if err != nil {
		return nil, &addrbook.AddressError{Input: a.String(), Reason: "not a classic address", Err: err}
	}
	if !a.IP.IsValid() {
		return nil, &addrbook.AddressError{Input: a.String(), Reason: "missing IP"}
	}
	na := p2p.NewNetAddressIPPort(net.IP(a.IP.AsSlice()), a.Port)
	na.ID = p2p.ID(id)
	return na, nil
}

// fromP2P converts upstream's address type.
func fromP2P(na *p2p.NetAddress) (addrbook.NetAddress, error) {
	if na == nil {
		return addrbook.NetAddress{}, &addrbook.AddressError{Input: "<nil>", Reason: "no address"}
	}
	ip, ok := netip.AddrFromSlice(na.IP)
	if !ok {
		return addrbook.NetAddress{}, &addrbook.AddressError{Input: na.String(), Reason: "missing IP"}
	}
	return addrbook.NewNetAddress(addrbook.ClassicIDs, string(na.ID), ip, na.Port)
}
