// Package crash kills processes that write the address book with SIGKILL
// at random moments and checks what is left on disk: saves are atomic,
// and a load never loses a readable file.
package crash

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/pexp2p/pexp2p/addrbook"
)

// childEnv makes the re-executed test binary act as the saving child.
const childEnv = "PEXP2P_CRASH_CHILD"

func TestMain(m *testing.M) {
	if dir := os.Getenv(childEnv); dir != "" {
		os.Exit(runChild(dir))
	}
	goleak.VerifyTestMain(m)
}

// The child's book stops growing here so that no bucket overflows: with
// addresses spread over thousands of /16 groups, 3000 entries fill the
// 256 new buckets to about 12 of 64 on average, so nothing is evicted
// and every address reported saved must still be in later saves.
const childMaxSize = 3000

// childAddr is the i-th address the children add: distinct IDs, groups
// and sources spread so that placement stays far from full buckets.
func childAddr(i int) (addr, src addrbook.NetAddress) {
	ip := netip.AddrFrom4([4]byte{byte(1 + i%200), byte(i / 200 % 250), byte(i % 7), byte(1 + i%250)})
	sip := netip.AddrFrom4([4]byte{byte(1 + (i*7)%200), byte(i % 13), 1, 1})
	addr = addrbook.NetAddress{ID: fmt.Sprintf("%040x", i+1), IP: ip, Port: 26656}
	src = addrbook.NetAddress{ID: fmt.Sprintf("%040x", 1<<40+i%97), IP: sip, Port: 26656}
	return addr, src
}

// runChild loads the book in dir, then adds addresses and saves, forever:
// after each completed Save it writes "saved <id,id,…>" with every ID
// the book holds on fd 3. A save only counts once that line is whole.
func runChild(dir string) int {
	report := os.NewFile(3, "report")
	never := make(chan time.Time)
	b, err := addrbook.New(addrbook.Options{
		FilePath: filepath.Join(dir, "addrbook.json"),
		Strict:   true,
		// No background save: this loop is the only writer, so the
		// book's content at the end of Save is what was saved.
		Tick: func(time.Duration) (<-chan time.Time, func()) { return never, func() {} },
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	if err := b.Start(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	// Continue numbering after what a previous child left in the file.
	next := 0
	for b.HasAddress(fmt.Sprintf("%040x", next+1)) {
		next++
	}
	var ids []string
	for i := range next {
		a, _ := childAddr(i)
		ids = append(ids, a.ID)
	}
	rng := rand.New(rand.NewPCG(uint64(os.Getpid()), uint64(time.Now().UnixNano())))
	w := bufio.NewWriterSize(report, 1<<20)
	w.WriteString("loaded\n")
	_ = w.Flush()
	for {
		if b.Size() < childMaxSize {
			for range 10 {
				a, src := childAddr(next)
				next++
				if err := b.AddAddress(a, src); err == nil {
					ids = append(ids, a.ID)
				}
			}
		}
		// Change existing entries too, so that later saves differ in
		// more than length.
		if len(ids) > 0 {
			id := ids[rng.IntN(len(ids))]
			if rng.IntN(2) == 0 {
				b.MarkGood(id)
			} else {
				b.MarkAttempt(id)
			}
		}
		if err := b.Save(); err != nil {
			fmt.Fprintln(os.Stderr, "save:", err)
			return 2
		}
		var held []string
		for _, id := range ids {
			if b.HasAddress(id) {
				held = append(held, id)
			}
		}
		w.WriteString("saved ")
		w.WriteString(strings.Join(held, ","))
		w.WriteString("\n")
		if err := w.Flush(); err != nil {
			return 2
		}
	}
}

// lastSaved reads the child's reports until EOF and returns the IDs of
// the last whole line (nil when none completed). It closes loaded when
// the child says it has loaded the file.
func lastSaved(r io.Reader, loaded chan<- struct{}) (ids []string, saves int, err error) {
	br := bufio.NewReaderSize(r, 1<<20)
	for {
		line, err := br.ReadString('\n')
		if errors.Is(err, io.EOF) {
			return ids, saves, nil // a torn last line does not count
		}
		if err != nil {
			return nil, saves, err
		}
		if line == "loaded\n" {
			close(loaded)
			continue
		}
		rest, ok := strings.CutPrefix(strings.TrimSuffix(line, "\n"), "saved ")
		if !ok {
			return nil, saves, fmt.Errorf("bad report line %q", line)
		}
		saves++
		ids = nil
		if rest != "" {
			ids = strings.Split(rest, ",")
		}
	}
}

// checkDir reads the book file as a restarting node would (LoadBytes
// applies Start's validation without rewriting the file under test) and
// checks it against the last completed save: it is an address book,
// nothing in it is refused, no file was moved aside as corrupt, and every
// reported ID is there.
func checkDir(t *testing.T, dir string, want []string, rule addrbook.IDRule, strict bool) (size, tmpLeft int) {
	t.Helper()
	path := filepath.Join(dir, "addrbook.json")
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		if len(want) != 0 {
			t.Fatalf("book file missing after a completed save of %d addresses", len(want))
		}
		return 0, 0
	}
	if err != nil {
		t.Fatal(err)
	}
	b, err := addrbook.New(addrbook.Options{Strict: strict, IDRule: rule})
	if err != nil {
		t.Fatal(err)
	}
	st, err := b.LoadBytes(data)
	if err != nil {
		t.Fatalf("book file unreadable after SIGKILL (%d bytes): %v", len(data), err)
	}
	if len(st.Dropped) != 0 {
		t.Fatalf("entries refused on load after SIGKILL: %v", st.Dropped)
	}
	matches, _ := filepath.Glob(filepath.Join(dir, "*.corrupt-*"))
	if len(matches) != 0 {
		t.Fatalf("corrupt files: %v", matches)
	}
	for _, id := range want {
		if !b.HasAddress(id) {
			t.Fatalf("address %s of the last completed save is missing (book has %d, last save had %d)", id, b.Size(), len(want))
		}
	}
	tmps, _ := filepath.Glob(filepath.Join(dir, ".addrbook.json.tmp-*"))
	return b.Size(), len(tmps)
}

// TestBookChildSIGKILL: a child adding and saving
// continuously is killed with SIGKILL at a random moment, 50 times; each
// time the file loads, is not corrupt and holds every address of the last
// completed save; the next child continues on the same file.
func TestBookChildSIGKILL(t *testing.T) {
	kills := 50
	if s := os.Getenv("PEXP2P_CRASH_KILLS"); s != "" {
		kills, _ = strconv.Atoi(s)
	}
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 8))
	totalSaves, maxSize, maxTmp := 0, 0, 0
	for k := range kills {
		pr, pw, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), childEnv+"="+dir)
		cmd.ExtraFiles = []*os.File{pw}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		pw.Close()
		type result struct {
			ids   []string
			saves int
			err   error
		}
		done := make(chan result, 1)
		loaded := make(chan struct{})
		go func() {
			ids, n, err := lastSaved(pr, loaded)
			done <- result{ids, n, err}
		}()
		// Random moment: one kill in five anywhere in the child's start-up
		// (process start, loading the file), the others at a random time
		// up to 150 ms into the add-and-save loop.
		if k%5 == 0 {
			time.Sleep(time.Duration(rng.IntN(60)) * time.Millisecond)
		} else {
			select {
			case <-loaded:
			case <-time.After(20 * time.Second):
				t.Fatalf("kill %d: child did not load the book within 20 s", k)
			}
			time.Sleep(time.Duration(rng.IntN(150)) * time.Millisecond)
		}
		_ = cmd.Process.Signal(syscall.SIGKILL)
		werr := cmd.Wait()
		res := <-done
		pr.Close()
		if res.err != nil {
			t.Fatal(res.err)
		}
		var ee *exec.ExitError
		if !errors.As(werr, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			t.Fatalf("kill %d: child did not die of SIGKILL: %v", k, werr)
		}
		size, tmp := checkDir(t, dir, res.ids, nil, true)
		totalSaves += res.saves
		maxSize = max(maxSize, size)
		maxTmp = max(maxTmp, tmp)
	}
	if totalSaves == 0 {
		t.Fatal("no child ever completed a save: the kills tested nothing")
	}
	// A kill can leave the temporary file of the save it interrupted; the
	// next Start removes it (its writer is dead), so they never pile up:
	// at most the one of the last kill, and none once a book started.
	if maxTmp > 1 {
		t.Errorf("%d stale .addrbook.json.tmp-* files piled up next to the book", maxTmp)
	}
	b, err := addrbook.New(addrbook.Options{FilePath: filepath.Join(dir, "addrbook.json"), Strict: false})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	if err := b.Stop(); err != nil {
		t.Fatal(err)
	}
	if tmps, _ := filepath.Glob(filepath.Join(dir, ".addrbook.json.tmp-*")); len(tmps) != 0 {
		t.Errorf("temporary files of killed saves left after a Start: %v", tmps)
	}
	t.Logf("%d kills, %d completed saves in all, book up to %d addresses, up to %d stale temp files left", kills, totalSaves, maxSize, maxTmp)
}
