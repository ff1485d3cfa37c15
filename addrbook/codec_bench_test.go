package addrbook

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// The file codec, hand-written against encoding/json, on the full book of
// bench_test.go (16,384 addresses fed, about 14,000 stored):
//
//	go test -run '^$' -bench 'File(Encode|Decode)|SaveLoad' -benchmem ./addrbook/
//
// "hand" is Marshal and fastDecode; "encoding-json" builds the same
// fileJSON value and hands it to json.MarshalIndent (upstream's layout)
// or json.Unmarshal. Both decoders read the same bytes. The hand codec is
// kept only while it is what holds Save+Load at 3x upstream's
// (BenchmarkSaveLoad/upstream); BenchmarkSaveLoadCodec shows where
// Save+Load would be with either half replaced.

var fileEncoders = []struct {
	name string
	enc  func(*Book) []byte
}{{"hand", (*Book).Marshal}, {"encoding-json", marshalStd}}

var fileDecoders = []struct {
	name string
	dec  func([]byte) (fileJSON, error)
}{{"hand", decodeHand}, {"encoding-json", decodeStd}}

func decodeHand(data []byte) (fileJSON, error) {
	var fj fileJSON
	if !fastDecode(data, &fj) {
		return fj, errors.New("the fast decoder declined the file")
	}
	return fj, nil
}

func decodeStd(data []byte) (fileJSON, error) {
	var fj fileJSON
	err := json.Unmarshal(data, &fj)
	return fj, err
}

func benchBook(b *testing.B) *Book {
	b.Helper()
	o := newOurs(b, benchInputs(), "")
	fillBench(b, o, benchAddrs)
	return o.b
}

// measure runs op b.N times, reporting allocations and CPU time.
func measure(b *testing.B, op func()) {
	b.ReportAllocs()
	var cpu cpuMeter
	cpu.start()
	for i := 0; i < b.N; i++ {
		op()
	}
	cpu.stop()
	cpu.report(b)
}

func BenchmarkFileEncode(b *testing.B) {
	bk := benchBook(b)
	for _, e := range fileEncoders {
		b.Run(e.name, func(b *testing.B) {
			var n int
			measure(b, func() { n = len(e.enc(bk)) })
			b.SetBytes(int64(n))
		})
	}
}

func BenchmarkFileDecode(b *testing.B) {
	data := benchBook(b).Marshal()
	for _, d := range fileDecoders {
		b.Run(d.name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			measure(b, func() {
				if _, err := d.dec(data); err != nil {
					b.Fatal(err)
				}
			})
		})
	}
}

// BenchmarkSaveLoadCodec is BenchmarkSaveLoad's restart with each
// encoder/decoder pair: write the file atomically, read it, decode it and
// load it into a fresh book; then upstream's restart, for the ratio.
func BenchmarkSaveLoadCodec(b *testing.B) {
	in := benchInputs()
	o := newOurs(b, in, "")
	fillBench(b, o, benchAddrs)
	src := o.b
	path := filepath.Join(b.TempDir(), "addrbook.json")
	for _, e := range fileEncoders {
		for _, d := range fileDecoders {
			b.Run("encode="+e.name+"/decode="+d.name, func(b *testing.B) {
				measure(b, func() {
					if err := writeFileAtomic(path, e.enc(src), 0o644); err != nil {
						b.Fatal(err)
					}
					data, err := os.ReadFile(path)
					if err != nil {
						b.Fatal(err)
					}
					fj, err := d.dec(data)
					if err != nil {
						b.Fatal(err)
					}
					dst, err := New(Options{Seed: 2})
					if err != nil {
						b.Fatal(err)
					}
					st := LoadStats{Dropped: map[string]int{}}
					dst.applyFile(&fj, &st)
					if dst.Size() != src.Size() {
						b.Fatalf("reloaded %d of %d", dst.Size(), src.Size())
					}
				})
			})
		}
	}
	b.Run("upstream", func(b *testing.B) { benchSaveLoadUpstream(b, in) })
}
