package pex

import "github.com/pexp2p/pexp2p/addrbook"

// Outbound diversity (Bitcoin Core opens at most one outbound connection
// per network group): with Config.OutboundGroupLimit = n, ensurePeers
// skips an address whose group already has n outbound peers, so an
// attacker holding g groups holds at most n·g outbound slots however
// much of the book it fills. Groups are the book's (addrbook.Book.Group:
// the AS with an AS map, else the /16). Off by default (0), as upstream.

// DefaultOutboundGroupLimit is Bitcoin Core's one outbound peer per group.
const DefaultOutboundGroupLimit = 1

// diverseTriesPerSlot is how many draws ensurePeers may spend per
// missing outbound peer when diversity skips some. Upstream draws 3 per
// slot; a book an attacker flooded from few groups can need many more to
// find a group not yet used, and Bitcoin Core allows 100 per connection.
// 10 keeps a round's book work small (10 slots × 10 draws).
const diverseTriesPerSlot = 10

// grouper is the part of *addrbook.Book that names an address's group.
type grouper interface {
	Group(addr addrbook.NetAddress) string
}

// groupOf returns addr's group: the book's when it has one, else
// upstream's /16 (strict).
func (r *Reactor) groupOf(addr addrbook.NetAddress) string {
	if g, ok := r.book.(grouper); ok {
		return g.Group(addr)
	}
	return addrbook.GroupKey(addr, true)
}

// outboundGroups counts the current outbound peers per group; nil when
// diversity is off.
func (r *Reactor) outboundGroups() map[string]int {
	if r.cfg.OutboundGroupLimit <= 0 {
		return nil
	}
	counts := map[string]int{}
	for _, p := range r.net.Peers() {
		if p.Outbound {
			counts[r.groupOf(peerAddr(p))]++
		}
	}
	return counts
}
