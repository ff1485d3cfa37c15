package addrbook

import (
	"errors"
	"strings"
	"testing"
)

// The classic rule refuses libp2p peer IDs with a clear error.
func TestClassicIDRule(t *testing.T) {
	for _, tc := range []struct {
		in, want string
	}{
		{deadbeef, deadbeef},
		{strings.ToUpper(deadbeef), deadbeef},
		{"", ""},
		{"12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA", ""},
		{"QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N", ""},
		{deadbeef[:39] + "g", ""},
		{deadbeef + "00", ""},
	} {
		got, err := ClassicIDs.Normalize(tc.in)
		if tc.want == "" {
			var ie *IDError
			if err == nil || !errors.Is(err, ErrInvalidID) || !errors.As(err, &ie) || ie.ID != tc.in {
				t.Errorf("%q: %v", tc.in, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%q: %q %v", tc.in, got, err)
		}
	}
}
