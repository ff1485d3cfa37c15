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
	"github.com/cometbft/cometbft/node"
	"github.com/cometbft/cometbft/p2p"
	"github.com/cometbft/cometbft/privval"
	"github.com/cometbft/cometbft/proxy"
	"github.com/cometbft/cometbft/types"
	cmttime "github.com/cometbft/cometbft/types/time"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/pexp2p/pexp2p/cometnode"
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
// chain (fast consensus timeouts, libp2p on, loopback addresses of their
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
	logger := cmtlog.NewNopLogger()
	if os.Getenv("PEXP2P_TEST_LOG") != "" {
		logger = cmtlog.NewTMLogger(cmtlog.NewSyncWriter(os.Stderr)).With("node", n.name)
	}
	d, err := cometnode.New(n.cfg, logger, opts...)
	if err != nil {
		t.Fatal(err)
	}
	nk, err := p2p.LoadNodeKey(n.cfg.NodeKeyFile())
	if err != nil {
		t.Fatal(err)
	}
	nd, err := node.NewNode(n.cfg, n.pv, nk,
		proxy.NewLocalClientCreator(kvstore.NewInMemoryApplication()),
		node.DefaultGenesisDocProviderFunc(n.cfg),
		cmtcfg.DefaultDBProvider,
		node.DefaultMetricsProvider(n.cfg.Instrumentation),
		logger, d.Option())
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Err(); err != nil {
		t.Fatal(err)
	}
	n.node, n.disc = nd, d
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
		}
	})
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
