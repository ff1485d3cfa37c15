package addrbook

import (
	"encoding/binary"
	"math/bits"
	"net/netip"

	"github.com/minio/highwayhash"
)

// placementHash is upstream's keyed HighwayHash-64 with its 8-byte sum
// read big-endian. highwayhash.Sum64 returns the sum read
// little-endian, hence the byte swap; the result equals upstream's
// binary.BigEndian.Uint64(hasher.Sum(nil)) for the same key and input.
func placementHash(key *[hashKeySize]byte, data []byte) uint64 {
	return bits.ReverseBytes64(highwayhash.Sum64(data, key[:]))
}

// calcNewBucket picks a new bucket with upstream's input layout, so that,
// given the same two keys, a placement here equals upstream's:
//
//	h1  = H(key ‖ group(addr) ‖ group(src)) mod 32
//	idx = H(key ‖ group(src) ‖ BE64(h1)) mod 256
//
// The source group is the second factor on purpose: one source can reach at
// most 32 new buckets, whatever addresses it announces.
func (b *Book) calcNewBucket(addr, src NetAddress) int {
	var buf [192]byte
	d := append(buf[:0], b.key...)
	d = b.appendGroup(d, addr)
	d = b.appendGroup(d, src)
	h1 := placementHash(&b.hashKey, d) % newBucketsPerGroup

	d = append(buf[:0], b.key...)
	d = b.appendGroup(d, src)
	d = binary.BigEndian.AppendUint64(d, h1)
	return int(placementHash(&b.hashKey, d) % newBucketCount)
}

// calcOldBucket picks an old bucket: one group reaches at most 4 old
// buckets.
//
//	h1  = H(key ‖ "id@ip:port") mod 4
//	idx = H(key ‖ group(addr) ‖ BE64(h1)) mod 64
func (b *Book) calcOldBucket(addr NetAddress) int {
	var buf [192]byte
	d := append(buf[:0], b.key...)
	d = appendAddrString(d, addr)
	h1 := placementHash(&b.hashKey, d) % oldBucketsPerGroup

	d = append(buf[:0], b.key...)
	d = b.appendGroup(d, addr)
	d = binary.BigEndian.AppendUint64(d, h1)
	return int(placementHash(&b.hashKey, d) % oldBucketCount)
}

// appendAddrString appends na.String() without allocating.
func appendAddrString(dst []byte, na NetAddress) []byte {
	if na.ID != "" {
		dst = append(dst, na.ID...)
		dst = append(dst, '@')
	}
	if !na.IP.IsValid() {
		return append(dst, na.DialString()...)
	}
	return netip.AddrPortFrom(na.IP, na.Port).AppendTo(dst)
}
