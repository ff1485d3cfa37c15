package transport

import (
	"bytes"
	"crypto/rand"
	"math/big"
	mrand "math/rand/v2"
	"strings"
	"testing"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	mh "github.com/multiformats/go-multihash"
)

// refBase58 encodes b as mr-tron/base58 does (one '1' per leading zero
// byte, then the value's digits); written with math/big so that it shares
// nothing with the decoder under test.
func refBase58(b []byte) string {
	zeros := 0
	for zeros < len(b) && b[zeros] == 0 {
		zeros++
	}
	v := new(big.Int).SetBytes(b[zeros:])
	var digits []byte
	base, mod := big.NewInt(58), new(big.Int)
	for v.Sign() > 0 {
		v.DivMod(v, base, mod)
		digits = append(digits, b58Alphabet[mod.Int64()])
	}
	for i, j := 0, len(digits)-1; i < j; i, j = i+1, j-1 {
		digits[i], digits[j] = digits[j], digits[i]
	}
	return strings.Repeat("1", zeros) + string(digits)
}

// peerIDSamples returns real peer IDs of every key type go-libp2p makes
// (ed25519, secp256k1 and ECDSA inlined or hashed, RSA hashed), sha256
// and identity multihashes of random content, and random byte strings
// that are not multihashes, all in base58, plus corruptions of each.
func peerIDSamples(t testing.TB, rng *mrand.Rand) []string {
	var out []string
	add := func(b []byte) {
		s := refBase58(b)
		out = append(out, s)
		// Corruptions: a changed last digit, one digit dropped, one
		// added, a byte outside the alphabet.
		i := rng.IntN(len(s))
		c := b58Alphabet[rng.IntN(len(b58Alphabet))]
		out = append(out, s[:len(s)-1]+string(c), s[:i]+s[i+1:], s[:i]+string(c)+s[i:], s[:i]+"0"+s[i+1:])
	}
	rsa := func() (crypto.PubKey, error) {
		_, p, err := crypto.GenerateRSAKeyPair(2048, rand.Reader)
		return p, err
	}
	keys := []func() (crypto.PubKey, error){
		func() (crypto.PubKey, error) { _, p, err := crypto.GenerateEd25519Key(rand.Reader); return p, err },
		func() (crypto.PubKey, error) { _, p, err := crypto.GenerateSecp256k1Key(rand.Reader); return p, err },
		func() (crypto.PubKey, error) { _, p, err := crypto.GenerateECDSAKeyPair(rand.Reader); return p, err },
	}
	// 300 of the fast kinds and one RSA key (slow to generate).
	for i := 0; i <= 300; i++ {
		gen := rsa
		if i < 300 {
			gen = keys[i%len(keys)]
		}
		pub, err := gen()
		if err != nil {
			t.Fatal(err)
		}
		id, err := peer.IDFromPublicKey(pub)
		if err != nil {
			t.Fatal(err)
		}
		add([]byte(id))
	}
	for i := 0; i < 300; i++ {
		content := make([]byte, rng.IntN(60))
		for j := range content {
			content[j] = byte(rng.Uint32())
		}
		code := uint64(mh.SHA2_256)
		if i%2 == 1 {
			code = mh.IDENTITY
		}
		sum, err := mh.Sum(content, code, -1)
		if err != nil {
			t.Fatal(err)
		}
		add(sum)
		junk := make([]byte, 1+rng.IntN(70))
		for j := range junk {
			junk[j] = byte(rng.Uint32())
		}
		// Leading zero bytes become leading '1's, which take the
		// identity branch of peer.Decode.
		if rng.IntN(3) == 0 {
			junk[0] = 0
		}
		add(junk)
	}
	return out
}

// checkPeerIDAgrees is the fast path's contract against go-libp2p: when
// it accepts s, peer.Decode does too, through base58, to the bytes the
// fast decoder produced; when it does not, peer.Decode refuses s or the
// value is beyond the fast path's size. Normalize must answer exactly as
// the peer.Decode-based path does.
func checkPeerIDAgrees(t *testing.T, s string) {
	t.Helper()
	fast := isBase58PeerID(s)
	id, err := peer.Decode(s)
	base58Branch := strings.HasPrefix(s, "1") || strings.HasPrefix(s, "Qm")
	switch {
	case fast && err != nil:
		t.Fatalf("%q: fast path accepts, peer.Decode says %v", s, err)
	case fast:
		var buf [maxFastPeerIDBytes]byte
		b, _ := decodeBase58(s, &buf)
		if !bytes.Equal(b, []byte(id)) {
			t.Fatalf("%q: fast path decodes to %x, peer.Decode to %x", s, b, []byte(id))
		}
	case err == nil && base58Branch && len(id) <= maxFastPeerIDBytes && len(s) <= maxFastPeerIDChars:
		t.Fatalf("%q: peer.Decode accepts (%d bytes), fast path does not", s, len(id))
	}
	if dec, decErr := decodePeerID(s); dec != id || (decErr == nil) != (err == nil) {
		t.Fatalf("%q: decodePeerID = %x, %v; peer.Decode %x, %v", s, []byte(dec), decErr, []byte(id), err)
	}
	got, gotErr := PeerIDs.Normalize(s)
	want, wantErr := normalizePeerIDSlow(s)
	if got != want || (gotErr == nil) != (wantErr == nil) {
		t.Fatalf("%q: Normalize = %q, %v; by peer.Decode %q, %v", s, got, gotErr, want, wantErr)
	}
}

func TestPeerIDFastPathAgreesWithPeerDecode(t *testing.T) {
	rng := mrand.New(mrand.NewPCG(16, 3))
	samples := peerIDSamples(t, rng)
	accepted := 0
	for _, s := range samples {
		checkPeerIDAgrees(t, s)
		if isBase58PeerID(s) {
			accepted++
		}
	}
	// The generated keys and multihashes (901 of the samples) must all
	// have been decided by the fast path, or the test proves nothing
	// about it.
	if accepted < 901 {
		t.Fatalf("fast path accepted %d of %d samples, want at least the 901 valid IDs", accepted, len(samples))
	}
}

func TestPeerIDFastPathEdgeCases(t *testing.T) {
	for _, s := range []string{
		"", "1", "11", "111", "Q", "Qm", "1A", "12", strings.Repeat("1", 88), strings.Repeat("1", 89),
		strings.Repeat("z", 88), strings.Repeat("z", 89),
		"12D3KooW", "12D3KooWé", "12D3KooW\x00",
		// Non-minimal and overlong varints.
		refBase58([]byte{0x80, 0x00, 0x00}), refBase58([]byte{0x12, 0x80, 0x00}),
		refBase58([]byte{0x00, 0x00}), refBase58([]byte{0x00, 0x01, 0xaa}),
		refBase58([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 0x00}),
		refBase58([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0x00}),
		// A 40-hex CometBFT ID that is also base58 text.
		"1234567891234567891234567891234567891234",
		"bafzaajaiaejcb6ozigf5gddx7dnbdwevscdsyl5prwq3ufrksmnfdzpxqqyh4iz2", // a CIDv1 of a key
	} {
		checkPeerIDAgrees(t, s)
	}
}

func TestPeerIDNormalizeDoesNotAllocate(t *testing.T) {
	s := testPeer(t, 3).String()
	if n := testing.AllocsPerRun(100, func() {
		if _, err := PeerIDs.Normalize(s); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Fatalf("Normalize(%s) allocates %.0f times per call", s, n)
	}
}

func FuzzPeerIDNormalize(f *testing.F) {
	rng := mrand.New(mrand.NewPCG(1, 2))
	for _, s := range peerIDSamples(f, rng)[:60] {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		checkPeerIDAgrees(t, s)
	})
}

func BenchmarkPeerIDNormalize(b *testing.B) {
	s := testPeer(b, 3).String()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := PeerIDs.Normalize(s); err != nil {
			b.Fatal(err)
		}
	}
}
