package testnet

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	cmtcfg "github.com/cometbft/cometbft/config"
	"github.com/cometbft/cometbft/p2p"
	"github.com/cometbft/cometbft/privval"
	"github.com/cometbft/cometbft/types"
	cmttime "github.com/cometbft/cometbft/types/time"

	"github.com/pexp2p/pexp2p/transport"
)

// Ports of every node, each on its own loopback IP.
const (
	chainP2PPort   = 26656
	chainRPCPort   = 26657
	chainPromPort  = 26660
	chainPprofPort = 6060
)

// layoutChain writes every home: keys, one genesis with the validators,
// and config.toml with libp2p on, the seed's address (or the static
// mesh), loopback ports and Prometheus on.
func layoutChain(dir string, spec ChainSpec) ([]*chainProc, error) {
	n := 1 + spec.Validators + spec.FullNodes
	procs := make([]*chainProc, n)
	cfgs := make([]*cmtcfg.Config, n)
	var vals []types.GenesisValidator
	for i := range n {
		role, name := "seed", "seed"
		switch {
		case i > 0 && i <= spec.Validators:
			role, name = "validator", fmt.Sprintf("validator%d", i-1)
		case i > spec.Validators:
			role, name = "full", fmt.Sprintf("full%d", i-1-spec.Validators)
		}
		home := filepath.Join(dir, name)
		c := cmtcfg.DefaultConfig()
		c.SetRoot(home)
		if err := os.MkdirAll(filepath.Join(home, "config"), 0o700); err != nil {
			return nil, err
		}
		if err := os.MkdirAll(filepath.Join(home, "data"), 0o700); err != nil {
			return nil, err
		}
		ip := LoopbackIP(spec.FirstIP + i)
		if err := portsFree(ip); err != nil {
			return nil, err
		}
		c.Moniker = name
		c.ProxyApp = "kvstore"
		c.LogLevel = "info"
		c.P2P.LibP2PConfig.Enabled = true
		c.P2P.ListenAddress = fmt.Sprintf("tcp://%s:%d", ip, chainP2PPort)
		c.P2P.PexReactor = spec.PEX && !spec.StaticMesh
		c.P2P.SeedMode = role == "seed"
		c.P2P.AddrBookStrict = false // loopback addresses
		c.P2P.MaxNumOutboundPeers = spec.MaxOutbound
		c.RPC.ListenAddress = fmt.Sprintf("tcp://%s:%d", ip, chainRPCPort)
		c.Instrumentation.Prometheus = true
		c.Instrumentation.PrometheusListenAddr = fmt.Sprintf("%s:%d", ip, chainPromPort)
		// Go's profiler on every node (http://<ip>:6060/debug/pprof/), to
		// see where a node's time goes.
		c.RPC.PprofListenAddress = fmt.Sprintf("%s:%d", ip, chainPprofPort)
		c.Consensus.TimeoutCommit = 500 * time.Millisecond
		// CometBFT's own key file; pexp2p reads the same key for the
		// libp2p peer ID the seed's address needs.
		if _, err := p2p.LoadOrGenNodeKey(c.NodeKeyFile()); err != nil {
			return nil, err
		}
		key, err := transport.LoadNodeKey(c.NodeKeyFile())
		if err != nil {
			return nil, err
		}
		pv := privval.LoadOrGenFilePV(c.PrivValidatorKeyFile(), c.PrivValidatorStateFile())
		if role == "validator" {
			pub, err := pv.GetPubKey()
			if err != nil {
				return nil, err
			}
			vals = append(vals, types.GenesisValidator{Address: pub.Address(), PubKey: pub, Power: 10, Name: name})
		}
		cfgs[i] = c
		procs[i] = &chainProc{ChainNode: ChainNode{Name: name, Role: role, IP: ip, PeerID: key.PeerID().String()}, home: home}
	}
	gen := &types.GenesisDoc{
		ChainID:         "pexp2p-chain",
		GenesisTime:     cmttime.Now(),
		ConsensusParams: types.DefaultConsensusParams(),
		Validators:      vals,
	}
	seedAddr := fmt.Sprintf("/ip4/%s/udp/%d/quic-v1/p2p/%s", procs[0].IP, chainP2PPort, procs[0].PeerID)
	for i, c := range cfgs {
		if err := gen.SaveAs(c.GenesisFile()); err != nil {
			return nil, err
		}
		switch {
		case spec.StaticMesh && i > 0:
			for j, o := range procs[1:] {
				if j+1 == i {
					continue
				}
				c.P2P.LibP2PConfig.BootstrapPeers = append(c.P2P.LibP2PConfig.BootstrapPeers, cmtcfg.LibP2PBootstrapPeer{
					Host: fmt.Sprintf("%s:%d", o.IP, chainP2PPort), ID: o.PeerID, Persistent: true,
				})
			}
		case i > 0:
			c.P2P.Seeds = seedAddr
		}
		cmtcfg.WriteConfigFile(filepath.Join(c.RootDir, "config", "config.toml"), c)
	}
	return procs, nil
}

func (p *chainProc) start(spec ChainSpec) error {
	logf, err := os.Create(filepath.Join(p.home, "node.log"))
	if err != nil {
		return err
	}
	p.cmd = exec.Command(spec.Binary, "cometbft", "start", "--home", p.home,
		"--pexp2p.ensure_peers_period", spec.Period.String())
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	// A node must not outlive the runner, even one killed with SIGKILL.
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := p.cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("testnet: starting %s: %w", p.Name, err)
	}
	p.done = make(chan struct{})
	go func() {
		_ = p.cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	return nil
}

// stopChain asks every node to stop (SIGTERM: CometBFT saves its state
// and pexp2p its book) and kills those still running after 10 s.
func stopChain(procs []*chainProc) {
	for _, p := range procs {
		if p.cmd != nil && p.cmd.Process != nil {
			_ = p.cmd.Process.Signal(syscall.SIGTERM)
		}
	}
	deadline := time.After(10 * time.Second)
	for _, p := range procs {
		if p.done == nil {
			continue
		}
		select {
		case <-p.done:
		case <-deadline:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	}
}

// portsFree reports a node address already in use (another chain run, a
// local node) before any process starts, naming it.
func portsFree(ip string) error {
	for _, port := range []int{chainP2PPort, chainRPCPort, chainPromPort, chainPprofPort} {
		hp := net.JoinHostPort(ip, strconv.Itoa(port))
		ln, err := net.Listen("tcp", hp)
		if err != nil {
			return fmt.Errorf("testnet: chain address %s not free: %w", hp, err)
		}
		ln.Close()
	}
	pc, err := net.ListenPacket("udp", net.JoinHostPort(ip, strconv.Itoa(chainP2PPort)))
	if err != nil {
		return fmt.Errorf("testnet: chain address %s/udp not free: %w", net.JoinHostPort(ip, strconv.Itoa(chainP2PPort)), err)
	}
	return pc.Close()
}
