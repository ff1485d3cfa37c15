package addrbook

import (
	"time"
)

// fastDecode parses the address book file without reflection. It accepts
// only the plain shape this package and upstream write (known keys, no
// string escapes, integer numbers, UTC "Z" timestamps) and reports false
// on anything else, in which case the caller falls back to encoding/json.
// So it can only be faster, never different: FuzzLoad checks that whatever
// it accepts, encoding/json decodes to the same value. It is kept by
// measurement (BenchmarkFileDecode, BenchmarkSaveLoadCodec): on a full
// book it decodes several times faster than json.Unmarshal.
func fastDecode(data []byte, out *fileJSON) bool {
	// About 330 bytes per entry: allocate the entries once.
	p := jsonParser{d: data, addrsHint: len(data)/300 + 1}
	ok := p.file(out)
	p.ws()
	return ok && p.i == len(p.d)
}

type jsonParser struct {
	d         []byte
	i         int
	addrsHint int
}

func (p *jsonParser) ws() {
	for p.i < len(p.d) {
		switch p.d[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

// eat skips white space and consumes c if it comes next.
func (p *jsonParser) eat(c byte) bool {
	p.ws()
	if p.i < len(p.d) && p.d[p.i] == c {
		p.i++
		return true
	}
	return false
}

func (p *jsonParser) null() bool {
	p.ws()
	if len(p.d)-p.i >= 4 && string(p.d[p.i:p.i+4]) == "null" {
		p.i += 4
		return true
	}
	return false
}

// str reads a string with no escapes and only printable ASCII, the only
// kind the fast path takes.
func (p *jsonParser) str() (string, bool) {
	if !p.eat('"') {
		return "", false
	}
	start := p.i
	for p.i < len(p.d) {
		c := p.d[p.i]
		if c == '"' {
			s := string(p.d[start:p.i])
			p.i++
			return s, true
		}
		if c < 0x20 || c == '\\' || c >= 0x80 {
			return "", false
		}
		p.i++
	}
	return "", false
}

// boolean reads true or false; null goes to encoding/json, which leaves
// the field as it was.
func (p *jsonParser) boolean() (bool, bool) {
	p.ws()
	switch {
	case len(p.d)-p.i >= 4 && string(p.d[p.i:p.i+4]) == "true":
		p.i += 4
		return true, true
	case len(p.d)-p.i >= 5 && string(p.d[p.i:p.i+5]) == "false":
		p.i += 5
		return false, true
	}
	return false, false
}

// int reads an integer that fits in int64 (no fraction, no exponent).
func (p *jsonParser) int() (int64, bool) {
	p.ws()
	neg := false
	if p.i < len(p.d) && p.d[p.i] == '-' {
		neg = true
		p.i++
	}
	start := p.i
	var v int64
	for p.i < len(p.d) && p.d[p.i] >= '0' && p.d[p.i] <= '9' {
		if v > (1<<62)/5 { // v*10 could overflow: leave it to encoding/json
			return 0, false
		}
		v = v*10 + int64(p.d[p.i]-'0')
		p.i++
	}
	n := p.i - start
	if n == 0 || (n > 1 && p.d[start] == '0') {
		return 0, false
	}
	if p.i < len(p.d) {
		switch p.d[p.i] {
		case '.', 'e', 'E':
			return 0, false
		}
	}
	if neg {
		v = -v
	}
	return v, true
}

// object calls field for each key of an object; field returns false to
// abandon the fast path.
func (p *jsonParser) object(field func(key string) bool) bool {
	if !p.eat('{') {
		return false
	}
	if p.eat('}') {
		return true
	}
	// encoding/json merges a repeated key into the value already decoded;
	// rather than mimic that, leave such input to it.
	var seenBuf [8]string
	seen := seenBuf[:0]
	for {
		k, ok := p.str()
		if !ok {
			return false
		}
		for _, s := range seen {
			if s == k {
				return false
			}
		}
		seen = append(seen, k)
		if !p.eat(':') || !field(k) {
			return false
		}
		if p.eat(',') {
			continue
		}
		return p.eat('}')
	}
}

// array calls elem for each element; null counts as an empty array.
func (p *jsonParser) array(elem func() bool) (isNull, ok bool) {
	if p.null() {
		return true, true
	}
	if !p.eat('[') {
		return false, false
	}
	if p.eat(']') {
		return false, true
	}
	for {
		if !elem() {
			return false, false
		}
		if p.eat(',') {
			continue
		}
		return false, p.eat(']')
	}
}

// utcTime reads "YYYY-MM-DDTHH:MM:SS[.frac]Z", the form both writers
// produce; other spellings go to encoding/json.
func (p *jsonParser) utcTime() (time.Time, bool) {
	s, ok := p.str()
	if !ok || !plainUTC(s) {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, false
	}
	return t, true
}

func (p *jsonParser) addr() (*FileAddr, bool) {
	if p.null() {
		return nil, true
	}
	a := &FileAddr{}
	ok := p.object(func(k string) bool {
		var ok bool
		switch k {
		case "id":
			a.ID, ok = p.str()
		case "ip":
			a.IP, ok = p.str()
		case "port":
			a.Port, ok = p.int()
		}
		return ok
	})
	return a, ok
}

func (p *jsonParser) entry(e *FileEntry) bool {
	return p.object(func(k string) bool {
		var ok bool
		switch k {
		case "addr":
			e.Addr, ok = p.addr()
		case "src":
			e.Src, ok = p.addr()
		case "buckets":
			ok = list(p, &e.Buckets, func(v *int64) bool {
				var ok bool
				*v, ok = p.int()
				return ok
			})
		case "attempts":
			e.Attempts, ok = p.int()
		case "bucket_type":
			e.BucketType, ok = p.int()
		case "last_attempt":
			e.LastAttempt, ok = p.utcTime()
		case "last_success":
			e.LastSuccess, ok = p.utcTime()
		case "last_ban_time":
			e.LastBanTime, ok = p.utcTime()
		case "alternatives":
			ok = list(p, &e.Alternatives, func(a **FileAddr) bool {
				var ok bool
				*a, ok = p.addr()
				return ok
			})
		case "verified":
			e.Verified, ok = p.boolean()
		}
		return ok
	})
}

func (p *jsonParser) ban(b *banJSON) bool {
	return p.object(func(k string) bool {
		var ok bool
		switch k {
		case "id":
			b.ID, ok = p.str()
		case "until":
			b.Until, ok = p.utcTime()
		case "addr":
			b.Addr, ok = p.addr()
		case "entry":
			if p.null() {
				b.Entry, ok = nil, true
			} else {
				b.Entry = &FileEntry{}
				ok = p.entry(b.Entry)
			}
		}
		return ok
	})
}

func (p *jsonParser) file(f *fileJSON) bool {
	return p.object(func(k string) bool {
		var ok bool
		switch k {
		case "key":
			f.Key, ok = p.str()
		case "hash_key":
			f.HashKey, ok = p.str()
		case "pexp2p_version":
			f.Version, ok = p.int()
		case "addrs":
			f.Addrs = make([]FileEntry, 0, p.addrsHint)
			ok = list(p, &f.Addrs, p.entry)
		case "bans":
			ok = list(p, &f.Bans, p.ban)
		}
		return ok
	})
}

// list reads a JSON array into *dst, element by element with read, over
// *dst's storage. Like encoding/json, null leaves a nil slice and []
// an empty, non-nil one.
func list[T any](p *jsonParser, dst *[]T, read func(*T) bool) bool {
	s := (*dst)[:0]
	isNull, ok := p.array(func() bool {
		var zero T
		s = append(s, zero)
		return read(&s[len(s)-1])
	})
	switch {
	case isNull:
		s = nil
	case s == nil:
		s = []T{}
	}
	*dst = s
	return ok
}

// plainUTC reports whether s is exactly DDDD-DD-DDTDD:DD:DD[.D{1,9}]Z.
func plainUTC(s string) bool {
	const layout = "dddd-dd-ddTdd:dd:dd"
	if len(s) < len(layout)+1 || s[len(s)-1] != 'Z' {
		return false
	}
	for i := 0; i < len(layout); i++ {
		if layout[i] == 'd' {
			if s[i] < '0' || s[i] > '9' {
				return false
			}
		} else if s[i] != layout[i] {
			return false
		}
	}
	frac := s[len(layout) : len(s)-1]
	if frac == "" {
		return true
	}
	if frac[0] != '.' || len(frac) < 2 || len(frac) > 10 {
		return false
	}
	for i := 1; i < len(frac); i++ {
		if frac[i] < '0' || frac[i] > '9' {
			return false
		}
	}
	return true
}
