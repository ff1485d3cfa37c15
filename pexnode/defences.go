package pexnode

import (
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"time"

	"github.com/pexp2p/pexp2p/addrbook"
)

// Defences are the opt-in eclipse defences (docs/eclipse.md) as an
// operator sets them, one field per config key; the zero value is
// upstream's behaviour. `pexp2p start` and cometnode read them from their
// own config files and hand them to Apply.
type Defences struct {
	TestBeforeEvict     bool          // test_before_evict
	FeelerInterval      time.Duration // feeler_interval; 0: none
	MaxAnchors          int           // max_anchors; 0: none
	OutboundGroupLimit  int           // outbound_group_limit; 0: no limit
	ASMapFile           string        // asmap_file; "": /16 groups
	SignedRecords       bool          // signed_records
	PreferVerifiedAddrs bool          // prefer_verified_addrs
}

// DefenceError names the key (as in Defences' comments) and the value
// that cannot be used; callers prefix the key with their config section.
type DefenceError struct {
	Key   string
	Value string
	Err   error
}

func (e *DefenceError) Error() string { return fmt.Sprintf("%s = %q: %v", e.Key, e.Value, e.Err) }
func (e *DefenceError) Unwrap() error { return e.Err }

// Check refuses values out of range; maxOutbound (the node's outbound
// limit) bounds MaxAnchors, as anchors are outbound peers.
func (d Defences) Check(maxOutbound int) error {
	if d.FeelerInterval < 0 {
		return &DefenceError{Key: "feeler_interval", Value: d.FeelerInterval.String(), Err: errors.New("must not be negative (0: off)")}
	}
	if d.MaxAnchors < 0 || d.MaxAnchors > maxOutbound {
		return &DefenceError{Key: "max_anchors", Value: strconv.Itoa(d.MaxAnchors),
			Err: fmt.Errorf("must be in 0..max_num_outbound_peers (%d): anchors are outbound peers", maxOutbound)}
	}
	if d.OutboundGroupLimit < 0 {
		return &DefenceError{Key: "outbound_group_limit", Value: strconv.Itoa(d.OutboundGroupLimit), Err: errors.New("must not be negative (0: no limit)")}
	}
	return nil
}

// LoadASMap reads ASMapFile, a relative path from root; nil when unset.
// A missing or malformed file is a *DefenceError for asmap_file wrapping
// the book's error (*addrbook.ASMapError for a bad line).
func (d Defences) LoadASMap(root string) (*addrbook.ASMap, error) {
	if d.ASMapFile == "" {
		return nil, nil
	}
	path := d.ASMapFile
	if !filepath.IsAbs(path) {
		path = filepath.Join(root, path)
	}
	m, err := addrbook.LoadASMap(path)
	if err != nil {
		return nil, &DefenceError{Key: "asmap_file", Value: d.ASMapFile, Err: err}
	}
	return m, nil
}

// Apply sets the defences on o: the book's, the reactor's when o.PEX is
// set, and the face's. asmap is what LoadASMap returned.
func (d Defences) Apply(o *Options, asmap *addrbook.ASMap) {
	o.Book.TestBeforeEvict = d.TestBeforeEvict
	o.Book.ASMap = asmap
	o.SignedRecords = d.SignedRecords
	if o.PEX != nil {
		o.PEX.FeelerInterval = d.FeelerInterval
		o.PEX.MaxAnchors = d.MaxAnchors
		o.PEX.OutboundGroupLimit = d.OutboundGroupLimit
		o.PEX.PreferVerifiedAddrs = d.PreferVerifiedAddrs
	}
}
