package transport

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/record"
	recpb "github.com/libp2p/go-libp2p/core/record/pb"
	ma "github.com/multiformats/go-multiaddr"
	"google.golang.org/protobuf/proto"
)

// recordKey is a fresh ed25519 identity for building records by hand.
func recordKey(t testing.TB) (crypto.PrivKey, peer.ID) {
	t.Helper()
	priv, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	id, err := peer.IDFromPrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return priv, id
}

// sealRecord signs a peer record naming id, with addrs, by key.
func sealRecord(t testing.TB, key crypto.PrivKey, id peer.ID, seq uint64, addrs ...string) []byte {
	t.Helper()
	rec := peer.PeerRecordFromAddrInfo(peer.AddrInfo{ID: id})
	rec.Seq = seq
	for _, a := range addrs {
		rec.Addrs = append(rec.Addrs, ma.StringCast(a))
	}
	return sealAs(t, rec, key)
}

func sealAs(t testing.TB, rec record.Record, key crypto.PrivKey) []byte {
	t.Helper()
	env, err := record.Seal(rec, key)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := env.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// otherDomainRecord is a peer record signed for another domain.
type otherDomainRecord struct{ *peer.PeerRecord }

func (otherDomainRecord) Domain() string { return "not-a-peer-record" }

// otherTypeRecord is a peer record labelled with another payload type.
type otherTypeRecord struct{ *peer.PeerRecord }

func (otherTypeRecord) Codec() []byte { return []byte{0x03, 0x99} }

// flipSignature returns raw with one bit of its signature flipped.
func flipSignature(t testing.TB, raw []byte) []byte {
	t.Helper()
	var pb recpb.Envelope
	if err := proto.Unmarshal(raw, &pb); err != nil {
		t.Fatal(err)
	}
	pb.Signature[0] ^= 1
	out, err := proto.Marshal(&pb)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// A record verifies only when it is a libp2p peer record, signed for
// the peer-record domain by the key of the peer it names, and that peer
// was asked for; each failure has its own kind.
func TestVerifyPeerRecordSeparatesForgeries(t *testing.T) {
	victimKey, victim := recordKey(t)
	attackerKey, _ := recordKey(t)
	asked := map[peer.ID]bool{victim: true}
	addr := "/ip4/127.0.0.7/udp/4001/quic-v1"

	good := sealRecord(t, victimKey, victim, 7, addr, "/ip4/127.0.0.7/tcp/4001")
	rec, err := VerifyPeerRecord(good, asked)
	if err != nil {
		t.Fatalf("a record signed by its own peer: %v", err)
	}
	if rec.PeerID != victim || rec.Seq != 7 || len(rec.Addrs) != 2 {
		t.Fatalf("verified record %v seq %d addrs %v", rec.PeerID, rec.Seq, rec.Addrs)
	}
	if got := recordNetAddrs(rec); len(got) != 1 || got[0].Port != 4001 || got[0].ID != victim.String() {
		t.Fatalf("QUIC and TCP on one port should make one NetAddress, got %v", got)
	}

	base := peer.PeerRecordFromAddrInfo(peer.AddrInfo{ID: victim, Addrs: []ma.Multiaddr{ma.StringCast(addr)}})
	_, other := recordKey(t)
	for _, c := range []struct {
		name  string
		raw   []byte
		asked map[peer.ID]bool
		kind  error
	}{
		{"signed by another key for the victim's ID", sealRecord(t, attackerKey, victim, 1, addr), asked, ErrRecordKeyMismatch},
		{"bit flipped in the signature", flipSignature(t, good), asked, ErrRecordBadSignature},
		{"signed for another domain", sealAs(t, otherDomainRecord{base}, victimKey), asked, ErrRecordBadSignature},
		{"another payload type", sealAs(t, otherTypeRecord{base}, victimKey), asked, ErrRecordWrongType},
		{"a genuine record nobody asked for", good, map[peer.ID]bool{other: true}, ErrRecordUnsolicited},
		{"garbage", []byte{0x0a, 0xff, 0x01}, asked, ErrRecordsMalformed},
		{"over the envelope limit", make([]byte, MaxEnvelopeSize+1), asked, ErrRecordsTooLarge},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := VerifyPeerRecord(c.raw, c.asked)
			var re *RecordsError
			if !errors.Is(err, c.kind) || !errors.Is(err, ErrPeerRecords) || !errors.As(err, &re) {
				t.Fatalf("got %v, want a *RecordsError of kind %v", err, c.kind)
			}
			if !IsRecordsViolation(err) {
				t.Fatalf("%v is not counted as a violation", err)
			}
			forged := c.kind != ErrRecordsMalformed && c.kind != ErrRecordsTooLarge
			if IsForgedRecord(err) != forged {
				t.Fatalf("IsForgedRecord(%v) = %v, want %v", err, !forged, forged)
			}
		})
	}
}

// Requests and answers round-trip, and the answer encoder keeps to the
// limits by leaving out what does not fit.
func TestRecordsFramesRoundTrip(t *testing.T) {
	var ids []peer.ID
	for range 3 {
		_, id := recordKey(t)
		ids = append(ids, id)
	}
	frame, err := EncodeRecordsRequest(ids)
	if err != nil {
		t.Fatal(err)
	}
	body, err := readRecordsFrame(bytes.NewReader(frame), maxRecordsRequestSize)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeRecordsRequest(body)
	if err != nil || len(got) != 3 || got[0] != ids[0] || got[2] != ids[2] {
		t.Fatalf("request decoded to %v, %v", got, err)
	}

	small := bytes.Repeat([]byte{1}, 1000)
	huge := bytes.Repeat([]byte{2}, MaxEnvelopeSize+1)
	var envs [][]byte
	for range 200 {
		envs = append(envs, small)
	}
	envs = append([][]byte{huge, {}}, envs...)
	frame = EncodeRecordsResponse(envs)
	if len(frame) > MaxRecordsMsgSize+binary.MaxVarintLen64 {
		t.Fatalf("answer of %d bytes exceeds the limit %d", len(frame), MaxRecordsMsgSize)
	}
	body, err = readRecordsFrame(bytes.NewReader(frame), MaxRecordsMsgSize)
	if err != nil {
		t.Fatal(err)
	}
	out, err := DecodeRecordsResponse(body)
	if err != nil {
		t.Fatal(err)
	}
	// 1000-byte entries with a 2-byte prefix: 130 fit in 128 KiB.
	if len(out) != MaxRecordsMsgSize/1002 {
		t.Fatalf("kept %d envelopes, want %d", len(out), MaxRecordsMsgSize/1002)
	}
	for _, e := range out {
		if !bytes.Equal(e, small) {
			t.Fatal("an oversized or empty envelope was kept")
		}
	}
	if empty, err := DecodeRecordsResponse(nil); err != nil || len(empty) != 0 {
		t.Fatalf("an empty answer: %v, %v", empty, err)
	}
}

// Bad input is refused with a typed error naming what was wrong.
func TestRecordsDecodersRejectBadInput(t *testing.T) {
	_, id := recordKey(t)
	idEntry := binary.AppendUvarint(nil, uint64(len(id)))
	idEntry = append(idEntry, id...)
	frame := func(body []byte) []byte {
		return append(binary.AppendUvarint(nil, uint64(len(body))), body...)
	}
	tooMany := bytes.Repeat(idEntry, MaxRecordIDs+1)

	for _, c := range []struct {
		name  string
		input []byte
		kind  error
	}{
		{"length prefix over the limit", binary.AppendUvarint(nil, maxRecordsRequestSize+1), ErrRecordsTooLarge},
		{"length prefix overflowing 64 bits", bytes.Repeat([]byte{0xff}, 11), ErrRecordsMalformed},
		{"nothing at all", nil, ErrRecordsTruncated},
		{"body cut short", []byte{0x05, 0x01}, ErrRecordsTruncated},
		{"empty request", frame(nil), ErrRecordsMalformed},
		{"empty entry", frame([]byte{0x00}), ErrRecordsMalformed},
		{"entry longer than an ID may be", frame(append([]byte{MaxPeerIDBytes + 1}, make([]byte, MaxPeerIDBytes+1)...)), ErrRecordsTooLarge},
		{"entry longer than the body", frame([]byte{0x09, 0x01}), ErrRecordsMalformed},
		{"entry that is no peer ID", frame([]byte{0x03, 0xde, 0xad, 0x00}), ErrRecordsMalformed},
		{"the same ID twice", frame(append(append([]byte{}, idEntry...), idEntry...)), ErrRecordsMalformed},
		{"more IDs than allowed", frame(tooMany), ErrRecordsTooMany},
	} {
		t.Run(c.name, func(t *testing.T) {
			body, err := readRecordsFrame(bytes.NewReader(c.input), maxRecordsRequestSize)
			if err == nil {
				_, err = DecodeRecordsRequest(body)
			}
			if !errors.Is(err, c.kind) || !errors.Is(err, ErrPeerRecords) {
				t.Fatalf("got %v, want kind %v", err, c.kind)
			}
		})
	}
	if _, err := EncodeRecordsRequest(nil); !errors.Is(err, ErrRecordsTooMany) {
		t.Fatalf("encoding an empty request: %v", err)
	}
	if err := expectRecordsEnd(bytes.NewReader([]byte{0x00})); !errors.Is(err, ErrRecordsSecondMessage) {
		t.Fatalf("a byte after the message: %v", err)
	}
}

// FuzzRecordsDecode feeds arbitrary bytes to every decoder of the
// protocol: they return a typed error or a result within the limits,
// never panic.
func FuzzRecordsDecode(f *testing.F) {
	key, id := recordKey(f)
	good := sealRecord(f, key, id, 1, "/ip4/127.0.0.1/tcp/1")
	req, _ := EncodeRecordsRequest([]peer.ID{id})
	f.Add(req)
	f.Add(EncodeRecordsResponse([][]byte{good}))
	f.Add(good)
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Add([]byte{0x02, 0x01, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		check := func(what string, err error) {
			if err != nil && !errors.Is(err, ErrPeerRecords) {
				t.Fatalf("%s: untyped error %v", what, err)
			}
		}
		if body, err := readRecordsFrame(bytes.NewReader(b), MaxRecordsMsgSize); err == nil {
			ids, err := DecodeRecordsRequest(body)
			check("request", err)
			if len(ids) > MaxRecordIDs {
				t.Fatalf("%d IDs decoded", len(ids))
			}
			envs, err := DecodeRecordsResponse(body)
			check("answer", err)
			for _, e := range envs {
				if len(e) == 0 || len(e) > MaxEnvelopeSize {
					t.Fatalf("envelope of %d bytes decoded", len(e))
				}
				_, err := VerifyPeerRecord(e, nil)
				check("envelope in answer", err)
			}
		} else {
			check("frame", err)
		}
		_, err := VerifyPeerRecord(b, nil)
		check("envelope", err)
	})
}

// The store keeps the newest record of a peer and evicts the least
// recently updated peer when full.
func TestRecordStoreKeepsNewestAndStaysBounded(t *testing.T) {
	s := newRecordStore(2)
	a, b, c := peer.ID("a"), peer.ID("b"), peer.ID("c")
	if !s.put(&storedRecord{id: a, seq: 5, raw: []byte("a5")}) {
		t.Fatal("first record not stored")
	}
	if s.put(&storedRecord{id: a, seq: 4, raw: []byte("a4")}) || s.put(&storedRecord{id: a, seq: 5, raw: []byte("a5'")}) {
		t.Fatal("an older or equal record replaced a newer one")
	}
	s.put(&storedRecord{id: b, seq: 1})
	s.put(&storedRecord{id: a, seq: 6, raw: []byte("a6")}) // a is now the most recent
	s.put(&storedRecord{id: c, seq: 1})
	if s.len() != 2 || s.get(b) != nil {
		t.Fatalf("store of 2 holds %d, b present: %v", s.len(), s.get(b) != nil)
	}
	if got := s.get(a); got == nil || string(got.raw) != "a6" {
		t.Fatalf("a's record: %+v", got)
	}
}

// A peer gets a burst of requests, then one per interval; the table
// forgets peers whose allowance has refilled.
func TestRequestLimiterBurstThenRate(t *testing.T) {
	l := newRequestLimiter(time.Second, 2)
	t0 := time.Unix(1000, 0)
	p, q := peer.ID("p"), peer.ID("q")
	if !l.allow(p, t0) || !l.allow(p, t0) {
		t.Fatal("the burst was refused")
	}
	if l.allow(p, t0.Add(500*time.Millisecond)) {
		t.Fatal("a third request within the interval was allowed")
	}
	if !l.allow(p, t0.Add(time.Second)) {
		t.Fatal("a request one interval later was refused")
	}
	if !l.allow(q, t0.Add(time.Second)) || l.tracked() != 2 {
		t.Fatalf("tracking %d peers, want 2", l.tracked())
	}
	// Long after, p's bucket is full again and is dropped when q asks.
	if !l.allow(q, t0.Add(time.Minute)) || l.tracked() != 1 {
		t.Fatalf("tracking %d peers after p's allowance refilled, want 1", l.tracked())
	}
}

// BenchmarkVerifyPeerRecord verifies one relayed envelope of an ed25519
// host with a dozen addresses (QUIC and TCP on six IPs) and reports its
// size; an answer holds up to MaxRecordIDs of them.
func BenchmarkVerifyPeerRecord(b *testing.B) {
	key, id := recordKey(b)
	var addrs []string
	for i := range 6 {
		ip := "203.0.113." + string(rune('1'+i))
		addrs = append(addrs, "/ip4/"+ip+"/udp/26656/quic-v1", "/ip4/"+ip+"/tcp/26656")
	}
	raw := sealRecord(b, key, id, 1, addrs...)
	asked := map[peer.ID]bool{id: true}
	for b.Loop() {
		if _, err := VerifyPeerRecord(raw, asked); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(raw)), "envelope-bytes")
}
