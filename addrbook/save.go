package addrbook

import (
	"encoding/hex"
	"encoding/json"
	"maps"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"
)

// entryJSONSize is a generous size of one written entry, to allocate the
// file buffer once.
const entryJSONSize = 480

// Save writes the book atomically: a temporary file in the same directory,
// fsync, rename over the old file, fsync of the directory. A crash leaves
// either the old file or the new one, never a torn one. An in-memory book
// (no FilePath) has nothing to do.
func (b *Book) Save() error {
	if b.filePath == "" {
		return nil
	}
	b.saveMu.Lock()
	defer b.saveMu.Unlock()
	data := b.Marshal()
	return writeFileAtomic(b.filePath, data, 0o644)
}

// Marshal returns the book in file form. It appends by hand instead of
// going through encoding/json because a full book then encodes about ten
// times faster, and without that (and fastDecode) Save+Load would fall
// well below 3x upstream's: docs/performance.md, "Address book file
// codec". TestMarshalEncodesWhatEncodingJSONWould holds it to the value
// encoding/json writes.
func (b *Book) Marshal() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	buf := make([]byte, 0, 256+len(b.entries)*entryJSONSize+len(b.bans)*2*entryJSONSize)
	buf = append(buf, "{\n\t\"key\": "...)
	buf = appendJSONString(buf, b.key)
	buf = append(buf, ",\n\t\"pexp2p_version\": "...)
	buf = strconv.AppendInt(buf, FormatVersion, 10)
	buf = append(buf, ",\n\t\"hash_key\": \""...)
	buf = hex.AppendEncode(buf, b.hashKey[:])
	buf = append(buf, "\",\n\t\"addrs\": ["...)
	for i := range b.entries {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, "\n\t\t"...)
		ka := &b.entries[i]
		buf = b.appendEntryJSON(buf, ka, b.srcs[ka.src].addr, 0)
	}
	buf = append(buf, "\n\t],\n\t\"bans\": ["...)
	for i, id := range slices.Sorted(maps.Keys(b.bans)) {
		rec := b.bans[id]
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, "\n\t\t{\"id\": "...)
		buf = appendJSONString(buf, id)
		buf = append(buf, ", \"until\": \""...)
		buf = fromNanos(rec.until).AppendFormat(buf, time.RFC3339Nano)
		buf = append(buf, "\", \"addr\": "...)
		buf = appendAddrJSON(buf, rec.addr)
		if rec.hasEntry {
			buf = append(buf, ", \"entry\": "...)
			buf = b.appendEntryJSON(buf, &rec.entry, rec.src, rec.until)
		}
		buf = append(buf, '}')
	}
	buf = append(buf, "\n\t]\n}\n"...)
	return buf
}

func (b *Book) appendEntryJSON(buf []byte, ka *knownAddress, src NetAddress, banUntil int64) []byte {
	buf = append(buf, "{\"addr\": "...)
	buf = appendAddrJSON(buf, ka.addr())
	buf = append(buf, ", \"src\": "...)
	buf = appendAddrJSON(buf, src)
	buf = append(buf, ", \"buckets\": ["...)
	for r := 0; r < int(ka.nb); r++ {
		if r > 0 {
			buf = append(buf, ',')
		}
		buf = strconv.AppendInt(buf, int64(ka.bk[r]), 10)
	}
	buf = append(buf, "], \"attempts\": "...)
	buf = strconv.AppendInt(buf, int64(ka.attempts), 10)
	buf = append(buf, ", \"bucket_type\": "...)
	buf = strconv.AppendInt(buf, int64(ka.typ), 10)
	buf = append(buf, ", \"last_attempt\": \""...)
	buf = fromNanos(ka.lastAttempt).AppendFormat(buf, time.RFC3339Nano)
	buf = append(buf, "\", \"last_success\": \""...)
	buf = fromNanos(ka.lastSuccess).AppendFormat(buf, time.RFC3339Nano)
	buf = append(buf, "\", \"last_ban_time\": \""...)
	buf = fromNanos(banUntil).AppendFormat(buf, time.RFC3339Nano)
	buf = append(buf, '"')
	if alts := ka.alts(); len(alts) > 0 {
		buf = append(buf, ", \"alternatives\": ["...)
		for r, a := range alts {
			if r > 0 {
				buf = append(buf, ", "...)
			}
			buf = appendAddrJSON(buf, a)
		}
		buf = append(buf, ']')
	}
	if ka.verified() {
		buf = append(buf, ", \"verified\": true"...)
	}
	return append(buf, '}')
}

func appendAddrJSON(buf []byte, na NetAddress) []byte {
	buf = append(buf, "{\"id\": "...)
	buf = appendJSONString(buf, na.ID)
	buf = append(buf, ", \"ip\": \""...)
	if na.IP.IsValid() {
		buf = na.IP.AppendTo(buf)
	}
	buf = append(buf, "\", \"port\": "...)
	buf = strconv.AppendUint(buf, uint64(na.Port), 10)
	return append(buf, '}')
}

// appendJSONString quotes s; IDs are plain ASCII, so the fast path is the
// norm and anything else goes through encoding/json.
func appendJSONString(buf []byte, s string) []byte {
	plain := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= utf8.RuneSelf || c == '<' || c == '>' || c == '&' {
			plain = false
			break
		}
	}
	if plain {
		buf = append(buf, '"')
		buf = append(buf, s...)
		return append(buf, '"')
	}
	q, _ := json.Marshal(s) // a string always marshals
	return append(buf, q...)
}
