package main

import (
	"errors"
	"net"
	"strings"
	"syscall"
	"time"

	ma "github.com/multiformats/go-multiaddr"

	"github.com/pexp2p/pexp2p/addrbook"
	"github.com/pexp2p/pexp2p/pex"
	"github.com/pexp2p/pexp2p/pexnode"
	"github.com/pexp2p/pexp2p/transport"
)

// nodeOptions assemble one libp2p-face node from the command's config.
type nodeOptions struct {
	cfg      Config
	key      *transport.NodeKey
	bookPath string // "" keeps the book in memory
	// home resolves the relative paths of config keys (p2p.asmap_file).
	home string
	// listen overrides cfg's laddr (testnet: loopback, port 0).
	listen []ma.Multiaddr
	// observers receive the reactor's events (metrics, testnet counters).
	observers []pex.Observer
	// pexOverride, when set, adjusts the derived reactor config.
	pexOverride func(*pex.Config)
	// bookSeed makes book randomness reproducible (testnet); 0: random.
	bookSeed uint64
	// resolver resolves /dnsaddr seeds (tests: a mock); nil: the system's.
	resolver transport.MultiaddrResolver
}

// p2pNode is a libp2p-face node built by pexnode, with the listen
// addresses the command checks before starting it.
type p2pNode struct {
	*pexnode.Node
	listen []ma.Multiaddr
}

// newP2PNode maps the command's config onto pexnode.Options; the config
// errors it reports name the config key at fault.
func newP2PNode(o nodeOptions) (*p2pNode, error) {
	c := &o.cfg
	listen := o.listen
	if listen == nil {
		var err error
		if listen, err = c.ListenAddrs(); err != nil {
			return nil, err
		}
	}
	ext, err := c.ExternalAddrs()
	if err != nil {
		return nil, err
	}
	seeds, err := transport.ParseConfigPeers(c.P2P.Seeds)
	if err != nil {
		return nil, usage("config key p2p.seeds", c.P2P.Seeds, err)
	}
	persistent, err := transport.ParseConfigPeers(c.P2P.PersistentPeers)
	if err != nil {
		return nil, usage("config key p2p.persistent_peers", c.P2P.PersistentPeers, err)
	}
	private, err := parseIDList(transport.PeerIDs, c.P2P.PrivatePeerIDs)
	if err != nil {
		return nil, usage("config key p2p.private_peer_ids", c.P2P.PrivatePeerIDs, err)
	}
	unconditional, err := parseIDList(transport.PeerIDs, c.P2P.UnconditionalPeerIDs)
	if err != nil {
		return nil, usage("config key p2p.unconditional_peer_ids", c.P2P.UnconditionalPeerIDs, err)
	}
	asmap, err := c.LoadASMap(o.home)
	if err != nil {
		return nil, err
	}
	opts := pexnode.Options{
		Key: o.key,
		Transport: transport.Config{
			ListenAddrs:          listen,
			ExternalAddrs:        ext,
			Network:              c.ChainID,
			Moniker:              c.Moniker,
			Version:              "pexp2p",
			MaxInboundPeers:      c.P2P.MaxNumInboundPeers,
			MaxOutboundPeers:     c.P2P.MaxNumOutboundPeers,
			PersistentPeers:      persistent,
			Seeds:                seeds,
			UnconditionalPeerIDs: unconditional,
			AllowDuplicateIP:     c.P2P.AllowDuplicateIP,
			HandshakeTimeout:     c.P2P.HandshakeTimeout.D(),
			DialTimeout:          c.P2P.DialTimeout.D(),
		},
		Book: addrbook.Options{
			FilePath:     o.bookPath,
			Strict:       c.P2P.AddrBookStrict,
			Logger:       slogFor("addrbook"),
			Seed:         o.bookSeed,
			SaveInterval: c.P2P.AddrBookSaveInterval.D(),
		},
		PrivateIDs: private,
		Observers:  o.observers,
		Resolver:   o.resolver,
		Logger:     slogFor("p2p"),
	}
	if c.P2P.PEX {
		pc := c.PexConfig()
		if o.pexOverride != nil {
			o.pexOverride(&pc)
		}
		opts.PEX = &pc
	}
	c.Defences().Apply(&opts, asmap)
	n, err := pexnode.New(opts)
	var cerr *pexnode.ConfigError
	if errors.As(err, &cerr) {
		return nil, usage("p2p configuration", "", cerr.Err)
	}
	if err != nil {
		return nil, err
	}
	return &p2pNode{Node: n, listen: listen}, nil
}

// Start checks that the listen ports are free, so that a port in use is
// reported naming the config key, then starts the node.
func (n *p2pNode) Start() error {
	if err := ensureDir(n.Book.FilePath()); err != nil {
		return err
	}
	if err := checkPortsFree(n.listen); err != nil {
		return err
	}
	return wrapListenErr(n.Node.Start())
}

// wrapListenErr marks a failure to listen (port in use, address not
// local) as bad input: the operator must change laddr.
func wrapListenErr(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, syscall.EADDRINUSE) || strings.Contains(err.Error(), "listen") {
		return usage("config key p2p.laddr (cannot listen)", "", err)
	}
	return err
}

// durationRounds is how many whole periods d spans, rounding up.
func durationRounds(d, period time.Duration) int {
	if period <= 0 {
		return 0
	}
	return int((d + period - 1) / period)
}

// checkPortsFree binds and releases every fixed listen port, so that a
// port in use is reported as such, naming the address, before the libp2p
// host is built (libp2p's own error names neither key nor address clearly).
func checkPortsFree(listen []ma.Multiaddr) error {
	for _, m := range listen {
		var ip, port string
		udp := false
		for _, c := range m {
			switch c.Code() {
			case ma.P_IP4, ma.P_IP6:
				ip = c.Value()
			case ma.P_TCP:
				port = c.Value()
			case ma.P_UDP:
				port, udp = c.Value(), true
			}
		}
		if ip == "" || port == "" || port == "0" {
			continue
		}
		hp := net.JoinHostPort(ip, port)
		var err error
		if udp {
			var pc net.PacketConn
			if pc, err = net.ListenPacket("udp", hp); err == nil {
				pc.Close()
			}
		} else {
			var ln net.Listener
			if ln, err = net.Listen("tcp", hp); err == nil {
				ln.Close()
			}
		}
		if err != nil {
			return usage("config key p2p.laddr (cannot listen)", m.String(), err)
		}
	}
	return nil
}
