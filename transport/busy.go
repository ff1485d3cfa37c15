package transport

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/pexp2p/pexp2p/internal/clock"
	"github.com/quic-go/quic-go"
)

// A connection burst overflows a libp2p node's QUIC accept queue:
// go-libp2p's quicreuse listener holds at most 16 handshaken connections
// waiting for the swarm and closes any further one with application error
// 1, "queue full". The dialer has finished its side of the handshake by
// then, so host.Connect reports success and the connection dies a moment
// later, during identify. Nodes starting together against one seed, or
// 200 peers arriving at once (docs/reliability.md, finding 5), meet it.
// The remote decided nothing about us, so Dial tries again at once
// instead of leaving the address to the reactor's next round; a refusal
// for any other reason (a ban, a full node) is not retried.
const (
	busyRetries = 2
	busyBackoff = 100 * time.Millisecond
)

// busyRefusal reports whether the remote closed c because its accept
// queue was full. The close may still be on its way through quic-go when
// the caller has already seen its effect, hence the short wait.
func busyRefusal(c network.Conn, wait time.Duration) bool {
	var qc *quic.Conn
	if !c.As(&qc) {
		return false
	}
	if clock.Sleep(qc.Context(), clock.System, wait) == nil {
		return false // still open after wait: not closed by the remote
	}
	var ae *quic.ApplicationError
	return errors.As(context.Cause(qc.Context()), &ae) &&
		ae.Remote && ae.ErrorCode == 1 && ae.ErrorMessage == "queue full"
}

// connOpened keeps the connections of peers being dialed, for Dial to
// ask why they closed.
func (n *Node) connOpened(_ network.Network, c network.Conn) {
	id := c.RemotePeer()
	n.mu.Lock()
	if n.dialing[id] {
		n.dialConns[id] = append(n.dialConns[id], c)
	}
	n.mu.Unlock()
}

// refusedBusy reports whether one of the connections opened for the
// current attempt to dial id was closed as a busy refusal, and forgets
// them.
func (n *Node) refusedBusy(id peer.ID) bool {
	n.mu.Lock()
	conns := n.dialConns[id]
	delete(n.dialConns, id)
	n.mu.Unlock()
	for _, c := range conns {
		if busyRefusal(c, 100*time.Millisecond) {
			log.Debugw("remote's accept queue was full", "peer", id, "conn", c.ID())
			return true
		}
	}
	return false
}

// waitBusyBackoff sleeps before retry number attempt (0-based), with
// jitter so that the dialers of one burst do not come back together.
func waitBusyBackoff(ctx context.Context, attempt int) error {
	d := busyBackoff << attempt
	d += rand.N(d)
	return clock.Sleep(ctx, clock.System, d)
}
