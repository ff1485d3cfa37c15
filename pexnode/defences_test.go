package pexnode

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pexp2p/pexp2p/addrbook"
)

func TestDefencesCheckNamesTheFirstKeyOutOfRange(t *testing.T) {
	ok := Defences{FeelerInterval: time.Minute, MaxAnchors: 2, OutboundGroupLimit: 1}
	if err := ok.Check(10); err != nil {
		t.Fatalf("in range refused: %v", err)
	}
	if err := (Defences{}).Check(10); err != nil {
		t.Fatalf("all off refused: %v", err)
	}
	for _, tc := range []struct {
		adjust     func(*Defences)
		key, value string
		reason     string
	}{
		{func(d *Defences) { d.FeelerInterval = -time.Second }, "feeler_interval", "-1s", "must not be negative (0: off)"},
		{func(d *Defences) { d.MaxAnchors = -1 }, "max_anchors", "-1", "must be in 0..max_num_outbound_peers (10): anchors are outbound peers"},
		{func(d *Defences) { d.MaxAnchors = 11 }, "max_anchors", "11", "must be in 0..max_num_outbound_peers (10): anchors are outbound peers"},
		{func(d *Defences) { d.OutboundGroupLimit = -1 }, "outbound_group_limit", "-1", "must not be negative (0: no limit)"},
	} {
		d := ok
		tc.adjust(&d)
		var bad *DefenceError
		if err := d.Check(10); !errors.As(err, &bad) || bad.Key != tc.key || bad.Value != tc.value || bad.Err.Error() != tc.reason {
			t.Errorf("want %s = %s: %s, got %v", tc.key, tc.value, tc.reason, err)
		}
	}
}

// LoadASMap takes a relative path from the root; a missing or malformed
// file is a DefenceError for asmap_file wrapping the book's error.
func TestDefencesLoadASMap(t *testing.T) {
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "good.txt"), []byte("8.8.0.0/16 15169\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "bad.txt"), []byte("8.8.0.0/16 15169\n8.8.0.0/33 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if m, err := (Defences{ASMapFile: "good.txt"}).LoadASMap(root); err != nil || m.Len() != 1 {
		t.Fatalf("good map: %v, %v", m, err)
	}
	if m, err := (Defences{}).LoadASMap(root); m != nil || err != nil {
		t.Fatalf("no map: %v, %v", m, err)
	}
	var bad *DefenceError
	var aerr *addrbook.ASMapError
	if _, err := (Defences{ASMapFile: "bad.txt"}).LoadASMap(root); !errors.As(err, &bad) || bad.Key != "asmap_file" || !errors.As(err, &aerr) || aerr.Line != 2 {
		t.Fatalf("bad line: %v", err)
	}
	if _, err := (Defences{ASMapFile: "absent.txt"}).LoadASMap(root); !errors.As(err, &bad) || bad.Value != "absent.txt" {
		t.Fatalf("absent: %v", err)
	}
}
