package transport

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/record"

	"github.com/pexp2p/pexp2p/internal/errmsg"
)

// Limits of the peer-records protocol. A request names at most
// MaxRecordIDs peers (one PexAddrs carries at most 250 addresses, so one
// request covers one answer); an answer carries at most as many
// envelopes, each at most MaxEnvelopeSize bytes, MaxRecordsMsgSize in
// all. An ed25519 peer's record with a dozen addresses takes about
// 400 bytes, so the envelope limit leaves room for hosts with many
// interfaces while keeping what one answer can make us verify small.
const (
	MaxRecordIDs      = 250
	MaxPeerIDBytes    = 64
	MaxEnvelopeSize   = 2048
	MaxRecordsMsgSize = 128 << 10
	// maxRecordsRequestSize: each ID is a one-byte length and the ID.
	maxRecordsRequestSize = MaxRecordIDs * (1 + MaxPeerIDBytes)
)

// Peer-records errors. Every error of the protocol's codec and
// verification is a *RecordsError wrapping ErrPeerRecords and one kind.
var (
	ErrPeerRecords = errors.New("peer records")

	// Framing kinds: the sender broke the protocol.
	ErrRecordsTooLarge      = errors.New("peer-records message or entry longer than the limit")
	ErrRecordsTooMany       = errors.New("too many entries in a peer-records message")
	ErrRecordsMalformed     = errors.New("malformed peer-records message")
	ErrRecordsSecondMessage = errors.New("more than one peer-records message on a stream")

	// Verification kinds: the sender relayed a record that is not the
	// named peer's own, or one nobody asked it for.
	ErrRecordBadSignature = errors.New("peer record signature invalid or for another domain")
	ErrRecordWrongType    = errors.New("envelope does not carry a peer record")
	ErrRecordKeyMismatch  = errors.New("peer record signed by a key other than its peer ID's")
	ErrRecordUnsolicited  = errors.New("peer record for an ID that was not asked for")

	// Failures that say nothing about the sender's honesty.
	ErrRecordsTruncated = errors.New("peer-records stream ended inside a message")
	ErrRecordsIO        = errors.New("peer-records stream I/O failed")
)

// RecordsError reports a peer-records framing, decoding or verification
// failure; its Kind is one of the kinds above.
type RecordsError struct{ errmsg.Kinded }

func (e *RecordsError) Error() string        { return e.Message("peer records") }
func (e *RecordsError) Is(target error) bool { return target == ErrPeerRecords || target == e.Kind }

func recordsErr(kind error, err error, format string, args ...any) *RecordsError {
	return &RecordsError{errmsg.Kinded{Kind: kind, Detail: fmt.Sprintf(format, args...), Err: err}}
}

// IsForgedRecord reports whether err is a relayed record that does not
// prove what it was sent for: bad signature, wrong domain or payload
// type, a signer other than the record's peer, or an ID not asked for.
func IsForgedRecord(err error) bool {
	for _, k := range []error{ErrRecordBadSignature, ErrRecordWrongType, ErrRecordKeyMismatch, ErrRecordUnsolicited} {
		if errors.Is(err, k) {
			return true
		}
	}
	return false
}

// IsRecordsViolation reports whether err means the peer broke the
// peer-records protocol (forged records included), as opposed to a
// timeout or a vanished stream.
func IsRecordsViolation(err error) bool {
	for _, k := range []error{ErrRecordsTooLarge, ErrRecordsTooMany, ErrRecordsMalformed, ErrRecordsSecondMessage} {
		if errors.Is(err, k) {
			return true
		}
	}
	return IsForgedRecord(err)
}

// encodeRecordsFrame frames entries as one message:
// uvarint(body length) ‖ body, body = (uvarint(entry length) ‖ entry)*.
func encodeRecordsFrame(entries [][]byte) []byte {
	size := 0
	for _, e := range entries {
		size += binary.MaxVarintLen64 + len(e)
	}
	body := make([]byte, 0, size)
	for _, e := range entries {
		body = binary.AppendUvarint(body, uint64(len(e)))
		body = append(body, e...)
	}
	out := binary.AppendUvarint(make([]byte, 0, binary.MaxVarintLen64+len(body)), uint64(len(body)))
	return append(out, body...)
}

// EncodeRecordsRequest frames a request for the records of ids.
func EncodeRecordsRequest(ids []peer.ID) ([]byte, error) {
	if len(ids) == 0 || len(ids) > MaxRecordIDs {
		return nil, recordsErr(ErrRecordsTooMany, nil, "%d IDs, must be 1..%d", len(ids), MaxRecordIDs)
	}
	entries := make([][]byte, len(ids))
	for i, id := range ids {
		entries[i] = []byte(id)
		if len(id) == 0 || len(id) > MaxPeerIDBytes {
			return nil, recordsErr(ErrRecordsMalformed, nil, "ID %d is %d bytes, must be 1..%d", i, len(id), MaxPeerIDBytes)
		}
	}
	return encodeRecordsFrame(entries), nil
}

// EncodeRecordsResponse frames envelopes (marshalled record.Envelope
// values) as an answer, keeping as many as fit the limits in order.
func EncodeRecordsResponse(envelopes [][]byte) []byte {
	var kept [][]byte
	size := 0
	for _, e := range envelopes {
		if len(kept) == MaxRecordIDs {
			break
		}
		need := len(e) + uvarintLen(uint64(len(e)))
		if len(e) == 0 || len(e) > MaxEnvelopeSize || size+need > MaxRecordsMsgSize {
			continue
		}
		kept = append(kept, e)
		size += need
	}
	return encodeRecordsFrame(kept)
}

func uvarintLen(x uint64) int {
	var b [binary.MaxVarintLen64]byte
	return binary.PutUvarint(b[:], x)
}

// DecodeRecordsRequest parses a request body: 1..MaxRecordIDs distinct
// binary peer IDs.
func DecodeRecordsRequest(body []byte) ([]peer.ID, error) {
	entries, err := splitRecordsEntries(body, MaxPeerIDBytes)
	if err != nil {
		return nil, err
	}
	if len(entries) == 0 {
		return nil, recordsErr(ErrRecordsMalformed, nil, "request names no peer")
	}
	ids := make([]peer.ID, 0, len(entries))
	seen := make(map[peer.ID]bool, len(entries))
	for i, e := range entries {
		id, err := peer.IDFromBytes(e)
		if err != nil {
			return nil, recordsErr(ErrRecordsMalformed, err, "entry %d is not a peer ID", i)
		}
		if seen[id] {
			return nil, recordsErr(ErrRecordsMalformed, nil, "entry %d repeats %s", i, id)
		}
		seen[id] = true
		ids = append(ids, id)
	}
	return ids, nil
}

// DecodeRecordsResponse parses an answer body into its envelopes (not
// yet verified); an answer may be empty.
func DecodeRecordsResponse(body []byte) ([][]byte, error) {
	return splitRecordsEntries(body, MaxEnvelopeSize)
}

// splitRecordsEntries cuts body into at most MaxRecordIDs non-empty
// entries of at most maxEntry bytes each.
func splitRecordsEntries(body []byte, maxEntry int) ([][]byte, error) {
	var out [][]byte
	for len(body) > 0 {
		i := len(out)
		if i == MaxRecordIDs {
			return nil, recordsErr(ErrRecordsTooMany, nil, "more than %d entries", MaxRecordIDs)
		}
		l, k := binary.Uvarint(body)
		if k <= 0 {
			return nil, recordsErr(ErrRecordsMalformed, nil, "entry %d: bad length prefix", i)
		}
		body = body[k:]
		switch {
		case l == 0:
			return nil, recordsErr(ErrRecordsMalformed, nil, "entry %d is empty", i)
		case l > uint64(maxEntry):
			return nil, recordsErr(ErrRecordsTooLarge, nil, "entry %d: %d bytes, limit %d", i, l, maxEntry)
		case l > uint64(len(body)):
			return nil, recordsErr(ErrRecordsMalformed, nil, "entry %d: %d bytes declared, %d left", i, l, len(body))
		}
		out = append(out, body[:l:l])
		body = body[l:]
	}
	return out, nil
}

// streamByteReader feeds binary.ReadUvarint one byte at a time, so that
// nothing past the length prefix is read before its limit is checked,
// and remembers the stream's own error apart from a varint overflow.
type streamByteReader struct {
	r   io.Reader
	err error
	buf [1]byte
}

func (b *streamByteReader) ReadByte() (byte, error) {
	if _, err := io.ReadFull(b.r, b.buf[:]); err != nil {
		b.err = err
		return 0, err
	}
	return b.buf[0], nil
}

// readRecordsFrame reads one length-prefixed message body of at most
// limit bytes.
func readRecordsFrame(r io.Reader, limit int) ([]byte, error) {
	br := &streamByteReader{r: r}
	n, err := binary.ReadUvarint(br)
	if err != nil {
		switch {
		case br.err == nil:
			return nil, recordsErr(ErrRecordsMalformed, err, "length prefix")
		case errors.Is(br.err, io.EOF), errors.Is(br.err, io.ErrUnexpectedEOF):
			return nil, recordsErr(ErrRecordsTruncated, nil, "inside the length prefix")
		default:
			return nil, recordsErr(ErrRecordsIO, br.err, "reading length prefix")
		}
	}
	if n > uint64(limit) {
		return nil, recordsErr(ErrRecordsTooLarge, nil, "length prefix %d, limit %d", n, limit)
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(r, buf); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, recordsErr(ErrRecordsTruncated, nil, "length prefix %d, body cut short", n)
		}
		return nil, recordsErr(ErrRecordsIO, err, "reading %d-byte body", n)
	}
	return buf, nil
}

// readRecordsMessage reads a stream's one message of at most limit bytes,
// decodes it, and requires the end of the stream after it: the framing
// both the request and the response follow.
func readRecordsMessage[T any](r io.Reader, limit int, decode func([]byte) (T, error)) (T, error) {
	var msg T
	body, err := readRecordsFrame(r, limit)
	if err == nil {
		msg, err = decode(body)
	}
	if err == nil {
		err = expectRecordsEnd(r)
	}
	return msg, err
}

// expectRecordsEnd requires the end of the stream after a message.
func expectRecordsEnd(r io.Reader) error {
	var one [1]byte
	k, err := io.ReadFull(r, one[:])
	switch {
	case k > 0:
		return recordsErr(ErrRecordsSecondMessage, nil, "byte 0x%02x after the message", one[0])
	case errors.Is(err, io.EOF):
		return nil
	default:
		return recordsErr(ErrRecordsIO, err, "waiting for the end of the stream")
	}
}

// VerifyPeerRecord checks one relayed envelope: a libp2p peer record
// (payload type and domain), correctly signed, by the key of the peer it
// names, which must be one of asked (nil: any). It returns the record.
func VerifyPeerRecord(raw []byte, asked map[peer.ID]bool) (*peer.PeerRecord, error) {
	if len(raw) > MaxEnvelopeSize {
		return nil, recordsErr(ErrRecordsTooLarge, nil, "envelope of %d bytes, limit %d", len(raw), MaxEnvelopeSize)
	}
	rec := &peer.PeerRecord{}
	env, err := record.ConsumeTypedEnvelope(raw, rec)
	if err != nil {
		return nil, whyEnvelopeFails(raw, err)
	}
	if !bytes.Equal(env.PayloadType, peer.PeerRecordEnvelopePayloadType) {
		return nil, recordsErr(ErrRecordWrongType, nil, "payload type %x", env.PayloadType)
	}
	if !rec.PeerID.MatchesPublicKey(env.PublicKey) {
		signer, _ := peer.IDFromPublicKey(env.PublicKey)
		return nil, recordsErr(ErrRecordKeyMismatch, nil, "record names %s, signed by %s", rec.PeerID, signer)
	}
	if asked != nil && !asked[rec.PeerID] {
		return nil, recordsErr(ErrRecordUnsolicited, nil, "record of %s", rec.PeerID)
	}
	return rec, nil
}

// whyEnvelopeFails names the first check raw fails, given that
// ConsumeTypedEnvelope refused it with err: the envelope does not decode,
// carries another payload type, or holds no peer record; else its
// signature does not verify under the peer-record domain. Only refused
// envelopes pay for this second look.
func whyEnvelopeFails(raw []byte, err error) error {
	env, uerr := record.UnmarshalEnvelope(raw)
	if uerr != nil {
		return recordsErr(ErrRecordsMalformed, uerr, "envelope")
	}
	if !bytes.Equal(env.PayloadType, peer.PeerRecordEnvelopePayloadType) {
		return recordsErr(ErrRecordWrongType, nil, "payload type %x", env.PayloadType)
	}
	if perr := (&peer.PeerRecord{}).UnmarshalRecord(env.RawPayload); perr != nil {
		return recordsErr(ErrRecordsMalformed, perr, "peer record payload")
	}
	return recordsErr(ErrRecordBadSignature, err, "")
}
