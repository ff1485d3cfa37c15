package addrbook

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strconv"
	"strings"
)

// Network groups from an AS map (Bitcoin Core's -asmap): a /16 says
// little about who operates an address — one hosting company announces
// many /16s, and a botnet's /16s belong to many networks. With a map of
// announced prefixes to AS numbers, an address's group is its AS, so an
// attacker renting /16s from one provider counts as one group for
// bucketing and for outbound diversity. Addresses the map does not cover
// keep their /16 (or /32, …) group. Off by default (Options.ASMap nil):
// upstream groups by /16.
//
// The file is text, one mapping per line: an IPv4 or IPv6 prefix and an
// AS number, optionally written "AS64512"; "#" starts a comment. The
// longest matching prefix wins.
//
//	# provider A
//	150.0.0.0/16  AS64512
//	2001:db8:1::/48 64513

// ErrASMap is wrapped by every *ASMapError.
var ErrASMap = errors.New("bad AS map")

// ASMapError names the file, line and text that could not be read.
type ASMapError struct {
	File   string
	Line   int
	Text   string
	Reason string
}

func (e *ASMapError) Error() string {
	if e.Line == 0 {
		return fmt.Sprintf("AS map %s: %s", e.File, e.Reason)
	}
	return fmt.Sprintf("AS map %s line %d %q: %s", e.File, e.Line, e.Text, e.Reason)
}

// Is makes errors.Is(err, ErrASMap) true.
func (e *ASMapError) Is(target error) bool { return target == ErrASMap }

// maxASMapEntries bounds a map's size: today's global routing table has
// about a million prefixes; four million leaves room and keeps a hostile
// file from exhausting memory.
const maxASMapEntries = 4 << 20

// ASMap maps IP prefixes to AS numbers.
type ASMap struct {
	// byLen[l] holds the prefixes of length l (IPv4 lengths offset by
	// 128 + 1 so the two families never share a table).
	byLen map[int]map[netip.Prefix]uint32
	lens  []int // lengths present, longest first
	n     int
}

// LoadASMap reads an AS map file.
func LoadASMap(path string) (*ASMap, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: open AS map: %w", ErrFileIO, err)
	}
	defer f.Close()
	return ParseASMap(f, path)
}

// ParseASMap reads an AS map from r; name is used in errors.
func ParseASMap(r io.Reader, name string) (*ASMap, error) {
	m := &ASMap{byLen: map[int]map[netip.Prefix]uint32{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), 4096)
	line := 0
	for sc.Scan() {
		line++
		text := sc.Text()
		s := text
		if i := strings.IndexByte(s, '#'); i >= 0 {
			s = s[:i]
		}
		fields := strings.Fields(s)
		if len(fields) == 0 {
			continue
		}
		bad := func(reason string) error {
			return &ASMapError{File: name, Line: line, Text: text, Reason: reason}
		}
		if len(fields) != 2 {
			return nil, bad("want \"<prefix> <AS number>\"")
		}
		p, err := netip.ParsePrefix(fields[0])
		if err != nil {
			return nil, bad(fmt.Sprintf("prefix %q: %v", fields[0], err))
		}
		if p.Addr().Zone() != "" || p.Addr().Is4In6() {
			return nil, bad(fmt.Sprintf("prefix %q: zones and IPv4-mapped prefixes are not allowed", fields[0]))
		}
		if p != p.Masked() {
			return nil, bad(fmt.Sprintf("prefix %q has bits set beyond /%d (did you mean %s?)", fields[0], p.Bits(), p.Masked()))
		}
		asText := strings.TrimPrefix(strings.TrimPrefix(fields[1], "AS"), "as")
		asn, err := strconv.ParseUint(asText, 10, 32)
		if err != nil || asn == 0 {
			return nil, bad(fmt.Sprintf("AS number %q is not in 1..4294967295", fields[1]))
		}
		if m.n >= maxASMapEntries {
			return nil, bad(fmt.Sprintf("more than %d prefixes", maxASMapEntries))
		}
		l := p.Bits()
		if p.Addr().Is4() {
			l += 129
		}
		t := m.byLen[l]
		if t == nil {
			t = map[netip.Prefix]uint32{}
			m.byLen[l] = t
		}
		if prev, dup := t[p]; dup && prev != uint32(asn) {
			return nil, bad(fmt.Sprintf("prefix %s mapped twice (AS%d and AS%d)", p, prev, asn))
		}
		if _, dup := t[p]; !dup {
			m.n++
		}
		t[p] = uint32(asn)
	}
	if err := sc.Err(); err != nil {
		return nil, &ASMapError{File: name, Line: line + 1, Reason: fmt.Sprintf("unreadable: %v", err)}
	}
	for l := range m.byLen {
		m.lens = append(m.lens, l)
	}
	// Longest first within each family; the families never mix in one
	// lookup, so one descending order serves both.
	for i := 1; i < len(m.lens); i++ {
		for j := i; j > 0 && m.lens[j] > m.lens[j-1]; j-- {
			m.lens[j], m.lens[j-1] = m.lens[j-1], m.lens[j]
		}
	}
	return m, nil
}

// Len is the number of prefixes.
func (m *ASMap) Len() int { return m.n }

// Lookup returns the AS of the longest prefix holding ip.
func (m *ASMap) Lookup(ip netip.Addr) (uint32, bool) {
	if m == nil {
		return 0, false
	}
	ip = ip.Unmap().WithZone("")
	for _, l := range m.lens {
		bits := l
		if ip.Is4() {
			if l < 129 {
				continue
			}
			bits = l - 129
		} else if l >= 129 {
			continue
		}
		p, err := ip.Prefix(bits)
		if err != nil {
			continue
		}
		if asn, ok := m.byLen[l][p]; ok {
			return asn, true
		}
	}
	return 0, false
}
