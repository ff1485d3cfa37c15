package transport

import (
	"testing"
	"time"

	ma "github.com/multiformats/go-multiaddr"
)

// The ranker holds TCP back behind QUIC (and only then), keeping the
// default order otherwise.
func TestQuicFirstRanker(t *testing.T) {
	rank := quicFirstRanker(time.Second)
	q := ma.StringCast("/ip4/127.0.0.1/udp/4001/quic-v1")
	tc := ma.StringCast("/ip4/127.0.0.1/tcp/4001")
	got := rank([]ma.Multiaddr{tc, q})
	if len(got) != 2 {
		t.Fatalf("ranked %v", got)
	}
	for _, d := range got {
		switch {
		case d.Addr.Equal(q) && d.Delay != 0:
			t.Fatalf("QUIC delayed %v", d.Delay)
		case d.Addr.Equal(tc) && d.Delay != time.Second:
			t.Fatalf("TCP delayed %v, want 1s behind QUIC", d.Delay)
		}
	}
	// TCP alone is dialed at once.
	got = rank([]ma.Multiaddr{tc})
	if len(got) != 1 || got[0].Delay != 0 {
		t.Fatalf("TCP alone: %v", got)
	}
}
