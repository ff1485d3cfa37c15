package addrbook

import (
	"errors"
	"net/netip"
	"strings"
	"sync"
	"testing"
)

const deadbeef = "deadbeefdeadbeefdeadbeefdeadbeefdeadbeef"

// TestNewNetAddressString is upstream's 29-case table, against
// ParseNetAddress; host names are refused here (upstream resolves them).
func TestNewNetAddressString(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
	}{
		{"no node id and no protocol", "127.0.0.1:8080", ""},
		{"no node id w/ tcp input", "tcp://127.0.0.1:8080", ""},
		{"no node id w/ udp input", "udp://127.0.0.1:8080", ""},
		{"no protocol", deadbeef + "@127.0.0.1:8080", deadbeef + "@127.0.0.1:8080"},
		{"tcp input", "tcp://" + deadbeef + "@127.0.0.1:8080", deadbeef + "@127.0.0.1:8080"},
		{"udp input", "udp://" + deadbeef + "@127.0.0.1:8080", deadbeef + "@127.0.0.1:8080"},
		{"malformed tcp input", "tcp//" + deadbeef + "@127.0.0.1:8080", ""},
		{"malformed udp input", "udp//" + deadbeef + "@127.0.0.1:8080", ""},
		{"invalid host", "notahost", ""},
		{"invalid port", "127.0.0.1:notapath", ""},
		{"invalid host w/ port", "notahost:8080", ""},
		{"just a port", "8082", ""},
		{"non-existent port", "127.0.0:8080000", ""},
		{"too short nodeId", "deadbeef@127.0.0.1:8080", ""},
		{"too short, not hex nodeId", "this-isnot-hex@127.0.0.1:8080", ""},
		{"not hex nodeId", "xxxxbeefdeadbeefdeadbeefdeadbeefdeadbeef@127.0.0.1:8080", ""},
		{"too short nodeId w/tcp", "tcp://deadbeef@127.0.0.1:8080", ""},
		{"too short notHex nodeId w/tcp", "tcp://this-isnot-hex@127.0.0.1:8080", ""},
		{"notHex nodeId w/tcp", "tcp://xxxxbeefdeadbeefdeadbeefdeadbeefdeadbeef@127.0.0.1:8080", ""},
		{"correct nodeId w/tcp", "tcp://" + deadbeef + "@127.0.0.1:8080", deadbeef + "@127.0.0.1:8080"},
		{"no node id", "tcp://@127.0.0.1:8080", ""},
		{"no node id or IP", "tcp://@", ""},
		{"tcp no host, w/ port", "tcp://:26656", ""},
		{"empty", "", ""},
		{"node id delimiter 1", "@", ""},
		{"node id delimiter 2", " @", ""},
		{"node id delimiter 3", " @ ", ""},
		// Beyond upstream's table.
		{"host name refused", deadbeef + "@example.com:26656", ""},
		{"two @", deadbeef + "@x@1.2.3.4:1", ""},
		{"IPv6 zone refused", deadbeef + "@[fe80::1%eth0]:1", ""},
		{"IPv6 bracketed", deadbeef + "@[2001:470::1]:26656", deadbeef + "@[2001:470::1]:26656"},
		{"IPv4-mapped prints as IPv4", deadbeef + "@[::ffff:1.2.3.4]:1", deadbeef + "@1.2.3.4:1"},
		{"upper-case ID normalised (cometbft#835)", strings.ToUpper(deadbeef) + "@1.2.3.4:1", deadbeef + "@1.2.3.4:1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := ParseNetAddress(ClassicIDs, tc.in)
			if tc.want == "" {
				if err == nil {
					t.Fatalf("accepted %q as %s", tc.in, a)
				}
				if !errors.Is(err, ErrInvalidAddress) {
					t.Fatalf("error %v does not wrap ErrInvalidAddress", err)
				}
				var ae *AddressError
				if !errors.As(err, &ae) || ae.Input != tc.in {
					t.Fatalf("error does not name the input: %v", err)
				}
				return
			}
			if err != nil || a.String() != tc.want {
				t.Fatalf("got %v, %v; want %s", a, err, tc.want)
			}
		})
	}
}

// String is safe for concurrent use (upstream's TestNetAddress_String).
func TestNetAddress_String(t *testing.T) {
	a, err := ParseNetAddress(ClassicIDs, deadbeef+"@127.0.0.1:8080")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := 0; i < 10; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if s := a.String(); s != deadbeef+"@127.0.0.1:8080" {
				t.Errorf("%q", s)
			}
		}()
	}
	wg.Wait()
	if s := (NetAddress{IP: netip.MustParseAddr("1.2.3.4"), Port: 5}).String(); s != "1.2.3.4:5" {
		t.Errorf("ID-less: %q", s)
	}
}
