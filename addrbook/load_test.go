package addrbook

import (
	"path/filepath"
	"testing"

	cmtpex "github.com/cometbft/cometbft/p2p/pex"
)

// A file written by upstream's book loads; placement is recomputed
// (upstream's hash key is not in the file), good addresses stay old.
func TestUpstreamFileLoads(t *testing.T) {
	path := filepath.Join(t.TempDir(), "addrbook.json")
	up := cmtpex.NewAddrBook(path, false)
	for i := 0; i < 200; i++ {
		if err := up.AddAddress(upAddr(routableAddr(i)), upAddr(routableAddr(100000+i%5))); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 30; i++ {
		up.MarkGood(upAddr(routableAddr(i)).ID)
	}
	up.Save()
	b, _ := fileBook(t, path, Options{})
	startStop(t, b)
	st := b.LoadStats()
	if !st.Recomputed || st.Loaded != up.Size() || len(st.Dropped) != 0 {
		t.Fatalf("stats %+v, upstream size %d", st, up.Size())
	}
	mustInvariants(t, b)
	for i := 0; i < 200; i++ {
		if !b.HasAddress(routableAddr(i).ID) {
			t.Fatalf("%d missing", i)
		}
		if want := i < 30; b.IsGood(routableAddr(i).ID) != want {
			t.Fatalf("%d: good=%v", i, !want)
		}
	}
}
