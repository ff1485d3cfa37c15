package errmsg

import (
	"errors"
	"testing"
)

func TestJoinAddsOnlyTheSetParts(t *testing.T) {
	cause := errors.New("eof")
	for _, tc := range []struct {
		detail string
		cause  error
		want   string
	}{
		{"", nil, "wire"},
		{"3 bytes", nil, "wire: 3 bytes"},
		{"", cause, "wire: eof"},
		{"3 bytes", cause, "wire: 3 bytes: eof"},
	} {
		if got := Join("wire", tc.detail, tc.cause); got != tc.want {
			t.Errorf("Join(%q, %q, %v) = %q, want %q", "wire", tc.detail, tc.cause, got, tc.want)
		}
	}
}

func TestKindedAndReasonedMessagesAndCause(t *testing.T) {
	kind, cause := errors.New("too large"), errors.New("eof")
	k := Kinded{Kind: kind, Detail: "9 bytes", Err: cause}
	if got, want := k.Message("wire"), "wire: too large: 9 bytes: eof"; got != want {
		t.Errorf("Kinded.Message = %q, want %q", got, want)
	}
	if got, want := (Kinded{Kind: kind}).Message("wire"), "wire: too large"; got != want {
		t.Errorf("Kinded.Message without detail or cause = %q, want %q", got, want)
	}
	if k.Unwrap() != cause {
		t.Errorf("Kinded.Unwrap = %v, want the cause", k.Unwrap())
	}
	r := Reasoned{Reason: "empty", Err: cause}
	if got, want := r.Message(`key "x"`), `key "x": empty: eof`; got != want {
		t.Errorf("Reasoned.Message = %q, want %q", got, want)
	}
	if r.Unwrap() != cause || (Reasoned{}).Unwrap() != nil {
		t.Errorf("Reasoned.Unwrap = %v, want the cause", r.Unwrap())
	}
}
