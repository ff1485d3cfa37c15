package pex

import (
	"context"
	"errors"
	"net/netip"
	"time"

	"github.com/cosmos/gogoproto/proto"
	"github.com/pexp2p/pexp2p/addrbook"
)

// PeerInfo is what the reactor needs to know about one connected peer.
// The network face fills it once the peer is fully set up (identify and
// NodeInfo done on libp2p; the SecretConnection handshake on classic).
type PeerInfo struct {
	// ID in the book's ID kind: a peer ID on libp2p, 40-hex on classic.
	ID string
	// Outbound is true when we dialed the peer.
	Outbound bool
	// Persistent peers are never disconnected by seed mode and have their
	// dial backoff capped by Config.PersistentPeersMaxDialPeriod.
	Persistent bool
	// ListenAddr is the address the peer advertises as its own (NodeInfo
	// listen address or identify); zero when it advertised nothing usable.
	ListenAddr addrbook.NetAddress
	// RemoteIP is the IP the connection comes from.
	RemoteIP netip.Addr
	// ConnectedAt is when the peer was handed to the reactor.
	ConnectedAt time.Time
	// OverLimit marks an inbound peer the face accepted although its
	// inbound slots are full (it must not count in NumPeers' inbound).
	// The reactor answers one PexRequest from it and then stops it
	// gracefully, or stops it after Config.OverLimitGrace without a
	// request, so that a newcomer to a full network is never starved of
	// addresses. A face that refuses connections beyond its limit never
	// sets it.
	OverLimit bool
}

// Handler is the reactor as a network face sees it: the entry points a
// face calls as peers come and go and messages arrive. *Reactor
// implements it; every face (libp2p, classic, the in-memory test network)
// delivers to one.
type Handler interface {
	AddPeer(p PeerInfo)
	RemovePeer(peerID string, reason any)
	Receive(peerID string, msg Message)
}

var _ Handler = (*Reactor)(nil)

// Network is the reactor's whole view of the transport it runs on. The
// libp2p face (package transport), the classic face (CometBFT's switch)
// and the in-memory test network implement it. Implementations must be
// safe for concurrent use.
type Network interface {
	// Peers lists the connected peers that were handed to the reactor.
	Peers() []PeerInfo
	// Send delivers one PEX message (a *tmp2p.PexRequest or
	// *tmp2p.PexAddrs) to a connected peer; false when it could not.
	Send(peerID string, msg Message) bool
	// Dial connects to addr and returns once the peer is set up or the
	// dial failed. It returns ErrAlreadyConnectedOrDialing when a dial to
	// that ID or address is in flight or the peer is connected.
	Dial(ctx context.Context, addr addrbook.NetAddress) error
	// StopPeerForError disconnects a peer because it misbehaved.
	StopPeerForError(peerID string, reason error)
	// StopPeerGracefully disconnects a peer after its pending messages
	// are flushed (seed mode).
	StopPeerGracefully(peerID string)
	// NumPeers counts outbound and inbound peers (unconditional peers
	// excluded, as upstream) and dials in flight.
	NumPeers() (outbound, inbound, dialing int)
	// MaxNumOutboundPeers is the outbound limit ensurePeers fills up to.
	MaxNumOutboundPeers() int
	// IsDialingOrConnected is true when addr's ID is being dialed or is
	// connected, or, unless duplicate IPs are allowed, a connected peer
	// has addr's IP.
	IsDialingOrConnected(addr addrbook.NetAddress) bool
	// IsPersistent reports whether addr is a configured persistent peer.
	IsPersistent(addr addrbook.NetAddress) bool
}

// Errors a Network returns from Dial that the reactor treats specially.
var (
	// ErrAlreadyConnectedOrDialing is not a failure: nothing is counted.
	ErrAlreadyConnectedOrDialing = errors.New("already connected to or dialing this address")
	// ErrAuthFailure means the peer at the address proved a different
	// identity than the address named; the attempt counter is reset as
	// upstream does for ErrSwitchAuthenticationFailure.
	ErrAuthFailure = errors.New("peer authenticated with a different ID than dialed")
)

// Message is one PEX message: *tmp2p.PexRequest or *tmp2p.PexAddrs
// (tmp2p = github.com/cometbft/cometbft/proto/tendermint/p2p).
type Message = proto.Message
