package crash

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pexp2p/pexp2p/addrbook"
	"github.com/pexp2p/pexp2p/transport"
)

// seededReader is a deterministic byte stream for key generation.
type seededReader struct{ r *rand.Rand }

func (s seededReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(s.r.Uint32())
	}
	return len(p), nil
}

// growBook adds n loopback addresses nobody listens on to the book file
// (as a previous run of the node would have learned them) and returns
// every ID the file then holds.
func growBook(t *testing.T, path string, from, n int, keys seededReader) []string {
	t.Helper()
	b, err := addrbook.New(addrbook.Options{FilePath: path, IDRule: transport.PeerIDs})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	for i := from; i < from+n; i++ {
		k, err := transport.GenNodeKey(keys)
		if err != nil {
			t.Fatal(err)
		}
		a := addrbook.NetAddress{ID: k.PeerID().String(), IP: netip.AddrFrom4([4]byte{127, byte(1 + i%200), byte(i / 200 % 250), 9}), Port: 9}
		src := addrbook.NetAddress{ID: a.ID, IP: netip.AddrFrom4([4]byte{127, byte(1 + i%97), 0, 1}), Port: 9}
		if err := b.AddAddress(a, src); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Stop(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	chk, _ := addrbook.New(addrbook.Options{IDRule: transport.PeerIDs})
	if _, err := chk.LoadBytes(data); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, line := range strings.Split(string(data), "\n") {
		if i := strings.Index(line, `{"addr": {"id": "`); i >= 0 {
			rest := line[i+len(`{"addr": {"id": "`):]
			ids = append(ids, rest[:strings.IndexByte(rest, '"')])
		}
	}
	if len(ids) != chk.Size() {
		t.Fatalf("read %d IDs from a file of %d entries", len(ids), chk.Size())
	}
	return ids
}

// TestStartSIGKILL, the command's crash safety: `pexp2p start` is killed with
// SIGKILL at random moments while it writes its address book. Half the
// runs attack the periodic save: the node runs with
// addr_book_save_interval = 5ms, killed 0–400 ms into the run: most runs
// complete saves before the kill (the file's modification time tells) and
// some are killed inside one (the temporary file it leaves tells). The
// other half attack the save on SIGTERM: SIGTERM, then SIGKILL after a
// random delay within the measured shutdown time. After each kill the file loads, is
// not corrupt and holds every address it held before the run. Slow (a
// process start per kill): PEXP2P_CRASH_START=1 enables it,
// PEXP2P_CRASH_KILLS sets the number of kills (default 50).
func TestStartSIGKILL(t *testing.T) {
	if os.Getenv("PEXP2P_CRASH_START") == "" {
		t.Skip("slow; set PEXP2P_CRASH_START=1")
	}
	kills := envKills(50)
	tmp := t.TempDir()
	bin := filepath.Join(tmp, "pexp2p")
	build := exec.Command("go", "build", "-o", bin, "github.com/pexp2p/pexp2p/cmd/pexp2p")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		t.Fatalf("building pexp2p: %v", err)
	}
	home := filepath.Join(tmp, "home")
	if out, err := exec.Command(bin, "init", "--home", home).CombinedOutput(); err != nil {
		t.Fatalf("init: %v\n%s", err, out)
	}
	path := filepath.Join(home, "config", "addrbook.json")
	keys := seededReader{rand.New(rand.NewPCG(1, 2))}
	want := growBook(t, path, 0, 4000, keys)
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 9))

	// A clean SIGTERM first: how long does the shutdown save take?
	shutdown := func() time.Duration {
		cmd, _ := startNode(t, bin, home)
		start := time.Now()
		_ = cmd.Process.Signal(syscall.SIGTERM)
		if err := cmd.Wait(); err != nil {
			t.Fatalf("clean shutdown: %v", err)
		}
		return time.Since(start)
	}()
	t.Logf("clean SIGTERM shutdown with a %d-address book took %v", len(want), shutdown)

	during, plain, periodicSaves, midSave := 0, 0, 0, 0
	for k := range kills {
		if k > 0 && k%10 == 0 {
			want = growBook(t, path, len(want), 200, keys)
		}
		if k%2 == 1 {
			plain++
			before, _ := os.Stat(path)
			cmd, _ := startNode(t, bin, home, "--p2p.addr_book_save_interval", "5ms")
			time.Sleep(time.Duration(rng.IntN(400)) * time.Millisecond)
			_ = cmd.Process.Signal(syscall.SIGKILL)
			_ = cmd.Wait()
			if after, err := os.Stat(path); err == nil && before != nil && !after.ModTime().Equal(before.ModTime()) {
				periodicSaves++
			}
			// A save cut short leaves its temporary file (the next start
			// removes it): proof the kill landed inside a save.
			if tmps, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".addrbook.json.tmp-*")); len(tmps) > 0 {
				midSave++
			}
		} else {
			cmd, _ := startNode(t, bin, home)
			during++
			_ = cmd.Process.Signal(syscall.SIGTERM)
			time.Sleep(time.Duration(rng.Int64N(int64(shutdown) * 12 / 10)))
			_ = cmd.Process.Signal(syscall.SIGKILL)
			_ = cmd.Wait()
		}
		size, _ := checkDir(t, filepath.Dir(path), want, transport.PeerIDs, false)
		if size < len(want) {
			t.Fatalf("kill %d: book shrank to %d from %d", k, size, len(want))
		}
	}
	tmps, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".addrbook.json.tmp-*"))
	t.Logf("%d kills (%d in the shutdown save window; %d while running with a 5 ms periodic save, %d of those runs completed at least one save before the kill, %d were killed inside a save); book of %d addresses intact each time; %d stale temp files left",
		kills, during, plain, periodicSaves, midSave, len(want), len(tmps))
}

func envKills(def int) int {
	if s := os.Getenv("PEXP2P_CRASH_KILLS"); s != "" {
		var n int
		if _, err := fmt.Sscan(s, &n); err == nil {
			return n
		}
	}
	return def
}

// startNode runs `pexp2p start` on loopback with no HTTP server and
// returns once it printed its addresses (its book is loaded by then).
func startNode(t *testing.T, bin, home string, extra ...string) (*exec.Cmd, string) {
	t.Helper()
	args := append([]string{"start", "--home", home,
		"--p2p.laddr", "/ip4/127.0.0.1/tcp/0", "--rpc.laddr", "",
		"--p2p.addr_book_strict=false", "--p2p.max_num_outbound_peers", "2"}, extra...)
	cmd := exec.Command(bin, args...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = nil
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		sent := false
		for sc.Scan() {
			if !sent && strings.Contains(sc.Text(), "/p2p/") {
				ready <- sc.Text()
				sent = true
			}
		}
		if !sent {
			close(ready)
		}
	}()
	select {
	case line, ok := <-ready:
		if !ok {
			_ = cmd.Wait()
			t.Fatal("pexp2p start exited before listening")
		}
		return cmd, line
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatal("pexp2p start did not come up within 60 s")
	}
	return nil, ""
}
