package addrbook

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Stop returns after the final save (upstream returns before it,
// cometbft#646).
func TestStopWaitsForFinalSave(t *testing.T) {
	path := filepath.Join(t.TempDir(), "addrbook.json")
	b, _ := fileBook(t, path, Options{})
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	if err := b.Start(); err != nil {
		t.Fatalf("second Start: %v", err)
	}
	fill(t, b, 20, 0)
	if err := b.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := b.Stop(); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
	b2, _ := fileBook(t, path, Options{})
	startStop(t, b2)
	if b2.Size() != 20 {
		t.Fatalf("after Stop the file holds %d addresses, want 20", b2.Size())
	}
}

// The periodic save runs on the injected ticker (virtual time).
func TestPeriodicSave(t *testing.T) {
	path := filepath.Join(t.TempDir(), "addrbook.json")
	ticks := make(chan time.Time)
	var gotInterval time.Duration
	stopped := false
	b, _ := fileBook(t, path, Options{Tick: func(d time.Duration) (<-chan time.Time, func()) {
		gotInterval = d
		return ticks, func() { stopped = true }
	}})
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	if gotInterval != DefaultSaveInterval {
		t.Fatalf("interval %v, want %v", gotInterval, DefaultSaveInterval)
	}
	fill(t, b, 7, 0)
	ticks <- time.Time{}
	ticks <- time.Time{} // received only after the first save finished
	data, err := os.ReadFile(path)
	if err != nil || strings.Count(string(data), `"addr"`) != 7 {
		t.Fatalf("periodic save: %v, %d entries", err, strings.Count(string(data), `"addr"`))
	}
	if err := b.Stop(); err != nil {
		t.Fatal(err)
	}
	if !stopped {
		t.Fatal("ticker not stopped")
	}
}

// A path that is a directory is an I/O error: Start fails, nothing moves.
func TestStartIOErrorLeavesFile(t *testing.T) {
	dir := t.TempDir()
	b, _ := fileBook(t, dir, Options{})
	if err := b.Start(); !errors.Is(err, ErrFileIO) {
		t.Fatalf("Start on a directory: %v", err)
	}
	if _, err := os.Stat(dir); err != nil {
		t.Fatal(err)
	}
}
