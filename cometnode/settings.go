package cometnode

import (
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"
	"time"

	cmtcfg "github.com/cometbft/cometbft/config"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/pexp2p/pexp2p/addrbook"
	"github.com/pexp2p/pexp2p/pexnode"
	"github.com/pexp2p/pexp2p/transport"
)

// DefaultEnsurePeersPeriod is upstream's fixed ensure-peers period (its
// PEX reactor has no config key for it); Settings.EnsurePeersPeriod
// overrides it, for testnets that should converge in seconds.
const DefaultEnsurePeersPeriod = 30 * time.Second

// Settings are the discovery settings of one node, read from CometBFT's
// own config.toml. They must be taken before node.NewNode runs: NewNode
// turns [p2p] pex off whenever libp2p is on.
type Settings struct {
	PEX      bool
	SeedMode bool
	// Seeds are dialed for addresses and never handed to the switch.
	Seeds []transport.ConfigPeer
	// Persistent are [p2p] persistent_peers and the [p2p.libp2p]
	// bootstrap_peers marked persistent: kept connected by the face.
	Persistent    []transport.ConfigPeer
	Unconditional []string
	Private       []string
	MaxInbound    int
	MaxOutbound   int
	// AddrBookFile is absolute.
	AddrBookFile     string
	AddrBookStrict   bool
	AllowDuplicateIP bool
	Listen           []ma.Multiaddr
	External         []ma.Multiaddr
	HandshakeTimeout time.Duration
	DialTimeout      time.Duration
	// EnsurePeersPeriod is how often the reactor tops up its peers.
	EnsurePeersPeriod time.Duration
	// AddrBookSaveInterval is how often the book is saved while the node
	// runs; 0 is the book's default (upstream's 2 min).
	AddrBookSaveInterval time.Duration
	// Defences are the eclipse defences (docs/eclipse.md), pexp2p's own
	// settings with no key in CometBFT's [p2p]; the zero value is
	// upstream's behaviour. A relative ASMapFile is taken from the home.
	Defences pexnode.Defences
	// Warnings are the settings left out rather than refused (a malformed
	// seed); New logs them.
	Warnings []error
	// LimitsMode is [p2p.libp2p.limits] mode: "default" keeps pexp2p's
	// limits (derived from the peer limits), "custom" and "disabled" take
	// CometBFT's resource manager for that mode.
	LimitsMode string
}

// ConfigError names the config key and value that cannot be used.
type ConfigError struct {
	Key   string
	Value string
	Err   error
}

func (e *ConfigError) Error() string {
	if e.Value == "" {
		return fmt.Sprintf("config key %s: %v", e.Key, e.Err)
	}
	return fmt.Sprintf("config key %s = %q: %v", e.Key, e.Value, e.Err)
}

func (e *ConfigError) Unwrap() error { return e.Err }

// SettingsFromConfig reads the [p2p] keys a libp2p node otherwise ignores:
// pex, seeds, seed_mode, persistent_peers, unconditional_peer_ids,
// private_peer_ids, max_num_inbound_peers, max_num_outbound_peers,
// addr_book_file, addr_book_strict, allow_duplicate_ip, laddr,
// external_address, handshake_timeout, dial_timeout, and
// [p2p.libp2p] bootstrap_peers and limits.
func SettingsFromConfig(c *cmtcfg.Config) (Settings, error) {
	p := c.P2P
	s := Settings{
		PEX:               p.PexReactor,
		SeedMode:          p.SeedMode,
		MaxInbound:        p.MaxNumInboundPeers,
		MaxOutbound:       p.MaxNumOutboundPeers,
		AddrBookFile:      p.AddrBookFile(),
		AddrBookStrict:    p.AddrBookStrict,
		AllowDuplicateIP:  p.AllowDuplicateIP,
		HandshakeTimeout:  p.HandshakeTimeout,
		DialTimeout:       p.DialTimeout,
		EnsurePeersPeriod: DefaultEnsurePeersPeriod,
		LimitsMode:        p.LibP2PConfig.Limits.Mode,
	}
	if !filepath.IsAbs(s.AddrBookFile) {
		s.AddrBookFile = filepath.Join(c.RootDir, s.AddrBookFile)
	}
	var err error
	// A seed that cannot be parsed is left out with a warning, as one that
	// cannot be reached is: the node still runs on its book and the other
	// seeds.
	for _, one := range strings.Split(p.Seeds, ",") {
		if one = strings.TrimSpace(one); one == "" {
			continue
		}
		cp, err := transport.ParseConfigPeer(one)
		if err != nil {
			s.Warnings = append(s.Warnings, &ConfigError{Key: "p2p.seeds", Value: one, Err: err})
			continue
		}
		s.Seeds = append(s.Seeds, cp)
	}
	if s.Persistent, err = transport.ParseConfigPeers(p.PersistentPeers); err != nil {
		return s, &ConfigError{Key: "p2p.persistent_peers", Value: p.PersistentPeers, Err: err}
	}
	if s.Unconditional, err = peerIDList("p2p.unconditional_peer_ids", p.UnconditionalPeerIDs); err != nil {
		return s, err
	}
	if s.Private, err = peerIDList("p2p.private_peer_ids", p.PrivatePeerIDs); err != nil {
		return s, err
	}
	for i, bp := range p.LibP2PConfig.BootstrapPeers {
		key := fmt.Sprintf("p2p.libp2p.bootstrap_peers[%d]", i)
		cp, err := transport.ParseConfigPeer(bp.ID + "@" + bp.Host)
		if err != nil {
			return s, &ConfigError{Key: key, Value: bp.ID + "@" + bp.Host, Err: err}
		}
		if bp.Persistent {
			s.Persistent = append(s.Persistent, cp)
		}
		if bp.Unconditional {
			s.Unconditional = append(s.Unconditional, cp.ID.String())
		}
		if bp.Private {
			s.Private = append(s.Private, cp.ID.String())
		}
	}
	if s.Listen, err = hostPortAddrs("p2p.laddr", p.ListenAddress, true); err != nil {
		return s, err
	}
	if p.ExternalAddress != "" {
		if s.External, err = hostPortAddrs("p2p.external_address", p.ExternalAddress, false); err != nil {
			return s, err
		}
	}
	if s.MaxOutbound <= 0 {
		return s, &ConfigError{Key: "p2p.max_num_outbound_peers", Value: fmt.Sprint(s.MaxOutbound), Err: errors.New("must be positive for PEX to dial")}
	}
	return s, nil
}

// checkDefences refuses eclipse-defence settings out of range and loads
// the AS map, naming the pexp2p key (flag --pexp2p.<key>, or [pexp2p]
// <key> in config.toml).
func (s *Settings) checkDefences(root string) (*addrbook.ASMap, error) {
	err := s.Defences.Check(s.MaxOutbound)
	var m *addrbook.ASMap
	if err == nil {
		m, err = s.Defences.LoadASMap(root)
	}
	var de *pexnode.DefenceError
	if errors.As(err, &de) {
		return nil, &ConfigError{Key: "pexp2p." + de.Key, Value: de.Value, Err: de.Err}
	}
	return m, err
}

// hostPortAddrs turns CometBFT's "[tcp://]host:port" into the QUIC and
// TCP multiaddrs of that IP and port: one port for both transports, as
// lp2p and pexp2p's face use it. A listen address may be unspecified
// (0.0.0.0); an advertised one may not.
func hostPortAddrs(key, value string, listen bool) ([]ma.Multiaddr, error) {
	hp := value
	if i := strings.Index(hp, "://"); i >= 0 {
		if scheme := hp[:i]; scheme != "tcp" && scheme != "udp" {
			return nil, &ConfigError{Key: key, Value: value, Err: fmt.Errorf("scheme %q: want tcp:// or none", scheme)}
		}
		hp = hp[i+3:]
	}
	ap, err := netip.ParseAddrPort(hp)
	if err != nil {
		return nil, &ConfigError{Key: key, Value: value, Err: fmt.Errorf("want IP:port: %w", err)}
	}
	if !listen && (ap.Addr().IsUnspecified() || ap.Port() == 0) {
		return nil, &ConfigError{Key: key, Value: value, Err: errors.New("want a concrete IP and a non-zero port")}
	}
	ip := ap.Addr().Unmap()
	family := "ip4"
	if ip.Is6() {
		family = "ip6"
	}
	base := fmt.Sprintf("/%s/%s", family, ip)
	quic, err := ma.NewMultiaddr(fmt.Sprintf("%s/udp/%d/quic-v1", base, ap.Port()))
	if err != nil {
		return nil, &ConfigError{Key: key, Value: value, Err: err}
	}
	tcp, err := ma.NewMultiaddr(fmt.Sprintf("%s/tcp/%d", base, ap.Port()))
	if err != nil {
		return nil, &ConfigError{Key: key, Value: value, Err: err}
	}
	return []ma.Multiaddr{quic, tcp}, nil
}

func peerIDList(key, list string) ([]string, error) {
	var out []string
	for _, s := range strings.Split(list, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if _, err := peer.Decode(s); err != nil {
			return nil, &ConfigError{Key: key, Value: s, Err: err}
		}
		out = append(out, s)
	}
	return out, nil
}
