package addrbook

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

// FuzzParseASMap: any text either parses into a map whose every
// lookup answers, or fails with an *ASMapError; it never panics.
func FuzzParseASMap(f *testing.F) {
	f.Add(testASMap)
	f.Add("0.0.0.0/0 1\n::/0 2\n")
	f.Add("150.0.0.0/16 AS1 # c\n\n# x\n150.0.0.0/8 as2\n")
	f.Fuzz(func(t *testing.T, text string) {
		m, err := ParseASMap(strings.NewReader(text), "fuzz")
		if err != nil {
			var ae *ASMapError
			if !errors.As(err, &ae) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		for _, ip := range []string{"150.0.0.1", "1.2.3.4", "::1", "2600:1::1", "::ffff:150.0.0.1"} {
			if asn, ok := m.Lookup(netip.MustParseAddr(ip)); ok && asn == 0 {
				t.Fatalf("Lookup(%s) found AS 0", ip)
			}
		}
	})
}
