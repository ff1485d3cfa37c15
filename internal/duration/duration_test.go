package duration

import (
	"strings"
	"testing"
	"time"
)

func TestUnmarshalTextAcceptsGoSyntaxAndNamesBadText(t *testing.T) {
	for in, want := range map[string]time.Duration{"0s": 0, "500ms": 500 * time.Millisecond, "2m": 2 * time.Minute} {
		var d Duration
		if err := d.UnmarshalText([]byte(in)); err != nil || d.D() != want {
			t.Errorf("%q: %v, %v; want %v", in, d.D(), err, want)
		}
		if b, _ := d.MarshalText(); string(b) != want.String() {
			t.Errorf("%q marshals to %q, want %q", in, b, want.String())
		}
	}
	for in, why := range map[string]string{"ten": "is not a duration", "30": "is not a duration", "-1s": "is negative"} {
		var d Duration
		err := d.UnmarshalText([]byte(in))
		if err == nil || !strings.Contains(err.Error(), `"`+in+`" `+why) {
			t.Errorf("%q: %v, want an error saying %q %s", in, err, in, why)
		}
	}
}
