package addrbook

import (
	"encoding/json"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"
)

// Native fuzz targets, modelled on Bitcoin Core's addrman fuzzers.
// The seed corpora in testdata/fuzz run as ordinary tests in `go test`.

var updateCorpus = flag.Bool("update-corpus", false, "rewrite the seed corpora in testdata/fuzz")

// FuzzLoad feeds arbitrary bytes to the file loader: no panic, no hang, a
// consistent book, and what it saves loads back identically.
func FuzzLoad(f *testing.F) {
	for _, s := range loadSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := checkLoad(t, data); err != nil {
			t.Fatal(err)
		}
	})
}

// checkLoad is FuzzLoad's property, shared with the mutation test below.
func checkLoad(t testing.TB, data []byte) error {
	var fast, slow fileJSON
	if fastDecode(data, &fast) {
		if err := json.Unmarshal(data, &slow); err != nil {
			return fmt.Errorf("fast decoder accepted what encoding/json refuses: %v", err)
		}
		if !reflect.DeepEqual(fast, slow) {
			return fmt.Errorf("fast decoder disagrees with encoding/json:\n%+v\n%+v", fast, slow)
		}
	}
	for _, strict := range []bool{false, true} {
		b, _ := newTestBook(t, Options{Strict: strict})
		st, err := b.LoadBytes(data)
		if ierr := b.checkInvariants(); ierr != nil {
			return ierr
		}
		if err != nil {
			if b.Size() != 0 {
				return fmt.Errorf("refused file left %d entries", b.Size())
			}
			continue
		}
		if st.Loaded != b.Size() {
			return fmt.Errorf("stats say %d loaded, size %d", st.Loaded, b.Size())
		}
		saved := b.Marshal()
		b2, _ := newTestBook(t, Options{Strict: strict, Seed: 99})
		st2, err := b2.LoadBytes(saved)
		if ierr := b2.checkInvariants(); ierr != nil {
			return ierr
		}
		if err != nil || b2.Size() != b.Size() || len(st2.Dropped) != 0 {
			return fmt.Errorf("own output did not reload: %v, size %d vs %d, dropped %v", err, b2.Size(), b.Size(), st2.Dropped)
		}
		if string(b2.Marshal()) != string(saved) {
			return fmt.Errorf("reloaded book saves differently")
		}
	}
	return nil
}

func loadSeeds(f *testing.F) [][]byte {
	b, _ := newTestBook(f, Options{})
	fill(&testing.T{}, b, 40, 10)
	b.MarkBad(routableAddr(3), time.Hour)
	b.MarkBad(routableAddr(900), time.Hour)
	good := b.Marshal()
	// Signed records and alternatives, in entries and in a ban.
	_ = b.AddVerified(testID(50), []NetAddress{routableAddr(50), v6Of(50), portOf(50, 7)}, routableAddr(100000))
	_ = b.AddVerified(testID(51), []NetAddress{routableAddr(51)}, routableAddr(100000))
	_ = b.AddAlternatives(testID(5), []NetAddress{v6Of(5)})
	b.MarkBad(routableAddr(51), time.Hour)
	withAlts := b.Marshal()
	seeds := [][]byte{
		good,
		[]byte(""),
		[]byte("{}"),
		[]byte("null"),
		[]byte(`{"key":"0123456789abcdef01234567","addrs":[]}`),
		[]byte(`{"addrs":[{"addr":{"id":"` + testID(1) + `","ip":"8.8.8.8","port":1},"src":{"id":"` + testID(2) + `","ip":"9.9.9.9","port":1},"buckets":[999],"attempts":0,"bucket_type":1}]}`),
		[]byte(`{"addrs":[{"addr":{"id":"` + testID(1) + `","ip":"8.8.8.8","port":1},"src":{"id":"` + testID(2) + `","ip":"9.9.9.9","port":1},"buckets":[],"attempts":-1,"bucket_type":9}]}`),
		good[:len(good)/3],
		withAlts,
		[]byte(`{"addrs":[{"addr":{"id":"` + testID(1) + `","ip":"8.8.8.8","port":1},"src":{"id":"` + testID(2) + `","ip":"9.9.9.9","port":1},"buckets":[9],"attempts":0,"bucket_type":1,` +
			`"alternatives":[null,{"id":"` + testID(1) + `","ip":"8.8.8.8","port":1},{"id":"` + testID(3) + `","ip":"2a01::1","port":1}],"verified":true}]}`),
	}
	return seeds
}

// op codes for FuzzOperations.
const (
	opAdd = iota
	opGood
	opAttempt
	opBad
	opReinstate
	opRemove
	opPick
	opSelection
	opSelectionBias
	opSaveLoad
	opAdvance
	opPrivate
	opOurs
	opVerified
	opAlternatives
	opCount
)

// fuzzAddr maps two bytes to an address from a pool small enough to make
// IDs repeat, groups collide and buckets fill: 512 IDs over 6 /16s plus
// an IPv6 group and a private range.
func fuzzAddr(x, y byte) NetAddress {
	n := int(x)<<1 | int(y&1)
	var ip netip.Addr
	switch y >> 5 {
	case 0, 1, 2:
		ip = netip.AddrFrom4([4]byte{77, y>>5 + 1, byte(n >> 8), byte(n)})
	case 3:
		ip = netip.AddrFrom4([4]byte{byte(11 + y&0x1f), 9, 1, byte(n)})
	case 4:
		ip = netip.AddrFrom4([4]byte{10, 0, byte(n >> 8), byte(n)})
	case 5:
		ip = netip.AddrFrom16([16]byte{0x26, 0x02, 0x01, 0x00, 14: byte(n >> 8), 15: byte(n)})
	default:
		ip = netip.AddrFrom4([4]byte{byte(1 + y&0x3f), x, 1, 1})
	}
	return NetAddress{ID: testID(n), IP: ip, Port: 26656}
}

// FuzzOperations runs a random sequence of book operations and checks the
// invariants after every step.
func FuzzOperations(f *testing.F) {
	for _, s := range operationSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		runOperations(t, data)
	})
}

// maxFuzzOps bounds one input's work so each execution stays fast.
const maxFuzzOps = 1000

func runOperations(t *testing.T, data []byte) {
	if len(data) > 4*maxFuzzOps {
		data = data[:4*maxFuzzOps]
	}
	strict := len(data) > 0 && data[0]&0x80 != 0
	// Bit 0x20 of the first byte turns PreferVerified on.
	prefer := len(data) > 0 && data[0]&0x20 != 0
	// Bit 0x40 of the first byte turns test-before-evict on, with a
	// tester that holds every test until an opAttempt with z&1 answers
	// the oldest (alive when z&2).
	tbe := len(data) > 0 && data[0]&0x40 != 0
	b, clk := newTestBook(t, Options{Strict: strict, TestBeforeEvict: tbe, PreferVerified: prefer})
	tester := &recordingTester{hold: true}
	if tbe {
		b.SetEvictionTester(tester)
	}
	for len(data) >= 4 {
		op, x, y, z := data[0]%opCount, data[1], data[2], data[3]
		data = data[4:]
		a := fuzzAddr(x, y)
		switch op {
		case opAdd:
			_ = b.AddAddress(a, fuzzAddr(z, y^z))
		case opGood:
			b.MarkGood(a.ID)
		case opAttempt:
			b.MarkAttempt(a.ID)
			if tbe && z&1 != 0 && len(tester.held) > 0 {
				done := tester.held[0]
				tester.held = tester.held[1:]
				done(z&2 != 0)
			}
		case opBad:
			b.MarkBad(a, time.Duration(int(z)-32)*time.Minute)
		case opReinstate:
			b.ReinstateBadPeers()
		case opRemove:
			b.RemoveAddress(a.ID)
		case opPick:
			if got, ok := b.PickAddress(int(z) - 20); ok && !b.HasAddress(got.ID) {
				t.Fatalf("picked %s, not in the book", got)
			}
		case opSelection, opSelectionBias:
			sel := b.GetSelection()
			if op == opSelectionBias {
				sel = b.GetSelectionWithBias(int(z) - 20)
			}
			size := b.Size()
			if want := selectionSize(size); len(sel) != want {
				t.Fatalf("selection of %d from %d, want %d", len(sel), size, want)
			}
			seen := map[string]bool{}
			for _, s := range sel {
				if seen[s.ID] || !b.HasAddress(s.ID) {
					t.Fatalf("selection holds %s twice or not in the book", s)
				}
				seen[s.ID] = true
			}
		case opSaveLoad:
			saved := b.Marshal()
			nb, err := New(Options{Strict: strict, Now: clk.Now, Seed: uint64(z) + 1, TestBeforeEvict: tbe, PreferVerified: prefer})
			if err != nil {
				t.Fatal(err)
			}
			// Private and own IDs are configuration, not file content.
			b.mu.Lock()
			for id := range b.private {
				nb.private[id] = struct{}{}
			}
			for s := range b.ours {
				nb.ours[s] = struct{}{}
			}
			for id := range b.ourIDs {
				nb.ourIDs[id] = struct{}{}
			}
			b.mu.Unlock()
			st, err := nb.LoadBytes(saved)
			if err != nil || len(st.Dropped) != 0 || nb.Size() != b.Size() || st.Recomputed {
				t.Fatalf("save/load: %v, %+v, size %d -> %d", err, st, b.Size(), nb.Size())
			}
			if string(nb.Marshal()) != string(saved) {
				t.Fatal("save/load changed the book")
			}
			b = nb
			if tbe {
				// Pending tests are not part of the file.
				tester = &recordingTester{hold: true}
				b.SetEvictionTester(tester)
			}
		case opAdvance:
			clk.Advance(time.Duration(z) * time.Duration(y) * time.Second * 37)
		case opPrivate:
			if z < 8 {
				b.AddPrivateIDs([]string{a.ID})
			}
		case opOurs:
			if z < 8 {
				b.AddOurAddress(a)
			}
		case opVerified, opAlternatives:
			// a with z's low bits as extra ports, and a twin in
			// another group; z's top bit claims it for another ID.
			addrs := []NetAddress{a, fuzzAddr(x, y^0x80)}
			addrs[1].ID = a.ID
			for p := 0; p < int(z&0x0f); p++ {
				alt := a
				alt.Port = uint16(1000 + p)
				addrs = append(addrs, alt)
			}
			id := a.ID
			if z&0x80 != 0 {
				id = fuzzAddr(z, y).ID
			}
			// An old entry keeps a primary the record does not list,
			// unverified; every other accepted record verifies.
			before, known := b.Lookup(id)
			keeps := known && b.IsGood(id) && !slices.Contains(addrs, before)
			var err error
			if op == opVerified {
				err = b.AddVerified(id, addrs, fuzzAddr(z, y^z))
			} else {
				err = b.AddAlternatives(id, addrs)
			}
			if err == nil && (id != a.ID || !b.HasAddress(id)) {
				t.Fatalf("addresses of %s accepted for %s", a.ID, id)
			}
			if err == nil && op == opVerified && b.IsVerified(id) == keeps {
				t.Fatalf("%s verified %v after AddVerified (old entry keeping its primary: %v)", id, b.IsVerified(id), keeps)
			}
			if after, _ := b.Lookup(id); err == nil && keeps && after != before {
				t.Fatalf("a record moved old entry %s from %s to %s", id, before, after)
			}
			if n := len(b.Addresses(a.ID)); n > 1+MaxAlternatives {
				t.Fatalf("%s keeps %d addresses", a.ID, n)
			}
		}
		if err := b.checkInvariants(); err != nil {
			t.Fatalf("after op %d (%s): %v", op, a, err)
		}
	}
}

func operationSeeds() [][]byte {
	var seeds [][]byte
	// Fill one group from one source, promote everything, ban and reinstate.
	var s []byte
	for i := 0; i < 200; i++ {
		s = append(s, opAdd, byte(i), 0x02, 7)
	}
	for i := 0; i < 200; i++ {
		s = append(s, opGood, byte(i), 0x02, 0)
	}
	for i := 0; i < 50; i++ {
		s = append(s, opBad, byte(i), 0x02, 40, opSelectionBias, 0, 0, 50)
	}
	s = append(s, opAdvance, 0, 255, 255, opReinstate, 0, 0, 0, opSaveLoad, 0, 0, 3, opPick, 0, 0, 50)
	seeds = append(seeds, s)
	// Many sources for one ID, expiry, attempts and saves.
	s = nil
	for i := 0; i < 120; i++ {
		s = append(s, opAdd, 5, 0x02, byte(i), opAttempt, byte(i), 0x40, 0, opAdd, byte(i), 0x21, byte(i*7))
	}
	s = append(s, opAdvance, 0, 200, 200, opSaveLoad, 0, 0, 9, opSelection, 0, 0, 0, opRemove, 5, 0x02, 0)
	seeds = append(seeds, s)
	// Strict mode, private IDs, our addresses.
	s = []byte{0x80 | opAdd, 1, 0x80, 1}
	for i := 0; i < 60; i++ {
		s = append(s, opAdd, byte(i), byte(0x60+i), byte(i), opPrivate, byte(i*3), byte(0x60+i*3), 1, opOurs, byte(i*5), 0x61, 2, opGood, byte(i), byte(0x60+i), 0)
	}
	seeds = append(seeds, s)
	// Test-before-evict: one group promoted past its 4 old buckets, tests
	// answered dead and alive in turn.
	s = []byte{0x40 | opAdd, 0, 0, 0}
	for i := 0; i < 300; i++ {
		s = append(s, opAdd, byte(i), byte(0x40|i&1), byte(i), opGood, byte(i), byte(0x40|i&1), 0)
		if i%7 == 0 {
			s = append(s, opAttempt, byte(i), 0x40, byte(1|i&2))
		}
	}
	seeds = append(seeds, s)
	// Signed records and identify's addresses mixed with gossip,
	// promotions, bans and saves, picks preferring verified ones.
	s = []byte{0x20 | opAdd, 0, 0, 0}
	for i := 0; i < 150; i++ {
		s = append(s, opVerified, byte(i), byte(i*3), byte(i), opAdd, byte(i+1), byte(i*3), byte(i*5),
			opAlternatives, byte(i/2), byte(i/2*3), byte(i*7))
		if i%5 == 0 {
			s = append(s, opGood, byte(i), byte(i*3), 0, opPick, 0, 0, byte(i), opSelectionBias, 0, 0, 50, opSelection, 0, 0, 0)
		}
		if i%17 == 0 {
			s = append(s, opBad, byte(i), byte(i*3), 40, opSaveLoad, 0, 0, byte(i))
		}
	}
	// Old entries get records that do not list their primary (same ID,
	// another IP) and then ones that do.
	for i := 200; i < 230; i++ {
		s = append(s, opAdd, byte(i), 0x02, 7, opGood, byte(i), 0x02, 0, opVerified, byte(i), 0x22, 3, opVerified, byte(i), 0x02, 1)
	}
	s = append(s, opAdvance, 0, 255, 255, opReinstate, 0, 0, 0, opSaveLoad, 0, 0, 3)
	seeds = append(seeds, s)
	return seeds
}

// TestOperationSeedsWritten keeps testdata/fuzz in step with the seeds in
// this file; run with -update-corpus after changing them.
func TestOperationSeedsWritten(t *testing.T) {
	write := func(target string, seeds [][]byte) {
		dir := filepath.Join("testdata", "fuzz", target)
		for i, s := range seeds {
			path := filepath.Join(dir, fmt.Sprintf("seed-%02d", i))
			content := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", s)
			if *updateCorpus {
				if err := os.MkdirAll(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
				continue
			}
			if got, err := os.ReadFile(path); err != nil || string(got) != content {
				t.Errorf("%s is missing or stale; run go test -run TestOperationSeedsWritten ./addrbook -update-corpus", path)
			}
		}
	}
	write("FuzzOperations", operationSeeds())
	write("FuzzLoad", loadSeeds(&testing.F{}))
}
