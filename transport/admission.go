package transport

import (
	"net/netip"
	"strconv"
)

// Admission is decided twice for an inbound peer: cheaply by the gater
// when its connection is secured (admitSecured), before identify and
// NodeInfo cost anything, and exactly by setupPeer once the handshake is
// over (admit), when the direction of every pending peer is known. Both
// are pure functions of the facts gathered under Node.mu, so every rule
// can be tested without a network.

// admitReason is the rule that decided a peer's admission.
type admitReason uint8

const (
	admitWithinLimits admitReason = iota
	// admitExempt: persistent and unconditional peers bypass the limits
	// and the duplicate-IP rule, as in CometBFT's switch.
	admitExempt
	// admitOverLimit: an inbound peer beyond MaxInboundPeers took one of
	// the OverLimitSlots; it gets one answer and is let go.
	admitOverLimit
	// admitKnownPeer: another connection of a peer we already have is
	// the same peer, not a new one to count.
	admitKnownPeer
	// admitOutbound: the gater lets our own dials through; setupPeer
	// applies the outbound limit once the peer is identified.
	admitOutbound

	refuseBanned
	refuseWrongNetwork
	refuseDuplicateIP
	refuseOutboundFull
	refuseInboundFull
)

// admitted reports whether the rule lets the peer in.
func (r admitReason) admitted() bool { return r < refuseBanned }

func (r admitReason) String() string {
	switch r {
	case admitWithinLimits:
		return "within the peer limits"
	case admitExempt:
		return "persistent or unconditional"
	case admitOverLimit:
		return "over-limit visitor"
	case admitKnownPeer:
		return "another connection of a known peer"
	case admitOutbound:
		return "our own dial"
	case refuseBanned:
		return "banned or recently stopped for an error"
	case refuseWrongNetwork:
		return "on another network"
	case refuseDuplicateIP:
		return "another peer already uses its IP"
	case refuseOutboundFull:
		return "outbound peer limit reached"
	case refuseInboundFull:
		return "inbound peer limit reached"
	default:
		return "admitReason(" + strconv.Itoa(int(r)) + ")"
	}
}

// admissionLimits are the parts of Config that admission reads.
type admissionLimits struct {
	MaxInbound       int
	MaxOutbound      int
	OverLimitSlots   int
	AllowDuplicateIP bool
	// IPRuleOnLoopback applies the duplicate-IP rule to loopback too
	// (tests; see Config.ipRuleOnLoopback).
	IPRuleOnLoopback bool
}

func (c *Config) admissionLimits() admissionLimits {
	return admissionLimits{
		MaxInbound:       c.MaxInboundPeers,
		MaxOutbound:      c.MaxOutboundPeers,
		OverLimitSlots:   c.OverLimitSlots,
		AllowDuplicateIP: c.AllowDuplicateIP,
		IPRuleOnLoopback: c.ipRuleOnLoopback,
	}
}

// ipRuleApplies: IP-based rules (duplicate IPs, IP bans) are skipped for
// loopback, where every in-process test node and QUIC dial share one
// source address, and when the operator allows duplicate IPs, because
// many honest peers then share one IP.
func ipRuleApplies(ip netip.Addr, l admissionLimits) bool {
	return ip.IsValid() && (!ip.IsLoopback() || l.IPRuleOnLoopback) && !l.AllowDuplicateIP
}

// peerLoad counts the admitted peers, unconditional ones excluded: they
// take no slot.
type peerLoad struct {
	Outbound  int
	Inbound   int // over-limit visitors not included
	OverLimit int
}

// admissionFacts is what setupPeer knows about a peer whose handshake
// has finished.
type admissionFacts struct {
	Outbound      bool
	Persistent    bool
	Unconditional bool
	// DialedByUs: our Dial of this peer is in flight. The reactor dialed
	// it knowing the outbound count, and a simultaneous inbound dial by
	// the peer can make the connection that wins look like ours after the
	// count was taken.
	DialedByUs bool
	RemoteIP   netip.Addr
	// IPInUse: another admitted peer connects from RemoteIP.
	IPInUse bool
	Load    peerLoad
}

// admit decides whether a peer that finished its handshake may stay.
func admit(f admissionFacts, l admissionLimits) admitReason {
	if f.Persistent || f.Unconditional {
		return admitExempt
	}
	if f.IPInUse && ipRuleApplies(f.RemoteIP, l) {
		return refuseDuplicateIP
	}
	if f.Outbound {
		if f.Load.Outbound >= l.MaxOutbound && !f.DialedByUs {
			return refuseOutboundFull
		}
		return admitWithinLimits
	}
	if f.Load.Inbound < l.MaxInbound {
		return admitWithinLimits
	}
	if f.Load.OverLimit >= l.OverLimitSlots {
		return refuseInboundFull
	}
	return admitOverLimit
}

// securedFacts is what the gater knows when a connection is secured:
// the peer's identity, not yet its NodeInfo or listen address.
type securedFacts struct {
	Inbound bool
	// Banned: in the ban list, or stopped for an error within
	// StopBlockTime.
	Banned       bool
	WrongNetwork bool // its NodeInfo named another chain earlier this run
	Known        bool // a peer we already have (or are setting up)
	Exempt       bool // persistent or unconditional
	// InboundPeers counts admitted inbound peers, over-limit visitors
	// included and unconditional peers excluded.
	InboundPeers int
}

// admitSecured is the gater's early decision on a secured connection.
// It refuses only what setupPeer would refuse anyway, so a refusal here
// just saves the handshake.
func admitSecured(f securedFacts, l admissionLimits) admitReason {
	if f.Banned {
		return refuseBanned
	}
	if !f.Inbound {
		return admitOutbound
	}
	if f.WrongNetwork {
		return refuseWrongNetwork
	}
	if f.Exempt {
		return admitExempt
	}
	if f.Known {
		return admitKnownPeer
	}
	if f.InboundPeers >= l.MaxInbound+l.OverLimitSlots {
		return refuseInboundFull
	}
	return admitWithinLimits
}
