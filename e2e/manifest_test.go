package e2e

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const goodManifest = `
duration = "90s"
groups = 3
period = "5s"
peer_target = 4

[link]
delay = "20ms"
jitter = "5ms"
loss = "1%"

[group_link.2]
delay = "80ms"

[node.seed]
mode = "seed"

[node.n]
mode = "regular"
count = 11
seeds = ["seed"]

[node.solo]
mode = "regular"
group = 1
seeds = ["seed", "n"]
link = { loss = "2.5%", rate = "10mbit" }

[[perturb]]
kind = "kill"
node = "n03"
at = "40s"

[[perturb]]
kind = "disconnect"
nodes = ["n"]
count = 3
at = "50s"
for = "5s"
every = "10s"
`

func TestParseExpandsCountsGroupsLinksAndPerturbations(t *testing.T) {
	tn, err := Parse("good.toml", []byte(goodManifest))
	if err != nil {
		t.Fatal(err)
	}
	if tn.Name != "good" || tn.Duration != 90*time.Second || tn.Groups != 3 || tn.Period != 5*time.Second {
		t.Fatalf("top level: %+v", tn)
	}
	if len(tn.Nodes) != 13 {
		t.Fatalf("%d nodes, want 13", len(tn.Nodes))
	}
	// Names sort: n01..n11, seed, solo; counts pad to the count's width.
	if tn.Nodes[0].Name != "n01" || tn.Nodes[10].Name != "n11" || tn.Nodes[11].Name != "seed" {
		t.Fatalf("names: %s %s %s", tn.Nodes[0].Name, tn.Nodes[10].Name, tn.Nodes[11].Name)
	}
	// Round robin over groups for nodes without a group; solo is pinned.
	for i, n := range tn.Nodes[:12] {
		if n.Group != i%3 {
			t.Errorf("%s in group %d, want %d", n.Name, n.Group, i%3)
		}
	}
	solo := tn.Node("solo")
	if solo.Group != 1 {
		t.Errorf("solo in group %d, want 1", solo.Group)
	}
	// Link: node over group over default, field by field.
	if l := tn.Node("n03").Link; l.Delay != 80*time.Millisecond || l.Jitter != 5*time.Millisecond || l.Loss != 1 {
		t.Errorf("n03 (group 2) link %+v", l)
	}
	if l := solo.Link; l.Delay != 20*time.Millisecond || l.Loss != 2.5 || l.Rate != "10mbit" {
		t.Errorf("solo link %+v", l)
	}
	// A set name in seeds expands to its members.
	if len(solo.Seeds) != 12 || solo.Seeds[0] != "seed" || solo.Seeds[1] != "n01" {
		t.Errorf("solo seeds %v", solo.Seeds)
	}
	// Perturbations: count and every expand, sorted by time.
	want := []Perturbation{
		{KindKill, "n03", 40 * time.Second, 0},
		{KindDisconnect, "n01", 50 * time.Second, 5 * time.Second},
		{KindDisconnect, "n02", 60 * time.Second, 5 * time.Second},
		{KindDisconnect, "n03", 70 * time.Second, 5 * time.Second},
	}
	if len(tn.Perturbs) != len(want) {
		t.Fatalf("perturbations %+v", tn.Perturbs)
	}
	for i := range want {
		if tn.Perturbs[i] != want[i] {
			t.Errorf("perturbation %d = %+v, want %+v", i, tn.Perturbs[i], want[i])
		}
	}
	if got := tn.PeerTargetOf(tn.Node("n01")); got != 4 {
		t.Errorf("peer target %d, want the manifest's 4", got)
	}
	// 12 other libp2p nodes (the seed's address is gossiped too): ⌈10.8⌉.
	if got := tn.BookTargetOf(tn.Node("n01")); got != 11 {
		t.Errorf("book target %d, want 11", got)
	}
}

func TestDefaultPeerTargetIsTenOrEveryNonSeedNode(t *testing.T) {
	tn, err := Parse("m.toml", []byte(`
duration = "10s"
[node.s]
mode = "seed"
[node.n]
mode = "regular"
count = 4
seeds = ["s"]
`))
	if err != nil {
		t.Fatal(err)
	}
	if got := tn.PeerTargetOf(tn.Node("n1")); got != 3 {
		t.Errorf("peer target %d, want 3 (the other regular nodes; seeds hang up)", got)
	}
	if tn.Period != defaultPeriod {
		t.Errorf("period %v, want upstream's %v", tn.Period, defaultPeriod)
	}
}

func TestClassicNodesTargetTheClassicSide(t *testing.T) {
	tn, err := Parse("mixed.toml", []byte(`
duration = "60s"
[node.bridge]
mode = "bridge"
[node.c]
mode = "classic"
count = 3
seeds = ["bridge"]
[node.d]
mode = "dual"
count = 2
seeds = ["bridge"]
[node.p]
mode = "regular"
count = 2
seeds = ["bridge"]
`))
	if err != nil {
		t.Fatal(err)
	}
	// c1 can hold the 2 other classic nodes, the bridge and 2 duals.
	if got := tn.PeerTargetOf(tn.Node("c1")); got != 5 {
		t.Errorf("classic peer target %d, want 5", got)
	}
	if got := tn.BookTargetOf(tn.Node("c1")); got != 0 {
		t.Errorf("classic book target %d, want 0 (not readable while running)", got)
	}
	// p1 can hold the bridge, 2 duals and p2.
	if got := tn.PeerTargetOf(tn.Node("p1")); got != 4 {
		t.Errorf("libp2p peer target %d, want 4", got)
	}
}

// Every bad manifest is refused with an error that names the bad value.
func TestBadManifestsNameTheBadValue(t *testing.T) {
	base := "duration = \"60s\"\n[node.a]\nmode = \"regular\"\n[node.b]\nmode = \"regular\"\nseeds = [\"a\"]\n"
	for _, c := range []struct {
		name, manifest, want string
	}{
		{"no duration", "[node.a]\nmode = \"seed\"\n", `duration = "0s"`},
		{"duration not a duration", "duration = \"ten\"\n" + base[17:], `"ten" is not a duration`},
		{"too long", "duration = \"2h\"\n" + base[17:], `duration = "2h0m0s"`},
		{"too many groups", "groups = 65\n" + base, `groups = "65"`},
		{"unknown key", "durration = \"1s\"\n" + base, `key = "durration"`},
		{"unknown node key", base + "colour = \"red\"\n", `"node.b.colour"`},
		{"bad mode", strings.Replace(base, `mode = "regular"`, `mode = "archive"`, 1), `mode = "archive"`},
		{"bad group", base + "group = 3\n", `node "b" group = "3"`},
		{"unknown seed", strings.Replace(base, `seeds = ["a"]`, `seeds = ["zz"]`, 1), `seeds = "zz": no such node`},
		{"bad delay", base + "[link]\ndelay = \"20\"\n", `link = "20"`},
		{"bad loss", base + "[link]\nloss = \"1\"\n", `link = "1"`},
		{"loss over 100", base + "[link]\nloss = \"120%\"\n", `link = "120%"`},
		{"bad rate", base + "[link]\nrate = \"fast\"\n", `link = "fast"`},
		{"jitter over delay", base + "[link]\ndelay = \"5ms\"\njitter = \"10ms\"\n", `node "a" link jitter = "10ms": larger than the node's delay 5ms`},
		{"group link out of range", base + "[group_link.4]\ndelay = \"5ms\"\n", `group_link = "4"`},
		{"node link", strings.Replace(base, `seeds = ["a"]`, "seeds = [\"a\"]\nlink = { jitter = \"x\" }", 1), `node "b" link = "x"`},
		{"owned flag", "flags = [\"--p2p.seeds=x\"]\n" + base, `flags = "--p2p.seeds=x": the runner sets`},
		{"flag spelling", "flags = [\"p2p.pex=false\"]\n" + base, `flags = "p2p.pex=false": want --key=value`},
		{"bad kind", base + "[[perturb]]\nkind = \"crash\"\nnode = \"a\"\nat = \"5s\"\n", `perturb[0] kind = "crash"`},
		{"unknown perturbed node", base + "[[perturb]]\nkind = \"kill\"\nnode = \"x\"\nat = \"5s\"\n", `perturb[0] node = "x": no such node`},
		{"pause without for", base + "[[perturb]]\nkind = \"pause\"\nnode = \"a\"\nat = \"5s\"\n", `perturb[0] for = "0s"`},
		{"past the end", base + "[[perturb]]\nkind = \"disconnect\"\nnode = \"a\"\nat = \"55s\"\nfor = \"10s\"\n", `perturb[0] at = "55s"`},
		{"at zero", base + "[[perturb]]\nkind = \"kill\"\nnode = \"a\"\n", `perturb[0] at = "0s"`},
		{"overlap", base + "[[perturb]]\nkind = \"pause\"\nnode = \"a\"\nat = \"5s\"\nfor = \"10s\"\n[[perturb]]\nkind = \"kill\"\nnode = \"a\"\nat = \"10s\"\n", `perturb = "a": kill at 10s overlaps pause`},
		{"count over the nodes", base + "[[perturb]]\nkind = \"kill\"\nnodes = [\"a\"]\ncount = 2\nat = \"5s\"\n", `perturb[0] count = "2"`},
		{"classic seeds a libp2p-only node", "duration = \"60s\"\n[node.a]\nmode = \"regular\"\n[node.c]\nmode = \"classic\"\nseeds = [\"a\"]\n", `node "c" seeds = "a": a classic node cannot dial a regular node`},
		{"classic killed", "duration = \"60s\"\n[node.c]\nmode = \"classic\"\n[[perturb]]\nkind = \"kill\"\nnode = \"c\"\nat = \"5s\"\n", `perturb[0] node = "c"`},
		{"no nodes", "duration = \"60s\"\n", `no nodes declared`},
		{"bad name", "duration = \"60s\"\n[node.\"a b\"]\nmode = \"seed\"\n", `node = "a b"`},
		{"count expands onto a name", "duration = \"60s\"\n[node.n]\nmode = \"seed\"\ncount = 2\n[node.n1]\nmode = \"seed\"\n", `node = "n1": declared twice`},
		{"not TOML", "duration = ", `TOML`},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse("m.toml", []byte(c.manifest))
			if err == nil {
				t.Fatalf("accepted:\n%s", c.manifest)
			}
			if !errors.Is(err, ErrManifest) {
				t.Errorf("error %v does not wrap ErrManifest", err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not contain %q", err, c.want)
			}
			if !strings.HasPrefix(err.Error(), "m.toml: ") {
				t.Errorf("error %q does not name the file", err)
			}
		})
	}
}

func TestLoadFileNamesAMissingFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "nope.toml")
	_, err := LoadFile(p)
	if err == nil || !strings.Contains(err.Error(), p) {
		t.Fatalf("error %v does not name %s", err, p)
	}
}

// The manifests shipped in the repository must stay valid.
func TestShippedManifestsParse(t *testing.T) {
	files, err := filepath.Glob("../interop/e2e/*.toml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no manifests found in interop/e2e")
	}
	for _, f := range files {
		if _, err := LoadFile(f); err != nil {
			t.Errorf("%v", err)
		}
	}
}

func TestRateParses(t *testing.T) {
	for rate, want := range map[string]float64{"10mbit": 10e6, "2kbps": 16e3, "1.5gbit": 1.5e9, "": 0} {
		if got := (Netem{Rate: rate}).bitsPerSecond(); got != want {
			t.Errorf("%q = %g bit/s, want %g", rate, got, want)
		}
	}
}
