package pex

import (
	"fmt"
	"time"

	"github.com/pexp2p/pexp2p/addrbook"
)

// Upstream's reactor constants (CometBFT v0.38 p2p/pex/pex_reactor.go).
// Peers running CometBFT derive their rate limit from the
// same values, so they are a protocol contract, not tuning knobs.
const (
	// DefaultEnsurePeersPeriod is upstream's defaultEnsurePeersPeriod.
	DefaultEnsurePeersPeriod = 30 * time.Second
	// DefaultCrawlPeerPeriod is upstream's crawlPeerPeriod.
	DefaultCrawlPeerPeriod = 30 * time.Second
	// DefaultMinTimeBetweenCrawls is upstream's minTimeBetweenCrawls.
	DefaultMinTimeBetweenCrawls = 2 * time.Minute
	// DefaultCrawlInfoExpiry is how long upstream remembers a crawl.
	DefaultCrawlInfoExpiry = 24 * time.Hour
	// DefaultRequestBurst is upstream's "first two requests are free",
	// kept as the burst of pexp2p's request-rate check.
	DefaultRequestBurst = 2
	// DefaultMaxAttemptsToDial is upstream's maxAttemptsToDial.
	DefaultMaxAttemptsToDial = 16
	// DefaultBanTime is upstream's defaultBanTime.
	DefaultBanTime = 24 * time.Hour
	// DefaultBiasToSelectNewPeers is upstream's biasToSelectNewPeers.
	DefaultBiasToSelectNewPeers = 30
	// DefaultSeedDisconnectWaitPeriod is what upstream's node passes.
	DefaultSeedDisconnectWaitPeriod = 28 * time.Hour
	// MaxAddrsPerMsg is upstream's maxGetSelection: a sender never puts
	// more addresses in one PexAddrs.
	MaxAddrsPerMsg = 250
	// MaxMsgSize is the PEX channel's receive capacity upstream
	// (maxAddressSize 256 × maxGetSelection 250). Faces refuse larger
	// frames before decoding.
	MaxMsgSize = 256 * MaxAddrsPerMsg
	// DefaultMaxDialJitter is the upper bound of the random part of the
	// dial backoff upstream adds to 2^attempts s.
	DefaultMaxDialJitter = time.Second
	// DefaultDialBackoffBase is the unit of the exponential dial backoff.
	DefaultDialBackoffBase = time.Second
	// DefaultMaxTrackedDials bounds the dial-attempt table (unbounded
	// upstream). It is larger than a full book (256·64 + 64·64).
	DefaultMaxTrackedDials = 32768
)

// Config holds every period and limit of the reactor. Start from
// DefaultConfig; the zero Config is not valid.
type Config struct {
	// SeedMode runs the crawler instead of ensurePeers.
	SeedMode bool
	// Seeds are "id@host:port" strings in the book's ID kind. A host
	// name is resolved once at Start through the resolver option; a
	// resolution failure is tolerated at start, as upstream.
	Seeds []string
	// IDRule validates the IDs in seeds and in received PexAddrs; it
	// must be the book's rule. Default: addrbook.ClassicIDs.
	IDRule addrbook.IDRule

	// EnsurePeersPeriod is the ensurePeers tick.
	EnsurePeersPeriod time.Duration
	// MinReceiveRequestInterval is the least spacing between a peer's
	// PexRequests after its first two. Upstream derives it as
	// EnsurePeersPeriod/3; 0 here means exactly that.
	MinReceiveRequestInterval time.Duration
	// RequestBurst is how many requests a peer may send back to back
	// before the spacing applies (upstream: the first two are free).
	// pexp2p enforces the spacing as a rate with this burst, so bunched
	// arrivals of a steady requester are not punished.
	RequestBurst int
	// RequestTimeout is how long a PexRequest stays outstanding before
	// the peer may be asked again (upstream: forever). It must not
	// be shorter than MinReceiveRequestInterval, or a CometBFT peer
	// would ban us. 0 means EnsurePeersPeriod.
	RequestTimeout time.Duration
	// MaxAddrsPerMsg caps what we send and what we accept in one
	// PexAddrs; more is misbehaviour (upstream accepts any count).
	MaxAddrsPerMsg int

	// MaxAttemptsToDial: after this many failed dials a further pick of
	// a non-persistent address bans it for BanTime.
	MaxAttemptsToDial int
	// DialBackoffBase and MaxDialJitter shape the backoff before dial n+1:
	// DialBackoffBase·2^n plus a uniform jitter in [0, MaxDialJitter).
	DialBackoffBase time.Duration
	MaxDialJitter   time.Duration
	// PersistentPeersMaxDialPeriod caps the backoff for persistent peers
	// (0: no cap).
	PersistentPeersMaxDialPeriod time.Duration
	// MaxTrackedDials bounds the dial-attempt table; the entry dialed
	// longest ago is forgotten first.
	MaxTrackedDials int
	// BanTime is the duration of every ban the reactor issues.
	BanTime time.Duration

	// CrawlPeerPeriod is the seed's crawl tick.
	CrawlPeerPeriod time.Duration
	// MinTimeBetweenCrawls: a seed does not re-crawl an ID sooner.
	MinTimeBetweenCrawls time.Duration
	// CrawlInfoExpiry: crawl records older than this are forgotten.
	CrawlInfoExpiry time.Duration
	// SeedDisconnectWaitPeriod: a seed drops non-persistent peers
	// connected for at least this long.
	SeedDisconnectWaitPeriod time.Duration
	// BiasToSelectNewPeers is the new-address bias of a seed's answer.
	BiasToSelectNewPeers int

	// RefreshWhenOutboundFull keeps asking a random peer for addresses
	// once per EnsurePeersPeriod while the book needs more, even when the
	// outbound slots are full (upstream returns early; pexp2p fix).
	RefreshWhenOutboundFull bool
	// MarkGoodOnOutbound marks an outbound peer's address good (moves it
	// to an old bucket) once the peer is connected and authenticated.
	// Upstream marks good only through consensus (10000 votes or block
	// parts), so a node without consensus never fills its old buckets.
	MarkGoodOnOutbound bool
	// OverLimitGrace: a peer the face accepted beyond its inbound limit
	// (PeerInfo.OverLimit) is disconnected gracefully after answering one
	// PexRequest, or after this long without one.
	OverLimitGrace time.Duration

	// ProbeTimeout bounds the dial of a probe: an eviction test or a
	// feeler (probe.go). 0 means DefaultProbeTimeout.
	ProbeTimeout time.Duration
	// FeelerInterval is the mean time between feelers (feeler.go): short
	// probes of new addresses that move live ones to old buckets. 0
	// (the default) means no feelers, as upstream;
	// DefaultFeelerInterval is Bitcoin Core's pace.
	FeelerInterval time.Duration
	// MaxAnchors is how many outbound peers are saved at Stop and dialled
	// first at Start (anchors.go; needs WithAnchors). 0 (the default)
	// means none, as upstream; DefaultMaxAnchors is Bitcoin Core's count.
	MaxAnchors int
	// OutboundGroupLimit is the most outbound peers ensurePeers dials in
	// one network group (diversity.go; the book's groups: AS with an AS
	// map, else /16). 0 (the default) means no limit, as upstream;
	// DefaultOutboundGroupLimit is Bitcoin Core's 1.
	OutboundGroupLimit int
	// PreferVerifiedAddrs makes the book favour addresses their own peer
	// signed (addrbook.Options.PreferVerified) when picking whom to dial;
	// the reactor switches it on in a book that supports it and refuses
	// to start with one that does not. Off (the default) keeps upstream's
	// draws: the preference only matters where peers exchange signed
	// records, which upstream's never do, and docs/eclipse.md measures
	// what it does and does not buy.
	PreferVerifiedAddrs bool
}

// DefaultConfig returns upstream's values (and pexp2p's fixes switched on).
func DefaultConfig() Config {
	return Config{
		IDRule:                       addrbook.ClassicIDs,
		EnsurePeersPeriod:            DefaultEnsurePeersPeriod,
		MinReceiveRequestInterval:    0,
		RequestBurst:                 DefaultRequestBurst,
		MarkGoodOnOutbound:           true,
		RequestTimeout:               0,
		MaxAddrsPerMsg:               MaxAddrsPerMsg,
		MaxAttemptsToDial:            DefaultMaxAttemptsToDial,
		DialBackoffBase:              DefaultDialBackoffBase,
		MaxDialJitter:                DefaultMaxDialJitter,
		PersistentPeersMaxDialPeriod: 0,
		MaxTrackedDials:              DefaultMaxTrackedDials,
		BanTime:                      DefaultBanTime,
		CrawlPeerPeriod:              DefaultCrawlPeerPeriod,
		MinTimeBetweenCrawls:         DefaultMinTimeBetweenCrawls,
		CrawlInfoExpiry:              DefaultCrawlInfoExpiry,
		SeedDisconnectWaitPeriod:     DefaultSeedDisconnectWaitPeriod,
		BiasToSelectNewPeers:         DefaultBiasToSelectNewPeers,
		RefreshWhenOutboundFull:      true,
		OverLimitGrace:               DefaultEnsurePeersPeriod / 3,
	}
}

// ConfigError names the Config field that is out of range.
type ConfigError struct {
	Field  string
	Value  any
	Reason string
}

func (e *ConfigError) Error() string {
	return fmt.Sprintf("pex config: %s = %v: %s", e.Field, e.Value, e.Reason)
}

// Is makes errors.Is(err, ErrInvalidConfig) true.
func (e *ConfigError) Is(target error) bool { return target == ErrInvalidConfig }

// minReceiveInterval is the effective request spacing.
func (c *Config) minReceiveInterval() time.Duration {
	if c.MinReceiveRequestInterval > 0 {
		return c.MinReceiveRequestInterval
	}
	return c.EnsurePeersPeriod / 3
}

func (c *Config) probeTimeout() time.Duration {
	if c.ProbeTimeout > 0 {
		return c.ProbeTimeout
	}
	return DefaultProbeTimeout
}

func (c *Config) requestTimeout() time.Duration {
	if c.RequestTimeout > 0 {
		return c.RequestTimeout
	}
	return c.EnsurePeersPeriod
}

// Validate checks every field and returns a *ConfigError for the first
// one out of range.
func (c *Config) Validate() error {
	// Periods and lifetimes must be positive; the others may be 0, which
	// means a default, a value derived from the period, or off.
	for _, f := range []struct {
		name   string
		d      time.Duration
		zeroOK bool
	}{
		{"EnsurePeersPeriod", c.EnsurePeersPeriod, false},
		{"DialBackoffBase", c.DialBackoffBase, false},
		{"BanTime", c.BanTime, false},
		{"CrawlPeerPeriod", c.CrawlPeerPeriod, false},
		{"CrawlInfoExpiry", c.CrawlInfoExpiry, false},
		{"OverLimitGrace", c.OverLimitGrace, false},
		{"MinReceiveRequestInterval", c.MinReceiveRequestInterval, true},
		{"RequestTimeout", c.RequestTimeout, true},
		{"MaxDialJitter", c.MaxDialJitter, true},
		{"PersistentPeersMaxDialPeriod", c.PersistentPeersMaxDialPeriod, true},
		{"MinTimeBetweenCrawls", c.MinTimeBetweenCrawls, true},
		{"SeedDisconnectWaitPeriod", c.SeedDisconnectWaitPeriod, true},
		{"ProbeTimeout", c.ProbeTimeout, true},
		{"FeelerInterval", c.FeelerInterval, true},
	} {
		switch {
		case f.zeroOK && f.d < 0:
			return &ConfigError{Field: f.name, Value: f.d, Reason: "must not be negative"}
		case !f.zeroOK && f.d <= 0:
			return &ConfigError{Field: f.name, Value: f.d, Reason: "must be positive"}
		}
	}
	if c.RequestBurst < 1 {
		return &ConfigError{Field: "RequestBurst", Value: c.RequestBurst, Reason: "must be at least 1"}
	}
	if c.requestTimeout() < c.minReceiveInterval() {
		return &ConfigError{Field: "RequestTimeout", Value: c.requestTimeout(),
			Reason: fmt.Sprintf("shorter than the request spacing peers enforce (%v); peers would ban us", c.minReceiveInterval())}
	}
	if c.MaxAddrsPerMsg <= 0 || c.MaxAddrsPerMsg > MaxAddrsPerMsg {
		return &ConfigError{Field: "MaxAddrsPerMsg", Value: c.MaxAddrsPerMsg, Reason: fmt.Sprintf("must be in 1..%d", MaxAddrsPerMsg)}
	}
	if c.MaxAttemptsToDial <= 0 {
		return &ConfigError{Field: "MaxAttemptsToDial", Value: c.MaxAttemptsToDial, Reason: "must be positive"}
	}
	if c.OutboundGroupLimit < 0 {
		return &ConfigError{Field: "OutboundGroupLimit", Value: c.OutboundGroupLimit, Reason: "must not be negative"}
	}
	if c.MaxAnchors < 0 {
		return &ConfigError{Field: "MaxAnchors", Value: c.MaxAnchors, Reason: "must not be negative"}
	}
	if c.MaxTrackedDials <= 0 {
		return &ConfigError{Field: "MaxTrackedDials", Value: c.MaxTrackedDials, Reason: "must be positive"}
	}
	if c.BiasToSelectNewPeers < 0 || c.BiasToSelectNewPeers > 100 {
		return &ConfigError{Field: "BiasToSelectNewPeers", Value: c.BiasToSelectNewPeers, Reason: "must be a percentage 0..100"}
	}
	return nil
}
