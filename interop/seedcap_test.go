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
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/pexp2p/pexp2p/addrbook"
	"github.com/pexp2p/pexp2p/pex"
	"github.com/pexp2p/pexp2p/transport"
)

// Item 5: seed capacity. The seed runs in a child process (this test
// binary re-executed with seedChildEnv set), so that its CPU time can be
// read exactly from /proc/<pid>/stat while the fresh peers — each a new
// identity that connects, sends one PexRequest, reads the answer and is
// disconnected by the seed — run in the benchmark process.

const (
	seedChildEnv   = "PEXP2P_SEEDCAP_CHILD"
	seedChain      = "seedcap-bench"
	seedBookSize   = 200
	seedClientConc = 8
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
	book, err := addrbook.New(addrbook.Options{IDRule: transport.PeerIDs})
	if err != nil {
		return nil, "", err
	}
	listen := "/ip4/127.0.0.1/tcp/0"
	if kind == "quic" {
		listen = "/ip4/127.0.0.1/udp/0/quic-v1"
	}
	node, err := transport.NewNode(key, transport.Config{
		ListenAddrs: []ma.Multiaddr{ma.StringCast(listen)}, Network: seedChain, Moniker: "pexp2p-seed",
		AllowDuplicateIP: true, Bans: book,
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
		if err := book.AddAddress(a, a); err != nil {
			return nil, "", err
		}
	}
	cfg := pex.DefaultConfig()
	cfg.IDRule = transport.PeerIDs
	cfg.SeedMode = true
	r := pex.NewReactor(book, node, cfg)
	node.SetHandler(r)
	if err := node.Start(); err != nil {
		return nil, "", err
	}
	for _, a := range node.OurNetAddresses() {
		book.AddOurAddress(a)
	}
	if err := r.Start(); err != nil {
		_ = node.Stop()
		return nil, "", err
	}
	return func() {
		_ = r.Stop()
		_ = node.Stop()
	}, node.FullAddrs()[0].String(), nil
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

// cpu is the child's user+system CPU in seconds (clock ticks of 10 ms).
func (c *seedChild) cpu(b *testing.B) float64 {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", c.cmd.Process.Pid))
	if err != nil {
		b.Fatal(err)
	}
	// Fields after the ")" that closes the command name: state is field 3.
	f := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+2:]))
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / 100
}

// classicVisit is one fresh classic peer: a new key and switch, one
// PexRequest on connect, done when the answer arrives.
func classicVisit(ctx context.Context, seed *p2p.NetAddress, closers *sync.WaitGroup) (int, error) {
	key := p2p.NodeKey{PrivKey: ed25519.GenPrivKey()}
	pc := cmtcfg.DefaultP2PConfig()
	pc.AllowDuplicateIP = true
	ni := classicNodeInfo(key, "127.0.0.1:1", "visitor")
	mt := p2p.NewMultiplexTransport(ni, key, p2p.MConnConfig(pc))
	sw := p2p.NewSwitch(pc, mt)
	sw.SetNodeInfo(ni)
	sw.SetNodeKey(&key)
	got := make(chan int, 1)
	sw.AddReactor("PEX", newVisitorReactor(got))
	if err := sw.Start(); err != nil {
		return 0, err
	}
	closers.Add(1)
	defer func() { go func() { defer closers.Done(); _ = sw.Stop(); _ = mt.Close() }() }()
	if err := sw.DialPeerWithAddress(seed); err != nil {
		return 0, err
	}
	select {
	case n := <-got:
		return n, nil
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

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

// libp2pVisit is one fresh libp2p peer (a bare host, as an upstream lp2p
// node is: no NodeInfo protocol) over one transport.
func libp2pVisit(ctx context.Context, kind string, seed peer.AddrInfo, closers *sync.WaitGroup) (int, error) {
	listen := "/ip4/127.0.0.1/tcp/0"
	if kind == "quic" {
		listen = "/ip4/127.0.0.1/udp/0/quic-v1"
	}
	h, err := libp2p.New(libp2p.ListenAddrStrings(listen), libp2p.NoTransports, transportOption(map[string]string{"quic": "quic-v1", "tcp": "tcp"}[kind]), libp2p.DisableRelay())
	if err != nil {
		return 0, err
	}
	// Tearing the visitor down is the visitor's cost, not the seed's
	// service time: it happens off the measured path.
	closers.Add(1)
	defer func() { go func() { defer closers.Done(); _ = h.Close() }() }()
	got := make(chan int, 1)
	h.SetStreamHandler(transport.PexProtocolID, func(s network.Stream) {
		m, err := transport.ReceiveMessage(s, 5*time.Second)
		if a, ok := m.(*tmp2p.PexAddrs); ok && err == nil {
			select {
			case got <- len(a.Addrs):
			default:
			}
		}
	})
	if err := h.Connect(ctx, seed); err != nil {
		return 0, err
	}
	s, err := h.NewStream(ctx, seed.ID, transport.PexProtocolID)
	if err != nil {
		return 0, err
	}
	// The seed may read the request and close before our close
	// completes (see TestFramingWithUpstreamStreamHelpers); what counts
	// is whether the answer comes.
	sendErr := transport.SendMessage(s, &tmp2p.PexRequest{}, 5*time.Second)
	select {
	case n := <-got:
		return n, nil
	case <-ctx.Done():
		return 0, fmt.Errorf("no answer (send: %v): %w", sendErr, ctx.Err())
	}
}

// BenchmarkSeedCapacity: item 5. Each op is one fresh peer served by the
// seed; seedClientConc visitors run at once. Reported: requests served
// per second (wall, visitors and seed sharing the machine) and the
// seed's own CPU per request (exact, from its process).
func BenchmarkSeedCapacity(b *testing.B) {
	for _, kind := range []string{"classic", "quic", "tcp"} {
		name := map[string]string{"classic": "upstream-classic", "quic": "pexp2p-quic", "tcp": "pexp2p-tcp"}[kind]
		b.Run(name, func(b *testing.B) {
			child := startSeedChild(b, kind)
			var closers sync.WaitGroup
			defer closers.Wait()
			var visit func(ctx context.Context) (int, error)
			if kind == "classic" {
				seed, err := p2p.NewNetAddressString(child.addr)
				if err != nil {
					b.Fatal(err)
				}
				visit = func(ctx context.Context) (int, error) { return classicVisit(ctx, seed, &closers) }
			} else {
				ai, err := peer.AddrInfoFromString(child.addr)
				if err != nil {
					b.Fatal(err)
				}
				visit = func(ctx context.Context) (int, error) { return libp2pVisit(ctx, kind, *ai, &closers) }
			}
			// One visit outside the measurement: connections, caches, JIT-free
			// but lazily initialised state in both processes.
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			if _, err := visit(ctx); err != nil {
				cancel()
				b.Fatalf("warm-up visit: %v", err)
			}
			cancel()

			var next, failed, served atomic.Int64
			var firstErr atomic.Value
			cpu0 := child.cpu(b)
			b.ResetTimer()
			start := time.Now()
			var wg sync.WaitGroup
			for w := 0; w < seedClientConc; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for next.Add(1) <= int64(b.N) {
						ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
						n, err := visit(ctx)
						cancel()
						if err != nil || n == 0 {
							failed.Add(1)
							firstErr.CompareAndSwap(nil, fmt.Sprintf("%d addresses, %v", n, err))
							continue
						}
						served.Add(1)
					}
				}()
			}
			wg.Wait()
			wall := time.Since(start)
			b.StopTimer()
			cpu := child.cpu(b) - cpu0
			if failed.Load() > 0 {
				b.Logf("%d of %d visits failed, first: %v", failed.Load(), b.N, firstErr.Load())
			}
			if failed.Load() > int64(b.N)/20 {
				b.Fatalf("%d of %d visits failed, first: %v", failed.Load(), b.N, firstErr.Load())
			}
			b.ReportMetric(float64(served.Load())/wall.Seconds(), "req/s")
			b.ReportMetric(1000*cpu/float64(served.Load()), "seed-cpu-ms/req")
			b.ReportMetric(float64(failed.Load()), "failed")
		})
	}
}
