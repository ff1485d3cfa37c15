package pexnode

import (
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Defences are the eclipse-defence settings a configuration file can put
// out of range (a flag parser refuses most of these values, TOML does
// not). pexp2p's own config.toml and CometBFT's [pexp2p] section check
// them with the same rules and name the key in their own spelling.
type Defences struct {
	FeelerInterval     time.Duration
	MaxAnchors         int
	OutboundGroupLimit int
	// MaxOutbound bounds MaxAnchors: anchors are outbound peers.
	MaxOutbound int
}

// BadDefence names the first defence key out of range, as config.toml
// spells it without its section, with its value and why.
type BadDefence struct {
	Key   string
	Value string
	Err   error
}

// Check returns the first setting out of range, or nil. outboundKey is
// how the caller's configuration spells the outbound-peer limit, so that
// the reason for a refused max_anchors names a key the user can find.
func (d Defences) Check(outboundKey string) *BadDefence {
	switch {
	case d.FeelerInterval < 0:
		return &BadDefence{"feeler_interval", d.FeelerInterval.String(), errors.New("must not be negative (0: off)")}
	case d.MaxAnchors < 0 || d.MaxAnchors > d.MaxOutbound:
		return &BadDefence{"max_anchors", strconv.Itoa(d.MaxAnchors),
			fmt.Errorf("must be in 0..%s (%d): anchors are outbound peers", outboundKey, d.MaxOutbound)}
	case d.OutboundGroupLimit < 0:
		return &BadDefence{"outbound_group_limit", strconv.Itoa(d.OutboundGroupLimit), errors.New("must not be negative (0: no limit)")}
	}
	return nil
}
