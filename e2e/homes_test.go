package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// cometbftConfigTOML holds every key the runner sets, in cometbft init's
// sections, with other values.
const cometbftConfigTOML = `proxy_app = "x"
moniker = "x"
[rpc]
laddr = "x"
[p2p]
laddr = "x"
external_address = ""
seeds = ""
persistent_peers = "x"
pex = false
seed_mode = false
addr_book_strict = false
allow_duplicate_ip = true
[p2p.libp2p]
enabled = false
[consensus]
create_empty_blocks = true
[instrumentation]
prometheus = false
prometheus_listen_addr = "x"
`

func writeCometbftConfig(t *testing.T, content string) (home, path string) {
	t.Helper()
	home = t.TempDir()
	path = filepath.Join(home, "config", "config.toml")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return home, path
}

func TestConfigureWritesEachModesSettings(t *testing.T) {
	n := &Node{Name: "n1", IP: "100.64.0.1", Mode: ModeChainSeed}
	common := []string{`moniker = "n1"`, `seeds = "a@1.2.3.4:26656,b@1.2.3.5:26656"`, `pex = true`,
		`addr_book_strict = true`, `allow_duplicate_ip = false`, `prometheus = true`, `persistent_peers = ""`}
	for _, tc := range []struct {
		name      string
		configure func(home string, n *Node, seeds []string) error
		want      []string
		unchanged []string
	}{
		{"classic", configureClassic,
			[]string{`external_address = "100.64.0.1:26656"`, `create_empty_blocks = false`},
			[]string{`seed_mode = false`, `enabled = false`}},
		{"chain", configureChain,
			[]string{`seed_mode = true`, `enabled = true`},
			[]string{`external_address = ""`, `create_empty_blocks = true`}},
	} {
		home, path := writeCometbftConfig(t, cometbftConfigTOML)
		if err := tc.configure(home, n, []string{"a@1.2.3.4:26656", "b@1.2.3.5:26656"}); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(string(b), "\n")
		has := func(l string) bool {
			for _, x := range lines {
				if x == l {
					return true
				}
			}
			return false
		}
		for _, l := range append(append([]string{}, common...), tc.want...) {
			if !has(l) {
				t.Errorf("%s: config.toml lacks %q:\n%s", tc.name, l, b)
			}
		}
		for _, l := range tc.unchanged {
			if !has(l) {
				t.Errorf("%s: config.toml changed %q, which this mode leaves alone:\n%s", tc.name, l, b)
			}
		}
	}
}

func TestConfigureNamesKeysTheFileLacks(t *testing.T) {
	home, _ := writeCometbftConfig(t, strings.Replace(cometbftConfigTOML, "seed_mode = false\n", "", 1))
	err := configureChain(home, &Node{Name: "n1", IP: "100.64.0.1", Mode: ModeFull}, nil)
	if err == nil || !strings.Contains(err.Error(), "p2p.seed_mode") {
		t.Fatalf("configureChain on a file without seed_mode: %v, want an error naming p2p.seed_mode", err)
	}
}
