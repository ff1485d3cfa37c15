package transport

import (
	"net"
	"strconv"
	"testing"

	ma "github.com/multiformats/go-multiaddr"
	"go.uber.org/goleak"
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
