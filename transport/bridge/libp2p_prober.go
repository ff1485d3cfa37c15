package bridge

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	libp2pquic "github.com/libp2p/go-libp2p/p2p/transport/quic"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/pexp2p/pexp2p/addrbook"
	"github.com/pexp2p/pexp2p/transport"
)

// ErrLibp2pProbe is wrapped by every Libp2pProber failure.
var ErrLibp2pProbe = errors.New("libp2p probe failed")

// Libp2pProbeError lists what each transport attempt returned.
type Libp2pProbeError struct {
	Addr     string
	Attempts []error // QUIC first, then TCP
}

func (e *Libp2pProbeError) Error() string {
	return fmt.Sprintf("libp2p probe of %s failed: %v", e.Addr, errors.Join(e.Attempts...))
}
func (e *Libp2pProbeError) Is(target error) bool { return target == ErrLibp2pProbe }
func (e *Libp2pProbeError) Unwrap() []error      { return e.Attempts }

// Libp2pProber proves a peer ID at an IP and port by completing a libp2p
// secure handshake with it (Noise or TLS check the remote key against the
// peer ID we dial), over QUIC first and then TCP on the same port number,
// and hangs up.
//
// It runs its own small host with a throw-away key and no listen address,
// so a probe is never mistaken for a peer of the libp2p face: the probed
// node learns no address to put in its book, and the face's peer set,
// limits and PEX state are untouched.
type Libp2pProber struct {
	h       host.Host
	attempt time.Duration
}

// DefaultProbeAttemptTimeout bounds each transport attempt of a libp2p
// probe. It matters for QUIC: a dial to a UDP port nobody serves gets no
// refusal and would otherwise use the whole probe budget, leaving none
// for the TCP attempt.
const DefaultProbeAttemptTimeout = 3 * time.Second

// NewLibp2pProber starts the probing host; attemptTimeout bounds each of
// the QUIC and TCP attempts (0 means DefaultProbeAttemptTimeout). Close it
// when done.
func NewLibp2pProber(attemptTimeout time.Duration) (*Libp2pProber, error) {
	if attemptTimeout <= 0 {
		attemptTimeout = DefaultProbeAttemptTimeout
	}
	priv, _, err := crypto.GenerateEd25519Key(nil)
	if err != nil {
		return nil, fmt.Errorf("bridge: probe key: %w", err)
	}
	h, err := libp2p.New(
		libp2p.Identity(priv),
		libp2p.NoListenAddrs,
		libp2p.Transport(libp2pquic.NewTransport),
		libp2p.Transport(tcp.NewTCPTransport),
		libp2p.DisableRelay(),
		libp2p.DisableMetrics(),
		libp2p.Ping(false),
	)
	if err != nil {
		return nil, fmt.Errorf("bridge: probe host: %w", err)
	}
	return &Libp2pProber{h: h, attempt: attemptTimeout}, nil
}

// Close stops the probing host.
func (p *Libp2pProber) Close() error { return p.h.Close() }

// Probe implements Prober; addr.ID is a libp2p peer ID.
func (p *Libp2pProber) Probe(ctx context.Context, addr addrbook.NetAddress) error {
	id, err := peer.Decode(addr.ID)
	if err != nil {
		return &Libp2pProbeError{Addr: addr.String(), Attempts: []error{err}}
	}
	// QUIC first, then TCP on the same port, as the libp2p face listens.
	var dial []ma.Multiaddr
	for _, tpt := range []transport.Transport{transport.TransportQUIC, transport.TransportTCP} {
		a, err := transport.IPPortMultiaddr(addr.IP, addr.Port, tpt)
		if err != nil {
			return &Libp2pProbeError{Addr: addr.String(), Attempts: []error{err}}
		}
		dial = append(dial, a)
	}
	// The cache keeps us from re-probing an address within its TTL; a
	// forced dial keeps swarm backoff from a previous failure from
	// answering for the node now.
	ctx = network.WithForceDirectDial(ctx, "bridge probe")
	var attempts []error
	for _, a := range dial {
		if err := ctx.Err(); err != nil {
			attempts = append(attempts, err)
			break
		}
		p.h.Peerstore().ClearAddrs(id)
		actx, cancel := context.WithTimeout(ctx, p.attempt)
		err := p.h.Connect(actx, peer.AddrInfo{ID: id, Addrs: []ma.Multiaddr{a}})
		cancel()
		if err == nil {
			_ = p.h.Network().ClosePeer(id)
			p.h.Peerstore().RemovePeer(id)
			p.h.Peerstore().ClearAddrs(id)
			return nil
		}
		attempts = append(attempts, fmt.Errorf("%s: %w", a, err))
	}
	p.h.Peerstore().RemovePeer(id)
	p.h.Peerstore().ClearAddrs(id)
	return &Libp2pProbeError{Addr: addr.String(), Attempts: attempts}
}
