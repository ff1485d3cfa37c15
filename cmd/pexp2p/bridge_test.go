package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pexp2p/pexp2p/internal/testwait"
)

// freePort finds a port number free for both TCP and UDP on ip, so one
// node can put its classic face (TCP) and its libp2p QUIC face (UDP) on
// the same number, which is what the bridge's probe expects.
func freePort(t *testing.T, ip string) int {
	t.Helper()
	for i := 0; i < 20; i++ {
		ln, err := net.Listen("tcp", ip+":0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		pc, err := net.ListenPacket("udp", fmt.Sprintf("%s:%d", ip, port))
		ln.Close()
		if err == nil {
			pc.Close()
			return port
		}
	}
	t.Fatal("no port free for both TCP and UDP")
	return 0
}

var classicRe = regexp.MustCompile(`Classic face on: (\S+)`)

// bridge and start --classic.laddr: a dual-stack node Y (classic TCP and
// libp2p QUIC on the same port number) is met by the bridge X on the
// classic face; X learns Y's key in the handshake, proves it over libp2p
// at the same IP and port, and only then adds Y to its libp2p book.
func TestBridgeCarriesVerifiedClassicPeer(t *testing.T) {
	ipY := "127.0.61.1"
	port := freePort(t, ipY)
	yHome := initHome(t, ipY)
	y := startNode(t, yHome,
		"--p2p.laddr", fmt.Sprintf("/ip4/%s/udp/%d/quic-v1", ipY, port),
		"--classic.laddr", fmt.Sprintf("tcp://%s:%d", ipY, port))
	yClassic := classicRe.FindStringSubmatch(y.out.String())
	if yClassic == nil {
		t.Fatalf("no classic address printed: %s", y.out)
	}

	xHome := initHome(t, "127.0.62.1")
	ctx, cancel := context.WithCancel(context.Background())
	x := &runningNode{home: xHome, cancel: cancel, done: make(chan int, 1), out: &syncBuffer{}, errOut: &syncBuffer{}}
	go func() {
		x.done <- run(ctx, []string{"--home", xHome, "bridge",
			"--classic.laddr", "tcp://127.0.62.1:0",
			"--classic.seeds", yClassic[1]}, x.out, x.errOut)
	}()
	t.Cleanup(func() { x.stop(t) })
	testwait.For(t, 20*time.Second, "bridge up", func() bool { return strings.Contains(x.out.String(), "RPC on http://") })
	if !strings.Contains(x.out.String(), "Classic face on: ") {
		t.Fatalf("bridge did not report its classic face: %s", x.out)
	}
	yPeer := y.peerID(t)
	testwait.For(t, 30*time.Second, "Y's verified libp2p address in the bridge's libp2p book", func() bool {
		m := get(t, x.rpc()+"/metrics")
		return strings.Contains(m, `cometbft_p2p_bridge_crossings_total{direction="classic_to_libp2p",result="verified"}`)
	})
	// Y is now dialable on the bridge's libp2p face: it shows up as a
	// peer there once the reactor dials from the book.
	testwait.For(t, 30*time.Second, "the bridge to connect to Y over libp2p", func() bool {
		return x.hasPeer(t, yPeer)
	})
	var st BookStats
	if err := json.Unmarshal([]byte(get(t, x.rpc()+"/addrbook")), &st); err != nil || st.Size < 1 {
		t.Fatalf("bridge libp2p book: %+v %v", st, err)
	}
	m := get(t, x.rpc()+"/metrics")
	if !strings.Contains(m, `face="classic"`) || !strings.Contains(m, `face="libp2p"`) {
		t.Fatal("metrics of both faces expected")
	}
	if code := x.stop(t); code != exitOK {
		t.Fatalf("bridge stop: exit %d: %s", code, x.errOut)
	}
}

// bridge without a classic address is a usage error.
func TestBridgeNeedsClassicLaddr(t *testing.T) {
	home := initHome(t, "127.0.63.1")
	code, _, errOut := runCmd(t, "--home", home, "bridge")
	if code != exitUsage || !strings.Contains(errOut, "classic.laddr") {
		t.Fatalf("exit %d: %s", code, errOut)
	}
}

// crawl from a seed finds the seed and the node behind it, both reachable.
func TestCrawl(t *testing.T) {
	seed := startNode(t, initHome(t, "127.0.64.1"))
	node := startNode(t, initHome(t, "127.0.65.1"), "--p2p.seeds", seed.multiaddr(t))
	testwait.For(t, 20*time.Second, "node to meet the seed", func() bool { return node.hasPeer(t, seed.peerID(t)) })
	code, out, errOut := runCmd(t, "--home", t.TempDir(), "crawl", "--p2p.addr_book_strict=false",
		"--p2p.laddr", "/ip4/127.0.66.1/udp/0/quic-v1", "--duration", "3s", "--json", seed.multiaddr(t))
	if code != exitOK {
		t.Fatalf("crawl: exit %d: %s", code, errOut)
	}
	var nodes []CrawlNode
	if err := json.Unmarshal([]byte(out), &nodes); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	status := map[string]string{}
	for _, n := range nodes {
		status[n.PeerID] = n.Status
		if n.ID == "" || !strings.HasSuffix(n.Multiaddr, "/p2p/"+n.PeerID) {
			t.Fatalf("row %+v", n)
		}
	}
	for _, id := range []string{seed.peerID(t), node.peerID(t)} {
		if status[id] != "reachable" {
			t.Fatalf("%s: %q in %+v", id, status[id], nodes)
		}
	}
}
