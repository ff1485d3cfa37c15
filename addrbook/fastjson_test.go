package addrbook

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	cmtpex "github.com/cometbft/cometbft/p2p/pex"
)

// The fast decoder takes the files both writers produce (so loading a
// full book avoids reflection), and on mutated files it either declines or
// agrees with encoding/json (checkLoad asserts the agreement).
func TestFastDecodeAcceptsBothWriters(t *testing.T) {
	b, _ := newTestBook(t, Options{})
	fill(t, b, 50, 10)
	b.MarkBad(routableAddr(3), time.Hour)
	b.MarkBad(routableAddr(999), time.Hour)
	var fj fileJSON
	if !fastDecode(b.Marshal(), &fj) || len(fj.Addrs) != 49 || len(fj.Bans) != 2 {
		t.Fatalf("fast decoder declined our own file (%d addrs, %d bans)", len(fj.Addrs), len(fj.Bans))
	}

	path := filepath.Join(t.TempDir(), "addrbook.json")
	up := cmtpex.NewAddrBook(path, false)
	for i := 0; i < 20; i++ {
		if err := up.AddAddress(upAddr(routableAddr(i)), upAddr(routableAddr(500))); err != nil {
			t.Fatal(err)
		}
	}
	up.Save()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// Upstream writes local time; only a zero offset prints as "Z".
	if _, off := time.Now().Zone(); off == 0 {
		fj = fileJSON{}
		if !fastDecode(data, &fj) || len(fj.Addrs) != 20 {
			t.Fatalf("fast decoder declined upstream's file")
		}
	}
	if err := checkLoad(t, data); err != nil {
		t.Fatal(err)
	}
}

func TestFastDecodeMatchesEncodingJSONOnMutations(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	seeds := loadSeeds(&testing.F{})
	for i := 0; i < 200; i++ {
		data := bytes.Clone(seeds[r.IntN(len(seeds))])
		for k := 0; k < 1+r.IntN(4) && len(data) > 0; k++ {
			p := r.IntN(len(data))
			switch r.IntN(3) {
			case 0:
				data[p] = "\"\\{}[],:0-9eE.Z nul"[r.IntN(19)]
			case 1:
				data = append(data[:p], data[min(len(data), p+1+r.IntN(20)):]...)
			case 2:
				q := r.IntN(len(data))
				data = append(data[:p:p], append(bytes.Clone(data[q:min(len(data), q+r.IntN(200))]), data[p:]...)...)
			}
		}
		if err := checkLoad(t, data); err != nil {
			t.Fatalf("%v\non %q", err, data)
		}
	}
}
