package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/pexp2p/pexp2p/addrbook"
	"github.com/pexp2p/pexp2p/internal/clock"
	"github.com/pexp2p/pexp2p/pex"
	"github.com/pexp2p/pexp2p/pex/pextest"
	"github.com/pexp2p/pexp2p/pexnode"
	"github.com/pexp2p/pexp2p/transport"
)

type nopHandlerT struct{}

func (nopHandlerT) AddPeer(pex.PeerInfo)        {}
func (nopHandlerT) RemovePeer(string, any)      {}
func (nopHandlerT) Receive(string, pex.Message) {}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s %s", url, resp.Status, b)
	}
	return string(b)
}

// The HTTP layer against pex/pextest's in-memory network: /net_info lists
// the face's peers with both IDs and direction, /addrbook the book's
// counts, /metrics the design brief's metric names fed by the observer,
// the face and the book.
func TestRPCEndpointsOnInMemoryNetwork(t *testing.T) {
	hub := pextest.NewHub(clock.NewSimulated(time.Unix(1e9, 0)), 0)
	var nodes []*pextest.Node
	var keys []*transport.NodeKey
	for i := 0; i < 3; i++ {
		k, err := transport.GenNodeKey(nil)
		if err != nil {
			t.Fatal(err)
		}
		n, err := hub.AddNode(pextest.NodeConfig{Addr: addrbook.NetAddress{
			ID: k.PeerID().String(), IP: netip.AddrFrom4([4]byte{11, byte(i), 0, 1}), Port: 26656}})
		if err != nil {
			t.Fatal(err)
		}
		n.SetHandler(nopHandlerT{})
		nodes, keys = append(nodes, n), append(keys, k)
	}
	// Node 0 dials 1; 2 dials 0.
	if err := nodes[0].Dial(t.Context(), nodes[1].Addr()); err != nil {
		t.Fatal(err)
	}
	if err := nodes[2].Dial(t.Context(), nodes[0].Addr()); err != nil {
		t.Fatal(err)
	}
	book, err := addrbook.New(addrbook.Options{IDRule: transport.PeerIDs})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes[1:] {
		if err := book.AddAddress(n.Addr(), n.Addr()); err != nil {
			t.Fatal(err)
		}
	}
	book.MarkGood(nodes[1].ID())
	book.MarkBad(nodes[2].Addr(), time.Hour)

	reg := pexnode.NewRegistry()
	m, err := pexnode.NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	if err := pexnode.RegisterGauges(reg, nodes[0], book); err != nil {
		t.Fatal(err)
	}
	m.PexRequest(pex.DirSent)
	m.PexRequest(pex.DirSent)
	m.AddrsReceived(7)
	m.Misbehavior(pex.ReasonUnsolicited)
	m.Ban()
	m.Dial(pex.DialFailed)

	s := &rpcServer{peers: nodes[0], book: book, reg: reg}
	srv := httptest.NewServer(s.handler())
	defer srv.Close()

	var ni NetInfo
	if err := json.Unmarshal([]byte(get(t, srv.URL+"/net_info")), &ni); err != nil {
		t.Fatal(err)
	}
	if ni.NPeers != 2 || len(ni.Peers) != 2 {
		t.Fatalf("net_info %+v", ni)
	}
	for _, p := range ni.Peers {
		var k *transport.NodeKey
		outbound := false
		switch p.PeerID {
		case keys[1].PeerID().String():
			k, outbound = keys[1], true
		case keys[2].PeerID().String():
			k = keys[2]
		default:
			t.Fatalf("unknown peer %+v", p)
		}
		if p.ID != k.CometID() || p.IsOutbound != outbound || !strings.HasSuffix(p.Multiaddr, "/p2p/"+p.PeerID) {
			t.Fatalf("peer %+v", p)
		}
	}

	var st BookStats
	if err := json.Unmarshal([]byte(get(t, srv.URL+"/addrbook")), &st); err != nil {
		t.Fatal(err)
	}
	if st != (BookStats{Size: 1, New: 0, Old: 1, Banned: 1}) {
		t.Fatalf("addrbook %+v", st)
	}

	body := get(t, srv.URL+"/metrics")
	for _, want := range []string{
		`cometbft_p2p_peers{direction="outbound"} 1`,
		`cometbft_p2p_peers{direction="inbound"} 1`,
		`cometbft_p2p_addrbook_size{bucket_type="old"} 1`,
		`cometbft_p2p_addrbook_size{bucket_type="new"} 0`,
		`cometbft_p2p_addrbook_banned 1`,
		`cometbft_p2p_pex_requests_total{dir="sent"} 2`,
		`cometbft_p2p_pex_requests_total{dir="received"} 0`,
		`cometbft_p2p_pex_addrs_received_total 7`,
		`cometbft_p2p_pex_misbehavior_total{reason="unsolicited_addrs"} 1`,
		`cometbft_p2p_bans_total 1`,
		`cometbft_p2p_dials_total{result="failed"} 1`,
		`go_goroutines`,
	} {
		if !strings.Contains(body, want+"\n") && !strings.Contains(body, want+" ") {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	// Only GET is served.
	resp, err := http.Post(srv.URL+"/net_info", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("POST /net_info: %s", resp.Status)
	}
}

// The reactor's observer hook feeds the metrics: a real reactor on the
// in-memory network counts the request it sends and the addresses it gets.
func TestMetricsFedByReactor(t *testing.T) {
	clk := clock.NewSimulated(time.Unix(1e9, 0))
	hub := pextest.NewHub(clk, 10*time.Millisecond)
	reg := pexnode.NewRegistry()
	m, err := pexnode.NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	var reactors []*pex.Reactor
	var addrs []addrbook.NetAddress
	for i := 0; i < 2; i++ {
		k, _ := transport.GenNodeKey(nil)
		a := addrbook.NetAddress{ID: k.PeerID().String(), IP: netip.AddrFrom4([4]byte{11, byte(i), 0, 1}), Port: 26656}
		n, err := hub.AddNode(pextest.NodeConfig{Addr: a})
		if err != nil {
			t.Fatal(err)
		}
		book, _ := addrbook.New(addrbook.Options{IDRule: transport.PeerIDs, Now: clk.Now, Seed: uint64(i + 1)})
		book.AddOurAddress(a)
		pc := pex.DefaultConfig()
		pc.IDRule = transport.PeerIDs
		opts := []pex.Option{pex.WithClock(clk), pex.WithExecutor(hub.Go)}
		if i == 1 {
			pc.Seeds = []string{addrs[0].String()}
			opts = append(opts, pex.WithObserver(m))
			// Something for node 0 to hand out.
		}
		r := pex.NewReactor(book, n, pc, opts...)
		n.SetHandler(r)
		reactors, addrs = append(reactors, r), append(addrs, a)
		if i == 0 {
			k2, _ := transport.GenNodeKey(nil)
			x := addrbook.NetAddress{ID: k2.PeerID().String(), IP: netip.MustParseAddr("11.9.0.1"), Port: 26656}
			if err := book.AddAddress(x, x); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, r := range reactors {
		if err := r.Start(); err != nil {
			t.Fatal(err)
		}
	}
	clk.Run(5 * time.Second)
	for _, r := range reactors {
		_ = r.Stop()
	}
	srv := httptest.NewServer((&rpcServer{reg: reg}).handler())
	defer srv.Close()
	body := get(t, srv.URL+"/metrics")
	if strings.Contains(body, `cometbft_p2p_pex_requests_total{dir="sent"} 0`) {
		t.Fatalf("no request counted:\n%s", body)
	}
	if strings.Contains(body, "cometbft_p2p_pex_addrs_received_total 0\n") {
		t.Fatalf("no address counted:\n%s", body)
	}
	if strings.Contains(body, `cometbft_p2p_dials_total{result="ok"} 0`) {
		t.Fatalf("seed dial not counted:\n%s", body)
	}
}
