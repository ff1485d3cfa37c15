package pexnode

import (
	"testing"
	"time"
)

func TestDefencesCheckNamesTheFirstKeyOutOfRange(t *testing.T) {
	ok := Defences{FeelerInterval: time.Minute, MaxAnchors: 2, OutboundGroupLimit: 1, MaxOutbound: 10}
	if bad := ok.Check("max_num_outbound_peers"); bad != nil {
		t.Fatalf("in range refused: %s = %s: %v", bad.Key, bad.Value, bad.Err)
	}
	if bad := (Defences{}).Check("max_num_outbound_peers"); bad != nil {
		t.Fatalf("all off refused: %s = %s: %v", bad.Key, bad.Value, bad.Err)
	}
	for _, tc := range []struct {
		adjust     func(*Defences)
		key, value string
		reason     string
	}{
		{func(d *Defences) { d.FeelerInterval = -time.Second }, "feeler_interval", "-1s", "must not be negative (0: off)"},
		{func(d *Defences) { d.MaxAnchors = -1 }, "max_anchors", "-1", "must be in 0..p2p.max_num_outbound_peers (10): anchors are outbound peers"},
		{func(d *Defences) { d.MaxAnchors = 11 }, "max_anchors", "11", "must be in 0..p2p.max_num_outbound_peers (10): anchors are outbound peers"},
		{func(d *Defences) { d.OutboundGroupLimit = -1 }, "outbound_group_limit", "-1", "must not be negative (0: no limit)"},
	} {
		d := ok
		tc.adjust(&d)
		bad := d.Check("p2p.max_num_outbound_peers")
		if bad == nil || bad.Key != tc.key || bad.Value != tc.value || bad.Err.Error() != tc.reason {
			t.Errorf("want %s = %s: %s, got %+v", tc.key, tc.value, tc.reason, bad)
		}
	}
}
