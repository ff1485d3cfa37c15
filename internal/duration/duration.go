// Package duration is the time.Duration that pexp2p's TOML files (the
// node's config.toml, the e2e manifest) and flags write as "30s", so both
// read it alike and refuse a bad value with the same words.
package duration

import (
	"fmt"
	"time"
)

// Duration is a non-negative time.Duration in Go's syntax ("500ms", "2m").
type Duration time.Duration

func (d Duration) String() string { return time.Duration(d).String() }

// MarshalText writes Go's duration syntax.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText accepts Go's duration syntax and refuses a negative
// value, naming the text either way.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("%q is not a duration (want e.g. 500ms, 30s, 2m)", b)
	}
	if v < 0 {
		return fmt.Errorf("%q is negative", b)
	}
	*d = Duration(v)
	return nil
}

// D is the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }
