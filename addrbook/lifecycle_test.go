package addrbook

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// B2 fix (cometbft#646): Stop returns after the final save.
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

// B2, item 4: the periodic save runs on the injected ticker (virtual time).
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

// A save killed before its rename leaves a temporary copy of the book
// behind; Start removes the copies whose writer process is gone (or, for
// names without a PID, that are clearly stale), and leaves the copy of a
// live writer (a concurrent offline save may own it) and other files alone.
func TestStartRemovesStaleTempFiles(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "addrbook.json")
	// A child that has exited gives a PID that is surely not running.
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	deadPID := cmd.ProcessState.Pid()
	killed := filepath.Join(dir, fmt.Sprintf(".addrbook.json.tmp-%d-111", deadPID))
	live := filepath.Join(dir, fmt.Sprintf(".addrbook.json.tmp-%d-222", os.Getppid()))
	staleNoPID := filepath.Join(dir, ".addrbook.json.tmp-333")
	freshNoPID := filepath.Join(dir, ".addrbook.json.tmp-444")
	other := filepath.Join(dir, ".other.json.tmp-1-555")
	for _, f := range []string{killed, live, staleNoPID, freshNoPID, other} {
		if err := os.WriteFile(f, []byte("{}"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(staleNoPID, old, old); err != nil {
		t.Fatal(err)
	}
	b, _ := newTestBook(t, Options{FilePath: path})
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	defer b.Stop()
	for _, f := range []string{killed, staleNoPID} {
		if _, err := os.Stat(f); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s: stale temp file still there (err %v)", filepath.Base(f), err)
		}
	}
	for _, f := range []string{live, freshNoPID, other} {
		if _, err := os.Stat(f); err != nil {
			t.Errorf("%s removed: %v", filepath.Base(f), err)
		}
	}
}
