package main

import (
	"fmt"
	"strconv"
	"time"

	"github.com/spf13/pflag"

	"github.com/pexp2p/pexp2p/cometnode"
)

// pexp2pKey is one of pexp2p's own settings of `pexp2p cometbft start`,
// which CometBFT's config has no key for: the flag --pexp2p.<name>, the
// key <name> of a [pexp2p] table in CometBFT's config.toml (CometBFT
// ignores tables it does not know), or CMT_PEXP2P_<NAME>.
type pexp2pKey struct {
	name string
	def  any // bool, int, time.Duration or string: the flag's type
	doc  string
	set  func(s *cometnode.Settings, v any)
}

var pexp2pKeys = []pexp2pKey{
	{"ensure_peers_period", cometnode.DefaultEnsurePeersPeriod,
		"how often PEX tops up the node's peers (pexp2p; upstream fixes it at 30s)",
		func(s *cometnode.Settings, v any) { s.EnsurePeersPeriod = v.(time.Duration) }},
	{"addr_book_save_interval", time.Duration(0),
		"how often the address book is saved while the node runs (pexp2p; 0: upstream's 2m)",
		func(s *cometnode.Settings, v any) { s.AddrBookSaveInterval = v.(time.Duration) }},
	{"test_before_evict", false,
		"eclipse defence: probe an old address before a new one evicts it from a full old bucket (off: upstream)",
		func(s *cometnode.Settings, v any) { s.Defences.TestBeforeEvict = v.(bool) }},
	{"feeler_interval", time.Duration(0),
		"eclipse defence: mean time between feelers, probes that move live new addresses to old buckets (0: off, as upstream; Bitcoin Core: 2m)",
		func(s *cometnode.Settings, v any) { s.Defences.FeelerInterval = v.(time.Duration) }},
	{"max_anchors", 0,
		"eclipse defence: outbound peers kept in anchors.json beside the address book at stop and dialled first at start (0: off, as upstream; Bitcoin Core: 2)",
		func(s *cometnode.Settings, v any) { s.Defences.MaxAnchors = v.(int) }},
	{"outbound_group_limit", 0,
		"eclipse defence: most outbound peers in one network group, /16 or the AS of asmap_file (0: no limit, as upstream; Bitcoin Core: 1)",
		func(s *cometnode.Settings, v any) { s.Defences.OutboundGroupLimit = v.(int) }},
	{"asmap_file", "",
		"eclipse defence: AS map of \"<prefix> <AS number>\" lines, grouping addresses by AS instead of /16 (relative to --home; empty: off)",
		func(s *cometnode.Settings, v any) { s.Defences.ASMapFile = v.(string) }},
	{"signed_records", false,
		"exchange signed peer records with pexp2p peers that offer them, mark signed addresses verified, dial every address of a peer (off: upstream's one address)",
		func(s *cometnode.Settings, v any) { s.Defences.SignedRecords = v.(bool) }},
	{"prefer_verified_addrs", false,
		"favour addresses their own peer signed when dialling and gossiping (off: upstream's draws)",
		func(s *cometnode.Settings, v any) { s.Defences.PreferVerifiedAddrs = v.(bool) }},
}

// addPexp2pFlags registers --pexp2p.<name> for every pexp2p key.
func addPexp2pFlags(fs *pflag.FlagSet) {
	for _, k := range pexp2pKeys {
		name := "pexp2p." + k.name
		switch d := k.def.(type) {
		case bool:
			fs.Bool(name, d, k.doc)
		case int:
			fs.Int(name, d, k.doc)
		case time.Duration:
			fs.Duration(name, d, k.doc)
		case string:
			fs.String(name, d, k.doc)
		}
	}
}

// pexp2pSettings reads every pexp2p key through get (viper.Get) and
// returns what to apply to the node's settings. A value of the wrong
// type, or a negative number or duration, is a *cometnode.ConfigError
// naming the key; ranges that depend on other settings are checked by
// cometnode.New.
func pexp2pSettings(get func(key string) any) (func(*cometnode.Settings), error) {
	vals := make([]any, len(pexp2pKeys))
	for i, k := range pexp2pKeys {
		key := "pexp2p." + k.name
		raw := get(key)
		if raw == nil {
			vals[i] = k.def
			continue
		}
		v, err := pexp2pValue(k.def, raw)
		if err != nil {
			return nil, &cometnode.ConfigError{Key: key, Value: fmt.Sprint(raw), Err: err}
		}
		vals[i] = v
	}
	return func(s *cometnode.Settings) {
		for i, k := range pexp2pKeys {
			k.set(s, vals[i])
		}
	}, nil
}

// pexp2pValue converts what viper holds for a key (a flag's typed value,
// a TOML value, an environment string) to the type of def.
func pexp2pValue(def, raw any) (any, error) {
	switch def.(type) {
	case bool:
		switch v := raw.(type) {
		case bool:
			return v, nil
		case string:
			b, err := strconv.ParseBool(v)
			if err != nil {
				return nil, fmt.Errorf("not a boolean (true or false)")
			}
			return b, nil
		}
		return nil, fmt.Errorf("not a boolean (true or false)")
	case int:
		var n int64
		switch v := raw.(type) {
		case int:
			n = int64(v)
		case int64:
			n = v
		case string:
			var err error
			if n, err = strconv.ParseInt(v, 10, 0); err != nil {
				return nil, fmt.Errorf("not an integer")
			}
		default:
			return nil, fmt.Errorf("not an integer")
		}
		if n < 0 {
			return nil, fmt.Errorf("must not be negative")
		}
		return int(n), nil
	case time.Duration:
		var d time.Duration
		switch v := raw.(type) {
		case time.Duration:
			d = v
		case string:
			var err error
			if d, err = time.ParseDuration(v); err != nil {
				return nil, fmt.Errorf("not a duration (want e.g. 500ms, 30s, 2m)")
			}
		default:
			return nil, fmt.Errorf("not a duration (want e.g. 500ms, 30s, 2m)")
		}
		if d < 0 {
			return nil, fmt.Errorf("must not be negative")
		}
		return d, nil
	case string:
		if v, ok := raw.(string); ok {
			return v, nil
		}
		return nil, fmt.Errorf("not a string")
	}
	return nil, fmt.Errorf("unsupported key type %T", def)
}
