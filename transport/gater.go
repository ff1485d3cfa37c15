package transport

import (
	"net/netip"
	"time"

	"github.com/libp2p/go-libp2p/core/control"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"
)

// allowPeer: not banned in the book, not recently stopped for an error.
func (n *Node) allowPeer(id peer.ID) bool {
	blocked, bans := blockedAt(n, n.blocked, id)
	if blocked {
		return false
	}
	return bans == nil || !bans.IsBanned(id.String())
}

// allowAddr: the IP is not the IP of a banned peer (loopback and
// allow_duplicate_ip exempt, see ipBanApplies).
func (n *Node) allowAddr(m ma.Multiaddr) bool {
	ip0, err := manet.ToIP(m)
	if err != nil {
		return true
	}
	ip, _ := netip.AddrFromSlice(ip0)
	ip = ip.Unmap()
	if !n.ipBanApplies(ip) {
		return true
	}
	blocked, bans := blockedAt(n, n.blockedIPs, ip)
	if blocked {
		return false
	}
	if bans != nil {
		for _, b := range bans.Bans() {
			if b.Addr.IP == ip {
				return false
			}
		}
	}
	return true
}

// blockedAt reports whether n blocks key (an ID or an IP, in blocks) now,
// forgetting a block that has run out so the map does not grow with every
// peer ever stopped, and returns the book's bans for the caller to check
// next, outside n.mu.
func blockedAt[K comparable](n *Node, blocks map[K]time.Time, key K) (bool, BanList) {
	n.mu.Lock()
	defer n.mu.Unlock()
	until, ok := blocks[key]
	if ok && !n.cfg.Clock.Now().Before(until) {
		delete(blocks, key)
		ok = false
	}
	return ok, n.cfg.Bans
}

// gater is the Node seen as a libp2p connection gater.
type gater Node

func (g *gater) InterceptPeerDial(p peer.ID) bool {
	n := (*Node)(g)
	n.mu.Lock()
	wrong := n.wrongNet[p]
	n.mu.Unlock()
	return !wrong && n.allowPeer(p)
}

func (g *gater) InterceptAddrDial(_ peer.ID, m ma.Multiaddr) bool {
	return (*Node)(g).allowAddr(m)
}

func (g *gater) InterceptAccept(cm network.ConnMultiaddrs) bool {
	return (*Node)(g).allowAddr(cm.RemoteMultiaddr())
}

func (g *gater) InterceptSecured(dir network.Direction, p peer.ID, cm network.ConnMultiaddrs) bool {
	n := (*Node)(g)
	// allowPeer consults the ban list, which may lock the book: it runs
	// before n.mu is taken.
	f := securedFacts{Inbound: dir == network.DirInbound, Banned: !n.allowPeer(p)}
	n.mu.Lock()
	defer n.mu.Unlock()
	f.WrongNetwork = n.wrongNet[p]
	f.Known = n.peers[p] != nil
	f.Exempt = n.unconditional[p] || n.persistent[p].ID != ""
	for id, ps := range n.peers {
		if ps.added && !n.unconditional[id] && !ps.info.Outbound {
			f.InboundPeers++
		}
	}
	return admitSecured(f, n.cfg.admissionLimits()).admitted()
}

func (g *gater) InterceptUpgraded(network.Conn) (bool, control.DisconnectReason) { return true, 0 }

// banSweep closes connections of peers banned since they connected.
func (n *Node) banSweep() {
	defer n.wg.Done()
	t := time.NewTicker(n.cfg.BanSweepPeriod)
	defer t.Stop()
	for {
		select {
		case <-n.ctx.Done():
			return
		case <-t.C:
		}
		if !n.anyBlocked() {
			continue
		}
		for _, c := range n.host.Network().Conns() {
			if !n.allowPeer(c.RemotePeer()) || !n.allowAddr(c.RemoteMultiaddr()) {
				log.Infow("closing connection of banned peer", "peer", c.RemotePeer())
				_ = c.Close()
			}
		}
	}
}

// anyBlocked reports whether any peer or IP is blocked or banned now. Most
// sweeps find nothing, and checking every connection costs a base58
// encode of its peer ID and a book lookup each (1.6 % of the CPU of a
// 100-node testnet, sweeping about 2,000 connections a second).
func (n *Node) anyBlocked() bool {
	n.mu.Lock()
	blocked := len(n.blocked) > 0 || len(n.blockedIPs) > 0
	bans := n.cfg.Bans
	n.mu.Unlock()
	return blocked || (bans != nil && len(bans.Bans()) > 0)
}
