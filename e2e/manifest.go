// Package e2e runs a testnet described by a TOML manifest with one OS
// process per node, each in its own Linux network namespace, joined
// through veth links to a bridge that lives in a namespace of its own.
// Links carry netem conditions (delay, jitter, loss, rate); the manifest
// schedules perturbations (kill, disconnect, pause, restart); the runner
// measures each node from its /metrics and /proc and reports a table,
// JSON and an SVG timeline.
//
// The manifest is in the spirit of CometBFT's e2e manifests (a [node.NAME]
// table per node with a mode, seeds and perturbations) with what a
// discovery testnet needs instead of what a chain needs: address groups,
// link conditions and perturbations at times rather than heights.
package e2e

import (
	"errors"
	"fmt"
	"math"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// Node modes.
const (
	ModeSeed    = "seed"    // pexp2p start --p2p.seed_mode
	ModeRegular = "regular" // pexp2p start
	ModeDual    = "dual"    // pexp2p start with a classic face on the same port number
	ModeBridge  = "bridge"  // pexp2p bridge
	ModeClassic = "classic" // the cometbft v0.38 binary

	// A chain: CometBFT v0.40 nodes over libp2p with pexp2p discovery
	// (pexp2p cometbft start), sharing one genesis.
	ModeValidator = "validator"
	ModeFull      = "full"
	ModeChainSeed = "chain_seed" // pexp2p cometbft start --p2p.seed_mode
)

var modes = []string{ModeSeed, ModeRegular, ModeDual, ModeBridge, ModeClassic, ModeValidator, ModeFull, ModeChainSeed}

// Chain reports a mode of a chain node.
func Chain(mode string) bool {
	return mode == ModeValidator || mode == ModeFull || mode == ModeChainSeed
}

// Perturbation kinds.
const (
	KindKill       = "kill"       // SIGKILL, wait `for`, start again
	KindDisconnect = "disconnect" // link down for `for`
	KindPause      = "pause"      // SIGSTOP for `for`, then SIGCONT
	KindRestart    = "restart"    // SIGTERM (the node saves its book), start again
)

var kinds = []string{KindKill, KindDisconnect, KindPause, KindRestart}

// Limits that keep a manifest within what one machine and the address
// plan can hold; each is checked with an error naming the value.
const (
	MaxGroups      = 64 // the /16s of 100.64.0.0/10
	MaxNodes       = 500
	MaxDuration    = time.Hour
	maxPerGroup    = 250 * 250
	maxPerturbs    = 1000
	minSample      = 100 * time.Millisecond
	defaultSample  = time.Second
	defaultPeriod  = 30 * time.Second
	defaultOutPeer = 10
)

// Manifest is the file as written.
type Manifest struct {
	Duration     Duration             `toml:"duration"`
	Groups       int                  `toml:"groups"`
	Period       Duration             `toml:"period"`
	SaveInterval Duration             `toml:"save_interval"`
	Sample       Duration             `toml:"sample"`
	PeerTarget   int                  `toml:"peer_target"`
	Flags        []string             `toml:"flags"`
	Link         Link                 `toml:"link"`
	GroupLink    map[string]Link      `toml:"group_link"`
	Node         map[string]*NodeDecl `toml:"node"`
	Perturb      []PerturbDecl        `toml:"perturb"`
}

// NodeDecl is one [node.NAME] table; with count > 1 it declares NAME01,
// NAME02, … sharing its settings.
type NodeDecl struct {
	Mode  string   `toml:"mode"`
	Count int      `toml:"count"`
	Group *int     `toml:"group"`
	Seeds []string `toml:"seeds"`
	Link  Link     `toml:"link"`
	Flags []string `toml:"flags"`
}

// PerturbDecl is one [[perturb]] entry. Node and Nodes name nodes or
// [node.NAME] sets; Count keeps the first Count of them; Every spaces
// successive nodes.
type PerturbDecl struct {
	Kind  string   `toml:"kind"`
	Node  string   `toml:"node"`
	Nodes []string `toml:"nodes"`
	Count int      `toml:"count"`
	At    Duration `toml:"at"`
	For   Duration `toml:"for"`
	Every Duration `toml:"every"`
}

// Link is a set of netem conditions; empty strings are unset, so a group
// or node can override one field and inherit the rest.
type Link struct {
	Delay  string `toml:"delay"`
	Jitter string `toml:"jitter"`
	Loss   string `toml:"loss"`
	Rate   string `toml:"rate"`
}

// Duration reads "30s" from TOML.
type Duration time.Duration

// UnmarshalText accepts Go's duration syntax, non-negative.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("%q is not a duration (want e.g. 500ms, 30s, 2m)", b)
	}
	if v < 0 {
		return fmt.Errorf("%q is negative", b)
	}
	*d = Duration(v)
	return nil
}

// D is the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// Testnet is a validated manifest with every node and perturbation
// expanded and addressed.
type Testnet struct {
	Name         string
	Duration     time.Duration
	Groups       int
	Period       time.Duration
	SaveInterval time.Duration // 0: the node's default
	Sample       time.Duration
	PeerTarget   int // 0: per node, min(10, reachable nodes)
	Flags        []string
	Nodes        []*Node
	Perturbs     []Perturbation
}

// Node is one process of the testnet.
type Node struct {
	Index int // position in Testnet.Nodes
	Name  string
	Mode  string
	Group int
	IP    string
	Seeds []string // node names
	Link  Netem
	Flags []string
}

// Perturbation is one scheduled fault on one node.
type Perturbation struct {
	Kind string
	Node string
	At   time.Duration
	For  time.Duration
}

// Netem is a validated Link.
type Netem struct {
	Delay  time.Duration
	Jitter time.Duration
	Loss   float64 // percent
	Rate   string  // tc's syntax, e.g. "10mbit"; "" for none
}

// LibP2P reports whether the node has a libp2p face.
func (n *Node) LibP2P() bool { return n.Mode != ModeClassic }

// Seed reports a node in seed mode, which hangs up on its peers by design.
func (n *Node) Seed() bool { return n.Mode == ModeSeed || n.Mode == ModeChainSeed }

// ClassicFace reports whether the node has a classic CometBFT face.
func (n *Node) ClassicFace() bool {
	return n.Mode == ModeClassic || n.Mode == ModeDual || n.Mode == ModeBridge
}

// ManifestError names the bad value of a manifest.
type ManifestError struct {
	File  string
	Where string // e.g. `node "n03"`, "perturb[2]", "link"
	Value string
	Err   error
}

func (e *ManifestError) Error() string {
	s := e.File + ": " + e.Where
	if e.Value != "" {
		s += fmt.Sprintf(" = %q", e.Value)
	}
	return s + ": " + e.Err.Error()
}
func (e *ManifestError) Unwrap() error { return e.Err }

// ErrManifest is wrapped by every manifest error, for callers that pick an
// exit status.
var ErrManifest = errors.New("bad manifest")

func (e *ManifestError) Is(target error) bool { return target == ErrManifest }

// LoadFile reads and validates a manifest file.
func LoadFile(path string) (*Testnet, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, &ManifestError{File: path, Where: "file", Err: err}
	}
	return Parse(path, b)
}

// Parse decodes and validates a manifest; name labels errors and the run.
func Parse(name string, data []byte) (*Testnet, error) {
	var m Manifest
	md, err := toml.Decode(string(data), &m)
	if err != nil {
		return nil, &ManifestError{File: name, Where: "TOML", Err: err}
	}
	if und := md.Undecoded(); len(und) > 0 {
		keys := make([]string, len(und))
		for i, k := range und {
			keys[i] = k.String()
		}
		return nil, &ManifestError{File: name, Where: "key", Value: keys[0], Err: fmt.Errorf("unknown key (all unknown: %s)", strings.Join(keys, ", "))}
	}
	return m.build(name)
}

func (m *Manifest) build(file string) (*Testnet, error) {
	bad := func(where, value string, format string, a ...any) error {
		return &ManifestError{File: file, Where: where, Value: value, Err: fmt.Errorf(format, a...)}
	}
	t := &Testnet{
		Name:         strings.TrimSuffix(baseName(file), ".toml"),
		Duration:     m.Duration.D(),
		Groups:       m.Groups,
		Period:       m.Period.D(),
		SaveInterval: m.SaveInterval.D(),
		Sample:       m.Sample.D(),
		PeerTarget:   m.PeerTarget,
		Flags:        m.Flags,
	}
	switch {
	case t.Duration <= 0:
		return nil, bad("duration", t.Duration.String(), "must be set and positive")
	case t.Duration > MaxDuration:
		return nil, bad("duration", t.Duration.String(), "at most %v", MaxDuration)
	}
	if t.Groups == 0 {
		t.Groups = 1
	}
	if t.Groups < 1 || t.Groups > MaxGroups {
		return nil, bad("groups", strconv.Itoa(m.Groups), "want 1..%d (one /16 of 100.64.0.0/10 each)", MaxGroups)
	}
	if t.Period == 0 {
		t.Period = defaultPeriod
	}
	if t.Sample == 0 {
		t.Sample = defaultSample
	}
	if t.Sample < minSample {
		return nil, bad("sample", t.Sample.String(), "at least %v", minSample)
	}
	if t.PeerTarget < 0 {
		return nil, bad("peer_target", strconv.Itoa(t.PeerTarget), "must not be negative")
	}
	if f, why := checkFlags(t.Flags); why != "" {
		return nil, bad("flags", f, "%s", why)
	}

	base, err := m.Link.netem(Netem{})
	if err != nil {
		return nil, bad("link", err.value, "%v", err.err)
	}
	groupLinks := make([]Netem, t.Groups)
	for i := range groupLinks {
		groupLinks[i] = base
	}
	for _, k := range sortedKeys(m.GroupLink) {
		g, err := strconv.Atoi(k)
		if err != nil || g < 0 || g >= t.Groups {
			return nil, bad("group_link", k, "want a group number 0..%d", t.Groups-1)
		}
		gl, lerr := m.GroupLink[k].netem(base)
		if lerr != nil {
			return nil, bad("group_link."+k, lerr.value, "%v", lerr.err)
		}
		groupLinks[g] = gl
	}

	if len(m.Node) == 0 {
		return nil, bad("node", "", "no nodes declared (want [node.NAME] tables)")
	}
	sets := map[string][]string{} // declared name → expanded names
	type pending struct {
		node *Node
		decl *NodeDecl
	}
	var all []pending
	byName := map[string]*Node{}
	for _, name := range sortedKeys(m.Node) {
		d := m.Node[name]
		where := fmt.Sprintf("node %q", name)
		if !validName(name) {
			return nil, bad("node", name, "names are letters, digits, '-' and '_', at most 32")
		}
		if !contains(modes, d.Mode) {
			return nil, bad(where+" mode", d.Mode, "want one of %s", strings.Join(modes, ", "))
		}
		if d.Count < 0 || d.Count > MaxNodes {
			return nil, bad(where+" count", strconv.Itoa(d.Count), "want 1..%d", MaxNodes)
		}
		if d.Group != nil && (*d.Group < 0 || *d.Group >= t.Groups) {
			return nil, bad(where+" group", strconv.Itoa(*d.Group), "want 0..%d (groups = %d)", t.Groups-1, t.Groups)
		}
		if f, why := checkFlags(d.Flags); why != "" {
			return nil, bad(where+" flags", f, "%s", why)
		}
		if d.Mode == ModeClassic && len(d.Flags) > 0 {
			return nil, bad(where+" flags", d.Flags[0], "classic nodes take no pexp2p flags")
		}
		names := []string{name}
		if d.Count > 1 {
			names = names[:0]
			w := len(strconv.Itoa(d.Count))
			for i := 1; i <= d.Count; i++ {
				names = append(names, fmt.Sprintf("%s%0*d", name, w, i))
			}
		}
		sets[name] = names
		for _, n := range names {
			if _, dup := byName[n]; dup {
				return nil, bad("node", n, "declared twice (a count expands %q)", name)
			}
			nd := &Node{Name: n, Mode: d.Mode, Flags: d.Flags}
			byName[n] = nd
			all = append(all, pending{nd, d})
		}
	}
	var chain, other *Node
	validators := 0
	for _, p := range all {
		if Chain(p.node.Mode) {
			chain = p.node
			if p.node.Mode == ModeValidator {
				validators++
			}
		} else {
			other = p.node
		}
	}
	if chain != nil && other != nil {
		return nil, bad(fmt.Sprintf("node %q mode", other.Name), other.Mode, "a chain manifest (%s is a %s node) holds only validator, full and chain_seed nodes", chain.Name, chain.Mode)
	}
	if chain != nil && validators == 0 {
		return nil, bad("node", chain.Name, "a chain needs at least one validator")
	}
	if len(all) > MaxNodes {
		return nil, bad("node", strconv.Itoa(len(all)), "%d nodes in all; at most %d", len(all), MaxNodes)
	}
	// expand resolves a list of node or set names.
	expand := func(where string, refs []string) ([]string, error) {
		var out []string
		for _, r := range refs {
			if names, ok := sets[r]; ok {
				out = append(out, names...)
				continue
			}
			if _, ok := byName[r]; ok {
				out = append(out, r)
				continue
			}
			return nil, bad(where, r, "no such node")
		}
		return out, nil
	}

	perGroup := make([]int, t.Groups)
	next := 0
	for i, p := range all {
		n, d := p.node, p.decl
		n.Index = i
		if d.Group != nil {
			n.Group = *d.Group
		} else {
			n.Group = next % t.Groups
			next++
		}
		if perGroup[n.Group] >= maxPerGroup {
			return nil, bad(fmt.Sprintf("node %q group", n.Name), strconv.Itoa(n.Group), "more than %d nodes in one group", maxPerGroup)
		}
		n.IP = NodeIP(n.Group, perGroup[n.Group]).String()
		perGroup[n.Group]++
		l, lerr := d.Link.netem(groupLinks[n.Group])
		if lerr != nil {
			return nil, bad(fmt.Sprintf("node %q link", n.Name), lerr.value, "%v", lerr.err)
		}
		if l.Jitter > l.Delay {
			// Checked on the node's own link: a default jitter may
			// rest on delays that only groups or nodes set.
			return nil, bad(fmt.Sprintf("node %q link jitter", n.Name), l.Jitter.String(), "larger than the node's delay %v", l.Delay)
		}
		n.Link = l
		seeds, err := expand(fmt.Sprintf("node %q seeds", n.Name), d.Seeds)
		if err != nil {
			return nil, err
		}
		for _, s := range seeds {
			if s == n.Name {
				continue // a set whose members seed each other
			}
			sn := byName[s]
			if !(n.LibP2P() && sn.LibP2P()) && !(n.ClassicFace() && sn.ClassicFace()) {
				return nil, bad(fmt.Sprintf("node %q seeds", n.Name), s, "a %s node cannot dial a %s node (no common face)", n.Mode, sn.Mode)
			}
			n.Seeds = append(n.Seeds, s)
		}
		t.Nodes = append(t.Nodes, n)
	}

	for i, pd := range m.Perturb {
		where := fmt.Sprintf("perturb[%d]", i)
		if !contains(kinds, pd.Kind) {
			return nil, bad(where+" kind", pd.Kind, "want one of %s", strings.Join(kinds, ", "))
		}
		refs := pd.Nodes
		if pd.Node != "" {
			refs = append([]string{pd.Node}, refs...)
		}
		if len(refs) == 0 {
			return nil, bad(where+" node", "", "name a node (node = \"…\" or nodes = [\"…\"])")
		}
		names, err := expand(where+" node", refs)
		if err != nil {
			return nil, err
		}
		if pd.Count < 0 || pd.Count > len(names) {
			return nil, bad(where+" count", strconv.Itoa(pd.Count), "want 1..%d (the nodes named)", len(names))
		}
		if pd.Count > 0 {
			names = names[:pd.Count]
		}
		needFor := pd.Kind == KindDisconnect || pd.Kind == KindPause
		if needFor && pd.For <= 0 {
			return nil, bad(where+" for", pd.For.D().String(), "a %s needs a positive duration", pd.Kind)
		}
		if pd.Kind == KindRestart && pd.For > 0 {
			return nil, bad(where+" for", pd.For.D().String(), "a restart starts the node again at once")
		}
		for j, name := range names {
			p := Perturbation{Kind: pd.Kind, Node: name, At: pd.At.D() + time.Duration(j)*pd.Every.D(), For: pd.For.D()}
			if p.At <= 0 {
				return nil, bad(where+" at", p.At.String(), "must be after the start")
			}
			if p.At+p.For >= t.Duration {
				return nil, bad(where+" at", p.At.String(), "the perturbation of %q ends at %v, not before duration %v", name, p.At+p.For, t.Duration)
			}
			if p.Kind != KindDisconnect && byName[name].Mode == ModeClassic && p.Kind != KindPause {
				// Allowed, but its book cannot be measured; say so
				// rather than report a number that means nothing.
				return nil, bad(where+" node", name, "%s of a classic node: its book is saved only every 2 minutes, so entries lost would not measure pexp2p; use disconnect or pause", p.Kind)
			}
			t.Perturbs = append(t.Perturbs, p)
		}
	}
	if len(t.Perturbs) > maxPerturbs {
		return nil, bad("perturb", strconv.Itoa(len(t.Perturbs)), "at most %d perturbations", maxPerturbs)
	}
	sort.SliceStable(t.Perturbs, func(i, j int) bool { return t.Perturbs[i].At < t.Perturbs[j].At })
	// Two overlapping faults on one node would make its recovery
	// meaningless (and a kill during a pause would hide the pause).
	last := map[string]Perturbation{}
	for _, p := range t.Perturbs {
		if q, ok := last[p.Node]; ok && p.At < q.At+q.For+t.Sample {
			return nil, bad("perturb", p.Node, "%s at %v overlaps %s at %v (+%v)", p.Kind, p.At, q.Kind, q.At, q.For)
		}
		last[p.Node] = p
	}
	return t, nil
}

// IsChain reports a chain manifest.
func (t *Testnet) IsChain() bool { return len(t.Nodes) > 0 && Chain(t.Nodes[0].Mode) }

// Node returns the node called name, or nil.
func (t *Testnet) Node(name string) *Node {
	for _, n := range t.Nodes {
		if n.Name == name {
			return n
		}
	}
	return nil
}

// PeerTargetOf is the number of peers n must hold to count as connected:
// the manifest's peer_target, else min(10, the nodes it can stay
// connected to). Seeds hang up on their peers by design and do not
// count as someone to stay connected to.
func (t *Testnet) PeerTargetOf(n *Node) int {
	reach := 0
	for _, o := range t.Nodes {
		if o == n || o.Seed() {
			continue
		}
		if (n.LibP2P() && o.LibP2P()) || (n.Mode == ModeClassic && o.ClassicFace()) {
			reach++
		}
	}
	target := defaultOutPeer
	if t.PeerTarget > 0 {
		target = t.PeerTarget
	}
	return min(target, reach)
}

// RecoveryTargetOf is the peers n must regain after a perturbation: its
// peer target, or for a seed, which hangs up on its peers by design, one.
func (t *Testnet) RecoveryTargetOf(n *Node) int {
	if n.Seed() {
		return min(1, t.PeerTargetOf(n))
	}
	return t.PeerTargetOf(n)
}

// BookTargetOf is 90 % of the other nodes n's book can hold (rounded up);
// 0 for classic nodes, whose book the runner cannot read while they run.
func (t *Testnet) BookTargetOf(n *Node) int {
	if n.Mode == ModeClassic {
		return 0
	}
	others := 0
	for _, o := range t.Nodes {
		if o != n && o.LibP2P() {
			others++
		}
	}
	return int(math.Ceil(0.9 * float64(others)))
}

// Measured reports whether n counts towards convergence: every node but
// seeds, which let their peers go by design.
func (n *Node) Measured() bool { return !n.Seed() }

type linkError struct {
	value string
	err   error
}

var rateRe = regexp.MustCompile(`^[0-9]+(\.[0-9]+)?(bit|kbit|mbit|gbit|bps|kbps|mbps|gbps)$`)

// netem overlays l on base field by field.
func (l Link) netem(base Netem) (Netem, *linkError) {
	n := base
	if l.Delay != "" {
		d, err := time.ParseDuration(l.Delay)
		if err != nil || d < 0 || d > 10*time.Second {
			return n, &linkError{l.Delay, errors.New("delay: want a duration 0..10s, e.g. 20ms")}
		}
		n.Delay = d
	}
	if l.Jitter != "" {
		d, err := time.ParseDuration(l.Jitter)
		if err != nil || d < 0 || d > 10*time.Second {
			return n, &linkError{l.Jitter, errors.New("jitter: want a duration 0..10s, e.g. 5ms")}
		}
		n.Jitter = d
	}
	if l.Loss != "" {
		s := strings.TrimSuffix(strings.TrimSpace(l.Loss), "%")
		v, err := strconv.ParseFloat(s, 64)
		if err != nil || !strings.HasSuffix(l.Loss, "%") || v < 0 || v > 100 || math.IsNaN(v) {
			return n, &linkError{l.Loss, errors.New("loss: want a percentage 0%..100%, e.g. 1%")}
		}
		n.Loss = v
	}
	if l.Rate != "" {
		if !rateRe.MatchString(l.Rate) {
			return n, &linkError{l.Rate, errors.New("rate: want tc's syntax, e.g. 10mbit, 500kbit")}
		}
		n.Rate = l.Rate
	}
	return n, nil
}

// Flags the runner owns: a manifest setting them would break addressing,
// the strict book or the measurement.
var ownedFlags = []string{
	"--home", "--p2p.laddr", "--p2p.external_address", "--p2p.seeds", "--rpc.laddr",
	"--p2p.addr_book_strict", "--p2p.allow_duplicate_ip", "--p2p.seed_mode",
	"--classic.laddr", "--classic.seeds", "--classic.external_address", "--chain_id",
}

// checkFlags returns the first bad flag and why it is bad.
func checkFlags(fs []string) (string, string) {
	for _, f := range fs {
		name, _, _ := strings.Cut(f, "=")
		if !strings.HasPrefix(name, "--") || len(name) < 3 {
			return f, "want --key=value"
		}
		if contains(ownedFlags, name) {
			return f, "the runner sets this flag itself"
		}
	}
	return "", ""
}

var nameRe = regexp.MustCompile(`^[A-Za-z0-9_-]{1,32}$`)

func validName(s string) bool { return nameRe.MatchString(s) }

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func baseName(p string) string {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[i+1:]
	}
	return p
}
