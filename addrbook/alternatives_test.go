package addrbook

import (
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// v6Of is n's IPv6 twin: same ID, an address in 2a00::/12 of its own.
func v6Of(n int) NetAddress {
	return NetAddress{ID: testID(n), IP: netip.AddrFrom16([16]byte{0x2a, 0x01, byte(n >> 8), byte(n), 15: 1}), Port: 26656}
}

// portOf is n's address on another port.
func portOf(n int, port uint16) NetAddress {
	a := routableAddr(n)
	a.Port = port
	return a
}

func mustVerified(t *testing.T, b *Book, addrs []NetAddress, src NetAddress) {
	t.Helper()
	if err := b.AddVerified(addrs[0].ID, addrs, src); err != nil {
		t.Fatalf("AddVerified(%v): %v", addrs, err)
	}
	mustInvariants(t, b)
}

func wantAddresses(t *testing.T, b *Book, id string, want ...NetAddress) {
	t.Helper()
	if got := b.Addresses(id); !slices.Equal(got, want) {
		t.Fatalf("Addresses(%s) = %v, want %v", id, got, want)
	}
}

func TestAddVerifiedStoresPrimaryAlternativesAndFlag(t *testing.T) {
	b, _ := newTestBook(t, Options{})
	a, a6 := routableAddr(1), v6Of(1)
	mustVerified(t, b, []NetAddress{a, a6, a, portOf(1, 7000)}, routableAddr(50))
	wantAddresses(t, b, a.ID, a, a6, portOf(1, 7000))
	if !b.IsVerified(a.ID) || b.Size() != 1 || b.IsGood(a.ID) {
		t.Fatalf("verified %v, size %d, good %v; want a verified new entry", b.IsVerified(a.ID), b.Size(), b.IsGood(a.ID))
	}
	e := b.Entries()[0]
	if e.Addr != a || !e.Verified || !slices.Equal(e.Alternatives, []NetAddress{a6, portOf(1, 7000)}) || e.Src != routableAddr(50) {
		t.Fatalf("entry %+v", e)
	}
	if b.Addresses(testID(99)) != nil || b.IsVerified(testID(99)) {
		t.Fatal("an unknown ID has addresses or is verified")
	}
}

func TestAddVerifiedRefusesAnAddressOfAnotherID(t *testing.T) {
	b, _ := newTestBook(t, Options{})
	mustAdd(t, b, routableAddr(1), routableAddr(50))
	bad := routableAddr(2)
	err := b.AddVerified(testID(1), []NetAddress{v6Of(1), bad}, routableAddr(50))
	var ae *AddError
	if !errors.Is(err, ErrIDMismatch) || !errors.As(err, &ae) || ae.Addr != bad || !strings.Contains(err.Error(), bad.String()) {
		t.Fatalf("err = %v, want an ErrIDMismatch *AddError naming %s", err, bad)
	}
	wantAddresses(t, b, testID(1), routableAddr(1))
	if b.IsVerified(testID(1)) || b.HasAddress(bad.ID) {
		t.Fatal("a refused record changed the book")
	}
	if err := b.AddAlternatives(testID(1), []NetAddress{bad}); !errors.Is(err, ErrIDMismatch) {
		t.Fatalf("AddAlternatives with another ID's address: %v", err)
	}
}

func TestAddVerifiedRefusesNoAddressesAndABadID(t *testing.T) {
	b, _ := newTestBook(t, Options{})
	if err := b.AddVerified(testID(1), nil, routableAddr(50)); !errors.Is(err, ErrNoAddresses) {
		t.Fatalf("no addresses: %v", err)
	}
	err := b.AddVerified("not-an-id", []NetAddress{routableAddr(1)}, routableAddr(50))
	var ae *AddressError
	if !errors.Is(err, ErrInvalidAddress) || !errors.As(err, &ae) || ae.Input != "not-an-id" {
		t.Fatalf("bad ID: %v", err)
	}
	if b.Size() != 0 {
		t.Fatal("refused records stored something")
	}
}

func TestAddVerifiedKeepsAListedPrimaryAndItsClass(t *testing.T) {
	b, _ := newTestBook(t, Options{})
	a := routableAddr(1)
	mustAdd(t, b, a, routableAddr(50))
	b.MarkGood(a.ID)
	mustVerified(t, b, []NetAddress{v6Of(1), a}, routableAddr(60))
	wantAddresses(t, b, a.ID, a, v6Of(1))
	if !b.IsGood(a.ID) || !b.IsVerified(a.ID) {
		t.Fatal("a record listing the primary demoted the entry or left it unverified")
	}
	// A later record is the peer's whole word: an alternative it no
	// longer lists goes.
	mustVerified(t, b, []NetAddress{a, portOf(1, 9)}, routableAddr(60))
	wantAddresses(t, b, a.ID, a, portOf(1, 9))
}

func TestAddVerifiedReplacesAnUnlistedPrimaryOfANewEntry(t *testing.T) {
	b, _ := newTestBook(t, Options{})
	a := routableAddr(1)
	mustAdd(t, b, a, routableAddr(50))
	moved := addrAt(1, 77, 7, 7, 7)
	mustVerified(t, b, []NetAddress{moved, v6Of(1)}, routableAddr(60))
	wantAddresses(t, b, a.ID, moved, v6Of(1))
	if b.IsGood(a.ID) || !b.IsVerified(a.ID) || b.Size() != 1 {
		t.Fatal("a moved peer should be a new, verified entry at its signed address")
	}
	if e := b.Entries()[0]; e.Src != routableAddr(60) {
		t.Fatalf("replaced entry's source %s, want the record's relayer", e.Src)
	}
}

// An old entry's primary was proven by a connection: a record without it,
// new or replayed, adds the signed addresses as alternatives and takes
// the flag away, but never moves the entry.
func TestAddVerifiedKeepsAnOldEntrysUnlistedPrimary(t *testing.T) {
	b, _ := newTestBook(t, Options{})
	a := routableAddr(1)
	mustVerified(t, b, []NetAddress{a}, routableAddr(50))
	b.MarkGood(a.ID)
	stale := addrAt(1, 77, 7, 7, 7)
	mustVerified(t, b, []NetAddress{stale, v6Of(1)}, routableAddr(60))
	wantAddresses(t, b, a.ID, a, stale, v6Of(1))
	if !b.IsGood(a.ID) || b.IsVerified(a.ID) {
		t.Fatalf("good %v verified %v; want the old entry kept, no longer verified", b.IsGood(a.ID), b.IsVerified(a.ID))
	}
	// The peer's current record lists the primary again.
	mustVerified(t, b, []NetAddress{a, v6Of(1)}, a)
	wantAddresses(t, b, a.ID, a, v6Of(1))
	if !b.IsGood(a.ID) || !b.IsVerified(a.ID) {
		t.Fatal("the current record should verify the old entry again")
	}
}

func TestGossipDoesNotReplaceAVerifiedPrimary(t *testing.T) {
	b, _ := newTestBook(t, Options{})
	a := routableAddr(1)
	mustVerified(t, b, []NetAddress{a}, routableAddr(50))
	for s := 0; s < 20; s++ {
		mustAdd(t, b, addrAt(1, 66, 6, 6, byte(s+1)), routableAddr(200+s))
	}
	wantAddresses(t, b, a.ID, a)
	if !b.IsVerified(a.ID) {
		t.Fatal("gossip cleared the verified flag")
	}
}

func TestAddVerifiedAppliesAddAddressRules(t *testing.T) {
	b, _ := newTestBook(t, Options{Strict: true})
	src := routableAddr(50)
	b.MarkBad(routableAddr(1), time.Hour)
	if err := b.AddVerified(testID(1), []NetAddress{routableAddr(1)}, src); !errors.Is(err, ErrBanned) {
		t.Fatalf("banned ID: %v", err)
	}
	b.AddPrivateIDs([]string{testID(2)})
	if err := b.AddVerified(testID(2), []NetAddress{routableAddr(2)}, src); !errors.Is(err, ErrPrivate) {
		t.Fatalf("private ID: %v", err)
	}
	if err := b.AddVerified(testID(3), []NetAddress{routableAddr(3)}, NetAddress{}); !errors.Is(err, ErrNoSource) {
		t.Fatalf("no source: %v", err)
	}
	lan := addrAt(4, 10, 0, 0, 4)
	if err := b.AddVerified(testID(4), []NetAddress{lan}, src); !errors.Is(err, ErrNonRoutable) {
		t.Fatalf("only unroutable addresses in strict mode: %v", err)
	}
	// Unusable addresses are skipped.
	mustVerified(t, b, []NetAddress{lan, routableAddr(4), addrAt(4, 127, 0, 0, 1), v6Of(4)}, src)
	wantAddresses(t, b, testID(4), routableAddr(4), v6Of(4))
	// Our ID: the book stores no address carrying it.
	b.AddOurAddress(routableAddr(5))
	if err := b.AddVerified(testID(5), []NetAddress{v6Of(5)}, src); !errors.Is(err, ErrSelf) {
		t.Fatalf("our ID: %v", err)
	}
}

func TestAlternativesAreCappedAtMaxAlternatives(t *testing.T) {
	b, _ := newTestBook(t, Options{})
	var addrs []NetAddress
	for p := 0; p < MaxAlternatives+5; p++ {
		addrs = append(addrs, portOf(1, uint16(1000+p)))
	}
	mustVerified(t, b, addrs, routableAddr(50))
	wantAddresses(t, b, testID(1), addrs[:1+MaxAlternatives]...)
	mustAdd(t, b, routableAddr(2), routableAddr(50))
	if err := b.AddAlternatives(testID(2), addrs2(2, MaxAlternatives+3)); err != nil {
		t.Fatal(err)
	}
	mustInvariants(t, b)
	if got := len(b.Addresses(testID(2))); got != 1+MaxAlternatives {
		t.Fatalf("%d addresses kept, want %d", got, 1+MaxAlternatives)
	}
}

// addrs2 is n addresses of ID k on ports 2000, 2001, ….
func addrs2(k, n int) []NetAddress {
	out := make([]NetAddress, n)
	for p := range out {
		out[p] = portOf(k, uint16(2000+p))
	}
	return out
}

func TestAddAlternativesNeedsAKnownID(t *testing.T) {
	b, _ := newTestBook(t, Options{})
	err := b.AddAlternatives(testID(1), []NetAddress{routableAddr(1)})
	var ae *AddError
	if !errors.Is(err, ErrUnknownID) || !errors.As(err, &ae) || ae.Addr.ID != testID(1) || !strings.Contains(err.Error(), testID(1)) {
		t.Fatalf("err = %v, want ErrUnknownID naming the ID", err)
	}
	if b.Size() != 0 {
		t.Fatal("alternatives created an entry")
	}
}

func TestAddAlternativesAppendsUnverifiedAndKeepsTheFlag(t *testing.T) {
	b, _ := newTestBook(t, Options{Strict: true})
	a := routableAddr(1)
	mustAdd(t, b, a, routableAddr(50))
	lan := addrAt(1, 192, 168, 1, 1)
	if err := b.AddAlternatives(a.ID, []NetAddress{a, v6Of(1), lan, v6Of(1), portOf(1, 5)}); err != nil {
		t.Fatal(err)
	}
	mustInvariants(t, b)
	wantAddresses(t, b, a.ID, a, v6Of(1), portOf(1, 5))
	if b.IsVerified(a.ID) {
		t.Fatal("identify's addresses made the entry verified")
	}
	mustVerified(t, b, []NetAddress{a}, routableAddr(50))
	if err := b.AddAlternatives(a.ID, []NetAddress{portOf(1, 6)}); err != nil {
		t.Fatal(err)
	}
	wantAddresses(t, b, a.ID, a, portOf(1, 6))
	if !b.IsVerified(a.ID) {
		t.Fatal("AddAlternatives cleared the verified flag of the primary")
	}
}

func TestBanAndReinstateKeepAlternativesAndFlag(t *testing.T) {
	b, clk := newTestBook(t, Options{})
	mustVerified(t, b, []NetAddress{routableAddr(1), v6Of(1)}, routableAddr(50))
	b.MarkBad(routableAddr(1), time.Minute)
	mustInvariants(t, b)
	clk.Advance(2 * time.Minute)
	b.ReinstateBadPeers()
	mustInvariants(t, b)
	wantAddresses(t, b, testID(1), routableAddr(1), v6Of(1))
	if !b.IsVerified(testID(1)) {
		t.Fatal("reinstated entry lost its flag")
	}
}

// richBook has verified entries with alternatives, unverified entries
// with alternatives, plain entries, old ones and a banned verified one.
func richBook(t *testing.T, opts Options) *Book {
	t.Helper()
	b, _ := newTestBook(t, opts)
	fill(t, b, 40, 8)
	for i := 40; i < 60; i++ {
		mustVerified(t, b, []NetAddress{routableAddr(i), v6Of(i)}, routableAddr(100000+i%13))
	}
	for i := 60; i < 70; i++ {
		mustVerified(t, b, []NetAddress{routableAddr(i)}, routableAddr(100000))
	}
	for i := 0; i < 10; i++ {
		if err := b.AddAlternatives(testID(i), []NetAddress{v6Of(i), portOf(i, 9000)}); err != nil {
			t.Fatal(err)
		}
	}
	b.MarkGood(testID(45))
	b.MarkBad(routableAddr(41), time.Hour)
	mustInvariants(t, b)
	return b
}

func TestAlternativesAndFlagSurviveSaveAndLoad(t *testing.T) {
	b := richBook(t, Options{})
	saved := b.Marshal()
	nb, _ := newTestBook(t, Options{Seed: 7})
	st, err := nb.LoadBytes(saved)
	if err != nil || len(st.Dropped) != 0 || st.Loaded != b.Size() {
		t.Fatalf("load: %v, %+v", err, st)
	}
	mustInvariants(t, nb)
	if string(nb.Marshal()) != string(saved) {
		t.Fatal("reloaded book saves differently")
	}
	for i := 0; i < 70; i++ {
		id := testID(i)
		if !slices.Equal(nb.Addresses(id), b.Addresses(id)) || nb.IsVerified(id) != b.IsVerified(id) {
			t.Fatalf("%s: %v %v after load, %v %v before", id, nb.Addresses(id), nb.IsVerified(id), b.Addresses(id), b.IsVerified(id))
		}
	}
	nb.ReinstateBadPeers() // the ban has not expired: nothing to do
	var fj fileJSON
	if !fastDecode(saved, &fj) {
		t.Fatal("fast decoder declined a file with alternatives")
	}
	if err := checkLoad(t, saved); err != nil {
		t.Fatal(err)
	}
}

// With neither option used, every entry is written exactly as upstream's
// fields in upstream's order, nothing more.
func TestFileBytesWithoutTheOptionsAreUpstreamsEntries(t *testing.T) {
	b, clk := newTestBook(t, Options{})
	mustAdd(t, b, routableAddr(1), routableAddr(50))
	mustAdd(t, b, routableAddr(2), routableAddr(50))
	clk.Advance(time.Second)
	b.MarkGood(testID(2))
	es := b.Entries()
	var sb strings.Builder
	fmt.Fprintf(&sb, "{\n\t\"key\": %q,\n\t\"pexp2p_version\": 1,\n\t\"hash_key\": %q,\n\t\"addrs\": [", b.Key(), hexHashKey(b))
	for i, e := range es {
		if i > 0 {
			sb.WriteByte(',')
		}
		typ := 1
		if e.Old {
			typ = 2
		}
		fmt.Fprintf(&sb, "\n\t\t{\"addr\": {\"id\": %q, \"ip\": %q, \"port\": %d}, \"src\": {\"id\": %q, \"ip\": %q, \"port\": %d}, "+
			"\"buckets\": [%d], \"attempts\": 0, \"bucket_type\": %d, \"last_attempt\": %q, \"last_success\": %q, \"last_ban_time\": %q}",
			e.Addr.ID, e.Addr.IP, e.Addr.Port, e.Src.ID, e.Src.IP, e.Src.Port, e.Buckets[0], typ,
			e.LastAttempt.Format(time.RFC3339Nano), e.LastSuccess.Format(time.RFC3339Nano), time.Time{}.Format(time.RFC3339Nano))
	}
	sb.WriteString("\n\t],\n\t\"bans\": [\n\t]\n}\n")
	if got := string(b.Marshal()); got != sb.String() {
		t.Fatalf("file:\n%s\nwant:\n%s", got, sb.String())
	}
}

func hexHashKey(b *Book) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return fmt.Sprintf("%x", b.hashKey[:])
}

// Upstream's book loads a file with alternatives and verified flags and
// sees each entry at its primary address.
func TestFileWithAlternativesLoadsInUpstream(t *testing.T) {
	path := filepath.Join(t.TempDir(), "addrbook.json")
	b, _ := fileBook(t, path, Options{})
	src := routableAddr(500)
	for i := 0; i < 30; i++ {
		mustVerified(t, b, []NetAddress{routableAddr(i), v6Of(i), portOf(i, 7000)}, src)
	}
	b.MarkGood(testID(3))
	up := loadInUpstream(t, b, path)
	if up.Size() != 30 {
		t.Fatalf("upstream loaded %d of 30", up.Size())
	}
	for i := 0; i < 30; i++ {
		if !up.HasAddress(upAddr(routableAddr(i))) || up.IsGood(upAddr(routableAddr(i))) != (i == 3) {
			t.Fatalf("upstream does not hold %s as we do", routableAddr(i))
		}
	}
	for _, a := range up.GetSelection() {
		n := -1
		for i := 0; i < 30; i++ {
			if string(a.ID) == testID(i) {
				n = i
			}
		}
		if n < 0 || !a.IP.Equal(upAddr(routableAddr(n)).IP) || a.Port != routableAddr(n).Port {
			t.Fatalf("upstream shows %s, not a primary address", a)
		}
	}
}

func TestLoadDropsBadAlternativesOnly(t *testing.T) {
	b, _ := newTestBook(t, Options{Strict: true})
	id := testID(1)
	alt := func(id, ip string, port int) string {
		return fmt.Sprintf(`{"id":%q,"ip":%q,"port":%d}`, id, ip, port)
	}
	alts := []string{
		alt(id, "2a01::1", 1),        // kept
		"null",                       // no address
		alt(testID(2), "8.8.4.4", 1), // another ID
		alt(id, "10.1.1.1", 1),       // unroutable in strict mode
		alt(id, "8.8.8.8", 26656),    // the primary
		alt(id, "2a01::1", 1),        // a repeat
		alt(id, "not-an-ip", 1),
	}
	for p := 0; p < MaxAlternatives; p++ {
		alts = append(alts, alt(id, "2a01::2", 100+p)) // one too many at the end
	}
	data := `{"addrs":[{"addr":` + alt(id, "8.8.8.8", 26656) + `,"src":` + alt(testID(3), "9.9.9.9", 1) +
		`,"buckets":[3],"attempts":0,"bucket_type":1,"alternatives":[` + strings.Join(alts, ",") + `],"verified":true}]}`
	st, err := b.LoadBytes([]byte(data))
	if err != nil || st.Loaded != 1 || st.Dropped[DropAlternative] != 7 || len(st.Dropped) != 1 {
		t.Fatalf("load: %v, %+v", err, st)
	}
	mustInvariants(t, b)
	got := b.Addresses(id)
	if len(got) != 1+MaxAlternatives || got[1].IP.String() != "2a01::1" || !b.IsVerified(id) {
		t.Fatalf("kept %v, verified %v", got, b.IsVerified(id))
	}
	if err := checkLoad(t, []byte(data)); err != nil {
		t.Fatal(err)
	}
}

// verifiedMix is a book of 300 unverified and 40 verified new entries.
func verifiedMix(t *testing.T, prefer bool) *Book {
	t.Helper()
	b, _ := newTestBook(t, Options{PreferVerified: prefer})
	for i := 0; i < 300; i++ {
		mustAddQuiet(t, b, routableAddr(i), routableAddr(100000+i%17))
	}
	for i := 300; i < 340; i++ {
		mustVerified(t, b, []NetAddress{routableAddr(i)}, routableAddr(100000+i%17))
	}
	return b
}

func TestPickAddressPrefersVerifiedOnlyWithTheOption(t *testing.T) {
	share := func(prefer bool) float64 {
		b := verifiedMix(t, prefer)
		v := 0
		for k := 0; k < 2000; k++ {
			a, ok := b.PickAddress(100)
			if !ok {
				t.Fatal("no pick")
			}
			if b.IsVerified(a.ID) {
				v++
			}
		}
		return float64(v) / 2000
	}
	// 40 of 340 entries: about 12 % by upstream's draw; with the option a
	// miss needs 8 unverified draws in a row, (300/340)^8 ≈ 37 %.
	if off, on := share(false), share(true); off > 0.2 || on < 0.5 {
		t.Fatalf("verified share of picks: %.3f without the option, %.3f with it", off, on)
	}
}

// With the option on and nothing verified the book draws exactly as
// upstream's: the same seed gives the same picks and selections.
func TestPreferVerifiedWithoutVerifiedEntriesDrawsAsUpstream(t *testing.T) {
	run := func(prefer bool) []NetAddress {
		b, _ := newTestBook(t, Options{PreferVerified: prefer})
		fill(t, b, 400, 60)
		var out []NetAddress
		for k := 0; k < 50; k++ {
			a, _ := b.PickAddress(k * 2)
			out = append(out, a)
		}
		out = append(out, b.GetSelection()...)
		return append(out, b.GetSelectionWithBias(30)...)
	}
	if !slices.Equal(run(false), run(true)) {
		t.Fatal("PreferVerified changed the draws of a book with no verified entry")
	}
}

// Gossip stays upstream's under the option: the same seed and calls give
// the same selections with and without it, verified entries or not.
func TestSelectionsIgnoreThePreference(t *testing.T) {
	run := func(prefer bool) []NetAddress {
		b := verifiedMix(t, prefer)
		b.MarkGood(routableAddr(305).ID)
		b.MarkGood(routableAddr(7).ID)
		return append(b.GetSelection(), b.GetSelectionWithBias(50)...)
	}
	if !slices.Equal(run(false), run(true)) {
		t.Fatal("PreferVerified changed a gossip selection")
	}
}

func TestInvariantCheckerCatchesBadAlternatives(t *testing.T) {
	build := func() (*Book, *knownAddress) {
		b, _ := newTestBook(t, Options{})
		mustVerified(t, b, []NetAddress{routableAddr(1), v6Of(1)}, routableAddr(50))
		return b, &b.entries[0]
	}
	for _, tc := range []struct {
		name, want string
		corrupt    func(b *Book, ka *knownAddress)
	}{
		{"count", "verified", func(b *Book, ka *knownAddress) { b.nVerified++ }},
		{"empty ext", "empty ext", func(b *Book, ka *knownAddress) { ka.ext = &entryExt{} }},
		{"other ID", "another ID", func(b *Book, ka *knownAddress) { ka.ext.alts[0].ID = testID(2) }},
		{"primary", "primary", func(b *Book, ka *knownAddress) { ka.ext.alts[0] = ka.addr() }},
		{"twice", "twice", func(b *Book, ka *knownAddress) { ka.ext.alts = append(ka.ext.alts, ka.ext.alts[0]) }},
		{"invalid", "not storable", func(b *Book, ka *knownAddress) { ka.ext.alts[0].IP = netip.IPv4Unspecified() }},
		{"too many", "limit", func(b *Book, ka *knownAddress) { ka.ext.alts = addrs2(1, MaxAlternatives+1) }},
	} {
		b, ka := build()
		tc.corrupt(b, ka)
		err := b.checkInvariants()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: checker said %v, want an error about %q", tc.name, err, tc.want)
		}
	}
}

// A promotion waiting on a test-before-evict was earned at the address
// the peer has since left: a record that moves the peer cancels it.
func TestAddVerifiedAtANewAddressCancelsAPendingPromotion(t *testing.T) {
	tester := &recordingTester{hold: true}
	b := testBeforeEvictBook(t, tester)
	stayed, _ := promoteOneGroup(t, b, 400)
	pending := b.PendingEvictionTests()
	if pending == 0 || len(stayed) == 0 {
		t.Fatal("the scenario should leave promotions waiting")
	}
	var moved string
	for _, id := range stayed {
		b.mu.Lock()
		_, waits := b.pending[id]
		b.mu.Unlock()
		if waits {
			moved = id
			break
		}
	}
	if moved == "" {
		t.Fatal("no waiting candidate among the IDs that stayed new")
	}
	to := NetAddress{ID: moved, IP: netip.MustParseAddr("2a01::77"), Port: 26656}
	if err := b.AddVerified(moved, []NetAddress{to}, routableAddr(50)); err != nil {
		t.Fatal(err)
	}
	mustInvariants(t, b)
	if got := b.PendingEvictionTests(); got != pending-1 {
		t.Fatalf("%d promotions wait, want %d", got, pending-1)
	}
	for _, done := range tester.held {
		done(false)
		mustInvariants(t, b)
	}
	if b.IsGood(moved) {
		t.Fatal("the moved peer was promoted at an address never reached")
	}
	wantAddresses(t, b, moved, to)
}
