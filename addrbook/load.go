package addrbook

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"
)

// Drop reasons, the keys of LoadStats.Dropped.
const (
	DropUndecodable   = "undecodable entry"
	DropMissingAddr   = "missing addr"
	DropMissingSrc    = "missing src"
	DropInvalidAddr   = "invalid addr"
	DropInvalidSrc    = "invalid src"
	DropNonRoutable   = "non-routable in strict mode"
	DropAttempts      = "attempts out of range"
	DropBucketType    = "unknown bucket type"
	DropNoBuckets     = "no buckets"
	DropBucketIndex   = "bucket index out of range"
	DropBucketDup     = "duplicate bucket index"
	DropBucketCount   = "wrong number of buckets"
	DropTime          = "time out of range"
	DropDuplicateID   = "duplicate ID"
	DropPrivate       = "private ID or source"
	DropSelf          = "our own ID"
	DropBanned        = "banned ID"
	DropBadBan        = "invalid ban"
	DropDuplicateBan  = "duplicate ban"
	DropNoRoom        = "no room"
	DropBadHeaderKeys = "invalid key or hash_key (placement recomputed)"
	// DropAlternative counts alternatives left out of entries that were
	// kept: invalid, for another ID, unroutable in strict mode, a repeat,
	// or beyond MaxAlternatives.
	DropAlternative = "invalid or surplus alternative"
)

// load reads the book file into the book. A missing file is an empty book.
// A file that is not an address book is moved aside and the book starts
// empty; an I/O error is returned and the file left alone, because
// starting empty would overwrite it on the next save.
func (b *Book) load() error {
	st := LoadStats{Dropped: map[string]int{}}
	defer func() { b.mu.Lock(); b.loadStats = st; b.mu.Unlock() }()
	f, err := os.Open(b.filePath)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%w: open %s: %w", ErrFileIO, b.filePath, err)
	}
	if fi, err := f.Stat(); err == nil && fi.IsDir() {
		f.Close()
		return fmt.Errorf("%w: %s is a directory", ErrFileIO, b.filePath)
	}
	var data []byte
	var rerr error
	if fi, serr := f.Stat(); serr == nil && fi.Size() > 0 && fi.Size() <= maxFileSize {
		// Read at the known size in one allocation; ReadAll's doubling
		// costs more than the parse for a full book.
		data = make([]byte, fi.Size())
		var n int
		n, rerr = io.ReadFull(f, data)
		data = data[:n]
		if rerr == io.ErrUnexpectedEOF {
			rerr = nil // the file shrank under us: parse what is there
		} else if rerr == nil {
			// It may also have grown: take the rest as well.
			rest, err := io.ReadAll(io.LimitReader(f, maxFileSize+1-int64(n)))
			data, rerr = append(data, rest...), err
		}
	} else {
		data, rerr = io.ReadAll(io.LimitReader(f, maxFileSize+1))
	}
	if rerr != nil {
		f.Close()
		return fmt.Errorf("%w: read %s: %w", ErrFileIO, b.filePath, rerr)
	}
	tooBig := len(data) > maxFileSize
	f.Close()
	var reason string
	if tooBig {
		reason = "file larger than " + strconv.Itoa(maxFileSize) + " bytes"
	} else if perr := b.loadBytes(data, &st); perr != nil {
		reason = perr.Error()
	}
	if reason == "" {
		for r, n := range st.Dropped {
			b.log.Warn("address book file: dropped entries", "file", b.filePath, "reason", r, "count", n)
		}
		return nil
	}
	moved, merr := b.moveAside()
	if merr != nil {
		return fmt.Errorf("%w: %s is unreadable (%s) and could not be moved aside: %w", ErrFileIO, b.filePath, reason, merr)
	}
	st = LoadStats{Dropped: map[string]int{}, CorruptMovedTo: moved}
	b.log.Warn("address book file is unreadable; moved aside, starting empty",
		"file", b.filePath, "moved_to", moved, "reason", reason)
	return nil
}

// moveAside renames the book file to <file>.corrupt-<UTC time>, never
// over an existing file.
func (b *Book) moveAside() (string, error) {
	base := b.filePath + ".corrupt-" + b.now().UTC().Format("20060102T150405Z")
	target := base
	for n := 1; ; n++ {
		if _, err := os.Lstat(target); errors.Is(err, os.ErrNotExist) {
			break
		}
		target = base + "-" + strconv.Itoa(n)
	}
	if err := os.Rename(b.filePath, target); err != nil {
		return "", err
	}
	syncDir(filepath.Dir(b.filePath))
	return target, nil
}

// LoadStats returns what the last Start read from the file.
func (b *Book) LoadStats() LoadStats {
	b.mu.Lock()
	defer b.mu.Unlock()
	st := b.loadStats
	st.Dropped = make(map[string]int, len(b.loadStats.Dropped))
	for k, v := range b.loadStats.Dropped {
		st.Dropped[k] = v
	}
	return st
}

// LoadBytes merges an address book file's content into the book, with
// the same validation Start applies; an error means the content is not an
// address book at all (nothing was added then). It is the import path for
// tools, and what the load fuzzer drives.
func (b *Book) LoadBytes(data []byte) (LoadStats, error) {
	st := LoadStats{Dropped: map[string]int{}}
	err := b.loadBytes(data, &st)
	return st, err
}

// loadBytes parses data and adds what is valid. It never panics, and its
// cost is linear in the input.
func (b *Book) loadBytes(data []byte, st *LoadStats) error {
	fj, err := decodeFile(data, st)
	if err != nil {
		return err
	}
	b.applyFile(&fj, st)
	return nil
}

// decodeFile parses the file; an error means it is not an address book.
// Entries and bans that do not decode are counted in st and skipped.
func decodeFile(data []byte, st *LoadStats) (fileJSON, error) {
	var fj fileJSON
	if fastDecode(data, &fj) {
		// the common case: a file this package or upstream wrote
		return fj, nil
	}
	err := json.Unmarshal(data, &fj)
	if err == nil {
		return fj, nil
	}
	// Maybe only some entries are malformed: decode them one by one.
	var raw fileRawJSON
	if rerr := json.Unmarshal(data, &raw); rerr != nil {
		return fileJSON{}, fmt.Errorf("not an address book file: %w", err)
	}
	fj = fileJSON{}
	_ = json.Unmarshal(raw.Key, &fj.Key)
	_ = json.Unmarshal(raw.HashKey, &fj.HashKey)
	fj.Addrs = decodeEach[FileEntry](raw.Addrs, DropUndecodable, st)
	fj.Bans = decodeEach[banJSON](raw.Bans, DropBadBan, st)
	return fj, nil
}

// decodeEach decodes the elements that decode, counting the others in st
// under reason.
func decodeEach[T any](raws []json.RawMessage, reason string, st *LoadStats) []T {
	var out []T
	for _, r := range raws {
		var v T
		if json.Unmarshal(r, &v) != nil {
			st.Dropped[reason]++
			continue
		}
		out = append(out, v)
	}
	return out
}

// applyFile adds the valid entries and bans of a decoded file, counting
// the rest in st by reason.
func (b *Book) applyFile(fj *fileJSON, st *LoadStats) {
	b.mu.Lock()
	defer b.mu.Unlock()

	// The file's keys are adopted only into an empty book: entries already
	// here were placed with the current keys.
	trust := false
	if len(b.entries) == 0 {
		key, kerr := hex.DecodeString(fj.Key)
		hk, herr := hex.DecodeString(fj.HashKey)
		keyOK := kerr == nil && len(key) == bookKeyHexLen/2
		if keyOK {
			b.key = fj.Key
		}
		if fj.HashKey != "" && (herr != nil || len(hk) != hashKeySize || !keyOK) {
			st.Dropped[DropBadHeaderKeys]++
		}
		if keyOK && herr == nil && len(hk) == hashKeySize {
			copy(b.hashKey[:], hk)
			trust = true
		}
	}
	st.Recomputed = !trust

	if len(b.entries) == 0 {
		b.lookup = make(map[string]int32, len(fj.Addrs))
	}
	b.entries = slices.Grow(b.entries, len(fj.Addrs))
	now := b.nowNanos()
	for i := range fj.Bans {
		b.loadBan(&fj.Bans[i], st)
	}
	for i := range fj.Addrs {
		ka, src, reason := b.checkEntry(&fj.Addrs[i], false, st)
		if reason == "" {
			if _, dup := b.lookup[ka.id]; dup {
				reason = DropDuplicateID
			} else if rec, banned := b.bans[ka.id]; banned && rec.until > now {
				reason = DropBanned
			} else if _, p := b.private[ka.id]; p {
				reason = DropPrivate
			} else if _, p := b.private[src.ID]; p {
				reason = DropPrivate
			} else if _, self := b.ourIDs[ka.id]; self {
				reason = DropSelf
			}
		}
		if reason != "" {
			st.Dropped[reason]++
			continue
		}
		if b.placeLoaded(ka, src, trust) {
			st.Loaded++
		} else {
			st.Dropped[DropNoRoom]++
		}
	}
	for r, n := range st.Dropped {
		if n == 0 {
			delete(st.Dropped, r)
		}
	}
}

// placeLoaded stores a validated entry. With trusted indices (our own
// file, same keys) it goes back where it was; otherwise, or when that does
// not fit, it is placed as AddAddress/MarkGood would place it now.
func (b *Book) placeLoaded(ka knownAddress, src NetAddress, trust bool) bool {
	stored := ka.bk
	nStored := int(ka.nb)
	ka.nb = 0
	if ka.isOld() {
		idx := b.calcOldBucket(ka.addr())
		if (!trust || nStored != 1 || int(stored[0]) == idx) && int(b.oldB[idx].n) < bucketSize {
			ka.src = b.internSource(src)
			b.place(b.appendEntry(ka), idx)
			return true
		}
		// No room in its old bucket: keep it as a new address.
		ka.typ = bucketTypeNew
		trust = false
	}
	if trust {
		var fits []int
		for r := 0; r < nStored; r++ {
			if int(b.newB[stored[r]].n) < bucketSize {
				fits = append(fits, int(stored[r]))
			}
		}
		if len(fits) > 0 {
			ka.src = b.internSource(src)
			i := b.appendEntry(ka)
			for _, idx := range fits {
				b.place(i, idx)
			}
			return true
		}
	}
	idx := b.calcNewBucket(ka.addr(), src)
	b.makeRoom(bucketTypeNew, idx)
	if int(b.newB[idx].n) >= bucketSize {
		return false
	}
	ka.src = b.internSource(src)
	b.place(b.appendEntry(ka), idx)
	return true
}

func (b *Book) loadBan(bj *banJSON, st *LoadStats) {
	id, err := b.rule.Normalize(bj.ID)
	if err != nil || !timeInRange(bj.Until) || bj.Until.IsZero() {
		st.Dropped[DropBadBan]++
		return
	}
	if _, dup := b.bans[id]; dup {
		st.Dropped[DropDuplicateBan]++
		return
	}
	rec := &banRecord{until: bj.Until.UnixNano(), addr: NetAddress{ID: id}}
	if bj.Addr != nil {
		if a, ok := b.parseAddr(bj.Addr, true); ok && a.ID == id {
			rec.addr = a
		}
	}
	if bj.Entry != nil {
		ka, src, reason := b.checkEntry(bj.Entry, true, st)
		if reason != "" || ka.id != id {
			st.Dropped[DropBadBan]++
			return
		}
		ka.nb = 0
		rec.hasEntry, rec.entry, rec.src, rec.addr = true, ka, src, ka.addr()
	}
	b.bans[id] = rec
}

// parseAddr converts a file address; with strictID the ID must pass the
// book's rule, otherwise (sources) a non-conforming ID is kept verbatim.
func (b *Book) parseAddr(aj *FileAddr, strictID bool) (NetAddress, bool) {
	ip, err := netip.ParseAddr(aj.IP)
	if err != nil || ip.Zone() != "" || aj.Port < 0 || aj.Port > 65535 {
		return NetAddress{}, false
	}
	id := aj.ID
	if n, err := b.rule.Normalize(id); err == nil {
		id = n
	} else if strictID {
		return NetAddress{}, false
	}
	return NetAddress{ID: id, IP: ip.Unmap(), Port: uint16(aj.Port)}, true
}

func timeInRange(t time.Time) bool {
	if t.IsZero() {
		return true
	}
	y := t.Year()
	return y >= 1678 && y <= 2261 // what int64 nanoseconds can hold
}

// checkEntry validates one file entry (upstream loads entries unchecked,
// then panics or hangs on a bad one): every way a parseable entry can break
// the book's invariants is refused here, with the reason.
func (b *Book) checkEntry(e *FileEntry, inBan bool, st *LoadStats) (knownAddress, NetAddress, string) {
	var ka knownAddress
	if e.Addr == nil {
		return ka, NetAddress{}, DropMissingAddr
	}
	if e.Src == nil {
		return ka, NetAddress{}, DropMissingSrc
	}
	addr, ok := b.parseAddr(e.Addr, true)
	if !ok || addr.Valid() != nil {
		return ka, NetAddress{}, DropInvalidAddr
	}
	src, ok := b.parseAddr(e.Src, false)
	if !ok || src.IsZero() {
		return ka, NetAddress{}, DropInvalidSrc
	}
	if b.strict && !addr.Routable() {
		return ka, NetAddress{}, DropNonRoutable
	}
	if e.Attempts < 0 || e.Attempts > 1<<31-1 {
		return ka, NetAddress{}, DropAttempts
	}
	if !timeInRange(e.LastAttempt) || !timeInRange(e.LastSuccess) || !timeInRange(e.LastBanTime) {
		return ka, NetAddress{}, DropTime
	}
	var limit, maxRefs int
	switch uint8(e.BucketType) {
	case bucketTypeNew:
		limit, maxRefs = newBucketCount, maxNewBucketsPerAddress
	case bucketTypeOld:
		limit, maxRefs = oldBucketCount, 1
	}
	if e.BucketType != int64(bucketTypeNew) && e.BucketType != int64(bucketTypeOld) {
		return ka, NetAddress{}, DropBucketType
	}
	if !inBan && len(e.Buckets) == 0 {
		return ka, NetAddress{}, DropNoBuckets
	}
	if len(e.Buckets) > maxRefs {
		return ka, NetAddress{}, DropBucketCount
	}
	ka = knownAddress{
		id: addr.ID, ip: addr.IP, port: addr.Port,
		attempts:    int32(e.Attempts),
		typ:         uint8(e.BucketType),
		lastAttempt: toNanos(e.LastAttempt),
		lastSuccess: toNanos(e.LastSuccess),
	}
	for _, idx := range e.Buckets {
		if idx < 0 || idx >= int64(limit) {
			return knownAddress{}, NetAddress{}, DropBucketIndex
		}
		if ka.refIndex(int(idx)) >= 0 {
			return knownAddress{}, NetAddress{}, DropBucketDup
		}
		ka.bk[ka.nb] = uint16(idx)
		ka.nb++
	}
	var alts []NetAddress
	for _, aj := range e.Alternatives {
		if aj == nil {
			st.Dropped[DropAlternative]++
			continue
		}
		a, ok := b.parseAddr(aj, true)
		if !ok || a.ID != addr.ID || a.Valid() != nil || (b.strict && !a.Routable()) ||
			a == addr || slices.Contains(alts, a) || len(alts) >= MaxAlternatives {
			st.Dropped[DropAlternative]++
			continue
		}
		alts = append(alts, a)
	}
	ka.ext = makeExt(alts, e.Verified)
	return ka, src, ""
}
