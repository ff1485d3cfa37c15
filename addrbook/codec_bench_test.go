package addrbook

import (
	"encoding/json"
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

func benchBook(b *testing.B) *Book {
	b.Helper()
	o := newOurs(b, benchInputs(), "")
	fillBench(b, o, benchAddrs)
	return o.b
}

func BenchmarkFileEncode(b *testing.B) {
	bk := benchBook(b)
	b.Run("hand", func(b *testing.B) {
		b.ReportAllocs()
		var n int
		var cpu cpuMeter
		cpu.start()
		for i := 0; i < b.N; i++ {
			n = len(bk.Marshal())
		}
		cpu.stop()
		cpu.report(b)
		b.SetBytes(int64(n))
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		var n int
		var cpu cpuMeter
		cpu.start()
		for i := 0; i < b.N; i++ {
			n = len(marshalStd(bk))
		}
		cpu.stop()
		cpu.report(b)
		b.SetBytes(int64(n))
	})
}

func BenchmarkFileDecode(b *testing.B) {
	data := benchBook(b).Marshal()
	b.Run("hand", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(data)))
		var cpu cpuMeter
		cpu.start()
		for i := 0; i < b.N; i++ {
			var fj fileJSON
			if !fastDecode(data, &fj) {
				b.Fatal("declined")
			}
		}
		cpu.stop()
		cpu.report(b)
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(data)))
		var cpu cpuMeter
		cpu.start()
		for i := 0; i < b.N; i++ {
			var fj fileJSON
			if err := json.Unmarshal(data, &fj); err != nil {
				b.Fatal(err)
			}
		}
		cpu.stop()
		cpu.report(b)
	})
}

// BenchmarkSaveLoadCodec is BenchmarkSaveLoad's restart with each
// encoder/decoder pair: write the file atomically, read it, decode it and
// load it into a fresh book.
func BenchmarkSaveLoadCodec(b *testing.B) {
	src := benchBook(b)
	encoders := []struct {
		name string
		enc  func(*Book) []byte
	}{{"hand", (*Book).Marshal}, {"encoding-json", marshalStd}}
	decoders := []struct {
		name string
		dec  func([]byte, *LoadStats) (fileJSON, error)
	}{{"hand", decodeFile}, {"encoding-json", func(data []byte, _ *LoadStats) (fileJSON, error) {
		var fj fileJSON
		err := json.Unmarshal(data, &fj)
		return fj, err
	}}}
	path := filepath.Join(b.TempDir(), "addrbook.json")
	for _, e := range encoders {
		for _, d := range decoders {
			b.Run("encode="+e.name+"/decode="+d.name, func(b *testing.B) {
				b.ReportAllocs()
				var cpu cpuMeter
				cpu.start()
				for i := 0; i < b.N; i++ {
					if err := writeFileAtomic(path, e.enc(src), 0o644); err != nil {
						b.Fatal(err)
					}
					data, err := os.ReadFile(path)
					if err != nil {
						b.Fatal(err)
					}
					st := LoadStats{Dropped: map[string]int{}}
					fj, err := d.dec(data, &st)
					if err != nil {
						b.Fatal(err)
					}
					dst, err := New(Options{Seed: 2})
					if err != nil {
						b.Fatal(err)
					}
					dst.applyFile(&fj, &st)
					if dst.Size() != src.Size() {
						b.Fatalf("reloaded %d of %d", dst.Size(), src.Size())
					}
				}
				cpu.stop()
				cpu.report(b)
			})
		}
	}
}
