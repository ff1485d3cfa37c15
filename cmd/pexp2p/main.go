// Command pexp2p runs CometBFT's peer exchange and address book over
// libp2p: as a node, a seed/crawler or a bridge to a classic CometBFT
// network, plus offline tools for node keys and address books and a
// loopback testnet that shows discovery converging.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	logging "github.com/ipfs/go-log/v2"
	"github.com/libp2p/go-libp2p/gologshim"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/pexp2p/pexp2p/addrbook"
	"github.com/pexp2p/pexp2p/transport"
)

var log = logging.Logger("cmd")

func init() {
	// go-libp2p logs through slog; route it into go-log so one
	// GOLOG_LOG_LEVEL governs every subsystem. It must happen before the
	// first libp2p log line, hence init.
	gologshim.SetDefaultHandler(logging.SlogHandler())
}

// slogFor gives a slog.Logger writing to go-log's subsystem name, for the
// packages that take a *slog.Logger (addrbook).
func slogFor(subsystem string) *slog.Logger {
	return slog.New(logging.SlogHandler()).With("logger", subsystem)
}

// Exit statuses: 2 for bad input (the contract scripts rely on), 1 for
// everything else that failed.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes one command line; tests call it in-process.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRootCmd()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	fmt.Fprintf(stderr, "Error: %v\n", err)
	if isUsageError(err) {
		return exitUsage
	}
	return exitFailure
}

// isUsageError decides the exit status: bad flags, arguments, config,
// peers, keys and files the user pointed at are the user's to fix.
func isUsageError(err error) bool {
	for _, target := range []error{
		ErrUsage,
		transport.ErrNodeKey,
		transport.ErrConfigPeer,
		transport.ErrMultiaddr,
		transport.ErrPeerID,
		addrbook.ErrInvalidID,
		addrbook.ErrInvalidAddress,
		syscall.EADDRINUSE,
	} {
		if errors.Is(err, target) {
			return true
		}
	}
	return false
}

func usage(what, value string, err error) error {
	return &UsageError{What: what, Value: value, Err: err}
}

// usageArgs marks argument-count errors as usage errors.
func usageArgs(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := check(cmd, args); err != nil {
			return usage("arguments of "+cmd.CommandPath(), "", err)
		}
		return nil
	}
}

// globals are the root's persistent flags.
type globals struct {
	home string
}

func defaultHome() string {
	if h := os.Getenv("PEXP2P_HOME"); h != "" {
		return h
	}
	d, err := os.UserHomeDir()
	if err != nil {
		return ".pexp2p"
	}
	return filepath.Join(d, ".pexp2p")
}

func newRootCmd() *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:   "pexp2p",
		Short: "CometBFT peer exchange (PEX) and address book over libp2p",
		Long: `pexp2p runs CometBFT's PEX reactor and bucketed address book over libp2p.
It can run a node, a seed (crawler), or a bridge to a classic CometBFT
network, and it shows discovery converging on a loopback testnet:

    pexp2p testnet

Logs: set GOLOG_LOG_LEVEL (e.g. "info", or "pex=debug,transport=info").`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			return cmd.Help()
		},
	}
	root.PersistentFlags().StringVar(&g.home, "home", defaultHome(), "directory for config and data (env PEXP2P_HOME)")
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return usage("flags of "+cmd.CommandPath(), "", err)
	})
	root.SetGlobalNormalizationFunc(func(f *pflag.FlagSet, name string) pflag.NormalizedName {
		// CometBFT spells this flag with a dash; the config key has an
		// underscore. Accept both.
		if name == "chain-id" {
			name = "chain_id"
		}
		return pflag.NormalizedName(name)
	})
	root.AddCommand(
		newInitCmd(g),
		newShowNodeIDCmd(g),
		newGenNodeKeyCmd(g),
		newAddrbookCmd(g),
		newStartCmd(g),
		newTestnetCmd(),
		newCrawlCmd(g),
		newBridgeCmd(g),
		newCometBFTCmd(),
		newE2ECmd(),
	)
	return root
}

// loadConfig reads home's config and applies the flags the user set.
func loadConfig(g *globals, cf *configFlags) (Config, error) {
	c, err := LoadConfig(g.home)
	if err != nil {
		return c, err
	}
	if err := cf.apply(&c); err != nil {
		return c, err
	}
	return c, c.Validate()
}
