package testhost

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

func TestMain(m *testing.M) { VerifyTestMain(m) }

func TestTwoHostsConnectOverTCPAndQUIC(t *testing.T) {
	for _, listen := range []string{"/ip4/127.0.0.1/tcp/0", "/ip4/127.0.0.1/udp/0/quic-v1"} {
		a, b := New(t, listen), New(t)
		if len(b.Addrs()) != 0 {
			t.Fatalf("a host given no listen address listens on %v", b.Addrs())
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := b.Connect(ctx, peer.AddrInfo{ID: a.ID(), Addrs: a.Addrs()})
		cancel()
		if err != nil {
			t.Fatalf("%s: %v", listen, err)
		}
		if b.Network().Connectedness(a.ID()) != network.Connected {
			t.Fatalf("%s: not connected", listen)
		}
	}
}

func TestTakenPortsRefuseASecondListener(t *testing.T) {
	tcpAddr := Taken(t, "tcp")
	if ln, err := net.Listen("tcp", tcpAddr.String()); err == nil {
		_ = ln.Close()
		t.Fatalf("TCP %s could be listened on again", tcpAddr)
	}
	udpAddr := Taken(t, "udp")
	if pc, err := net.ListenPacket("udp", udpAddr.String()); err == nil {
		_ = pc.Close()
		t.Fatalf("UDP %s could be listened on again", udpAddr)
	}
}
