package e2e

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// build applies the defaults, expands counts and set names, assigns
// groups and addresses, and checks every value, naming the first bad one.
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
	if err := m.Defences.check(file, "defences"); err != nil {
		return nil, err
	}
	netDefences := over(Defences{}, m.Defences)

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
		if err := d.Defences.check(file, where+" defences"); err != nil {
			return nil, err
		}
		if d.Mode == ModeClassic && d.Defences != nil {
			return nil, bad(where+" defences", "", "classic nodes run upstream's book and reactor: no pexp2p defences")
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
			if d.Mode != ModeClassic {
				nd.Defences = over(netDefences, d.Defences)
			}
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
