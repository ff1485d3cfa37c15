package interop

import (
	"bufio"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	cmtcfg "github.com/cometbft/cometbft/config"
	"github.com/cometbft/cometbft/crypto/ed25519"
	"github.com/cometbft/cometbft/p2p"
	upex "github.com/cometbft/cometbft/p2p/pex"
	tmp2p "github.com/cometbft/cometbft/proto/tendermint/p2p"
	"github.com/cometbft/cometbft/version"
	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/connmgr"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	libp2pquic "github.com/libp2p/go-libp2p/p2p/transport/quic"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/pexp2p/pexp2p/addrbook"
	"github.com/pexp2p/pexp2p/pex"
	"github.com/pexp2p/pexp2p/pexnode"
	"github.com/pexp2p/pexp2p/testnet"
	"github.com/pexp2p/pexp2p/transport"
)

// Seed capacity. The seed runs in a child process (this test
// binary re-executed with seedChildEnv set), so that its CPU time can be
// read exactly from /proc/<pid>/stat while the fresh peers — each a new
// identity that connects, sends one PexRequest, reads the answer and is
// disconnected by the seed — run in the benchmark process.

const (
	seedChildEnv   = "PEXP2P_SEEDCAP_CHILD"
	seedChain      = "seedcap-bench"
	seedBookSize   = 200
	seedClientConc = 8 // PEXP2P_SEEDCAP_CONC overrides (see clientConc)
)

// runSeedChild is the child's whole life: start the seed, print its
// address, serve until stdin closes.
func runSeedChild(kind string) {
	// PEXP2P_SEEDCAP_CPUPROFILE=<prefix> writes <prefix>.<kind> with the
	// seed's own CPU profile (the -test.cpuprofile flag would profile the
	// visitors' process instead).
	if prefix := os.Getenv("PEXP2P_SEEDCAP_CPUPROFILE"); prefix != "" {
		if f, err := os.Create(prefix + "." + kind); err == nil {
			if pprof.StartCPUProfile(f) == nil {
				defer func() { pprof.StopCPUProfile(); _ = f.Close() }()
			}
		}
	}
	stop, addr, err := startSeed(kind)
	if err != nil {
		fmt.Println("ERR", err)
		os.Exit(1)
	}
	fmt.Println("ADDR", addr)
	_, _ = io.Copy(io.Discard, os.Stdin)
	stop()
}

// fillerAddr is where nothing listens: the seed's crawler may dial it
// and is refused at once, on both stacks alike.
func fillerIP(i int) netip.Addr {
	return netip.AddrFrom4([4]byte{127, 200, byte(i / 250), byte(i%250 + 1)})
}

func startSeed(kind string) (stop func(), addr string, err error) {
	switch kind {
	case "classic":
		return startClassicSeed()
	case "quic", "tcp":
		return startLibp2pSeed(kind)
	}
	return nil, "", fmt.Errorf("unknown seed kind %q", kind)
}

func classicNodeInfo(key p2p.NodeKey, laddr, moniker string) p2p.DefaultNodeInfo {
	return p2p.DefaultNodeInfo{
		ProtocolVersion: p2p.NewProtocolVersion(version.P2PProtocol, version.BlockProtocol, 0),
		DefaultNodeID:   key.ID(),
		ListenAddr:      laddr,
		Network:         seedChain,
		Version:         version.TMCoreSemVer,
		Channels:        []byte{upex.PexChannel},
		Moniker:         moniker,
	}
}

func startClassicSeed() (func(), string, error) {
	key := p2p.NodeKey{PrivKey: ed25519.GenPrivKey()}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", err
	}
	laddr := ln.Addr().String()
	_ = ln.Close()
	self, err := p2p.NewNetAddressString(p2p.IDAddressString(key.ID(), laddr))
	if err != nil {
		return nil, "", err
	}
	pc := cmtcfg.DefaultP2PConfig()
	pc.AllowDuplicateIP = true
	pc.SeedMode = true
	ni := classicNodeInfo(key, laddr, "classic-seed")
	mt := p2p.NewMultiplexTransport(ni, key, p2p.MConnConfig(pc))
	if err := mt.Listen(*self); err != nil {
		return nil, "", err
	}
	sw := p2p.NewSwitch(pc, mt)
	sw.SetNodeInfo(ni)
	sw.SetNodeKey(&key)
	dir, err := os.MkdirTemp("", "seedcap-")
	if err != nil {
		return nil, "", err
	}
	book := upex.NewAddrBook(dir+"/addrbook.json", false)
	book.AddOurAddress(self)
	for i := 0; i < seedBookSize; i++ {
		a := &p2p.NetAddress{ID: p2p.ID(fmt.Sprintf("%040x", i+1)), IP: fillerIP(i).AsSlice(), Port: 1}
		if err := book.AddAddress(a, a); err != nil {
			return nil, "", err
		}
	}
	sw.SetAddrBook(book)
	r := upex.NewReactor(book, &upex.ReactorConfig{SeedMode: true, SeedDisconnectWaitPeriod: 28 * time.Hour})
	sw.AddReactor("PEX", r)
	if err := sw.Start(); err != nil {
		return nil, "", err
	}
	return func() {
		_ = sw.Stop()
		_ = mt.Close()
		_ = os.RemoveAll(dir)
	}, self.String(), nil
}

func startLibp2pSeed(kind string) (func(), string, error) {
	key, err := transport.GenNodeKey(rand.Reader)
	if err != nil {
		return nil, "", err
	}
	listen := "/ip4/127.0.0.1/tcp/0"
	if kind == "quic" {
		listen = "/ip4/127.0.0.1/udp/0/quic-v1"
	}
	cfg := pex.DefaultConfig()
	cfg.SeedMode = true
	n, err := pexnode.New(pexnode.Options{
		Key: key,
		Transport: transport.Config{
			ListenAddrs: []ma.Multiaddr{ma.StringCast(listen)}, Network: seedChain, Moniker: "pexp2p-seed",
			AllowDuplicateIP: true,
		},
		PEX: &cfg,
	})
	if err != nil {
		return nil, "", err
	}
	for i := 0; i < seedBookSize; i++ {
		k, err := transport.GenNodeKey(rand.Reader)
		if err != nil {
			return nil, "", err
		}
		a := addrbook.NetAddress{ID: k.PeerID().String(), IP: fillerIP(i), Port: 1}
		if err := n.Book.AddAddress(a, a); err != nil {
			return nil, "", err
		}
	}
	if err := n.Start(); err != nil {
		return nil, "", err
	}
	return func() { _ = n.Stop() }, n.Transport.FullAddrs()[0].String(), nil
}

// seedChild is a running child seed.
type seedChild struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	addr  string
}

func startSeedChild(b *testing.B, kind string) *seedChild {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), seedChildEnv+"="+kind)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	c := &seedChild{cmd: cmd, stdin: stdin}
	b.Cleanup(func() {
		_ = c.stdin.Close()
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "ADDR ") {
		b.Fatalf("seed child: %q %v", line, err)
	}
	c.addr = strings.TrimSpace(strings.TrimPrefix(line, "ADDR "))
	go func() { _, _ = io.Copy(io.Discard, out) }()
	return c
}

// cpu is the child's user+system CPU in seconds.
func (c *seedChild) cpu(b *testing.B) float64 {
	u, err := testnet.ProcessUsage(c.cmd.Process.Pid)
	if err != nil {
		b.Fatal(err)
	}
	return u.CPUSeconds
}

// visitor is one fresh peer, built before its visit so that the build
// (the load generator's cost, not the seed's) stays out of the measured
// phase; close is its teardown.
type visitor interface {
	visit(ctx context.Context) (int, error)
	close()
}

// classicVisitor is a fresh classic peer: a new key and an upstream
// switch without a listener (its NodeInfo advertises 127.0.0.1:1, where
// nothing listens), sending one PexRequest on connect.
type classicVisitor struct {
	sw   *p2p.Switch
	mt   *p2p.MultiplexTransport
	seed *p2p.NetAddress
	got  chan int
}

func newClassicVisitor(seed *p2p.NetAddress) (visitor, error) {
	key := p2p.NodeKey{PrivKey: ed25519.GenPrivKey()}
	pc := cmtcfg.DefaultP2PConfig()
	pc.AllowDuplicateIP = true
	ni := classicNodeInfo(key, "127.0.0.1:1", "visitor")
	mt := p2p.NewMultiplexTransport(ni, key, p2p.MConnConfig(pc))
	sw := p2p.NewSwitch(pc, mt)
	sw.SetNodeInfo(ni)
	sw.SetNodeKey(&key)
	v := &classicVisitor{sw: sw, mt: mt, seed: seed, got: make(chan int, 1)}
	sw.AddReactor("PEX", newVisitorReactor(v.got))
	if err := sw.Start(); err != nil {
		return nil, err
	}
	return v, nil
}

func (v *classicVisitor) visit(ctx context.Context) (int, error) {
	if err := v.sw.DialPeerWithAddress(v.seed); err != nil {
		return 0, err
	}
	select {
	case n := <-v.got:
		return n, nil
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

func (v *classicVisitor) close() { _ = v.sw.Stop(); _ = v.mt.Close() }

type visitorReactor struct {
	p2p.BaseReactor
	got chan int
}

func newVisitorReactor(got chan int) *visitorReactor {
	r := &visitorReactor{got: got}
	r.BaseReactor = *p2p.NewBaseReactor("visitor", r)
	return r
}

func (r *visitorReactor) GetChannels() []*p2p.ChannelDescriptor {
	return []*p2p.ChannelDescriptor{{ID: upex.PexChannel, Priority: 1, SendQueueCapacity: 10, RecvMessageCapacity: transport.MaxMsgSize, MessageType: &tmp2p.Message{}}}
}

func (r *visitorReactor) AddPeer(p p2p.Peer) {
	p.Send(p2p.Envelope{ChannelID: upex.PexChannel, Message: &tmp2p.PexRequest{}})
}

func (r *visitorReactor) Receive(e p2p.Envelope) {
	if m, ok := e.Message.(*tmp2p.PexAddrs); ok {
		select {
		case r.got <- len(m.Addrs):
		default:
		}
	}
}

// libp2pVisitor is a fresh libp2p peer over one transport: a bare host
// that speaks identify and channel 0 only, as an upstream lp2p node does
// (no NodeInfo protocol, so the seed takes the advertised address from
// identify), with go-libp2p's default TCP security order (TLS, then
// Noise), which is also pexp2p's.
//
// It is as lean as the classic visitor: it listens on nothing and
// advertises a fixed address where nothing listens (port 1, as the
// classic visitor's NodeInfo does); no resource manager, connection
// manager, ping, relay, metrics or observed-address bookkeeping. The seed
// sees the same exchange as from a full host; only the visitor does less.
type libp2pVisitor struct {
	h    host.Host
	seed peer.AddrInfo
	got  chan int
}

func newLibp2pVisitor(kind string, seed peer.AddrInfo) (visitor, error) {
	advertise := "/ip4/127.0.0.1/tcp/1"
	opts := []libp2p.Option{libp2p.NoTransports, libp2p.NoListenAddrs,
		libp2p.ResourceManager(&network.NullResourceManager{}),
		libp2p.ConnectionManager(&connmgr.NullConnMgr{}),
		libp2p.DisableRelay(), libp2p.DisableMetrics(), libp2p.Ping(false),
		libp2p.DisableIdentifyAddressDiscovery(),
	}
	switch kind {
	case "quic":
		advertise = "/ip4/127.0.0.1/udp/1/quic-v1"
		opts = append(opts, libp2p.Transport(libp2pquic.NewTransport))
	case "tcp":
		opts = append(opts, libp2p.Transport(tcp.NewTCPTransport))
	default:
		return nil, fmt.Errorf("unknown visitor kind %q", kind)
	}
	adv := []ma.Multiaddr{ma.StringCast(advertise)}
	opts = append(opts, libp2p.AddrsFactory(func([]ma.Multiaddr) []ma.Multiaddr { return adv }))
	h, err := libp2p.New(opts...)
	if err != nil {
		return nil, err
	}
	v := &libp2pVisitor{h: h, seed: seed, got: make(chan int, 1)}
	h.SetStreamHandler(transport.PexProtocolID, func(s network.Stream) {
		m, err := transport.ReceiveMessage(s, 5*time.Second)
		if a, ok := m.(*tmp2p.PexAddrs); ok && err == nil {
			select {
			case v.got <- len(a.Addrs):
			default:
			}
		}
	})
	return v, nil
}

func (v *libp2pVisitor) visit(ctx context.Context) (int, error) {
	if err := v.h.Connect(ctx, v.seed); err != nil {
		return 0, err
	}
	s, err := v.h.NewStream(ctx, v.seed.ID, transport.PexProtocolID)
	if err != nil {
		return 0, err
	}
	// The seed may read the request and close before our close
	// completes (see TestFramingWithUpstreamStreamHelpers); what counts
	// is whether the answer comes.
	sendErr := transport.SendMessage(s, &tmp2p.PexRequest{}, 5*time.Second)
	select {
	case n := <-v.got:
		return n, nil
	case <-ctx.Done():
		return 0, fmt.Errorf("no answer (send: %v): %w", sendErr, ctx.Err())
	}
}

func (v *libp2pVisitor) close() { _ = v.h.Close() }

// selfCPU is this process's user+system CPU in seconds: the visitors'.
func selfCPU(b *testing.B) float64 {
	u, err := testnet.ProcessUsage(0)
	if err != nil {
		b.Fatal(err)
	}
	return u.CPUSeconds
}

// seedBatch visitors are built, then visit, then are torn down, batch by
// batch: building and teardown (the load generator's own work, a
// libp2p.New costs ~2.5 ms of CPU, most of a libp2p visitor) are kept out
// of the measured visit phases, for both stacks alike.
const seedBatch = 200

// clientConc is how many visitors run at once: seedClientConc, or
// PEXP2P_SEEDCAP_CONC when set to a positive number. With 8, upstream's
// classic stack is held back by latency more than by CPU (MConnection
// flushes at most every 10 ms, on the visitor's request and again on the
// seed's answer, ~15 ms a visit); 32 at once keep both seeds busier.
func clientConc() int {
	if v, err := strconv.Atoi(os.Getenv("PEXP2P_SEEDCAP_CONC")); err == nil && v > 0 {
		return v
	}
	return seedClientConc
}

// eachParallel runs f(i) for i in [0,n) on clientConc() goroutines.
func eachParallel(n int, f func(i int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < clientConc(); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1)) - 1; i < n; i = int(next.Add(1)) - 1 {
				f(i)
			}
		}()
	}
	wg.Wait()
}

// BenchmarkSeedCapacity: how many fresh peers a seed serves. Each op is one fresh peer served by the
// seed; clientConc() visitors run at once. Visitors are built before
// their batch's visit phase and torn down after it (seedBatch), on both
// stacks alike, so that the load generator's own set-up does not compete
// with the seed for the 2 cores while it is measured.
//
// Reported: seed-cpu-ms/req, the seed's own CPU per served request,
// exact from its process's /proc stat over every phase (the primary
// figure: the seed's work alone, though contention for the cores still
// inflates it on a busy machine); req/s,
// requests served per second of visit phase (wall time, the visitors'
// connect/handshake/request still sharing the machine with the seed);
// visitor-cpu-ms/visit, this process's CPU per visit over all phases
// (build, visit, teardown), to show what the load generator costs.
func BenchmarkSeedCapacity(b *testing.B) {
	for _, kind := range []string{"classic", "quic", "tcp"} {
		name := map[string]string{"classic": "upstream-classic", "quic": "pexp2p-quic", "tcp": "pexp2p-tcp"}[kind]
		b.Run(name, func(b *testing.B) {
			child := startSeedChild(b, kind)
			var build func() (visitor, error)
			if kind == "classic" {
				seed, err := p2p.NewNetAddressString(child.addr)
				if err != nil {
					b.Fatal(err)
				}
				build = func() (visitor, error) { return newClassicVisitor(seed) }
			} else {
				ai, err := peer.AddrInfoFromString(child.addr)
				if err != nil {
					b.Fatal(err)
				}
				build = func() (visitor, error) { return newLibp2pVisitor(kind, *ai) }
			}
			visitOnce := func(v visitor) (int, error) {
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				return v.visit(ctx)
			}
			// One visit outside the measurement: lazily initialised state
			// in both processes.
			v, err := build()
			if err != nil {
				b.Fatal(err)
			}
			_, err = visitOnce(v)
			v.close()
			if err != nil {
				b.Fatalf("warm-up visit: %v", err)
			}

			var failed, served atomic.Int64
			var firstErr atomic.Value
			var wall time.Duration
			cpu0, self0 := child.cpu(b), selfCPU(b)
			b.ResetTimer()
			for done := 0; done < b.N; {
				n := min(seedBatch, b.N-done)
				done += n
				b.StopTimer()
				vs := make([]visitor, n)
				var buildErr atomic.Value
				eachParallel(n, func(i int) {
					var err error
					if vs[i], err = build(); err != nil {
						buildErr.CompareAndSwap(nil, err)
					}
				})
				if err := buildErr.Load(); err != nil {
					b.Fatalf("building visitors: %v", err)
				}
				b.StartTimer()
				start := time.Now()
				eachParallel(n, func(i int) {
					got, err := visitOnce(vs[i])
					if err != nil || got == 0 {
						failed.Add(1)
						firstErr.CompareAndSwap(nil, fmt.Sprintf("%d addresses, %v", got, err))
						return
					}
					served.Add(1)
				})
				wall += time.Since(start)
				b.StopTimer()
				eachParallel(n, func(i int) { vs[i].close() })
				b.StartTimer()
			}
			b.StopTimer()
			// Over every phase: the seed's side of each teardown, and
			// whatever it does while idle during builds, count against it.
			seedCPU := child.cpu(b) - cpu0
			visitors := selfCPU(b) - self0
			if failed.Load() > 0 {
				b.Logf("%d of %d visits failed, first: %v", failed.Load(), b.N, firstErr.Load())
			}
			if failed.Load() > int64(b.N)/20 {
				b.Fatalf("%d of %d visits failed, first: %v", failed.Load(), b.N, firstErr.Load())
			}
			b.ReportMetric(float64(served.Load())/wall.Seconds(), "req/s")
			b.ReportMetric(1000*seedCPU/float64(served.Load()), "seed-cpu-ms/req")
			b.ReportMetric(1000*visitors/float64(b.N), "visitor-cpu-ms/visit")
			b.ReportMetric(float64(failed.Load()), "failed")
		})
	}
}
