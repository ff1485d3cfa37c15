package pex

import (
	"fmt"
	"net/netip"
	"time"

	tmp2p "github.com/cometbft/cometbft/proto/tendermint/p2p"

	"github.com/pexp2p/pexp2p/addrbook"
)

// Receive handles one PEX message from a connected peer.
func (r *Reactor) Receive(peerID string, msg Message) {
	r.ReceiveAt(peerID, msg, time.Time{})
}

// ReceiveAt is Receive for a face that knows when the message reached the
// node (for libp2p, when its stream was accepted), before the face's own
// goroutines and protocol negotiation delayed it. A peer's request rate
// is measured from that time, so a node that is slow to handle its
// streams does not take an honest peer's requests, queued on its side,
// for a burst. A zero time, or one after the reactor's clock, means now.
func (r *Reactor) ReceiveAt(peerID string, msg Message, arrived time.Time) {
	if w, ok := msg.(*tmp2p.Message); ok {
		inner, err := w.Unwrap()
		if err != nil {
			r.log.Debugw("undecodable PEX message", "peer", peerID, "err", err)
			return
		}
		msg = inner
	}
	switch m := msg.(type) {
	case *tmp2p.PexRequest:
		r.handleRequest(peerID, arrived)
	case *tmp2p.PexAddrs:
		r.handleAddrs(peerID, m)
	default:
		// As upstream: an unknown type that got this far is only logged.
		r.log.Warnw("unknown PEX message type", "peer", peerID, "type", fmt.Sprintf("%T", msg))
	}
}

func (r *Reactor) handleRequest(peerID string, arrived time.Time) {
	ps := r.lockPeer(peerID, "PexRequest")
	if ps == nil {
		return
	}
	r.obs.PexRequest(DirReceived)

	// A seed answers an inbound peer once, then lets it go; so does any
	// node for a peer its face accepted beyond the inbound limit.
	if (r.cfg.SeedMode && !ps.info.Outbound) || ps.info.OverLimit {
		if ps.answered {
			// The graceful stop is already under way.
			r.mu.Unlock()
			return
		}
		ps.answered = true
		if ps.grace != nil {
			ps.grace.Stop()
		}
		r.mu.Unlock()
		var sel []addrbook.NetAddress
		if r.cfg.SeedMode {
			sel = r.book.GetSelectionWithBias(r.cfg.BiasToSelectNewPeers)
		} else {
			sel = r.book.GetSelection()
		}
		r.sendAddrs(peerID, sel)
		r.spawn(func() { r.net.StopPeerGracefully(peerID) })
		return
	}

	// The spacing as a rate, not as a gap between arrivals: upstream lets the
	// first two requests through and then wants every request at least
	// the interval after the previous one. Measured on arrival, that bans
	// honest peers whose requests arrive bunched (each message travels on
	// its own stream here, and a loaded host delivers two requests sent
	// 1.26 s apart 0.26 s apart). The cell-rate check below allows the
	// same long-run rate, one request per interval, with a burst of
	// RequestBurst (upstream's "first two free"): a steady requester
	// sees exactly upstream's rule, a flood is still caught at once.
	now := r.clk.Now()
	if !arrived.IsZero() && arrived.Before(now) {
		// Streams are handled concurrently, so arrival times can reach
		// us out of order; an earlier one than already seen counts as
		// arriving with the latest, never as a gap that was not there.
		now = arrived
		if now.Before(ps.lastArrival) {
			now = ps.lastArrival
		}
		ps.lastArrival = now
	}
	interval := r.cfg.minReceiveInterval()
	allowedAt := ps.recvAllowedAt
	if allowedAt.Before(now) {
		allowedAt = now
	}
	if tolerance := time.Duration(r.cfg.RequestBurst-1) * interval; allowedAt.Sub(now) > tolerance {
		info := ps.info
		delete(r.peers, peerID)
		r.mu.Unlock()
		r.punish(info, &MisbehaviorError{
			PeerID: peerID, Reason: ReasonRequestTooSoon,
			Detail: fmt.Sprintf("now %v, next request allowed from %v (one per %v, burst %d)",
				now, allowedAt.Add(-tolerance), interval, r.cfg.RequestBurst),
		})
		return
	}
	ps.recvAllowedAt = allowedAt.Add(interval)
	r.mu.Unlock()
	r.sendAddrs(peerID, r.book.GetSelection())
}

// lockPeer locks r.mu and returns the state of the peer a message of kind
// came from, with r.mu held; a message from a peer not added, or one that
// reaches a stopped reactor, is logged and dropped (nil, r.mu released).
func (r *Reactor) lockPeer(peerID, kind string) *peerState {
	r.mu.Lock()
	ps := r.peers[peerID]
	if ps == nil || r.stopped {
		r.mu.Unlock()
		r.log.Debugw(kind+" from a peer not added (or reactor stopped)", "peer", peerID)
		return nil
	}
	return ps
}

func (r *Reactor) sendAddrs(peerID string, addrs []addrbook.NetAddress) {
	if len(addrs) > r.cfg.MaxAddrsPerMsg {
		addrs = addrs[:r.cfg.MaxAddrsPerMsg]
	}
	r.net.Send(peerID, &tmp2p.PexAddrs{Addrs: AddrsToProto(addrs)})
}

// requestAddrs sends a PexRequest unless one is outstanding and not yet
// timed out (the timeout is pexp2p's fix; upstream's never expires).
func (r *Reactor) requestAddrs(peerID string) bool {
	r.mu.Lock()
	ps := r.peers[peerID]
	if ps == nil || r.stopped {
		r.mu.Unlock()
		return false
	}
	now := r.clk.Now()
	if ps.reqOutstanding > 0 && now.Sub(ps.reqSentAt) < r.cfg.requestTimeout() {
		r.mu.Unlock()
		return false
	}
	// Mark before sending: the answer may arrive before Send returns.
	prevSent := ps.reqSentAt
	if ps.reqOutstanding < maxOutstanding {
		ps.reqOutstanding++
	}
	ps.reqSentAt = now
	r.mu.Unlock()

	if !r.net.Send(peerID, &tmp2p.PexRequest{}) {
		r.mu.Lock()
		if r.peers[peerID] == ps && ps.reqOutstanding > 0 {
			ps.reqOutstanding--
			ps.reqSentAt = prevSent
		}
		r.mu.Unlock()
		return false
	}
	r.obs.PexRequest(DirSent)
	r.log.Debugw("requested addresses", "peer", peerID)
	return true
}

func (r *Reactor) handleAddrs(peerID string, m *tmp2p.PexAddrs) {
	ps := r.lockPeer(peerID, "PexAddrs")
	if ps == nil {
		return
	}
	info := ps.info
	if ps.reqOutstanding == 0 {
		delete(r.peers, peerID)
		r.mu.Unlock()
		r.punish(info, &MisbehaviorError{PeerID: peerID, Reason: ReasonUnsolicited})
		return
	}
	ps.reqOutstanding--
	r.mu.Unlock()

	if len(m.Addrs) > r.cfg.MaxAddrsPerMsg {
		r.forget(peerID, ps)
		r.punish(info, &MisbehaviorError{PeerID: peerID, Reason: ReasonTooManyAddrs,
			Detail: fmt.Sprintf("%d addresses, limit %d", len(m.Addrs), r.cfg.MaxAddrsPerMsg)})
		return
	}
	addrs := make([]addrbook.NetAddress, 0, len(m.Addrs))
	for i, pb := range m.Addrs {
		a, err := NetAddressFromWire(r.cfg.IDRule, pb)
		if err != nil {
			r.forget(peerID, ps)
			r.punish(info, &MisbehaviorError{PeerID: peerID, Reason: ReasonInvalidAddr,
				Detail: fmt.Sprintf("entry %d", i), Cause: err})
			return
		}
		addrs = append(addrs, a)
	}
	src := peerAddr(info)
	for _, a := range addrs {
		// Validity beyond the wire (routability, ours, private, banned)
		// is the book's decision and is not the sender's fault.
		if err := r.book.AddAddress(a, src); err != nil {
			r.log.Debugw("not adding received address", "addr", a, "from", peerID, "err", err)
		}
	}
	r.obs.AddrsReceived(len(addrs))

	// Fast dial after a seed answers (tendermint#2093), matched by the
	// authenticated ID, not by the seed's self-reported address.
	r.mu.Lock()
	fromSeed := r.seedIDs[peerID] && !r.cfg.SeedMode
	r.mu.Unlock()
	if fromSeed {
		r.kick(kickWake, false)
	}
}

// NetAddressFromWire converts one PexAddrs entry and rejects what no
// honest CometBFT book can hold: a bad ID, IP or port, or an address that
// fails upstream's NetAddress.Valid (unspecified, broadcast, RFC 3849).
func NetAddressFromWire(rule addrbook.IDRule, pb tmp2p.NetAddress) (addrbook.NetAddress, error) {
	a, err := AddrFromProto(rule, pb)
	if err != nil {
		return addrbook.NetAddress{}, err
	}
	reason := ""
	switch {
	case a.IP.IsUnspecified():
		reason = "unspecified IP"
	case a.IP == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		reason = "broadcast IP"
	case rfc3849.Contains(a.IP):
		reason = "IPv6 documentation prefix (RFC 3849)"
	}
	if reason != "" {
		return addrbook.NetAddress{}, &addrbook.AddressError{Input: a.String(), Reason: reason}
	}
	return a, nil
}

var rfc3849 = netip.MustParsePrefix("2001:db8::/32")
