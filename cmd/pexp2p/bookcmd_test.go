package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/cometbft/cometbft/crypto/ed25519"
	"github.com/cometbft/cometbft/p2p"
	upex "github.com/cometbft/cometbft/p2p/pex"

	"github.com/pexp2p/pexp2p/addrbook"
	"github.com/pexp2p/pexp2p/transport"
)

// peerLines makes n peer strings with real peer IDs on routable IPs in
// distinct /16 groups, and returns the keys' IDs.
func peerLines(t *testing.T, n int) (lines []string, peerIDs, cometIDs []string) {
	t.Helper()
	for i := 0; i < n; i++ {
		k, err := transport.GenNodeKey(nil)
		if err != nil {
			t.Fatal(err)
		}
		ip := fmt.Sprintf("%d.%d.7.1", 20+i/200, i%200)
		lines = append(lines, fmt.Sprintf("%s@%s:26656", k.PeerID(), ip))
		peerIDs = append(peerIDs, k.PeerID().String())
		cometIDs = append(cometIDs, k.CometID())
	}
	return lines, peerIDs, cometIDs
}

// import of peer strings, stats, list, and export --format cometbft that
// upstream's own pex.AddrBook loads with every address (CLI contract for
// addrbook; design: "an export loads in upstream's book").
func TestAddrbookImportStatsListExportToUpstream(t *testing.T) {
	home := t.TempDir()
	lines, pids, cids := peerLines(t, 12)
	src := filepath.Join(t.TempDir(), "peers.txt")
	text := "# operators' seed list\n" + strings.Join(lines[:6], ",") + "\n" + strings.Join(lines[6:], "\n") + "\n"
	if err := os.WriteFile(src, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCmd(t, "--home", home, "addrbook", "import", src)
	if code != exitOK || !strings.Contains(out, "imported 12") {
		t.Fatalf("import: exit %d, %q %q", code, out, errOut)
	}
	code, out, _ = runCmd(t, "--home", home, "addrbook", "stats", "--json")
	var st BookStats
	if code != exitOK || json.Unmarshal([]byte(out), &st) != nil {
		t.Fatalf("stats: %d %q", code, out)
	}
	if st != (BookStats{Size: 12, New: 12}) {
		t.Fatalf("stats %+v", st)
	}
	code, out, _ = runCmd(t, "--home", home, "addrbook", "list", "--json")
	var rows []struct {
		Addr       addrbook.FileAddr `json:"addr"`
		Type       string            `json:"type"`
		CometID    string            `json:"comet_id"`
		Multiaddrs []string          `json:"multiaddrs"`
	}
	if code != exitOK || json.Unmarshal([]byte(out), &rows) != nil || len(rows) != 12 {
		t.Fatalf("list: %d %q", code, out)
	}
	byPeer := map[string]string{}
	for i := range pids {
		byPeer[pids[i]] = cids[i]
	}
	for _, r := range rows {
		if byPeer[r.Addr.ID] != r.CometID || r.Type != "new" || len(r.Multiaddrs) != 2 {
			t.Fatalf("list row %+v", r)
		}
	}

	exp := filepath.Join(t.TempDir(), "addrbook.json")
	code, _, errOut = runCmd(t, "--home", home, "addrbook", "export", "--format", "cometbft", "-o", exp)
	if code != exitOK {
		t.Fatalf("export: %d %s", code, errOut)
	}
	ub := upex.NewAddrBook(exp, true)
	if err := ub.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = ub.Stop()
		// Upstream's Stop returns before its final save (cometbft#646).
		if w, ok := ub.(interface{ Wait() }); ok {
			w.Wait()
		}
	}()
	if ub.Size() != 12 {
		t.Fatalf("upstream loaded %d addresses, want 12", ub.Size())
	}
	for i, l := range lines {
		_, hp, _ := strings.Cut(l, "@")
		host, port, _ := net.SplitHostPort(hp)
		na, err := p2p.NewNetAddressString(p2p.IDAddressString(p2p.ID(cids[i]), net.JoinHostPort(host, port)))
		if err != nil {
			t.Fatal(err)
		}
		if !ub.HasAddress(na) {
			t.Fatalf("upstream book lacks %s", na)
		}
	}
	// export refuses to overwrite.
	code, _, _ = runCmd(t, "--home", home, "addrbook", "export", "--format", "cometbft", "-o", exp)
	if code != exitUsage {
		t.Fatalf("export over an existing file: exit %d", code)
	}
}

// An addrbook.json written by upstream CometBFT imports into the classic
// book; into the libp2p book nothing can be imported (40-hex IDs have no
// peer ID) and the command says why.
func TestAddrbookImportUpstreamFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "addrbook.json")
	ub := upex.NewAddrBook(file, true)
	var want []*p2p.NetAddress
	for i := 0; i < 8; i++ {
		k := p2p.NodeKey{PrivKey: mustEd25519(t)}
		na, err := p2p.NewNetAddressString(p2p.IDAddressString(k.ID(), fmt.Sprintf("%d.%d.9.9:26656", 30+i, i)))
		if err != nil {
			t.Fatal(err)
		}
		if err := ub.AddAddress(na, na); err != nil {
			t.Fatal(err)
		}
		want = append(want, na)
	}
	ub.Save()

	home := t.TempDir()
	code, out, errOut := runCmd(t, "--home", home, "addrbook", "import", "--classic", file)
	if code != exitOK || !strings.Contains(out, "imported 8") {
		t.Fatalf("classic import: %d %q %q", code, out, errOut)
	}
	code, out, _ = runCmd(t, "--home", home, "addrbook", "list", "--classic")
	for _, na := range want {
		if !strings.Contains(out, string(na.ID)) {
			t.Fatalf("list lacks %s:\n%s", na.ID, out)
		}
	}
	code, out, errOut = runCmd(t, "--home", home, "addrbook", "import", file)
	if code != exitOK || !strings.Contains(out, "imported 0") || !strings.Contains(errOut, "--classic") {
		t.Fatalf("libp2p import of an upstream file: %d %q %q", code, out, errOut)
	}
}

// A corrupt book or a bad import file is a usage error that changes
// nothing on disk (offline commands never move the book aside).
func TestAddrbookBadInput(t *testing.T) {
	home := t.TempDir()
	bookPath := filepath.Join(home, "config", "addrbook.json")
	if err := os.MkdirAll(filepath.Dir(bookPath), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bookPath, []byte("{not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, home)
	for _, sub := range []string{"stats", "list", "export"} {
		code, _, errOut := runCmd(t, "--home", home, "addrbook", sub)
		if code != exitUsage || !strings.Contains(errOut, bookPath) {
			t.Fatalf("%s on a corrupt book: exit %d, %s", sub, code, errOut)
		}
	}
	sameFiles(t, before, snapshot(t, home))

	home2 := t.TempDir()
	lines, _, _ := peerLines(t, 2)
	bad := filepath.Join(t.TempDir(), "peers.txt")
	if err := os.WriteFile(bad, []byte(lines[0]+"\n"+"deadbeef@1.2.3.4:26656\n"+lines[1]+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := runCmd(t, "--home", home2, "addrbook", "import", bad)
	if code != exitUsage || !strings.Contains(errOut, "line 2") || !strings.Contains(errOut, "deadbeef@1.2.3.4:26656") {
		t.Fatalf("bad peer line: exit %d, %s", code, errOut)
	}
	if len(snapshot(t, home2)) != 0 {
		t.Fatal("a refused import wrote the book")
	}
	code, _, _ = runCmd(t, "--home", home2, "addrbook", "export", "--format", "xml")
	if code != exitUsage {
		t.Fatalf("unknown format: exit %d", code)
	}
}

func mustEd25519(t *testing.T) ed25519.PrivKey {
	t.Helper()
	return ed25519.GenPrivKey()
}

// list --json shows, per address, the entry as the book file stores it
// (buckets, bucket type, attempts, times, source), and export --format
// peers lists every address once.
func TestAddrbookListJSONAndPeersExportShowTheFileEntries(t *testing.T) {
	file := filepath.Join(t.TempDir(), "addrbook.json")
	b, err := addrbook.New(addrbook.Options{FilePath: file, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	src := addrbook.NetAddress{ID: fmt.Sprintf("%040x", 999), IP: netip.MustParseAddr("99.1.1.1"), Port: 26656}
	for i := 0; i < 10; i++ {
		a := addrbook.NetAddress{ID: fmt.Sprintf("%040x", i+1), IP: netip.AddrFrom4([4]byte{byte(20 + i), 1, 1, 1}), Port: 26656}
		if err := b.AddAddress(a, src); err != nil {
			t.Fatal(err)
		}
		if i < 3 {
			b.MarkGood(a.ID)
		} else if i < 5 {
			b.MarkAttempt(a.ID)
		}
	}
	if err := b.Save(); err != nil {
		t.Fatal(err)
	}
	var want struct {
		Addrs []addrbook.FileEntry `json:"addrs"`
	}
	if err := json.Unmarshal(b.Marshal(), &want); err != nil {
		t.Fatal(err)
	}
	byID := map[string]addrbook.FileEntry{}
	for _, e := range want.Addrs {
		byID[e.Addr.ID] = e
	}

	code, out, errOut := runCmd(t, "addrbook", "list", "--classic", "--json", "--file", file)
	var rows []listRow
	if code != exitOK || json.Unmarshal([]byte(out), &rows) != nil {
		t.Fatalf("list: exit %d, %q %q", code, out, errOut)
	}
	if len(rows) != len(want.Addrs) {
		t.Fatalf("listed %d rows, the file has %d entries", len(rows), len(want.Addrs))
	}
	old := 0
	for i, r := range rows {
		w := byID[r.Addr.ID]
		if !reflect.DeepEqual(r.FileEntry, w) {
			t.Fatalf("row %+v\nfile entry %+v", r.FileEntry, w)
		}
		if i > 0 && rows[i-1].Addr.ID >= r.Addr.ID {
			t.Fatalf("rows not sorted by ID: %s before %s", rows[i-1].Addr.ID, r.Addr.ID)
		}
		if (r.Type == "old") != (r.BucketType == 2) { // upstream's code for old
			t.Fatalf("row type %q with bucket_type %d", r.Type, r.BucketType)
		}
		if r.Type == "old" {
			old++
		}
	}
	if old != 3 {
		t.Fatalf("%d old rows, want 3", old)
	}

	code, out, errOut = runCmd(t, "addrbook", "export", "--classic", "--format", "peers", "--file", file)
	lines := strings.Fields(out)
	if code != exitOK || len(lines) != len(want.Addrs) {
		t.Fatalf("export peers: exit %d, %q %q", code, out, errOut)
	}
	for _, l := range lines {
		a, err := addrbook.ParseNetAddress(addrbook.ClassicIDs, l)
		if err != nil {
			t.Fatal(err)
		}
		if w := byID[a.ID]; w.Addr.IP != a.IP.String() || w.Addr.Port != int64(a.Port) {
			t.Fatalf("exported %s, the file has %+v", l, w.Addr)
		}
		delete(byID, a.ID)
	}
	if len(byID) != 0 {
		t.Fatalf("not exported: %v", byID)
	}
}
