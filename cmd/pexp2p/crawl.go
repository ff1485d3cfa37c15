package main

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/pexp2p/pexp2p/addrbook"
	"github.com/pexp2p/pexp2p/pex"
	"github.com/pexp2p/pexp2p/transport"
)

// seenHandler records every peer that completed a connection, in either
// direction: that is what "reachable" means in the crawl report.
type seenHandler struct {
	transport.Handler
	mu   sync.Mutex
	seen map[string]bool
}

func (h *seenHandler) AddPeer(p pex.PeerInfo) {
	h.mu.Lock()
	h.seen[p.ID] = true
	h.mu.Unlock()
	h.Handler.AddPeer(p)
}

func (h *seenHandler) wasSeen(id string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.seen[id]
}

// CrawlNode is one line of the crawl report.
type CrawlNode struct {
	Multiaddr string `json:"multiaddr"`
	PeerID    string `json:"peer_id"`
	ID        string `json:"id"`
	// Status: "reachable" (we connected to it or it to us), "unreachable"
	// (dialed and failed), "not tried" (learned too late to dial).
	Status string `json:"status"`
}

func newCrawlCmd(g *globals) *cobra.Command {
	var (
		cf       *configFlags
		duration time.Duration
		asJSON   bool
	)
	cmd := &cobra.Command{
		Use:   "crawl SEED...",
		Short: "Crawl the network from seeds (seed mode, in-memory book, throw-away key) and print every node found",
		Long: `Run a short-lived crawler: a libp2p-face node in seed mode with a throw-away
key and an in-memory book, started from the SEED arguments (multiaddrs
with /p2p/<peer ID>, or <peer ID>@host:port) plus any p2p.seeds. After
--duration it prints every node it learned: a multiaddr, both IDs, and
whether it was reachable. The chain ID must match the network's
(--chain_id, or chain_id in --home's config): peers of another network
are dropped during the NodeInfo exchange.`,
		Args: usageArgs(cobra.MinimumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := loadConfig(g, cf)
			if err != nil {
				return err
			}
			if duration <= 0 {
				return usage("flag --duration", duration.String(), errors.New("must be positive"))
			}
			seeds := append(splitList(c.P2P.Seeds), args...)
			seedPeers, err := transport.ParseConfigPeers(strings.Join(seeds, ","))
			if err != nil {
				return usage("seed", strings.Join(args, " "), err)
			}
			c.P2P.Seeds = strings.Join(seeds, ",")
			c.P2P.SeedMode = true
			c.P2P.PEX = true
			if !cmd.Flags().Changed("p2p.laddr") {
				// A crawler needs no fixed port and must not collide with a
				// node running from the same home.
				c.P2P.Laddr = "/ip4/0.0.0.0/udp/0/quic-v1,/ip4/0.0.0.0/tcp/0"
			}
			key, err := transport.GenNodeKey(nil)
			if err != nil {
				return err
			}
			crawlPeriod := max(duration/8, 500*time.Millisecond)
			n, err := newP2PNode(nodeOptions{cfg: c, key: key, home: g.home, pexOverride: func(pc *pex.Config) {
				pc.CrawlPeerPeriod = crawlPeriod
				pc.MinTimeBetweenCrawls = duration
				// Let peers go once asked, so inbound slots of the
				// crawled nodes are not held for the whole crawl.
				pc.SeedDisconnectWaitPeriod = crawlPeriod
			}})
			if err != nil {
				return err
			}
			var seen *seenHandler
			n.WrapHandler(func(h transport.Handler) transport.Handler {
				seen = &seenHandler{Handler: h, seen: map[string]bool{}}
				return seen
			})
			if err := n.Start(); err != nil {
				return err
			}
			// The reactor never stores seeds in the book (as upstream); the
			// crawler's book is also its report, where seeds belong.
			for _, sp := range seedPeers {
				if na, ok := sp.NetAddress(); ok {
					_ = n.Book.AddAddress(na, na)
				}
			}
			if !asJSON {
				fmt.Fprintf(cmd.ErrOrStderr(), "crawling for %v from %d seed(s) as %s…\n", duration, len(seeds), key.PeerID())
			}
			select {
			case <-cmd.Context().Done():
			case <-time.After(duration):
			}
			entries := n.Book.Entries()
			if err := n.Stop(); err != nil {
				log.Warnw("stopping crawler", "err", err)
			}
			nodes := crawlReport(entries, seen.wasSeen)
			out := cmd.OutOrStdout()
			if asJSON {
				return writeIndentedJSON(out, nodes)
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "STATUS\tMULTIADDR\tCOMETBFT ID")
			for _, x := range nodes {
				fmt.Fprintf(tw, "%s\t%s\t%s\n", x.Status, x.Multiaddr, x.ID)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			reach := 0
			for _, x := range nodes {
				if x.Status == "reachable" {
					reach++
				}
			}
			fmt.Fprintf(out, "%d nodes found, %d reachable\n", len(nodes), reach)
			return nil
		},
	}
	cmd.Flags().DurationVar(&duration, "duration", 30*time.Second, "how long to crawl")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print a JSON array of {multiaddr, peer_id, id, status}")
	cf = addConfigFlags(cmd.Flags())
	return cmd
}

func crawlReport(entries []addrbook.Entry, seen func(string) bool) []CrawlNode {
	out := make([]CrawlNode, 0, len(entries))
	for _, e := range entries {
		x := CrawlNode{PeerID: e.Addr.ID, Status: "not tried"}
		x.ID, _ = transport.CometIDFromPeerIDText(e.Addr.ID)
		if mas, err := transport.NetAddressToMultiaddrs(e.Addr); err == nil && len(mas) > 0 {
			x.Multiaddr = mas[0].String()
		}
		switch {
		case seen(e.Addr.ID):
			x.Status = "reachable"
		case e.Attempts > 0:
			x.Status = "unreachable"
		}
		out = append(out, x)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].PeerID < out[j].PeerID })
	return out
}
