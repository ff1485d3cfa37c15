package e2e

import (
	"fmt"
	"path/filepath"
	"strconv"

	"github.com/pexp2p/pexp2p/addrbook"
	"github.com/pexp2p/pexp2p/pexnode"
)

// DefencesDecl is a [defences] table (every pexp2p node of the testnet)
// or a [node.NAME.defences] table (those nodes: each key set there wins
// over the testnet's). Keys left out keep the node's default, which is
// off: upstream's behaviour (docs/eclipse.md).
type DefencesDecl struct {
	TestBeforeEvict     *bool     `toml:"test_before_evict"`
	FeelerInterval      *Duration `toml:"feeler_interval"`
	MaxAnchors          *int      `toml:"max_anchors"`
	OutboundGroupLimit  *int      `toml:"outbound_group_limit"`
	ASMapFile           *string   `toml:"asmap_file"`
	SignedRecords       *bool     `toml:"signed_records"`
	PreferVerifiedAddrs *bool     `toml:"prefer_verified_addrs"`
}

// Defences are one node's eclipse defences, checked; the zero value is
// every defence off.
type Defences = pexnode.Defences

// maxAnchorsInManifest is the outbound limit of the runner's nodes: an
// anchor is an outbound peer.
const maxAnchorsInManifest = defaultOutPeer

// over returns d with every key set in decl replaced.
func over(d Defences, decl *DefencesDecl) Defences {
	if decl == nil {
		return d
	}
	overlay(&d.TestBeforeEvict, decl.TestBeforeEvict)
	if decl.FeelerInterval != nil {
		d.FeelerInterval = decl.FeelerInterval.D()
	}
	overlay(&d.MaxAnchors, decl.MaxAnchors)
	overlay(&d.OutboundGroupLimit, decl.OutboundGroupLimit)
	overlay(&d.ASMapFile, decl.ASMapFile)
	overlay(&d.SignedRecords, decl.SignedRecords)
	overlay(&d.PreferVerifiedAddrs, decl.PreferVerifiedAddrs)
	return d
}

// overlay sets *dst to *set when the key was set (non-nil).
func overlay[T any](dst *T, set *T) {
	if set != nil {
		*dst = *set
	}
}

// check validates a table as written (where names it in errors); an AS
// map path is taken relative to the manifest's directory and must load,
// so that a run does not start 100 processes to have each refuse it.
func (decl *DefencesDecl) check(file, where string) error {
	if decl == nil {
		return nil
	}
	bad := func(key, value, format string, a ...any) error {
		return &ManifestError{File: file, Where: where + "." + key, Value: value, Err: fmt.Errorf(format, a...)}
	}
	if decl.MaxAnchors != nil && (*decl.MaxAnchors < 0 || *decl.MaxAnchors > maxAnchorsInManifest) {
		return bad("max_anchors", strconv.Itoa(*decl.MaxAnchors), "want 0..%d (anchors are outbound peers)", maxAnchorsInManifest)
	}
	if decl.OutboundGroupLimit != nil && *decl.OutboundGroupLimit < 0 {
		return bad("outbound_group_limit", strconv.Itoa(*decl.OutboundGroupLimit), "must not be negative (0: no limit)")
	}
	if decl.ASMapFile != nil && *decl.ASMapFile != "" {
		path := *decl.ASMapFile
		if !filepath.IsAbs(path) {
			path = filepath.Join(filepath.Dir(file), path)
		}
		abs, err := filepath.Abs(path)
		if err == nil {
			_, err = addrbook.LoadASMap(abs)
		}
		if err != nil {
			return &ManifestError{File: file, Where: where + ".asmap_file", Value: *decl.ASMapFile, Err: err}
		}
		*decl.ASMapFile = abs
	}
	return nil
}

// defenceFlags are the command-line flags that turn d on: prefix is "--p2p."
// for pexp2p start and bridge, "--pexp2p." for pexp2p cometbft start.
// Defences that are off give no flag, so a testnet without [defences]
// runs the same command lines as before.
func defenceFlags(d Defences, prefix string) []string {
	var out []string
	if d.TestBeforeEvict {
		out = append(out, prefix+"test_before_evict=true")
	}
	if d.FeelerInterval > 0 {
		out = append(out, prefix+"feeler_interval="+d.FeelerInterval.String())
	}
	if d.MaxAnchors > 0 {
		out = append(out, prefix+"max_anchors="+strconv.Itoa(d.MaxAnchors))
	}
	if d.OutboundGroupLimit > 0 {
		out = append(out, prefix+"outbound_group_limit="+strconv.Itoa(d.OutboundGroupLimit))
	}
	if d.ASMapFile != "" {
		out = append(out, prefix+"asmap_file="+d.ASMapFile)
	}
	if d.SignedRecords {
		out = append(out, prefix+"signed_records=true")
	}
	if d.PreferVerifiedAddrs {
		out = append(out, prefix+"prefer_verified_addrs=true")
	}
	return out
}
