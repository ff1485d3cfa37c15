package transport

import "github.com/libp2p/go-libp2p/core/peer"

// A peer ID is checked on every address of every PexAddrs a node receives,
// and again by the book when it stores the address: in a converging
// 100-node testnet that was about 6 % of the process's CPU: 2-2.5 µs and
// five allocations per call, among them the decoded bytes and the error
// value the classic-ID check built for every libp2p ID. The base58
// multihash forms
// ("12D3KooW…" identity, "Qm…" sha256, any other multihash peer.Decode
// reads as base58) are validated here without allocating; everything else
// (CIDs, malformed input) takes peer.Decode's path, which also words the
// errors.

// maxFastPeerIDBytes bounds the decoded size the fast path handles; an
// inlined key is at most 42 bytes of digest and a sha256 ID 34 bytes, so
// only exotic multihashes take the slow path.
const maxFastPeerIDBytes = 64

// maxFastPeerIDChars is the longest base58 text whose value fits in
// maxFastPeerIDBytes (64 × log 256 / log 58 ≈ 87.4), plus leading '1's,
// each of which is one zero byte and is counted against the same buffer.
const maxFastPeerIDChars = 88

const b58Alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"

// b58Digit maps a byte to its base58 value, or 0xff for a byte outside
// the alphabet.
var b58Digit = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	for i := 0; i < len(b58Alphabet); i++ {
		t[b58Alphabet[i]] = byte(i)
	}
	return t
}()

// decodeBase58 decodes s into buf the way mr-tron/base58 does (each
// leading '1' is a zero byte, the rest a big-endian number without
// leading zero bytes) and returns the decoded bytes, a slice of buf. ok is
// false for an empty string, a byte outside the alphabet, or a value that
// does not fit buf.
func decodeBase58(s string, buf *[maxFastPeerIDBytes]byte) (out []byte, ok bool) {
	if len(s) == 0 || len(s) > maxFastPeerIDChars {
		return nil, false
	}
	zeros := 0
	for zeros < len(s) && s[zeros] == '1' {
		zeros++
	}
	// The value as little-endian 32-bit limbs; five digits at a time, as
	// 58^5 fits in 32 bits and limb × 58^5 + carry in 64.
	var limbs [maxFastPeerIDBytes / 4]uint32
	used := 0
	rest := s[zeros:]
	for len(rest) > 0 {
		n := min(len(rest), 5)
		mul, add := uint64(1), uint64(0)
		for i := 0; i < n; i++ {
			d := b58Digit[rest[i]]
			if d == 0xff {
				return nil, false
			}
			mul *= 58
			add = add*58 + uint64(d)
		}
		rest = rest[n:]
		carry := add
		for i := 0; i < used; i++ {
			v := uint64(limbs[i])*mul + carry
			limbs[i] = uint32(v)
			carry = v >> 32
		}
		if carry != 0 {
			if used == len(limbs) {
				return nil, false
			}
			limbs[used] = uint32(carry)
			used++
		}
	}
	// Big-endian bytes of the value, leading zero bytes dropped.
	var val [maxFastPeerIDBytes]byte
	for i := 0; i < used; i++ {
		l := limbs[i]
		p := len(val) - 4*i
		val[p-1], val[p-2], val[p-3], val[p-4] = byte(l), byte(l>>8), byte(l>>16), byte(l>>24)
	}
	first := len(val) - 4*used
	for first < len(val) && val[first] == 0 {
		first++
	}
	n := zeros + len(val) - first
	if n > len(buf) {
		return nil, false
	}
	for i := 0; i < zeros; i++ {
		buf[i] = 0
	}
	copy(buf[zeros:], val[first:])
	return buf[:n], true
}

// mhUvarint reads a multihash varint with go-varint's rules: at most
// nine bytes, the ninth without a continuation bit, minimally encoded.
func mhUvarint(b []byte) (v uint64, n int, ok bool) {
	var s uint
	for i, c := range b {
		if i == 8 && c >= 0x80 {
			return 0, 0, false
		}
		if c < 0x80 {
			if c == 0 && s > 0 {
				return 0, 0, false
			}
			return v | uint64(c)<<s, i + 1, true
		}
		v |= uint64(c&0x7f) << s
		s += 7
	}
	return 0, 0, false
}

// isMultihash reports whether b is exactly one multihash, as mh.Cast
// checks it: a code, a length, and that many digest bytes, nothing more.
func isMultihash(b []byte) bool {
	if len(b) < 2 {
		return false
	}
	_, n, ok := mhUvarint(b)
	if !ok {
		return false
	}
	length, m, ok := mhUvarint(b[n:])
	if !ok {
		return false
	}
	rest := uint64(len(b) - n - m)
	return length == rest
}

// isBase58PeerID reports whether peer.Decode accepts s through its base58
// branch (a "1" or "Qm" prefix), in which case s is also the canonical
// text of the ID, base58 being a bijection. False means "not decided
// here": s may still be a valid CID or a multihash too large for the fast
// path.
func isBase58PeerID(s string) bool {
	if len(s) == 0 || (s[0] != '1' && (len(s) < 2 || s[0] != 'Q' || s[1] != 'm')) {
		return false
	}
	var buf [maxFastPeerIDBytes]byte
	b, ok := decodeBase58(s, &buf)
	return ok && isMultihash(b)
}

// isClassicID reports whether s is a 40-hex CometBFT node ID, the test
// ClassicIDs.Normalize makes, without building its error for a libp2p ID.
func isClassicID(s string) bool {
	if len(s) != 40 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// decodePeerID is peer.Decode with the fast path: a base58 multihash ID
// costs one allocation (the ID's own bytes) instead of peer.Decode's
// several. Used where a book ID becomes a peer.ID (dials, sends).
func decodePeerID(s string) (peer.ID, error) {
	if isBase58PeerID(s) {
		var buf [maxFastPeerIDBytes]byte
		b, _ := decodeBase58(s, &buf)
		return peer.ID(b), nil
	}
	return peer.Decode(s)
}
