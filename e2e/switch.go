package e2e

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The switch joins the nodes. It runs in the runner and holds one packet
// socket per bridge port (the bridge-namespace end of a node's veth), so
// the only interfaces it can read or write are those ports, in a
// namespace with no address and no route. It forwards Ethernet frames by
// learned MAC address like a bridge, and applies each node's link
// conditions to the frames that node sends, the way netem would on the
// node's egress: loss, then the rate (serialisation in order), then the
// delay with jitter. Userspace, because the kernels this runs on (the
// project's CI and development VMs) are built without sch_netem and
// without sch_fq, so neither netem nor EDT pacing can delay a packet; the
// delay here keeps each link's order, as netem does with a rate set.

// inNS runs fn on a thread inside the network namespace ns. The thread
// never returns to the pool (see onOwnThread): no other goroutine can run
// in a foreign namespace by accident.
func inNS(ns string, fn func() error) error {
	var res error
	onOwnThread(func() {
		fd, err := unix.Open("/run/netns/"+ns, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			res = fmt.Errorf("open netns %s: %w", ns, err)
			return
		}
		err = unix.Setns(fd, unix.CLONE_NEWNET)
		_ = unix.Close(fd)
		if err != nil {
			res = fmt.Errorf("setns %s: %w", ns, err)
			return
		}
		res = fn()
	})
	return res
}

// onOwnThread runs fn on a locked thread that is not the main thread and
// that ends with fn (the goroutine exits locked). The main thread is
// avoided because its namespace is the process's as /proc shows it (ip
// netns pids would count the runner among a node's processes) and Go
// never ends it, so it would stay in a foreign namespace. A goroutine
// that lands on the main thread keeps it locked while a second goroutine
// does the work, which therefore runs on another thread.
func onOwnThread(fn func()) {
	done := make(chan struct{})
	go func() {
		runtime.LockOSThread()
		if unix.Gettid() != unix.Getpid() {
			fn()
			close(done)
			return
		}
		inner := make(chan struct{})
		go func() {
			runtime.LockOSThread()
			fn()
			close(inner)
		}()
		<-inner
		runtime.UnlockOSThread()
		close(done)
	}()
	<-done
}

// ethtoolValue is struct ethtool_value.
type ethtoolValue struct {
	cmd  uint32
	data uint32
}

// ifreqPtr is struct ifreq with a pointer in its union (40 bytes on
// 64-bit Linux).
type ifreqPtr struct {
	name [unix.IFNAMSIZ]byte
	data unsafe.Pointer
	_    [24 - unsafe.Sizeof(uintptr(0))]byte
}

// disableOffloads turns off checksum offload, scatter-gather, TSO, GSO
// and GRO on dev in the current thread's namespace, so every frame on the
// veth is a complete, checksummed, MTU-sized Ethernet frame: a frame the
// switch copies from one port to another is then valid at the receiver.
func disableOffloads(dev string) error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	for _, cmd := range []uint32{unix.ETHTOOL_STSO, unix.ETHTOOL_SGSO, unix.ETHTOOL_SGRO, unix.ETHTOOL_STXCSUM, unix.ETHTOOL_SSG} {
		v := ethtoolValue{cmd: cmd}
		var ifr ifreqPtr
		copy(ifr.name[:], dev)
		ifr.data = unsafe.Pointer(&v)
		_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.SIOCETHTOOL, uintptr(unsafe.Pointer(&ifr)))
		runtime.KeepAlive(&v)
		// EOPNOTSUPP: the device has no such feature to turn off.
		if errno != 0 && errno != unix.EOPNOTSUPP {
			return fmt.Errorf("ethtool 0x%x on %s: %w", cmd, dev, errno)
		}
	}
	return nil
}

// openPort opens a packet socket bound to dev in the current thread's
// namespace. It is created listening to no protocol and bound with
// ETH_P_ALL, so it never sees a frame of another interface; frames it
// sends itself are not read back.
func openPort(dev string) (*os.File, error) {
	ifi, err := net.InterfaceByName(dev)
	if err != nil {
		return nil, err
	}
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	all := htons(unix.ETH_P_ALL)
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: all, Ifindex: ifi.Index}); err != nil {
		_ = unix.Close(fd)
		return nil, fmt.Errorf("bind %s: %w", dev, err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_IGNORE_OUTGOING, 1); err != nil {
		_ = unix.Close(fd)
		return nil, fmt.Errorf("PACKET_IGNORE_OUTGOING on %s: %w", dev, err)
	}
	// Non-blocking, so os.File reads through the runtime's poller and
	// Close wakes a blocked Read.
	return os.NewFile(uintptr(fd), "packet:"+dev), nil
}

func htons(v uint16) uint16 {
	var b [2]byte
	binary.BigEndian.PutUint16(b[:], v)
	return binary.NativeEndian.Uint16(b[:])
}

// queueLimit is the frames one link holds in flight; beyond it the link
// drops, as netem's limit does.
const queueLimit = 20000

type frame struct {
	b      []byte
	depart time.Time
}

// port is one node's link as the switch sees it.
type port struct {
	idx  int
	f    *os.File
	link Netem
	q    chan frame
	rng  *rand.Rand

	// Touched by the port's reader only.
	serEnd, lastDepart time.Time

	dropped atomic.Int64 // by loss or a full queue
}

// lswitch is the userspace bridge.
type lswitch struct {
	mu    sync.RWMutex // guards ports and macs
	ports []*port      // by node index; nil for none
	macs  map[[6]byte]*port
	wg    sync.WaitGroup
	// stopping makes the delay lines drain without waiting.
	stopping atomic.Bool
	// now is the clock; tests replace it.
	now func() time.Time
}

func newSwitch(n int) *lswitch {
	return &lswitch{ports: make([]*port, n), macs: map[[6]byte]*port{}, now: time.Now}
}

// add opens node i's port in the bridge namespace and starts its reader
// and its delay line.
func (s *lswitch) add(brNS string, i int, dev string, link Netem, seed uint64) error {
	var f *os.File
	err := inNS(brNS, func() error {
		if err := disableOffloads(dev); err != nil {
			return err
		}
		var err error
		f, err = openPort(dev)
		return err
	})
	if err != nil {
		return err
	}
	p := &port{idx: i, f: f, link: link, q: make(chan frame, queueLimit), rng: rand.New(rand.NewPCG(seed, uint64(i)))}
	s.mu.Lock()
	s.ports[i] = p
	s.mu.Unlock()
	s.wg.Add(2)
	go s.read(p)
	go s.deliver(p)
	return nil
}

// read takes the frames node p sends, learns its MAC, and queues each
// frame that the link does not lose with its departure time.
func (s *lswitch) read(p *port) {
	defer s.wg.Done()
	defer close(p.q)
	buf := make([]byte, 65536)
	for {
		n, err := p.f.Read(buf)
		if err != nil {
			if errors.Is(err, os.ErrClosed) {
				return
			}
			// ENETDOWN while the port is down (a disconnect): wait
			// for it to come back.
			time.Sleep(10 * time.Millisecond)
			continue
		}
		if n < 14 {
			continue
		}
		var src [6]byte
		copy(src[:], buf[6:12])
		s.learn(src, p)
		fr, ok := p.admit(append([]byte(nil), buf[:n]...), s.now())
		if !ok {
			p.dropped.Add(1)
			continue
		}
		select {
		case p.q <- fr:
		default:
			p.dropped.Add(1)
		}
	}
}

// admit applies the link to a frame arriving at now: whether it is lost,
// and when it leaves. Frames leave in the order they came (a link does
// not reorder), after the previous one has been serialised at the rate.
func (p *port) admit(b []byte, now time.Time) (frame, bool) {
	l := p.link
	if l.Loss > 0 && p.rng.Float64()*100 < l.Loss {
		return frame{}, false
	}
	t := now
	if bps := l.bitsPerSecond(); bps > 0 {
		start := now
		if p.serEnd.After(start) {
			start = p.serEnd
		}
		p.serEnd = start.Add(time.Duration(float64(len(b)*8) / bps * float64(time.Second)))
		t = p.serEnd
	}
	d := l.Delay
	if l.Jitter > 0 {
		d += time.Duration((p.rng.Float64()*2 - 1) * float64(l.Jitter))
	}
	t = t.Add(max(d, 0))
	if t.Before(p.lastDepart) {
		t = p.lastDepart
	}
	p.lastDepart = t
	return frame{b: b, depart: t}, true
}

// deliver waits for each queued frame's departure and forwards it.
func (s *lswitch) deliver(p *port) {
	defer s.wg.Done()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for fr := range p.q {
		if s.stopping.Load() {
			continue
		}
		if d := fr.depart.Sub(s.now()); d > 0 {
			timer.Reset(d)
			<-timer.C
		}
		s.forward(p, fr.b)
	}
}

// port is node i's port, or nil.
func (s *lswitch) port(i int) *port {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if i < 0 || i >= len(s.ports) {
		return nil
	}
	return s.ports[i]
}

func (s *lswitch) learn(mac [6]byte, p *port) {
	if mac[0]&1 != 0 {
		return // a group address is never a source
	}
	s.mu.RLock()
	cur := s.macs[mac]
	s.mu.RUnlock()
	if cur == p {
		return
	}
	s.mu.Lock()
	s.macs[mac] = p
	s.mu.Unlock()
}

// forward sends a frame to the port that owns its destination MAC, or to
// every other port for broadcast, multicast and unknown destinations.
func (s *lswitch) forward(from *port, b []byte) {
	var dst [6]byte
	copy(dst[:], b[:6])
	if dst[0]&1 == 0 {
		s.mu.RLock()
		to := s.macs[dst]
		s.mu.RUnlock()
		if to != nil {
			if to != from {
				_, _ = to.f.Write(b)
			}
			return
		}
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, to := range s.ports {
		if to != nil && to != from {
			// A down port refuses the write; that is the disconnect.
			_, _ = to.f.Write(b)
		}
	}
}

// close stops every port and waits for its goroutines.
func (s *lswitch) close() {
	s.stopping.Store(true)
	s.mu.RLock()
	ports := append([]*port(nil), s.ports...)
	s.mu.RUnlock()
	for _, p := range ports {
		if p != nil {
			_ = p.f.Close()
		}
	}
	s.wg.Wait()
}

// bitsPerSecond parses the rate ("10mbit", "500kbit", "1gbps"); 0 when
// unset.
func (n Netem) bitsPerSecond() float64 {
	if n.Rate == "" {
		return 0
	}
	m := rateRe.FindStringSubmatch(n.Rate)
	if m == nil {
		return 0
	}
	var v float64
	_, _ = fmt.Sscanf(n.Rate[:len(n.Rate)-len(m[2])], "%g", &v)
	mult := map[string]float64{"bit": 1, "kbit": 1e3, "mbit": 1e6, "gbit": 1e9, "bps": 8, "kbps": 8e3, "mbps": 8e6, "gbps": 8e9}[m[2]]
	return v * mult
}
