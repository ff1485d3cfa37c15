package cometnode_test

import (
	"fmt"
	"os"

	"github.com/cometbft/cometbft/abci/example/kvstore"
	cmtcfg "github.com/cometbft/cometbft/config"
	cmtlog "github.com/cometbft/cometbft/libs/log"
	"github.com/cometbft/cometbft/node"
	"github.com/cometbft/cometbft/p2p"
	"github.com/cometbft/cometbft/privval"
	"github.com/cometbft/cometbft/proxy"

	"github.com/pexp2p/pexp2p/cometnode"
)

// A chain with its own ABCI application and its own main builds its node
// with node.NewNode as usual and adds pexp2p discovery in three lines:
// cometnode.New before NewNode, its Option in NewNode, and Err after.
func Example() {
	config := cmtcfg.DefaultConfig()
	config.SetRoot(os.Getenv("CHAIN_HOME"))
	config.P2P.LibP2PConfig.Enabled = true // CometBFT's libp2p switch
	config.P2P.PexReactor = true           // pexp2p's PEX on top of it
	config.P2P.Seeds = "/ip4/203.0.113.7/udp/26656/quic-v1/p2p/12D3KooWKuWetP1C2sPPkcVMPSxeSGf44BU9JS9NxP7eZdTacG8a"
	logger := cmtlog.NewTMLogger(cmtlog.NewSyncWriter(os.Stdout))

	// Before NewNode: NewNode turns [p2p] pex off whenever libp2p is on.
	discovery, err := cometnode.New(config, logger)
	if err != nil {
		fmt.Println("discovery settings:", err)
		return
	}
	nodeKey, err := p2p.LoadOrGenNodeKey(config.NodeKeyFile())
	if err != nil {
		fmt.Println(err)
		return
	}
	n, err := node.NewNode(config,
		privval.LoadOrGenFilePV(config.PrivValidatorKeyFile(), config.PrivValidatorStateFile()),
		nodeKey,
		proxy.NewLocalClientCreator(kvstore.NewInMemoryApplication()), // your application
		node.DefaultGenesisDocProviderFunc(config),
		cmtcfg.DefaultDBProvider,
		node.DefaultMetricsProvider(config.Instrumentation),
		logger,
		discovery.Option(),
	)
	if err == nil {
		err = discovery.Err()
	}
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := n.Start(); err != nil {
		fmt.Println(err)
		return
	}
	// ... wait for a signal, then: n.Stop() stops discovery and saves the
	// address book too.
}

// Chains whose main hands a node.Provider to CometBFT's command set get
// the same with one line.
func ExampleProvider() {
	provider := cometnode.Provider()
	_ = provider // cmd.NewRunNodeCmd(provider) in your main
}
