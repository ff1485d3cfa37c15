package transport

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	tmp2p "github.com/cometbft/cometbft/proto/tendermint/p2p"

	"github.com/pexp2p/pexp2p/internal/testwait"
	"github.com/pexp2p/pexp2p/pex"
)

// connsBetween counts a's and b's connections to each other.
func connsBetween(a, b *Node) (ab, ba int) {
	return len(a.Host().Network().ConnsToPeer(b.ID())), len(b.Host().Network().ConnsToPeer(a.ID()))
}

// Once two nodes are connected, a further Dial and messages in both
// directions use the one connection: nothing dials again.
func TestDialAndSendToAConnectedPeerReuseTheConnection(t *testing.T) {
	a, ha := testNode(t, 51, nil)
	b, hb := testNode(t, 52, nil)
	if err := dial(t, a, b); err != nil {
		t.Fatal(err)
	}
	testwait.For(t, 5*time.Second, "b to set a up", func() bool {
		m, _, _ := hb.snapshot()
		_, ok := m[a.ID().String()]
		return ok
	})
	if ab, ba := connsBetween(a, b); ab != 1 || ba != 1 {
		t.Fatalf("after the dial: %d and %d connections, want 1 and 1", ab, ba)
	}
	if err := dial(t, a, b); !errors.Is(err, pex.ErrAlreadyConnectedOrDialing) {
		t.Fatalf("second dial: %v", err)
	}
	// b answers over the connection a opened, as a's requests go.
	for range 3 {
		if !a.Send(b.ID().String(), &tmp2p.PexRequest{}) || !b.Send(a.ID().String(), &tmp2p.PexAddrs{}) {
			t.Fatal("Send refused")
		}
	}
	testwait.For(t, 5*time.Second, "the messages", func() bool {
		_, _, ra := ha.snapshot()
		_, _, rb := hb.snapshot()
		return len(ra) >= 1 && len(rb) >= 1
	})
	if ab, ba := connsBetween(a, b); ab != 1 || ba != 1 {
		t.Fatalf("after messages both ways: %d and %d connections, want 1 and 1", ab, ba)
	}
}

// Several dials of one peer at once: one dials, the others are told the
// peer is being dialed, and one connection results.
func TestConcurrentDialsOfOnePeerOpenOneConnection(t *testing.T) {
	a, _ := testNode(t, 53, nil)
	b, _ := testNode(t, 54, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	const dials = 8
	errs := make([]error, dials)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range dials {
		wg.Go(func() {
			<-start
			errs[i] = a.Dial(ctx, netAddrOf(t, b))
		})
	}
	close(start)
	wg.Wait()
	ok, busy := 0, 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, pex.ErrAlreadyConnectedOrDialing):
			busy++
		default:
			t.Fatalf("dial: %v", err)
		}
	}
	if ok != 1 || busy != dials-1 {
		t.Fatalf("%d dials succeeded and %d were refused as duplicates, want 1 and %d", ok, busy, dials-1)
	}
	testwait.For(t, 5*time.Second, "b to see the connection", func() bool {
		_, ba := connsBetween(a, b)
		return ba > 0
	})
	if ab, ba := connsBetween(a, b); ab != 1 || ba != 1 {
		t.Fatalf("%d and %d connections, want 1 and 1", ab, ba)
	}
}
