package testnet

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	cmtcfg "github.com/cometbft/cometbft/config"
	"github.com/cometbft/cometbft/p2p"
	"github.com/cometbft/cometbft/privval"
	"github.com/cometbft/cometbft/types"
	cmttime "github.com/cometbft/cometbft/types/time"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/pexp2p/pexp2p/transport"
)

// ChainSpec is a CometBFT chain on loopback, one OS process of
// `pexp2p cometbft start` per node: one seed (seed mode), Validators
// validators and FullNodes full nodes, kvstore, every node knowing only
// the seed's address.
type ChainSpec struct {
	Validators int
	FullNodes  int
	// PEX off is upstream's behaviour: a libp2p node knows only its
	// bootstrap peers, here none.
	PEX bool
	// StaticMesh replaces discovery with upstream's only option: PEX off
	// and every node listing every other in [p2p.libp2p] bootstrap_peers.
	StaticMesh bool
	// Period is the ensure-peers period of the PEX reactor.
	Period time.Duration
	// TargetHeight every node must reach.
	TargetHeight int64
	MaxOutbound  int
	// Duration bounds the run.
	Duration time.Duration
	// CostWindow, after both criteria are met, keeps the chain running
	// and measures each process's CPU over it: the steady-state cost.
	CostWindow time.Duration
	// Binary is the pexp2p executable started for each node.
	Binary string
	// Dir holds the homes; "" makes a temporary one, removed afterwards.
	Dir string
	// FirstIP offsets the loopback addresses (LoopbackIP), so that two
	// chains of one run do not share a port.
	FirstIP int
	// Log, when set, receives what the runner does (not node logs: those
	// are in each home's node.log).
	Log io.Writer
}

// ChainSpecError names a setting that cannot run.
type ChainSpecError struct {
	Field string
	Value any
	Why   string
}

func (e *ChainSpecError) Error() string {
	return fmt.Sprintf("testnet: chain setting %s = %v: %s", e.Field, e.Value, e.Why)
}

func (e *ChainSpecError) Unwrap() error { return ErrSpec }

// MaxChainNodes bounds a chain: each node is a full CometBFT process.
const MaxChainNodes = 60

// Validate reports the first setting that cannot run.
func (s ChainSpec) Validate() error {
	switch {
	case s.Validators < 1:
		return &ChainSpecError{"validators", s.Validators, "a chain needs at least one validator"}
	case s.FullNodes < 0:
		return &ChainSpecError{"full-nodes", s.FullNodes, "must not be negative"}
	case s.Validators+s.FullNodes+1 > MaxChainNodes:
		return &ChainSpecError{"validators+full-nodes", s.Validators + s.FullNodes, fmt.Sprintf("at most %d nodes with the seed", MaxChainNodes)}
	case s.Period <= 0:
		return &ChainSpecError{"period", s.Period, "must be positive"}
	case s.TargetHeight < 1:
		return &ChainSpecError{"height", s.TargetHeight, "must be at least 1"}
	case s.MaxOutbound < 1:
		return &ChainSpecError{"max-outbound", s.MaxOutbound, "must be at least 1"}
	case s.Duration <= 0:
		return &ChainSpecError{"duration", s.Duration, "must be positive"}
	case s.Binary == "":
		return &ChainSpecError{"binary", s.Binary, "the pexp2p executable is needed to start nodes"}
	}
	return nil
}

// PeerTarget is the switch peers every node must reach.
func (s ChainSpec) PeerTarget() int { return min(s.MaxOutbound, s.Validators+s.FullNodes-1) }

// ChainNode is one node's state at the end of a run.
type ChainNode struct {
	Name   string `json:"name"`
	Role   string `json:"role"` // seed, validator, full
	IP     string `json:"ip"`
	PeerID string `json:"peer_id"`
	Height int64  `json:"height"`
	// Peers are the CometBFT switch's peers (/net_info).
	Peers int `json:"peers"`
	// Book is the size of pexp2p's address book (its metrics).
	Book int `json:"book"`
	// CPUSeconds and PeakRSSMiB are the process's from its start until
	// both criteria were met (or the end of a run that did not meet
	// them).
	CPUSeconds float64 `json:"cpu_seconds"`
	PeakRSSMiB float64 `json:"peak_rss_mib"`
	// WindowCPUPercent is the process's CPU over the cost window, in
	// percent of one core; WindowRSSMiB its resident set at the window's
	// end. Zero without a window.
	WindowCPUPercent float64 `json:"window_cpu_percent,omitempty"`
	WindowRSSMiB     float64 `json:"window_rss_mib,omitempty"`
	// Goroutines and Streams are the process's goroutines and its host's
	// open libp2p streams at the last sample; the ...AtConverged values
	// at the moment both criteria were met. Their growth over a long
	// cost window is the leak check.
	Goroutines            int `json:"goroutines"`
	Streams               int `json:"streams"`
	GoroutinesAtConverged int `json:"goroutines_at_converged"`
	// HeightAtConverged is the height when both criteria were met: the
	// blocks made over the cost window are Height − HeightAtConverged,
	// which normalises its CPU (a chain that commits faster works more).
	HeightAtConverged  int64 `json:"height_at_converged"`
	StreamsAtConverged int   `json:"streams_at_converged"`
	// Up says the node answered its RPC at the last sample.
	Up bool `json:"up"`
}

// ChainResult is one chain run.
type ChainResult struct {
	Mode            string      `json:"mode"` // pexp2p, no-pex, static-mesh
	Validators      int         `json:"validators"`
	FullNodes       int         `json:"full_nodes"`
	PeerTarget      int         `json:"peer_target"`
	TargetHeight    int64       `json:"target_height"`
	Peered          bool        `json:"peered"`
	AtHeight        bool        `json:"at_height"`
	SecondsToPeered float64     `json:"seconds_to_peered"`
	SecondsToHeight float64     `json:"seconds_to_height"`
	WallSeconds     float64     `json:"wall_seconds"`
	CostWindow      float64     `json:"cost_window_seconds,omitempty"`
	Nodes           []ChainNode `json:"nodes"`
}

// ChainProgress hears every sample.
type ChainProgress func(elapsed time.Duration, nodes []ChainNode)

type chainProc struct {
	ChainNode
	home string
	cmd  *exec.Cmd
	done chan struct{}
	peak int64
}

// RunChain lays out the chain, starts every node, samples them until every
// non-seed node has PeerTarget switch peers and TargetHeight blocks (then
// runs the cost window, if any) or Duration passes or ctx ends, and stops
// them. Every process is killed before it returns, whatever happened.
func RunChain(ctx context.Context, spec ChainSpec, progress ChainProgress) (ChainResult, error) {
	res := ChainResult{Mode: spec.mode(), Validators: spec.Validators, FullNodes: spec.FullNodes,
		PeerTarget: spec.PeerTarget(), TargetHeight: spec.TargetHeight}
	if err := spec.Validate(); err != nil {
		return res, err
	}
	dir := spec.Dir
	if dir == "" {
		d, err := os.MkdirTemp("", "pexp2p-chain-")
		if err != nil {
			return res, err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	procs, err := layoutChain(dir, spec)
	if err != nil {
		return res, err
	}
	defer stopChain(procs)
	start := time.Now()
	for _, p := range procs {
		if err := p.start(spec); err != nil {
			return res, err
		}
	}
	spec.logf("started %d nodes in %s", len(procs), dir)
	client := &http.Client{Timeout: time.Second}
	tick := time.NewTicker(sampleEvery)
	defer tick.Stop()
	deadline := time.NewTimer(spec.Duration)
	defer deadline.Stop()
	var windowEnd <-chan time.Time
	var windowStart time.Time
	var windowBase []Usage
	for {
		select {
		case <-ctx.Done():
			res.finish(procs, start)
			return res, ctx.Err()
		case <-deadline.C:
			res.finish(procs, start)
			return res, nil
		case <-windowEnd:
			res.CostWindow = time.Since(windowStart).Seconds()
			for i, p := range procs {
				u, _ := ProcessUsage(p.cmd.Process.Pid)
				p.WindowCPUPercent = 100 * (u.CPUSeconds - windowBase[i].CPUSeconds) / res.CostWindow
				p.WindowRSSMiB = float64(u.RSSBytes) / (1 << 20)
			}
			res.finish(procs, start)
			return res, nil
		case <-tick.C:
		}
		sampleChain(client, procs)
		elapsed := time.Since(start)
		if progress != nil {
			progress(elapsed, snapshot(procs))
		}
		if !res.Peered && chainPeered(procs, res.PeerTarget) {
			res.Peered, res.SecondsToPeered = true, elapsed.Seconds()
		}
		if !res.AtHeight && chainAtHeight(procs, spec.TargetHeight) {
			res.AtHeight, res.SecondsToHeight = true, elapsed.Seconds()
		}
		if res.Peered && res.AtHeight && windowEnd == nil {
			for _, p := range procs {
				u, _ := ProcessUsage(p.cmd.Process.Pid)
				p.CPUSeconds = u.CPUSeconds
				p.PeakRSSMiB = float64(p.peak) / (1 << 20)
				p.GoroutinesAtConverged, p.StreamsAtConverged = p.Goroutines, p.Streams
				p.HeightAtConverged = p.Height
			}
			if spec.CostWindow <= 0 {
				res.finish(procs, start)
				return res, nil
			}
			windowStart = time.Now()
			windowBase = make([]Usage, len(procs))
			for i, p := range procs {
				windowBase[i], _ = ProcessUsage(p.cmd.Process.Pid)
			}
			windowEnd = time.After(spec.CostWindow)
			// Sampling (RPC and a metrics scrape of every node) is work
			// the nodes do for the runner; over the window it is kept to
			// what the leak check needs.
			tick.Reset(windowSampleEvery)
			spec.logf("converged at %.1fs; measuring cost over %s", elapsed.Seconds(), spec.CostWindow)
		}
	}
}

func (s ChainSpec) mode() string {
	switch {
	case s.StaticMesh:
		return "static-mesh"
	case !s.PEX:
		return "no-pex"
	}
	return "pexp2p"
}

func (s ChainSpec) logf(format string, args ...any) {
	if s.Log != nil {
		fmt.Fprintf(s.Log, format+"\n", args...)
	}
}

func (r *ChainResult) finish(procs []*chainProc, start time.Time) {
	r.WallSeconds = time.Since(start).Seconds()
	r.Nodes = nil
	for _, p := range procs {
		if p.CPUSeconds == 0 && p.cmd != nil && p.cmd.Process != nil {
			u, _ := ProcessUsage(p.cmd.Process.Pid)
			p.CPUSeconds = u.CPUSeconds
			p.PeakRSSMiB = float64(p.peak) / (1 << 20)
		}
		r.Nodes = append(r.Nodes, p.ChainNode)
	}
}

func snapshot(procs []*chainProc) []ChainNode {
	out := make([]ChainNode, len(procs))
	for i, p := range procs {
		out[i] = p.ChainNode
	}
	return out
}

func chainPeered(procs []*chainProc, target int) bool {
	for _, p := range procs {
		if p.Role != "seed" && p.Peers < target {
			return false
		}
	}
	return true
}

func chainAtHeight(procs []*chainProc, h int64) bool {
	for _, p := range procs {
		if p.Role != "seed" && p.Height < h {
			return false
		}
	}
	return true
}

// Sampling intervals: fine until convergence, to time it; coarse over
// the cost window, so that serving the runner costs the nodes little.
const (
	sampleEvery       = 250 * time.Millisecond
	windowSampleEvery = 5 * time.Second
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

// sampleChain reads every node's height and switch peers from its RPC and
// its book size from its metrics, concurrently.
func sampleChain(client *http.Client, procs []*chainProc) {
	var wg sync.WaitGroup
	for _, p := range procs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h, peers, err := rpcState(client, p.IP)
			p.Up = err == nil
			if err == nil {
				p.Height, p.Peers = h, peers
			}
			if m, err := readMetrics(client, p.IP); err == nil {
				if m.hasBook {
					p.Book = m.book
				}
				p.Goroutines, p.Streams = m.goroutines, m.streams
			}
			if u, err := ProcessUsage(p.cmd.Process.Pid); err == nil {
				p.peak = max(p.peak, u.RSSBytes)
			}
		}()
	}
	wg.Wait()
}

func rpcState(client *http.Client, ip string) (height int64, peers int, err error) {
	var st struct {
		Result struct {
			SyncInfo struct {
				LatestBlockHeight string `json:"latest_block_height"`
			} `json:"sync_info"`
		} `json:"result"`
	}
	if err := getJSON(client, fmt.Sprintf("http://%s:%d/status", ip, chainRPCPort), &st); err != nil {
		return 0, 0, err
	}
	var ni struct {
		Result struct {
			NPeers string `json:"n_peers"`
		} `json:"result"`
	}
	if err := getJSON(client, fmt.Sprintf("http://%s:%d/net_info", ip, chainRPCPort), &ni); err != nil {
		return 0, 0, err
	}
	height, err = strconv.ParseInt(st.Result.SyncInfo.LatestBlockHeight, 10, 64)
	if err != nil {
		return 0, 0, fmt.Errorf("status: height %q: %w", st.Result.SyncInfo.LatestBlockHeight, err)
	}
	peers, err = strconv.Atoi(ni.Result.NPeers)
	if err != nil {
		return 0, 0, fmt.Errorf("net_info: n_peers %q: %w", ni.Result.NPeers, err)
	}
	return height, peers, nil
}

func getJSON(client *http.Client, url string, v any) error {
	resp, err := client.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	return json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(v)
}

// Metrics a cometnode node serves that the runner reads: its book size,
// and for leak checks its goroutines and open libp2p streams.
const (
	bookMetric       = "pexp2p_cometbft_p2p_addrbook_size"
	goroutinesMetric = "go_goroutines"
	streamsMetric    = "pexp2p_cometbft_p2p_libp2p_streams"
)

type nodeMetrics struct {
	book, goroutines, streams int
	hasBook                   bool
}

func readMetrics(client *http.Client, ip string) (nodeMetrics, error) {
	var m nodeMetrics
	resp, err := client.Get(fmt.Sprintf("http://%s:%d/metrics", ip, chainPromPort))
	if err != nil {
		return m, err
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := parser.TextToMetricFamilies(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return m, err
	}
	sum := func(name string) (int, bool) {
		mf, ok := mfs[name]
		if !ok {
			return 0, false
		}
		total := 0.0
		for _, x := range mf.GetMetric() {
			total += x.GetGauge().GetValue()
		}
		return int(total), true
	}
	m.book, m.hasBook = sum(bookMetric)
	m.goroutines, _ = sum(goroutinesMetric)
	m.streams, _ = sum(streamsMetric)
	return m, nil
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
