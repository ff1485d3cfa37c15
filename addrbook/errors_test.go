package addrbook

import (
	"errors"
	"strings"
	"testing"
)

// An *AddError names both addresses and its reason, matches its sentinel
// and nothing else, and exposes the validation cause.
func TestAddErrorShape(t *testing.T) {
	b, _ := newTestBook(t, Options{})
	bad := addrAt(1, 0, 0, 0, 0)
	src := routableAddr(2)
	err := b.AddAddress(bad, src)
	var ae *AddError
	if !errors.As(err, &ae) || ae.Addr != bad || ae.Src != src {
		t.Fatalf("%#v", err)
	}
	if !errors.Is(err, ErrInvalidAddress) || errors.Is(err, ErrBanned) {
		t.Fatal("sentinel matching")
	}
	var cause *AddressError
	if !errors.As(err, &cause) {
		t.Fatal("validation cause not exposed")
	}
	for _, want := range []string{bad.String(), src.String(), "unusable IP"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q does not mention %q", err.Error(), want)
		}
	}
	if ae.Private() {
		t.Fatal("an invalid address is not a private-ID refusal")
	}
	if _, err := New(Options{SaveInterval: -1}); !errors.Is(err, ErrOptions) {
		t.Fatalf("negative SaveInterval: %v", err)
	}
}
