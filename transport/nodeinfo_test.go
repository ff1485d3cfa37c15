package transport

import (
	"bytes"
	"errors"
	"testing"

	tmp2p "github.com/cometbft/cometbft/proto/tendermint/p2p"
)

func TestCheckNodeInfo(t *testing.T) {
	id := testPeer(t, 4)
	base := func() *tmp2p.DefaultNodeInfo {
		return &tmp2p.DefaultNodeInfo{DefaultNodeID: id.String(), Network: "chain-A", ListenAddr: "tcp://10.1.2.3:26656"}
	}
	na, err := checkNodeInfo(base(), id, "chain-A")
	if err != nil || na.String() != id.String()+"@10.1.2.3:26656" {
		t.Fatalf("good node info: %v %v", na, err)
	}
	ni := base()
	ni.Network = "chain-B"
	if _, err := checkNodeInfo(ni, id, "chain-A"); !errors.Is(err, ErrWrongNetwork) || !errors.Is(err, ErrNodeInfo) {
		t.Fatalf("other network: %v", err)
	}
	ni = base()
	ni.DefaultNodeID = testPeer(t, 5).String()
	if _, err := checkNodeInfo(ni, id, "chain-A"); !errors.Is(err, ErrNodeInfoID) {
		t.Fatalf("other ID: %v", err)
	}
	for _, la := range []string{"", "0.0.0.0:26656", "host.example:26656", "10.1.2.3:0", "[fe80::1%eth0]:1"} {
		ni = base()
		ni.ListenAddr = la
		na, err := checkNodeInfo(ni, id, "chain-A")
		if err != nil || !na.IsZero() {
			t.Fatalf("%q must fall back to identify: %v %v", la, na, err)
		}
	}
	for _, la := range []string{"10.1.2.3", "10.1.2.3:99999"} {
		ni = base()
		ni.ListenAddr = la
		if _, err := checkNodeInfo(ni, id, "chain-A"); !errors.Is(err, ErrBadNodeInfo) {
			t.Fatalf("%q: %v", la, err)
		}
	}
}

func TestNodeInfoFraming(t *testing.T) {
	var buf bytes.Buffer
	in := &tmp2p.DefaultNodeInfo{DefaultNodeID: "x", Network: "n", Moniker: "m", Channels: []byte{0}}
	if err := writeNodeInfo(&buf, in); err != nil {
		t.Fatal(err)
	}
	out, err := readNodeInfo(&buf, "p")
	if err != nil || out.Network != "n" || out.Moniker != "m" {
		t.Fatalf("%v %v", out, err)
	}
	// Oversized length refused before reading a body.
	if _, err := readNodeInfo(bytes.NewReader([]byte{0x81, 0x80, 0x01}), "p"); !errors.Is(err, ErrBadNodeInfo) {
		t.Fatalf("oversized: %v", err)
	}
	if _, err := readNodeInfo(bytes.NewReader([]byte{0x80, 0x80, 0x80, 0x01}), "p"); !errors.Is(err, ErrBadNodeInfo) {
		t.Fatalf("long prefix: %v", err)
	}
	if _, err := readNodeInfo(bytes.NewReader([]byte{0x02, 0xff, 0xff}), "p"); !errors.Is(err, ErrBadNodeInfo) {
		t.Fatalf("garbage: %v", err)
	}
	if _, err := readNodeInfo(bytes.NewReader(nil), "p"); !errors.Is(err, ErrNodeInfoIO) || errors.Is(err, ErrBadNodeInfo) {
		t.Fatalf("empty stream is an I/O failure: %v", err)
	}
	big := &tmp2p.DefaultNodeInfo{Moniker: string(make([]byte, MaxNodeInfoSize))}
	if err := writeNodeInfo(&buf, big); err == nil {
		t.Fatal("oversized node info sent")
	}
}
