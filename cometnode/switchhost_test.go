package cometnode

import (
	"testing"

	cmtcfg "github.com/cometbft/cometbft/config"
	"github.com/cometbft/cometbft/crypto/ed25519"
	cmtlog "github.com/cometbft/cometbft/libs/log"
	"github.com/cometbft/cometbft/lp2p"
	"github.com/cometbft/cometbft/p2p"
)

// The one unexported read this package makes must find the very host the
// switch was built with. This fails loudly on a CometBFT release whose
// lp2p.Switch keeps its host elsewhere: update switchhost.go and
// PinnedCometBFT together.
func TestSwitchHostLayout(t *testing.T) {
	c := cmtcfg.TestConfig()
	c.P2P.ListenAddress = "tcp://127.0.0.1:0"
	c.P2P.LibP2PConfig.Enabled = true
	logger := cmtlog.NewNopLogger()
	h, err := lp2p.NewHost(c.P2P, ed25519.GenPrivKey(), logger)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	sw, err := lp2p.NewSwitch(p2p.DefaultNodeInfo{}, h, nil, p2p.NopMetrics(), logger)
	if err != nil {
		t.Fatal(err)
	}
	got, err := switchHost(sw)
	if err != nil {
		t.Fatalf("CometBFT %s layout no longer holds: %v", PinnedCometBFT, err)
	}
	if got != h {
		t.Fatalf("switchHost found %p, the switch was built with %p", got, h)
	}
}

func TestSwitchHostRejectsNil(t *testing.T) {
	if _, err := switchHost(nil); err == nil {
		t.Fatal("nil switch accepted")
	}
}
