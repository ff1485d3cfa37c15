package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/pexp2p/pexp2p/addrbook"
	"github.com/pexp2p/pexp2p/transport"
)

// bookView is the book as its file form shows it. addrbook.Book exposes
// no per-entry or new/old accessors, so the command reads what the book
// itself marshals; that is also exactly what would be on disk.
type bookView struct {
	Key   string      `json:"key"`
	Addrs []entryView `json:"addrs"`
	Bans  []banView   `json:"bans"`
}

type addrView struct {
	ID   string `json:"id"`
	IP   string `json:"ip"`
	Port uint16 `json:"port"`
}

type entryView struct {
	Addr        addrView  `json:"addr"`
	Src         addrView  `json:"src"`
	Buckets     []int     `json:"buckets"`
	Attempts    int32     `json:"attempts"`
	BucketType  byte      `json:"bucket_type"`
	LastAttempt time.Time `json:"last_attempt"`
	LastSuccess time.Time `json:"last_success"`
	LastBanTime time.Time `json:"last_ban_time"`
}

type banView struct {
	ID    string    `json:"id"`
	Until time.Time `json:"until"`
}

// Upstream's bucket type codes, kept in the file format.
const (
	bucketTypeNew = 1
	bucketTypeOld = 2
)

func viewBook(b *addrbook.Book) (bookView, error) {
	var v bookView
	if err := json.Unmarshal(b.Marshal(), &v); err != nil {
		return v, fmt.Errorf("reading the book's own file form: %w", err)
	}
	return v, nil
}

// BookStats is GET /addrbook and `addrbook stats --json`.
type BookStats struct {
	Size   int `json:"size"`
	New    int `json:"new"`
	Old    int `json:"old"`
	Banned int `json:"banned"`
}

func statsOf(b *addrbook.Book) BookStats {
	c := b.Counts()
	return BookStats{Size: c.New + c.Old, New: c.New, Old: c.Old, Banned: c.Banned}
}

// bookTarget says which book file and ID kind a book command works on.
type bookTarget struct {
	path   string
	rule   addrbook.IDRule
	strict bool
}

func resolveBookTarget(g *globals, cf *configFlags, classic bool, file string) (bookTarget, error) {
	c, err := loadConfig(g, cf)
	if err != nil {
		return bookTarget{}, err
	}
	t := bookTarget{path: abs(g.home, c.P2P.AddrBookFile), rule: transport.PeerIDs, strict: c.P2P.AddrBookStrict}
	if classic {
		t.path, t.rule = abs(g.home, c.Classic.AddrBookFile), addrbook.ClassicIDs
	}
	if file != "" {
		t.path = file
	}
	return t, nil
}

// openReadOnly loads the book file into a book that has no file, so that
// reading a book never writes it (and never moves a corrupt one aside).
func openReadOnly(t bookTarget) (*addrbook.Book, addrbook.LoadStats, error) {
	b, err := addrbook.New(addrbook.Options{IDRule: t.rule, Strict: t.strict, Logger: slogFor("addrbook")})
	if err != nil {
		return nil, addrbook.LoadStats{}, err
	}
	data, err := os.ReadFile(t.path)
	if errors.Is(err, os.ErrNotExist) {
		return b, addrbook.LoadStats{}, nil
	}
	if err != nil {
		return nil, addrbook.LoadStats{}, usage("address book file", t.path, err)
	}
	st, err := b.LoadBytes(data)
	if err != nil {
		return nil, st, usage("address book file", t.path, err)
	}
	return b, st, nil
}

func newAddrbookCmd(g *globals) *cobra.Command {
	var (
		cf      *configFlags
		classic bool
		file    string
		asJSON  bool
	)
	cmd := &cobra.Command{
		Use:   "addrbook",
		Short: "Inspect, import and export the address book file (offline: stop the node first)",
		Args:  usageArgs(cobra.NoArgs),
		RunE:  func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	pf := cmd.PersistentFlags()
	pf.BoolVar(&classic, "classic", false, "work on the classic face's book ([classic] addr_book_file, 40-hex IDs)")
	pf.StringVar(&file, "file", "", "book file to use instead of the configured one")
	pf.BoolVar(&asJSON, "json", false, "JSON output")
	cf = addConfigFlags(pf)
	target := func() (bookTarget, error) { return resolveBookTarget(g, cf, classic, file) }
	// open resolves the book file and loads it read-only.
	open := func() (bookTarget, *addrbook.Book, addrbook.LoadStats, error) {
		t, err := target()
		if err != nil {
			return t, nil, addrbook.LoadStats{}, err
		}
		b, ls, err := openReadOnly(t)
		return t, b, ls, err
	}

	stats := &cobra.Command{
		Use:   "stats",
		Short: "Print the number of addresses (new, old) and bans",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			t, b, ls, err := open()
			if err != nil {
				return err
			}
			st := statsOf(b)
			out := cmd.OutOrStdout()
			if asJSON {
				return json.NewEncoder(out).Encode(st)
			}
			fmt.Fprintf(out, "file:   %s\nsize:   %d\nnew:    %d\nold:    %d\nbanned: %d\n", t.path, st.Size, st.New, st.Old, st.Banned)
			printDropped(cmd.ErrOrStderr(), ls)
			return nil
		},
	}

	list := &cobra.Command{
		Use:   "list",
		Short: "List every address with its bucket type, attempts and last success",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			t, b, ls, err := open()
			if err != nil {
				return err
			}
			v, err := viewBook(b)
			if err != nil {
				return err
			}
			sort.Slice(v.Addrs, func(i, j int) bool { return v.Addrs[i].Addr.ID < v.Addrs[j].Addr.ID })
			out := cmd.OutOrStdout()
			if asJSON {
				type row struct {
					entryView
					Type       string   `json:"type"`
					CometID    string   `json:"comet_id,omitempty"`
					Multiaddrs []string `json:"multiaddrs,omitempty"`
				}
				rows := make([]row, 0, len(v.Addrs))
				for _, e := range v.Addrs {
					r := row{entryView: e, Type: typeName(e.BucketType)}
					if t.rule == transport.PeerIDs {
						r.CometID, _ = transport.CometIDFromPeerIDText(e.Addr.ID)
						if na, err := addrbook.ParseNetAddress(t.rule, hostPort(e.Addr)); err == nil {
							if mas, err := transport.NetAddressToMultiaddrs(na); err == nil {
								for _, m := range mas {
									r.Multiaddrs = append(r.Multiaddrs, m.String())
								}
							}
						}
					}
					rows = append(rows, r)
				}
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(rows)
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "TYPE\tADDRESS\tATTEMPTS\tLAST SUCCESS")
			for _, e := range v.Addrs {
				last := "-"
				if !e.LastSuccess.IsZero() && e.LastSuccess.Year() > 1 {
					last = e.LastSuccess.UTC().Format(time.RFC3339)
				}
				fmt.Fprintf(tw, "%s\t%s\t%d\t%s\n", typeName(e.BucketType), hostPort(e.Addr), e.Attempts, last)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			printDropped(cmd.ErrOrStderr(), ls)
			return nil
		},
	}

	imp := &cobra.Command{
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
			t, err := target()
			if err != nil {
				return err
			}
			data, err := os.ReadFile(args[0])
			if err != nil {
				return usage("import file", args[0], err)
			}
			// Parse fully before touching the book, so a bad file changes
			// nothing on disk.
			var peers []addrbook.NetAddress
			isJSON := bytes.HasPrefix(bytes.TrimSpace(data), []byte("{"))
			if !isJSON {
				if peers, err = parsePeerFile(t.rule, args[0], data); err != nil {
					return err
				}
			} else {
				probe, _ := addrbook.New(addrbook.Options{IDRule: t.rule, Strict: t.strict})
				if _, err := probe.LoadBytes(data); err != nil {
					return usage("import file", args[0], err)
				}
			}
			if err := ensureDir(t.path); err != nil {
				return err
			}
			b, err := addrbook.New(addrbook.Options{FilePath: t.path, IDRule: t.rule, Strict: t.strict, Logger: slogFor("addrbook")})
			if err != nil {
				return err
			}
			if err := b.Start(); err != nil {
				return err
			}
			before := b.Size()
			var dropped map[string]int
			if isJSON {
				st, err := b.LoadBytes(data)
				if err != nil {
					_ = b.Stop()
					return usage("import file", args[0], err)
				}
				dropped = st.Dropped
			} else {
				dropped = map[string]int{}
				for _, na := range peers {
					if err := b.AddAddress(na, na); err != nil {
						var ae *addrbook.AddError
						if errors.As(err, &ae) && ae.Reason != nil {
							dropped[ae.Reason.Error()]++
						} else {
							dropped[err.Error()]++
						}
					}
				}
			}
			after := b.Size()
			if err := b.Stop(); err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				return json.NewEncoder(out).Encode(map[string]any{"file": t.path, "added": after - before, "size": after, "dropped": dropped})
			}
			fmt.Fprintf(out, "imported %d new addresses into %s (size now %d)\n", after-before, t.path, after)
			keys := make([]string, 0, len(dropped))
			for k := range dropped {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				fmt.Fprintf(cmd.ErrOrStderr(), "skipped %d: %s\n", dropped[k], k)
			}
			if isJSON && t.rule == transport.PeerIDs && after == before && len(dropped) > 0 {
				fmt.Fprintln(cmd.ErrOrStderr(), "hint: a CometBFT addrbook.json holds 40-hex IDs; import it with --classic")
			}
			return nil
		},
	}

	var format, output string
	exp := &cobra.Command{
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
			t, b, _, err := open()
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
				v, err := viewBook(b)
				if err != nil {
					return err
				}
				var buf bytes.Buffer
				for _, e := range v.Addrs {
					buf.WriteString(hostPort(e.Addr) + "\n")
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
	exp.Flags().StringVar(&format, "format", "pexp2p", "pexp2p, cometbft or peers")
	exp.Flags().StringVarP(&output, "output", "o", "", "file to write (must not exist; default stdout)")

	cmd.AddCommand(stats, list, imp, exp)
	return cmd
}

func typeName(t byte) string {
	if t == bucketTypeOld {
		return "old"
	}
	return "new"
}

func hostPort(a addrView) string {
	ip := a.IP
	if strings.Contains(ip, ":") {
		ip = "[" + ip + "]"
	}
	return fmt.Sprintf("%s@%s:%d", a.ID, ip, a.Port)
}

func printDropped(w io.Writer, ls addrbook.LoadStats) {
	keys := make([]string, 0, len(ls.Dropped))
	for k := range ls.Dropped {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(w, "warning: %d entries of the file ignored: %s\n", ls.Dropped[k], k)
	}
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

// cometFile is upstream's addrbook.json, and nothing more.
// cometFile is upstream's file: the entries have exactly upstream's
// fields (entryView), nothing of ours beside them.
type cometFile struct {
	Key   string      `json:"key"`
	Addrs []entryView `json:"addrs"`
}

// exportCometBFT writes the book in upstream's format. Bucket indices are
// kept: upstream trusts them on load, and they are in its ranges since the
// bucket counts are the same.
func exportCometBFT(b *addrbook.Book, rule addrbook.IDRule) ([]byte, error) {
	v, err := viewBook(b)
	if err != nil {
		return nil, err
	}
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
	f := cometFile{Key: v.Key, Addrs: make([]entryView, 0, len(v.Addrs))}
	for _, e := range v.Addrs {
		addr, err := conv(e.Addr)
		if err != nil {
			// A peer ID without an inlined ed25519 key has no CometBFT ID.
			log.Warnw("export: address skipped", "addr", hostPort(e.Addr), "err", err)
			continue
		}
		src, err := conv(e.Src)
		if err != nil {
			src = addr
		}
		e.Addr, e.Src = addr, src
		f.Addrs = append(f.Addrs, e)
	}
	out, err := json.MarshalIndent(f, "", "\t")
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}

// ensureDir creates the directory a book file goes in.
func ensureDir(file string) error {
	if file == "" {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		return fmt.Errorf("creating the directory of %s: %w", file, err)
	}
	return nil
}
