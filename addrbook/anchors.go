package addrbook

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Anchors (Bitcoin Core's anchors.dat): the outbound peers a node had
// when it stopped, dialled first when it starts again, so that a restart
// — the moment an eclipse attacker waits for, with our inbound slots full
// of its connections and our book full of its addresses — begins from
// peers we know were honest enough to keep. They live in a small file of
// their own beside the book, never in addrbook.json, so the book stays
// byte-for-byte upstream's format.

// AnchorsFileName is the anchors file's name, in the book file's directory.
const AnchorsFileName = "anchors.json"

// maxAnchorsInFile bounds what a loaded anchors file may hold: far more
// than any outbound limit, small enough that a hostile file cannot make
// us dial thousands of addresses at start.
const maxAnchorsInFile = 64

// ErrAnchors is wrapped by every *AnchorsError.
var ErrAnchors = errors.New("bad anchors file")

// AnchorsError names the anchors file and what is wrong with it.
type AnchorsError struct {
	Path   string
	Entry  int // index of the bad entry; -1 for the file as a whole
	Value  string
	Reason string
	Err    error
}

func (e *AnchorsError) Error() string {
	s := fmt.Sprintf("anchors file %s", e.Path)
	if e.Entry >= 0 {
		s += fmt.Sprintf(", entry %d %q", e.Entry, e.Value)
	}
	s += ": " + e.Reason
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Is makes errors.Is(err, ErrAnchors) true.
func (e *AnchorsError) Is(target error) bool { return target == ErrAnchors }

func (e *AnchorsError) Unwrap() error { return e.Err }

// AnchorFile stores anchors in one file. Its zero Path disables it.
type AnchorFile struct {
	Path string
	Rule IDRule // nil means ClassicIDs
}

// AnchorFileFor returns the anchors file beside a book file.
func AnchorFileFor(bookPath string, rule IDRule) AnchorFile {
	return AnchorFile{Path: filepath.Join(filepath.Dir(bookPath), AnchorsFileName), Rule: rule}
}

type anchorsJSON struct {
	Anchors []string `json:"anchors"`
}

// SaveAnchors writes addrs atomically (replacing the file).
func (f AnchorFile) SaveAnchors(addrs []NetAddress) error {
	if f.Path == "" {
		return nil
	}
	j := anchorsJSON{Anchors: make([]string, 0, len(addrs))}
	for _, a := range addrs {
		j.Anchors = append(j.Anchors, a.String())
	}
	data, err := json.MarshalIndent(j, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding anchors: %w", err)
	}
	return writeFileAtomic(f.Path, append(data, '\n'), 0o600)
}

// LoadAnchors reads the anchors and removes the file, as Bitcoin Core
// does: anchors serve the one start after the stop that wrote them, so a
// node that crashes in a loop does not keep dialling the same peers. A
// missing file is no anchors. A file that is not an anchors file is an
// *AnchorsError (and is removed too: it would fail the same way next
// time); an entry that is not an address fails the whole file, since a
// half-trusted anchor list is not worth dialling first.
func (f AnchorFile) LoadAnchors() ([]NetAddress, error) {
	if f.Path == "" {
		return nil, nil
	}
	data, err := os.ReadFile(f.Path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%w: read %s: %w", ErrFileIO, f.Path, err)
	}
	if err := os.Remove(f.Path); err != nil {
		return nil, fmt.Errorf("%w: remove %s: %w", ErrFileIO, f.Path, err)
	}
	bad := func(entry int, value, reason string, err error) error {
		return &AnchorsError{Path: f.Path, Entry: entry, Value: value, Reason: reason, Err: err}
	}
	var j anchorsJSON
	if err := json.Unmarshal(data, &j); err != nil {
		return nil, bad(-1, "", "not JSON of the form {\"anchors\": [\"id@ip:port\", ...]}", err)
	}
	if len(j.Anchors) > maxAnchorsInFile {
		return nil, bad(-1, "", fmt.Sprintf("%d anchors, at most %d", len(j.Anchors), maxAnchorsInFile), nil)
	}
	rule := f.Rule
	if rule == nil {
		rule = ClassicIDs
	}
	out := make([]NetAddress, 0, len(j.Anchors))
	for i, s := range j.Anchors {
		a, err := ParseNetAddress(rule, s)
		if err == nil {
			err = a.Valid()
		}
		if err != nil {
			return nil, bad(i, s, "not an id@ip:port address", err)
		}
		out = append(out, a)
	}
	return out, nil
}
