package cometnode

import (
	"errors"
	"fmt"
	"reflect"
	"unsafe"

	"github.com/cometbft/cometbft/lp2p"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peerstore"
	"github.com/libp2p/go-libp2p/core/protocol"
)

// PinnedCometBFT is the CometBFT release whose unexported layout this file
// reads. TestSwitchHostLayout fails on any release where the read no
// longer finds the switch's host.
const PinnedCometBFT = "v0.40.0"

// ErrLayout reports a CometBFT build whose lp2p.Switch no longer keeps
// its host where this package looks for it.
var ErrLayout = errors.New("cometnode: lp2p.Switch layout differs from CometBFT " + PinnedCometBFT)

// switchHost returns the *lp2p.Host that a libp2p switch sends and
// receives through. This is the one place that reads CometBFT's
// unexported state: lp2p.Switch keeps the host in its field "host" with
// no accessor, while lp2p.Host embeds host.Host as an exported field, so
// once the pointer is in hand the libp2p host under the switch, its peer
// set and every peer can be replaced without further tricks. Upstream
// could offer an accessor, or a NewHost that takes a ready host.
func switchHost(sw *lp2p.Switch) (*lp2p.Host, error) {
	if sw == nil {
		return nil, fmt.Errorf("%w: nil switch", ErrLayout)
	}
	v := reflect.ValueOf(sw).Elem()
	f := v.FieldByName("host")
	want := reflect.TypeOf((*lp2p.Host)(nil))
	if !f.IsValid() || f.Type() != want {
		return nil, fmt.Errorf("%w: %s has no field host of type %s", ErrLayout, v.Type(), want)
	}
	h := reflect.NewAt(f.Type(), unsafe.Pointer(f.UnsafeAddr())).Elem().Interface().(*lp2p.Host)
	if h == nil {
		return nil, fmt.Errorf("%w: the switch has no host", ErrLayout)
	}
	return h, nil
}

// sharedHost is pexp2p's libp2p host as CometBFT's switch sees it. The
// switch's last act when it stops is to close the host's network and
// peerstore; here that first stops discovery (so the book is saved inside
// node.Stop, before the process exits) and leaves closing the host to
// pexp2p's face, which owns it.
type sharedHost struct {
	host.Host
	onClose func()
	// serveReactors false (a seed-mode node) keeps the switch's reactor
	// protocols off the host: a seed crawls and answers PEX only, so
	// identify tells visitors it has nothing else to offer, and no
	// visitor's reactor stream can make the switch adopt it.
	serveReactors bool
}

// SetStreamHandler registers the switch's reactor protocols, unless the
// node is a seed.
func (h sharedHost) SetStreamHandler(pid protocol.ID, handler network.StreamHandler) {
	if !h.serveReactors {
		return
	}
	h.Host.SetStreamHandler(pid, handler)
}

func (h sharedHost) Network() network.Network {
	return closeHookNetwork{Network: h.Host.Network(), onClose: h.onClose}
}

func (h sharedHost) Peerstore() peerstore.Peerstore {
	return ownedPeerstore{Peerstore: h.Host.Peerstore()}
}

type closeHookNetwork struct {
	network.Network
	onClose func()
}

func (n closeHookNetwork) Close() error {
	n.onClose()
	return nil
}

// ownedPeerstore is closed by the face that created it, not the switch.
type ownedPeerstore struct{ peerstore.Peerstore }

func (ownedPeerstore) Close() error { return nil }
