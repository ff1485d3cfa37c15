package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pexp2p/pexp2p/addrbook"
	"github.com/pexp2p/pexp2p/internal/testhost"
	"github.com/pexp2p/pexp2p/internal/testwait"
	"github.com/pexp2p/pexp2p/transport"
)

// runningNode is `pexp2p start` running in-process.
type runningNode struct {
	home   string
	cancel context.CancelFunc
	done   chan int
	out    *syncBuffer
	errOut *syncBuffer
}

func initHome(t *testing.T, ip string) string {
	t.Helper()
	home := t.TempDir()
	code, _, errOut := runCmd(t, "--home", home, "init",
		"--p2p.laddr", "/ip4/"+ip+"/udp/0/quic-v1",
		"--rpc.laddr", "tcp://127.0.0.1:0",
		"--p2p.addr_book_strict=false",
		"--p2p.ensure_peers_period", "500ms",
		"--p2p.dial_timeout", "2s",
		"--p2p.handshake_timeout", "5s")
	if code != exitOK {
		t.Fatalf("init: %s", errOut)
	}
	return home
}

func startNode(t *testing.T, home string, extra ...string) *runningNode {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	n := &runningNode{home: home, cancel: cancel, done: make(chan int, 1), out: &syncBuffer{}, errOut: &syncBuffer{}}
	go func() {
		n.done <- run(ctx, append([]string{"--home", home, "start"}, extra...), n.out, n.errOut)
	}()
	t.Cleanup(func() { n.stop(t) })
	testwait.For(t, 20*time.Second, "node to print its RPC address", func() bool {
		select {
		case code := <-n.done:
			n.done <- code
			t.Fatalf("start exited early with %d: %s", code, n.errOut)
		default:
		}
		return strings.Contains(n.out.String(), "RPC on http://")
	})
	return n
}

// stop cancels the command as SIGINT would and returns its exit status.
func (n *runningNode) stop(t *testing.T) int {
	t.Helper()
	n.cancel()
	select {
	case code := <-n.done:
		n.done <- code
		return code
	case <-time.After(20 * time.Second):
		t.Fatal("start did not stop within 20s")
	}
	return -1
}

var rpcRe = regexp.MustCompile(`RPC on http://(\S+) `)

func (n *runningNode) rpc() string { return "http://" + rpcRe.FindStringSubmatch(n.out.String())[1] }

// multiaddr is the first full multiaddr the node printed.
func (n *runningNode) multiaddr(t *testing.T) string {
	for _, l := range strings.Split(n.out.String(), "\n") {
		if l = strings.TrimSpace(l); strings.HasPrefix(l, "/ip4/") && strings.Contains(l, "/p2p/") {
			return l
		}
	}
	t.Fatalf("no multiaddr printed: %s", n.out)
	return ""
}

func (n *runningNode) peerID(t *testing.T) string { return outField(n.out.String(), "peer_id") }

func (n *runningNode) netInfo(t *testing.T) NetInfo {
	var ni NetInfo
	if err := json.Unmarshal([]byte(get(t, n.rpc()+"/net_info")), &ni); err != nil {
		t.Fatal(err)
	}
	return ni
}

func (n *runningNode) hasPeer(t *testing.T, peerID string) bool {
	for _, p := range n.netInfo(t).Peers {
		if p.PeerID == peerID {
			return true
		}
	}
	return false
}

// start on loopback with ephemeral ports: a seed and two nodes find each
// other through PEX, the endpoints answer, the printed multiaddr is
// dialable, a stop saves the book and exits 0, and a restart without
// seeds reconnects from the saved book.
func TestStartInProcess(t *testing.T) {
	seed := startNode(t, initHome(t, "127.0.10.1"))
	seedAddr := seed.multiaddr(t)
	a := startNode(t, initHome(t, "127.0.11.1"), "--p2p.seeds", seedAddr)
	bHome := initHome(t, "127.0.12.1")
	b := startNode(t, bHome, "--p2p.seeds", seedAddr)
	aID, bID := a.peerID(t), b.peerID(t)

	testwait.For(t, 30*time.Second, "a and b in each other's /net_info", func() bool {
		return a.hasPeer(t, bID) && b.hasPeer(t, aID)
	})
	for _, p := range b.netInfo(t).Peers {
		cid, err := transport.CometIDFromPeerIDText(p.PeerID)
		if err != nil || p.ID != cid || !strings.HasSuffix(p.Multiaddr, "/p2p/"+p.PeerID) {
			t.Fatalf("net_info peer %+v", p)
		}
	}
	var st BookStats
	if err := json.Unmarshal([]byte(get(t, b.rpc()+"/addrbook")), &st); err != nil || st.Size < 1 {
		t.Fatalf("addrbook %+v %v", st, err)
	}
	metrics := get(t, b.rpc()+"/metrics")
	for _, name := range []string{"cometbft_p2p_peers{", "cometbft_p2p_addrbook_size{", "cometbft_p2p_pex_requests_total{",
		"cometbft_p2p_pex_addrs_received_total{", "cometbft_p2p_pex_misbehavior_total{", "cometbft_p2p_bans_total{", "cometbft_p2p_dials_total{"} {
		if !strings.Contains(metrics, name) {
			t.Errorf("/metrics lacks %s", name)
		}
	}

	// Stop b (SIGINT path): exit 0, book saved with a in it.
	if code := b.stop(t); code != exitOK {
		t.Fatalf("stop: exit %d: %s", code, b.errOut)
	}
	if !strings.Contains(b.out.String(), "Saved ") {
		t.Fatalf("no save reported: %s", b.out)
	}
	saved, err := addrbook.New(addrbook.Options{IDRule: transport.PeerIDs})
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(bHome, "config", "addrbook.json"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := saved.LoadBytes(data); err != nil || saved.Size() == 0 {
		t.Fatalf("saved book: size %d, %v", saved.Size(), err)
	}
	// Restart without seeds: it dials from the saved book.
	b2 := startNode(t, bHome)
	testwait.For(t, 30*time.Second, "restarted b to reconnect from its book", func() bool {
		return len(b2.netInfo(t).Peers) > 0
	})
}

// A port in use is a usage error (exit 2), for the RPC and the p2p port,
// and nothing is written.
func TestStartPortInUse(t *testing.T) {
	taken := testhost.Taken(t, "tcp")
	port := taken.Port()
	home := initHome(t, "127.0.13.1")
	before := snapshot(t, home)
	code, _, errOut := runCmd(t, "--home", home, "start", "--rpc.laddr", taken.String())
	if code != exitUsage || !strings.Contains(errOut, "rpc.laddr") {
		t.Fatalf("rpc port in use: exit %d, %s", code, errOut)
	}
	code, _, errOut = runCmd(t, "--home", home, "start", "--rpc.laddr", "", "--p2p.laddr", fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", port))
	if code != exitUsage || !strings.Contains(errOut, "p2p.laddr") {
		t.Fatalf("p2p port in use: exit %d, %s", code, errOut)
	}
	sameFiles(t, before, snapshot(t, home))
}
