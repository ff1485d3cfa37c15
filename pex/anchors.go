package pex

import (
	"context"
	"sort"

	"github.com/pexp2p/pexp2p/addrbook"
)

// Anchors (anchors.go in addrbook has the file): at Stop the reactor
// saves its longest-standing outbound peers; at the next Start it dials
// them before anything it draws from the book. Off unless
// Config.MaxAnchors > 0 and a store is given (WithAnchors).

// DefaultMaxAnchors is Bitcoin Core's MAX_BLOCK_RELAY_ONLY_ANCHORS. An
// attacker among our outbound peers at shutdown is carried over too, so
// the count bounds how much of an eclipse survives a restart (2 of 10
// slots), while two honest anchors are already enough that the restart
// does not begin fully surrounded.
const DefaultMaxAnchors = 2

// AnchorStore keeps anchors across restarts; addrbook.AnchorFile is the
// file-backed one.
type AnchorStore interface {
	LoadAnchors() ([]addrbook.NetAddress, error)
	SaveAnchors([]addrbook.NetAddress) error
}

// WithAnchors sets where anchors are kept (used when Config.MaxAnchors > 0).
func WithAnchors(s AnchorStore) Option { return func(r *Reactor) { r.anchorStore = s } }

func (r *Reactor) anchorsOn() bool {
	return r.cfg.MaxAnchors > 0 && r.anchorStore != nil && !r.cfg.SeedMode
}

// loadAnchors reads the anchors at Start. A bad store is logged, not
// fatal: the node still starts from its book.
func (r *Reactor) loadAnchors() {
	if !r.anchorsOn() {
		return
	}
	as, err := r.anchorStore.LoadAnchors()
	if err != nil {
		r.log.Warnw("ignoring anchors", "err", err)
		return
	}
	if len(as) > r.cfg.MaxAnchors {
		as = as[:r.cfg.MaxAnchors]
	}
	r.mu.Lock()
	r.anchors = as
	r.mu.Unlock()
}

// dialAnchors dials the loaded anchors once, before the first round
// draws from the book.
func (r *Reactor) dialAnchors() {
	r.mu.Lock()
	as := r.anchors
	r.anchors = nil
	r.mu.Unlock()
	for _, a := range as {
		if r.ctx.Err() != nil {
			return
		}
		if r.book.IsBanned(a.ID) || r.net.IsDialingOrConnected(a) {
			continue
		}
		ctx, cancel := context.WithTimeout(r.ctx, r.cfg.probeTimeout())
		err := r.net.Dial(ctx, a)
		cancel()
		if err != nil {
			r.obs.Dial(DialFailed)
			r.log.Debugw("anchor did not answer", "addr", a, "err", err)
			continue
		}
		r.obs.Dial(DialOK)
	}
}

// saveAnchors stores the outbound peers connected longest (probes
// excluded), at most MaxAnchors, while Stop still has them.
func (r *Reactor) saveAnchors() {
	if !r.anchorsOn() {
		return
	}
	var outs []PeerInfo
	for _, p := range r.net.Peers() {
		if p.Outbound && !r.isProbe(p.ID) {
			outs = append(outs, p)
		}
	}
	sort.SliceStable(outs, func(i, j int) bool { return outs[i].ConnectedAt.Before(outs[j].ConnectedAt) })
	as := make([]addrbook.NetAddress, 0, r.cfg.MaxAnchors)
	for _, p := range outs {
		if len(as) == r.cfg.MaxAnchors {
			break
		}
		as = append(as, peerAddr(p))
	}
	if err := r.anchorStore.SaveAnchors(as); err != nil {
		r.log.Warnw("saving anchors", "err", err)
	}
}
