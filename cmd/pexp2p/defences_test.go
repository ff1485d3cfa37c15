package main

import (
	"encoding/json"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/pexp2p/pexp2p/addrbook"
	"github.com/pexp2p/pexp2p/internal/testwait"
	"github.com/pexp2p/pexp2p/pex"
	"github.com/pexp2p/pexp2p/pexnode"
	"github.com/pexp2p/pexp2p/transport"
)

func writeConfig(t *testing.T, home, text string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(home, "config"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(ConfigPath(home), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// With no key set, every defence is off: the reactor gets upstream's
// values and the book neither tests before evicting nor groups by AS.
func TestDefencesAreOffByDefault(t *testing.T) {
	c := DefaultConfig()
	if d := c.Defences(); d != (pexnode.Defences{}) {
		t.Fatalf("a defence is on by default: %+v", d)
	}
	// pexnode.Defences' zero value must be the library's defaults too.
	def := pex.DefaultConfig()
	if def.FeelerInterval != 0 || def.MaxAnchors != 0 || def.OutboundGroupLimit != 0 || def.PreferVerifiedAddrs {
		t.Fatalf("pex.DefaultConfig has a defence on: %+v", def)
	}
	m, err := c.LoadASMap(t.TempDir())
	if m != nil || err != nil {
		t.Fatalf("no asmap_file loaded %v, %v", m, err)
	}
}

// The keys are read from config.toml, flags override them one by one as
// for every other key, and the values reach the reactor and the book.
func TestDefenceKeysFromFileAndFlags(t *testing.T) {
	home := t.TempDir()
	writeConfig(t, home, `[p2p]
test_before_evict = true
feeler_interval = "2m"
max_anchors = 2
outbound_group_limit = 1
asmap_file = "config/asmap.txt"
prefer_verified_addrs = true
signed_records = true
`)
	if err := os.WriteFile(filepath.Join(home, "config", "asmap.txt"), []byte("8.8.0.0/16 64512\n9.9.0.0/16 64512\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := LoadConfig(home)
	if err != nil {
		t.Fatal(err)
	}
	fs := pflag.NewFlagSet("start", pflag.ContinueOnError)
	cf := addConfigFlags(fs)
	if err := fs.Parse([]string{"--p2p.feeler_interval=30s", "--p2p.outbound_group_limit", "3"}); err != nil {
		t.Fatal(err)
	}
	if err := cf.apply(&c); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	want := pexnode.Defences{
		TestBeforeEvict:     true,               // file
		FeelerInterval:      30 * time.Second,   // flag over file
		MaxAnchors:          2,                  // file
		OutboundGroupLimit:  3,                  // flag over file
		ASMapFile:           "config/asmap.txt", // file
		SignedRecords:       true,               // file
		PreferVerifiedAddrs: true,               // file
	}
	if d := c.Defences(); d != want {
		t.Fatalf("defences %+v\nwant %+v", d, want)
	}
	m, err := c.LoadASMap(home)
	if err != nil {
		t.Fatal(err)
	}
	if as, ok := m.Lookup(netip.MustParseAddr("9.9.3.4")); !ok || as != 64512 || m.Len() != 2 {
		t.Fatalf("asmap relative to home: lookup %d %v, %d prefixes", as, ok, m.Len())
	}
	n, key := buildTestNode(t, c, home)
	// Two /16s of one AS are one group in the book only with the map.
	group := func(ip string) string {
		a, err := addrbook.NewNetAddress(transport.PeerIDs, key.PeerID().String(), netip.MustParseAddr(ip), 26656)
		if err != nil {
			t.Fatal(err)
		}
		return n.Book.Group(a)
	}
	if g1, g2, g3 := group("8.8.1.1"), group("9.9.1.1"), group("1.1.1.1"); g1 != g2 || g1 == g3 {
		t.Fatalf("book groups with the AS map: %q, %q (one AS), %q (unmapped); want the first two equal and the third apart", g1, g2, g3)
	}
}

// A bad value is a usage error (exit 2) naming the key and the value,
// from the file and from a flag, and nothing starts.
func TestDefenceKeysRejectBadValues(t *testing.T) {
	for name, tc := range map[string]struct {
		toml  string
		flags []string
		want  []string
	}{
		"negative anchors":        {toml: "[p2p]\nmax_anchors = -1\n", want: []string{"p2p.max_anchors", `"-1"`}},
		"more anchors than slots": {toml: "[p2p]\nmax_anchors = 11\n", want: []string{"p2p.max_anchors", `"11"`, "max_num_outbound_peers (10)"}},
		"negative group limit":    {toml: "[p2p]\noutbound_group_limit = -2\n", want: []string{"p2p.outbound_group_limit", `"-2"`}},
		"negative feeler in file": {toml: "[p2p]\nfeeler_interval = \"-1s\"\n", want: []string{"feeler_interval", `"-1s"`, "negative"}},
		"feeler not a duration":   {toml: "[p2p]\nfeeler_interval = \"often\"\n", want: []string{"feeler_interval", `"often"`}},
		"negative feeler flag":    {flags: []string{"--p2p.feeler_interval=-2m"}, want: []string{"flag --p2p.feeler_interval", `"-2m"`, "negative"}},
		"negative anchors flag":   {flags: []string{"--p2p.max_anchors=-1"}, want: []string{"flag --p2p.max_anchors", `"-1"`}},
		"tbe not a bool":          {flags: []string{"--p2p.test_before_evict=maybe"}, want: []string{"flag --p2p.test_before_evict", `"maybe"`}},
	} {
		t.Run(name, func(t *testing.T) {
			home := t.TempDir()
			if tc.toml != "" {
				writeConfig(t, home, tc.toml)
			}
			code, _, errOut := runCmd(t, append([]string{"--home", home, "show-node-id"}, tc.flags...)...)
			if code != exitUsage {
				t.Fatalf("exit %d, want %d: %s", code, exitUsage, errOut)
			}
			for _, w := range tc.want {
				if !strings.Contains(errOut, w) {
					t.Errorf("error %q does not name %s", errOut, w)
				}
			}
		})
	}
}

// A missing or malformed AS map stops `start` with a usage error naming
// the key and the file (and, for a bad line, the line), before anything
// listens or is written.
func TestStartRefusesBadASMapFile(t *testing.T) {
	home := initHome(t, "127.0.16.1")
	bad := filepath.Join(home, "asmap.txt")
	if err := os.WriteFile(bad, []byte("100.64.0.0/16 64512\n300.1.0.0/16 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, home)
	for _, tc := range []struct{ value, want string }{
		{"missing.txt", "missing.txt"},
		{"asmap.txt", "300.1.0.0/16"},
	} {
		code, _, errOut := runCmd(t, "--home", home, "start", "--p2p.asmap_file", tc.value)
		if code != exitUsage || !strings.Contains(errOut, "p2p.asmap_file") || !strings.Contains(errOut, tc.want) {
			t.Fatalf("asmap_file %s: exit %d, %s", tc.value, code, errOut)
		}
	}
	c := DefaultConfig()
	c.P2P.ASMapFile = "asmap.txt"
	_, err := c.LoadASMap(home)
	var aerr *addrbook.ASMapError
	if !errors.Is(err, ErrUsage) || !errors.As(err, &aerr) || aerr.Line != 2 {
		t.Fatalf("bad line: %v; want a usage error wrapping *addrbook.ASMapError at line 2", err)
	}
	sameFiles(t, before, snapshot(t, home))
}

// max_anchors really anchors: a node that stops while connected out to a
// peer writes that peer to anchors.json beside its book, and when it
// starts again with a book that holds nothing reachable and no seeds, it
// dials that peer itself and consumes the file. The restarted node
// listens on a new port, so the peer cannot be the one redialling it.
func TestStartWithMaxAnchorsRedialsAnchorAfterRestart(t *testing.T) {
	a := startNode(t, initHome(t, "127.0.17.1"))
	aID := a.peerID(t)
	bHome := initHome(t, "127.0.18.1")
	b := startNode(t, bHome, "--p2p.seeds", a.multiaddr(t), "--p2p.max_anchors=2")
	testwait.For(t, 30*time.Second, "b connected out to a", func() bool { return b.hasPeer(t, aID) })
	if code := b.stop(t); code != exitOK {
		t.Fatalf("stop: exit %d: %s", code, b.errOut)
	}
	anchorsPath := filepath.Join(bHome, "config", addrbook.AnchorsFileName)
	data, err := os.ReadFile(anchorsPath)
	if err != nil {
		t.Fatalf("no anchors file after stop: %v", err)
	}
	var saved struct{ Anchors []string }
	if err := json.Unmarshal(data, &saved); err != nil || len(saved.Anchors) != 1 || !strings.HasPrefix(saved.Anchors[0], aID+"@127.0.17.1:") {
		t.Fatalf("anchors file %s: %v; want a's address only", data, err)
	}

	// Replace b's book with one unreachable address: only the anchor can
	// lead b back to a.
	bookPath := filepath.Join(bHome, "config", "addrbook.json")
	if err := os.Remove(bookPath); err != nil {
		t.Fatal(err)
	}
	book, err := addrbook.New(addrbook.Options{FilePath: bookPath, IDRule: transport.PeerIDs})
	if err != nil {
		t.Fatal(err)
	}
	if err := book.Start(); err != nil {
		t.Fatal(err)
	}
	stranger, err := transport.GenNodeKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	junk, err := addrbook.NewNetAddress(transport.PeerIDs, stranger.PeerID().String(), netip.MustParseAddr("127.0.19.1"), 9)
	if err != nil {
		t.Fatal(err)
	}
	if err := book.AddAddress(junk, junk); err != nil {
		t.Fatal(err)
	}
	if err := book.Stop(); err != nil {
		t.Fatal(err)
	}

	b2 := startNode(t, bHome, "--p2p.max_anchors=2")
	testwait.For(t, 30*time.Second, "restarted b to dial its anchor a", func() bool {
		for _, p := range b2.netInfo(t).Peers {
			if p.PeerID == aID && p.IsOutbound {
				return true
			}
		}
		return false
	})
	if _, err := os.Stat(anchorsPath); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("anchors file not consumed at start: %v", err)
	}
}
