package classic

import (
	"net"
	"reflect"
	"strings"
	"unsafe"

	"github.com/cometbft/cometbft/crypto"
	"github.com/cometbft/cometbft/p2p"
	"github.com/cometbft/cometbft/p2p/conn"
	tmp2p "github.com/cometbft/cometbft/proto/tendermint/p2p"

	"github.com/pexp2p/pexp2p/addrbook"
	"github.com/pexp2p/pexp2p/pex"
)

// Upstream's PEX channel descriptor values (p2p/pex/pex_reactor.go): the
// receive capacity is 250 addresses of at most 256 bytes each.
const (
	pexChannel          = byte(0x00)
	pexPriority         = 1
	pexSendQueue        = 10
	pexRecvMessageLimit = 64000
)

// channelReactor is the p2p.Reactor the switch calls on channel 0; it only
// forwards to the face, which forwards to the pex.Reactor.
type channelReactor struct {
	p2p.BaseReactor
	face *Face
}

func newChannelReactor(f *Face) *channelReactor {
	r := &channelReactor{face: f}
	r.BaseReactor = *p2p.NewBaseReactor("pexp2p-PEX", r)
	return r
}

// GetChannels implements p2p.Reactor with upstream's exact descriptor, so
// queueing and the size limit behave as on any CometBFT node.
func (r *channelReactor) GetChannels() []*conn.ChannelDescriptor {
	return []*conn.ChannelDescriptor{{
		ID:                  pexChannel,
		Priority:            pexPriority,
		SendQueueCapacity:   pexSendQueue,
		RecvMessageCapacity: pexRecvMessageLimit,
		MessageType:         &tmp2p.Message{},
	}}
}

func (r *channelReactor) AddPeer(p p2p.Peer)                { r.face.peerAdded(p) }
func (r *channelReactor) RemovePeer(p p2p.Peer, reason any) { r.face.peerRemoved(p, reason) }

// Receive gets the message already unwrapped by upstream's peer (the
// channel's MessageType implements p2p.Unwrapper): a *tmp2p.PexRequest or
// *tmp2p.PexAddrs.
func (r *channelReactor) Receive(e p2p.Envelope) { r.face.received(e) }

// switchBook gives upstream's switch the p2p.AddrBook it insists on,
// backed by the face's classic book. The switch uses it when it dials
// itself and for private IDs; the reactor uses the book directly.
type switchBook struct {
	book pex.AddrBook
}

var _ p2p.AddrBook = (*switchBook)(nil)

func (b *switchBook) AddAddress(addr, src *p2p.NetAddress) error {
	if b.book == nil {
		return nil
	}
	a, err := fromP2P(addr)
	if err != nil {
		return err
	}
	s, err := fromP2P(src)
	if err != nil {
		return err
	}
	return b.book.AddAddress(a, s)
}

func (b *switchBook) AddPrivateIDs(ids []string) {
	if b.book != nil {
		b.book.AddPrivateIDs(ids)
	}
}

func (b *switchBook) AddOurAddress(addr *p2p.NetAddress) {
	if b.book == nil {
		return
	}
	if a, err := fromP2P(addr); err == nil {
		b.book.AddOurAddress(a)
	}
}

func (b *switchBook) OurAddress(addr *p2p.NetAddress) bool {
	if b.book == nil {
		return false
	}
	a, err := fromP2P(addr)
	return err == nil && b.book.OurAddress(a)
}

func (b *switchBook) MarkGood(id p2p.ID) {
	if b.book != nil {
		b.book.MarkGood(string(id))
	}
}

func (b *switchBook) RemoveAddress(addr *p2p.NetAddress) {
	if b.book != nil && addr != nil {
		if id, err := addrbook.ClassicIDs.Normalize(string(addr.ID)); err == nil {
			b.book.RemoveAddress(id)
		}
	}
}

func (b *switchBook) HasAddress(addr *p2p.NetAddress) bool {
	if b.book == nil || addr == nil {
		return false
	}
	id, err := addrbook.ClassicIDs.Normalize(string(addr.ID))
	return err == nil && b.book.HasAddress(id)
}

func (b *switchBook) Save() {
	if b.book != nil {
		_ = b.book.Save()
	}
}

// RemotePubKey returns the public key a peer proved in the SecretConnection
// handshake. Upstream v0.40 keeps the connection in an unexported field of
// its peer type and offers no accessor, so this reads that field by
// reflection; the result is only returned when it hashes to the peer's ID,
// so a layout change in another upstream version yields (nil, false) — never
// a wrong key. TestRemotePubKey pins the behaviour for the version in go.mod.
func RemotePubKey(p p2p.Peer) (crypto.PubKey, bool) {
	if p == nil {
		return nil, false
	}
	v := reflect.ValueOf(p)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return nil, false
	}
	pc := v.Elem().FieldByName("peerConn")
	if !pc.IsValid() || pc.Kind() != reflect.Struct {
		return nil, false
	}
	c := pc.FieldByName("conn")
	if !c.IsValid() || c.Kind() != reflect.Interface || !c.CanAddr() {
		return nil, false
	}
	connValue := reflect.NewAt(c.Type(), unsafe.Pointer(c.UnsafeAddr())).Elem().Interface()
	nc, ok := connValue.(net.Conn)
	if !ok {
		return nil, false
	}
	sc, ok := nc.(*conn.SecretConnection)
	if !ok || sc == nil {
		return nil, false
	}
	pk := sc.RemotePubKey()
	if pk == nil || p2p.PubKeyToID(pk) != p.ID() {
		return nil, false
	}
	return pk, true
}

// isIDMismatch tells an identity mismatch (the peer proved another key than
// the dialed ID) from other handshake failures, which upstream flags
// alike; only the message differs ("conn.ID (…) dialed ID (…) mismatch").
func isIDMismatch(err error) bool {
	return strings.Contains(err.Error(), "mismatch")
}
