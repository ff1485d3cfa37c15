package main

import (
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/pexp2p/pexp2p/addrbook"
	"github.com/pexp2p/pexp2p/transport"
)

// listRow is one line of `addrbook list --json`: the entry in upstream's
// file schema, with what an operator needs to dial it on either face.
type listRow struct {
	addrbook.FileEntry
	Type       string   `json:"type"`
	CometID    string   `json:"comet_id,omitempty"`
	Multiaddrs []string `json:"multiaddrs,omitempty"`
}

func newAddrbookListCmd(f *bookFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List every address with its bucket type, attempts and last success",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			t, b, ls, err := f.open()
			if err != nil {
				return err
			}
			entries := b.Entries()
			slices.SortFunc(entries, func(x, y addrbook.Entry) int { return strings.Compare(x.Addr.ID, y.Addr.ID) })
			out := cmd.OutOrStdout()
			if f.asJSON {
				rows := make([]listRow, 0, len(entries))
				for _, e := range entries {
					rows = append(rows, listRowOf(e, t.rule))
				}
				return writeIndentedJSON(out, rows)
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "TYPE\tADDRESS\tATTEMPTS\tLAST SUCCESS")
			for _, e := range entries {
				last := "-"
				if !e.LastSuccess.IsZero() {
					last = e.LastSuccess.UTC().Format(time.RFC3339)
				}
				fmt.Fprintf(tw, "%s\t%s\t%d\t%s\n", typeName(e.Old), e.Addr, e.Attempts, last)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			printDropped(cmd.ErrOrStderr(), ls)
			return nil
		},
	}
}

// listRowOf adds, on the libp2p book, the CometBFT ID and the multiaddrs;
// a peer ID without an inlined ed25519 key has no CometBFT ID, so that
// field stays empty rather than failing the listing.
func listRowOf(e addrbook.Entry, rule addrbook.IDRule) listRow {
	r := listRow{FileEntry: e.FileEntry(), Type: typeName(e.Old)}
	if rule != transport.PeerIDs {
		return r
	}
	r.CometID, _ = transport.CometIDFromPeerIDText(e.Addr.ID)
	if mas, err := transport.NetAddressToMultiaddrs(e.Addr); err == nil {
		for _, m := range mas {
			r.Multiaddrs = append(r.Multiaddrs, m.String())
		}
	}
	return r
}

func typeName(old bool) string {
	if old {
		return "old"
	}
	return "new"
}
