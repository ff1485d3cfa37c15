package transport

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"time"

	tmp2p "github.com/cometbft/cometbft/proto/tendermint/p2p"
	"github.com/libp2p/go-libp2p/core/event"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/protocol/identify"
	manet "github.com/multiformats/go-multiaddr/net"

	"github.com/pexp2p/pexp2p/addrbook"
	"github.com/pexp2p/pexp2p/pex"
)

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
				err = nodeInfoErr(ps.id.String(), ErrNodeInfoIO, "opening stream", err)
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
		return nodeInfoErr(ps.id.String(), ErrNoNodeInfo, "strict mode", nil)
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
	verdict := admit(n.admissionFacts(ps, info), n.cfg.admissionLimits())
	switch verdict {
	case refuseDuplicateIP:
		return &PeerRefusedError{Peer: info.ID, Reason: "another peer already uses IP " + remoteIP.String()}
	case admitOverLimit:
		info.OverLimit = true
	}
	if !verdict.admitted() {
		return &PeerRefusedError{Peer: info.ID, Reason: verdict.String()}
	}
	ps.info = info
	return nil
}

// admissionFacts gathers what admit needs about ps from the peer table;
// the caller holds n.mu.
func (n *Node) admissionFacts(ps *peerState, info pex.PeerInfo) admissionFacts {
	f := admissionFacts{
		Outbound:      info.Outbound,
		Persistent:    info.Persistent,
		Unconditional: n.unconditional[ps.id],
		DialedByUs:    n.dialing[ps.id],
		RemoteIP:      info.RemoteIP,
	}
	for id, other := range n.peers {
		if other == ps || !other.added {
			continue
		}
		if other.info.RemoteIP == info.RemoteIP {
			f.IPInUse = true
		}
		if n.unconditional[id] {
			continue
		}
		switch {
		case other.info.OverLimit:
			f.Load.OverLimit++
		case other.info.Outbound:
			f.Load.Outbound++
		default:
			f.Load.Inbound++
		}
	}
	return f
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
	n.rec.peerReady(ps)
	close(ps.ready)
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
