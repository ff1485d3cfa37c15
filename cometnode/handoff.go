package cometnode

import (
	"sync"
	"time"

	"github.com/cometbft/cometbft/lp2p"
	"github.com/cometbft/cometbft/p2p"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/pexp2p/pexp2p/pex"
	"github.com/pexp2p/pexp2p/transport"
)

// reactorOrder is the order in which upstream's node registers its
// reactors with the libp2p switch; peers are introduced to them in it.
var reactorOrder = []string{"MEMPOOL", "BLOCKSYNC", "CONSENSUS", "EVIDENCE", "STATESYNC"}

// reconcilePeriod bounds how long the switch's view and pexp2p's may
// differ when an event was missed: a peer whose identify arrived after
// its setup, a switch that was not running yet, a peer the switch
// admitted on its own through an inbound reactor stream.
const reconcilePeriod = time.Second

// handoff keeps CometBFT's switch peered with the peers pexp2p's face
// accepts, and only those: it sits between the face and the PEX reactor,
// adds each accepted peer that speaks a reactor protocol to the switch's
// peer set, and removes it when the face lets it go. The switch never
// dials (PEX does), so there is one view of who is connected and no
// redial loop besides the face's.
type handoff struct {
	transport.Handler
	sw       *lp2p.Switch
	lh       *lp2p.Host
	face     *transport.Node
	seedMode bool
	logf     func(msg string, kv ...any)

	mu   sync.Mutex
	over map[peer.ID]bool // visitors beyond the inbound limit
	// reactors and protocols are filled once the switch runs.
	reactors []p2p.Reactor
	protos   []protocol.ID
}

func newHandoff(sw *lp2p.Switch, lh *lp2p.Host, face *transport.Node, s Settings, logf func(string, ...any)) *handoff {
	return &handoff{sw: sw, lh: lh, face: face, seedMode: s.SeedMode, logf: logf, over: map[peer.ID]bool{}}
}

func (h *handoff) AddPeer(p pex.PeerInfo) {
	h.Handler.AddPeer(p)
	id, err := peer.Decode(p.ID)
	if err != nil {
		return
	}
	if p.OverLimit {
		h.mu.Lock()
		h.over[id] = true
		h.mu.Unlock()
	}
	h.handOver(id)
}

func (h *handoff) RemovePeer(peerID string, reason any) {
	h.Handler.RemovePeer(peerID, reason)
	id, err := peer.Decode(peerID)
	if err != nil {
		return
	}
	h.mu.Lock()
	delete(h.over, id)
	h.mu.Unlock()
	h.takeBack(id, reason)
}

// switchReady reports whether the switch runs with its reactors started,
// learning the reactors and their protocols the first time.
func (h *handoff) switchReady() bool {
	if !h.sw.IsRunning() {
		return false
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.reactors != nil {
		return true
	}
	var rs []p2p.Reactor
	var protos []protocol.ID
	for _, name := range reactorOrder {
		r, ok := h.sw.Reactor(name)
		if !ok {
			continue
		}
		if !r.IsRunning() {
			return false
		}
		rs = append(rs, r)
		for _, ch := range r.GetChannels() {
			protos = append(protos, lp2p.ProtocolID(ch.ID))
		}
	}
	h.reactors, h.protos = rs, protos
	return true
}

// eligible: the switch gets every accepted peer that speaks one of its
// reactors' protocols, except visitors over the inbound limit (they get
// one answer and go) and everyone when we are a seed. A configured seed
// is no exception: a seed-mode node serves no reactor protocol (see
// sharedHost), so it never qualifies, and one that is a regular node is
// an ordinary peer, as a classic node's seed is once dialed. (Keeping
// such a seed out made it flap: its reactors kept streaming to us and
// the switch kept re-adding it.)
func (h *handoff) eligible(id peer.ID) bool {
	if h.seedMode {
		return false
	}
	h.mu.Lock()
	over := h.over[id]
	protos := h.protos
	h.mu.Unlock()
	if over {
		return false
	}
	hst := h.face.Host()
	if hst == nil || hst.Network().Connectedness(id) != network.Connected {
		return false
	}
	got, err := hst.Peerstore().SupportsProtocols(id, protos...)
	return err == nil && len(got) > 0
}

func (h *handoff) handOver(id peer.ID) {
	if !h.switchReady() || !h.eligible(id) {
		return
	}
	ps, ok := h.sw.Peers().(*lp2p.PeerSet)
	if !ok || ps.Has(p2p.ID(id.String())) {
		return
	}
	info := peer.AddrInfo{ID: id, Addrs: h.dialAddrs(id)}
	if len(info.Addrs) == 0 {
		return
	}
	h.mu.Lock()
	rs := h.reactors
	h.mu.Unlock()
	// Flags of a configured bootstrap peer carry over, except persistent:
	// the face keeps persistent peers connected, and the switch's own
	// reconnect loop would dial around pexp2p's limits.
	bp, _ := h.lh.BootstrapPeer(id)
	_, err := ps.Add(info, lp2p.PeerAddOptions{
		Private:       bp.Private,
		Unconditional: bp.Unconditional,
		OnBeforeStart: func(p *lp2p.Peer) {
			for _, r := range rs {
				r.InitPeer(p)
			}
		},
		OnAfterStart: func(p *lp2p.Peer) {
			for _, r := range rs {
				r.AddPeer(p)
			}
		},
		OnStartFailed: func(p *lp2p.Peer, reason any) {
			for _, r := range rs {
				r.RemovePeer(p, reason)
			}
		},
	})
	if err != nil {
		h.logf("peer not handed to the switch", "peer", id.String(), "err", err)
		return
	}
	h.logf("peer handed to the switch", "peer", id.String())
}

// dialAddrs are the addresses the switch's peer is known by: those the
// connection uses (QUIC first, as lp2p prefers), then identify's.
func (h *handoff) dialAddrs(id peer.ID) []ma.Multiaddr {
	hst := h.face.Host()
	var quic, other []ma.Multiaddr
	for _, c := range hst.Network().ConnsToPeer(id) {
		a := c.RemoteMultiaddr()
		if _, err := a.ValueForProtocol(ma.P_QUIC_V1); err == nil {
			quic = append(quic, a)
		} else {
			other = append(other, a)
		}
	}
	out := append(quic, other...)
	return append(out, hst.Peerstore().Addrs(id)...)
}

func (h *handoff) takeBack(id peer.ID, reason any) {
	ps, ok := h.sw.Peers().(*lp2p.PeerSet)
	if !ok || !ps.Has(p2p.ID(id.String())) {
		return
	}
	h.mu.Lock()
	rs := h.reactors
	h.mu.Unlock()
	err := ps.Remove(p2p.ID(id.String()), lp2p.PeerRemovalOptions{
		Reason: reason,
		OnAfterStop: func(p *lp2p.Peer, reason any) {
			for _, r := range rs {
				r.RemovePeer(p, reason)
			}
		},
	})
	if err != nil {
		h.logf("peer not removed from the switch", "peer", id.String(), "err", err)
	}
}

// reconcile brings the switch's peer set back to pexp2p's view: it adds
// accepted peers it lacks and removes peers whose connection is gone or
// that must not be there (over-limit visitors, anyone on a seed).
func (h *handoff) reconcile() {
	if !h.switchReady() {
		return
	}
	for _, p := range h.face.Peers() {
		if id, err := peer.Decode(p.ID); err == nil {
			if p.OverLimit {
				h.mu.Lock()
				h.over[id] = true
				h.mu.Unlock()
			}
			h.handOver(id)
		}
	}
	ps, ok := h.sw.Peers().(*lp2p.PeerSet)
	if !ok {
		return
	}
	hst := h.face.Host()
	if hst == nil {
		return
	}
	for _, p := range ps.Copy() {
		lp, ok := p.(*lp2p.Peer)
		if !ok {
			continue
		}
		id := lp.AddrInfo().ID
		h.mu.Lock()
		over := h.over[id]
		h.mu.Unlock()
		switch {
		case hst.Network().Connectedness(id) != network.Connected:
			h.takeBack(id, "connection closed")
		case h.seedMode || over:
			h.takeBack(id, "not a switch peer (visitor beyond the inbound limit, or we are a seed)")
		}
	}
}

func (h *handoff) run(stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(reconcilePeriod)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			h.reconcile()
		}
	}
}
