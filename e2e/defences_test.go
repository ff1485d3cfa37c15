package e2e

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pexp2p/pexp2p/addrbook"
)

// writeManifest writes text as a manifest beside an AS map of two /15s.
func writeManifest(t *testing.T, text string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "asmap.txt"), []byte("100.64.0.0/15 64512\n100.66.0.0/15 64513\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "net.toml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

const defencesManifest = `
duration = "60s"
groups = 4
period = "5s"

[defences]
test_before_evict = true
feeler_interval = "2m"
max_anchors = 2
outbound_group_limit = 1
asmap_file = "asmap.txt"

[node.seed]
mode = "seed"

[node.n]
mode = "regular"
count = 3
seeds = ["seed"]

[node.plain]
mode = "regular"
seeds = ["seed"]
defences = { max_anchors = 0, feeler_interval = "0s", signed_records = true }

[node.old]
mode = "classic"
`

// [defences] reaches every pexp2p node and [node.NAME.defences] overrides
// it key by key for those nodes; classic nodes get none. The command
// lines carry exactly the defences that are on.
func TestDefencesReachEveryPexp2pNodeAndNodeTablesOverride(t *testing.T) {
	path := writeManifest(t, defencesManifest)
	tn, err := LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	asmap := filepath.Join(filepath.Dir(path), "asmap.txt")
	all := Defences{TestBeforeEvict: true, FeelerInterval: 2 * time.Minute, MaxAnchors: 2, OutboundGroupLimit: 1, ASMapFile: asmap}
	plain := all
	plain.MaxAnchors, plain.FeelerInterval, plain.SignedRecords = 0, 0, true
	want := map[string]Defences{"seed": all, "n1": all, "n2": all, "n3": all, "plain": plain, "old": {}}
	ids := map[string]identity{}
	for _, n := range tn.Nodes {
		ids[n.Name] = identity{CometID: strings.Repeat("a", 40), PeerID: "12D3KooWKuWetP1C2sPPkcVMPSxeSGf44BU9JS9NxP7eZdTacG8a"}
	}
	for _, n := range tn.Nodes {
		if n.Defences != want[n.Name] {
			t.Errorf("%s: defences %+v, want %+v", n.Name, n.Defences, want[n.Name])
		}
	}
	line := func(name string) string {
		for _, n := range tn.Nodes {
			if n.Name == name {
				return strings.Join(argv(tn, n, ids, Binaries{Pexp2p: "pexp2p", Cometbft: "cometbft"}, "/work", "chain"), " ")
			}
		}
		t.Fatalf("no node %s", name)
		return ""
	}
	for _, f := range []string{"--p2p.test_before_evict=true", "--p2p.feeler_interval=2m0s", "--p2p.max_anchors=2", "--p2p.outbound_group_limit=1", "--p2p.asmap_file=" + asmap} {
		if !strings.Contains(line("n1"), f) {
			t.Errorf("n1's command line lacks %s: %s", f, line("n1"))
		}
	}
	if l := line("plain"); strings.Contains(l, "max_anchors") || strings.Contains(l, "feeler_interval") || !strings.Contains(l, "--p2p.signed_records=true") {
		t.Errorf("plain's command line: %s", l)
	}
	if l := line("old"); strings.Contains(l, "p2p.") {
		t.Errorf("classic node got pexp2p flags: %s", l)
	}

	// Without [defences] nobody gets a defence flag.
	off, err := Parse("off.toml", []byte(goodManifest))
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range off.Nodes {
		if n.Defences != (Defences{}) {
			t.Fatalf("%s has defences without a [defences] table: %+v", n.Name, n.Defences)
		}
		for _, a := range argv(off, n, ids, Binaries{Pexp2p: "pexp2p"}, "/work", "chain") {
			for _, k := range []string{"test_before_evict", "feeler_interval", "max_anchors", "outbound_group_limit", "asmap_file", "signed_records", "prefer_verified"} {
				if strings.Contains(a, k) {
					t.Fatalf("%s: flag %s without a [defences] table", n.Name, a)
				}
			}
		}
	}
}

// A chain node's defences are `pexp2p cometbft start` flags.
func TestChainNodeDefencesAreCometBFTFlags(t *testing.T) {
	tn, err := Parse("chain.toml", []byte(`
duration = "60s"
[defences]
max_anchors = 2
test_before_evict = true
[node.v]
mode = "validator"
count = 2
`))
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]identity{"v1": {}, "v2": {}}
	l := strings.Join(argv(tn, tn.Nodes[0], ids, Binaries{Pexp2p: "pexp2p"}, "/work", "chain"), " ")
	if !strings.Contains(l, "--pexp2p.max_anchors=2") || !strings.Contains(l, "--pexp2p.test_before_evict=true") || strings.Contains(l, "--p2p.max_anchors") {
		t.Fatalf("chain node command line: %s", l)
	}
}

// A bad defences value is a ManifestError naming the table, the key and
// the value; a bad AS map wraps the book's *addrbook.ASMapError.
func TestBadDefencesNameTheValue(t *testing.T) {
	top, node := "duration = \"60s\"\n", "[node.n]\nmode = \"regular\"\n"
	base := top + node
	for name, tc := range map[string]struct{ text, where, value string }{
		"anchors above outbound": {top + "[defences]\nmax_anchors = 11\n" + node, "defences.max_anchors", "11"},
		"negative anchors":       {base + "defences = { max_anchors = -1 }\n", `node "n" defences.max_anchors`, "-1"},
		"negative group limit":   {top + "[defences]\noutbound_group_limit = -1\n" + node, "defences.outbound_group_limit", "-1"},
		"missing asmap":          {top + "[defences]\nasmap_file = \"nope.txt\"\n" + node, "defences.asmap_file", "nope.txt"},
		"classic with defences":  {"duration = \"60s\"\n[node.c]\nmode = \"classic\"\ndefences = { test_before_evict = true }\n", `node "c" defences`, ""},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := LoadFile(writeManifest(t, tc.text))
			var me *ManifestError
			if !errors.As(err, &me) || me.Where != tc.where || me.Value != tc.value {
				t.Fatalf("err %v; want where %q value %q", err, tc.where, tc.value)
			}
		})
	}
	for name, text := range map[string]string{
		"negative feeler": top + "[defences]\nfeeler_interval = \"-1s\"\n" + node,
		"unknown key":     top + "[defences]\nanchors = 2\n" + node,
	} {
		if _, err := LoadFile(writeManifest(t, text)); !errors.Is(err, ErrManifest) {
			t.Errorf("%s: %v", name, err)
		}
	}
	path := writeManifest(t, top+"[defences]\nasmap_file = \"bad.txt\"\n"+node)
	if err := os.WriteFile(filepath.Join(filepath.Dir(path), "bad.txt"), []byte("100.64.0.0/33 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := LoadFile(path)
	var aerr *addrbook.ASMapError
	if !errors.Is(err, ErrManifest) || !errors.As(err, &aerr) || aerr.Line != 1 {
		t.Fatalf("malformed asmap: %v", err)
	}
}
