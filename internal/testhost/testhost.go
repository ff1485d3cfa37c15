// Package testhost builds the bare libp2p hosts tests use as hand-driven
// peers: a fresh ed25519 identity, TCP and QUIC, no relay, metrics or
// ping, closed when the test ends; and loopback ports held by someone
// else, for tests of a listen address in use. Only tests import it.
package testhost

import (
	"crypto/rand"
	"io"
	"net"
	"net/netip"
	"testing"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	libp2pquic "github.com/libp2p/go-libp2p/p2p/transport/quic"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	"go.uber.org/goleak"
)

// VerifyTestMain runs the tests, then fails the binary if goroutines
// leaked, ignoring the few process-wide ones go-libp2p and its
// dependencies keep by design, which outlive every host, and any others
// the caller names (each with a comment saying whose it is).
func VerifyTestMain(m *testing.M, ignore ...goleak.Option) {
	goleak.VerifyTestMain(m, append([]goleak.Option{
		goleak.IgnoreTopFunction("github.com/ipfs/go-log/v2/writer.(*MirrorWriter).logRoutine"),
		goleak.IgnoreTopFunction("go.opencensus.io/stats/view.(*worker).start"),
		goleak.IgnoreAnyFunction("github.com/libp2p/go-libp2p/p2p/transport/quicreuse.(*reuse).gc"),
	}, ignore...)...)
}

// New starts a bare host listening on listen (multiaddr strings; none
// means it only dials) and closes it at the end of the test.
func New(t testing.TB, listen ...string) host.Host {
	t.Helper()
	priv, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	addrs := libp2p.NoListenAddrs
	if len(listen) > 0 {
		addrs = libp2p.ListenAddrStrings(listen...)
	}
	h, err := libp2p.New(
		libp2p.Identity(priv),
		libp2p.NoTransports,
		libp2p.Transport(tcp.NewTCPTransport),
		libp2p.Transport(libp2pquic.NewTransport),
		addrs,
		libp2p.DisableRelay(),
		libp2p.DisableMetrics(),
		libp2p.Ping(false),
	)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Close() })
	return h
}

// Taken holds a loopback port of network, "tcp" or "udp" (QUIC's), until
// the test ends, for tests of what a node does when its listen address
// is in use.
func Taken(t testing.TB, network string) netip.AddrPort {
	t.Helper()
	var (
		held io.Closer
		addr net.Addr
		err  error
	)
	switch network {
	case "tcp":
		var ln net.Listener
		if ln, err = net.Listen(network, "127.0.0.1:0"); err == nil {
			held, addr = ln, ln.Addr()
		}
	case "udp":
		var pc net.PacketConn
		if pc, err = net.ListenPacket(network, "127.0.0.1:0"); err == nil {
			held, addr = pc, pc.LocalAddr()
		}
	default:
		t.Fatalf("testhost.Taken: network %q, want tcp or udp", network)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = held.Close() })
	return netip.MustParseAddrPort(addr.String())
}
