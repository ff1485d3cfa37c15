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
