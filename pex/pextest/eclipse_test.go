package pextest

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// smallEclipse is a cheap scenario for tests: the figures come from
// BenchmarkEclipse's full size.
func smallEclipse(seed uint64, k int, d Defences) EclipseConfig {
	return EclipseConfig{Seed: seed, K: k, PerGroup: 16, Honest: 16, WarmRounds: 4, AttackRounds: 4, AfterRounds: 3, Victim: d}
}

func TestEclipseRunIsDeterministic(t *testing.T) {
	a, err := RunEclipse(smallEclipse(7, 8, Defences{}))
	if err != nil {
		t.Fatal(err)
	}
	b, err := RunEclipse(smallEclipse(7, 8, Defences{}))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("same config, different results:\n%+v\n%+v", a, b)
	}
}

func TestEclipseAttackerPoisonsTheUndefendedBook(t *testing.T) {
	res, err := RunEclipse(smallEclipse(1, 64, Defences{}))
	if err != nil {
		t.Fatal(err)
	}
	if res.PoisonedShare < 0.5 {
		t.Fatalf("attacker holds %.2f of a %d-entry book after the flood, want a majority", res.PoisonedShare, res.BookSize)
	}
	if len(res.Outbound) != 3 {
		t.Fatalf("%d rounds measured after the restart, want 3", len(res.Outbound))
	}
	if last := res.Outbound[2]; last[0]+last[1] == 0 {
		t.Fatalf("victim has no outbound peers after the restart: %v", res.Outbound)
	}
}

func TestEclipseConfigErrorsNameTheValue(t *testing.T) {
	for _, c := range []EclipseConfig{{K: 0}, {K: 1, PerGroup: -1}, {K: 1, Honest: 2}, {K: 1, AttackRounds: -3}} {
		_, err := RunEclipse(c)
		if !errors.Is(err, ErrEclipseConfig) {
			t.Errorf("%+v: err %v, want ErrEclipseConfig", c, err)
		}
	}
}

// The signed-records model is live: the victim's book ends up with
// verified entries, none of them a made-up address, and only when the
// option is on.
func TestEclipseSignedRecordsVerifyOnlySignedAddresses(t *testing.T) {
	cfg := smallEclipse(2, 8, Defences{SignedRecords: true})
	cfg.FakePerGroup = 64
	on, err := RunEclipse(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if on.Verified < on.BookSize/10 || on.FakeVerified != 0 {
		t.Fatalf("%d of %d entries verified, %d of them made up; want many, none made up", on.Verified, on.BookSize, on.FakeVerified)
	}
	cfg.Victim = Defences{}
	off, err := RunEclipse(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if off.Verified != 0 {
		t.Fatalf("%d entries verified without the option", off.Verified)
	}
}

func TestEclipseFakePerGroupOutOfRange(t *testing.T) {
	for _, c := range []EclipseConfig{{K: 1, FakePerGroup: -1}, {K: 1, PerGroup: 900, FakePerGroup: 101}} {
		_, err := RunEclipse(c)
		if !errors.Is(err, ErrEclipseConfig) || !strings.Contains(err.Error(), "FakePerGroup") {
			t.Errorf("%+v: err %v, want ErrEclipseConfig naming FakePerGroup", c, err)
		}
	}
}
