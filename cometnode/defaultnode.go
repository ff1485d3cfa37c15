package cometnode

import (
	"fmt"

	cmtcfg "github.com/cometbft/cometbft/config"
	cmtlog "github.com/cometbft/cometbft/libs/log"
	"github.com/cometbft/cometbft/node"
	"github.com/cometbft/cometbft/p2p"
	"github.com/cometbft/cometbft/privval"
	"github.com/cometbft/cometbft/proxy"
)

// newDefaultNode builds the node exactly as node.DefaultNewNode does (file
// validator key, the configured ABCI app, genesis from the config's file,
// default databases and metrics), plus options, which DefaultNewNode
// does not take.
func newDefaultNode(c *cmtcfg.Config, logger cmtlog.Logger, opts ...node.Option) (*node.Node, error) {
	nodeKey, err := p2p.LoadOrGenNodeKey(c.NodeKeyFile())
	if err != nil {
		return nil, fmt.Errorf("failed to load or gen node key %s: %w", c.NodeKeyFile(), err)
	}
	return node.NewNode(c,
		privval.LoadOrGenFilePV(c.PrivValidatorKeyFile(), c.PrivValidatorStateFile()),
		nodeKey,
		proxy.DefaultClientCreator(c.ProxyApp, c.ABCI, c.DBDir()),
		node.DefaultGenesisDocProviderFunc(c),
		cmtcfg.DefaultDBProvider,
		node.DefaultMetricsProvider(c.Instrumentation),
		logger,
		opts...,
	)
}
