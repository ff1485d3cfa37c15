package main

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	madns "github.com/multiformats/go-multiaddr-dns"

	"github.com/pexp2p/pexp2p/addrbook"
	"github.com/pexp2p/pexp2p/pex"
	"github.com/pexp2p/pexp2p/transport"
)

// nodeOptions assemble one libp2p-face node: book, host, reactor.
type nodeOptions struct {
	cfg      Config
	key      *transport.NodeKey
	bookPath string // "" keeps the book in memory
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

// p2pNode is a running libp2p-face node.
type p2pNode struct {
	key     *transport.NodeKey
	book    *addrbook.Book
	node    *transport.Node
	reactor *pex.Reactor // nil when p2p.pex is off
	traffic *traffic
	private []string
	listen  []ma.Multiaddr
}

// traffic counts PEX messages and their framed bytes on one node.
type traffic struct {
	sentMsgs, sentBytes, recvMsgs, recvBytes atomic.Int64
}

func (t *traffic) count(msgs, bytes *atomic.Int64, msg pex.Message) {
	msgs.Add(1)
	if b, err := transport.FrameMessage(msg); err == nil {
		bytes.Add(int64(len(b)))
	}
}

// countingNet is the face as the reactor sees it, counting what it sends.
type countingNet struct {
	*transport.Node
	t *traffic
}

func (c countingNet) Send(peerID string, msg pex.Message) bool {
	ok := c.Node.Send(peerID, msg)
	if ok {
		c.t.count(&c.t.sentMsgs, &c.t.sentBytes, msg)
	}
	return ok
}

// countingHandler is the reactor as the face sees it, counting receipts.
type countingHandler struct {
	transport.Handler
	t *traffic
}

func (c countingHandler) Receive(peerID string, msg pex.Message) {
	c.t.count(&c.t.recvMsgs, &c.t.recvBytes, msg)
	c.Handler.Receive(peerID, msg)
}

func (c countingHandler) ReceiveAt(peerID string, msg pex.Message, arrived time.Time) {
	c.t.count(&c.t.recvMsgs, &c.t.recvBytes, msg)
	transport.DeliverAt(c.Handler, peerID, msg, arrived)
}

// nopHandler stands in for the reactor when PEX is off: peers still
// connect (persistent peers), nothing is exchanged.
type nopHandler struct{}

func (nopHandler) AddPeer(pex.PeerInfo)        {}
func (nopHandler) RemovePeer(string, any)      {}
func (nopHandler) Receive(string, pex.Message) {}

// multiObserver fans reactor events out.
type multiObserver []pex.Observer

func (m multiObserver) PexRequest(d pex.Direction) {
	for _, o := range m {
		o.PexRequest(d)
	}
}
func (m multiObserver) AddrsReceived(n int) {
	for _, o := range m {
		o.AddrsReceived(n)
	}
}
func (m multiObserver) Misbehavior(r pex.Reason) {
	for _, o := range m {
		o.Misbehavior(r)
	}
}
func (m multiObserver) Ban() {
	for _, o := range m {
		o.Ban()
	}
}
func (m multiObserver) Dial(r pex.DialResult) {
	for _, o := range m {
		o.Dial(r)
	}
}

// seedResolveTimeout bounds resolving /dnsaddr seeds at node start: a
// slow or absent DNS server must not stop the node from starting on its
// book (the reactor still refuses an empty book with no usable seed).
const seedResolveTimeout = 10 * time.Second

// wireObserver is implemented by observers that also count the peers the
// transport stops and bans itself for wire-protocol violations (metrics,
// testnet counters): the reactor never sees those messages.
type wireObserver interface {
	WireViolation(reason string, banned bool)
}

// wireViolationHook fans transport.Config.OnWireViolation out to the
// observers that count wire violations; nil when none does.
func wireViolationHook(obs []pex.Observer) func(peerID, reason string, banned bool) {
	var ws []wireObserver
	for _, o := range obs {
		if w, ok := o.(wireObserver); ok {
			ws = append(ws, w)
		}
	}
	if len(ws) == 0 {
		return nil
	}
	return func(_, reason string, banned bool) {
		for _, w := range ws {
			w.WireViolation(reason, banned)
		}
	}
}

// reactorSeeds turns configured seeds into the reactor's "id@host:port"
// strings with transport.ReactorSeeds: IP seeds as they are, /dns* seeds
// with their host name (the reactor resolves it), /dnsaddr seeds resolved
// now through r. A seed that cannot be used is logged and left out.
func reactorSeeds(cps []transport.ConfigPeer, r transport.MultiaddrResolver) []string {
	if len(cps) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), seedResolveTimeout)
	defer cancel()
	out, errs := transport.ReactorSeeds(ctx, cps, r)
	log := slogFor("p2p")
	for _, err := range errs {
		log.Warn("seed left out", "err", err)
	}
	return out
}

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

	book, err := addrbook.New(addrbook.Options{
		FilePath:     o.bookPath,
		Strict:       c.P2P.AddrBookStrict,
		IDRule:       transport.PeerIDs,
		Logger:       slogFor("addrbook"),
		Seed:         o.bookSeed,
		SaveInterval: c.P2P.AddrBookSaveInterval.D(),
	})
	if err != nil {
		return nil, err
	}
	node, err := transport.NewNode(o.key, transport.Config{
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
		Bans:                 book,
		HandshakeTimeout:     c.P2P.HandshakeTimeout.D(),
		DialTimeout:          c.P2P.DialTimeout.D(),
		OnWireViolation:      wireViolationHook(o.observers),
	})
	if err != nil {
		return nil, err
	}
	n := &p2pNode{key: o.key, book: book, node: node, traffic: &traffic{}, private: private, listen: listen}
	if !c.P2P.PEX {
		node.SetHandler(nopHandler{})
		return n, nil
	}
	pc := c.PexConfig()
	pc.IDRule = transport.PeerIDs
	resolver := o.resolver
	if resolver == nil {
		resolver = madns.DefaultResolver
	}
	pc.Seeds = reactorSeeds(seeds, resolver)
	if o.pexOverride != nil {
		o.pexOverride(&pc)
	}
	if err := pc.Validate(); err != nil {
		return nil, usage("p2p configuration", "", err)
	}
	var opts []pex.Option
	switch len(o.observers) {
	case 0:
	case 1:
		opts = append(opts, pex.WithObserver(o.observers[0]))
	default:
		opts = append(opts, pex.WithObserver(multiObserver(o.observers)))
	}
	n.reactor = pex.NewReactor(book, countingNet{Node: node, t: n.traffic}, pc, opts...)
	node.SetHandler(countingHandler{Handler: n.reactor, t: n.traffic})
	return n, nil
}

// Start listens, loads the book, records our own addresses (so we never
// dial ourselves) and starts the reactor. The host starts first so that a
// port in use fails before the book is touched (a failed start must leave
// the disk as it was); the gater's ban checks see the loaded bans a few
// milliseconds later, and the face's ban sweep closes anything that got in.
func (n *p2pNode) Start() error {
	if err := ensureDir(n.book.FilePath()); err != nil {
		return err
	}
	if err := checkPortsFree(n.listen); err != nil {
		return err
	}
	if err := n.node.Start(); err != nil {
		return wrapListenErr(err)
	}
	if err := n.book.Start(); err != nil {
		_ = n.node.Stop()
		return err
	}
	if len(n.private) > 0 {
		n.book.AddPrivateIDs(n.private)
	}
	for _, a := range n.node.OurNetAddresses() {
		n.book.AddOurAddress(a)
	}
	if n.reactor != nil {
		if err := n.reactor.Start(); err != nil {
			_ = n.node.Stop()
			_ = n.book.Stop()
			return err
		}
	}
	return nil
}

// Stop stops dialing first, then closes connections, then saves the book.
func (n *p2pNode) Stop() error {
	var errs []error
	if n.reactor != nil {
		errs = append(errs, n.reactor.Stop())
	}
	errs = append(errs, n.node.Stop())
	errs = append(errs, n.book.Stop())
	return errors.Join(errs...)
}

// remoteAddr is the multiaddr of a live connection to the peer.
func (n *p2pNode) remoteAddr(peerID string) string {
	h := n.node.Host()
	id, err := peer.Decode(peerID)
	if h == nil || err != nil {
		return ""
	}
	conns := h.Network().ConnsToPeer(id)
	if len(conns) == 0 {
		return ""
	}
	return conns[0].RemoteMultiaddr().String() + "/p2p/" + peerID
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
