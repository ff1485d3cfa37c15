package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/pexp2p/pexp2p/transport"
)

// Ports inside every node's namespace. Each node has its own address, so
// all use the same numbers; a dual-stack node (dual, bridge) serves libp2p
// QUIC on UDP and the classic face on TCP of one port number, the
// convention the bridge's probes rely on.
const (
	p2pPort  = 26656
	rpcAddr  = "127.0.0.1:26657" // pexp2p's rpc.laddr, cometbft's RPC
	promAddr = "127.0.0.1:26660" // cometbft's Prometheus endpoint
)

// identity is what other nodes need to dial a node.
type identity struct {
	CometID string
	PeerID  string // "" for classic nodes
}

// Binaries are the programs a run starts.
type Binaries struct {
	Pexp2p   string
	Cometbft string // needed only when the manifest has classic nodes
}

func (t *Testnet) HasClassic() bool {
	for _, n := range t.Nodes {
		if n.Mode == ModeClassic {
			return true
		}
	}
	return false
}

func homeOf(work string, n *Node) string { return filepath.Join(work, n.Name) }

// prepareHomes initialises every node's home with its own binary (`init`
// writes the key) and reads back the IDs, a few nodes at a time. Classic
// homes share the first one's genesis, so they are one chain; pexp2p
// nodes then use that chain ID too.
func prepareHomes(ctx context.Context, t *Testnet, bin Binaries, work string) (map[string]identity, string, error) {
	if t.IsChain() {
		return prepareChain(ctx, t, bin, work)
	}
	ids := make(map[string]identity, len(t.Nodes))
	var mu sync.Mutex
	chainID := Prefix
	var firstClassic *Node
	for _, n := range t.Nodes {
		if n.Mode == ModeClassic {
			firstClassic = n
			break
		}
	}
	if firstClassic != nil {
		if bin.Cometbft == "" {
			return nil, "", errors.New("the manifest has classic nodes; give the cometbft v0.38 binary with --cometbft")
		}
		id, err := initClassic(ctx, bin.Cometbft, homeOf(work, firstClassic))
		if err != nil {
			return nil, "", err
		}
		ids[firstClassic.Name] = id
		var g struct {
			ChainID string `json:"chain_id"`
		}
		b, err := os.ReadFile(filepath.Join(homeOf(work, firstClassic), "config", "genesis.json"))
		if err == nil {
			err = json.Unmarshal(b, &g)
		}
		if err != nil || g.ChainID == "" {
			return nil, "", fmt.Errorf("reading the chain ID of %s's genesis: %v", firstClassic.Name, err)
		}
		chainID = g.ChainID
	}
	sem := make(chan struct{}, 4)
	var wg sync.WaitGroup
	var errs []error
	for _, n := range t.Nodes {
		if n == firstClassic {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func(n *Node) {
			defer wg.Done()
			defer func() { <-sem }()
			var id identity
			var err error
			if n.Mode == ModeClassic {
				id, err = initClassic(ctx, bin.Cometbft, homeOf(work, n))
				if err == nil {
					err = copyFile(filepath.Join(homeOf(work, firstClassic), "config", "genesis.json"), filepath.Join(homeOf(work, n), "config", "genesis.json"))
				}
			} else {
				id, err = initPexp2p(ctx, bin.Pexp2p, homeOf(work, n))
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, fmt.Errorf("node %s: %w", n.Name, err))
				return
			}
			ids[n.Name] = id
		}(n)
	}
	wg.Wait()
	return ids, chainID, errors.Join(errs...)
}

func initPexp2p(ctx context.Context, bin, home string) (identity, error) {
	if _, err := runCmd(ctx, bin, "init", "--home", home); err != nil {
		return identity{}, err
	}
	out, err := runCmd(ctx, bin, "show-node-id", "--home", home, "--json")
	if err != nil {
		return identity{}, err
	}
	var v struct {
		ID     string `json:"id"`
		PeerID string `json:"peer_id"`
	}
	if err := json.Unmarshal(out, &v); err != nil || v.ID == "" || v.PeerID == "" {
		return identity{}, fmt.Errorf("show-node-id --json gave %q", strings.TrimSpace(string(out)))
	}
	return identity{CometID: v.ID, PeerID: v.PeerID}, nil
}

func initClassic(ctx context.Context, bin, home string) (identity, error) {
	if _, err := runCmd(ctx, bin, "init", "--home", home); err != nil {
		return identity{}, err
	}
	out, err := runCmd(ctx, bin, "show-node-id", "--home", home)
	if err != nil {
		return identity{}, err
	}
	id := strings.TrimSpace(string(out))
	if len(id) != 40 {
		return identity{}, fmt.Errorf("cometbft show-node-id gave %q", id)
	}
	return identity{CometID: id}, nil
}

func copyFile(from, to string) error {
	b, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return os.WriteFile(to, b, 0o644)
}

// seedLists splits n's seeds by the face that dials them.
func seedLists(t *Testnet, n *Node, ids map[string]identity) (libp2p, classic []string) {
	for _, s := range n.Seeds {
		sn := t.Node(s)
		if n.LibP2P() && sn.LibP2P() {
			libp2p = append(libp2p, fmt.Sprintf("/ip4/%s/udp/%d/quic-v1/p2p/%s", sn.IP, p2pPort, ids[s].PeerID))
		}
		if n.ClassicFace() && sn.ClassicFace() {
			classic = append(classic, fmt.Sprintf("%s@%s:%d", ids[s].CometID, sn.IP, p2pPort))
		}
	}
	return libp2p, classic
}

// argv is the command line of n's process. The runner's own settings
// come last but flags that it owns cannot appear in the manifest, so
// nothing overrides them: strict books and unique IPs, as in production.
func argv(t *Testnet, n *Node, ids map[string]identity, bin Binaries, work, chainID string) []string {
	home := homeOf(work, n)
	lseeds, cseeds := seedLists(t, n, ids)
	if n.Mode == ModeClassic {
		return []string{bin.Cometbft, "start", "--home", home, "--proxy_app", "kvstore"}
	}
	if Chain(n.Mode) {
		a := []string{bin.Pexp2p, "cometbft", "start", "--home", home, "--pexp2p.ensure_peers_period", t.Period.String()}
		a = append(a, defenceFlags(n.Defences, "--pexp2p.")...)
		a = append(a, t.Flags...)
		return append(a, n.Flags...)
	}
	cmd := "start"
	if n.Mode == ModeBridge {
		cmd = "bridge"
	}
	a := []string{bin.Pexp2p, cmd, "--home", home, "--chain_id", chainID, "--moniker", n.Name,
		"--rpc.laddr", "tcp://" + rpcAddr,
		"--p2p.addr_book_strict=true", "--p2p.allow_duplicate_ip=false",
		"--p2p.ensure_peers_period=" + t.Period.String(),
	}
	if t.SaveInterval > 0 {
		a = append(a, "--p2p.addr_book_save_interval="+t.SaveInterval.String())
	}
	quic := fmt.Sprintf("/ip4/%s/udp/%d/quic-v1", n.IP, p2pPort)
	if n.ClassicFace() {
		a = append(a, "--p2p.laddr", quic, "--classic.laddr", fmt.Sprintf("tcp://%s:%d", n.IP, p2pPort))
		if len(cseeds) > 0 {
			a = append(a, "--classic.seeds", strings.Join(cseeds, ","))
		}
	} else {
		a = append(a, "--p2p.laddr", quic+fmt.Sprintf(",/ip4/%s/tcp/%d", n.IP, p2pPort))
	}
	if len(lseeds) > 0 {
		a = append(a, "--p2p.seeds", strings.Join(lseeds, ","))
	}
	if n.Mode == ModeSeed {
		a = append(a, "--p2p.seed_mode=true")
	}
	a = append(a, defenceFlags(n.Defences, "--p2p.")...)
	a = append(a, t.Flags...)
	return append(a, n.Flags...)
}

// configureClassic writes what the cometbft node needs into its
// config.toml: the settings every cometbft node here has, its advertised
// address, and no empty blocks, so its CPU is mostly its p2p stack's and
// not a chain's.
func configureClassic(home string, n *Node, seeds []string) error {
	set := cometbftSettings(n, seeds)
	set["p2p"]["external_address"] = strconv.Quote(fmt.Sprintf("%s:%d", n.IP, p2pPort))
	set["consensus"] = map[string]string{"create_empty_blocks": "false"}
	return editConfigTOML(home, set)
}

// cometbftSettings is what the runner sets in every cometbft config.toml,
// section by section: the kvstore app, the node's name, address and seeds,
// strict book rules (upstream's defaults, written out so they are
// visible), and RPC and Prometheus on the namespace's loopback.
func cometbftSettings(n *Node, seeds []string) map[string]map[string]string {
	return map[string]map[string]string{
		"":    {"proxy_app": strconv.Quote("kvstore"), "moniker": strconv.Quote(n.Name)},
		"rpc": {"laddr": strconv.Quote("tcp://" + rpcAddr)},
		"p2p": {
			"laddr":              strconv.Quote(fmt.Sprintf("tcp://%s:%d", n.IP, p2pPort)),
			"seeds":              strconv.Quote(strings.Join(seeds, ",")),
			"persistent_peers":   `""`,
			"pex":                "true",
			"addr_book_strict":   "true",
			"allow_duplicate_ip": "false",
		},
		"instrumentation": {"prometheus": "true", "prometheus_listen_addr": strconv.Quote(promAddr)},
	}
}

// editConfigTOML applies set to home's config/config.toml; a key that
// cometbft init did not write is an error, since setting it would need a
// TOML writer and means the binary is not the version the runner knows.
func editConfigTOML(home string, set map[string]map[string]string) error {
	path := filepath.Join(home, "config", "config.toml")
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	out, missing := editTOML(string(b), set)
	if len(missing) > 0 {
		return fmt.Errorf("%s: keys not found: %s", path, strings.Join(missing, ", "))
	}
	return os.WriteFile(path, []byte(out), 0o644)
}

// editTOML replaces `key = …` lines of a flat, sectioned TOML file (what
// cometbft init writes) and reports the keys it did not find.
func editTOML(src string, set map[string]map[string]string) (string, []string) {
	seen := map[string]bool{}
	sect := ""
	lines := strings.Split(src, "\n")
	for i, line := range lines {
		tr := strings.TrimSpace(line)
		if strings.HasPrefix(tr, "[") && strings.HasSuffix(tr, "]") {
			sect = strings.Trim(tr, "[]")
			continue
		}
		k, _, ok := strings.Cut(tr, "=")
		if !ok || strings.HasPrefix(tr, "#") {
			continue
		}
		k = strings.TrimSpace(k)
		if v, ok := set[sect][k]; ok {
			lines[i] = k + " = " + v
			seen[sect+"."+k] = true
		}
	}
	var missing []string
	for _, s := range sortedKeys(set) {
		for _, k := range sortedKeys(set[s]) {
			if !seen[s+"."+k] {
				missing = append(missing, s+"."+k)
			}
		}
	}
	return strings.Join(lines, "\n"), missing
}

// bookFile is where n keeps the book the runner reads: the libp2p book
// of a pexp2p node, the book of a cometbft node.
func bookFile(work string, n *Node) string {
	return filepath.Join(homeOf(work, n), "config", "addrbook.json")
}

// classicBookFile is a dual or bridge node's classic book.
func classicBookFile(work string, n *Node) string {
	return filepath.Join(homeOf(work, n), "config", "addrbook_classic.json")
}

// bookIDs reads the IDs in a saved book (pexp2p's and upstream's files
// share the layout); a missing file is an empty book.
func bookIDs(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var f struct {
		Addrs []struct {
			Addr struct {
				ID string `json:"id"`
			} `json:"addr"`
		} `json:"addrs"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	ids := make([]string, 0, len(f.Addrs))
	for _, a := range f.Addrs {
		ids = append(ids, a.Addr.ID)
	}
	return ids, nil
}

// prepareChain initialises every chain node with `pexp2p cometbft init`,
// reads the IDs from the node keys, gives every node one genesis whose
// validators are the manifest's validator nodes, and writes each node's
// config.
func prepareChain(ctx context.Context, t *Testnet, bin Binaries, work string) (map[string]identity, string, error) {
	if err := forEach(ctx, t.Nodes, 4, func(n *Node) error {
		if _, err := runCmd(ctx, bin.Pexp2p, "cometbft", "init", "--home", homeOf(work, n)); err != nil {
			return fmt.Errorf("node %s: %w", n.Name, err)
		}
		return nil
	}); err != nil {
		return nil, "", err
	}
	ids := make(map[string]identity, len(t.Nodes))
	var vals []map[string]any
	for _, n := range t.Nodes {
		cfg := filepath.Join(homeOf(work, n), "config")
		key, err := transport.LoadNodeKey(filepath.Join(cfg, "node_key.json"))
		if err != nil {
			return nil, "", fmt.Errorf("node %s: %w", n.Name, err)
		}
		ids[n.Name] = identity{CometID: key.CometID(), PeerID: key.PeerID().String()}
		if n.Mode != ModeValidator {
			continue
		}
		var pv struct {
			Address string          `json:"address"`
			PubKey  json.RawMessage `json:"pub_key"`
		}
		b, err := os.ReadFile(filepath.Join(cfg, "priv_validator_key.json"))
		if err == nil {
			err = json.Unmarshal(b, &pv)
		}
		if err != nil || pv.Address == "" {
			return nil, "", fmt.Errorf("node %s: reading its validator key: %v", n.Name, err)
		}
		vals = append(vals, map[string]any{"address": pv.Address, "pub_key": pv.PubKey, "power": "10", "name": n.Name})
	}
	first := filepath.Join(homeOf(work, t.Nodes[0]), "config", "genesis.json")
	var gen map[string]any
	b, err := os.ReadFile(first)
	if err == nil {
		err = json.Unmarshal(b, &gen)
	}
	if err != nil {
		return nil, "", fmt.Errorf("reading %s: %v", first, err)
	}
	gen["validators"] = vals
	chainID, _ := gen["chain_id"].(string)
	out, err := json.MarshalIndent(gen, "", "  ")
	if err != nil {
		return nil, "", err
	}
	for _, n := range t.Nodes {
		home := homeOf(work, n)
		if err := os.WriteFile(filepath.Join(home, "config", "genesis.json"), out, 0o644); err != nil {
			return nil, "", err
		}
		lseeds, _ := seedLists(t, n, ids)
		if err := configureChain(home, n, lseeds); err != nil {
			return nil, "", err
		}
	}
	return ids, chainID, nil
}

// configureChain writes a chain node's config.toml: the settings every
// cometbft node here has, seed mode for a chain seed, and libp2p on.
func configureChain(home string, n *Node, seeds []string) error {
	set := cometbftSettings(n, seeds)
	set["p2p"]["seed_mode"] = strconv.FormatBool(n.Mode == ModeChainSeed)
	set["p2p.libp2p"] = map[string]string{"enabled": "true"}
	return editConfigTOML(home, set)
}
