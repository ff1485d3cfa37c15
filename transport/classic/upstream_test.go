package classic

import (
	"encoding/hex"

	"net"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/pexp2p/pexp2p/addrbook"

	cmtcfg "github.com/cometbft/cometbft/config"
	"github.com/cometbft/cometbft/crypto/ed25519"
	cmtlog "github.com/cometbft/cometbft/libs/log"
	"github.com/cometbft/cometbft/p2p"
	upex "github.com/cometbft/cometbft/p2p/pex"
	"github.com/cometbft/cometbft/version"
)

// upstreamNode is a classic node built only from upstream's packages, the
// way upstream's node/setup.go builds one: MultiplexTransport, Switch, its
// own AddrBook and its own unmodified PEX reactor.
type upstreamNode struct {
	key     p2p.NodeKey
	addr    *p2p.NetAddress
	mt      *p2p.MultiplexTransport
	sw      *p2p.Switch
	book    upex.AddrBook
	reactor *upex.Reactor
}

func freeTCPPort(t testing.TB) uint16 {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return uint16(ln.Addr().(*net.TCPAddr).Port)
}

// newUpstreamNode starts an upstream classic node on 127.0.0.1 with the
// given seeds and ensure-peers period. It is stopped by t.Cleanup.
func newUpstreamNode(t testing.TB, chainID string, seeds []string, period time.Duration) *upstreamNode {
	t.Helper()
	n := &upstreamNode{key: p2p.NodeKey{PrivKey: ed25519.GenPrivKey()}}
	port := freeTCPPort(t)
	laddr := "127.0.0.1:" + strconv.Itoa(int(port))
	var err error
	n.addr, err = p2p.NewNetAddressString(p2p.IDAddressString(n.key.ID(), laddr))
	if err != nil {
		t.Fatal(err)
	}
	cfg := cmtcfg.DefaultP2PConfig()
	cfg.AllowDuplicateIP = true // every node is on 127.0.0.1
	ni := p2p.DefaultNodeInfo{
		ProtocolVersion: p2p.NewProtocolVersion(version.P2PProtocol, version.BlockProtocol, 0),
		DefaultNodeID:   n.key.ID(),
		ListenAddr:      laddr,
		Network:         chainID,
		Version:         version.TMCoreSemVer,
		Channels:        []byte{upex.PexChannel},
		Moniker:         "upstream-" + laddr,
	}
	n.mt = p2p.NewMultiplexTransport(ni, n.key, p2p.MConnConfig(cfg))
	if err := n.mt.Listen(*n.addr); err != nil {
		t.Fatal(err)
	}
	n.sw = p2p.NewSwitch(cfg, n.mt)
	n.sw.SetLogger(testLogger())
	n.sw.SetNodeInfo(ni)
	n.sw.SetNodeKey(&n.key)
	n.book = upex.NewAddrBook(filepath.Join(t.TempDir(), "addrbook.json"), false)
	n.book.AddOurAddress(n.addr)
	n.sw.SetAddrBook(n.book)
	n.reactor = upex.NewReactor(n.book, &upex.ReactorConfig{Seeds: seeds})
	n.reactor.SetEnsurePeersPeriod(period)
	n.reactor.SetLogger(testLogger())
	n.sw.AddReactor("PEX", n.reactor)
	if err := n.sw.Start(); err != nil {
		_ = n.mt.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = n.sw.Stop()
		_ = n.mt.Close()
	})
	return n
}

func testLogger() cmtlog.Logger {
	if testing.Verbose() && *verboseUpstream {
		return cmtlog.TestingLogger()
	}
	return cmtlog.NewNopLogger()
}

func defaultP2P() *cmtcfg.P2PConfig { return cmtcfg.DefaultP2PConfig() }

func mustP2P(t testing.TB, a addrbook.NetAddress) *p2p.NetAddress {
	t.Helper()
	na, err := toP2P(a)
	if err != nil {
		t.Fatal(err)
	}
	return na
}

func mustAddr(t testing.TB, na *p2p.NetAddress) addrbook.NetAddress {
	t.Helper()
	a, err := fromP2P(na)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type cmtP2P = cmtcfg.P2PConfig

func newKey() ed25519.PrivKey { return ed25519.GenPrivKey() }
