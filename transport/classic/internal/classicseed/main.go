// Command classicseed runs the bridge's classic face alone — upstream's
// switch and transport with this project's PEX reactor and address book —
// for interop/cometbft-binary.sh when the full `pexp2p bridge` command is
// not available. It prints "classic_addr=<id>@<ip>:<port>" once listening
// and runs until SIGINT or SIGTERM.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/cometbft/cometbft/p2p"

	"github.com/pexp2p/pexp2p/addrbook"
	"github.com/pexp2p/pexp2p/pex"
	"github.com/pexp2p/pexp2p/transport/classic"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "classicseed:", err)
		os.Exit(1)
	}
}

func run() error {
	home := flag.String("home", "", "directory for node_key.json and addrbook.json (required)")
	laddr := flag.String("laddr", "tcp://127.0.0.1:26656", "classic listen address")
	chainID := flag.String("chain-id", "", "chain ID (NodeInfo network) of the classic nodes (required)")
	seedMode := flag.Bool("seed-mode", false, "run the reactor in seed (crawler) mode")
	strict := flag.Bool("addr-book-strict", false, "refuse unroutable addresses (false for loopback tests)")
	period := flag.Duration("ensure-peers-period", pex.DefaultEnsurePeersPeriod, "PEX ensure-peers period")
	flag.Parse()
	if *home == "" || *chainID == "" {
		flag.Usage()
		return fmt.Errorf("--home and --chain-id are required")
	}
	if err := os.MkdirAll(*home, 0o700); err != nil {
		return err
	}
	key, err := p2p.LoadOrGenNodeKey(filepath.Join(*home, "node_key.json"))
	if err != nil {
		return err
	}
	book, err := addrbook.New(addrbook.Options{
		FilePath: filepath.Join(*home, "addrbook.json"),
		Strict:   *strict,
		IDRule:   addrbook.ClassicIDs,
	})
	if err != nil {
		return err
	}
	p2pCfg := classicP2PConfig()
	face, err := classic.New(classic.Config{
		NodeKey:    key,
		ChainID:    *chainID,
		ListenAddr: *laddr,
		Moniker:    "pexp2p-classicseed",
		P2P:        p2pCfg,
		Book:       book,
	})
	if err != nil {
		return err
	}
	cfg := pex.DefaultConfig()
	cfg.IDRule = addrbook.ClassicIDs
	cfg.SeedMode = *seedMode
	cfg.EnsurePeersPeriod = *period
	r := pex.NewReactor(book, face, cfg)
	face.SetHandler(r)
	if err := face.Start(); err != nil {
		return err
	}
	if err := r.Start(); err != nil {
		_ = face.Stop()
		return err
	}
	fmt.Printf("classic_addr=%s\n", face.NetAddress())

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	stats := time.NewTicker(5 * time.Second)
	defer stats.Stop()
	for {
		select {
		case <-sig:
			err := r.Stop()
			if ferr := face.Stop(); err == nil {
				err = ferr
			}
			return err
		case <-stats.C:
			out, in, dialing := face.NumPeers()
			fmt.Printf("peers out=%d in=%d dialing=%d book=%d\n", out, in, dialing, book.Size())
		}
	}
}
