package addrbook_test

import (
	"testing"

	"github.com/pexp2p/pexp2p/addrbook"
	"github.com/pexp2p/pexp2p/pex"
)

// The reactor consumes the book only through pex.AddrBook; this is the
// compile-time proof that *Book satisfies it exactly.
var _ pex.AddrBook = (*addrbook.Book)(nil)

func TestBookSatisfiesReactorInterface(t *testing.T) {
	b, err := addrbook.New(addrbook.Options{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	var ab pex.AddrBook = b
	if !ab.Empty() || ab.Size() != 0 {
		t.Fatalf("fresh book: Empty=%v Size=%d", ab.Empty(), ab.Size())
	}
	if err := addrbook.CheckInvariants(b); err != nil {
		t.Fatal(err)
	}
}
