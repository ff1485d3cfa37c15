package cometnode_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cometbft/cometbft/abci/example/kvstore"
	cmtcfg "github.com/cometbft/cometbft/config"
	cmtlog "github.com/cometbft/cometbft/libs/log"
	"github.com/cometbft/cometbft/lp2p"
	"github.com/cometbft/cometbft/node"
	"github.com/cometbft/cometbft/p2p"
	"github.com/cometbft/cometbft/privval"
	"github.com/cometbft/cometbft/proxy"
	"github.com/cometbft/cometbft/types"
	cmttime "github.com/cometbft/cometbft/types/time"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/pexp2p/pexp2p/cometnode"
	"github.com/pexp2p/pexp2p/internal/testwait"
)

// chainNode is one in-process CometBFT v0.40 node with pexp2p discovery.
type chainNode struct {
	name string
	cfg  *cmtcfg.Config
	pv   *privval.FilePV
	node *node.Node
	disc *cometnode.Discovery
}

// testChain lays out homes for v validators and f full nodes of one
// chain (short consensus timeouts, libp2p on, loopback addresses of their
// own so duplicate-IP rules need no exemption).
func testChain(t *testing.T, v, f int, adjust func(i int, c *cmtcfg.Config)) []*chainNode {
	t.Helper()
	root := t.TempDir()
	var nodes []*chainNode
	var vals []types.GenesisValidator
	for i := 0; i < v+f; i++ {
		name := fmt.Sprintf("validator%d", i)
		if i >= v {
			name = fmt.Sprintf("full%d", i-v)
		}
		c := cmtcfg.TestConfig()
		c.SetRoot(filepath.Join(root, name))
		cmtcfg.EnsureRoot(c.RootDir)
		if err := os.MkdirAll(filepath.Join(c.RootDir, "data"), 0o700); err != nil {
			t.Fatal(err)
		}
		c.Moniker = name
		c.P2P.LibP2PConfig.Enabled = true
		c.P2P.ListenAddress = fmt.Sprintf("tcp://127.0.%d.%d:0", 10+i/200, 1+i%200)
		c.P2P.PexReactor = true
		c.P2P.AddrBookStrict = false
		c.P2P.AllowDuplicateIP = true
		c.RPC.ListenAddress = ""
		c.Consensus.CreateEmptyBlocks = true
		c.Consensus.CreateEmptyBlocksInterval = 0
		// Timeouts long enough that a loaded machine (a race build on two
		// cores) does not spend its time in round changes, short enough
		// for a block in well under a second when idle.
		c.Consensus.TimeoutPropose = 500 * time.Millisecond
		c.Consensus.TimeoutPrevote = 200 * time.Millisecond
		c.Consensus.TimeoutPrecommit = 200 * time.Millisecond
		c.Consensus.TimeoutCommit = 100 * time.Millisecond
		c.Consensus.SkipTimeoutCommit = false
		if adjust != nil {
			adjust(i, c)
		}
		pv := privval.LoadOrGenFilePV(c.PrivValidatorKeyFile(), c.PrivValidatorStateFile())
		if _, err := p2p.LoadOrGenNodeKey(c.NodeKeyFile()); err != nil {
			t.Fatal(err)
		}
		if i < v {
			pub, err := pv.GetPubKey()
			if err != nil {
				t.Fatal(err)
			}
			vals = append(vals, types.GenesisValidator{Address: pub.Address(), PubKey: pub, Power: 1, Name: name})
		}
		nodes = append(nodes, &chainNode{name: name, cfg: c, pv: pv})
	}
	gen := &types.GenesisDoc{
		ChainID:         "pexp2p-chain-test",
		GenesisTime:     cmttime.Now(),
		ConsensusParams: types.DefaultConsensusParams(),
		Validators:      vals,
	}
	for _, n := range nodes {
		if err := gen.SaveAs(n.cfg.GenesisFile()); err != nil {
			t.Fatal(err)
		}
	}
	return nodes
}

// build creates the node with discovery attached (not started).
func (n *chainNode) build(t *testing.T, opts ...cometnode.Option) {
	t.Helper()
	d, err := cometnode.New(n.cfg, n.logger(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	n.node = n.newNode(t, d.Option())
	if err := d.Err(); err != nil {
		t.Fatal(err)
	}
	n.disc = d
}

// buildUpstream builds the node exactly as upstream does, without
// cometnode: the unmodified v0.40 libp2p node.
func (n *chainNode) buildUpstream(t *testing.T) { n.node, n.disc = n.newNode(t), nil }

// newNode is node.NewNode on the node's home with an in-memory kvstore.
func (n *chainNode) newNode(t *testing.T, opts ...node.Option) *node.Node {
	t.Helper()
	nk, err := p2p.LoadNodeKey(n.cfg.NodeKeyFile())
	if err != nil {
		t.Fatal(err)
	}
	nd, err := node.NewNode(n.cfg, n.pv, nk,
		proxy.NewLocalClientCreator(kvstore.NewInMemoryApplication()),
		node.DefaultGenesisDocProviderFunc(n.cfg),
		cmtcfg.DefaultDBProvider,
		node.DefaultMetricsProvider(n.cfg.Instrumentation),
		n.logger(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	return nd
}

// logger is silent unless PEXP2P_TEST_LOG is set.
func (n *chainNode) logger() cmtlog.Logger {
	if os.Getenv("PEXP2P_TEST_LOG") == "" {
		return cmtlog.NewNopLogger()
	}
	return cmtlog.NewTMLogger(cmtlog.NewSyncWriter(os.Stderr)).With("node", n.name)
}

func (n *chainNode) start(t *testing.T) {
	t.Helper()
	if err := n.node.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if n.node.IsRunning() {
			if err := n.node.Stop(); err != nil {
				t.Errorf("%s: stop: %v", n.name, err)
			}
			n.node.Wait()
			n.release(t)
		}
	})
}

// join builds n with fast discovery, its seed set to seed's address (no
// seed if nil), and starts it.
func (n *chainNode) join(t *testing.T, seed *chainNode) {
	t.Helper()
	if seed != nil {
		n.cfg.P2P.Seeds = seed.addr(t)
	}
	n.build(t, cometnode.WithSettings(fastDiscovery))
	n.start(t)
}

// release stops what upstream's Node.Stop leaves running, so that the
// package's leak check sees only what pexp2p might have leaked: the ABCI
// connections (the node starts its proxy.AppConns but never stops them)
// and, on a node built without cometnode, the libp2p host, of which the
// lp2p switch closes the network and peerstore but not the host.
func (n *chainNode) release(t *testing.T) {
	t.Helper()
	if err := n.node.ProxyApp().Stop(); err != nil {
		t.Errorf("%s: stopping the ABCI connections: %v", n.name, err)
	}
	if n.disc != nil {
		return // cometnode's face owns and closes the host
	}
	sw, ok := n.node.Switch().(*lp2p.Switch)
	if !ok {
		return // not a libp2p node: no host
	}
	h, err := cometnode.SwitchHost(sw)
	if err != nil {
		t.Errorf("%s: %v", n.name, err)
		return
	}
	if err := h.Close(); err != nil {
		t.Errorf("%s: closing the host: %v", n.name, err)
	}
}

// addr is the node's QUIC multiaddr with its peer ID.
func (n *chainNode) addr(t *testing.T) string {
	t.Helper()
	all := n.disc.Node().Transport.FullAddrs()
	for _, a := range all {
		if _, err := a.ValueForProtocol(ma.P_QUIC_V1); err == nil {
			return a.String()
		}
	}
	t.Fatalf("%s has no QUIC address among %v", n.name, all)
	return ""
}

func (n *chainNode) switchPeers() int { return n.node.Switch().Peers().Size() }

func (n *chainNode) height() int64 { return n.node.BlockStore().Height() }

func p2pID(s string) p2p.ID { return p2p.ID(s) }

// stop stops the node and waits for it (its book is saved by then).
func (n *chainNode) stop(t *testing.T) {
	t.Helper()
	if err := n.node.Stop(); err != nil {
		t.Fatalf("%s: stop: %v", n.name, err)
	}
	n.node.Wait()
	n.release(t)
}

// restart builds and starts a new node on the same home.
func (n *chainNode) restart(t *testing.T, opts ...cometnode.Option) {
	t.Helper()
	n.build(t, opts...)
	n.start(t)
}

// peeredWith reports whether n's switch holds other.
func (n *chainNode) peeredWith(other *chainNode) bool {
	return n.node.Switch().Peers().Has(p2p.ID(other.disc.Node().Key.PeerID().String()))
}

// chainWait bounds every wait of these tests: generous, since a race
// build of several full nodes on a loaded two-core machine is slow, and
// still finite.
const chainWait = 150 * time.Second

// startChain starts a seed in seed mode and the other nodes with only the
// seed's address, and waits until every non-seed node has want switch
// peers and, when height > 0, that height.
func startChain(t *testing.T, seed *chainNode, nodes []*chainNode, want int, height int64) {
	t.Helper()
	seed.cfg.P2P.SeedMode = true
	seed.join(t, nil)
	for _, n := range nodes {
		n.join(t, seed)
	}
	testwait.For(t, chainWait, fmt.Sprintf("every node with %d switch peers and at height %d", want, height), func() bool {
		for _, n := range nodes {
			if n.switchPeers() < want || n.height() < height {
				return false
			}
		}
		return true
	})
}

// setChainID rewrites the node's genesis with another chain ID.
func (n *chainNode) setChainID(t *testing.T, id string) {
	t.Helper()
	gen, err := types.GenesisDocFromFile(n.cfg.GenesisFile())
	if err != nil {
		t.Fatal(err)
	}
	gen.ChainID = id
	if err := gen.SaveAs(n.cfg.GenesisFile()); err != nil {
		t.Fatal(err)
	}
}

func loopbackListen(ip string) []ma.Multiaddr {
	return []ma.Multiaddr{ma.StringCast("/ip4/" + ip + "/udp/0/quic-v1")}
}
