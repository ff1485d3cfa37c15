// Package pextest provides an in-memory, deterministic implementation of
// pex.Network for tests and simulations: any number of nodes in one
// process, wired through a Hub that delivers messages after a fixed
// latency on a clock.Clock. With a *clock.Simulated and the Hub's Go as
// every reactor's executor, a whole network runs single-threaded on
// virtual time and two runs with the same seed are identical.
package pextest

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"sync"
	"time"

	tmp2p "github.com/cometbft/cometbft/proto/tendermint/p2p"
	"github.com/cosmos/gogoproto/proto"

	"github.com/pexp2p/pexp2p/addrbook"
	"github.com/pexp2p/pexp2p/internal/clock"
	"github.com/pexp2p/pexp2p/pex"
)

// Handler is what a node delivers to: the reactor's three entry points.
type Handler = pex.Handler

// Errors a Node's Dial returns, besides pex.ErrAlreadyConnectedOrDialing
// and pex.ErrAuthFailure.
var (
	ErrUnreachable = errors.New("pextest: nobody listening at address")
	ErrRejected    = errors.New("pextest: connection rejected")
	ErrSelf        = errors.New("pextest: dial to self")
	ErrNodeDown    = errors.New("pextest: node is offline")
)

// DialError names the address of a failed dial.
type DialError struct {
	Addr addrbook.NetAddress
	Err  error
}

func (e *DialError) Error() string { return fmt.Sprintf("dial %s: %v", e.Addr, e.Err) }
func (e *DialError) Unwrap() error { return e.Err }

// NodeConfig describes one node of the Hub.
type NodeConfig struct {
	// Addr is where the node listens and what it advertises.
	Addr addrbook.NetAddress
	// Advertise, when not zero, replaces Addr as the advertised listen
	// address (e.g. 0.0.0.0 for a node without external_address).
	Advertise addrbook.NetAddress
	// MaxOutbound and MaxInbound default to CometBFT's 10 and 40.
	MaxOutbound, MaxInbound int
	// OverLimitSlots is how many inbound connections beyond MaxInbound the
	// node accepts as PeerInfo.OverLimit (pexp2p faces' behaviour);
	// 0 refuses them, as upstream's switch does.
	OverLimitSlots   int
	AllowDuplicateIP bool
	// Persistent lists configured persistent peers (matched by ID).
	Persistent []addrbook.NetAddress
	// Accept, when set, may refuse an inbound peer (e.g. a banned ID).
	Accept func(remoteID string) error
}

// Hub connects Nodes.
type Hub struct {
	clk     clock.Clock
	latency time.Duration

	mu     sync.Mutex
	nodes  map[string]*Node
	byAddr map[netip.AddrPort]*Node
	seq    uint64
	trace  func(Event)
	stats  Stats
}

// Stats counts what crossed the Hub.
type Stats struct {
	Dials, DialFailures, Connections, Requests, Addrs, StopsForError, GracefulStops int
}

// EventKind says what an Event is.
type EventKind int

// Event kinds.
const (
	EvConnect EventKind = iota
	EvDisconnect
	EvDeliver
)

// Event is one thing that happened on the Hub, for tests that trace.
type Event struct {
	Kind     EventKind
	At       time.Time
	From, To string
	Msg      pex.Message // EvDeliver
	Reason   any         // EvDisconnect: the error, or "graceful"
}

// NewHub returns an empty network whose messages take latency to arrive.
func NewHub(clk clock.Clock, latency time.Duration) *Hub {
	return &Hub{clk: clk, latency: latency, nodes: map[string]*Node{}, byAddr: map[netip.AddrPort]*Node{}}
}

// Clock returns the Hub's clock.
func (h *Hub) Clock() clock.Clock { return h.clk }

// Go queues f on the clock to run now, after what is already due: pass it
// to pex.WithExecutor for deterministic runs.
func (h *Hub) Go(f func()) { h.clk.AfterFunc(0, f) }

// Trace registers a function called (outside the Hub's lock) for every event.
func (h *Hub) Trace(f func(Event)) {
	h.mu.Lock()
	h.trace = f
	h.mu.Unlock()
}

// Stats returns the counters so far.
func (h *Hub) Stats() Stats {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.stats
}

// AddNode registers a node; it starts online.
func (h *Hub) AddNode(cfg NodeConfig) (*Node, error) {
	if cfg.Addr.ID == "" || !cfg.Addr.IP.IsValid() {
		return nil, fmt.Errorf("pextest: node address %q needs an ID and an IP", cfg.Addr)
	}
	if cfg.MaxOutbound == 0 {
		cfg.MaxOutbound = 10
	}
	if cfg.MaxInbound == 0 {
		cfg.MaxInbound = 40
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, dup := h.nodes[cfg.Addr.ID]; dup {
		return nil, fmt.Errorf("pextest: duplicate node ID %s", cfg.Addr.ID)
	}
	if _, dup := h.byAddr[cfg.Addr.AddrPort()]; dup {
		return nil, fmt.Errorf("pextest: duplicate node address %s", cfg.Addr.DialString())
	}
	n := &Node{hub: h, cfg: cfg, online: true, links: map[string]*link{}}
	h.nodes[cfg.Addr.ID] = n
	h.byAddr[cfg.Addr.AddrPort()] = n
	return n, nil
}

// Node returns the node with id, or nil.
func (h *Hub) Node(id string) *Node {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.nodes[id]
}

type link struct {
	conn     uint64
	remote   *Node
	outbound bool
	over     bool
	since    time.Time
}

// Node is one participant; it implements pex.Network.
type Node struct {
	hub     *Hub
	cfg     NodeConfig
	handler Handler
	online  bool
	links   map[string]*link
	dialing int
	stops   []Stop
}

var _ pex.Network = (*Node)(nil)

// Stop records a StopPeerForError or StopPeerGracefully call.
type Stop struct {
	Peer     string
	Reason   error // nil for graceful
	Graceful bool
	At       time.Time
}

// ID returns the node's ID.
func (n *Node) ID() string { return n.cfg.Addr.ID }

// Addr returns the node's listen address.
func (n *Node) Addr() addrbook.NetAddress { return n.cfg.Addr }

// SetHandler sets who receives this node's events (its reactor).
func (n *Node) SetHandler(h Handler) {
	n.hub.mu.Lock()
	n.handler = h
	n.hub.mu.Unlock()
}

// Stops returns the peers this node stopped, in order.
func (n *Node) Stops() []Stop {
	n.hub.mu.Lock()
	defer n.hub.mu.Unlock()
	return append([]Stop(nil), n.stops...)
}

// Connected reports whether n has a connection to id.
func (n *Node) Connected(id string) bool {
	n.hub.mu.Lock()
	defer n.hub.mu.Unlock()
	return n.links[id] != nil
}

// SetOnline takes a node off the network (dropping its connections) or
// brings it back.
func (n *Node) SetOnline(on bool) {
	n.hub.mu.Lock()
	n.online = on
	var ids []string
	if !on {
		ids = sortedIDs(n.links)
	}
	n.hub.mu.Unlock()
	for _, id := range ids {
		n.hub.disconnect(n, id, ErrNodeDown, false)
	}
}

func sortedIDs(m map[string]*link) []string {
	ids := make([]string, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

func (n *Node) advertised() addrbook.NetAddress {
	if !n.cfg.Advertise.IsZero() {
		return n.cfg.Advertise
	}
	return n.cfg.Addr
}

func (n *Node) peerInfo(l *link) pex.PeerInfo {
	return pex.PeerInfo{
		ID:          l.remote.ID(),
		Outbound:    l.outbound,
		Persistent:  n.isPersistentID(l.remote.ID()),
		ListenAddr:  l.remote.advertised(),
		RemoteIP:    l.remote.cfg.Addr.IP,
		ConnectedAt: l.since,
		OverLimit:   l.over,
	}
}

func (n *Node) isPersistentID(id string) bool {
	for _, p := range n.cfg.Persistent {
		if p.ID == id {
			return true
		}
	}
	return false
}

// Peers implements pex.Network; sorted by ID for determinism.
func (n *Node) Peers() []pex.PeerInfo {
	n.hub.mu.Lock()
	defer n.hub.mu.Unlock()
	out := make([]pex.PeerInfo, 0, len(n.links))
	for _, id := range sortedIDs(n.links) {
		out = append(out, n.peerInfo(n.links[id]))
	}
	return out
}

// Send implements pex.Network: the message arrives after the Hub's
// latency if the connection still exists then. A message larger than
// pex.MaxMsgSize closes the connection, as a face's frame limit does.
func (n *Node) Send(peerID string, msg pex.Message) bool {
	h := n.hub
	h.mu.Lock()
	l := n.links[peerID]
	if l == nil {
		h.mu.Unlock()
		return false
	}
	switch msg.(type) {
	case *tmp2p.PexRequest:
		h.stats.Requests++
	case *tmp2p.PexAddrs:
		h.stats.Addrs++
	}
	conn, to := l.conn, l.remote
	h.mu.Unlock()
	if size := wrappedSize(msg); size > pex.MaxMsgSize {
		h.clk.AfterFunc(h.latency, func() {
			h.disconnectConn(to, n.ID(), conn, fmt.Errorf("pextest: message of %d bytes exceeds %d", size, pex.MaxMsgSize), false)
		})
		return true
	}
	h.clk.AfterFunc(h.latency, func() { h.deliver(n, to, conn, msg) })
	return true
}

func wrappedSize(msg pex.Message) int {
	var w tmp2p.Message
	switch m := msg.(type) {
	case *tmp2p.PexRequest:
		w.Sum = &tmp2p.Message_PexRequest{PexRequest: m}
	case *tmp2p.PexAddrs:
		w.Sum = &tmp2p.Message_PexAddrs{PexAddrs: m}
	default:
		return proto.Size(msg)
	}
	return w.Size()
}

func (h *Hub) deliver(from, to *Node, conn uint64, msg pex.Message) {
	h.mu.Lock()
	l := to.links[from.ID()]
	if l == nil || l.conn != conn || to.handler == nil {
		h.mu.Unlock()
		return
	}
	hd, tr := to.handler, h.trace
	h.mu.Unlock()
	if tr != nil {
		tr(Event{Kind: EvDeliver, At: h.clk.Now(), From: from.ID(), To: to.ID(), Msg: msg})
	}
	hd.Receive(from.ID(), msg)
}

// Dial implements pex.Network. It completes at once (no virtual time
// passes) and calls both handlers' AddPeer before returning.
func (n *Node) Dial(ctx context.Context, addr addrbook.NetAddress) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	h := n.hub
	h.mu.Lock()
	h.stats.Dials++
	fail := func(err error) error {
		h.stats.DialFailures++
		h.mu.Unlock()
		return &DialError{Addr: addr, Err: err}
	}
	switch {
	case !n.online:
		return fail(ErrNodeDown)
	case addr.ID == n.ID():
		return fail(ErrSelf)
	case n.links[addr.ID] != nil:
		h.mu.Unlock()
		return pex.ErrAlreadyConnectedOrDialing
	}
	target := h.byAddr[addr.AddrPort()]
	if target == nil || !target.online {
		return fail(ErrUnreachable)
	}
	if target.ID() != addr.ID {
		return fail(pex.ErrAuthFailure)
	}
	if target.links[n.ID()] != nil {
		h.mu.Unlock()
		return pex.ErrAlreadyConnectedOrDialing
	}
	over := false
	if _, in := target.counts(); in >= target.cfg.MaxInbound {
		if target.overCount() >= target.cfg.OverLimitSlots {
			return fail(ErrRejected)
		}
		over = true
	}
	if acc := target.cfg.Accept; acc != nil {
		h.mu.Unlock()
		err := acc(n.ID())
		h.mu.Lock()
		if err != nil {
			return fail(fmt.Errorf("%w: %v", ErrRejected, err))
		}
		if n.links[addr.ID] != nil || target.links[n.ID()] != nil {
			h.mu.Unlock()
			return pex.ErrAlreadyConnectedOrDialing
		}
	}
	h.seq++
	now := h.clk.Now()
	lo := &link{conn: h.seq, remote: target, outbound: true, since: now}
	li := &link{conn: h.seq, remote: n, outbound: false, over: over, since: now}
	n.links[target.ID()] = lo
	target.links[n.ID()] = li
	h.stats.Connections++
	infoOut, infoIn := n.peerInfo(lo), target.peerInfo(li)
	hOut, hIn, tr := n.handler, target.handler, h.trace
	h.mu.Unlock()
	if tr != nil {
		tr(Event{Kind: EvConnect, At: now, From: n.ID(), To: target.ID()})
	}
	if hOut != nil {
		hOut.AddPeer(infoOut)
	}
	if hIn != nil {
		hIn.AddPeer(infoIn)
	}
	return nil
}

// counts returns outbound and inbound (over-limit excluded); hub.mu held.
func (n *Node) counts() (out, in int) {
	for _, l := range n.links {
		switch {
		case l.outbound:
			out++
		case !l.over:
			in++
		}
	}
	return out, in
}

func (n *Node) overCount() int {
	c := 0
	for _, l := range n.links {
		if l.over {
			c++
		}
	}
	return c
}

// StopPeerForError implements pex.Network: both sides drop the
// connection at once.
func (n *Node) StopPeerForError(peerID string, reason error) {
	n.hub.disconnect(n, peerID, reason, false)
}

// StopPeerGracefully implements pex.Network: the connection closes after
// one latency, so messages already sent on it arrive first.
func (n *Node) StopPeerGracefully(peerID string) {
	h := n.hub
	if conn, ok := h.connOf(n, peerID); ok {
		h.clk.AfterFunc(h.latency, func() { h.disconnectConn(n, peerID, conn, nil, true) })
	}
}

func (h *Hub) disconnect(n *Node, peerID string, reason error, graceful bool) {
	if conn, ok := h.connOf(n, peerID); ok {
		h.disconnectConn(n, peerID, conn, reason, graceful)
	}
}

// connOf is the connection n holds to peerID now; disconnectConn closes
// that one only, not one made again in the meantime.
func (h *Hub) connOf(n *Node, peerID string) (uint64, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if l := n.links[peerID]; l != nil {
		return l.conn, true
	}
	return 0, false
}

func (h *Hub) disconnectConn(n *Node, peerID string, conn uint64, reason error, graceful bool) {
	h.mu.Lock()
	l := n.links[peerID]
	if l == nil || l.conn != conn {
		h.mu.Unlock()
		return
	}
	other := l.remote
	delete(n.links, peerID)
	if ol := other.links[n.ID()]; ol != nil && ol.conn == conn {
		delete(other.links, n.ID())
	}
	now := h.clk.Now()
	n.stops = append(n.stops, Stop{Peer: peerID, Reason: reason, Graceful: graceful, At: now})
	if graceful {
		h.stats.GracefulStops++
	} else {
		h.stats.StopsForError++
	}
	h1, h2, tr := n.handler, other.handler, h.trace
	h.mu.Unlock()
	var why any = reason
	if graceful {
		why = "graceful"
	}
	if tr != nil {
		tr(Event{Kind: EvDisconnect, At: now, From: n.ID(), To: peerID, Reason: why})
	}
	if h1 != nil {
		h1.RemovePeer(peerID, why)
	}
	if h2 != nil {
		h2.RemovePeer(n.ID(), why)
	}
}

// NumPeers implements pex.Network.
func (n *Node) NumPeers() (outbound, inbound, dialing int) {
	n.hub.mu.Lock()
	defer n.hub.mu.Unlock()
	out, in := n.counts()
	return out, in, n.dialing
}

// MaxNumOutboundPeers implements pex.Network.
func (n *Node) MaxNumOutboundPeers() int { return n.cfg.MaxOutbound }

// IsDialingOrConnected implements pex.Network.
func (n *Node) IsDialingOrConnected(addr addrbook.NetAddress) bool {
	n.hub.mu.Lock()
	defer n.hub.mu.Unlock()
	if n.links[addr.ID] != nil {
		return true
	}
	if n.cfg.AllowDuplicateIP {
		return false
	}
	for _, l := range n.links {
		if l.remote.cfg.Addr.IP == addr.IP {
			return true
		}
	}
	return false
}

// IsPersistent implements pex.Network.
func (n *Node) IsPersistent(addr addrbook.NetAddress) bool { return n.isPersistentID(addr.ID) }
