package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	"github.com/pexp2p/pexp2p/addrbook"
	"github.com/pexp2p/pexp2p/internal/errmsg"
	"github.com/pexp2p/pexp2p/pex"
	"github.com/pexp2p/pexp2p/pexnode"
	"github.com/pexp2p/pexp2p/transport"
)

// loadNodeKeyForRun loads the key without ever creating one: a node that
// silently got a new identity would look like a stranger to its peers.
func loadNodeKeyForRun(g *globals, c *Config) (*transport.NodeKey, error) {
	path := nodeKeyPath(g, c)
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil, &transport.NodeKeyError{Path: path, Reasoned: errmsg.Reasoned{Reason: "missing; run `pexp2p init` first (or copy a CometBFT node_key.json there)", Err: err}}
	}
	return transport.LoadNodeKey(path)
}

func newStartCmd(g *globals) *cobra.Command {
	var cf *configFlags
	cmd := &cobra.Command{
		Use:     "start",
		Aliases: []string{"node"},
		Short:   "Run a node (or a seed with --p2p.seed_mode) on the libp2p face",
		Long: `Run a node: the libp2p host on p2p.laddr, the PEX reactor and the
address book, and the HTTP server on rpc.laddr (GET /net_info, /addrbook,
/metrics). With classic.laddr set, a classic CometBFT face runs too and
the bridge joins the two (see "pexp2p bridge"). SIGINT or SIGTERM stops
dialing, saves the address book and exits 0.`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := loadConfig(g, cf)
			if err != nil {
				return err
			}
			return runNode(cmd, g, c, c.Classic.Laddr != "")
		},
	}
	cf = addConfigFlags(cmd.Flags())
	return cmd
}

// runNode runs the libp2p face (and, with classic, the classic face and
// the bridge) until the command's context ends.
func runNode(cmd *cobra.Command, g *globals, c Config, classic bool) error {
	out := cmd.OutOrStdout()
	key, err := loadNodeKeyForRun(g, &c)
	if err != nil {
		return err
	}
	reg := pexnode.NewRegistry()
	// Every PEX metric carries face="libp2p" or face="classic", so a
	// bridge's two faces share one registry and dashboards work the same
	// with and without a classic face.
	lreg := prometheus.WrapRegistererWith(prometheus.Labels{"face": "libp2p"}, reg)
	metrics, err := pexnode.NewMetrics(lreg)
	if err != nil {
		return err
	}
	rpc := &rpcServer{reg: reg}
	if c.RPC.Laddr != "" {
		// Bound first: a port in use fails before anything else starts.
		if err := rpc.listen(c.RPC.Laddr); err != nil {
			return err
		}
		defer rpc.ln.Close()
	}
	n, err := newP2PNode(nodeOptions{cfg: c, key: key, bookPath: abs(g.home, c.P2P.AddrBookFile), home: g.home, observers: []pex.Observer{metrics}})
	if err != nil {
		return err
	}
	if err := pexnode.RegisterGauges(lreg, n.Transport, n.Book); err != nil {
		return err
	}
	rpc.peers, rpc.book, rpc.remoteAddr = n.Transport, n.Book, n.RemoteAddr

	var br *bridgeRun
	if classic {
		if br, err = newBridgeRun(g, c, key, n, reg); err != nil {
			return err
		}
	}
	if err := n.Start(); err != nil {
		return err
	}
	reportBookLoad(cmd.ErrOrStderr(), n.Book.FilePath(), n.Book.LoadStats())
	if br != nil {
		if err := br.start(); err != nil {
			_ = n.Stop()
			return err
		}
	}
	mode := "node"
	if c.P2P.SeedMode {
		mode = "seed"
	}
	fmt.Fprintf(out, "pexp2p %s started\nid: %s\npeer_id: %s\nListening on:\n", mode, key.CometID(), key.PeerID())
	for _, a := range n.Transport.FullAddrs() {
		fmt.Fprintf(out, "  %s\n", a)
	}
	if br != nil {
		fmt.Fprintf(out, "Classic face on: %s\n", br.face.ListenAddr())
	}
	if rpc.srv != nil {
		go rpc.serve()
		fmt.Fprintf(out, "RPC on http://%s (/net_info, /addrbook, /metrics)\n", rpc.Addr())
	}

	<-cmd.Context().Done()
	fmt.Fprintln(out, "Stopping: no more dials, saving the address book")
	var errs []error
	if br != nil {
		errs = append(errs, br.stop())
	}
	errs = append(errs, n.Stop(), rpc.shutdown())
	if err := errors.Join(errs...); err != nil {
		return err
	}
	fmt.Fprintf(out, "Saved %s; bye\n", n.Book.FilePath())
	return nil
}

// reportBookLoad warns about what loading the book file found: a
// corrupt file moved aside, entries dropped.
func reportBookLoad(w io.Writer, path string, st addrbook.LoadStats) {
	if st.CorruptMovedTo != "" {
		fmt.Fprintf(w, "warning: address book %s was unreadable; moved it to %s and started with an empty book\n", path, st.CorruptMovedTo)
	}
	printDropped(w, st)
}
