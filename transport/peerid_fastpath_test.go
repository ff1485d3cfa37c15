package transport

import (
	"crypto/rand"
	mrand "math/rand/v2"
	"testing"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	mh "github.com/multiformats/go-multihash"
)

// Normalize's fast path (a base58 ID is returned as given) must agree
// with decoding and re-encoding, for identity-multihash IDs ("12D3KooW…",
// ed25519) and sha256 ones ("Qm…", large keys), and must still refuse a
// corrupted spelling.
func TestPeerIDNormalizeFastPathAgrees(t *testing.T) {
	rng := mrand.New(mrand.NewPCG(7, 7))
	var ids []string
	for range 50 {
		_, pub, err := crypto.GenerateEd25519Key(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		id, err := peer.IDFromPublicKey(pub)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id.String())
		buf := make([]byte, 64)
		for i := range buf {
			buf[i] = byte(rng.Uint32())
		}
		sum, err := mh.Sum(buf, mh.SHA2_256, -1)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, peer.ID(sum).String())
	}
	for _, s := range ids {
		got, err := PeerIDs.Normalize(s)
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		id, err := peer.Decode(s)
		if err != nil {
			t.Fatal(err)
		}
		if got != id.String() || got != s {
			t.Fatalf("Normalize(%s) = %s, re-encoded %s", s, got, id.String())
		}
		// One character changed: still checked by decoding, not waved
		// through by the prefix.
		bad := s[:len(s)-1] + "0" // '0' is not in the base58 alphabet
		if _, err := PeerIDs.Normalize(bad); err == nil {
			t.Fatalf("corrupted %s accepted", bad)
		}
	}
}
