package transport

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/pexp2p/pexp2p/addrbook"
	"github.com/pexp2p/pexp2p/internal/errmsg"
)

// The JSON type tag CometBFT's amino-JSON registry gives an ed25519
// private key; node_key.json files carry it and we must write it verbatim
// so upstream can read our files.
const privKeyEd25519Type = "tendermint/PrivKeyEd25519"

// ErrNodeKey is wrapped by every node key loading or saving error.
var ErrNodeKey = errors.New("node key")

// NodeKeyError names the key file and what is wrong with it.
type NodeKeyError struct {
	Path string
	errmsg.Reasoned
}

func (e *NodeKeyError) Error() string        { return e.Message(fmt.Sprintf("node key %q", e.Path)) }
func (e *NodeKeyError) Is(target error) bool { return target == ErrNodeKey }

func nodeKeyErr(path, reason string, err error) *NodeKeyError {
	return &NodeKeyError{Path: path, Reasoned: errmsg.Reasoned{Reason: reason, Err: err}}
}

// NodeKey is the node's one ed25519 key: it is both the CometBFT node key
// and the libp2p host identity.
type NodeKey struct {
	priv ed25519.PrivateKey
}

// NewNodeKey wraps a 64-byte ed25519 private key (seed ‖ public key).
func NewNodeKey(priv ed25519.PrivateKey) (*NodeKey, error) {
	if err := checkPrivKey(priv); err != nil {
		return nil, nodeKeyErr("", "invalid private key", err)
	}
	return &NodeKey{priv: append(ed25519.PrivateKey(nil), priv...)}, nil
}

// GenNodeKey makes a fresh key from r (crypto/rand when r is nil); tests
// inject a deterministic reader.
func GenNodeKey(r io.Reader) (*NodeKey, error) {
	if r == nil {
		r = rand.Reader
	}
	_, priv, err := ed25519.GenerateKey(r)
	if err != nil {
		return nil, nodeKeyErr("", "generating key", err)
	}
	return &NodeKey{priv: priv}, nil
}

// checkPrivKey refuses keys whose public half does not follow from the
// seed: such a file would give a CometBFT ID and a peer ID that belong to
// no key we can sign with.
func checkPrivKey(priv []byte) error {
	if len(priv) != ed25519.PrivateKeySize {
		return fmt.Errorf("length %d bytes, want %d", len(priv), ed25519.PrivateKeySize)
	}
	derived := ed25519.NewKeyFromSeed(priv[:ed25519.SeedSize])
	if !bytes.Equal(derived, priv) {
		return errors.New("public half does not match the seed")
	}
	return nil
}

// nodeKeyJSON mirrors upstream's amino-JSON encoding of p2p.NodeKey.
type nodeKeyJSON struct {
	PrivKey struct {
		Type  string `json:"type"`
		Value string `json:"value"`
	} `json:"priv_key"`
}

// LoadNodeKey reads a CometBFT node_key.json.
func LoadNodeKey(path string) (*NodeKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nodeKeyErr(path, "reading", err)
	}
	var doc nodeKeyJSON
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		return nil, nodeKeyErr(path, "not a node_key.json document", err)
	}
	if doc.PrivKey.Type != privKeyEd25519Type {
		return nil, nodeKeyErr(path, fmt.Sprintf("key type %q is not supported, want %q", doc.PrivKey.Type, privKeyEd25519Type), nil)
	}
	raw, err := base64.StdEncoding.DecodeString(doc.PrivKey.Value)
	if err != nil {
		return nil, nodeKeyErr(path, "key value is not base64", err)
	}
	if err := checkPrivKey(raw); err != nil {
		return nil, nodeKeyErr(path, "invalid private key", err)
	}
	return &NodeKey{priv: ed25519.PrivateKey(raw)}, nil
}

// MarshalJSON gives the exact bytes upstream's LoadOrGenNodeKey writes.
func (k *NodeKey) MarshalJSON() ([]byte, error) {
	var doc nodeKeyJSON
	doc.PrivKey.Type = privKeyEd25519Type
	doc.PrivKey.Value = base64.StdEncoding.EncodeToString(k.priv)
	return json.Marshal(doc)
}

// SaveAs writes the key to path with mode 0600 and never replaces an
// existing file: the key is the node's identity, and overwriting it would
// silently turn the node into a different one. The content goes to a
// temporary file first and is hard-linked into place, so path either does
// not exist or holds the whole key.
func (k *NodeKey) SaveAs(path string) error {
	data, err := k.MarshalJSON()
	if err != nil {
		return nodeKeyErr(path, "encoding", err)
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, ".node_key-*.tmp")
	if err != nil {
		return nodeKeyErr(path, "creating temporary file", err)
	}
	tmpName := tmp.Name()
	defer os.Remove(tmpName)
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return nodeKeyErr(path, "setting mode 0600", err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return nodeKeyErr(path, "writing", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return nodeKeyErr(path, "syncing", err)
	}
	if err := tmp.Close(); err != nil {
		return nodeKeyErr(path, "closing", err)
	}
	if err := os.Link(tmpName, path); err != nil {
		if errors.Is(err, os.ErrExist) {
			return nodeKeyErr(path, "refusing to overwrite an existing key file", err)
		}
		return nodeKeyErr(path, "installing key file", err)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// LoadOrGenNodeKey loads the key at path, or creates one from r (crypto/rand
// when nil) when no file exists. created tells which happened.
func LoadOrGenNodeKey(path string, r io.Reader) (key *NodeKey, created bool, err error) {
	if _, statErr := os.Stat(path); statErr == nil {
		key, err = LoadNodeKey(path)
		return key, false, err
	} else if !errors.Is(statErr, os.ErrNotExist) {
		return nil, false, nodeKeyErr(path, "checking for key file", statErr)
	}
	key, err = GenNodeKey(r)
	if err != nil {
		return nil, false, err
	}
	if err := key.SaveAs(path); err != nil {
		return nil, false, err
	}
	return key, true, nil
}

// PrivateKey returns a copy of the ed25519 private key.
func (k *NodeKey) PrivateKey() ed25519.PrivateKey {
	return append(ed25519.PrivateKey(nil), k.priv...)
}

// PubKey returns the ed25519 public key.
func (k *NodeKey) PubKey() ed25519.PublicKey {
	return append(ed25519.PublicKey(nil), k.priv[ed25519.SeedSize:]...)
}

// CometID is the CometBFT node ID: hex of SHA-256(pubkey)[:20].
func (k *NodeKey) CometID() string { return CometIDFromPubKey(k.PubKey()) }

// LibP2PKey returns the key as a libp2p identity.
func (k *NodeKey) LibP2PKey() crypto.PrivKey {
	sk, err := crypto.UnmarshalEd25519PrivateKey(k.priv)
	if err != nil {
		// The key was validated on construction; libp2p accepts every
		// valid 64-byte ed25519 key.
		panic("transport: validated ed25519 key refused by libp2p: " + err.Error())
	}
	return sk
}

// PeerID is the libp2p peer ID of the key.
func (k *NodeKey) PeerID() peer.ID {
	id, err := PeerIDFromPubKey(k.PubKey())
	if err != nil {
		panic("transport: validated ed25519 key has no peer ID: " + err.Error())
	}
	return id
}

// CometIDFromPubKey derives the CometBFT node ID of an ed25519 public key.
func CometIDFromPubKey(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:20])
}

// PeerIDFromPubKey derives the libp2p peer ID of an ed25519 public key.
func PeerIDFromPubKey(pub ed25519.PublicKey) (peer.ID, error) {
	pk, err := crypto.UnmarshalEd25519PublicKey(pub)
	if err != nil {
		return "", peerIDErr(hex.EncodeToString(pub), "not an ed25519 public key", err)
	}
	return peer.IDFromPublicKey(pk)
}

// ErrPeerID is wrapped by every peer ID conversion error.
var ErrPeerID = errors.New("peer ID")

// PeerIDError names the ID that could not be converted and why.
type PeerIDError struct {
	ID string
	errmsg.Reasoned
}

func (e *PeerIDError) Error() string        { return e.Message(fmt.Sprintf("peer ID %q", e.ID)) }
func (e *PeerIDError) Is(target error) bool { return target == ErrPeerID }

func peerIDErr(id, reason string, err error) *PeerIDError {
	return &PeerIDError{ID: id, Reasoned: errmsg.Reasoned{Reason: reason, Err: err}}
}

// CometIDFromPeerID derives the CometBFT node ID from a peer ID. It works
// for every ed25519 peer ID because the key is inlined in the ID; other
// key types are refused since CometBFT node keys are ed25519.
func CometIDFromPeerID(id peer.ID) (string, error) {
	pk, err := id.ExtractPublicKey()
	if err != nil {
		return "", peerIDErr(id.String(), "public key not recoverable from the ID", err)
	}
	if pk.Type() != crypto.Ed25519 {
		return "", peerIDErr(id.String(), fmt.Sprintf("key type %s, want Ed25519", pk.Type()), nil)
	}
	raw, err := pk.Raw()
	if err != nil {
		return "", peerIDErr(id.String(), "reading public key", err)
	}
	return CometIDFromPubKey(raw), nil
}

// CometIDFromPeerIDText is CometIDFromPeerID on the text form.
func CometIDFromPeerIDText(s string) (string, error) {
	id, err := peer.Decode(s)
	if err != nil {
		return "", peerIDErr(s, "not a peer ID", err)
	}
	return CometIDFromPeerID(id)
}

// PeerIDFromCometID gives the peer ID behind a CometBFT node ID. A 20-byte
// hash cannot be inverted, so the public key must be supplied (learned in
// a handshake); it is checked against cometID.
func PeerIDFromCometID(cometID string, pub ed25519.PublicKey) (peer.ID, error) {
	norm, err := addrbook.ClassicIDs.Normalize(cometID)
	if err != nil {
		return "", peerIDErr(cometID, "not a CometBFT node ID", err)
	}
	if len(pub) != ed25519.PublicKeySize {
		return "", peerIDErr(cometID, fmt.Sprintf("public key has %d bytes, want %d", len(pub), ed25519.PublicKeySize), nil)
	}
	if got := CometIDFromPubKey(pub); got != norm {
		return "", peerIDErr(cometID, fmt.Sprintf("public key belongs to node %s", got), nil)
	}
	return PeerIDFromPubKey(pub)
}

type peerIDRule struct{}

// PeerIDs is the address book ID rule of the libp2p face: IDs are libp2p
// peer IDs in their canonical base58 text. Other spellings that decode
// (CIDv1) are normalised so one peer has one book entry.
var PeerIDs addrbook.IDRule = peerIDRule{}

func (peerIDRule) Name() string { return "libp2p" }

func (peerIDRule) Normalize(s string) (string, error) {
	// The common case, decided without allocating (peerid.go); the
	// classic-ID test comes first for the reason given below.
	if !isClassicID(s) && isBase58PeerID(s) {
		return s, nil
	}
	return normalizePeerIDSlow(s)
}

// normalizePeerIDSlow is Normalize by way of peer.Decode: CIDs, the rare
// multihash too long for the fast path, and every refusal with its reason.
func normalizePeerIDSlow(s string) (string, error) {
	if s == "" {
		return "", &addrbook.IDError{ID: s, Rule: "libp2p", Reason: "empty"}
	}
	// Checked before decoding: some hex strings are also valid base58, and
	// a classic ID reaching this face is a configuration mistake worth
	// naming precisely.
	if _, err := addrbook.ClassicIDs.Normalize(s); err == nil {
		return "", &addrbook.IDError{ID: s, Rule: "libp2p", Reason: "looks like a 40-hex CometBFT node ID; the libp2p face needs a peer ID (12D3KooW…)"}
	}
	id, err := peer.Decode(s)
	if err != nil {
		return "", &addrbook.IDError{ID: s, Rule: "libp2p", Reason: "not a peer ID: " + err.Error()}
	}
	if err := id.Validate(); err != nil {
		return "", &addrbook.IDError{ID: s, Rule: "libp2p", Reason: err.Error()}
	}
	if strings.ContainsAny(s, " \t\r\n") {
		return "", &addrbook.IDError{ID: s, Rule: "libp2p", Reason: "contains white space"}
	}
	// Base58 is a bijection, so a base58 multihash form (identity
	// "12D3KooW…", sha256 "Qm…", the forms peer.Decode reads as base58)
	// re-encodes to itself; skipping the re-encoding saves a base58
	// encode per address of every PexAddrs (about 5 % of a node's CPU in
	// the N = 50 discovery benchmark). CIDs ("bafz…") still normalize.
	if strings.HasPrefix(s, "1") || strings.HasPrefix(s, "Qm") {
		return s, nil
	}
	return id.String(), nil
}
