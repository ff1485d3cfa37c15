package transport

import (
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/p2p/net/swarm"
	ma "github.com/multiformats/go-multiaddr"
)

// quicFirstRanker is go-libp2p's default dial ranking with TCP held back
// by at least delay whenever a QUIC address of the peer is dialed too.
// Dial offers QUIC and TCP on the same port; the default holds TCP back
// only 30 ms on private and loopback addresses, so when the remote is
// busy (a seed taking in a crowd of newcomers) both handshakes run to
// completion, both connections are identified, and one is then closed as
// redundant: twice the handshake CPU on both sides. The swarm still dials
// TCP at once when the QUIC attempt fails (no dial left in flight), so
// only a silently dropped QUIC dial waits the delay.
func quicFirstRanker(delay time.Duration) network.DialRanker {
	return func(addrs []ma.Multiaddr) []network.AddrDelay {
		ranked := swarm.DefaultDialRanker(addrs)
		quic := false
		for _, a := range ranked {
			if hasProtocol(a.Addr, ma.P_QUIC_V1) {
				quic = true
				break
			}
		}
		if !quic {
			return ranked
		}
		for i := range ranked {
			if hasProtocol(ranked[i].Addr, ma.P_TCP) && ranked[i].Delay < delay {
				ranked[i].Delay = delay
			}
		}
		return ranked
	}
}

func hasProtocol(m ma.Multiaddr, code int) bool {
	_, err := m.ValueForProtocol(code)
	return err == nil
}
