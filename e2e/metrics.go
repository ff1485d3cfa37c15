package e2e

import (
	"bufio"
	"bytes"
	"strconv"
	"strings"
)

// Reading is what one scrape of a node's /metrics says.
type Reading struct {
	Peers        int // connected peers on the node's main face (libp2p; classic for cometbft)
	ClassicPeers int // peers of a pexp2p node's classic face
	Book         int // entries in the libp2p book (new + old)
	Bans         int // bans issued so far by this incarnation (all faces)
	Height       int // cometbft_consensus_height, for chain nodes
}

// parseMetrics reads the Prometheus text format as pexp2p and cometbft
// write it. Only the series the runner needs are read; a pexp2p node
// labels its faces (face="libp2p"|"classic") and directions, cometbft
// v0.38 has one cometbft_p2p_peers series labelled by chain only.
//
// A chain node (pexp2p cometbft) serves pexp2p's series under prefix
// "pexp2p_", beside CometBFT's own cometbft_p2p_peers of its switch; the
// caller passes the prefix of the series to read.
func parseMetrics(b []byte, prefix string) Reading {
	var r Reading
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		name, labels, value, ok := splitSample(line)
		if !ok {
			continue
		}
		face := labels["face"]
		if name == "cometbft_consensus_height" {
			r.Height = max(r.Height, int(value))
			continue
		}
		name, ok = strings.CutPrefix(name, prefix)
		if !ok {
			continue
		}
		switch name {
		case "cometbft_p2p_peers":
			if d, has := labels["direction"]; has && d != "inbound" && d != "outbound" {
				continue // "dialing" is not a peer
			}
			if face == "classic" {
				r.ClassicPeers += int(value)
			} else {
				r.Peers += int(value)
			}
		case "cometbft_p2p_addrbook_size":
			if face == "" || face == "libp2p" {
				r.Book += int(value)
			}
		case "cometbft_p2p_bans_total":
			r.Bans += int(value)
		}
	}
	return r
}

// splitSample splits `name{a="x",b="y"} value [timestamp]`.
func splitSample(line string) (string, map[string]string, float64, bool) {
	labels := map[string]string{}
	var name, rest string
	if i := strings.IndexByte(line, '{'); i >= 0 {
		j := strings.LastIndexByte(line, '}')
		if j < i {
			return "", nil, 0, false
		}
		name, rest = line[:i], strings.TrimSpace(line[j+1:])
		for _, kv := range splitLabels(line[i+1 : j]) {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				continue
			}
			if uq, err := strconv.Unquote(strings.TrimSpace(v)); err == nil {
				labels[strings.TrimSpace(k)] = uq
			}
		}
	} else {
		var ok bool
		name, rest, ok = strings.Cut(line, " ")
		if !ok {
			return "", nil, 0, false
		}
	}
	fields := strings.Fields(rest)
	if len(fields) == 0 {
		return "", nil, 0, false
	}
	v, err := strconv.ParseFloat(fields[0], 64)
	if err != nil {
		return "", nil, 0, false
	}
	return name, labels, v, true
}

// splitLabels splits on commas outside quoted values.
func splitLabels(s string) []string {
	var out []string
	inQ, esc, start := false, false, 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case esc:
			esc = false
		case c == '\\':
			esc = true
		case c == '"':
			inQ = !inQ
		case c == ',' && !inQ:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	if start < len(s) {
		out = append(out, s[start:])
	}
	return out
}
