package pexnode

import (
	"sync/atomic"
	"time"

	"github.com/pexp2p/pexp2p/pex"
	"github.com/pexp2p/pexp2p/transport"
)

// Traffic counts PEX messages and their framed bytes on one node.
type Traffic struct {
	sentMsgs, sentBytes, recvMsgs, recvBytes atomic.Int64
}

// Sent is the number of PEX messages sent and their framed bytes.
func (t *Traffic) Sent() (msgs, bytes int64) { return t.sentMsgs.Load(), t.sentBytes.Load() }

// Received is the number of PEX messages received and their framed bytes.
func (t *Traffic) Received() (msgs, bytes int64) { return t.recvMsgs.Load(), t.recvBytes.Load() }

func (t *Traffic) count(msgs, bytes *atomic.Int64, msg pex.Message) {
	msgs.Add(1)
	if b, err := transport.FrameMessage(msg); err == nil {
		bytes.Add(int64(len(b)))
	}
}

// countingNet is the face as the reactor sees it, counting what it sends.
type countingNet struct {
	*transport.Node
	t *Traffic
}

func (c countingNet) Send(peerID string, msg pex.Message) bool {
	ok := c.Node.Send(peerID, msg)
	if ok {
		c.t.count(&c.t.sentMsgs, &c.t.sentBytes, msg)
	}
	return ok
}

// countingHandler is the reactor as the face sees it, counting receipts.
type countingHandler struct {
	transport.Handler
	t *Traffic
}

func (c countingHandler) Receive(peerID string, msg pex.Message) {
	c.t.count(&c.t.recvMsgs, &c.t.recvBytes, msg)
	c.Handler.Receive(peerID, msg)
}

func (c countingHandler) ReceiveAt(peerID string, msg pex.Message, arrived time.Time) {
	c.t.count(&c.t.recvMsgs, &c.t.recvBytes, msg)
	transport.DeliverAt(c.Handler, peerID, msg, arrived)
}

// multiObserver fans reactor events out.
type multiObserver []pex.Observer

func (m multiObserver) PexRequest(d pex.Direction) {
	for _, o := range m {
		o.PexRequest(d)
	}
}
func (m multiObserver) AddrsReceived(n int) {
	for _, o := range m {
		o.AddrsReceived(n)
	}
}
func (m multiObserver) Misbehavior(r pex.Reason) {
	for _, o := range m {
		o.Misbehavior(r)
	}
}
func (m multiObserver) Ban() {
	for _, o := range m {
		o.Ban()
	}
}
func (m multiObserver) Dial(r pex.DialResult) {
	for _, o := range m {
		o.Dial(r)
	}
}

// WireObserver is implemented by observers that also count the peers the
// transport stops and bans itself for wire-protocol violations (metrics,
// testnet counters): the reactor never sees those messages.
type WireObserver interface {
	WireViolation(reason string, banned bool)
}

// WireViolationHook fans transport.Config.OnWireViolation out to the
// observers that count wire violations; nil when none does.
func WireViolationHook(obs []pex.Observer) func(peerID, reason string, banned bool) {
	var ws []WireObserver
	for _, o := range obs {
		if w, ok := o.(WireObserver); ok {
			ws = append(ws, w)
		}
	}
	if len(ws) == 0 {
		return nil
	}
	return func(_, reason string, banned bool) {
		for _, w := range ws {
			w.WireViolation(reason, banned)
		}
	}
}
