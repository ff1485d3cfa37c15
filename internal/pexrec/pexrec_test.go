package pexrec

import (
	"testing"

	tmp2p "github.com/cometbft/cometbft/proto/tendermint/p2p"

	"github.com/pexp2p/pexp2p/pex"
)

func TestRecorderCountsPerSenderAndKind(t *testing.T) {
	var r Recorder
	var hooked []string
	r.OnReceive = func(id string, _ pex.Message) { hooked = append(hooked, id) }
	r.AddPeer(pex.PeerInfo{ID: "a"})
	r.Receive("a", &tmp2p.PexRequest{})
	r.Receive("a", &tmp2p.PexAddrs{})
	r.Receive("b", &tmp2p.PexRequest{})
	r.Receive("a", &tmp2p.PexRequest{})
	r.RemovePeer("a", nil)
	if got := r.Requests("a"); got != 2 {
		t.Errorf("Requests(a) = %d, want 2", got)
	}
	if got := len(r.Answers("a")); got != 1 {
		t.Errorf("len(Answers(a)) = %d, want 1", got)
	}
	if got := len(r.Answers("b")); got != 0 {
		t.Errorf("len(Answers(b)) = %d, want 0", got)
	}
	added, removed, recv := r.Snapshot()
	if len(added) != 1 || len(removed) != 1 || removed[0] != "a" || len(recv) != 4 || recv[2].From != "b" {
		t.Errorf("Snapshot = %v, %v, %v", added, removed, recv)
	}
	if len(hooked) != 4 {
		t.Errorf("OnReceive called %d times, want 4", len(hooked))
	}
}
