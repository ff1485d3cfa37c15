package transport

import (
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/pexp2p/pexp2p/addrbook"
	"github.com/pexp2p/pexp2p/internal/clock"
)

// BanList is the part of the address book the connection gater consults.
// *addrbook.Book implements it.
type BanList interface {
	IsBanned(id string) bool
	Bans() []addrbook.Ban
}

// Config configures a libp2p Node. Zero fields take the defaults noted.
type Config struct {
	// ListenAddrs default to QUIC v1 and TCP on 0.0.0.0:26656.
	ListenAddrs []ma.Multiaddr
	// ExternalAddrs, when set, replace what we advertise (identify and
	// NodeInfo), as CometBFT's external_address does.
	ExternalAddrs []ma.Multiaddr

	// Network is the chain ID exchanged in NodeInfo; peers of another
	// network are dropped and not dialed again.
	Network string
	Moniker string
	Version string
	// StrictNodeInfo drops peers that do not speak the NodeInfo protocol
	// (upstream lp2p nodes); by default they are accepted.
	StrictNodeInfo bool

	MaxInboundPeers  int // default 40 (CometBFT's max_num_inbound_peers)
	MaxOutboundPeers int // default 10
	// OverLimitSlots inbound peers may connect beyond MaxInboundPeers;
	// they are handed over with PeerInfo.OverLimit, get one answer and
	// are let go. Negative disables; default 2, or SeedVisitorSlots with
	// SeedMode.
	OverLimitSlots int
	// SeedMode tells the face that its reactor runs in seed mode: it
	// keeps no peer and answers every inbound peer once, so its inbound
	// slots turn over within a period and the network's newcomers all
	// arrive at once. A seed admitting MaxInboundPeers + 2 of them per
	// round lets a network of N nodes in at that pace only: rounds to
	// converge grow linearly with N (docs/performance.md, "Scale").
	SeedMode bool

	PersistentPeers []ConfigPeer
	// Seeds are remembered so that a dial of a seed's ID also tries its
	// configured (possibly /dns or /dnsaddr) multiaddrs, which libp2p
	// resolves at dial time. Pass ReactorSeeds(…) to pex.Config.Seeds.
	Seeds                []ConfigPeer
	UnconditionalPeerIDs []string
	AllowDuplicateIP     bool
	// ipRuleOnLoopback, for tests, applies the IP rule to loopback too
	// (tests use loopback only).
	ipRuleOnLoopback bool

	// Bans is consulted at connection time (usually the address book).
	Bans BanList

	StreamTimeout time.Duration // one PEX message stream; default 10 s
	// HandshakeTimeout bounds the security handshake, identify and the
	// NodeInfo exchange of a connection; default 20 s (CometBFT's
	// handshake_timeout).
	HandshakeTimeout time.Duration
	// DialTimeout bounds a TCP connect; default 3 s (CometBFT's
	// dial_timeout, which bounds only the connect, too). QUIC has no
	// connect apart from its handshake: an unreachable QUIC address fails
	// after quic-go's handshake idle timeout (5 s) or at once on an ICMP
	// error. A whole Dial may take DialTimeout + HandshakeTimeout.
	DialTimeout time.Duration
	// PersistentDialPeriod is how often disconnected persistent peers are
	// redialed; default 5 s.
	PersistentDialPeriod time.Duration
	// BanSweepPeriod is how often live connections are checked against
	// the ban list, closing those of newly banned peers; default 1 s.
	BanSweepPeriod time.Duration
	// StopBlockTime keeps a peer stopped for an error from reconnecting
	// even if nobody bans it in the book; default 1 min.
	StopBlockTime time.Duration

	// MaxStalledStreams PEX streams of one peer that time out without a
	// complete message within StallWindow get it stopped and banned like
	// a wire violation (a slowloris): our writers send the whole frame at
	// once, so an honest peer stalls only on a failing link. Defaults: 3
	// within 10 min.
	MaxStalledStreams int
	StallWindow       time.Duration

	// Clock stamps PeerInfo.ConnectedAt; default clock.System.
	Clock clock.Clock

	// OnWireViolation, when set, is called for every peer stopped for
	// breaking the channel-0 wire protocol, with WireViolationReason's
	// label, or the peer-records protocol, with pex.ReasonForgedRecord
	// or pex.ReasonRecordsWire, and whether a ban was recorded in Bans:
	// the reactor never sees these peers' bad messages, so its observer
	// cannot count them. It is called synchronously and must not block.
	OnWireViolation func(peerID, reason string, banned bool)

	// ResourceManager, when set, replaces the one the node derives from
	// its peer limits: a CometBFT full node carries every reactor's
	// streams on this host, and its operator's [p2p.libp2p.limits] decide
	// them. The node closes it on Stop.
	ResourceManager network.ResourceManager
	// Ping serves libp2p's ping protocol, which CometBFT's lp2p switch
	// uses to measure its peers; a discovery-only node does not need it.
	Ping bool

	// SignedRecords runs the peer-records protocol
	// (PeerRecordsProtocolID, records.go): peers' own signed records
	// from identify, and those relayed by peers for the IDs of their
	// PexAddrs, are verified and fed to Addresses as verified addresses;
	// a peer that relays a forged record is stopped and banned. Off, no
	// handler is registered and channel 0 is all there is. Needs
	// Addresses.
	SignedRecords bool
	// DialAlternatives feeds identify's listen addresses of each peer to
	// Addresses as alternatives, and dials every address Addresses holds
	// for a peer at once, in the dial ranker's order. Needs Addresses.
	DialAlternatives bool
	// Addresses is the book side of SignedRecords and DialAlternatives
	// (usually the *addrbook.Book).
	Addresses AddressSink
	// MaxPeerRecords bounds the verified records kept for relaying;
	// default DefaultMaxPeerRecords.
	MaxPeerRecords int
	// RecordRequestInterval and RecordRequestBurst bound how often one
	// peer may ask us for records: a burst, then one per interval.
	// Defaults 5 s and 4; a request beyond them is refused, not punished.
	RecordRequestInterval time.Duration
	RecordRequestBurst    int
}

// SeedVisitorSlots is the default OverLimitSlots of a seed-mode node:
// with 40 inbound slots it admits 200 newcomers per round, the herd of a
// 200-node network starting at once, for about 860 connections of the
// resource manager's budget.
const SeedVisitorSlots = 160

func (c *Config) setDefaults() {
	if len(c.ListenAddrs) == 0 {
		c.ListenAddrs = []ma.Multiaddr{
			ma.StringCast("/ip4/0.0.0.0/udp/26656/quic-v1"),
			ma.StringCast("/ip4/0.0.0.0/tcp/26656"),
		}
	}
	if c.MaxInboundPeers == 0 {
		c.MaxInboundPeers = 40
	}
	if c.MaxOutboundPeers == 0 {
		c.MaxOutboundPeers = 10
	}
	if c.OverLimitSlots == 0 {
		c.OverLimitSlots = 2
		if c.SeedMode {
			c.OverLimitSlots = SeedVisitorSlots
		}
	}
	if c.OverLimitSlots < 0 {
		c.OverLimitSlots = 0
	}
	if c.StreamTimeout == 0 {
		c.StreamTimeout = DefaultStreamTimeout
	}
	if c.MaxStalledStreams <= 0 {
		c.MaxStalledStreams = 3
	}
	if c.StallWindow <= 0 {
		c.StallWindow = 10 * time.Minute
	}
	if c.HandshakeTimeout == 0 {
		c.HandshakeTimeout = 20 * time.Second
	}
	if c.DialTimeout == 0 {
		c.DialTimeout = 3 * time.Second
	}
	if c.PersistentDialPeriod == 0 {
		c.PersistentDialPeriod = 5 * time.Second
	}
	if c.BanSweepPeriod == 0 {
		c.BanSweepPeriod = time.Second
	}
	if c.StopBlockTime == 0 {
		c.StopBlockTime = time.Minute
	}
	if c.Clock == nil {
		c.Clock = clock.System
	}
	if c.MaxPeerRecords == 0 {
		c.MaxPeerRecords = DefaultMaxPeerRecords
	}
	if c.RecordRequestInterval == 0 {
		c.RecordRequestInterval = 5 * time.Second
	}
	if c.RecordRequestBurst == 0 {
		c.RecordRequestBurst = 4
	}
}

// OwnAddressBook is implemented by a ban list that also records our own
// addresses (the address book); a dial of our own ID feeds it.
type OwnAddressBook interface {
	RemoveAddress(id string)
	AddOurAddress(addr addrbook.NetAddress)
}

// WireBanner is implemented by a ban list that can record bans (the
// address book): a peer that breaks the wire protocol is banned there
// for WireBanTime, as the reactor bans other misbehaviour.
type WireBanner interface {
	MarkBad(addr addrbook.NetAddress, d time.Duration)
}
