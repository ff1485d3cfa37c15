package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cometbft/cometbft/p2p"

	"github.com/pexp2p/pexp2p/transport"
)

// init writes a config and a 0600 key and prints both IDs; a second init
// keeps them (CLI contract: never overwrite a key).
func TestInitWritesConfigAndKeyOnce(t *testing.T) {
	home := t.TempDir()
	code, out, errOut := runCmd(t, "--home", home, "init", "--chain-id", "chain-A", "--p2p.ensure_peers_period", "2s")
	if code != exitOK {
		t.Fatalf("init: exit %d, %s", code, errOut)
	}
	id, pid := outField(out, "id"), outField(out, "peer_id")
	key, err := transport.LoadNodeKey(filepath.Join(home, "config", "node_key.json"))
	if err != nil {
		t.Fatal(err)
	}
	if id != key.CometID() || pid != key.PeerID().String() {
		t.Fatalf("printed %s / %s, key has %s / %s", id, pid, key.CometID(), key.PeerID())
	}
	fi, err := os.Stat(filepath.Join(home, "config", "node_key.json"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key mode %v, %v", fi.Mode(), err)
	}
	c, err := LoadConfig(home)
	if err != nil {
		t.Fatal(err)
	}
	if c.ChainID != "chain-A" || c.P2P.EnsurePeersPeriod.D() != 2*time.Second {
		t.Fatalf("flags not written to config: %+v", c)
	}
	before := snapshot(t, home)
	code, out2, _ := runCmd(t, "--home", home, "init", "--chain-id", "other")
	if code != exitOK || outField(out2, "id") != id || outField(out2, "peer_id") != pid {
		t.Fatalf("second init: exit %d, %q", code, out2)
	}
	sameFiles(t, before, snapshot(t, home))
}

// A node_key.json written by upstream CometBFT is kept, and both IDs are
// the ones upstream derives (the design's "an existing CometBFT node key
// works as is").
func TestInitKeepsUpstreamNodeKey(t *testing.T) {
	home := t.TempDir()
	path := filepath.Join(home, "config", "node_key.json")
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	up, err := p2p.LoadOrGenNodeKey(path)
	if err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCmd(t, "--home", home, "init")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if got := outField(out, "id"); got != string(up.ID()) {
		t.Fatalf("id %s, upstream %s", got, up.ID())
	}
	code, js, _ := runCmd(t, "--home", home, "show-node-id", "--json")
	var v nodeIDJSON
	if code != exitOK || json.Unmarshal([]byte(js), &v) != nil {
		t.Fatalf("show-node-id --json: %d %q", code, js)
	}
	if v.ID != string(up.ID()) || v.PeerID != outField(out, "peer_id") || v.PubKey == "" {
		t.Fatalf("json %+v", v)
	}
	code, lp, _ := runCmd(t, "--home", home, "show-node-id", "--libp2p")
	if code != exitOK || strings.TrimSpace(lp) != v.PeerID {
		t.Fatalf("--libp2p %q", lp)
	}
	code, plain, _ := runCmd(t, "--home", home, "show-node-id")
	if code != exitOK || strings.TrimSpace(plain) != v.ID {
		t.Fatalf("plain %q", plain)
	}
}

// Bad input exits 2 and leaves the disk as it was: a corrupt key is never
// replaced, a missing key is not invented by show-node-id or start.
func TestBadKeyInputExit2(t *testing.T) {
	home := t.TempDir()
	path := filepath.Join(home, "config", "node_key.json")
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(`{"priv_key":{"type":"tendermint/PrivKeyEd25519","value":"AAAA"}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, home)
	for _, args := range [][]string{
		{"init"},
		{"show-node-id"},
		{"gen-node-key"},
		{"start", "--rpc.laddr", ""},
	} {
		code, _, errOut := runCmd(t, append([]string{"--home", home}, args...)...)
		if code != exitUsage {
			t.Fatalf("%v: exit %d, want 2 (%s)", args, code, errOut)
		}
		if !strings.Contains(errOut, "node_key.json") {
			t.Fatalf("%v: error does not name the key file: %s", args, errOut)
		}
		sameFiles(t, before, snapshot(t, home))
	}
	empty := t.TempDir()
	for _, args := range [][]string{{"show-node-id"}, {"start", "--rpc.laddr", ""}} {
		code, _, errOut := runCmd(t, append([]string{"--home", empty}, args...)...)
		if code != exitUsage || !strings.Contains(errOut, "init") {
			t.Fatalf("%v on empty home: exit %d, %s", args, code, errOut)
		}
	}
	if len(snapshot(t, empty)) != 0 {
		t.Fatal("a refused command wrote files")
	}
}

// gen-node-key prints the ID of the key it wrote and, as CometBFT's,
// refuses to overwrite one.
func TestGenNodeKey(t *testing.T) {
	home := t.TempDir()
	code, out, errOut := runCmd(t, "--home", home, "gen-node-key")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	key, err := transport.LoadNodeKey(filepath.Join(home, "config", "node_key.json"))
	if err != nil || strings.TrimSpace(out) != key.CometID() {
		t.Fatalf("printed %q, key %v %v", out, key, err)
	}
	before := snapshot(t, home)
	code, _, errOut = runCmd(t, "--home", home, "gen-node-key")
	if code != exitUsage || !strings.Contains(errOut, "already exists") {
		t.Fatalf("second gen-node-key: exit %d, %s", code, errOut)
	}
	sameFiles(t, before, snapshot(t, home))
}
