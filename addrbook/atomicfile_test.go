package addrbook

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// The save is atomic and leaves no temporary file; the file is 0644 as
// upstream writes it.
func TestSaveIsAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "addrbook.json")
	if err := os.WriteFile(path, []byte("old content"), 0o600); err != nil {
		t.Fatal(err)
	}
	b, _ := fileBook(t, path, Options{})
	fill(t, b, 5, 0)
	if err := b.Save(); err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Fatalf("directory holds %d files", len(ents))
	}
	fi, _ := os.Stat(path)
	if fi.Mode().Perm() != 0o644 {
		t.Fatalf("mode %v", fi.Mode())
	}
	var v map[string]any
	data, _ := os.ReadFile(path)
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	// A save into a missing directory fails with a typed error and leaves nothing.
	bad, _ := fileBook(t, filepath.Join(dir, "missing", "addrbook.json"), Options{})
	if err := bad.Save(); !errors.Is(err, ErrFileIO) {
		t.Fatalf("save into a missing directory: %v", err)
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
