package e2e

import (
	"math"
	"time"
)

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
	// Defences are the node's eclipse defences ([defences], then its
	// own [node.NAME.defences]); all off unless the manifest sets them.
	Defences Defences
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
