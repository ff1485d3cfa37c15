package addrbook

import (
	"encoding/json"
	"errors"
	"time"
)

// The file is upstream's addrbook.json: {"key", "addrs": [...]}, each entry
// with addr, src, buckets, attempts, bucket_type, last_attempt,
// last_success and last_ban_time. Only fields are added: pexp2p_version,
// hash_key (so placement survives a restart; upstream's does not) and bans
// (so bans do; upstream forgets them).
// Upstream's decoder ignores fields it does not know, so it loads this file.
const (
	// FormatVersion is written as "pexp2p_version".
	FormatVersion = 1
	// maxFileSize bounds what Start reads: a full book is about 10 MB.
	maxFileSize = 256 << 20
)

// ErrFileIO is wrapped by Start and Save errors from the file system.
var ErrFileIO = errors.New("address book file I/O")

// FileAddr is an address as the file stores it. IP is text, as upstream
// writes it.
type FileAddr struct {
	ID   string `json:"id"`
	IP   string `json:"ip"`
	Port int64  `json:"port"`
}

// FileEntry is one element of the file's "addrs": upstream's fields, and
// two that only the signed-records and several-addresses options set and
// that are left out when empty, so a book without them writes upstream's
// entries exactly (upstream ignores them when present). Tools that show or write entries in upstream's format use it
// (Entry.FileEntry), so the schema is declared once, here. Addr and Src are
// pointers because the loader must tell a missing address from an empty
// one.
type FileEntry struct {
	Addr        *FileAddr `json:"addr"`
	Src         *FileAddr `json:"src"`
	Buckets     []int64   `json:"buckets"`
	Attempts    int64     `json:"attempts"`
	BucketType  int64     `json:"bucket_type"`
	LastAttempt time.Time `json:"last_attempt"`
	LastSuccess time.Time `json:"last_success"`
	LastBanTime time.Time `json:"last_ban_time"`
	// Alternatives are the entry's other addresses (Entry.Alternatives).
	Alternatives []*FileAddr `json:"alternatives,omitempty"`
	// Verified is Entry.Verified.
	Verified bool `json:"verified,omitempty"`
}

type banJSON struct {
	ID    string     `json:"id"`
	Until time.Time  `json:"until"`
	Addr  *FileAddr  `json:"addr,omitempty"`
	Entry *FileEntry `json:"entry,omitempty"`
}

// fileJSON is decoded strictly first (fast path); if any entry does not
// fit, fileRawJSON decodes entries one by one so a bad entry costs only
// itself.
type fileJSON struct {
	Key     string      `json:"key"`
	Version int64       `json:"pexp2p_version"`
	HashKey string      `json:"hash_key"`
	Addrs   []FileEntry `json:"addrs"`
	Bans    []banJSON   `json:"bans"`
}

type fileRawJSON struct {
	Key     json.RawMessage   `json:"key"`
	Version json.RawMessage   `json:"pexp2p_version"`
	HashKey json.RawMessage   `json:"hash_key"`
	Addrs   []json.RawMessage `json:"addrs"`
	Bans    []json.RawMessage `json:"bans"`
}
