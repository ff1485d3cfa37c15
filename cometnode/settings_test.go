package cometnode

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cmtcfg "github.com/cometbft/cometbft/config"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/pexp2p/pexp2p/pexnode"
)

const testPeer = "12D3KooWKuWetP1C2sPPkcVMPSxeSGf44BU9JS9NxP7eZdTacG8a"

func libp2pConfig() *cmtcfg.Config {
	c := cmtcfg.DefaultConfig()
	c.SetRoot("/tmp/cometnode-settings-test")
	c.P2P.LibP2PConfig.Enabled = true
	return c
}

// Every [p2p] key a libp2p node ignores upstream is read, both seed
// forms are accepted, and bootstrap peers' flags carry over.
func TestSettingsReadCometBFTKeys(t *testing.T) {
	c := libp2pConfig()
	c.P2P.Seeds = "/ip4/10.0.0.1/udp/26656/quic-v1/p2p/" + testPeer + ", " + testPeer + "@10.0.0.2:26656"
	c.P2P.SeedMode = true
	c.P2P.MaxNumInboundPeers, c.P2P.MaxNumOutboundPeers = 7, 3
	c.P2P.AddrBookStrict, c.P2P.AllowDuplicateIP = false, true
	c.P2P.ListenAddress = "tcp://127.0.0.1:36656"
	c.P2P.ExternalAddress = "203.0.113.9:36656"
	c.P2P.PrivatePeerIDs = testPeer
	c.P2P.LibP2PConfig.BootstrapPeers = []cmtcfg.LibP2PBootstrapPeer{{Host: "10.0.0.3:26656", ID: testPeer, Persistent: true, Unconditional: true}}
	s, err := SettingsFromConfig(c)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Warnings) != 0 {
		t.Fatalf("warnings: %v", s.Warnings)
	}
	id, _ := peer.Decode(testPeer)
	if len(s.Seeds) != 2 || s.Seeds[0].ID != id || s.Seeds[1].ID != id {
		t.Fatalf("seeds %+v", s.Seeds)
	}
	if !s.SeedMode || s.MaxInbound != 7 || s.MaxOutbound != 3 || s.AddrBookStrict || !s.AllowDuplicateIP {
		t.Fatalf("limits and flags not read: %+v", s)
	}
	if got := s.Listen[0].String() + " " + s.Listen[1].String(); got != "/ip4/127.0.0.1/udp/36656/quic-v1 /ip4/127.0.0.1/tcp/36656" {
		t.Fatalf("listen %s", got)
	}
	if len(s.External) != 2 || len(s.Private) != 1 {
		t.Fatalf("external %v private %v", s.External, s.Private)
	}
	if len(s.Persistent) != 1 || len(s.Unconditional) != 1 {
		t.Fatalf("bootstrap flags: persistent %v unconditional %v", s.Persistent, s.Unconditional)
	}
	if !strings.HasPrefix(s.AddrBookFile, "/tmp/cometnode-settings-test/") {
		t.Fatalf("book file %s not under the home", s.AddrBookFile)
	}
}

// A malformed seed is left out with a warning naming it; the others stay.
func TestSettingsLeaveOutMalformedSeed(t *testing.T) {
	c := libp2pConfig()
	c.P2P.Seeds = "not-a-seed, " + testPeer + "@10.0.0.2:26656"
	s, err := SettingsFromConfig(c)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Seeds) != 1 {
		t.Fatalf("seeds %v", s.Seeds)
	}
	var ce *ConfigError
	if len(s.Warnings) != 1 || !errors.As(s.Warnings[0], &ce) || ce.Key != "p2p.seeds" || ce.Value != "not-a-seed" {
		t.Fatalf("warnings %v", s.Warnings)
	}
}

// Values that make the node unable to run are errors naming key and value.
func TestSettingsRejectUnusableValues(t *testing.T) {
	for _, tc := range []struct {
		key    string
		adjust func(c *cmtcfg.Config)
	}{
		{"p2p.laddr", func(c *cmtcfg.Config) { c.P2P.ListenAddress = "tcp://nowhere" }},
		{"p2p.laddr", func(c *cmtcfg.Config) { c.P2P.ListenAddress = "unix:///tmp/sock" }},
		{"p2p.external_address", func(c *cmtcfg.Config) { c.P2P.ExternalAddress = "0.0.0.0:26656" }},
		{"p2p.persistent_peers", func(c *cmtcfg.Config) { c.P2P.PersistentPeers = "garbage" }},
		{"p2p.private_peer_ids", func(c *cmtcfg.Config) { c.P2P.PrivatePeerIDs = "xyz" }},
		{"p2p.libp2p.bootstrap_peers[0]", func(c *cmtcfg.Config) {
			c.P2P.LibP2PConfig.BootstrapPeers = []cmtcfg.LibP2PBootstrapPeer{{Host: "10.0.0.3:26656", ID: "nope"}}
		}},
		{"p2p.max_num_outbound_peers", func(c *cmtcfg.Config) { c.P2P.MaxNumOutboundPeers = 0 }},
	} {
		c := libp2pConfig()
		tc.adjust(c)
		_, err := SettingsFromConfig(c)
		var ce *ConfigError
		if !errors.As(err, &ce) || ce.Key != tc.key {
			t.Errorf("%s: got %v", tc.key, err)
		}
	}
}

// The eclipse defences are off unless set; out-of-range values and a bad
// AS map are ConfigErrors naming the pexp2p key, before any node is built.
func TestDefenceSettingsChecked(t *testing.T) {
	s, err := SettingsFromConfig(libp2pConfig())
	if err != nil {
		t.Fatal(err)
	}
	if s.Defences != (pexnode.Defences{}) {
		t.Fatalf("a defence is on by default: %+v", s.Defences)
	}
	if m, err := s.checkDefences(t.TempDir()); m != nil || err != nil {
		t.Fatalf("defaults: %v, %v", m, err)
	}
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "asmap.txt"), []byte("8.8.0.0/16 15169\n8.8.0.0/33 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		adjust     func(*pexnode.Defences)
		key, value string
	}{
		{func(d *pexnode.Defences) { d.FeelerInterval = -time.Second }, "pexp2p.feeler_interval", "-1s"},
		{func(d *pexnode.Defences) { d.MaxAnchors = -1 }, "pexp2p.max_anchors", "-1"},
		{func(d *pexnode.Defences) { d.MaxAnchors = s.MaxOutbound + 1 }, "pexp2p.max_anchors", fmt.Sprint(s.MaxOutbound + 1)},
		{func(d *pexnode.Defences) { d.OutboundGroupLimit = -1 }, "pexp2p.outbound_group_limit", "-1"},
		{func(d *pexnode.Defences) { d.ASMapFile = "asmap.txt" }, "pexp2p.asmap_file", "asmap.txt"},
		{func(d *pexnode.Defences) { d.ASMapFile = "absent.txt" }, "pexp2p.asmap_file", "absent.txt"},
	} {
		bad := s
		tc.adjust(&bad.Defences)
		var cerr *ConfigError
		if _, err := bad.checkDefences(root); !errors.As(err, &cerr) || cerr.Key != tc.key || cerr.Value != tc.value {
			t.Errorf("%s = %s: %v", tc.key, tc.value, err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "asmap.txt"), []byte("8.8.0.0/16 15169\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	good := s
	good.Defences.ASMapFile = "asmap.txt"
	if m, err := good.checkDefences(root); err != nil || m.Len() != 1 {
		t.Fatalf("asmap relative to the home: %v, %v", m, err)
	}
}
