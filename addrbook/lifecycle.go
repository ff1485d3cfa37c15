package addrbook

import "time"

// LoadStats reports what Start found in the book file.
type LoadStats struct {
	Loaded int // entries now in the book from the file
	// Dropped counts refused entries and bans by reason.
	Dropped map[string]int
	// CorruptMovedTo is where an unreadable file was moved, if it was.
	CorruptMovedTo string
	// Recomputed is true when placement was recomputed (a file without
	// this package's hash key, e.g. one written by upstream).
	Recomputed bool
}

// Start loads the file (the first time) and starts the periodic save.
// Starting a running book does nothing. A file that is not an address
// book is moved aside and the book starts empty (see LoadStats); an I/O
// error reading it is returned and the file left as it is.
func (b *Book) Start() error {
	b.lifeMu.Lock()
	defer b.lifeMu.Unlock()
	if b.running {
		return nil
	}
	if !b.loaded && b.filePath != "" {
		if err := b.load(); err != nil {
			return err
		}
		if n := removeStaleTemps(b.filePath, time.Now()); n > 0 {
			b.log.Warn("removed temporary files of interrupted saves", "file", b.filePath, "count", n)
		}
	}
	b.loaded = true
	b.running = true
	b.quit = make(chan struct{})
	b.done = make(chan struct{})
	if b.filePath == "" {
		close(b.done)
		return nil
	}
	c, stop := b.tick(b.saveInterval)
	go b.saveRoutine(c, stop, b.quit, b.done)
	return nil
}

func (b *Book) saveRoutine(c <-chan time.Time, stop func(), quit <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	defer stop()
	for {
		select {
		case <-c:
			if err := b.Save(); err != nil {
				b.log.Error("saving address book", "file", b.filePath, "err", err)
			}
		case <-quit:
			b.saveErr = b.Save()
			return
		}
	}
}

// Stop ends the periodic save and returns once the final save is on disk
// (upstream v0.38 returns before it: cometbft#646). It returns that save's
// error. Stopping a book that is not running does nothing.
func (b *Book) Stop() error {
	b.lifeMu.Lock()
	defer b.lifeMu.Unlock()
	if !b.running {
		return nil
	}
	b.running = false
	close(b.quit)
	<-b.done
	err := b.saveErr
	b.saveErr = nil
	return err
}
