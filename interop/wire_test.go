package interop

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cometbft/cometbft/lp2p"
	"github.com/cometbft/cometbft/p2p"
	upex "github.com/cometbft/cometbft/p2p/pex"
	tmp2p "github.com/cometbft/cometbft/proto/tendermint/p2p"
	"github.com/cosmos/gogoproto/proto"
	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	libp2pquic "github.com/libp2p/go-libp2p/p2p/transport/quic"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"

	"github.com/pexp2p/pexp2p/addrbook"
	"github.com/pexp2p/pexp2p/pex"
	"github.com/pexp2p/pexp2p/transport"
)

// upstreamEncode is what an upstream node puts on the wire for msg: its
// peer.send (and lp2p's marshalProto) wraps a p2p.Wrapper and marshals.
func upstreamEncode(t testing.TB, msg proto.Message) []byte {
	t.Helper()
	w, ok := msg.(p2p.Wrapper)
	if !ok {
		t.Fatalf("%T is not an upstream Wrapper", msg)
	}
	b, err := proto.Marshal(w.Wrap())
	if err != nil {
		t.Fatalf("upstream marshal: %v", err)
	}
	return b
}

// upstreamDecode is upstream's receive path: unmarshal into the channel's
// message type (tmp2p.Message) and Unwrap.
func upstreamDecode(b []byte) (proto.Message, error) {
	var m tmp2p.Message
	if err := proto.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	return m.Unwrap()
}

func classicID(i int) string { return fmt.Sprintf("%040x", i+1) }

const maxIPv6 = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"

// wireShapes is every PEX message shape the wire must carry: requests,
// empty, one-entry and full answers, IPv4 and IPv6. The sizes of the two
// 250-entry shapes are what upstream's own encoder produces for them.
func wireShapes(t testing.TB) []struct {
	name string
	msg  pex.Message
	size int // expected encoded size, 0 = not checked
	hex  string
} {
	ipv4 := make([]tmp2p.NetAddress, 250)
	for i := range ipv4 {
		ipv4[i] = tmp2p.NetAddress{ID: classicID(i), IP: fmt.Sprintf("100.%d.%d.%d", i%7, i/7, i%250+1), Port: uint32(26656 + i)}
	}
	ipv6max := make([]tmp2p.NetAddress, 250)
	for i := range ipv6max {
		ipv6max[i] = tmp2p.NetAddress{ID: classicID(i), IP: maxIPv6, Port: 65535}
	}
	return []struct {
		name string
		msg  pex.Message
		size int
		hex  string
	}{
		{name: "request", msg: &tmp2p.PexRequest{}, hex: "0a00"},
		{name: "empty response", msg: &tmp2p.PexAddrs{}, hex: "1200"},
		{name: "empty response, empty slice", msg: &tmp2p.PexAddrs{Addrs: []tmp2p.NetAddress{}}, hex: "1200"},
		{name: "reference vector", msg: &tmp2p.PexAddrs{Addrs: []tmp2p.NetAddress{{ID: "1", IP: "127.0.0.1", Port: 9090}}},
			hex: "12130a110a013112093132372e302e302e31188247"},
		{name: "golden classic ID IPv4", msg: &tmp2p.PexAddrs{Addrs: []tmp2p.NetAddress{{ID: "c14ff30999c0d33fc2eff45b09ffee7b4c4a3527", IP: "1.2.3.4", Port: 26656}}},
			hex: "12390a370a28633134666633303939396330643333666332656666343562303966666565376234633461333532371207312e322e332e3418a0d001"},
		{name: "IPv6", msg: &tmp2p.PexAddrs{Addrs: []tmp2p.NetAddress{{ID: classicID(7), IP: "2001:4860:4860::8888", Port: 26656}}}},
		{name: "libp2p peer ID", msg: &tmp2p.PexAddrs{Addrs: []tmp2p.NetAddress{{ID: "12D3KooWEyoppNCUx8Yx66oV9fJnriXwCcXwDDUA2kj6vnc6iDEp", IP: "10.0.0.1", Port: 4001}}}},
		{name: "port zero and max", msg: &tmp2p.PexAddrs{Addrs: []tmp2p.NetAddress{{ID: classicID(1), IP: "1.1.1.1", Port: 0}, {ID: classicID(2), IP: "1.1.1.2", Port: 65535}}}},
		// 250 × (2 + 87) + 4: an entry is tag, length, then ID 1+1+40,
		// IP 1+1+39, port 1+3. (The reference's 22004 used a shorter IP.)
		{name: "full response 250 IPv4", msg: &tmp2p.PexAddrs{Addrs: ipv4}},
		{name: "full response 250 maximum IPv6", msg: &tmp2p.PexAddrs{Addrs: ipv6max}, size: 22254},
		{name: "exactly the 64000-byte limit", msg: messageOfSize(t, transport.MaxMsgSize), size: transport.MaxMsgSize},
	}
}

// messageOfSize builds a PexAddrs whose wrapped encoding is exactly n
// bytes, by padding the last entry's ID (upstream's reader does not care
// what an ID looks like, only the book does).
func messageOfSize(t testing.TB, n int) *tmp2p.PexAddrs {
	t.Helper()
	var addrs []tmp2p.NetAddress
	m := &tmp2p.PexAddrs{}
	for {
		next := append(addrs, tmp2p.NetAddress{ID: classicID(len(addrs)), IP: maxIPv6, Port: 65535})
		m.Addrs = next
		if proto.Size(m.Wrap()) > n-200 {
			break
		}
		addrs = next
	}
	for pad := 0; pad < 400; pad++ {
		m.Addrs = append(append([]tmp2p.NetAddress(nil), addrs...), tmp2p.NetAddress{ID: strings.Repeat("a", pad), IP: maxIPv6, Port: 65535})
		if proto.Size(m.Wrap()) == n {
			return m
		}
	}
	t.Fatalf("could not build a message of exactly %d bytes", n)
	return nil
}

// Wire compatibility: our encoding of every shape is byte-identical to upstream's
// proto.Marshal(Wrap(...)), decodes back through upstream's Unwrap, and
// upstream's bytes decode through ours to an equal message.
func TestWireBytesEqualUpstream(t *testing.T) {
	for _, c := range wireShapes(t) {
		t.Run(c.name, func(t *testing.T) {
			ours, err := transport.MarshalMessage(c.msg)
			if err != nil {
				t.Fatalf("ours: %v", err)
			}
			theirs := upstreamEncode(t, c.msg)
			if !bytes.Equal(ours, theirs) {
				t.Fatalf("bytes differ:\nours     %x\nupstream %x", ours, theirs)
			}
			if c.hex != "" && hex.EncodeToString(ours) != c.hex {
				t.Errorf("vector: got %x want %s", ours, c.hex)
			}
			if c.size != 0 && len(ours) != c.size {
				t.Errorf("size %d, reference says %d", len(ours), c.size)
			}
			back, err := upstreamDecode(ours)
			if err != nil {
				t.Fatalf("upstream Unwrap of our bytes: %v", err)
			}
			if !proto.Equal(back, c.msg) {
				t.Fatalf("upstream decoded %v, sent %v", back, c.msg)
			}
			mine, err := transport.UnmarshalMessage(theirs)
			if err != nil {
				t.Fatalf("our decode of upstream bytes: %v", err)
			}
			if !proto.Equal(mine, c.msg) {
				t.Fatalf("we decoded %v, upstream sent %v", mine, c.msg)
			}
		})
	}
}

// Wire compatibility: both sides refuse the same first oversized message: ours when
// encoding (so we never send what upstream's 64000-byte channel drops),
// and upstream's MConnection RecvMessageCapacity is that same 64000.
func TestWireLimitAgreesWithUpstream(t *testing.T) {
	over := messageOfSize(t, transport.MaxMsgSize+1)
	if _, err := transport.MarshalMessage(over); !errors.Is(err, transport.ErrMessageTooLarge) {
		t.Fatalf("encoding %d bytes: got %v, want ErrMessageTooLarge", transport.MaxMsgSize+1, err)
	}
	var ch *p2p.ChannelDescriptor
	for _, d := range newUpstreamPexReactor().GetChannels() {
		if d.ID == 0 {
			ch = d
		}
	}
	if ch == nil || ch.RecvMessageCapacity != transport.MaxMsgSize {
		t.Fatalf("upstream PEX channel descriptor %+v, want RecvMessageCapacity %d", ch, transport.MaxMsgSize)
	}
}

// Wire compatibility: our NetAddress.ToProto produces the same wire entry as
// upstream's p2p.NetAddress.ToProto for the same address, IPv4 and IPv6,
// and upstream's entry converts back to the same address here.
func TestNetAddressProtoEqualsUpstream(t *testing.T) {
	for _, s := range []string{
		classicID(1) + "@1.2.3.4:26656",
		classicID(2) + "@127.0.0.1:1",
		classicID(3) + "@[2001:4860:4860::8888]:26656",
		classicID(4) + "@[fe80::1]:65535",
		classicID(5) + "@[" + maxIPv6 + "]:0",
		classicID(6) + "@[::1.2.3.4]:80",
		classicID(7) + "@[::ffff:1.2.3.4]:80", // IPv4-mapped: both print it as IPv4
	} {
		ours, err := addrbook.ParseNetAddress(addrbook.ClassicIDs, s)
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		up, err := p2p.NewNetAddressString(s)
		if err != nil {
			t.Fatalf("upstream %s: %v", s, err)
		}
		a, b := pex.AddrToProto(ours), up.ToProto()
		if a != b {
			t.Errorf("%s: ours %+v, upstream %+v", s, a, b)
		}
		back, err := pex.AddrFromProto(addrbook.ClassicIDs, b)
		if err != nil || back != ours {
			t.Errorf("%s: upstream's proto converts back to %v (%v), want %v", s, back, err, ours)
		}
	}
}

func newUpstreamPexReactor() *upex.Reactor {
	return upex.NewReactor(upex.NewAddrBook("", false), &upex.ReactorConfig{})
}

// newHostPair starts two libp2p hosts on loopback over the given
// transport ("tcp" or "quic-v1") and connects a to b.
func newHostPair(t *testing.T, proto string) (a, b host.Host) {
	t.Helper()
	listen := "/ip4/127.0.0.1/tcp/0"
	if proto == "quic-v1" {
		listen = "/ip4/127.0.0.1/udp/0/quic-v1"
	}
	mk := func() host.Host {
		h, err := libp2p.New(libp2p.ListenAddrStrings(listen), libp2p.DisableRelay(), libp2p.NoTransports,
			transportOption(proto))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = h.Close() })
		return h
	}
	a, b = mk(), mk()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.Connect(ctx, peer.AddrInfo{ID: b.ID(), Addrs: b.Addrs()}); err != nil {
		t.Fatal(err)
	}
	return a, b
}

// Wire compatibility: on /p2p/cometbft/1.0.0/channel/0x00, what our SendMessage writes
// is read by upstream lp2p's StreamReadSizedClose (with the PEX channel's
// 64000 limit) and decodes through Unwrap; what upstream's
// StreamWriteClose writes is read by our ReceiveMessage. Over TCP and QUIC.
func TestFramingWithUpstreamStreamHelpers(t *testing.T) {
	if lp2p.ProtocolID(0x00) != transport.PexProtocolID {
		t.Fatalf("protocol IDs differ: upstream %q, ours %q", lp2p.ProtocolID(0x00), transport.PexProtocolID)
	}
	for _, tr := range []string{"tcp", "quic-v1"} {
		t.Run(tr, func(t *testing.T) {
			a, b := newHostPair(t, tr)
			type got struct {
				msg proto.Message
				err error
			}
			// b reads with upstream's helper, a with ours.
			atB := make(chan got, 1)
			b.SetStreamHandler(transport.PexProtocolID, func(s network.Stream) {
				payload, err := lp2p.StreamReadSizedClose(s, transport.MaxMsgSize)
				if err != nil {
					atB <- got{err: err}
					return
				}
				m, err := upstreamDecode(payload)
				atB <- got{m, err}
			})
			atA := make(chan got, 1)
			a.SetStreamHandler(transport.PexProtocolID, func(s network.Stream) {
				m, err := transport.ReceiveMessage(s, 5*time.Second)
				atA <- got{m, err}
			})
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			for _, c := range wireShapes(t) {
				s, err := a.NewStream(ctx, b.ID(), transport.PexProtocolID)
				if err != nil {
					t.Fatal(err)
				}
				sendErr := transport.SendMessage(s, c.msg, 5*time.Second)
				select {
				case g := <-atB:
					if g.err != nil || !proto.Equal(g.msg, c.msg) {
						t.Fatalf("%s: upstream read %v, %v (our send: %v)", c.name, g.msg, g.err, sendErr)
					}
				case <-ctx.Done():
					t.Fatalf("%s: upstream reader got nothing (our send: %v)", c.name, sendErr)
				}
				// Upstream's reader closes its end as soon as it has the
				// payload; over QUIC that cancels our side, which upstream's
				// own closeStream tolerates. A sender must not report a
				// delivered message as failed.
				if sendErr != nil {
					t.Errorf("%s: message delivered, but our SendMessage reported %v", c.name, sendErr)
				}

				s, err = b.NewStream(ctx, a.ID(), transport.PexProtocolID)
				if err != nil {
					t.Fatal(err)
				}
				if err := lp2p.StreamWriteClose(s, upstreamEncode(t, c.msg)); err != nil {
					t.Fatalf("%s: upstream send: %v", c.name, err)
				}
				select {
				case g := <-atA:
					if g.err != nil || !proto.Equal(g.msg, c.msg) {
						t.Fatalf("%s: we read %v, %v", c.name, g.msg, g.err)
					}
				case <-ctx.Done():
					t.Fatalf("%s: our reader got nothing", c.name)
				}
			}

			// Upstream's writer has no size limit of its own; a frame over
			// 64000 from it is refused by our reader before allocation.
			s, err := b.NewStream(ctx, a.ID(), transport.PexProtocolID)
			if err != nil {
				t.Fatal(err)
			}
			_ = lp2p.StreamWriteClose(s, upstreamEncode(t, messageOfSize(t, transport.MaxMsgSize+1)))
			select {
			case g := <-atA:
				if !errors.Is(g.err, transport.ErrMessageTooLarge) {
					t.Fatalf("oversized upstream frame: got %v, %v; want ErrMessageTooLarge", g.msg, g.err)
				}
			case <-ctx.Done():
				t.Fatal("our reader got nothing for the oversized frame")
			}
		})
	}
}

func transportOption(name string) libp2p.Option {
	if name == "quic-v1" {
		return libp2p.Transport(libp2pquic.NewTransport)
	}
	return libp2p.Transport(tcp.NewTCPTransport)
}
