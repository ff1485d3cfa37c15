package transport

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	tmp2p "github.com/cometbft/cometbft/proto/tendermint/p2p"
	"github.com/cosmos/gogoproto/proto"
	"github.com/libp2p/go-libp2p/core/network"

	"github.com/pexp2p/pexp2p/internal/errmsg"
	"github.com/pexp2p/pexp2p/pex"
)

// MaxMsgSize is the largest wrapped PEX message accepted: upstream's
// maxMsgSize (256 bytes per address × 250 addresses).
const MaxMsgSize = 64000

// DefaultStreamTimeout bounds one message stream from open to close;
// upstream lp2p uses the same 10 s.
const DefaultStreamTimeout = 10 * time.Second

// Wire errors. Every error from this file wraps ErrWire and exactly one of
// the kinds below, so callers can tell a hostile peer (too large,
// malformed, empty, unknown, second message) from a slow or vanished one.
var (
	ErrWire = errors.New("pex wire")

	ErrMessageTooLarge = errors.New("message longer than the limit")
	ErrMalformed       = errors.New("malformed message")
	ErrEmptyMessage    = errors.New("message without content")
	ErrUnknownMessage  = errors.New("unknown message type")
	ErrSecondMessage   = errors.New("more than one message on a stream")
	ErrTruncated       = errors.New("stream ended inside a message")
	// ErrStalledStreams is not about one stream: a peer kept opening PEX
	// streams that timed out before a complete message (a slowloris).
	ErrStalledStreams   = errors.New("too many PEX streams stalled")
	ErrUnsupportedType  = errors.New("not a PEX message type")
	ErrStreamIO         = errors.New("stream I/O failed")
	ErrMissingStreamEOF = errors.New("writer did not close the stream after its message")
)

// WireError reports a framing or decoding failure; its Kind is one of
// the Err* kinds above.
type WireError struct{ errmsg.Kinded }

func (e *WireError) Error() string        { return e.Message("pex wire") }
func (e *WireError) Is(target error) bool { return target == ErrWire || target == e.Kind }

// IsProtocolViolation reports whether err means the peer broke the wire
// protocol on purpose or by bug (as opposed to a timeout or a network
// failure, which say nothing about its honesty).
func IsProtocolViolation(err error) bool {
	for _, k := range []error{ErrMessageTooLarge, ErrMalformed, ErrEmptyMessage, ErrUnknownMessage, ErrSecondMessage} {
		if errors.Is(err, k) {
			return true
		}
	}
	return false
}

func wireErr(kind error, err error, format string, args ...any) *WireError {
	return &WireError{errmsg.Kinded{Kind: kind, Detail: fmt.Sprintf(format, args...), Err: err}}
}

// MarshalMessage wraps a *tmp2p.PexRequest or *tmp2p.PexAddrs in
// tendermint.p2p.Message, as upstream's switch does before sending, and
// encodes it. An already wrapped *tmp2p.Message is accepted too.
func MarshalMessage(msg pex.Message) ([]byte, error) {
	var wrapped *tmp2p.Message
	switch m := msg.(type) {
	case *tmp2p.PexRequest:
		if m == nil {
			return nil, wireErr(ErrUnsupportedType, nil, "nil *PexRequest")
		}
		wrapped = m.Wrap().(*tmp2p.Message)
	case *tmp2p.PexAddrs:
		if m == nil {
			return nil, wireErr(ErrUnsupportedType, nil, "nil *PexAddrs")
		}
		wrapped = m.Wrap().(*tmp2p.Message)
	case *tmp2p.Message:
		if m == nil || m.Sum == nil {
			return nil, wireErr(ErrEmptyMessage, nil, "wrapped message has no content")
		}
		wrapped = m
	default:
		return nil, wireErr(ErrUnsupportedType, nil, "%T", msg)
	}
	b, err := proto.Marshal(wrapped)
	if err != nil {
		return nil, wireErr(ErrMalformed, err, "encoding %T", msg)
	}
	if len(b) > MaxMsgSize {
		return nil, wireErr(ErrMessageTooLarge, nil, "%d bytes, limit %d", len(b), MaxMsgSize)
	}
	return b, nil
}

// FrameMessage is MarshalMessage with the uvarint length prefix.
func FrameMessage(msg pex.Message) ([]byte, error) {
	b, err := MarshalMessage(msg)
	if err != nil {
		return nil, err
	}
	out := binary.AppendUvarint(make([]byte, 0, len(b)+binary.MaxVarintLen64), uint64(len(b)))
	return append(out, b...), nil
}

// UnmarshalMessage decodes a wrapped tendermint.p2p.Message and unwraps
// it to *tmp2p.PexRequest or *tmp2p.PexAddrs.
func UnmarshalMessage(b []byte) (pex.Message, error) {
	if len(b) == 0 {
		return nil, wireErr(ErrEmptyMessage, nil, "zero-length message")
	}
	var m tmp2p.Message
	if err := proto.Unmarshal(b, &m); err != nil {
		return nil, wireErr(ErrMalformed, err, "%d bytes", len(b))
	}
	switch s := m.Sum.(type) {
	case *tmp2p.Message_PexRequest:
		if s.PexRequest == nil {
			return &tmp2p.PexRequest{}, nil
		}
		return s.PexRequest, nil
	case *tmp2p.Message_PexAddrs:
		if s.PexAddrs == nil {
			return &tmp2p.PexAddrs{}, nil
		}
		return s.PexAddrs, nil
	case nil:
		// gogo skips unknown fields, so a oneof member we do not know
		// decodes to an empty Sum.
		return nil, wireErr(ErrUnknownMessage, nil, "no known field among %d bytes (first byte 0x%02x)", len(b), b[0])
	default:
		return nil, wireErr(ErrUnknownMessage, nil, "%T", s)
	}
}

// ReadMessage reads exactly one framed message from r and then requires
// the end of the stream: the protocol carries one message per stream and
// the writer closes it. The length is checked against MaxMsgSize before
// anything is allocated.
func ReadMessage(r io.Reader) (pex.Message, error) {
	msg, n, err := readFrame(r)
	if err != nil {
		return nil, err
	}
	if err := checkEnd(r, n); err != nil {
		return nil, err
	}
	return msg, nil
}

// readFrame reads the length prefix and the message, nothing more.
func readFrame(r io.Reader) (pex.Message, uint64, error) {
	n, err := readUvarint(r)
	if err != nil {
		return nil, 0, err
	}
	if n > MaxMsgSize {
		return nil, 0, wireErr(ErrMessageTooLarge, nil, "length prefix %d, limit %d", n, MaxMsgSize)
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(r, buf); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, 0, wireErr(ErrTruncated, nil, "length prefix %d, body cut short", n)
		}
		return nil, 0, wireErr(ErrStreamIO, err, "reading %d-byte body", n)
	}
	msg, err := UnmarshalMessage(buf)
	if err != nil {
		return nil, 0, err
	}
	return msg, n, nil
}

// checkEnd requires the end of the stream after an n-byte message.
func checkEnd(r io.Reader, n uint64) error {
	var one [1]byte
	k, err := io.ReadFull(r, one[:])
	switch {
	case k > 0:
		return wireErr(ErrSecondMessage, nil, "byte 0x%02x after a %d-byte message", one[0], n)
	case errors.Is(err, io.EOF):
		return nil
	default:
		return wireErr(ErrMissingStreamEOF, err, "")
	}
}

// readUvarint reads the length prefix one byte at a time so that nothing
// beyond the prefix is consumed before the limit check.
func readUvarint(r io.Reader) (uint64, error) {
	var x uint64
	var s uint
	var b [1]byte
	for i := 0; i < binary.MaxVarintLen64; i++ {
		k, err := io.ReadFull(r, b[:])
		if k == 0 {
			if i == 0 && errors.Is(err, io.EOF) {
				return 0, wireErr(ErrTruncated, nil, "stream closed before any message")
			}
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return 0, wireErr(ErrTruncated, nil, "stream ended inside the length prefix")
			}
			return 0, wireErr(ErrStreamIO, err, "reading length prefix")
		}
		c := b[0]
		if c < 0x80 {
			if i == binary.MaxVarintLen64-1 && c > 1 {
				return 0, wireErr(ErrMalformed, nil, "length prefix overflows 64 bits")
			}
			return x | uint64(c)<<s, nil
		}
		x |= uint64(c&0x7f) << s
		s += 7
		// Any prefix longer than three bytes already exceeds MaxMsgSize;
		// stop reading early rather than wait for more bytes.
		if x > MaxMsgSize {
			return 0, wireErr(ErrMessageTooLarge, nil, "length prefix above %d", MaxMsgSize)
		}
	}
	return 0, wireErr(ErrMalformed, nil, "length prefix overflows 64 bits")
}

// SendMessage writes one framed message on s and closes it, within
// timeout. On any failure the stream is reset so both ends release it.
func SendMessage(s network.Stream, msg pex.Message, timeout time.Duration) error {
	b, err := FrameMessage(msg)
	if err != nil {
		_ = s.Reset()
		return err
	}
	if timeout > 0 {
		_ = s.SetWriteDeadline(time.Now().Add(timeout))
	}
	if _, err := s.Write(b); err != nil {
		_ = s.Reset()
		return wireErr(ErrStreamIO, err, "writing %d bytes", len(b))
	}
	if err := s.Close(); err != nil && !closedByReader(err) {
		_ = s.Reset()
		return wireErr(ErrStreamIO, err, "closing")
	}
	return nil
}

// closedByReader reports whether a Close after a complete Write failed
// only because the reader already closed its side. Over QUIC a reader that
// read the whole frame and closed (STOP_SENDING) can beat our Close, which
// then fails although the message arrived; upstream lp2p's reader does
// exactly that. quic-go reports it as an untyped error, so the text is the
// only handle (upstream lp2p matches the same text). A reader that resets
// the stream after our Write completed looks the same; the reactor only
// uses Send's result to track an outstanding request, which times out, so
// a false success costs at most one request period.
func closedByReader(err error) bool {
	return strings.Contains(err.Error(), "close called for canceled stream")
}

// ReceiveMessage reads the one message of an inbound stream within
// timeout. A protocol violation resets the stream with libp2p's
// protocol-violation code; other failures reset it plainly; success
// closes it.
func ReceiveMessage(s network.Stream, timeout time.Duration) (pex.Message, error) {
	if timeout > 0 {
		_ = s.SetReadDeadline(time.Now().Add(timeout))
	}
	fail := func(err error) (pex.Message, error) {
		if IsProtocolViolation(err) {
			_ = s.ResetWithError(network.StreamProtocolViolation)
		} else {
			_ = s.Reset()
		}
		return nil, err
	}
	msg, n, err := readFrame(s)
	if err != nil {
		return fail(err)
	}
	if err := checkEnd(s, n); err != nil {
		if errors.Is(err, ErrMissingStreamEOF) {
			// The message is complete and valid; a writer slow to close
			// (a loaded host, a lazy multistream handshake) is not a
			// reason to lose it. A second message would have shown as
			// data, not as a timeout.
			log.Debugw("PEX writer did not close its stream in time; message kept", "peer", s.Conn().RemotePeer(), "err", err)
			_ = s.Reset()
			return msg, nil
		}
		return fail(err)
	}
	_ = s.Close()
	return msg, nil
}
