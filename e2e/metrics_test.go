package e2e

import "testing"

func TestParseMetricsOfAPexp2pBridge(t *testing.T) {
	in := `# HELP cometbft_p2p_peers Connected peers by direction (dialing: dials in flight).
# TYPE cometbft_p2p_peers gauge
cometbft_p2p_peers{direction="dialing",face="libp2p"} 3
cometbft_p2p_peers{direction="inbound",face="libp2p"} 4
cometbft_p2p_peers{direction="outbound",face="libp2p"} 5
cometbft_p2p_peers{direction="inbound",face="classic"} 2
cometbft_p2p_peers{direction="outbound",face="classic"} 1
cometbft_p2p_addrbook_size{bucket_type="new",face="libp2p"} 7
cometbft_p2p_addrbook_size{bucket_type="old",face="libp2p"} 9
cometbft_p2p_addrbook_size{bucket_type="new",face="classic"} 100
cometbft_p2p_bans_total{face="libp2p"} 1
cometbft_p2p_bans_total{face="classic"} 2
process_cpu_seconds_total 1.5
`
	got := parseMetrics([]byte(in), "")
	want := Reading{Peers: 9, ClassicPeers: 3, Book: 16, Bans: 3}
	if got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

func TestParseMetricsOfCometBFT(t *testing.T) {
	in := "cometbft_p2p_peers{chain_id=\"test-chain-x\"} 6\ncometbft_consensus_height{chain_id=\"test-chain-x\"} 2\n"
	if got := parseMetrics([]byte(in), ""); got != (Reading{Peers: 6, Height: 2}) {
		t.Errorf("got %+v", got)
	}
}

func TestParseMetricsSkipsMalformedLines(t *testing.T) {
	in := "cometbft_p2p_peers{direction=\"inbound\" 4\ncometbft_p2p_peers{direction=\"a,b\",face=\"libp2p\"} x\ncometbft_p2p_peers{direction=\"inbound\",note=\"a,}b\"} 2 1700000000\n"
	if got := parseMetrics([]byte(in), ""); got != (Reading{Peers: 2}) {
		t.Errorf("got %+v", got)
	}
}

func TestParseLinkStats(t *testing.T) {
	in := `[{"ifindex":2,"ifname":"v0","stats64":{"rx":{"bytes":100,"packets":1},"tx":{"bytes":200,"packets":2}}},
{"ifindex":3,"ifname":"lo","stats64":{"rx":{"bytes":5},"tx":{"bytes":5}}},
{"ifindex":4,"ifname":"v12","stats64":{"rx":{"bytes":7},"tx":{"bytes":8}}}]`
	got, err := parseLinkStats([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0] != [2]uint64{100, 200} || got[12] != [2]uint64{7, 8} {
		t.Errorf("got %v", got)
	}
	if _, err := parseLinkStats([]byte("not json")); err == nil {
		t.Error("accepted garbage")
	}
}

func TestParseMetricsOfAChainNodeReadsPexp2psSeries(t *testing.T) {
	in := `cometbft_p2p_peers{chain_id="c"} 7
pexp2p_cometbft_p2p_peers{direction="inbound"} 2
pexp2p_cometbft_p2p_peers{direction="outbound"} 3
pexp2p_cometbft_p2p_addrbook_size{bucket_type="new"} 4
cometbft_consensus_height{chain_id="c"} 12
`
	if got := parseMetrics([]byte(in), "pexp2p_"); got != (Reading{Peers: 5, Book: 4, Height: 12}) {
		t.Errorf("got %+v", got)
	}
}
