package main

import (
	"context"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/pexp2p/pexp2p/internal/testwait"
	"github.com/pexp2p/pexp2p/pex"
	"github.com/pexp2p/pexp2p/pexnode"
	"github.com/pexp2p/pexp2p/testnet"
	"github.com/pexp2p/pexp2p/transport"
)

// A peer that breaks the channel-0 wire format is stopped and banned by
// the transport itself, never reaching the reactor; the command still
// counts it in cometbft_p2p_pex_misbehavior_total{reason="wire_*"} and
// cometbft_p2p_bans_total (design: observability of every ban).
func TestWireViolationCounted(t *testing.T) {
	reg := pexnode.NewRegistry()
	m, err := pexnode.NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.ChainID = "seeds-test" // seedTestNode's chain: another chain is refused at the handshake
	cfg.P2P.AddrBookStrict = false
	key, err := transport.GenNodeKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	l := ma.StringCast("/ip4/127.0.0.30/udp/0/quic-v1")
	victim, err := newP2PNode(nodeOptions{cfg: cfg, key: key, listen: []ma.Multiaddr{l}, observers: []pex.Observer{m}})
	if err != nil {
		t.Fatal(err)
	}
	// The victim has no seed and an empty book: its reactor refuses to
	// start, so only the face runs, which is all this test needs.
	if err := victim.Transport.Start(); err != nil {
		t.Fatal(err)
	}
	if err := victim.Book.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = victim.Transport.Stop(); _ = victim.Book.Stop() })
	vid := key.PeerID().String()
	as := victim.Transport.OurNetAddresses()
	bad := seedTestNode(t, "127.0.0.31", as[0].String(), nil)
	badID := bad.Key.PeerID().String()
	testwait.For(t, 15*time.Second, "the peer to connect", func() bool {
		for _, p := range victim.Transport.Peers() {
			if p.ID == badID {
				return true
			}
		}
		return false
	})
	// Garbage on channel 0: a 5-byte frame that is no protobuf message.
	pid, err := peer.Decode(vid)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := bad.Transport.Host().NewStream(ctx, pid, transport.PexProtocolID)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = s.Write([]byte{0x05, 0xde, 0xad, 0xbe, 0xef, 0x00})
	_ = s.Close()
	testwait.For(t, 10*time.Second, "the violation to be counted", func() bool {
		return counterValue(t, reg, "cometbft_p2p_pex_misbehavior_total", "wire_malformed") == 1
	})
	if b := counterValue(t, reg, "cometbft_p2p_bans_total", ""); b != 1 {
		t.Fatalf("bans_total %v, want 1", b)
	}
	if !victim.Book.IsBanned(badID) {
		t.Fatal("the peer is not banned in the book")
	}
	// The other reasons were pre-created and stay at 0.
	if v := counterValue(t, reg, "cometbft_p2p_pex_misbehavior_total", "wire_too_large"); v != 0 {
		t.Fatalf("wire_too_large %v", v)
	}
}

// The hook is only installed when an observer counts wire violations,
// and a reason-less report still lands under a label.
func TestWireViolationHook(t *testing.T) {
	if pexnode.WireViolationHook([]pex.Observer{pex.NopObserver{}}) != nil {
		t.Fatal("hook installed without a wire observer")
	}
	reg := pexnode.NewRegistry()
	m, err := pexnode.NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	c := &testnet.Counter{}
	h := pexnode.WireViolationHook([]pex.Observer{m, c})
	h("peer", "wire_second_message", true)
	h("peer", "", false)
	if counterValue(t, reg, "cometbft_p2p_pex_misbehavior_total", "wire_second_message") != 1 ||
		counterValue(t, reg, "cometbft_p2p_pex_misbehavior_total", "wire_other") != 1 ||
		counterValue(t, reg, "cometbft_p2p_bans_total", "") != 1 {
		t.Fatal("metrics not fed")
	}
	if tr := c.Traffic(); tr.Misbehavior != 2 || tr.Bans != 1 {
		t.Fatalf("testnet counters %d/%d", tr.Misbehavior, tr.Bans)
	}
}

// counterValue gathers reg and reads counter name, with label value
// label on its only label ("" for a counter without labels).
func counterValue(t *testing.T, reg prometheus.Gatherer, name, label string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if label == "" && len(m.GetLabel()) == 0 {
				return m.GetCounter().GetValue()
			}
			for _, l := range m.GetLabel() {
				if l.GetValue() == label {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}
