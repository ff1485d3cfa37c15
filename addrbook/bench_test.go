package addrbook

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/cometbft/cometbft/p2p"
	cmtpex "github.com/cometbft/cometbft/p2p/pex"
)

// Cost against upstream: the same work on this book (/pexp2p) and on upstream's
// pex.AddrBook (/upstream), on a book fed 16,384 addresses: 64 sources
// (each in its own /16) announcing 256 addresses each (each address in its
// own /16). Run:
//
//	go test -run '^$' -bench . -benchmem ./addrbook/

const (
	benchSources    = 64
	benchPerSource  = 256
	benchAddrs      = benchSources * benchPerSource
	benchGoodShare  = 4 // one in four addresses is marked good for Pick/selections
	benchPickBias   = 30
	benchSelectBias = 30
)

type benchInput struct {
	addr, src   NetAddress
	uaddr, usrc *p2p.NetAddress
}

func benchInputs() []benchInput {
	in := make([]benchInput, 0, benchAddrs)
	for s := 0; s < benchSources; s++ {
		src := NetAddress{ID: fmt.Sprintf("%040x", 1<<32+s), IP: netip.AddrFrom4([4]byte{byte(200 + s/32), byte(s % 32 * 8), 1, 1}), Port: 26656}
		for k := 0; k < benchPerSource; k++ {
			n := s*benchPerSource + k
			a := NetAddress{ID: fmt.Sprintf("%040x", n+1), IP: netip.AddrFrom4([4]byte{byte(1 + n/256%190), byte(n % 256), byte(n / 48640), 7}), Port: 26656}
			if a.RFC1918() || a.Local() || !a.Routable() {
				a.IP = netip.AddrFrom4([4]byte{198, byte(n % 256), byte(n / 256), 9})
			}
			in = append(in, benchInput{addr: a, src: src, uaddr: upAddr(a), usrc: upAddr(src)})
		}
	}
	return in
}

// bookUnderTest is the common surface of both books for the benchmarks.
type bookUnderTest interface {
	add(i int) error
	good(i int)
	pick() bool
	selection() int
	selectionBias() int
	size() int
}

type ours struct {
	b  *Book
	in []benchInput
}

func (o ours) add(i int) error    { return o.b.AddAddress(o.in[i].addr, o.in[i].src) }
func (o ours) good(i int)         { o.b.MarkGood(o.in[i].addr.ID) }
func (o ours) pick() bool         { _, ok := o.b.PickAddress(benchPickBias); return ok }
func (o ours) selection() int     { return len(o.b.GetSelection()) }
func (o ours) selectionBias() int { return len(o.b.GetSelectionWithBias(benchSelectBias)) }
func (o ours) size() int          { return o.b.Size() }

type theirs struct {
	b  cmtpex.AddrBook
	in []benchInput
}

func (u theirs) add(i int) error    { return u.b.AddAddress(u.in[i].uaddr, u.in[i].usrc) }
func (u theirs) good(i int)         { u.b.MarkGood(u.in[i].uaddr.ID) }
func (u theirs) pick() bool         { return u.b.PickAddress(benchPickBias) != nil }
func (u theirs) selection() int     { return len(u.b.GetSelection()) }
func (u theirs) selectionBias() int { return len(u.b.GetSelectionWithBias(benchSelectBias)) }
func (u theirs) size() int          { return u.b.Size() }

func newOurs(tb testing.TB, in []benchInput, path string) ours {
	b, err := New(Options{FilePath: path, Seed: 1})
	if err != nil {
		tb.Fatal(err)
	}
	return ours{b: b, in: in}
}

func newTheirs(in []benchInput, path string) theirs {
	return theirs{b: cmtpex.NewAddrBook(path, false), in: in}
}

type impl struct {
	name string
	make func(tb testing.TB, in []benchInput, path string) bookUnderTest
}

var impls = []impl{
	{"pexp2p", func(tb testing.TB, in []benchInput, path string) bookUnderTest { return newOurs(tb, in, path) }},
	{"upstream", func(tb testing.TB, in []benchInput, path string) bookUnderTest { return newTheirs(in, path) }},
}

func fillBench(tb testing.TB, bk bookUnderTest, n int) {
	for i := 0; i < n; i++ {
		if err := bk.add(i); err != nil {
			tb.Fatal(err)
		}
	}
	for i := 0; i < n; i += benchGoodShare {
		bk.good(i)
	}
}

// benchAdds runs op on address k = 0, 1, … of a fresh book per
// implementation, starting a new book (untimed) when the inputs run out.
func benchAdds(b *testing.B, op func(b *testing.B, bk bookUnderTest, k int)) {
	in := benchInputs()
	for _, im := range impls {
		b.Run(im.name, func(b *testing.B) {
			b.ReportAllocs()
			bk := im.make(b, in, "")
			for i := 0; i < b.N; i++ {
				k := i % benchAddrs
				if k == 0 && i > 0 {
					b.StopTimer()
					bk = im.make(b, in, "")
					b.StartTimer()
				}
				op(b, bk, k)
			}
		})
	}
}

func BenchmarkAdd(b *testing.B) {
	benchAdds(b, func(b *testing.B, bk bookUnderTest, k int) {
		if err := bk.add(k); err != nil {
			b.Fatal(err)
		}
	})
}

func BenchmarkAddThenGood(b *testing.B) {
	benchAdds(b, func(b *testing.B, bk bookUnderTest, k int) {
		if err := bk.add(k); err != nil {
			b.Fatal(err)
		}
		bk.good(k)
	})
}

// fullBooks builds one full book per implementation, shared by the read
// benchmarks.
func benchRead(b *testing.B, op func(bookUnderTest) int) {
	in := benchInputs()
	for _, im := range impls {
		b.Run(im.name, func(b *testing.B) {
			bk := im.make(b, in, "")
			fillBench(b, bk, benchAddrs)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if op(bk) == 0 {
					b.Fatal("nothing returned")
				}
			}
			b.ReportMetric(float64(bk.size()), "book-size")
		})
	}
}

func BenchmarkPick(b *testing.B) {
	benchRead(b, func(bk bookUnderTest) int {
		if bk.pick() {
			return 1
		}
		return 0
	})
}

func BenchmarkGetSelection(b *testing.B) {
	benchRead(b, func(bk bookUnderTest) int { return bk.selection() })
}

func BenchmarkGetSelectionWithBias(b *testing.B) {
	benchRead(b, func(bk bookUnderTest) int { return bk.selectionBias() })
}

// BenchmarkSaveLoad writes the full book and loads it into a fresh book
// through Start, as a restart does. Stopping the reloaded book (which
// saves again, in both implementations) is outside the timed part.
func BenchmarkSaveLoad(b *testing.B) {
	in := benchInputs()
	b.Run("pexp2p", func(b *testing.B) {
		path := filepath.Join(b.TempDir(), "addrbook.json")
		src := newOurs(b, in, path)
		fillBench(b, src, benchAddrs)
		benchRestart(b, src, func() (func() int, func() error, error) {
			if err := src.b.Save(); err != nil {
				return nil, nil, err
			}
			dst, err := New(Options{FilePath: path, Seed: 2})
			if err != nil {
				return nil, nil, err
			}
			if err := dst.Start(); err != nil {
				return nil, nil, err
			}
			return dst.Size, dst.Stop, nil
		})
	})
	b.Run("upstream", func(b *testing.B) { benchSaveLoadUpstream(b, in) })
}

// benchSaveLoadUpstream is upstream's restart: Save, then a fresh
// pex.AddrBook started on the file. BenchmarkSaveLoadCodec runs it too, so
// that its pairs and upstream are measured side by side in time.
func benchSaveLoadUpstream(b *testing.B, in []benchInput) {
	path := filepath.Join(b.TempDir(), "addrbook.json")
	src := newTheirs(in, path)
	fillBench(b, src, benchAddrs)
	benchRestart(b, src, func() (func() int, func() error, error) {
		src.b.Save()
		dst := cmtpex.NewAddrBook(path, false)
		if err := dst.Start(); err != nil {
			return nil, nil, err
		}
		return dst.Size, func() error {
			_ = dst.Stop()
			dst.(interface{ Wait() }).Wait()
			return nil
		}, nil
	})
}

// benchRestart times restart (save src's book, start a fresh book on the
// file) b.N times, with wall and CPU time; checking the reloaded size
// against src and stopping the fresh book are outside the timed part.
func benchRestart(b *testing.B, src bookUnderTest, restart func() (size func() int, stop func() error, err error)) {
	b.ReportAllocs()
	var cpu cpuMeter
	b.ResetTimer()
	cpu.start()
	for i := 0; i < b.N; i++ {
		size, stop, err := restart()
		if err != nil {
			b.Fatal(err)
		}
		cpu.stop()
		b.StopTimer()
		if size() != src.size() {
			b.Fatalf("reloaded %d of %d", size(), src.size())
		}
		if err := stop(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		cpu.start()
	}
	cpu.stop()
	cpu.report(b)
}

// BenchmarkMemory reports the heap a full book keeps alive per stored
// address ("heapB/addr"): everything reachable from the book once the
// caller has dropped its inputs, address objects included (upstream's book
// keeps the caller's *p2p.NetAddress values, this one copies them).
func BenchmarkMemory(b *testing.B) {
	for _, im := range impls {
		b.Run(im.name, func(b *testing.B) {
			var perAddr float64
			for i := 0; i < b.N; i++ {
				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				in := benchInputs()
				bk := im.make(b, in, "")
				fillBench(b, bk, benchAddrs)
				in = nil
				switch x := bk.(type) {
				case ours:
					x.in = nil
					bk = x
				case theirs:
					x.in = nil
					bk = x
				}
				runtime.GC()
				runtime.ReadMemStats(&after)
				perAddr = float64(after.HeapAlloc-before.HeapAlloc) / float64(bk.size())
				runtime.KeepAlive(bk)
			}
			b.ReportMetric(perAddr, "heapB/addr")
		})
	}
}

// BenchmarkAddrBook_hash is upstream's only book benchmark: one keyed hash.
func BenchmarkAddrBook_hash(b *testing.B) {
	bk, err := New(Options{Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	data := []byte("foobar")
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		placementHash(&bk.hashKey, data)
	}
}
