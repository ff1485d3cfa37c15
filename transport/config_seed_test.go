package transport

import "testing"

// A seed-mode face admits the newcomers' herd: its over-limit visitor
// slots default to SeedVisitorSlots instead of 2, and an operator's own
// setting, or a negative one, still wins.
func TestSeedModeRaisesTheVisitorSlotsDefault(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		want int
	}{
		{"regular node", Config{}, 2},
		{"seed mode", Config{SeedMode: true}, SeedVisitorSlots},
		{"seed mode, operator's slots", Config{SeedMode: true, OverLimitSlots: 7}, 7},
		{"seed mode, visitors off", Config{SeedMode: true, OverLimitSlots: -1}, 0},
	} {
		c := tc.cfg
		c.setDefaults()
		if c.OverLimitSlots != tc.want {
			t.Errorf("%s: OverLimitSlots %d, want %d", tc.name, c.OverLimitSlots, tc.want)
		}
	}
}
