package addrbook

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const testASMap = `# two /16s of one provider, a more specific customer inside one
150.0.0.0/16   AS64512
150.1.0.0/16   64512
150.1.7.0/24   AS64999
2600:1::/32    AS64600
`

func mustASMap(t *testing.T, text string) *ASMap {
	t.Helper()
	m, err := ParseASMap(strings.NewReader(text), "test")
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestASMapLookupTakesTheLongestPrefix(t *testing.T) {
	m := mustASMap(t, testASMap)
	for ip, want := range map[string]uint32{
		"150.0.3.4": 64512, "150.1.2.3": 64512, "150.1.7.9": 64999, "2600:1:2::5": 64600,
		"::ffff:150.0.0.1": 64512, "151.0.0.1": 0, "2600:2::1": 0,
	} {
		got, ok := m.Lookup(netip.MustParseAddr(ip))
		if got != want || ok != (want != 0) {
			t.Errorf("Lookup(%s) = %d, %v; want %d", ip, got, ok, want)
		}
	}
	if m.Len() != 4 {
		t.Errorf("Len %d, want 4", m.Len())
	}
}

func TestBadASMapIsATypedErrorNamingTheLine(t *testing.T) {
	for name, tc := range map[string]struct{ text, mention string }{
		"one field":     {"150.0.0.0/16\n", "line 1"},
		"bad prefix":    {"# ok\n150.0.0/16 AS1\n", `"150.0.0/16"`},
		"host bits":     {"150.0.0.1/16 AS1\n", "150.0.0.0/16"},
		"bad AS":        {"150.0.0.0/16 ASx\n", `"ASx"`},
		"AS zero":       {"150.0.0.0/16 0\n", `"0"`},
		"AS too big":    {"150.0.0.0/16 4294967296\n", "4294967296"},
		"conflict":      {"150.0.0.0/16 1\n150.0.0.0/16 2\n", "mapped twice"},
		"mapped prefix": {"::ffff:150.0.0.0/112 1\n", "IPv4-mapped"},
		"long line":     {strings.Repeat("x", 5000) + "\n", "unreadable"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := ParseASMap(strings.NewReader(tc.text), "map.txt")
			var ae *ASMapError
			if !errors.As(err, &ae) || !errors.Is(err, ErrASMap) {
				t.Fatalf("err %v, want *ASMapError", err)
			}
			if !strings.Contains(err.Error(), tc.mention) || !strings.Contains(err.Error(), "map.txt") {
				t.Fatalf("error %q does not mention %q and the file", err, tc.mention)
			}
		})
	}
}

func TestLoadASMapReadsAFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "asmap.txt")
	if err := os.WriteFile(path, []byte(testASMap), 0o600); err != nil {
		t.Fatal(err)
	}
	if m, err := LoadASMap(path); err != nil || m.Len() != 4 {
		t.Fatalf("%v, %v", m, err)
	}
	if _, err := LoadASMap(path + ".missing"); !errors.Is(err, ErrFileIO) {
		t.Fatalf("missing file: %v, want ErrFileIO", err)
	}
}

func TestASMapGroupsAProvidersPrefixesTogether(t *testing.T) {
	b, _ := newTestBook(t, Options{Strict: true, ASMap: mustASMap(t, testASMap)})
	a, c := addrAt(1, 150, 0, 1, 1), addrAt(2, 150, 1, 1, 1)
	if b.Group(a) != "AS64512" || b.Group(c) != "AS64512" {
		t.Fatalf("groups %q %q, want both AS64512", b.Group(a), b.Group(c))
	}
	if g := b.Group(addrAt(3, 151, 0, 1, 1)); g != "151.0.0.0" {
		t.Fatalf("unmapped address in group %q, want its /16", g)
	}
	if g := b.Group(addrAt(4, 10, 0, 0, 1)); g != "unroutable" {
		t.Fatalf("private address in group %q, want unroutable", g)
	}
	// One AS reaches at most 32 new buckets from one source group, where
	// its two /16s reached up to 32 each.
	plain, _ := newTestBook(t, Options{Strict: true})
	if plain.Group(a) == plain.Group(c) {
		t.Fatal("without a map the two /16s should be two groups")
	}
}

func TestWithoutASMapPlacementIsUpstreams(t *testing.T) {
	withNil, _ := newTestBook(t, Options{Strict: true, Seed: 9, ASMap: nil})
	plain, _ := newTestBook(t, Options{Strict: true, Seed: 9})
	for i := 0; i < 200; i++ {
		a := routableAddr(i)
		mustAdd(t, withNil, a, routableAddr(500+i%7))
		mustAdd(t, plain, a, routableAddr(500+i%7))
	}
	if string(withNil.Marshal()) != string(plain.Marshal()) {
		t.Fatal("a nil ASMap changed the book")
	}
}
