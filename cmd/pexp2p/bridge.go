package main

import (
	"errors"
	"fmt"
	"time"

	cmtcfg "github.com/cometbft/cometbft/config"
	"github.com/cometbft/cometbft/crypto/ed25519"
	"github.com/cometbft/cometbft/p2p"
	tmp2p "github.com/cometbft/cometbft/proto/tendermint/p2p"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	"github.com/pexp2p/pexp2p/addrbook"
	"github.com/pexp2p/pexp2p/pex"
	"github.com/pexp2p/pexp2p/pexnode"
	"github.com/pexp2p/pexp2p/transport"
	"github.com/pexp2p/pexp2p/transport/bridge"
	"github.com/pexp2p/pexp2p/transport/classic"
)

func newBridgeCmd(g *globals) *cobra.Command {
	var cf *configFlags
	cmd := &cobra.Command{
		Use:   "bridge",
		Short: "Run a node on both faces (libp2p and classic CometBFT) and carry verified addresses between them",
		Long: `Run one identity with two faces: the libp2p face (p2p.laddr) and the
classic CometBFT face (classic.laddr, upstream's switch with TCP and
SecretConnection), each with its own address book and PEX reactor. An
address crosses from one book to the other only after the bridge proved,
on the destination face's transport, that the node at that IP and port
holds the key the address names. Same as "start" with classic.laddr set.`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := loadConfig(g, cf)
			if err != nil {
				return err
			}
			if c.Classic.Laddr == "" {
				return usage("config key classic.laddr", "", errors.New("the bridge needs a classic listen address, e.g. --classic.laddr tcp://0.0.0.0:26666"))
			}
			return runNode(cmd, g, c, true)
		},
	}
	cf = addConfigFlags(cmd.Flags())
	return cmd
}

// bridgeRun is the classic face with its book and reactor, and the bridge
// between it and a libp2p-face node.
type bridgeRun struct {
	book    *addrbook.Book
	face    *classic.Face
	reactor *pex.Reactor
	bridge  *bridge.Bridge
	prober  *bridge.Libp2pProber
	lp      *p2pNode
}

// bridgeHandler sits between the libp2p face and its reactor and offers
// every libp2p address it sees (connected peers, PEX answers) to the
// classic side; the bridge verifies before anything crosses.
type bridgeHandler struct {
	transport.Handler
	b *bridge.Bridge
}

func (h bridgeHandler) AddPeer(p pex.PeerInfo) {
	h.Handler.AddPeer(p)
	if !p.ListenAddr.IsZero() {
		h.b.Libp2pPeerConnected(p)
	}
}

func (h bridgeHandler) Receive(peerID string, msg pex.Message) {
	h.ReceiveAt(peerID, msg, time.Time{})
}

func (h bridgeHandler) ReceiveAt(peerID string, msg pex.Message, arrived time.Time) {
	transport.DeliverAt(h.Handler, peerID, msg, arrived)
	if m, ok := msg.(*tmp2p.PexAddrs); ok {
		for _, pb := range m.Addrs {
			if na, err := pex.NetAddressFromWire(transport.PeerIDs, pb); err == nil {
				h.b.OfferLibp2pAddr(na)
			}
		}
	}
}

func newBridgeRun(g *globals, c Config, key *transport.NodeKey, lp *p2pNode, reg prometheus.Registerer) (*bridgeRun, error) {
	for _, l := range []struct{ key, v string }{{"classic.seeds", c.Classic.Seeds}, {"classic.persistent_peers", c.Classic.PersistentPeers}} {
		for _, s := range splitList(l.v) {
			if _, err := addrbook.ParseNetAddress(addrbook.ClassicIDs, s); err != nil {
				return nil, usage("config key "+l.key, s, err)
			}
		}
	}
	book, err := addrbook.New(addrbook.Options{
		FilePath:     abs(g.home, c.Classic.AddrBookFile),
		Strict:       c.P2P.AddrBookStrict,
		IDRule:       addrbook.ClassicIDs,
		Logger:       slogFor("addrbook"),
		SaveInterval: c.P2P.AddrBookSaveInterval.D(),
	})
	if err != nil {
		return nil, err
	}
	p2pCfg := cmtcfg.DefaultP2PConfig()
	p2pCfg.MaxNumInboundPeers = c.P2P.MaxNumInboundPeers
	p2pCfg.MaxNumOutboundPeers = c.P2P.MaxNumOutboundPeers
	p2pCfg.AllowDuplicateIP = c.P2P.AllowDuplicateIP
	p2pCfg.AddrBookStrict = c.P2P.AddrBookStrict
	p2pCfg.HandshakeTimeout = c.P2P.HandshakeTimeout.D()
	p2pCfg.DialTimeout = c.P2P.DialTimeout.D()
	nk := &p2p.NodeKey{PrivKey: ed25519.PrivKey(key.PrivateKey())}
	face, err := classic.New(classic.Config{
		NodeKey:         nk,
		ChainID:         c.ChainID,
		ListenAddr:      c.Classic.Laddr,
		ExternalAddr:    c.Classic.ExternalAddress,
		Moniker:         c.Moniker,
		P2P:             p2pCfg,
		PersistentPeers: splitList(c.Classic.PersistentPeers),
		Book:            book,
	})
	if err != nil {
		return nil, usage("classic face", c.Classic.Laddr, err)
	}
	pc := c.PexConfig()
	pc.IDRule = addrbook.ClassicIDs
	pc.Seeds = splitList(c.Classic.Seeds)
	creg := prometheus.WrapRegistererWith(prometheus.Labels{"face": "classic"}, reg)
	m, err := pexnode.NewMetrics(creg)
	if err != nil {
		return nil, err
	}
	reactor := pex.NewReactor(book, face, pc, pex.WithObserver(m))
	face.SetHandler(reactor)
	if err := pexnode.RegisterGauges(creg, face, book); err != nil {
		return nil, err
	}

	prober, err := bridge.NewLibp2pProber(c.P2P.DialTimeout.D())
	if err != nil {
		return nil, err
	}
	bm, err := bridge.NewPrometheusMetrics(reg)
	if err != nil {
		_ = prober.Close()
		return nil, err
	}
	br, err := bridge.New(bridge.Config{
		Classic: bridge.Side{Book: book, Prober: face, Self: face.NetAddress},
		Libp2p: bridge.Side{Book: lp.Book, Prober: prober, Self: func() addrbook.NetAddress {
			if as := lp.Transport.OurNetAddresses(); len(as) > 0 {
				return as[0]
			}
			return addrbook.NetAddress{}
		}},
		Metrics: bm,
	})
	if err != nil {
		_ = prober.Close()
		return nil, err
	}
	face.SetPeerObserver(br)
	if lp.Reactor != nil {
		lp.WrapHandler(func(h transport.Handler) transport.Handler { return bridgeHandler{Handler: h, b: br} })
	}
	return &bridgeRun{book: book, face: face, reactor: reactor, bridge: br, prober: prober, lp: lp}, nil
}

func (b *bridgeRun) start() error {
	if err := ensureDir(b.book.FilePath()); err != nil {
		return err
	}
	if err := b.book.Start(); err != nil {
		return err
	}
	if err := b.face.Start(); err != nil {
		_ = b.book.Stop()
		return usage("config key classic.laddr (cannot listen)", "", err)
	}
	if err := b.reactor.Start(); err != nil {
		_ = b.face.Stop()
		_ = b.book.Stop()
		return err
	}
	if err := b.bridge.Start(); err != nil {
		return fmt.Errorf("bridge: %w", err)
	}
	return nil
}

func (b *bridgeRun) stop() error {
	return errors.Join(b.bridge.Stop(), b.reactor.Stop(), b.face.Stop(), b.prober.Close(), b.book.Stop())
}
