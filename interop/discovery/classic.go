package discovery

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"time"

	cmtcfg "github.com/cometbft/cometbft/config"
	"github.com/cometbft/cometbft/crypto/ed25519"
	"github.com/cometbft/cometbft/p2p"
	upex "github.com/cometbft/cometbft/p2p/pex"
	"github.com/cometbft/cometbft/version"
	"github.com/cosmos/gogoproto/proto"
)

// Classic is upstream CometBFT v0.40.0's classic stack, assembled the way
// its node/setup.go assembles it: MultiplexTransport (TCP +
// SecretConnection), p2p.Switch, its own pex.AddrBook (non-strict, so
// loopback addresses are kept) and its own unmodified pex.Reactor with
// SetEnsurePeersPeriod(cfg.Period) and node/setup.go's 28 h
// SeedDisconnectWaitPeriod. Duplicate IPs are allowed because every
// outbound connection on loopback comes from 127.0.0.1.
func Classic() Stack { return classicStack{} }

type classicStack struct{}

func (classicStack) Name() string { return "classic" }

type classicNode struct {
	key     p2p.NodeKey
	addr    *p2p.NetAddress
	mt      *p2p.MultiplexTransport
	sw      *p2p.Switch
	book    upex.AddrBook
	reactor *upex.Reactor
}

type classicNet struct {
	dir   string
	nodes []*classicNode
}

// freePort finds a TCP port free on ip. Another process may take it
// before we listen; Build then fails rather than measure something else.
func freePort(ip string) (int, error) {
	ln, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func (classicStack) Build(cfg Config) (Network, error) {
	cfg, err := cfg.WithDefaults()
	if err != nil {
		return nil, err
	}
	return buildClassic(cfg, new(atomic.Int64), new(atomic.Int64))
}

func buildClassic(cfg Config, msgs, bytes *atomic.Int64) (*classicNet, error) {
	dir, err := os.MkdirTemp("", "discovery-classic-")
	if err != nil {
		return nil, err
	}
	n := &classicNet{dir: dir}
	var seed string
	for i := 0; i < cfg.Nodes; i++ {
		nd, err := newClassicNode(cfg, i, dir, seed, msgs, bytes)
		if err != nil {
			_ = n.Stop()
			return nil, fmt.Errorf("classic node %d: %w", i, err)
		}
		if i == 0 {
			seed = nd.addr.String()
		}
		n.nodes = append(n.nodes, nd)
	}
	return n, nil
}

func newClassicNode(cfg Config, i int, dir, seed string, msgs, bytes *atomic.Int64) (*classicNode, error) {
	nd := &classicNode{key: p2p.NodeKey{PrivKey: ed25519.GenPrivKey()}}
	ip := NodeIP(i)
	port, err := freePort(ip)
	if err != nil {
		return nil, err
	}
	laddr := net.JoinHostPort(ip, strconv.Itoa(port))
	nd.addr, err = p2p.NewNetAddressString(p2p.IDAddressString(nd.key.ID(), laddr))
	if err != nil {
		return nil, err
	}
	pc := cmtcfg.DefaultP2PConfig()
	pc.AllowDuplicateIP = true
	pc.MaxNumOutboundPeers = cfg.MaxOutbound
	pc.MaxNumInboundPeers = cfg.MaxInbound
	pc.AddrBookStrict = false
	pc.SeedMode = cfg.SeedMode && i == 0
	ni := p2p.DefaultNodeInfo{
		ProtocolVersion: p2p.NewProtocolVersion(version.P2PProtocol, version.BlockProtocol, 0),
		DefaultNodeID:   nd.key.ID(),
		ListenAddr:      laddr,
		Network:         "discovery-bench",
		Version:         version.TMCoreSemVer,
		Channels:        []byte{upex.PexChannel},
		Moniker:         fmt.Sprintf("classic-%d", i),
	}
	nd.mt = p2p.NewMultiplexTransport(ni, nd.key, p2p.MConnConfig(pc))
	if err := nd.mt.Listen(*nd.addr); err != nil {
		return nil, err
	}
	nd.sw = p2p.NewSwitch(pc, nd.mt)
	nd.sw.SetNodeInfo(ni)
	nd.sw.SetNodeKey(&nd.key)
	nd.book = upex.NewAddrBook(filepath.Join(dir, fmt.Sprintf("addrbook-%d.json", i)), false)
	nd.book.AddOurAddress(nd.addr)
	nd.sw.SetAddrBook(nd.book)
	rc := &upex.ReactorConfig{SeedMode: pc.SeedMode, SeedDisconnectWaitPeriod: 28 * time.Hour}
	if i > 0 {
		rc.Seeds = []string{seed}
	} else {
		// Upstream's reactor refuses to start with an empty book and no
		// seed; the seed lists itself, which resolves and is a no-op to
		// dial (the transport rejects a connection to self), so its book
		// stays empty as on the libp2p stack.
		rc.Seeds = []string{nd.addr.String()}
	}
	nd.reactor = upex.NewReactor(nd.book, rc)
	nd.reactor.SetEnsurePeersPeriod(cfg.Period)
	nd.sw.AddReactor("PEX", countingReactor{Reactor: nd.reactor, msgs: msgs, bytes: bytes})
	return nd, nil
}

func (n *classicNet) Start() error {
	for i, nd := range n.nodes {
		if err := nd.sw.Start(); err != nil {
			return fmt.Errorf("classic node %d: %w", i, err)
		}
	}
	return nil
}

func (n *classicNet) Snapshot() []NodeStat {
	out := make([]NodeStat, len(n.nodes))
	for i, nd := range n.nodes {
		o, in, _ := nd.sw.NumPeers()
		out[i] = NodeStat{Outbound: o, Inbound: in, Book: nd.book.Size(), Bans: -1}
	}
	return out
}

func (n *classicNet) Stop() error {
	var errs []error
	for _, nd := range n.nodes {
		if nd.sw.IsRunning() {
			if err := nd.sw.Stop(); err != nil {
				errs = append(errs, err)
			}
		}
		if nd.book.IsRunning() {
			_ = nd.book.Stop()
		}
		// The book's save routine writes once more after Stop; wait for
		// it before the directory goes.
		if w, ok := nd.book.(interface{ Wait() }); ok {
			w.Wait()
		}
		_ = nd.mt.Close()
	}
	errs = append(errs, os.RemoveAll(n.dir))
	return errors.Join(errs...)
}

// countingReactor is upstream's reactor unchanged, with every received
// PEX message counted on the way in (what one node receives another
// sent, so the sum over nodes is the network's PEX traffic).
type countingReactor struct {
	*upex.Reactor
	msgs, bytes *atomic.Int64
}

func (r countingReactor) Receive(e p2p.Envelope) {
	if w, ok := e.Message.(p2p.Wrapper); ok {
		n := proto.Size(w.Wrap())
		r.msgs.Add(1)
		r.bytes.Add(int64(n + uvarintLen(uint64(n))))
	}
	r.Reactor.Receive(e)
}

func uvarintLen(x uint64) int {
	n := 1
	for x >= 0x80 {
		x >>= 7
		n++
	}
	return n
}

// ClassicCluster is upstream's classic stack (as Classic builds it) with
// the method set `pexp2p testnet` measures its own clusters by, so that
// the command can wrap it in a few lines: Name, Start, Sample, Traffic,
// Stop. Build it with NewClassicCluster; it listens at once and starts
// PEX in Start.
type ClassicCluster struct {
	cfg         Config
	net         *classicNet
	msgs, bytes atomic.Int64
}

// ClassicSample is one measured node: connected peers, and how many of
// the other N−1 nodes' addresses its book holds.
type ClassicSample struct {
	Peers, Known int
}

// NewClassicCluster builds cfg.Nodes classic nodes (node 0 the seed).
func NewClassicCluster(cfg Config) (*ClassicCluster, error) {
	cfg, err := cfg.WithDefaults()
	if err != nil {
		return nil, err
	}
	c := &ClassicCluster{cfg: cfg}
	n, err := buildClassic(cfg, &c.msgs, &c.bytes)
	if err != nil {
		return nil, err
	}
	c.net = n
	return c, nil
}

func (c *ClassicCluster) Name() string { return "cometbft/classic" }

// Start starts every switch, the seed first; ctx is checked between nodes.
func (c *ClassicCluster) Start(ctx context.Context) error {
	for i, nd := range c.net.nodes {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := nd.sw.Start(); err != nil {
			return fmt.Errorf("classic node %d: %w", i, err)
		}
	}
	return nil
}

// Sample reports every measured node: all N, or the N−1 non-seeds when
// node 0 runs in seed mode.
func (c *ClassicCluster) Sample() []ClassicSample {
	first := 0
	if c.cfg.SeedMode {
		first = 1
	}
	out := make([]ClassicSample, 0, len(c.net.nodes)-first)
	for i := first; i < len(c.net.nodes); i++ {
		nd := c.net.nodes[i]
		o, in, _ := nd.sw.NumPeers()
		known := 0
		for j, other := range c.net.nodes {
			if j != i && nd.book.HasAddress(other.addr) {
				known++
			}
		}
		out = append(out, ClassicSample{Peers: o + in, Known: known})
	}
	return out
}

// Traffic is the PEX messages and their framed bytes (uvarint length +
// wrapped message, no transport overhead) received by all nodes so far.
func (c *ClassicCluster) Traffic() (msgs, bytes int64) { return c.msgs.Load(), c.bytes.Load() }

// Stop stops every node and removes the books' directory.
func (c *ClassicCluster) Stop() error { return c.net.Stop() }
