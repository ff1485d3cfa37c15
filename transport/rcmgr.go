package transport

import (
	"net/netip"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/network"
	rcmgr "github.com/libp2p/go-libp2p/p2p/host/resource-manager"
	"github.com/libp2p/go-libp2p/x/rate"
)

// resourceManager builds go-libp2p's resource manager with limits that
// agree with CometBFT's: enough system and transient connections for our
// peer limits, and, when duplicate IPs are allowed, per-IP connection and
// rate limits raised so that honest peers behind one IP are not refused
// (the default is 8 connections and 0.2 new connections/s per IPv4).
func (n *Node) resourceManager() (network.ResourceManager, error) {
	return resourceManagerFor(n.cfg, len(n.persistent)+len(n.unconditional))
}

// ResourceManagerFor is the resource manager a Node started with cfg
// builds for itself (cfg's zero fields taking their defaults): for a
// host that is not a Node but must run under the same limits, such as
// the testnet's comparison stacks.
func ResourceManagerFor(cfg Config) (network.ResourceManager, error) {
	cfg.setDefaults()
	return resourceManagerFor(cfg, len(cfg.PersistentPeers)+len(cfg.UnconditionalPeerIDs))
}

func resourceManagerFor(cfg Config, configuredPeers int) (network.ResourceManager, error) {
	limits := rcmgr.DefaultLimits
	libp2p.SetDefaultServiceLimits(&limits)
	scaled := limits.AutoScale()
	peersTotal := cfg.MaxInboundPeers + cfg.MaxOutboundPeers + cfg.OverLimitSlots + configuredPeers
	// Two transports and simultaneous dials give up to four connections
	// per peer while duplicates are sorted out.
	need := rcmgr.LimitVal(4*peersTotal + 16)
	partial := scaled.ToPartialLimitConfig()
	raise := func(l *rcmgr.ResourceLimits) {
		if l.Conns != rcmgr.Unlimited && (l.Conns == rcmgr.DefaultLimit || l.Conns < need) {
			l.Conns = need
		}
		if l.ConnsInbound != rcmgr.Unlimited && (l.ConnsInbound == rcmgr.DefaultLimit || l.ConnsInbound < need) {
			l.ConnsInbound = need
		}
		if l.ConnsOutbound != rcmgr.Unlimited && (l.ConnsOutbound == rcmgr.DefaultLimit || l.ConnsOutbound < need) {
			l.ConnsOutbound = need
		}
	}
	raise(&partial.System)
	raise(&partial.Transient)
	concrete := partial.Build(scaled)
	// Without this the resource manager turns every scope event into a
	// timestamped trace record for a Prometheus reporter on the default
	// registry, which pexp2p never serves (its metrics have their own
	// registry): 2-3 % of a seed's CPU per visitor in
	// BenchmarkSeedCapacity's profile.
	opts := []rcmgr.Option{rcmgr.WithMetricsDisabled()}
	if cfg.AllowDuplicateIP {
		perIP := 4*peersTotal + 16
		opts = append(opts,
			rcmgr.WithLimitPerSubnet(
				[]rcmgr.ConnLimitPerSubnet{{PrefixLength: 32, ConnCount: perIP}},
				[]rcmgr.ConnLimitPerSubnet{{PrefixLength: 56, ConnCount: perIP}, {PrefixLength: 48, ConnCount: 8 * perIP}},
			),
			rcmgr.WithConnRateLimiters(&rate.Limiter{
				NetworkPrefixLimits: []rate.PrefixLimit{
					{Prefix: netip.MustParsePrefix("127.0.0.0/8"), Limit: rate.Limit{}},
					{Prefix: netip.MustParsePrefix("::1/128"), Limit: rate.Limit{}},
				},
				SubnetRateLimiter: rate.SubnetLimiter{
					IPv4SubnetLimits: []rate.SubnetLimit{{PrefixLength: 32, Limit: rate.Limit{RPS: 2, Burst: perIP}}},
					IPv6SubnetLimits: []rate.SubnetLimit{{PrefixLength: 56, Limit: rate.Limit{RPS: 2, Burst: perIP}}},
					GracePeriod:      time.Minute,
				},
			}),
		)
	}
	return rcmgr.NewResourceManager(rcmgr.NewFixedLimiter(concrete), opts...)
}
