package transport

import (
	"context"
	"crypto/rand"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/control"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	libp2pquic "github.com/libp2p/go-libp2p/p2p/transport/quic"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/pexp2p/pexp2p/addrbook"
)

// holdGate is a connection gater whose inbound InterceptSecured waits
// for release: go-libp2p's QUIC listener calls it on its accept loop, so
// while it waits, handshaken connections pile up in the listener's
// 16-entry queue and the next ones are closed with "queue full".
type holdGate struct {
	release chan struct{}
	once    sync.Once
}

func (g *holdGate) open() { g.once.Do(func() { close(g.release) }) }

func (g *holdGate) InterceptPeerDial(peer.ID) bool               { return true }
func (g *holdGate) InterceptAddrDial(peer.ID, ma.Multiaddr) bool { return true }
func (g *holdGate) InterceptAccept(network.ConnMultiaddrs) bool  { return true }
func (g *holdGate) InterceptSecured(d network.Direction, _ peer.ID, _ network.ConnMultiaddrs) bool {
	if d == network.DirInbound {
		<-g.release
	}
	return true
}
func (g *holdGate) InterceptUpgraded(network.Conn) (bool, control.DisconnectReason) {
	return true, 0
}

// Finding 5 of docs/reliability.md: a burst of inbound QUIC connections
// overflows the remote's accept queue, and the dialer's Connect reports
// success for a connection the remote has already closed. Dial notices
// the "queue full" refusal and dials again, so the burst costs a moment,
// not a round of the reactor.
func TestDialRetriesWhenAcceptQueueFull(t *testing.T) {
	gate := &holdGate{release: make(chan struct{})}
	rk, _ := GenNodeKey(rand.Reader)
	remote, err := libp2p.New(
		libp2p.Identity(rk.LibP2PKey()),
		libp2p.NoTransports,
		libp2p.Transport(libp2pquic.NewTransport),
		libp2p.ListenAddrStrings("/ip4/127.41.0.1/udp/0/quic-v1"),
		libp2p.ConnectionGater(gate),
		libp2p.DisableRelay(),
		libp2p.DisableMetrics(),
	)
	if err != nil {
		t.Fatal(err)
	}
	defer remote.Close()
	defer gate.open() // before the close, which waits for the accept loop
	target := peer.AddrInfo{ID: remote.ID(), Addrs: remote.Addrs()}

	// Fill the remote's queue: one connection held in the gater, 16
	// waiting behind it; every further one is refused at once, so the
	// first filler whose connection dies proves the queue is full.
	const fillers = 24
	refused := make(chan struct{}, fillers)
	var fwg sync.WaitGroup
	for i := 0; i < fillers; i++ {
		fk, _ := GenNodeKey(rand.Reader)
		fh, err := libp2p.New(libp2p.Identity(fk.LibP2PKey()), libp2p.NoTransports,
			libp2p.Transport(libp2pquic.NewTransport), libp2p.NoListenAddrs,
			libp2p.DisableRelay(), libp2p.DisableMetrics())
		if err != nil {
			t.Fatal(err)
		}
		defer fh.Close()
		fwg.Add(1)
		go func() {
			defer fwg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if fh.Connect(ctx, target) == nil && fh.Network().Connectedness(remote.ID()) != network.Connected {
				refused <- struct{}{}
			}
		}()
	}
	select {
	case <-refused:
	case <-time.After(20 * time.Second):
		t.Fatal("no filler connection was refused: the remote's accept queue never filled")
	}

	var retries atomic.Int32
	n, _ := testNode(t, 42, nil)
	n.onBusyRetry = func(peer.ID) {
		// The remote drains its queue from now on.
		retries.Add(1)
		gate.open()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	addrs := remote.Addrs()
	port, err := addrs[0].ValueForProtocol(ma.P_UDP)
	if err != nil {
		t.Fatal(err)
	}
	na, err := addrbook.ParseNetAddress(PeerIDs, remote.ID().String()+"@127.41.0.1:"+port)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Dial(ctx, na); err != nil {
		t.Fatalf("Dial of a peer whose queue was full: %v (busy retries: %d)", err, retries.Load())
	}
	if retries.Load() == 0 {
		t.Fatal("the first connection was not refused as busy: the test did not exercise the retry")
	}
	if n.host.Network().Connectedness(remote.ID()) != network.Connected {
		t.Fatal("Dial returned nil but the node holds no connection to the remote")
	}
	gate.open()
	fwg.Wait()
}
