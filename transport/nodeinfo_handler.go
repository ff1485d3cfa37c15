package transport

import (
	"errors"
	"net/netip"
	"time"

	tmp2p "github.com/cometbft/cometbft/proto/tendermint/p2p"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
)

// handleNodeInfoStream answers a peer's NodeInfo with ours, shaped like
// the PEX handler: service scope, memory for the largest NodeInfo, one
// deadline for the exchange, reset on error.
func (n *Node) handleNodeInfoStream(s network.Stream) {
	if err := s.Scope().SetService(pexServiceName); err != nil {
		_ = s.ResetWithError(network.StreamResourceLimitExceeded)
		return
	}
	if err := s.Scope().ReserveMemory(MaxNodeInfoSize, network.ReservationPriorityAlways); err != nil {
		_ = s.ResetWithError(network.StreamResourceLimitExceeded)
		return
	}
	defer s.Scope().ReleaseMemory(MaxNodeInfoSize)
	_ = s.SetDeadline(time.Now().Add(n.cfg.HandshakeTimeout))
	if _, err := readNodeInfo(s, s.Conn().RemotePeer().String()); err != nil {
		if errors.Is(err, ErrBadNodeInfo) {
			_ = s.ResetWithError(network.StreamProtocolViolation)
		} else {
			_ = s.Reset()
		}
		return
	}
	// Their NodeInfo is checked on the stream we open ourselves; here we
	// only answer.
	n.mu.Lock()
	ours := n.ourNodeInfo
	n.mu.Unlock()
	if err := writeNodeInfo(s, ours); err != nil {
		_ = s.Reset()
		return
	}
	_ = s.Close()
}

// buildNodeInfo is what we send in the NodeInfo exchange. Its listen
// address prefers a non-loopback one, as peers store it in their books.
func (n *Node) buildNodeInfo(h host.Host) *tmp2p.DefaultNodeInfo {
	listen := ""
	addrs := h.Addrs()
	if len(n.cfg.ExternalAddrs) > 0 {
		addrs = n.cfg.ExternalAddrs
	}
	for _, a := range addrs {
		if ip, port, _, _, err := SplitMultiaddr(a); err == nil {
			listen = netip.AddrPortFrom(ip, port).String()
			if !ip.IsLoopback() {
				break
			}
		}
	}
	return &tmp2p.DefaultNodeInfo{
		ProtocolVersion: tmp2p.ProtocolVersion{P2P: 9, Block: 11},
		DefaultNodeID:   h.ID().String(),
		ListenAddr:      listen,
		Network:         n.cfg.Network,
		Version:         n.cfg.Version,
		Channels:        []byte{0x00},
		Moniker:         n.cfg.Moniker,
	}
}
