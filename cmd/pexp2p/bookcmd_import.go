package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/pexp2p/pexp2p/addrbook"
	"github.com/pexp2p/pexp2p/transport"
)

func newAddrbookImportCmd(f *bookFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "import FILE",
		Short: "Add the addresses of an addrbook.json (CometBFT's or pexp2p's) or of a file of peer strings",
		Long: `Add addresses to the book file. FILE is either an address book JSON file
(CometBFT's addrbook.json or pexp2p's) or a text file of peer strings, one
or more per line, comma-separated, '#' starting a comment: on the libp2p
book <peer ID>@ip:port or /ip4/…/p2p/<peer ID>; on the classic book
(--classic) <40-hex ID>@ip:port. A CometBFT addrbook.json has 40-hex IDs,
so it goes into the classic book: a CometBFT ID cannot be turned into a
libp2p peer ID without the node's key.`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			t, err := f.target()
			if err != nil {
				return err
			}
			res, err := importFile(t, args[0])
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if f.asJSON {
				return json.NewEncoder(out).Encode(map[string]any{"file": t.path, "added": res.added, "size": res.size, "dropped": res.dropped})
			}
			fmt.Fprintf(out, "imported %d new addresses into %s (size now %d)\n", res.added, t.path, res.size)
			for _, k := range slices.Sorted(maps.Keys(res.dropped)) {
				fmt.Fprintf(cmd.ErrOrStderr(), "skipped %d: %s\n", res.dropped[k], k)
			}
			if res.bookFile && t.rule == transport.PeerIDs && res.added == 0 && len(res.dropped) > 0 {
				fmt.Fprintln(cmd.ErrOrStderr(), "hint: a CometBFT addrbook.json holds 40-hex IDs; import it with --classic")
			}
			return nil
		},
	}
}

type importResult struct {
	added, size int
	dropped     map[string]int // reason -> count
	bookFile    bool           // the input was an address book JSON file
}

// importFile adds the addresses of name to the book file t. The input is
// parsed fully before the book is opened, so a bad file changes nothing
// on disk.
func importFile(t bookTarget, name string) (importResult, error) {
	data, err := os.ReadFile(name)
	if err != nil {
		return importResult{}, usage("import file", name, err)
	}
	res := importResult{bookFile: bytes.HasPrefix(bytes.TrimSpace(data), []byte("{"))}
	var peers []addrbook.NetAddress
	if !res.bookFile {
		if peers, err = parsePeerFile(t.rule, name, data); err != nil {
			return res, err
		}
	} else {
		probe, _ := addrbook.New(addrbook.Options{IDRule: t.rule, Strict: t.strict})
		if _, err := probe.LoadBytes(data); err != nil {
			return res, usage("import file", name, err)
		}
	}
	if err := ensureDir(t.path); err != nil {
		return res, err
	}
	b, err := addrbook.New(addrbook.Options{FilePath: t.path, IDRule: t.rule, Strict: t.strict, Logger: slogFor("addrbook")})
	if err != nil {
		return res, err
	}
	if err := b.Start(); err != nil {
		return res, err
	}
	before := b.Size()
	if res.bookFile {
		st, err := b.LoadBytes(data)
		if err != nil {
			_ = b.Stop()
			return res, usage("import file", name, err)
		}
		res.dropped = st.Dropped
	} else {
		res.dropped = map[string]int{}
		for _, na := range peers {
			if err := b.AddAddress(na, na); err != nil {
				var ae *addrbook.AddError
				if errors.As(err, &ae) && ae.Reason != nil {
					res.dropped[ae.Reason.Error()]++
				} else {
					res.dropped[err.Error()]++
				}
			}
		}
	}
	res.size = b.Size()
	res.added = res.size - before
	// Stop saves the book: its error is the import's.
	return res, b.Stop()
}

// parsePeerFile reads peer strings: comma- or line-separated, '#' comments.
func parsePeerFile(rule addrbook.IDRule, name string, data []byte) ([]addrbook.NetAddress, error) {
	var out []addrbook.NetAddress
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		text := sc.Text()
		if i := strings.IndexByte(text, '#'); i >= 0 {
			text = text[:i]
		}
		for _, part := range strings.Split(text, ",") {
			part = strings.TrimSpace(part)
			if part == "" {
				continue
			}
			na, err := parsePeerString(rule, part)
			if err != nil {
				return nil, usage(fmt.Sprintf("import file %s line %d", name, line), part, err)
			}
			out = append(out, na)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, usage("import file", name, err)
	}
	return out, nil
}

// parsePeerString turns one configured peer into a book address; a peer
// known only by DNS name has no book address (the book stores IPs only).
func parsePeerString(rule addrbook.IDRule, s string) (addrbook.NetAddress, error) {
	if rule != transport.PeerIDs {
		return addrbook.ParseNetAddress(rule, s)
	}
	cp, err := transport.ParseConfigPeer(s)
	if err != nil {
		return addrbook.NetAddress{}, err
	}
	na, ok := cp.NetAddress()
	if !ok {
		return addrbook.NetAddress{}, errors.New("no IP address (DNS names are resolved when dialing and never stored in the book)")
	}
	return na, nil
}
