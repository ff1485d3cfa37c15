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
	"os"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/pexp2p/pexp2p/internal/duration"
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
	Defences     *DefencesDecl        `toml:"defences"`
	Link         Link                 `toml:"link"`
	GroupLink    map[string]Link      `toml:"group_link"`
	Node         map[string]*NodeDecl `toml:"node"`
	Perturb      []PerturbDecl        `toml:"perturb"`
}

// NodeDecl is one [node.NAME] table; with count > 1 it declares NAME01,
// NAME02, … sharing its settings.
type NodeDecl struct {
	Mode     string        `toml:"mode"`
	Count    int           `toml:"count"`
	Group    *int          `toml:"group"`
	Seeds    []string      `toml:"seeds"`
	Link     Link          `toml:"link"`
	Flags    []string      `toml:"flags"`
	Defences *DefencesDecl `toml:"defences"`
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
type Duration = duration.Duration

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
