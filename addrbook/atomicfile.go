package addrbook

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// writeFileAtomic replaces path with data atomically, as upstream saves
// its book: a temp file in the same directory, then rename, so a crash leaves the old file or the new one, never half of one.
func writeFileAtomic(path string, data []byte, perm os.FileMode) (err error) {
	dir := filepath.Dir(path)
	// The PID in the name lets a later Start tell a save that was killed
	// from one still running in another process (removeStaleTemps).
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-"+strconv.Itoa(os.Getpid())+"-*")
	if err != nil {
		return fmt.Errorf("%w: create temporary file in %s: %w", ErrFileIO, dir, err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			os.Remove(tmp)
		}
	}()
	if _, err = f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("%w: write %s: %w", ErrFileIO, tmp, err)
	}
	if err = f.Chmod(perm); err != nil {
		f.Close()
		return fmt.Errorf("%w: chmod %s: %w", ErrFileIO, tmp, err)
	}
	if err = f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("%w: fsync %s: %w", ErrFileIO, tmp, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("%w: close %s: %w", ErrFileIO, tmp, err)
	}
	if err = os.Rename(tmp, path); err != nil {
		return fmt.Errorf("%w: rename %s to %s: %w", ErrFileIO, tmp, path, err)
	}
	if serr := syncDir(dir); serr != nil {
		return fmt.Errorf("%w: fsync directory %s: %w", ErrFileIO, dir, serr)
	}
	return nil
}

// staleTempAge is how old a leftover temporary file without a readable
// PID must be before Start removes it: a save takes well under a second,
// so an older one was killed, not in progress.
const staleTempAge = time.Minute

// removeStaleTemps deletes the temporary files of saves that were killed
// before their rename (SIGKILL, power loss): each is a full copy of the
// book, and nothing else would ever remove them. A file whose writer
// process still runs is left alone (an offline `pexp2p addrbook import`
// may be saving the same book). It returns how many it removed; failures
// only mean the files stay.
func removeStaleTemps(path string, now time.Time) int {
	dir, prefix := filepath.Dir(path), "."+filepath.Base(path)+".tmp-"
	ents, err := os.ReadDir(dir)
	if err != nil {
		return 0
	}
	removed := 0
	for _, de := range ents {
		name := de.Name()
		if !strings.HasPrefix(name, prefix) || !de.Type().IsRegular() {
			continue
		}
		fi, err := de.Info()
		if err != nil {
			continue
		}
		pidText, _, ok := strings.Cut(strings.TrimPrefix(name, prefix), "-")
		pid, perr := strconv.Atoi(pidText)
		switch {
		case ok && perr == nil && pid > 0:
			if pid == os.Getpid() || processAlive(pid) {
				continue
			}
		case now.Sub(fi.ModTime()) < staleTempAge:
			continue
		}
		if os.Remove(filepath.Join(dir, name)) == nil {
			removed++
		}
	}
	return removed
}

// processAlive reports whether a process with this PID exists (signal 0
// checks without sending anything; EPERM means it exists as another user).
func processAlive(pid int) bool {
	p, err := os.FindProcess(pid)
	if err != nil {
		return false
	}
	err = p.Signal(syscall.Signal(0))
	return err == nil || errors.Is(err, syscall.EPERM)
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
