package main

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"

	cmtcmd "github.com/cometbft/cometbft/cmd/cometbft/commands"
	"github.com/cometbft/cometbft/cmd/cometbft/commands/debug"
	cmtcfg "github.com/cometbft/cometbft/config"
	"github.com/cometbft/cometbft/libs/cli"
	cmtlog "github.com/cometbft/cometbft/libs/log"
	"github.com/cometbft/cometbft/node"
	"github.com/spf13/cobra"
	"github.com/spf13/viper"

	"github.com/pexp2p/pexp2p/cometnode"
)

// newCometBFTCmd is CometBFT v0.40's own command set under `pexp2p
// cometbft`, with the same flags and files, except that libp2p is on by
// default and a libp2p node finds its peers through pexp2p's PEX
// (cometnode.Provider). Its arguments go to CometBFT's parser untouched.
func newCometBFTCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "cometbft [command] [flags]",
		Short: "Run CometBFT v0.40 (init, start, testnet, …) over libp2p with pexp2p discovery",
		Long: `pexp2p cometbft is a drop-in for the cometbft v0.40 binary: the same
commands, flags, files and CMT_* environment, with [p2p.libp2p] enabled
by default and pexp2p's PEX and address book running inside the node, so
that a validator or full node over libp2p finds its peers from one seed:

    pexp2p cometbft init --home ./node
    pexp2p cometbft start --home ./node --proxy_app kvstore \
        --p2p.seeds /ip4/203.0.113.7/udp/26656/quic-v1/p2p/12D3KooW…

--p2p.seed_mode runs a seed; --p2p.pex=false shows upstream's behaviour
(no discovery). See docs/cometbft.md.`,
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runCometBFT(args)
		},
	}
}

// runCometBFT builds upstream's root command (it is a package-level
// value, so this runs at most once per process) and executes args.
func runCometBFT(args []string) error {
	viper.SetDefault("p2p.libp2p.enabled", true)
	start := cmtcmd.NewRunNodeCmd(func(c *cmtcfg.Config, l cmtlog.Logger) (*node.Node, error) {
		// CometBFT's pre-run has bound every flag to viper and read
		// config.toml into it by now, so each key resolves as CometBFT's
		// own do: flag, then CMT_PEXP2P_<KEY>, then [pexp2p] in the file.
		adjust, err := pexp2pSettings(viper.Get)
		if err != nil {
			return nil, err
		}
		return cometnode.Provider(cometnode.WithSettings(adjust))(c, l)
	})
	addPexp2pFlags(start.Flags())
	root := cmtcmd.RootCmd
	root.Use = "cometbft"
	root.AddCommand(
		cmtcmd.GenValidatorCmd,
		cmtcmd.InitFilesCmd,
		cmtcmd.LightCmd,
		cmtcmd.ReplayCmd,
		cmtcmd.ReplayConsoleCmd,
		cmtcmd.ResetAllCmd,
		cmtcmd.ResetPrivValidatorCmd,
		cmtcmd.ResetStateCmd,
		cmtcmd.ShowValidatorCmd,
		cmtcmd.TestnetFilesCmd,
		cmtcmd.ShowNodeIDCmd,
		cmtcmd.ReIndexEventCmd,
		cmtcmd.GenNodeKeyCmd,
		cmtcmd.VersionCmd,
		cmtcmd.RollbackStateCmd,
		cmtcmd.CompactGoLevelDBCmd,
		cmtcmd.InspectCmd,
		debug.DebugCmd,
		start,
	)
	exec := cli.PrepareBaseCmd(root, "CMT", os.ExpandEnv(filepath.Join("$HOME", cmtcfg.DefaultCometDir)))
	upstreamPreRun := root.PersistentPreRunE
	root.PersistentPreRunE = func(cmd *cobra.Command, args []string) error {
		if err := writeLibp2pConfig(cmd); err != nil {
			return err
		}
		return upstreamPreRun(cmd, args)
	}
	root.SetArgs(args)
	root.SilenceUsage = true
	return exec.Command.Execute()
}

// writeLibp2pConfig writes a new home's config.toml with libp2p on before
// CometBFT's pre-run does: CometBFT writes its compiled-in default there
// (libp2p off), which the viper default set above cannot change. An
// existing config.toml is left as the operator wrote it.
func writeLibp2pConfig(cmd *cobra.Command) error {
	home := os.Getenv("CMTHOME")
	if home == "" {
		home, _ = cmd.Flags().GetString(cli.HomeFlag)
	}
	if home == "" || cmd.Name() == cmtcmd.VersionCmd.Name() {
		return nil
	}
	path := filepath.Join(home, "config", "config.toml")
	if _, err := os.Stat(path); err == nil || !errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	c := cmtcfg.DefaultConfig()
	c.P2P.LibP2PConfig.Enabled = true
	cmtcfg.WriteConfigFile(path, c)
	return nil
}
