package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"time"

	"github.com/spf13/cobra"

	"github.com/pexp2p/pexp2p/addrbook"
	"github.com/pexp2p/pexp2p/transport"
)

// Upstream's bucket type codes, as its addrbook.json stores them.
const (
	bucketTypeNew = 1
	bucketTypeOld = 2
)

// addrView and entryView are one entry of upstream's addrbook.json, with
// exactly upstream's fields: what `export --format cometbft` writes and
// what `list --json` shows per row.
type addrView struct {
	ID   string `json:"id"`
	IP   string `json:"ip"`
	Port uint16 `json:"port"`
}

type entryView struct {
	Addr        addrView  `json:"addr"`
	Src         addrView  `json:"src"`
	Buckets     []int     `json:"buckets"`
	Attempts    int       `json:"attempts"`
	BucketType  byte      `json:"bucket_type"`
	LastAttempt time.Time `json:"last_attempt"`
	LastSuccess time.Time `json:"last_success"`
	// LastBanTime is always zero: a banned address is not in the book.
	LastBanTime time.Time `json:"last_ban_time"`
}

// cometFile is upstream's addrbook.json, and nothing more.
type cometFile struct {
	Key   string      `json:"key"`
	Addrs []entryView `json:"addrs"`
}

func addrViewOf(na addrbook.NetAddress) addrView {
	v := addrView{ID: na.ID, Port: na.Port}
	if na.IP.IsValid() {
		v.IP = na.IP.String()
	}
	return v
}

func entryViewOf(e addrbook.Entry) entryView {
	v := entryView{
		Addr:        addrViewOf(e.Addr),
		Src:         addrViewOf(e.Src),
		Buckets:     e.Buckets,
		Attempts:    e.Attempts,
		BucketType:  bucketTypeNew,
		LastAttempt: e.LastAttempt,
		LastSuccess: e.LastSuccess,
	}
	if e.Old {
		v.BucketType = bucketTypeOld
	}
	return v
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
	// On the libp2p book every ID becomes the CometBFT ID of its key.
	conv := func(a addrView) (addrView, error) {
		if rule != transport.PeerIDs {
			return a, nil
		}
		cid, err := transport.CometIDFromPeerIDText(a.ID)
		if err != nil {
			return a, err
		}
		a.ID = cid
		return a, nil
	}
	entries := b.Entries()
	f := cometFile{Key: b.Key(), Addrs: make([]entryView, 0, len(entries))}
	for _, e := range entries {
		v := entryViewOf(e)
		addr, err := conv(v.Addr)
		if err != nil {
			// A peer ID without an inlined ed25519 key has no CometBFT ID.
			log.Warnw("export: address skipped", "addr", e.Addr.String(), "err", err)
			continue
		}
		src, err := conv(v.Src)
		if err != nil {
			src = addr
		}
		v.Addr, v.Src = addr, src
		f.Addrs = append(f.Addrs, v)
	}
	out, err := json.MarshalIndent(f, "", "\t")
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}
