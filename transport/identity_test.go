package transport

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	cmted25519 "github.com/cometbft/cometbft/crypto/ed25519"
	"github.com/cometbft/cometbft/p2p"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/pexp2p/pexp2p/addrbook"
)

// goldenKey is the design brief's vector: the ed25519 key whose seed is
// SHA-256("test"), as upstream's GenPrivKeyFromSecret builds it.
func goldenKey(t *testing.T) *NodeKey {
	t.Helper()
	seed := sha256.Sum256([]byte("test"))
	k, err := NewNodeKey(ed25519.NewKeyFromSeed(seed[:]))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestIdentityGoldenVector(t *testing.T) {
	k := goldenKey(t)
	if got, want := hex.EncodeToString(k.PubKey()), "67d3b5eaf0c0bf6b5a602d359daecc86a7a74053490ec37ae08e71360587c870"; got != want {
		t.Fatalf("public key %s, want %s", got, want)
	}
	if got, want := k.CometID(), "c14ff30999c0d33fc2eff45b09ffee7b4c4a3527"; got != want {
		t.Fatalf("CometBFT ID %s, want %s", got, want)
	}
	up := cmted25519.GenPrivKeyFromSecret([]byte("test"))
	if got, want := k.CometID(), string(p2p.PubKeyToID(up.PubKey())); got != want {
		t.Fatalf("CometBFT ID %s, upstream says %s", got, want)
	}
	pid := k.PeerID()
	if !strings.HasPrefix(pid.String(), "12D3KooW") {
		t.Fatalf("peer ID %s is not an inlined ed25519 ID", pid)
	}
	fromPeer, err := CometIDFromPeerID(pid)
	if err != nil || fromPeer != k.CometID() {
		t.Fatalf("CometIDFromPeerID = %q, %v; want %s", fromPeer, err, k.CometID())
	}
	back, err := PeerIDFromCometID(k.CometID(), k.PubKey())
	if err != nil || back != pid {
		t.Fatalf("PeerIDFromCometID = %s, %v; want %s", back, err, pid)
	}
	libID, err := peer.IDFromPrivateKey(k.LibP2PKey())
	if err != nil || libID != pid {
		t.Fatalf("libp2p key gives %s, %v; want %s", libID, err, pid)
	}
}

func TestPeerIDFromCometIDNeedsTheRightKey(t *testing.T) {
	k := goldenKey(t)
	other, _ := GenNodeKey(bytes.NewReader(make([]byte, 64)))
	_, err := PeerIDFromCometID(k.CometID(), other.PubKey())
	var pe *PeerIDError
	if !errors.As(err, &pe) || !errors.Is(err, ErrPeerID) || pe.ID != k.CometID() {
		t.Fatalf("wrong key accepted or badly reported: %v", err)
	}
	if _, err := PeerIDFromCometID("zz", k.PubKey()); !errors.Is(err, addrbook.ErrInvalidID) {
		t.Fatalf("bad CometBFT ID: %v", err)
	}
	if _, err := PeerIDFromCometID(k.CometID(), k.PubKey()[:31]); !errors.Is(err, ErrPeerID) {
		t.Fatalf("short key: %v", err)
	}
}

func TestCometIDFromNonEd25519PeerID(t *testing.T) {
	sk, _, err := crypto.GenerateSecp256k1Key(bytes.NewReader(bytes.Repeat([]byte{7}, 64)))
	if err != nil {
		t.Fatal(err)
	}
	id, _ := peer.IDFromPrivateKey(sk)
	if _, err := CometIDFromPeerID(id); !errors.Is(err, ErrPeerID) {
		t.Fatalf("secp256k1 peer ID: %v", err)
	}
	if _, err := CometIDFromPeerIDText("not-a-peer"); !errors.Is(err, ErrPeerID) {
		t.Fatalf("garbage text: %v", err)
	}
}

// An existing CometBFT node key works as is: a file written by upstream's
// p2p.LoadOrGenNodeKey loads here with the same CometBFT ID, and our file
// for that key is byte-identical to upstream's.
func TestUpstreamNodeKeyFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "node_key.json")
	up, err := p2p.LoadOrGenNodeKey(path)
	if err != nil {
		t.Fatal(err)
	}
	k, created, err := LoadOrGenNodeKey(path, nil)
	if err != nil || created {
		t.Fatalf("load: created=%v err=%v", created, err)
	}
	if k.CometID() != string(up.ID()) {
		t.Fatalf("CometBFT ID %s, upstream %s", k.CometID(), up.ID())
	}
	if !bytes.Equal(k.PrivateKey(), up.PrivKey.Bytes()) {
		t.Fatal("private key differs from upstream's")
	}
	upBytes, _ := os.ReadFile(path)
	ours := filepath.Join(dir, "ours.json")
	if err := k.SaveAs(ours); err != nil {
		t.Fatal(err)
	}
	ourBytes, _ := os.ReadFile(ours)
	if !bytes.Equal(upBytes, ourBytes) {
		t.Fatalf("file differs from upstream's:\n ours %s\n up   %s", ourBytes, upBytes)
	}
	// And upstream reads ours.
	back, err := p2p.LoadNodeKey(ours)
	if err != nil || back.ID() != up.ID() {
		t.Fatalf("upstream load of our file: %v, %v", back, err)
	}
}

func TestLoadOrGenCreatesWith0600AndNeverOverwrites(t *testing.T) {
	path := filepath.Join(t.TempDir(), "node_key.json")
	k1, created, err := LoadOrGenNodeKey(path, bytes.NewReader(bytes.Repeat([]byte{1}, 64)))
	if err != nil || !created {
		t.Fatalf("create: %v %v", created, err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, want 0600", st.Mode().Perm())
	}
	k2, created, err := LoadOrGenNodeKey(path, bytes.NewReader(bytes.Repeat([]byte{2}, 64)))
	if err != nil || created || k2.CometID() != k1.CometID() {
		t.Fatalf("second call must load the same key: created=%v err=%v", created, err)
	}
	other, _ := GenNodeKey(bytes.NewReader(bytes.Repeat([]byte{3}, 64)))
	err = other.SaveAs(path)
	var ke *NodeKeyError
	if !errors.As(err, &ke) || !errors.Is(err, os.ErrExist) || ke.Path != path {
		t.Fatalf("overwrite not refused: %v", err)
	}
	k3, _ := LoadNodeKey(path)
	if k3.CometID() != k1.CometID() {
		t.Fatal("key file was replaced")
	}
	// No temporary files are left behind.
	ents, _ := os.ReadDir(filepath.Dir(path))
	if len(ents) != 1 {
		t.Fatalf("directory has %d entries, want only the key", len(ents))
	}
}

func TestLoadNodeKeyRejectsBadFiles(t *testing.T) {
	good := goldenKey(t)
	goodJSON, _ := good.MarshalJSON()
	mismatched := append([]byte(nil), good.priv...)
	mismatched[63] ^= 1
	cases := map[string]string{
		"not json":     `{{{`,
		"wrong type":   `{"priv_key":{"type":"tendermint/PrivKeySecp256k1","value":"AAAA"}}`,
		"not base64":   `{"priv_key":{"type":"tendermint/PrivKeyEd25519","value":"!!"}}`,
		"short key":    `{"priv_key":{"type":"tendermint/PrivKeyEd25519","value":"AAAA"}}`,
		"pub mismatch": strings.Replace(string(goodJSON), strings.Split(string(goodJSON), `"`)[9], b64(mismatched), 1),
		"empty":        ``,
	}
	for name, content := range cases {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "node_key.json")
			if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			_, _, err := LoadOrGenNodeKey(path, nil)
			var ke *NodeKeyError
			if !errors.As(err, &ke) || !errors.Is(err, ErrNodeKey) || ke.Path != path {
				t.Fatalf("got %v, want a *NodeKeyError for %s", err, path)
			}
			after, _ := os.ReadFile(path)
			if string(after) != content {
				t.Fatal("a bad key file must be left untouched")
			}
		})
	}
	if _, err := LoadNodeKey(filepath.Join(t.TempDir(), "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
}

func b64(b []byte) string {
	k := &NodeKey{priv: b}
	j, _ := k.MarshalJSON()
	return strings.Split(string(j), `"`)[9]
}

func TestPeerIDRule(t *testing.T) {
	k := goldenKey(t)
	pid := k.PeerID()
	got, err := PeerIDs.Normalize(pid.String())
	if err != nil || got != pid.String() {
		t.Fatalf("canonical ID: %q %v", got, err)
	}
	// The CIDv1 spelling of the same peer normalises to base58.
	cid := peer.ToCid(pid).String()
	got, err = PeerIDs.Normalize(cid)
	if err != nil || got != pid.String() {
		t.Fatalf("CID spelling %s: %q %v", cid, got, err)
	}
	for _, bad := range []string{"", k.CometID(), strings.ToUpper(k.CometID()), "12D3KooWnotreally", pid.String() + " ", "Qm"} {
		_, err := PeerIDs.Normalize(bad)
		var ie *addrbook.IDError
		if !errors.As(err, &ie) || !errors.Is(err, addrbook.ErrInvalidID) || ie.ID != bad || ie.Rule != "libp2p" {
			t.Fatalf("%q: got %v", bad, err)
		}
	}
	_, err = PeerIDs.Normalize(k.CometID())
	if !strings.Contains(err.Error(), "40-hex") {
		t.Fatalf("classic ID rejection should say why: %v", err)
	}
	// And the classic rule refuses peer IDs.
	if _, err := addrbook.ClassicIDs.Normalize(pid.String()); !errors.Is(err, addrbook.ErrInvalidID) {
		t.Fatalf("classic rule accepted a peer ID: %v", err)
	}
	if PeerIDs.Name() != "libp2p" {
		t.Fatal(PeerIDs.Name())
	}
}
