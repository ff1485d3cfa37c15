package main

import (
	"bytes"
	"encoding/json"
	"errors"

	"github.com/spf13/cobra"

	"github.com/pexp2p/pexp2p/addrbook"
	"github.com/pexp2p/pexp2p/transport"
)

// cometFile is upstream's addrbook.json, and nothing more.
type cometFile struct {
	Key   string               `json:"key"`
	Addrs []addrbook.FileEntry `json:"addrs"`
}

func newAddrbookExportCmd(f *bookFlags) *cobra.Command {
	var format, output string
	cmd := &cobra.Command{
		Use:   "export",
		Short: "Write the book (default format pexp2p; --format cometbft for CometBFT's addrbook.json, peers for peer strings)",
		Long: `Write the book to --output (default stdout).

  --format pexp2p    the book file as pexp2p writes it (CometBFT loads it too)
  --format cometbft  CometBFT's addrbook.json: only upstream's fields, and on
                     the libp2p book every peer ID replaced by the CometBFT ID
                     derived from its key (the port stays the libp2p port)
  --format peers     one peer string per line (usable as seeds or for import)`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			t, b, _, err := f.open()
			if err != nil {
				return err
			}
			var data []byte
			switch format {
			case "pexp2p", "":
				data = b.Marshal()
			case "cometbft":
				if data, err = exportCometBFT(b, t.rule); err != nil {
					return err
				}
			case "peers":
				var buf bytes.Buffer
				for _, e := range b.Entries() {
					buf.WriteString(e.Addr.String() + "\n")
				}
				data = buf.Bytes()
			default:
				return usage("flag --format", format, errors.New("want pexp2p, cometbft or peers"))
			}
			if output == "" || output == "-" {
				_, err := cmd.OutOrStdout().Write(data)
				return err
			}
			if err := writeNewFile(output, data, 0o644); err != nil {
				return usage("flag --output", output, err)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&format, "format", "pexp2p", "pexp2p, cometbft or peers")
	cmd.Flags().StringVarP(&output, "output", "o", "", "file to write (must not exist; default stdout)")
	return cmd
}

// exportCometBFT writes the book in upstream's format. Bucket indices are
// kept: upstream trusts them on load, and they are in its ranges since the
// bucket counts are the same.
func exportCometBFT(b *addrbook.Book, rule addrbook.IDRule) ([]byte, error) {
	entries := b.Entries()
	f := cometFile{Key: b.Key(), Addrs: make([]addrbook.FileEntry, 0, len(entries))}
	for _, e := range entries {
		fe := e.FileEntry()
		if rule == transport.PeerIDs {
			// Every ID becomes the CometBFT ID of its key. A peer ID
			// without an inlined ed25519 key has none: such an address
			// is left out, and such a source is replaced by the address.
			cid, err := transport.CometIDFromPeerIDText(fe.Addr.ID)
			if err != nil {
				log.Warnw("export: address skipped", "addr", e.Addr.String(), "err", err)
				continue
			}
			fe.Addr.ID = cid
			if scid, err := transport.CometIDFromPeerIDText(fe.Src.ID); err == nil {
				fe.Src.ID = scid
			} else {
				src := *fe.Addr
				fe.Src = &src
			}
		}
		f.Addrs = append(f.Addrs, fe)
	}
	out, err := json.MarshalIndent(f, "", "\t")
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}
