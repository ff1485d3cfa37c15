package transport

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	tmp2p "github.com/cometbft/cometbft/proto/tendermint/p2p"
	"github.com/cosmos/gogoproto/proto"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/pexp2p/pexp2p/addrbook"
	"github.com/pexp2p/pexp2p/internal/errmsg"
)

// NodeInfoProtocolID carries the NodeInfo exchange that libp2p lacks and
// CometBFT's handshake provides: both sides learn each other's network
// (chain ID) and advertised listen address before the reactor sees them.
const NodeInfoProtocolID protocol.ID = "/p2p/cometbft/1.0.0/nodeinfo"

// MaxNodeInfoSize is upstream's maxNodeInfoSize.
const MaxNodeInfoSize = 10240

// NodeInfo errors.
var (
	ErrNodeInfo      = errors.New("node info")
	ErrWrongNetwork  = errors.New("peer is on another network")
	ErrNodeInfoID    = errors.New("node info names another node")
	ErrBadNodeInfo   = errors.New("malformed node info")
	ErrNodeInfoIO    = errors.New("node info exchange failed")
	ErrNoNodeInfo    = errors.New("peer does not speak the node info protocol")
	ErrSetupTimedOut = errors.New("peer setup timed out")
)

// NodeInfoError reports why a peer's NodeInfo was refused.
type NodeInfoError struct {
	Peer string
	errmsg.Kinded
}

func (e *NodeInfoError) Error() string        { return e.Message("node info of " + e.Peer) }
func (e *NodeInfoError) Is(target error) bool { return target == ErrNodeInfo || target == e.Kind }

func nodeInfoErr(peer string, kind error, detail string, err error) *NodeInfoError {
	return &NodeInfoError{Peer: peer, Kinded: errmsg.Kinded{Kind: kind, Detail: detail, Err: err}}
}

// writeNodeInfo sends one length-prefixed DefaultNodeInfo.
func writeNodeInfo(w io.Writer, ni *tmp2p.DefaultNodeInfo) error {
	b, err := proto.Marshal(ni)
	if err != nil {
		return err
	}
	if len(b) > MaxNodeInfoSize {
		return fmt.Errorf("our node info is %d bytes, limit %d", len(b), MaxNodeInfoSize)
	}
	out := binary.AppendUvarint(nil, uint64(len(b)))
	_, err = w.Write(append(out, b...))
	return err
}

// readNodeInfo reads one length-prefixed DefaultNodeInfo, refusing an
// oversized length before allocating.
func readNodeInfo(r io.Reader, peerText string) (*tmp2p.DefaultNodeInfo, error) {
	bad := func(detail string, err error) error {
		return nodeInfoErr(peerText, ErrBadNodeInfo, detail, err)
	}
	var n uint64
	var shift uint
	var one [1]byte
	for i := 0; ; i++ {
		if i == 3 {
			return nil, bad("length prefix too long", nil)
		}
		if _, err := io.ReadFull(r, one[:]); err != nil {
			return nil, nodeInfoErr(peerText, ErrNodeInfoIO, "reading length", err)
		}
		n |= uint64(one[0]&0x7f) << shift
		if one[0] < 0x80 {
			break
		}
		shift += 7
	}
	if n > MaxNodeInfoSize {
		return nil, bad(fmt.Sprintf("length %d, limit %d", n, MaxNodeInfoSize), nil)
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, nodeInfoErr(peerText, ErrNodeInfoIO, "reading body", err)
	}
	var ni tmp2p.DefaultNodeInfo
	if err := proto.Unmarshal(buf, &ni); err != nil {
		return nil, bad("decoding", err)
	}
	return &ni, nil
}

// checkNodeInfo validates a peer's NodeInfo against the authenticated
// peer ID and our network, and returns the address it advertises (zero
// when it advertises nothing usable, e.g. an unspecified IP).
func checkNodeInfo(ni *tmp2p.DefaultNodeInfo, from peer.ID, network string) (addrbook.NetAddress, error) {
	pt := from.String()
	if ni.DefaultNodeID != pt {
		return addrbook.NetAddress{}, nodeInfoErr(pt, ErrNodeInfoID, fmt.Sprintf("says %q", ni.DefaultNodeID), nil)
	}
	if ni.Network != network {
		return addrbook.NetAddress{}, nodeInfoErr(pt, ErrWrongNetwork, fmt.Sprintf("%q, ours %q", ni.Network, network), nil)
	}
	la := ni.ListenAddr
	if i := strings.Index(la, "://"); i >= 0 {
		la = la[i+3:]
	}
	if la == "" {
		return addrbook.NetAddress{}, nil
	}
	host, portText, err := net.SplitHostPort(la)
	if err != nil {
		return addrbook.NetAddress{}, nodeInfoErr(pt, ErrBadNodeInfo, fmt.Sprintf("listen address %q", ni.ListenAddr), err)
	}
	port, err := strconv.ParseUint(portText, 10, 16)
	if err != nil {
		return addrbook.NetAddress{}, nodeInfoErr(pt, ErrBadNodeInfo, fmt.Sprintf("listen port %q", portText), nil)
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || ip.Zone() != "" || ip.IsUnspecified() || port == 0 {
		// A host name, wildcard or zero port is not an address we can
		// store; the caller falls back to identify.
		return addrbook.NetAddress{}, nil
	}
	na, err := addrbook.NewNetAddress(PeerIDs, pt, ip, uint16(port))
	if err != nil {
		return addrbook.NetAddress{}, nodeInfoErr(pt, ErrBadNodeInfo, "", err)
	}
	return na, nil
}

// exchangeNodeInfo runs our side of the exchange on a stream we opened:
// send ours, half-close, read theirs.
func exchangeNodeInfo(s network.Stream, ours *tmp2p.DefaultNodeInfo, timeout time.Duration) (*tmp2p.DefaultNodeInfo, error) {
	_ = s.SetDeadline(time.Now().Add(timeout))
	if err := writeNodeInfo(s, ours); err != nil {
		_ = s.Reset()
		return nil, nodeInfoErr(s.Conn().RemotePeer().String(), ErrNodeInfoIO, "sending ours", err)
	}
	_ = s.CloseWrite()
	theirs, err := readNodeInfo(s, s.Conn().RemotePeer().String())
	if err != nil {
		if errors.Is(err, ErrBadNodeInfo) {
			_ = s.ResetWithError(network.StreamProtocolViolation)
		} else {
			_ = s.Reset()
		}
		return nil, err
	}
	_ = s.Close()
	return theirs, nil
}
