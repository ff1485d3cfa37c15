package testnet

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

// Classic is upstream CometBFT v0.40.0's classic stack on spec's topology,
// assembled the way upstream's node/setup.go assembles it:
// MultiplexTransport (TCP + SecretConnection), p2p.Switch, its own
// pex.AddrBook (non-strict, so loopback addresses are kept) and its own
// unmodified pex.Reactor with SetEnsurePeersPeriod(spec.Period) and
// node/setup.go's 28 h SeedDisconnectWaitPeriod. Node 0 is the one seed.
// Duplicate IPs are allowed because every outbound connection on loopback
// comes from 127.0.0.1.
func Classic(spec Spec) Cluster { return &classicCluster{spec: spec} }

type classicCluster struct {
	spec        Spec
	dir         string
	nodes       []*classicNode
	msgs, bytes atomic.Int64
}

type classicNode struct {
	key  p2p.NodeKey
	addr *p2p.NetAddress
	mt   *p2p.MultiplexTransport
	sw   *p2p.Switch
	book upex.AddrBook
}

func (c *classicCluster) Name() string { return "cometbft/classic-tcp" }

// Start builds the nodes, then starts every switch, the seed first.
func (c *classicCluster) Start(ctx context.Context) error {
	if c.spec.Nodes < 2 || c.spec.Nodes > MaxClassicNodes {
		return specErr("nodes", strconv.Itoa(c.spec.Nodes), fmt.Sprintf("the classic stack runs 2..%d nodes", MaxClassicNodes))
	}
	dir, err := os.MkdirTemp("", "testnet-classic-")
	if err != nil {
		return err
	}
	c.dir = dir
	var seed string
	for i := 0; i < c.spec.Nodes; i++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		nd, err := c.newNode(i, seed)
		if err != nil {
			return fmt.Errorf("classic node %d: %w", i, err)
		}
		if i == 0 {
			seed = nd.addr.String()
		}
		c.nodes = append(c.nodes, nd)
	}
	for i, nd := range c.nodes {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := nd.sw.Start(); err != nil {
			return fmt.Errorf("classic node %d: %w", i, err)
		}
	}
	return nil
}

// freePort finds a TCP port free on ip. Another process may take it before
// the node listens; the node then fails to build rather than measure
// something else.
func freePort(ip string) (int, error) {
	ln, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func (c *classicCluster) newNode(i int, seed string) (*classicNode, error) {
	nd := &classicNode{key: p2p.NodeKey{PrivKey: ed25519.GenPrivKey()}}
	ip := LoopbackIP(i)
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
	pc.MaxNumOutboundPeers = c.spec.MaxOutbound
	pc.MaxNumInboundPeers = c.spec.MaxInbound
	pc.AddrBookStrict = false
	pc.SeedMode = c.spec.SeedMode && i == 0
	ni := p2p.DefaultNodeInfo{
		ProtocolVersion: p2p.NewProtocolVersion(version.P2PProtocol, version.BlockProtocol, 0),
		DefaultNodeID:   nd.key.ID(),
		ListenAddr:      laddr,
		Network:         c.spec.ChainID,
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
	nd.book = upex.NewAddrBook(filepath.Join(c.dir, fmt.Sprintf("addrbook-%d.json", i)), false)
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
	r := upex.NewReactor(nd.book, rc)
	r.SetEnsurePeersPeriod(c.spec.Period)
	nd.sw.AddReactor("PEX", countingReactor{Reactor: r, msgs: &c.msgs, bytes: &c.bytes})
	return nd, nil
}

// Sample reports every measured node: all N, or the N−1 non-seeds when
// node 0 runs in seed mode.
func (c *classicCluster) Sample() []NodeSample {
	if len(c.nodes) == 0 {
		return nil
	}
	first := 0
	if c.spec.SeedMode {
		first = 1
	}
	out := make([]NodeSample, 0, len(c.nodes)-first)
	for i := first; i < len(c.nodes); i++ {
		nd := c.nodes[i]
		o, in, _ := nd.sw.NumPeers()
		known := 0
		for j, other := range c.nodes {
			if j != i && nd.book.HasAddress(other.addr) {
				known++
			}
		}
		out = append(out, NodeSample{Peers: o + in, Known: known})
	}
	return out
}

// Traffic counts what upstream's reactors received: the sum over nodes of
// what was received is what was sent, less messages in flight at the end.
// Upstream's reactor has no misbehaviour hook, so those counts stay 0.
func (c *classicCluster) Traffic() Traffic {
	return Traffic{Msgs: c.msgs.Load(), Bytes: c.bytes.Load()}
}

// Stop stops every node and removes the books' directory; a second call
// does nothing.
func (c *classicCluster) Stop() error {
	var errs []error
	for _, nd := range c.nodes {
		if nd.sw.IsRunning() {
			errs = append(errs, nd.sw.Stop())
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
	c.nodes = nil
	if c.dir != "" {
		errs = append(errs, os.RemoveAll(c.dir))
		c.dir = ""
	}
	return errors.Join(errs...)
}

// countingReactor is upstream's reactor unchanged, with every received PEX
// message counted on the way in.
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

// uvarintLen is the length of the uvarint prefix that frames n bytes,
// so the count matches the libp2p stack's framed bytes.
func uvarintLen(x uint64) int {
	n := 1
	for x >= 0x80 {
		x >>= 7
		n++
	}
	return n
}
