package testnet

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/libp2p/go-libp2p"
	dht "github.com/libp2p/go-libp2p-kad-dht"
	"github.com/libp2p/go-libp2p/core/connmgr"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	libp2pquic "github.com/libp2p/go-libp2p/p2p/transport/quic"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/pexp2p/pexp2p/transport"
)

// DHTProtocolPrefix keeps the testnet's DHT apart from any public one
// (the default /ipfs prefix would also impose Amino's record rules).
const DHTProtocolPrefix protocol.ID = "/pexp2p-testnet"

// KadDHT is go-libp2p-kad-dht on spec's topology, the discovery a libp2p
// user would pick instead of PEX: N go-libp2p hosts in this process, host
// i on LoopbackIP(i) over spec.Transport, each running a kad-dht in server
// mode under DHTProtocolPrefix with the first spec.Seeds hosts as its only
// bootstrap peers. The hosts are built as pexp2p's are (the same
// transports, security and muxer defaults, the resource manager
// transport.ResourceManagerFor derives from the same peer limits, no
// connection manager trimming, no relay) so that the rows differ by the
// discovery protocol.
//
// A host's peers are its open connections; its book is its peerstore,
// counting the other hosts it holds an address for. With spec.SeedMode
// the bootstrap hosts are left out of the measurement, as seed-mode seeds
// are on the other stacks. A DHT has no rounds: its rounds are wall time
// in spec.Period units. Traffic counts the DHT's own messages and bytes
// (uvarint-framed protobufs on its streams, both requests and answers).
func KadDHT(spec Spec) Cluster { return &dhtCluster{spec: spec} }

type dhtCluster struct {
	spec    Spec
	hosts   []host.Host
	dhts    []*dht.IpfsDHT
	ids     []peer.ID
	started []bool
	msgs    atomic.Int64
	bytes   atomic.Int64
}

func (c *dhtCluster) Name() string { return "kad-dht/libp2p-" + c.spec.Transport }

func (c *dhtCluster) listenAddr(i int) (ma.Multiaddr, error) {
	l := "/ip4/" + LoopbackIP(i) + "/udp/0/quic-v1"
	if c.spec.Transport == "tcp" {
		l = "/ip4/" + LoopbackIP(i) + "/tcp/0"
	}
	return ma.NewMultiaddr(l)
}

// newHost builds and starts host i and its DHT, retrying on a new port
// when the ephemeral one was taken in between (as the libp2p stack does).
func (c *dhtCluster) newHost(i int, bootstrap []peer.AddrInfo) (host.Host, *dht.IpfsDHT, error) {
	var err error
	for range 3 {
		var h host.Host
		if h, err = c.buildHost(i); err != nil {
			if strings.Contains(err.Error(), "address already in use") {
				continue
			}
			return nil, nil, err
		}
		opts := []dht.Option{dht.Mode(dht.ModeServer), dht.ProtocolPrefix(DHTProtocolPrefix)}
		if len(bootstrap) > 0 {
			opts = append(opts, dht.BootstrapPeers(bootstrap...))
		}
		d, err := dht.New(&countingHost{Host: h, c: c}, opts...)
		if err != nil {
			_ = h.Close()
			return nil, nil, fmt.Errorf("kad-dht: %w", err)
		}
		return h, d, nil
	}
	return nil, nil, err
}

func (c *dhtCluster) buildHost(i int) (host.Host, error) {
	key, err := transport.GenNodeKey(nil)
	if err != nil {
		return nil, err
	}
	listen, err := c.listenAddr(i)
	if err != nil {
		return nil, err
	}
	rm, err := transport.ResourceManagerFor(transport.Config{
		MaxInboundPeers:  c.spec.MaxInbound,
		MaxOutboundPeers: c.spec.MaxOutbound,
		// The bootstrap host gets a seed's budget, as pexp2p's seed does.
		SeedMode: c.spec.SeedMode && i < c.spec.Seeds,
	})
	if err != nil {
		return nil, fmt.Errorf("resource manager: %w", err)
	}
	// The same host services as pexp2p's hosts (a server-mode DHT reads
	// no reachability, and loopback hosts learn nothing from observed
	// addresses), so that the rows differ by discovery, not by host.
	opts := append([]libp2p.Option{
		libp2p.Identity(key.LibP2PKey()),
		libp2p.NoTransports,
		libp2p.Transport(libp2pquic.NewTransport),
		libp2p.Transport(tcp.NewTCPTransport),
		libp2p.ListenAddrs(listen),
		libp2p.ResourceManager(rm),
		libp2p.ConnectionManager(&connmgr.NullConnMgr{}),
		libp2p.DisableRelay(),
		libp2p.DisableMetrics(),
		libp2p.Ping(false),
		libp2p.UserAgent("pexp2p-testnet-dht"),
	}, transport.HostServiceOptions(transport.Config{ListenAddrs: []ma.Multiaddr{listen}})...)
	h, err := libp2p.New(opts...)
	if err != nil {
		_ = rm.Close()
		return nil, err
	}
	return h, nil
}

// Start starts the bootstrap hosts first, then every other host at once.
func (c *dhtCluster) Start(ctx context.Context) error {
	N, K := c.spec.Nodes, c.spec.Seeds
	if N < 2 || K < 1 || K >= N {
		return specErr("nodes", fmt.Sprintf("%d with %d seeds", N, K), "need at least one seed and one other node")
	}
	c.hosts = make([]host.Host, N)
	c.dhts = make([]*dht.IpfsDHT, N)
	c.ids = make([]peer.ID, N)
	c.started = make([]bool, N)
	var boot []peer.AddrInfo
	for i := range K {
		h, d, err := c.newHost(i, nil)
		if err != nil {
			return fmt.Errorf("bootstrap host %d: %w", i, err)
		}
		c.hosts[i], c.dhts[i], c.ids[i], c.started[i] = h, d, h.ID(), true
		boot = append(boot, peer.AddrInfo{ID: h.ID(), Addrs: h.Addrs()})
	}
	errs := make([]error, N)
	var wg sync.WaitGroup
	for i := K; i < N; i++ {
		wg.Go(func() {
			if err := ctx.Err(); err != nil {
				errs[i] = err
				return
			}
			h, d, err := c.newHost(i, boot)
			if err != nil {
				errs[i] = err
				return
			}
			c.hosts[i], c.dhts[i], c.ids[i], c.started[i] = h, d, h.ID(), true
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			return fmt.Errorf("host %d: %w", i, err)
		}
	}
	return nil
}

func (c *dhtCluster) Sample() []NodeSample {
	out := make([]NodeSample, 0, len(c.hosts))
	for i, h := range c.hosts {
		if !c.started[i] || (c.spec.SeedMode && i < c.spec.Seeds) {
			continue
		}
		s := NodeSample{Peers: len(h.Network().Peers())}
		ps := h.Peerstore()
		for j, id := range c.ids {
			if j != i && id != "" && len(ps.Addrs(id)) > 0 {
				s.Known++
			}
		}
		out = append(out, s)
	}
	return out
}

func (c *dhtCluster) Traffic() Traffic {
	return Traffic{Msgs: c.msgs.Load(), Bytes: c.bytes.Load()}
}

// Stop closes every DHT and host at once and waits for them.
func (c *dhtCluster) Stop() error {
	errs := make([]error, len(c.hosts))
	var wg sync.WaitGroup
	for i, h := range c.hosts {
		if !c.started[i] {
			continue
		}
		wg.Go(func() {
			errs[i] = errors.Join(c.dhts[i].Close(), h.Close())
		})
	}
	wg.Wait()
	c.hosts, c.dhts, c.started = nil, nil, nil
	return errors.Join(errs...)
}

// countingHost is the host the DHT is given: every stream of a DHT
// protocol, opened or accepted, counts what the DHT writes on it.
type countingHost struct {
	host.Host
	c *dhtCluster
}

func (h *countingHost) NewStream(ctx context.Context, p peer.ID, pids ...protocol.ID) (network.Stream, error) {
	s, err := h.Host.NewStream(ctx, p, pids...)
	if err != nil {
		return nil, err
	}
	return &countingStream{Stream: s, c: h.c}, nil
}

func (h *countingHost) SetStreamHandler(pid protocol.ID, handler network.StreamHandler) {
	h.Host.SetStreamHandler(pid, func(s network.Stream) {
		handler(&countingStream{Stream: s, c: h.c})
	})
}

// countingStream counts bytes written, and messages by following the
// uvarint length prefixes through the written bytes, however the writer
// splits them.
type countingStream struct {
	network.Stream
	c      *dhtCluster
	frames frameCounter
}

func (s *countingStream) Write(p []byte) (int, error) {
	n, err := s.Stream.Write(p)
	s.c.bytes.Add(int64(n))
	s.c.msgs.Add(int64(s.frames.feed(p[:n])))
	return n, err
}

// frameCounter counts the uvarint-length-prefixed frames in a byte
// stream fed in pieces.
type frameCounter struct {
	remaining uint64 // body bytes of the current frame still to come
	length    uint64 // the length prefix being read
	shift     uint
	inBody    bool
}

// feed consumes p and returns how many frames it completed.
func (f *frameCounter) feed(p []byte) int {
	done := 0
	for len(p) > 0 {
		if f.inBody {
			k := min(uint64(len(p)), f.remaining)
			f.remaining -= k
			p = p[k:]
			if f.remaining == 0 {
				f.inBody = false
				done++
			}
			continue
		}
		b := p[0]
		p = p[1:]
		if f.shift < 64 {
			f.length |= uint64(b&0x7f) << f.shift
		}
		f.shift += 7
		if b&0x80 != 0 {
			continue
		}
		f.remaining, f.length, f.shift = f.length, 0, 0
		if f.remaining == 0 {
			done++
		} else {
			f.inBody = true
		}
	}
	return done
}
