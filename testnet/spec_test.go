package testnet

import (
	"errors"
	"testing"
	"time"
)

// Every out-of-range setting is a *SpecError naming the setting and its
// value, never a panic.
func TestSpecValidateNamesTheBadSetting(t *testing.T) {
	if err := DefaultSpec().Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	for _, tc := range []struct {
		field, value string
		change       func(*Spec)
	}{
		{"nodes", "1", func(s *Spec) { s.Nodes = 1 }},
		{"nodes", "1001", func(s *Spec) { s.Nodes = 1001 }},
		{"seeds", "20", func(s *Spec) { s.Seeds = 20 }},
		{"seeds", "0", func(s *Spec) { s.Seeds = 0 }},
		{"period", "0s", func(s *Spec) { s.Period = 0 }},
		{"duration", "-1s", func(s *Spec) { s.Duration = -time.Second }},
		{"max-outbound", "0", func(s *Spec) { s.MaxOutbound = 0 }},
		{"max-inbound", "-1", func(s *Spec) { s.MaxInbound = -1 }},
		{"transport", "udp", func(s *Spec) { s.Transport = "udp" }},
		{"seeds", "2", func(s *Spec) { s.CompareClassic, s.Seeds = true, 2 }},
		{"nodes", "251", func(s *Spec) { s.CompareClassic, s.Nodes = true, 251 }},
	} {
		s := DefaultSpec()
		tc.change(&s)
		err := s.Validate()
		var se *SpecError
		if !errors.As(err, &se) || !errors.Is(err, ErrSpec) || se.Field != tc.field || se.Value != tc.value {
			t.Errorf("%s=%s: got %v, want a *SpecError naming it", tc.field, tc.value, err)
		}
	}
}

// The peer target leaves out the seed-mode seeds, which hang up on
// purpose; the book target is 90 % of the other nodes, rounded up.
func TestCriteriaTargets(t *testing.T) {
	for _, tc := range []struct {
		nodes, seeds, maxOut int
		seedMode             bool
		peers, books, meas   int
	}{
		{5, 1, 10, true, 3, 4, 4},
		{5, 1, 10, false, 4, 4, 5},
		{50, 1, 10, true, 10, 45, 49},
		{2, 1, 10, true, 1, 1, 1},
	} {
		s := Spec{Nodes: tc.nodes, Seeds: tc.seeds, MaxOutbound: tc.maxOut, SeedMode: tc.seedMode}
		c := s.Criteria()
		if c.PeerTarget != tc.peers || c.BookTarget != tc.books || s.Measured() != tc.meas {
			t.Errorf("%+v: targets %d/%d, measured %d; want %d/%d, %d", tc, c.PeerTarget, c.BookTarget, s.Measured(), tc.peers, tc.books, tc.meas)
		}
	}
}

func TestLoopbackIPGivesEveryNodeItsOwnAddress(t *testing.T) {
	seen := map[string]int{}
	for i := range MaxNodes {
		ip := LoopbackIP(i)
		if j, dup := seen[ip]; dup {
			t.Fatalf("nodes %d and %d share %s", j, i, ip)
		}
		seen[ip] = i
	}
	if LoopbackIP(0) != "127.1.0.1" || LoopbackIP(250) != "127.1.1.1" {
		t.Fatalf("%s %s", LoopbackIP(0), LoopbackIP(250))
	}
}

func TestRoundsRoundsUp(t *testing.T) {
	for _, tc := range []struct {
		d, p time.Duration
		want int
	}{{0, time.Second, 0}, {time.Millisecond, time.Second, 1}, {time.Second, time.Second, 1}, {1001 * time.Millisecond, time.Second, 2}, {time.Second, 0, 0}} {
		if got := Rounds(tc.d, tc.p); got != tc.want {
			t.Errorf("Rounds(%v, %v) = %d, want %d", tc.d, tc.p, got, tc.want)
		}
	}
}
