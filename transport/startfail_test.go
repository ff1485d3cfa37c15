package transport

import (
	"net"
	"strconv"
	"testing"
	"time"

	ma "github.com/multiformats/go-multiaddr"
	"go.uber.org/goleak"

	"github.com/pexp2p/pexp2p/addrbook"
)

// A Start that fails in libp2p.New (the listen fails) returns an error
// and leaves no libp2p goroutine behind (peerstore GC, swarm dial
// backoff and event emitter); a Stop after it is a no-op, not a panic.
func TestStartFailureLeaksNothing(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	taken := "/ip4/127.0.0.1/tcp/" + strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	for _, tc := range []struct{ name, listen string }{
		{"port taken by a plain TCP listener", taken},
		{"address not on this host", "/ip4/192.0.2.1/tcp/0"}, // TEST-NET-1
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
			key, err := GenNodeKey(nil)
			if err != nil {
				t.Fatal(err)
			}
			n, err := NewNode(key, Config{ListenAddrs: []ma.Multiaddr{ma.StringCast(tc.listen)}, Network: "leak-test"})
			if err != nil {
				t.Fatal(err)
			}
			n.SetHandler(newFakeHandler())
			if err := n.Start(); err == nil {
				_ = n.Stop()
				t.Fatalf("Start listening on %s succeeded", tc.listen)
			}
			if err := n.Stop(); err != nil {
				t.Fatalf("Stop after a failed Start: %v", err)
			}
		})
	}
}

// Wire violations the face punishes itself (stream reset, 24 h ban in the
// book) are reported through Config.OnWireViolation with a reason label,
// so the command can count them with the reactor's misbehaviour.
func TestOnWireViolationReported(t *testing.T) {
	book, err := addrbook.New(addrbook.Options{IDRule: PeerIDs})
	if err != nil {
		t.Fatal(err)
	}
	type report struct {
		id, reason string
		banned     bool
	}
	got := make(chan report, 4)
	v, _ := testNode(t, 120, func(c *Config) {
		c.Bans = book
		c.OnWireViolation = func(id, reason string, banned bool) { got <- report{id, reason, banned} }
	})
	bad := newRawPeer(t, 121)
	if err := bad.connect(t, v); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "peer set up", func() bool { return hasPeer(v, bad.h.ID()) })
	bad.sendRaw(t, v.ID(), mustHex(t, "05deadbeef00")) // garbage body
	select {
	case r := <-got:
		if r.id != bad.h.ID().String() || r.reason != "wire_malformed" || !r.banned {
			t.Fatalf("reported %+v", r)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("violation not reported")
	}
	if !book.IsBanned(bad.h.ID().String()) {
		t.Fatal("reported as banned but not banned in the book")
	}
}

func TestWireViolationReason(t *testing.T) {
	for _, c := range []struct {
		err  error
		want string
	}{
		{&WireError{Kind: ErrMessageTooLarge}, "wire_too_large"},
		{&WireError{Kind: ErrMalformed}, "wire_malformed"},
		{&WireError{Kind: ErrEmptyMessage}, "wire_empty"},
		{&WireError{Kind: ErrUnknownMessage}, "wire_unknown_type"},
		{&WireError{Kind: ErrSecondMessage}, "wire_second_message"},
		{&WireError{Kind: ErrStreamIO}, ""}, // not a violation
	} {
		if got := WireViolationReason(c.err); got != c.want {
			t.Errorf("%v: %q, want %q", c.err, got, c.want)
		}
	}
}
