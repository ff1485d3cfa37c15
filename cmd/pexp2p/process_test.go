package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pexp2p/pexp2p/internal/testhost"
	"github.com/pexp2p/pexp2p/internal/testwait"
)

// The CLI contract is exercised on the built binary, as operators and
// their scripts use it: separate processes, signals, exit statuses.

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

func buildBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "pexp2p-bin-")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "pexp2p")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// proc is one pexp2p process.
type proc struct {
	cmd    *exec.Cmd
	out    *syncBuffer
	errOut *syncBuffer
	done   chan struct{}
	code   int
}

func spawn(t *testing.T, bin string, args ...string) *proc {
	t.Helper()
	p := &proc{out: &syncBuffer{}, errOut: &syncBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.errOut
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		_ = p.cmd.Wait()
		p.code = p.cmd.ProcessState.ExitCode()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

func (p *proc) waitOut(t *testing.T, what string, re *regexp.Regexp) []string {
	t.Helper()
	var m []string
	testwait.For(t, 30*time.Second, what, func() bool {
		select {
		case <-p.done:
			t.Fatalf("process exited (%d) while waiting for %s: %s %s", p.code, what, p.out, p.errOut)
		default:
		}
		m = re.FindStringSubmatch(p.out.String())
		return m != nil
	})
	return m
}

func (p *proc) term(t *testing.T) int {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		t.Fatal("no exit within 20s of SIGTERM")
	}
	return p.code
}

func runBin(t *testing.T, bin string, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	var out, errOut syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	_ = cmd.Run()
	return cmd.ProcessState.ExitCode(), out.String(), errOut.String()
}

var (
	maRe   = regexp.MustCompile(`(/ip4/\S+/p2p/\S+)`)
	rpcRe2 = regexp.MustCompile(`RPC on (http://\S+) `)
)

// Five homes, one seed (seed mode) and four nodes on loopback: the four
// appear in each other's /net_info within ten periods; a node stopped with
// SIGTERM exits 0 and, restarted without seeds, reconnects from its saved
// book.
func TestBinarySeedAndFourNodes(t *testing.T) {
	bin := buildBinary(t)
	const period = 500 * time.Millisecond
	homes := make([]string, 5)
	for i := range homes {
		homes[i] = t.TempDir()
		code, _, errOut := runBin(t, bin, "--home", homes[i], "init", "--chain-id", "proc-test",
			"--p2p.laddr", fmt.Sprintf("/ip4/127.0.%d.1/udp/0/quic-v1,/ip4/127.0.%d.1/tcp/0", 40+i, 40+i),
			"--rpc.laddr", "127.0.0.1:0", "--p2p.addr_book_strict=false",
			"--p2p.ensure_peers_period", period.String(), "--p2p.crawl_peer_period", period.String())
		if code != 0 {
			t.Fatalf("init %d: %s", i, errOut)
		}
	}
	seed := spawn(t, bin, "--home", homes[0], "start", "--p2p.seed_mode")
	seedAddr := seed.waitOut(t, "seed multiaddr", maRe)[1]
	nodes := make([]*proc, 4)
	rpcs := make([]string, 4)
	ids := make([]string, 4)
	for i := range nodes {
		nodes[i] = spawn(t, bin, "--home", homes[i+1], "start", "--p2p.seeds", seedAddr)
		rpcs[i] = nodes[i].waitOut(t, "rpc address", rpcRe2)[1]
		ids[i] = outField(nodes[i].out.String(), "peer_id")
	}
	peersOf := func(i int) map[string]bool {
		var ni NetInfo
		resp, err := httpGetJSON(rpcs[i]+"/net_info", &ni)
		if err != nil {
			t.Logf("net_info %d: %v %s", i, err, resp)
			return nil
		}
		m := map[string]bool{}
		for _, p := range ni.Peers {
			m[p.PeerID] = true
		}
		return m
	}
	// Ten periods, counted from the moment the last node was up.
	testwait.For(t, 10*period+2*time.Second, "all four nodes in each other's /net_info", func() bool {
		for i := range nodes {
			ps := peersOf(i)
			for j := range nodes {
				if i != j && !ps[ids[j]] {
					return false
				}
			}
		}
		return true
	})
	if code := nodes[0].term(t); code != 0 {
		t.Fatalf("SIGTERM: exit %d, %s", code, nodes[0].errOut)
	}
	if !strings.Contains(nodes[0].out.String(), "Saved ") {
		t.Fatalf("no save: %s", nodes[0].out)
	}
	// The seed is gone too; only the book can bring node 0 back.
	seed.term(t)
	again := spawn(t, bin, "--home", homes[1], "start")
	rpc := again.waitOut(t, "rpc address", rpcRe2)[1]
	testwait.For(t, 10*period+5*time.Second, "restarted node to reconnect from its book", func() bool {
		var ni NetInfo
		_, err := httpGetJSON(rpc+"/net_info", &ni)
		return err == nil && ni.NPeers > 0
	})
}

// Every bad-input case of the CLI contract exits 2 with a message naming
// the bad value and changes nothing on disk; a corrupt book is moved aside
// with a warning and the node starts.
func TestBinaryBadInput(t *testing.T) {
	bin := buildBinary(t)
	home := t.TempDir()
	if code, _, errOut := runBin(t, bin, "--home", home, "init", "--rpc.laddr", "127.0.0.1:0",
		"--p2p.laddr", "/ip4/127.0.50.1/udp/0/quic-v1"); code != 0 {
		t.Fatal(errOut)
	}
	inUse := testhost.Taken(t, "tcp").String()
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"unparsable multiaddr", []string{"start", "--p2p.seeds", "/ip4/300.1.1.1/tcp/1/p2p/12D3KooWNCYgpAaTnzjrUyyY3vySRaYZVvaVLaPeBnvEtMYMgnJb"}, "/ip4/300.1.1.1"},
		{"peer string without peer ID", []string{"start", "--p2p.seeds", "1.2.3.4:26656"}, "1.2.3.4:26656"},
		{"multiaddr without peer ID", []string{"start", "--p2p.persistent_peers", "/ip4/1.2.3.4/udp/26656/quic-v1"}, "/ip4/1.2.3.4/udp/26656/quic-v1"},
		{"classic ID on the libp2p face", []string{"start", "--p2p.seeds", "0a7289d0af60734dede51c1fbe5ef56856f01bd1@1.2.3.4:26656"}, "0a7289d0af60734dede51c1fbe5ef56856f01bd1"},
		{"rpc port in use", []string{"start", "--rpc.laddr", inUse}, inUse},
		{"p2p port in use", []string{"start", "--p2p.laddr", "/ip4/127.0.0.1/tcp/" + strings.Split(inUse, ":")[1]}, "/ip4/127.0.0.1/tcp/"},
		{"bad duration", []string{"start", "--p2p.ensure_peers_period", "fast"}, "fast"},
	}
	before := snapshot(t, home)
	for _, c := range cases {
		code, _, errOut := runBin(t, bin, append([]string{"--home", home}, c.args...)...)
		if code != 2 || !strings.Contains(errOut, c.want) {
			t.Errorf("%s: exit %d, want 2 naming %q: %s", c.name, code, c.want, errOut)
		}
		sameFiles(t, before, snapshot(t, home))
	}

	// Unknown config key.
	cfg := ConfigPath(home)
	orig, _ := os.ReadFile(cfg)
	if err := os.WriteFile(cfg, append(append([]byte{}, orig...), []byte("\n[p2p.extra]\nfoo = 1\n")...), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := runBin(t, bin, "--home", home, "start"); code != 2 || !strings.Contains(errOut, "p2p.extra.foo") {
		t.Errorf("unknown config key: exit %d: %s", code, errOut)
	}
	if err := os.WriteFile(cfg, orig, 0o644); err != nil {
		t.Fatal(err)
	}

	// Missing and corrupt node key: exit 2, the key file is not touched.
	keyPath := filepath.Join(home, "config", "node_key.json")
	key, _ := os.ReadFile(keyPath)
	if err := os.WriteFile(keyPath, []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := runBin(t, bin, "--home", home, "start"); code != 2 || !strings.Contains(errOut, keyPath) {
		t.Errorf("corrupt key: exit %d: %s", code, errOut)
	}
	if b, _ := os.ReadFile(keyPath); string(b) != "garbage" {
		t.Error("corrupt key was overwritten")
	}
	if err := os.Remove(keyPath); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := runBin(t, bin, "--home", home, "start"); code != 2 || !strings.Contains(errOut, "init") {
		t.Errorf("missing key: exit %d: %s", code, errOut)
	}
	if _, err := os.Stat(keyPath); err == nil {
		t.Error("start created a key")
	}
	if err := os.WriteFile(keyPath, key, 0o600); err != nil {
		t.Fatal(err)
	}

	// Corrupt book: moved aside with a warning; the node runs.
	bookPath := filepath.Join(home, "config", "addrbook.json")
	if err := os.WriteFile(bookPath, []byte("{\"addrs\": [oops"), 0o644); err != nil {
		t.Fatal(err)
	}
	p := spawn(t, bin, "--home", home, "start")
	p.waitOut(t, "node up", rpcRe2)
	if !strings.Contains(p.errOut.String(), "moved it to") {
		t.Errorf("no warning about the corrupt book: %s", p.errOut)
	}
	if m, _ := filepath.Glob(bookPath + ".corrupt-*"); len(m) != 1 {
		t.Errorf("corrupt book not moved aside: %v", m)
	}
	if code := p.term(t); code != 0 {
		t.Errorf("SIGTERM: exit %d", code)
	}
}

func httpGetJSON(url string, v any) (string, error) {
	resp, err := httpClient.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(bufio.NewReader(resp.Body))
	if err != nil {
		return "", err
	}
	return string(b), jsonUnmarshal(b, v)
}

var httpClient = &http.Client{Timeout: 5 * time.Second}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
