package transport

import (
	"bytes"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/cometbft/cometbft/libs/protoio"
	tmp2p "github.com/cometbft/cometbft/proto/tendermint/p2p"
	"github.com/cosmos/gogoproto/proto"

	"github.com/pexp2p/pexp2p/internal/errmsg"
)

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Wire vectors from the design brief (behaviour reference, wire section).
func TestWireGoldenVectors(t *testing.T) {
	req, err := MarshalMessage(&tmp2p.PexRequest{})
	if err != nil || hex.EncodeToString(req) != "0a00" {
		t.Fatalf("PexRequest = %x, %v; want 0a00", req, err)
	}
	framed, err := FrameMessage(&tmp2p.PexRequest{})
	if err != nil || hex.EncodeToString(framed) != "020a00" {
		t.Fatalf("framed PexRequest = %x, %v; want 020a00", framed, err)
	}
	addrs := &tmp2p.PexAddrs{Addrs: []tmp2p.NetAddress{{ID: "1", IP: "127.0.0.1", Port: 9090}}}
	b, err := MarshalMessage(addrs)
	const want = "12130a110a013112093132372e302e302e31188247"
	if err != nil || hex.EncodeToString(b) != want {
		t.Fatalf("PexAddrs = %x, %v; want %s", b, err, want)
	}
	got, err := UnmarshalMessage(mustHex(t, want))
	if err != nil || !proto.Equal(got, addrs) {
		t.Fatalf("decode = %v, %v", got, err)
	}
	got, err = ReadMessage(bytes.NewReader(mustHex(t, "020a00")))
	if _, ok := got.(*tmp2p.PexRequest); err != nil || !ok {
		t.Fatalf("decode framed request = %T, %v", got, err)
	}
	// Already wrapped messages pass through unchanged.
	b2, err := MarshalMessage(addrs.Wrap())
	if err != nil || !bytes.Equal(b, b2) {
		t.Fatalf("wrapped input: %x %v", b2, err)
	}
}

// Our framing is exactly upstream's delimited proto writer (uvarint
// length + gogo message), the format lp2p hand-rolls too.
func TestFramingMatchesUpstreamProtoio(t *testing.T) {
	msg := &tmp2p.PexAddrs{Addrs: []tmp2p.NetAddress{{ID: "12D3KooWabc", IP: "::1", Port: 1}, {ID: "x", IP: "10.0.0.1", Port: 65535}}}
	var buf bytes.Buffer
	if _, err := protoio.NewDelimitedWriter(&buf).WriteMsg(msg.Wrap()); err != nil {
		t.Fatal(err)
	}
	ours, err := FrameMessage(msg)
	if err != nil || !bytes.Equal(ours, buf.Bytes()) {
		t.Fatalf("ours %x\nupstream %x", ours, buf.Bytes())
	}
}

// failAfter serves data and fails the test if anything reads past it;
// proves that an oversized length is refused before the body is read.
type failAfter struct {
	t    *testing.T
	data []byte
}

func (f *failAfter) Read(p []byte) (int, error) {
	if len(f.data) == 0 {
		f.t.Fatal("reader consumed past the length prefix")
	}
	n := copy(p, f.data)
	f.data = f.data[n:]
	return n, nil
}

func TestReadMessageRejects(t *testing.T) {
	cases := []struct {
		name  string
		input string
		kind  error
	}{
		{"empty stream", "", ErrTruncated},
		{"zero length", "00", ErrEmptyMessage},
		{"length just over limit", "81f403", ErrMessageTooLarge}, // 64001
		{"huge length", "ffffffffffffffffff01", ErrMessageTooLarge},
		{"varint overflow", "80808080808080808080808001", ErrMalformed},
		{"cut in prefix", "80", ErrTruncated},
		{"cut in body", "050a00", ErrTruncated},
		{"garbage body", "03ffffff", ErrMalformed},
		{"unknown oneof member", "021a00", ErrUnknownMessage},
		{"no oneof at all", "02" + "2001", ErrUnknownMessage},
		{"second message", "020a00020a00", ErrSecondMessage},
		{"trailing byte", "020a0000", ErrSecondMessage},
		{"pex addrs garbage inside", "03120180", ErrMalformed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			msg, err := ReadMessage(bytes.NewReader(mustHex(t, c.input)))
			if msg != nil || !errors.Is(err, c.kind) || !errors.Is(err, ErrWire) {
				t.Fatalf("got %v, %v; want %v", msg, err, c.kind)
			}
			var we *WireError
			if !errors.As(err, &we) || we.Kind != c.kind {
				t.Fatalf("not a *WireError of kind %v: %#v", c.kind, err)
			}
			if strings.TrimSpace(err.Error()) == "" {
				t.Fatal("empty message")
			}
		})
	}
	// An oversized prefix never touches the body.
	_, err := ReadMessage(&failAfter{t: t, data: mustHex(t, "818080808001")})
	if !errors.Is(err, ErrMessageTooLarge) {
		t.Fatalf("oversized: %v", err)
	}
	allocs := testing.AllocsPerRun(20, func() {
		_, _ = ReadMessage(bytes.NewReader([]byte{0xff, 0xff, 0x03}))
	})
	if allocs > 8 {
		t.Fatalf("%v allocations for a refused length; the body must not be allocated", allocs)
	}
}

func TestReadMessageMaxSizeAccepted(t *testing.T) {
	// A PexAddrs that encodes to exactly MaxMsgSize bytes is accepted.
	a := &tmp2p.PexAddrs{Addrs: []tmp2p.NetAddress{{ID: "", IP: "1.2.3.4", Port: 1}}}
	for {
		b, _ := proto.Marshal(a.Wrap())
		if len(b) >= MaxMsgSize {
			break
		}
		pad := MaxMsgSize - len(b)
		a.Addrs[0].ID += strings.Repeat("a", min(pad, 1000))
	}
	b, _ := proto.Marshal(a.Wrap())
	if len(b) != MaxMsgSize {
		// Length-prefix growth made it overshoot; trim to fit exactly.
		a.Addrs[0].ID = a.Addrs[0].ID[:len(a.Addrs[0].ID)-(len(b)-MaxMsgSize)]
		b, _ = proto.Marshal(a.Wrap())
	}
	if len(b) != MaxMsgSize {
		t.Skipf("could not build an exact-size message (%d)", len(b))
	}
	framed, err := FrameMessage(a)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ReadMessage(bytes.NewReader(framed)); err != nil {
		t.Fatalf("limit-sized message refused: %v", err)
	}
	a.Addrs[0].ID += "a"
	if _, err := FrameMessage(a); !errors.Is(err, ErrMessageTooLarge) {
		t.Fatalf("sending over the limit: %v", err)
	}
}

func TestMarshalRejectsNonPex(t *testing.T) {
	for _, m := range []proto.Message{&tmp2p.NetAddress{}, (*tmp2p.PexRequest)(nil), (*tmp2p.PexAddrs)(nil)} {
		if _, err := MarshalMessage(m); !errors.Is(err, ErrUnsupportedType) {
			t.Fatalf("%T: %v", m, err)
		}
	}
	if _, err := MarshalMessage(&tmp2p.Message{}); !errors.Is(err, ErrEmptyMessage) {
		t.Fatalf("empty wrapper: %v", err)
	}
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

func TestReadMessageIOErrorsAreNotViolations(t *testing.T) {
	boom := errors.New("deadline")
	_, err := ReadMessage(errReader{boom})
	if !errors.Is(err, ErrStreamIO) || !errors.Is(err, boom) || IsProtocolViolation(err) {
		t.Fatalf("%v", err)
	}
	// A complete message whose writer never closes is not accepted.
	_, err = ReadMessage(io.MultiReader(bytes.NewReader(mustHex(t, "020a00")), errReader{boom}))
	if !errors.Is(err, ErrMissingStreamEOF) || IsProtocolViolation(err) {
		t.Fatalf("%v", err)
	}
	if !IsProtocolViolation(&WireError{errmsg.Kinded{Kind: ErrSecondMessage}}) {
		t.Fatal("second message is a violation")
	}
}

// FuzzReadMessage: decoding never panics, never accepts over the limit,
// and whatever decodes re-encodes to something that decodes equal.
func FuzzReadMessage(f *testing.F) {
	for _, s := range []string{"020a00", "00", "021a00", "020a00020a00", "16" + "12130a110a013112093132372e302e302e31188247", "ffff03"} {
		b, _ := hex.DecodeString(s)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		msg, err := ReadMessage(bytes.NewReader(data))
		if err != nil {
			if msg != nil {
				t.Fatal("message returned with an error")
			}
			if !errors.Is(err, ErrWire) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if len(data) > MaxMsgSize+3 {
			t.Fatalf("accepted %d bytes", len(data))
		}
		again, err := FrameMessage(msg)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		msg2, err := ReadMessage(bytes.NewReader(again))
		if err != nil || !proto.Equal(msg, msg2) {
			t.Fatalf("round trip: %v %v %v", msg, msg2, err)
		}
	})
}
