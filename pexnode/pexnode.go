package pexnode

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	madns "github.com/multiformats/go-multiaddr-dns"

	"github.com/pexp2p/pexp2p/addrbook"
	"github.com/pexp2p/pexp2p/internal/errmsg"
	"github.com/pexp2p/pexp2p/pex"
	"github.com/pexp2p/pexp2p/transport"
)

// SeedResolveTimeout bounds resolving /dnsaddr seeds when a node is built:
// a slow or absent DNS server must not stop the node from starting on its
// book (the reactor still refuses an empty book with no usable seed).
const SeedResolveTimeout = 10 * time.Second

// Options describe one node. Key is required; the zero value of every
// other field is a usable default.
type Options struct {
	Key *transport.NodeKey
	// Transport configures the libp2p face. Bans defaults to the book;
	// OnWireViolation defaults to a fan-out to the Observers that are
	// WireObservers; SeedMode follows PEX.SeedMode.
	Transport transport.Config
	// Book configures the address book. IDRule defaults to
	// transport.PeerIDs (libp2p peer IDs).
	Book addrbook.Options
	// PEX configures the reactor; nil runs the node without PEX (peers
	// still connect, e.g. persistent ones, but nothing is exchanged).
	// When PEX.Seeds is nil it is derived from Transport.Seeds; IDRule is
	// always transport.PeerIDs.
	PEX *pex.Config
	// PrivateIDs are never gossiped (CometBFT's private_peer_ids).
	PrivateIDs []string
	// Observers receive the reactor's events (metrics, testnet counters).
	Observers []pex.Observer
	// Resolver resolves /dnsaddr seeds; nil: the system's.
	Resolver transport.MultiaddrResolver
	// Logger receives the warnings of building the node (a seed left
	// out); nil: slog's default.
	Logger *slog.Logger
	// AnchorsFile is where the reactor keeps its anchors when
	// PEX.MaxAnchors > 0; "" puts addrbook.AnchorsFileName beside
	// Book.FilePath. A node with anchors on needs one or the other.
	AnchorsFile string
	// SignedRecords turns on signed peer records and several addresses
	// per peer end to end: the face runs the peer-records protocol with
	// pexp2p peers that announce it and dials every address the book
	// holds for a peer (transport.Config.SignedRecords and
	// DialAlternatives), feeding this node's book, which marks addresses
	// their own peer signed as verified. PEX.PreferVerifiedAddrs then
	// makes the book favour them. Off, the node is exactly upstream's.
	SignedRecords bool
}

// ConfigError is a PEX configuration that cannot run; callers report it
// as the operator's mistake.
type ConfigError struct{ Err error }

func (e *ConfigError) Error() string { return "p2p configuration: " + e.Err.Error() }
func (e *ConfigError) Unwrap() error { return e.Err }

// Node is a built discovery node. Reactor is nil when PEX is off.
type Node struct {
	Key       *transport.NodeKey
	Book      *addrbook.Book
	Transport *transport.Node
	Reactor   *pex.Reactor
	Traffic   *Traffic

	private []string
}

// New builds a node; nothing listens or touches the disk until Start.
func New(o Options) (*Node, error) {
	if o.Key == nil {
		return nil, &transport.NodeKeyError{Reasoned: errmsg.Reasoned{Reason: "no node key"}}
	}
	logger := o.Logger
	if logger == nil {
		logger = slog.Default()
	}
	bookOpts := o.Book
	if bookOpts.IDRule == nil {
		bookOpts.IDRule = transport.PeerIDs
	}
	book, err := addrbook.New(bookOpts)
	if err != nil {
		return nil, err
	}
	tc := o.Transport
	if tc.Bans == nil {
		tc.Bans = book
	}
	if o.SignedRecords {
		tc.SignedRecords, tc.DialAlternatives = true, true
	}
	if tc.Addresses == nil && (tc.SignedRecords || tc.DialAlternatives) {
		tc.Addresses = book
	}
	if tc.OnWireViolation == nil {
		tc.OnWireViolation = WireViolationHook(o.Observers)
	}
	if o.PEX != nil && o.PEX.SeedMode {
		// A seed-mode reactor keeps no peer: its face admits the herd
		// of newcomers as visitors (transport.SeedVisitorSlots).
		tc.SeedMode = true
	}
	tn, err := transport.NewNode(o.Key, tc)
	if err != nil {
		return nil, err
	}
	n := &Node{Key: o.Key, Book: book, Transport: tn, Traffic: &Traffic{}, private: o.PrivateIDs}
	if o.PEX == nil {
		tn.SetHandler(nopHandler{})
		return n, nil
	}
	pc := *o.PEX
	// The libp2p face names peers by libp2p peer ID, whatever rule the
	// caller's config carried over from a classic default.
	pc.IDRule = transport.PeerIDs
	if pc.Seeds == nil {
		resolver := o.Resolver
		if resolver == nil {
			resolver = madns.DefaultResolver
		}
		pc.Seeds = ReactorSeeds(tc.Seeds, resolver, logger)
	}
	if err := pc.Validate(); err != nil {
		return nil, &ConfigError{Err: err}
	}
	var opts []pex.Option
	if pc.MaxAnchors > 0 && !pc.SeedMode {
		store, err := anchorStore(o.AnchorsFile, bookOpts.FilePath)
		if err != nil {
			return nil, err
		}
		opts = append(opts, pex.WithAnchors(store))
	}
	switch len(o.Observers) {
	case 0:
	case 1:
		opts = append(opts, pex.WithObserver(o.Observers[0]))
	default:
		opts = append(opts, pex.WithObserver(multiObserver(o.Observers)))
	}
	n.Reactor = pex.NewReactor(book, countingNet{Node: tn, t: n.Traffic}, pc, opts...)
	tn.SetHandler(countingHandler{Handler: n.Reactor, t: n.Traffic})
	return n, nil
}

// ErrNoAnchorsFile: anchors are on but there is no file to keep them in
// (an in-memory book and no Options.AnchorsFile). Refused rather than
// ignored, so that an operator who asked for anchors is not left thinking
// the restart is defended.
var ErrNoAnchorsFile = errors.New("anchors need a file: set a book file or AnchorsFile")

func anchorStore(anchorsFile, bookFile string) (pex.AnchorStore, error) {
	switch {
	case anchorsFile != "":
		return addrbook.AnchorFile{Path: anchorsFile, Rule: transport.PeerIDs}, nil
	case bookFile != "":
		return addrbook.AnchorFileFor(bookFile, transport.PeerIDs), nil
	default:
		return nil, &ConfigError{Err: ErrNoAnchorsFile}
	}
}

// WrapHandler puts wrap between the face and the (counting) reactor, for
// callers that watch peers and messages (the bridge, the crawler,
// cometnode's hand-off to CometBFT's switch). Call it before Start; it
// does nothing when PEX is off.
func (n *Node) WrapHandler(wrap func(transport.Handler) transport.Handler) {
	if n.Reactor == nil {
		return
	}
	n.Transport.SetHandler(wrap(countingHandler{Handler: n.Reactor, t: n.Traffic}))
}

// Start listens, loads the book, records our own addresses and starts the
// reactor (see the package comment for why in this order).
func (n *Node) Start() error {
	if err := n.Transport.Start(); err != nil {
		return err
	}
	if err := n.Book.Start(); err != nil {
		_ = n.Transport.Stop()
		return err
	}
	if len(n.private) > 0 {
		n.Book.AddPrivateIDs(n.private)
	}
	for _, a := range n.Transport.OurNetAddresses() {
		n.Book.AddOurAddress(a)
	}
	if n.Reactor != nil {
		if err := n.Reactor.Start(); err != nil {
			_ = n.Transport.Stop()
			_ = n.Book.Stop()
			return err
		}
	}
	return nil
}

// Stop stops dialing first, then closes connections, then saves the book.
func (n *Node) Stop() error {
	var errs []error
	if n.Reactor != nil {
		errs = append(errs, n.Reactor.Stop())
	}
	errs = append(errs, n.Transport.Stop())
	errs = append(errs, n.Book.Stop())
	return errors.Join(errs...)
}

// RemoteAddr is the multiaddr of a live connection to the peer, with its
// /p2p component; "" when there is none.
func (n *Node) RemoteAddr(peerID string) string {
	h := n.Transport.Host()
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

// ReactorSeeds turns configured seeds into the reactor's "id@host:port"
// strings with transport.ReactorSeeds: IP seeds as they are, /dns* seeds
// with their host name (the reactor resolves it), /dnsaddr seeds resolved
// now through r. A seed that cannot be used is logged and left out.
func ReactorSeeds(cps []transport.ConfigPeer, r transport.MultiaddrResolver, logger *slog.Logger) []string {
	if len(cps) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), SeedResolveTimeout)
	defer cancel()
	out, errs := transport.ReactorSeeds(ctx, cps, r)
	for _, err := range errs {
		logger.Warn("seed left out", "err", err)
	}
	return out
}

// nopHandler stands in for the reactor when PEX is off.
type nopHandler struct{}

func (nopHandler) AddPeer(pex.PeerInfo)        {}
func (nopHandler) RemovePeer(string, any)      {}
func (nopHandler) Receive(string, pex.Message) {}
