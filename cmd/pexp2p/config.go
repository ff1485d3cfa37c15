package main

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	ma "github.com/multiformats/go-multiaddr"

	"github.com/pexp2p/pexp2p/addrbook"
	"github.com/pexp2p/pexp2p/internal/duration"
	"github.com/pexp2p/pexp2p/pex"
	"github.com/pexp2p/pexp2p/pexnode"
	"github.com/pexp2p/pexp2p/transport"
)

// Config is config/config.toml. Key names under [p2p] are CometBFT's, so
// an operator's existing knowledge (and most of an existing [p2p] section)
// carries over; list values are comma-separated strings as in CometBFT.
// Every key is also a flag named "<section>.<key>" (top-level keys: the key
// itself), which the doc tags below describe.
type Config struct {
	ChainID string `toml:"chain_id" doc:"Network (chain ID) exchanged in NodeInfo; peers of another network are dropped"`
	Moniker string `toml:"moniker" doc:"Name shown to peers in NodeInfo"`

	P2P     P2PConfig     `toml:"p2p"`
	Classic ClassicConfig `toml:"classic"`
	RPC     RPCConfig     `toml:"rpc"`
}

// P2PConfig is the libp2p face and its PEX reactor.
type P2PConfig struct {
	Laddr                string `toml:"laddr" doc:"Listen multiaddrs, comma-separated (QUIC v1 and TCP on the same port by default)"`
	ExternalAddress      string `toml:"external_address" doc:"Address to advertise instead of the listen address: host:port or a multiaddr"`
	Seeds                string `toml:"seeds" doc:"Seed nodes, comma-separated: /ip4/…/p2p/<peer ID> multiaddrs or <peer ID>@host:port"`
	PersistentPeers      string `toml:"persistent_peers" doc:"Peers kept connected, same format as seeds"`
	PrivatePeerIDs       string `toml:"private_peer_ids" doc:"Peer IDs never gossiped, comma-separated"`
	UnconditionalPeerIDs string `toml:"unconditional_peer_ids" doc:"Peer IDs exempt from the peer limits, comma-separated"`

	PEX         bool   `toml:"pex" doc:"Run the PEX reactor"`
	SeedMode    bool   `toml:"seed_mode" doc:"Crawl the network and answer each inbound peer once, then hang up"`
	NodeKeyFile string `toml:"node_key_file" doc:"CometBFT node_key.json (relative to --home)"`

	AddrBookFile         string   `toml:"addr_book_file" doc:"Address book file (relative to --home)"`
	AddrBookStrict       bool     `toml:"addr_book_strict" doc:"Refuse non-routable addresses (set false for private or loopback networks)"`
	AddrBookSaveInterval Duration `toml:"addr_book_save_interval" doc:"Period of the address book's background save (CometBFT: 2m); it is also saved on shutdown"`

	MaxNumInboundPeers  int  `toml:"max_num_inbound_peers" doc:"Maximum number of inbound peers"`
	MaxNumOutboundPeers int  `toml:"max_num_outbound_peers" doc:"Maximum number of outbound peers the reactor dials"`
	AllowDuplicateIP    bool `toml:"allow_duplicate_ip" doc:"Allow several peers from one IP"`

	DialTimeout                  Duration `toml:"dial_timeout" doc:"Timeout of one dial"`
	HandshakeTimeout             Duration `toml:"handshake_timeout" doc:"Timeout of the NodeInfo exchange after connecting"`
	PersistentPeersMaxDialPeriod Duration `toml:"persistent_peers_max_dial_period" doc:"Cap of the dial backoff for persistent peers (0: none)"`

	EnsurePeersPeriod        Duration `toml:"ensure_peers_period" doc:"Period of the dial/request loop (CometBFT: 30s, not configurable there)"`
	CrawlPeerPeriod          Duration `toml:"crawl_peer_period" doc:"Seed mode: period of the crawl"`
	MinTimeBetweenCrawls     Duration `toml:"min_time_between_crawls" doc:"Seed mode: least time before re-crawling a peer"`
	SeedDisconnectWaitPeriod Duration `toml:"seed_disconnect_wait_period" doc:"Seed mode: drop non-persistent peers connected this long"`
	RequestTimeout           Duration `toml:"request_timeout" doc:"How long a PEX request stays outstanding (0: ensure_peers_period)"`
	BanTime                  Duration `toml:"ban_time" doc:"Duration of the bans the reactor issues"`
	MaxAttemptsToDial        int      `toml:"max_attempts_to_dial" doc:"Failed dials before an address is banned"`

	MinReceiveRequestInterval Duration `toml:"min_receive_request_interval" doc:"Least spacing of a peer's PEX requests before it is banned (0: ensure_peers_period/3, CometBFT's rule; lower it to serve CometBFT v0.39+ nodes, which re-ask too soon, cometbft#4620)"`
	RequestBurst              int      `toml:"request_burst" doc:"PEX requests a peer may send back to back before the spacing applies (CometBFT: the first two are free)"`
	MarkGoodOnOutbound        bool     `toml:"mark_good_on_outbound" doc:"Move an outbound peer's address to an old (tried) bucket once it is connected and authenticated"`

	// Eclipse defences (docs/eclipse.md): pexp2p's own, all off by
	// default, where the book file and the wire are upstream's.
	TestBeforeEvict     bool     `toml:"test_before_evict" doc:"Eclipse defence: probe an old address before a new one evicts it from a full old bucket, and keep it if it answers (off: upstream evicts at once)"`
	FeelerInterval      Duration `toml:"feeler_interval" doc:"Eclipse defence: mean time between feelers, short probes that move live new addresses to old buckets (0: off, as upstream; Bitcoin Core: 2m)"`
	MaxAnchors          int      `toml:"max_anchors" doc:"Eclipse defence: outbound peers saved to anchors.json beside the address book at shutdown and dialled first at the next start (0: off, as upstream; Bitcoin Core: 2)"`
	OutboundGroupLimit  int      `toml:"outbound_group_limit" doc:"Eclipse defence: most outbound peers dialled in one network group, /16 or the AS of asmap_file (0: no limit, as upstream; Bitcoin Core: 1)"`
	ASMapFile           string   `toml:"asmap_file" doc:"Eclipse defence: AS map, lines of \"<prefix> <AS number>\", grouping addresses by AS instead of /16 in the book and for outbound_group_limit (relative to --home; empty: off)"`
	SignedRecords       bool     `toml:"signed_records" doc:"Exchange signed peer records with pexp2p peers that offer them, mark the addresses a peer signed as verified, and dial every address the book holds for a peer (off: upstream's one unverified address per peer)"`
	PreferVerifiedAddrs bool     `toml:"prefer_verified_addrs" doc:"Favour addresses their own peer signed when dialling and gossiping (needs signed_records; off: upstream's draws)"`
}

// ClassicConfig is the optional classic CometBFT face (TCP +
// SecretConnection, upstream's switch) used by `bridge` and by `start`
// when laddr is set.
type ClassicConfig struct {
	Laddr           string `toml:"laddr" doc:"Classic listen address, tcp://ip:port (empty: no classic face in start)"`
	ExternalAddress string `toml:"external_address" doc:"Classic address to advertise, host:port"`
	Seeds           string `toml:"seeds" doc:"Classic seeds, comma-separated <40-hex ID>@host:port"`
	PersistentPeers string `toml:"persistent_peers" doc:"Classic persistent peers, <40-hex ID>@host:port"`
	AddrBookFile    string `toml:"addr_book_file" doc:"Classic address book file (relative to --home)"`
}

// RPCConfig is the local HTTP server.
type RPCConfig struct {
	Laddr string `toml:"laddr" doc:"HTTP listen address for /net_info, /addrbook and /metrics (empty: off)"`
}

// Duration is a time.Duration written as "30s" in TOML and on flags.
type Duration = duration.Duration

// DefaultLaddr listens on QUIC v1 and TCP on CometBFT's port.
const DefaultLaddr = "/ip4/0.0.0.0/udp/26656/quic-v1,/ip4/0.0.0.0/tcp/26656"

// DefaultConfig mirrors CometBFT's defaults where a key exists there.
func DefaultConfig() Config {
	return Config{
		ChainID: "pexp2p",
		Moniker: "pexp2p",
		P2P: P2PConfig{
			Laddr:                    DefaultLaddr,
			PEX:                      true,
			NodeKeyFile:              "config/node_key.json",
			AddrBookFile:             "config/addrbook.json",
			AddrBookStrict:           true,
			AddrBookSaveInterval:     Duration(addrbook.DefaultSaveInterval),
			MaxNumInboundPeers:       40,
			MaxNumOutboundPeers:      10,
			DialTimeout:              Duration(3 * time.Second),
			HandshakeTimeout:         Duration(20 * time.Second),
			EnsurePeersPeriod:        Duration(pex.DefaultEnsurePeersPeriod),
			CrawlPeerPeriod:          Duration(pex.DefaultCrawlPeerPeriod),
			MinTimeBetweenCrawls:     Duration(pex.DefaultMinTimeBetweenCrawls),
			SeedDisconnectWaitPeriod: Duration(pex.DefaultSeedDisconnectWaitPeriod),
			BanTime:                  Duration(pex.DefaultBanTime),
			MaxAttemptsToDial:        pex.DefaultMaxAttemptsToDial,
			RequestBurst:             pex.DefaultRequestBurst,
			MarkGoodOnOutbound:       true,
		},
		Classic: ClassicConfig{
			AddrBookFile: "config/addrbook_classic.json",
		},
		RPC: RPCConfig{Laddr: "tcp://127.0.0.1:26657"},
	}
}

// ErrUsage marks errors caused by what the user typed or configured; the
// command exits with status 2 on them, as the CLI contract says.
var ErrUsage = errors.New("usage error")

// UsageError names the bad input.
type UsageError struct {
	What  string // e.g. "flag --p2p.seeds", "config key p2p.foo", "file /x"
	Value string
	Err   error
}

func (e *UsageError) Error() string {
	if e.Value == "" {
		return fmt.Sprintf("%s: %v", e.What, e.Err)
	}
	return fmt.Sprintf("%s = %q: %v", e.What, e.Value, e.Err)
}
func (e *UsageError) Is(target error) bool { return target == ErrUsage }
func (e *UsageError) Unwrap() error        { return e.Err }

// ConfigPath is where config.toml lives under home.
func ConfigPath(home string) string { return filepath.Join(home, "config", "config.toml") }

// abs resolves a path relative to home, as CometBFT does for its files.
func abs(home, p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(home, p)
}

// field is one config key reachable by reflection.
type field struct {
	key  string // "p2p.seeds" or "chain_id"
	doc  string
	path []int
}

func configFields() []field {
	var out []field
	var walk func(t reflect.Type, prefix string, path []int)
	walk = func(t reflect.Type, prefix string, path []int) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			name := f.Tag.Get("toml")
			p := append(append([]int(nil), path...), i)
			if f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeOf(Duration(0)) {
				walk(f.Type, prefix+name+".", p)
				continue
			}
			out = append(out, field{key: prefix + name, doc: f.Tag.Get("doc"), path: p})
		}
	}
	walk(reflect.TypeOf(Config{}), "", nil)
	return out
}

func (c *Config) value(f field) reflect.Value {
	return reflect.ValueOf(c).Elem().FieldByIndex(f.path)
}

// Validate checks what can be checked without opening sockets.
func (c *Config) Validate() error {
	// Flags are checked as they are applied, but a Config built in code
	// could still carry a string config.toml cannot hold.
	for _, f := range configFields() {
		if s, ok := c.value(f).Interface().(string); ok && !utf8.ValidString(s) {
			return &UsageError{What: "config key " + f.key, Value: s, Err: errNotUTF8}
		}
	}
	for _, d := range []struct {
		key string
		v   Duration
	}{
		{"p2p.ensure_peers_period", c.P2P.EnsurePeersPeriod},
		{"p2p.crawl_peer_period", c.P2P.CrawlPeerPeriod},
		{"p2p.ban_time", c.P2P.BanTime},
		{"p2p.dial_timeout", c.P2P.DialTimeout},
		{"p2p.handshake_timeout", c.P2P.HandshakeTimeout},
	} {
		if d.v <= 0 {
			return &UsageError{What: "config key " + d.key, Value: d.v.String(), Err: errors.New("must be positive")}
		}
	}
	if c.P2P.AddrBookSaveInterval <= 0 {
		return &UsageError{What: "config key p2p.addr_book_save_interval", Value: c.P2P.AddrBookSaveInterval.D().String(), Err: errors.New("must be positive")}
	}
	if c.P2P.RequestBurst <= 0 {
		return &UsageError{What: "config key p2p.request_burst", Value: strconv.Itoa(c.P2P.RequestBurst), Err: errors.New("must be positive")}
	}
	if c.P2P.MaxAttemptsToDial <= 0 {
		return &UsageError{What: "config key p2p.max_attempts_to_dial", Value: strconv.Itoa(c.P2P.MaxAttemptsToDial), Err: errors.New("must be positive")}
	}
	if err := c.validateDefences(); err != nil {
		return err
	}
	if strings.TrimSpace(c.ChainID) == "" {
		return &UsageError{What: "config key chain_id", Err: errors.New("must not be empty")}
	}
	if _, err := c.ListenAddrs(); err != nil {
		return err
	}
	for _, l := range []struct{ key, v string }{{"p2p.seeds", c.P2P.Seeds}, {"p2p.persistent_peers", c.P2P.PersistentPeers}} {
		if _, err := transport.ParseConfigPeers(l.v); err != nil {
			return &UsageError{What: "config key " + l.key, Value: l.v, Err: err}
		}
	}
	for _, l := range []struct{ key, v string }{{"p2p.private_peer_ids", c.P2P.PrivatePeerIDs}, {"p2p.unconditional_peer_ids", c.P2P.UnconditionalPeerIDs}} {
		if _, err := parseIDList(transport.PeerIDs, l.v); err != nil {
			return &UsageError{What: "config key " + l.key, Value: l.v, Err: err}
		}
	}
	if c.P2P.ExternalAddress != "" {
		if _, err := c.ExternalAddrs(); err != nil {
			return err
		}
	}
	if c.RPC.Laddr != "" {
		if _, err := rpcListenAddr(c.RPC.Laddr); err != nil {
			return err
		}
	}
	for _, l := range []struct{ key, v string }{{"classic.seeds", c.Classic.Seeds}, {"classic.persistent_peers", c.Classic.PersistentPeers}} {
		for _, s := range splitList(l.v) {
			if _, err := addrbook.ParseNetAddress(addrbook.ClassicIDs, s); err != nil {
				return &UsageError{What: "config key " + l.key, Value: s, Err: err}
			}
		}
	}
	return nil
}

// Defences are the eclipse-defence keys of [p2p].
func (c *Config) Defences() pexnode.Defences {
	p := &c.P2P
	return pexnode.Defences{
		TestBeforeEvict:     p.TestBeforeEvict,
		FeelerInterval:      p.FeelerInterval.D(),
		MaxAnchors:          p.MaxAnchors,
		OutboundGroupLimit:  p.OutboundGroupLimit,
		ASMapFile:           p.ASMapFile,
		SignedRecords:       p.SignedRecords,
		PreferVerifiedAddrs: p.PreferVerifiedAddrs,
	}
}

// validateDefences checks the eclipse-defence keys; TOML can carry a
// negative integer that a flag cannot.
func (c *Config) validateDefences() error {
	return defenceUsage(c.Defences().Check(c.P2P.MaxNumOutboundPeers))
}

// LoadASMap reads p2p.asmap_file (relative to home); nil when unset. A
// file that is missing or malformed is a *UsageError naming the key and
// the path, wrapping the book's *addrbook.ASMapError for a bad line.
func (c *Config) LoadASMap(home string) (*addrbook.ASMap, error) {
	m, err := c.Defences().LoadASMap(home)
	return m, defenceUsage(err)
}

// defenceUsage turns pexnode's *DefenceError into a *UsageError naming
// the [p2p] key.
func defenceUsage(err error) error {
	var de *pexnode.DefenceError
	if errors.As(err, &de) {
		return &UsageError{What: "config key p2p." + de.Key, Value: de.Value, Err: de.Err}
	}
	return err
}

// splitList splits a CometBFT comma-separated list, dropping blanks.
func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func parseIDList(rule addrbook.IDRule, s string) ([]string, error) {
	var out []string
	for _, p := range splitList(s) {
		id, err := rule.Normalize(p)
		if err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, nil
}

// ListenAddrs parses p2p.laddr: IP-based TCP or QUIC v1 multiaddrs.
func (c *Config) ListenAddrs() ([]ma.Multiaddr, error) {
	var out []ma.Multiaddr
	for _, s := range splitList(c.P2P.Laddr) {
		m, err := ma.NewMultiaddr(s)
		if err != nil {
			return nil, &UsageError{What: "config key p2p.laddr", Value: s, Err: err}
		}
		if err := checkListenMultiaddr(m); err != nil {
			return nil, &UsageError{What: "config key p2p.laddr", Value: s, Err: err}
		}
		out = append(out, m)
	}
	if len(out) == 0 {
		return nil, &UsageError{What: "config key p2p.laddr", Err: errors.New("no listen address")}
	}
	return out, nil
}

func checkListenMultiaddr(m ma.Multiaddr) error {
	ok := false
	if len(m) == 2 && (m[0].Code() == ma.P_IP4 || m[0].Code() == ma.P_IP6) && m[1].Code() == ma.P_TCP {
		ok = true
	}
	if len(m) == 3 && (m[0].Code() == ma.P_IP4 || m[0].Code() == ma.P_IP6) && m[1].Code() == ma.P_UDP && m[2].Code() == ma.P_QUIC_V1 {
		ok = true
	}
	if !ok {
		return errors.New("want /ip4|ip6/<ip>/tcp/<port> or /ip4|ip6/<ip>/udp/<port>/quic-v1")
	}
	return nil
}

// ExternalAddrs parses p2p.external_address: host:port (both transports
// on that port) or comma-separated multiaddrs.
func (c *Config) ExternalAddrs() ([]ma.Multiaddr, error) {
	var out []ma.Multiaddr
	for _, s := range splitList(c.P2P.ExternalAddress) {
		if strings.HasPrefix(s, "/") {
			m, err := ma.NewMultiaddr(s)
			if err == nil {
				err = checkListenMultiaddr(m)
			}
			if err != nil {
				return nil, &UsageError{What: "config key p2p.external_address", Value: s, Err: err}
			}
			out = append(out, m)
			continue
		}
		ap, err := netip.ParseAddrPort(strings.TrimPrefix(s, "tcp://"))
		if err != nil || ap.Port() == 0 || ap.Addr().IsUnspecified() {
			if err == nil {
				err = errors.New("want a concrete IP and a non-zero port")
			}
			return nil, &UsageError{What: "config key p2p.external_address", Value: s, Err: err}
		}
		base := "/ip4/"
		if ap.Addr().Unmap().Is6() {
			base = "/ip6/"
		}
		ip := ap.Addr().Unmap().String()
		for _, t := range []string{"/udp/%d/quic-v1", "/tcp/%d"} {
			m, err := ma.NewMultiaddr(base + ip + fmt.Sprintf(t, ap.Port()))
			if err != nil {
				return nil, &UsageError{What: "config key p2p.external_address", Value: s, Err: err}
			}
			out = append(out, m)
		}
	}
	return out, nil
}

// rpcListenAddr accepts tcp://host:port or host:port.
func rpcListenAddr(s string) (string, error) {
	hp := strings.TrimPrefix(s, "tcp://")
	if _, _, err := net.SplitHostPort(hp); err != nil || strings.Contains(hp, "://") {
		if err == nil {
			err = errors.New("only tcp:// is supported")
		}
		return "", &UsageError{What: "config key rpc.laddr", Value: s, Err: err}
	}
	return hp, nil
}

// PexConfig derives the reactor's configuration.
func (c *Config) PexConfig() pex.Config {
	pc := pex.DefaultConfig()
	pc.SeedMode = c.P2P.SeedMode
	pc.EnsurePeersPeriod = c.P2P.EnsurePeersPeriod.D()
	pc.CrawlPeerPeriod = c.P2P.CrawlPeerPeriod.D()
	pc.MinTimeBetweenCrawls = c.P2P.MinTimeBetweenCrawls.D()
	pc.SeedDisconnectWaitPeriod = c.P2P.SeedDisconnectWaitPeriod.D()
	pc.RequestTimeout = c.P2P.RequestTimeout.D()
	pc.BanTime = c.P2P.BanTime.D()
	pc.MaxAttemptsToDial = c.P2P.MaxAttemptsToDial
	pc.MinReceiveRequestInterval = c.P2P.MinReceiveRequestInterval.D()
	pc.RequestBurst = c.P2P.RequestBurst
	pc.MarkGoodOnOutbound = c.P2P.MarkGoodOnOutbound
	pc.PersistentPeersMaxDialPeriod = c.P2P.PersistentPeersMaxDialPeriod.D()
	pc.OverLimitGrace = pc.EnsurePeersPeriod / 3
	return pc
}
