// Package pexrec records what a network face hands its pex.Handler, for
// the tests of the faces and of the reactor. Only tests import it.
package pexrec

import (
	"sync"

	tmp2p "github.com/cometbft/cometbft/proto/tendermint/p2p"

	"github.com/pexp2p/pexp2p/pex"
)

// Received is one message handed to Receive.
type Received struct {
	From string
	Msg  pex.Message
}

// Recorder is a pex.Handler that keeps every call, safe for the face's
// goroutines. The zero value is ready to use.
type Recorder struct {
	// OnReceive, if set before the face starts, is called (outside the
	// lock) for every message after it is recorded.
	OnReceive func(id string, msg pex.Message)

	mu       sync.Mutex
	added    []pex.PeerInfo
	removed  []string
	received []Received
}

func (r *Recorder) AddPeer(p pex.PeerInfo) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.added = append(r.added, p)
}

func (r *Recorder) RemovePeer(id string, _ any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.removed = append(r.removed, id)
}

func (r *Recorder) Receive(id string, msg pex.Message) {
	r.mu.Lock()
	r.received = append(r.received, Received{id, msg})
	f := r.OnReceive
	r.mu.Unlock()
	if f != nil {
		f(id, msg)
	}
}

// Snapshot returns copies of the peers added, the IDs removed and the
// messages received so far, in order.
func (r *Recorder) Snapshot() (added []pex.PeerInfo, removed []string, recv []Received) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]pex.PeerInfo(nil), r.added...), append([]string(nil), r.removed...), append([]Received(nil), r.received...)
}

// Requests counts the PexRequests received from id.
func (r *Recorder) Requests(id string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, m := range r.received {
		if _, ok := m.Msg.(*tmp2p.PexRequest); ok && m.From == id {
			n++
		}
	}
	return n
}

// Answers returns the PexAddrs received from id, in order.
func (r *Recorder) Answers(id string) []*tmp2p.PexAddrs {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*tmp2p.PexAddrs
	for _, m := range r.received {
		if a, ok := m.Msg.(*tmp2p.PexAddrs); ok && m.From == id {
			out = append(out, a)
		}
	}
	return out
}
