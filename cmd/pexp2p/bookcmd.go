package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"

	"github.com/spf13/cobra"

	"github.com/pexp2p/pexp2p/addrbook"
	"github.com/pexp2p/pexp2p/transport"
)

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

// bookFlags are the flags every addrbook subcommand shares.
type bookFlags struct {
	g       *globals
	cf      *configFlags
	classic bool
	file    string
	asJSON  bool
}

func (f *bookFlags) target() (bookTarget, error) {
	return resolveBookTarget(f.g, f.cf, f.classic, f.file)
}

// open resolves the book file and loads it read-only.
func (f *bookFlags) open() (bookTarget, *addrbook.Book, addrbook.LoadStats, error) {
	t, err := f.target()
	if err != nil {
		return t, nil, addrbook.LoadStats{}, err
	}
	b, ls, err := openReadOnly(t)
	return t, b, ls, err
}

func newAddrbookCmd(g *globals) *cobra.Command {
	f := &bookFlags{g: g}
	cmd := &cobra.Command{
		Use:   "addrbook",
		Short: "Inspect, import and export the address book file (offline: stop the node first)",
		Args:  usageArgs(cobra.NoArgs),
		RunE:  func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	pf := cmd.PersistentFlags()
	pf.BoolVar(&f.classic, "classic", false, "work on the classic face's book ([classic] addr_book_file, 40-hex IDs)")
	pf.StringVar(&f.file, "file", "", "book file to use instead of the configured one")
	pf.BoolVar(&f.asJSON, "json", false, "JSON output")
	f.cf = addConfigFlags(pf)
	cmd.AddCommand(newAddrbookStatsCmd(f), newAddrbookListCmd(f), newAddrbookImportCmd(f), newAddrbookExportCmd(f))
	return cmd
}

func newAddrbookStatsCmd(f *bookFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "stats",
		Short: "Print the number of addresses (new, old) and bans",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			t, b, ls, err := f.open()
			if err != nil {
				return err
			}
			st := statsOf(b)
			out := cmd.OutOrStdout()
			if f.asJSON {
				return json.NewEncoder(out).Encode(st)
			}
			fmt.Fprintf(out, "file:   %s\nsize:   %d\nnew:    %d\nold:    %d\nbanned: %d\n", t.path, st.Size, st.New, st.Old, st.Banned)
			printDropped(cmd.ErrOrStderr(), ls)
			return nil
		},
	}
}

func printDropped(w io.Writer, ls addrbook.LoadStats) {
	for _, k := range slices.Sorted(maps.Keys(ls.Dropped)) {
		fmt.Fprintf(w, "warning: %d entries of the file ignored: %s\n", ls.Dropped[k], k)
	}
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
