package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
)

// `pexp2p cometbft` is CometBFT's command set: init writes CometBFT's
// files with libp2p on, an existing config.toml is left as written, and
// the other commands answer as upstream's do.
func TestCometBFTCommandsWriteUpstreamFilesWithLibp2pOn(t *testing.T) {
	bin := buildBinary(t)
	home := t.TempDir()
	run := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(bin, append([]string{"cometbft"}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("pexp2p cometbft %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	run("init", "--home", home)
	for _, f := range []string{"config/config.toml", "config/genesis.json", "config/node_key.json", "config/priv_validator_key.json"} {
		if _, err := os.Stat(filepath.Join(home, f)); err != nil {
			t.Fatalf("init did not write %s: %v", f, err)
		}
	}
	var cfg struct {
		P2P struct {
			PEX    bool `toml:"pex"`
			Libp2p struct {
				Enabled bool `toml:"enabled"`
			} `toml:"libp2p"`
		} `toml:"p2p"`
	}
	if _, err := toml.DecodeFile(filepath.Join(home, "config", "config.toml"), &cfg); err != nil {
		t.Fatal(err)
	}
	if !cfg.P2P.Libp2p.Enabled || !cfg.P2P.PEX {
		t.Fatalf("new config: libp2p enabled %v, pex %v; want both on", cfg.P2P.Libp2p.Enabled, cfg.P2P.PEX)
	}
	if id := strings.TrimSpace(run("show-node-id", "--home", home)); id == "" {
		t.Fatal("show-node-id printed nothing")
	}
	if v := run("version"); !strings.Contains(v, ".") {
		t.Fatalf("version printed %q", v)
	}

	// An operator's own file (here: upstream's default, libp2p off) is
	// read as written, never rewritten.
	other := t.TempDir()
	if err := os.MkdirAll(filepath.Join(other, "config"), 0o700); err != nil {
		t.Fatal(err)
	}
	mine := []byte("[p2p.libp2p]\nenabled = false\n")
	if err := os.WriteFile(filepath.Join(other, "config", "config.toml"), mine, 0o600); err != nil {
		t.Fatal(err)
	}
	run("init", "--home", other)
	got, err := os.ReadFile(filepath.Join(other, "config", "config.toml"))
	if err != nil || string(got) != string(mine) {
		t.Fatalf("existing config.toml changed: %q, %v", got, err)
	}
}
