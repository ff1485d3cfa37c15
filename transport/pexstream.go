package transport

import (
	"errors"
	"net"
	"os"
	"time"

	tmp2p "github.com/cometbft/cometbft/proto/tendermint/p2p"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/pexp2p/pexp2p/addrbook"
	"github.com/pexp2p/pexp2p/pex"
)

// PexProtocolID carries CometBFT channel 0 (PEX). The name follows
// upstream lp2p's "/p2p/cometbft/1.0.0/channel/0x%02x" so that an upstream
// lp2p node with a reactor on channel 0 can talk to us.
const PexProtocolID protocol.ID = "/p2p/cometbft/1.0.0/channel/0x00"

// pexServiceName is the resource-manager service that PEX and NodeInfo
// streams are accounted to, so their memory and stream counts show up,
// and can be limited, apart from libp2p's own protocols.
const pexServiceName = "pexp2p.pex"

// pexLog is the PEX stream handler's logger: "transport.pex" in the
// output, its level set with the transport subsystem's.
var pexLog = log.Named("pex")

// scopeInbound attaches an inbound stream of kind what to service's
// resource scope and reserves size bytes for it, as go-libp2p's ping
// handler does. When the resource manager refuses either, it logs why,
// resets the stream and returns false; after true the caller releases
// the memory when done with the stream.
func scopeInbound(s network.Stream, service string, size int, prio uint8, logger interface{ Debugw(string, ...any) }, what string) bool {
	if err := s.Scope().SetService(service); err != nil {
		logger.Debugw("attaching "+what+" stream to service", "err", err)
		_ = s.ResetWithError(network.StreamResourceLimitExceeded)
		return false
	}
	if err := s.Scope().ReserveMemory(size, prio); err != nil {
		logger.Debugw("reserving memory for "+what+" stream", "err", err)
		_ = s.ResetWithError(network.StreamResourceLimitExceeded)
		return false
	}
	return true
}

// handlePexStream serves one inbound channel-0 message, in the manner of
// go-libp2p's ping handler: attach to a service scope, reserve memory for
// the largest message, bound the stream in time, reset on any error.
func (n *Node) handlePexStream(s network.Stream) {
	if !scopeInbound(s, pexServiceName, MaxMsgSize, network.ReservationPriorityAlways, pexLog, "PEX") {
		return
	}
	defer s.Scope().ReleaseMemory(MaxMsgSize)

	from := s.Conn().RemotePeer()
	arrived := s.Stat().Opened
	_ = s.SetReadDeadline(time.Now().Add(n.cfg.StreamTimeout))
	msg, size, err := readFrame(s)
	if err != nil {
		switch {
		case IsProtocolViolation(err):
			n.wireViolation(s, from, err)
		case isTimeout(err) && n.noteStall(from):
			n.wireViolation(s, from, wireErr(ErrStalledStreams, err, "%d PEX streams without a complete message within %v",
				n.cfg.MaxStalledStreams, n.cfg.StallWindow))
		default:
			_ = s.Reset()
			pexLog.Debugw("PEX stream failed", "peer", from, "err", err)
		}
		return
	}
	// The message is delivered as soon as it is complete and the end of
	// the stream is checked afterwards: waiting for the writer's close
	// first lets a stalled connection release several streams at once,
	// which the reactor would take for a request flood. A second
	// message is still caught, and still a violation.
	defer n.endStream(s, from, size)
	n.deliver(from, msg, arrived)
	n.rec.afterPexAddrs(from, msg)
}

// endStream closes s once the single message of size bytes was read, or
// resets it when more follows.
func (n *Node) endStream(s network.Stream, from peer.ID, size uint64) {
	_ = s.SetReadDeadline(time.Now().Add(n.cfg.StreamTimeout))
	switch err := checkEnd(s, size); {
	case err == nil:
		_ = s.Close()
	case IsProtocolViolation(err):
		n.wireViolation(s, from, err)
	default:
		_ = s.Reset()
	}
}

// wireViolation resets s and stops and bans its peer, which broke the
// channel-0 wire protocol: the reactor never sees such a message, so it
// cannot punish the peer itself.
func (n *Node) wireViolation(s network.Stream, from peer.ID, err error) {
	_ = s.ResetWithError(network.StreamProtocolViolation)
	pexLog.Infow("peer broke the PEX wire protocol", "peer", from, "err", err)
	banned := n.banForWire(from)
	if f := n.cfg.OnWireViolation; f != nil {
		f(from.String(), WireViolationReason(err), banned)
	}
	n.StopPeerForError(from.String(), err)
}

// deliver hands msg to the handler once the peer's setup has succeeded.
//
// A message may beat our own setup of the peer (its setup finished
// first); wait for ours rather than lose it. It may even beat the
// connectedness event to eventLoop (the bus delivers it asynchronously,
// late on a loaded host): the stream proves the connection, so start the
// setup here, as Dial does; peerConnected is idempotent. Dropping the
// message instead cost a seed's visitor its only answer (about 1 in 150
// under BenchmarkSeedCapacity).
func (n *Node) deliver(from peer.ID, msg pex.Message, arrived time.Time) {
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
				// a flood and ban an honest peer; they are the same
				// question, so one answer serves both.
				n.mu.Unlock()
				pexLog.Debugw("dropping repeated PexRequest held during setup", "peer", from)
				return
			}
			ps.waitingRequest, held = true, true
		}
	}
	n.mu.Unlock()
	if ps == nil {
		pexLog.Debugw("PEX message from a peer without setup", "peer", from)
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
