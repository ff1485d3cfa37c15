package transport

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"time"

	tmp2p "github.com/cometbft/cometbft/proto/tendermint/p2p"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/sec"
	"github.com/libp2p/go-libp2p/p2p/net/swarm"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/pexp2p/pexp2p/addrbook"
	"github.com/pexp2p/pexp2p/pex"
)

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
	id, err := decodePeerID(peerID)
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
		// once look like a flood to the peer. The queued one asks
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
	id, err := decodePeerID(addr.ID)
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
		// The book learns the address is ours, so it is not picked
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
	addrs = append(addrs, n.rec.alternativeAddrs(addr, addrs)...)
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
	id, err := decodePeerID(peerID)
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
	id, err := decodePeerID(peerID)
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
	id, err := decodePeerID(addr.ID)
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
	id, err := decodePeerID(addr.ID)
	if err != nil {
		return false
	}
	_, ok := n.persistent[id]
	return ok
}

// ipBanApplies is ipRuleApplies under this node's configuration.
func (n *Node) ipBanApplies(ip netip.Addr) bool {
	return ipRuleApplies(ip, n.cfg.admissionLimits())
}

// Peer IDs of the peers handed to the handler, for tests and tools.
func (n *Node) peerIDs() []string {
	var out []string
	for _, p := range n.Peers() {
		out = append(out, p.ID)
	}
	return out
}
