package main

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/pexp2p/pexp2p/transport"
)

// signed_records reaches the running node: with it, the started face
// serves the peer-records protocol; without it (the default), it does
// not.
func TestSignedRecordsKeyTurnsTheProtocolOn(t *testing.T) {
	for _, on := range []bool{false, true} {
		home := t.TempDir()
		text := "[p2p]\nladdr = \"/ip4/127.0.0.1/udp/0/quic-v1\"\n"
		if on {
			text += "signed_records = true\n"
		}
		writeConfig(t, home, text)
		c, err := LoadConfig(home)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Validate(); err != nil {
			t.Fatal(err)
		}
		n, _ := buildTestNode(t, c, home)
		if err := n.Node.Start(); err != nil {
			t.Fatal(err)
		}
		serves := slices.Contains(n.Transport.Host().Mux().Protocols(), transport.PeerRecordsProtocolID)
		_ = n.Node.Stop()
		if serves != on {
			t.Fatalf("signed_records %v: the node serves the peer-records protocol: %v", on, serves)
		}
	}
}

// buildTestNode builds, without starting, the node `start` would run for
// c, with a fresh key and a book in a temporary directory.
func buildTestNode(t *testing.T, c Config, home string) (*p2pNode, *transport.NodeKey) {
	t.Helper()
	key, err := transport.GenNodeKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	n, err := newP2PNode(nodeOptions{cfg: c, key: key, home: home, bookPath: filepath.Join(t.TempDir(), "addrbook.json")})
	if err != nil {
		t.Fatal(err)
	}
	return n, key
}
