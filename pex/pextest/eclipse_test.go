package pextest

import (
	"errors"
	"reflect"
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
