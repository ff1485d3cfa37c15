package pex

import "github.com/pexp2p/pexp2p/addrbook"

// AddPeer is called by the face once a peer is set up.
func (r *Reactor) AddPeer(p PeerInfo) {
	ps := &peerState{info: p}
	r.mu.Lock()
	if r.stopped {
		r.mu.Unlock()
		return
	}
	if old := r.peers[p.ID]; old != nil && old.grace != nil {
		old.grace.Stop()
	}
	r.peers[p.ID] = ps
	if p.OverLimit {
		id := p.ID
		ps.grace = r.clk.AfterFunc(r.cfg.OverLimitGrace, r.timerFunc(func() { r.dropOverLimit(id, ps) }))
	}
	r.mu.Unlock()

	if p.Outbound && r.isProbe(p.ID) {
		// A probe only wants to know that the peer answers (probe.go).
		return
	}
	if p.Outbound {
		// The address of an outbound peer is in the book already.
		if r.cfg.MarkGoodOnOutbound {
			// We reached it at that address and it proved its ID: the
			// evidence Bitcoin Core and btcd use to move an address to
			// the tried (old) table. Upstream only marks good through
			// consensus (10000 votes or block parts), so on a node
			// without consensus nothing ever becomes old and the
			// eclipse-resistant old buckets stay empty.
			r.book.MarkGood(p.ID)
		}
		if r.book.NeedMoreAddrs() {
			r.requestAddrs(p.ID)
		}
		return
	}
	// An inbound peer is its own source; we do not ask it right away
	// because inbound peers are trusted less (ensurePeers may later).
	addr := p.ListenAddr
	if addr.IsZero() {
		r.log.Debugw("inbound peer advertised no usable address", "peer", p.ID)
		return
	}
	if addr.ID != p.ID {
		r.log.Debugw("inbound peer advertised another ID", "peer", p.ID, "addr", addr)
		return
	}
	if err := r.book.AddAddress(addr, addr); err != nil {
		r.log.Debugw("not adding inbound peer's address", "addr", addr, "err", err)
	}
}

// dropOverLimit ends the visit of a peer accepted beyond the inbound limit
// that never asked for addresses.
func (r *Reactor) dropOverLimit(id string, ps *peerState) {
	r.mu.Lock()
	if r.peers[id] != ps || ps.answered {
		r.mu.Unlock()
		return
	}
	ps.answered = true
	r.mu.Unlock()
	r.net.StopPeerGracefully(id)
}

// RemovePeer forgets the peer's request state.
func (r *Reactor) RemovePeer(peerID string, reason any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if ps := r.peers[peerID]; ps != nil {
		if ps.grace != nil {
			ps.grace.Stop()
		}
		delete(r.peers, peerID)
	}
	r.log.Debugw("peer removed", "peer", peerID, "reason", reason)
}

// punish disconnects and bans a misbehaving peer.
func (r *Reactor) punish(info PeerInfo, err *MisbehaviorError) {
	r.obs.Misbehavior(err.Reason)
	r.log.Infow("peer misbehaved; disconnecting and banning", "peer", info.ID, "reason", err.Reason, "err", err)
	r.net.StopPeerForError(info.ID, err)
	r.book.MarkBad(peerAddr(info), r.cfg.BanTime)
	r.obs.Ban()
}

// peerAddr is the address a peer is known by: what it advertises, else
// where it connects from.
func peerAddr(info PeerInfo) addrbook.NetAddress {
	if !info.ListenAddr.IsZero() && info.ListenAddr.ID == info.ID {
		return info.ListenAddr
	}
	return addrbook.NetAddress{ID: info.ID, IP: info.RemoteIP}
}

func (r *Reactor) forget(peerID string, ps *peerState) {
	r.mu.Lock()
	if r.peers[peerID] == ps {
		delete(r.peers, peerID)
	}
	r.mu.Unlock()
}
