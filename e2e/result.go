package e2e

import (
	"fmt"
	"math"
	"sort"
)

// Result is what a run measured; `pexp2p e2e --json` prints it.
type Result struct {
	Manifest      string  `json:"manifest"`
	RunID         string  `json:"run_id"`
	Groups        int     `json:"groups"`
	PeriodSeconds float64 `json:"period_seconds"`
	WallSeconds   float64 `json:"wall_seconds"`

	// Converged: every measured node (all but seeds) was at its peer
	// target and at its book target, each at some sample of the run.
	Converged      bool     `json:"converged"`
	SecondsToPeers *float64 `json:"seconds_to_peers"`
	SecondsToBooks *float64 `json:"seconds_to_books"`
	// SecondsAllUp is when every node's endpoint first answered: the
	// processes' start-up, which a loaded machine stretches. Rounds
	// count from there, so they measure discovery, not start-up.
	SecondsAllUp  *float64 `json:"seconds_all_up"`
	RoundsToPeers *int     `json:"rounds_to_peers"`
	RoundsToBooks *int     `json:"rounds_to_books"`

	Nodes         []NodeResult    `json:"nodes"`
	Perturbations []PerturbResult `json:"perturbations"`

	// CrossDiscovery, for a manifest with both classic and dual nodes:
	// every classic node's book holds a dual node and every dual node's
	// classic book holds a classic node — addresses that could only have
	// crossed through the bridge or been learned from the other side.
	CrossDiscovery *bool `json:"cross_discovery,omitempty"`

	// Pass is the verdict: converged, every perturbation recovered,
	// no entry lost on kill or restart, no good peer banned, and cross
	// discovery where it applies. Failures says what failed.
	Pass     bool     `json:"pass"`
	Failures []string `json:"failures"`

	// LoadAvg is the machine's 1-minute load average when the nodes
	// started and when they stopped: a figure measured on a machine
	// whose load exceeds its cores measures the machine as much as the
	// nodes.
	LoadAvg [2]float64 `json:"load_avg"`
	Cores   int        `json:"cores"`

	Timeline []Point `json:"timeline"`
}

// NodeResult is one process's row.
type NodeResult struct {
	Name           string   `json:"name"`
	Mode           string   `json:"mode"`
	Group          int      `json:"group"`
	IP             string   `json:"ip"`
	PeerTarget     int      `json:"peer_target"`
	BookTarget     int      `json:"book_target"`
	SecondsToPeers *float64 `json:"seconds_to_peers"`
	SecondsToBooks *float64 `json:"seconds_to_books"`
	FinalPeers     int      `json:"final_peers"`
	FinalBook      int      `json:"final_book"`
	ClassicPeers   int      `json:"classic_peers,omitempty"`
	Height         int      `json:"height,omitempty"` // a chain node's last block height
	// CPUSeconds and PeakRSSMiB are the process's own (all incarnations:
	// CPU summed, RSS the highest), from rusage and /proc.
	CPUSeconds    float64 `json:"cpu_seconds"`
	PeakRSSMiB    float64 `json:"peak_rss_mib"`
	BytesSent     uint64  `json:"bytes_sent"`
	BytesReceived uint64  `json:"bytes_received"`
	// FramesDropped is the frames the node's link dropped: its loss,
	// and any beyond the link's queue (which should be none).
	FramesDropped int64 `json:"frames_dropped"`
	Starts        int   `json:"starts"`
	Bans          int   `json:"bans"`
	CrossKnown    *int  `json:"cross_known,omitempty"`
}

// PerturbResult is one perturbation and the node's recovery.
type PerturbResult struct {
	Kind       string  `json:"kind"`
	Node       string  `json:"node"`
	AtSeconds  float64 `json:"at_seconds"`
	ForSeconds float64 `json:"for_seconds"`
	// RecoveredSeconds is from the node's return (restart, link up,
	// SIGCONT) until it was at its peer target again (a seed, which hangs
	// up on its peers by design: until it had a peer again); null if
	// never.
	RecoveredSeconds *float64 `json:"recovered_seconds"`
	// BookEntriesLost is the entries the node held before the
	// perturbation minus those it came back with (for kill and restart:
	// those in the file it starts from).
	BookEntriesLost int `json:"book_entries_lost"`
	// GoodPeersBanned is the bans any node issued from the perturbation
	// until the next one (or the end). Every node of a run is honest, so
	// every ban is of a good peer.
	GoodPeersBanned int    `json:"good_peers_banned"`
	Error           string `json:"error,omitempty"`
}

// Point is one sample round of the timeline.
type Point struct {
	T         float64 `json:"t"`
	PeersFrac float64 `json:"peers_frac"`
	BooksFrac float64 `json:"books_frac"`
}

// analysis holds what result computation needs, independent of the
// processes, so it can be tested on made-up samples.
type analysis struct {
	t        *Testnet
	samples  [][]sample
	events   []event
	booksAt  map[int]int
	wall     float64
	cross    map[string]int // node → cross_known, for classic and dual nodes
	hasCross bool
}

func (r *run) result(linkBytes map[int][2]uint64) *Result {
	r.mu.Lock()
	a := analysis{t: r.t, samples: r.samples, events: append([]event(nil), r.events...), booksAt: r.booksAt, wall: r.since()}
	r.mu.Unlock()
	a.cross, a.hasCross = r.crossKnown()
	res := a.compute()
	res.RunID = r.net.run
	for i := range res.Nodes {
		cpu, rss := r.procs[i].usage()
		res.Nodes[i].CPUSeconds = round3(cpu)
		res.Nodes[i].PeakRSSMiB = round3(rss)
		res.Nodes[i].Starts = r.procs[i].starts
		if p := r.sw.port(i); p != nil {
			res.Nodes[i].FramesDropped = p.dropped.Load()
		}
		if lb, ok := linkBytes[i]; ok {
			res.Nodes[i].BytesSent, res.Nodes[i].BytesReceived = lb[0], lb[1]
		}
	}
	return res
}

// crossKnown reads, after the nodes have saved their books, how many
// nodes of the other stack each classic and dual node's book holds.
func (r *run) crossKnown() (map[string]int, bool) {
	var classics, duals []*Node
	for _, n := range r.t.Nodes {
		switch n.Mode {
		case ModeClassic:
			classics = append(classics, n)
		case ModeDual:
			duals = append(duals, n)
		}
	}
	if len(classics) == 0 || len(duals) == 0 {
		return nil, false
	}
	idsOf := func(ns []*Node) map[string]bool {
		m := map[string]bool{}
		for _, n := range ns {
			m[r.ids[n.Name].CometID] = true
		}
		return m
	}
	classicIDs, dualIDs := idsOf(classics), idsOf(duals)
	out := map[string]int{}
	count := func(n *Node, path string, want map[string]bool) {
		ids, err := bookIDs(path)
		if err != nil {
			r.logf("reading %s's book: %v", n.Name, err)
		}
		k := 0
		for _, id := range ids {
			if want[id] {
				k++
			}
		}
		out[n.Name] = k
	}
	for _, n := range classics {
		count(n, bookFile(r.work, n), dualIDs)
	}
	for _, n := range duals {
		count(n, classicBookFile(r.work, n), classicIDs)
	}
	return out, true
}

func (a analysis) compute() *Result {
	t := a.t
	res := &Result{Manifest: t.Name, Groups: t.Groups, PeriodSeconds: t.Period.Seconds(), WallSeconds: round3(a.wall), Perturbations: []PerturbResult{}}
	rounds := 0
	if len(a.samples) > 0 {
		rounds = len(a.samples[0])
		for _, s := range a.samples {
			rounds = min(rounds, len(s))
		}
	}
	atPeers := func(n *Node, s sample) bool { return s.OK && s.R.Peers >= t.PeerTargetOf(n) }
	atBook := func(n *Node, s sample) bool { return s.OK && s.R.Book >= t.BookTargetOf(n) }

	measured := 0
	for _, n := range t.Nodes {
		if n.Measured() {
			measured++
		}
	}
	for k := 0; k < rounds && res.SecondsAllUp == nil; k++ {
		up := true
		for _, n := range t.Nodes {
			up = up && a.samples[n.Index][k].OK
		}
		if up {
			res.SecondsAllUp = ptr(round3(a.samples[0][k].T))
		}
	}
	for k := 0; k < rounds; k++ {
		p, b := 0, 0
		for _, n := range t.Nodes {
			if !n.Measured() {
				continue
			}
			s := a.samples[n.Index][k]
			if atPeers(n, s) {
				p++
			}
			if atBook(n, s) {
				b++
			}
		}
		tk := a.samples[0][k].T
		pt := Point{T: round3(tk)}
		if measured > 0 {
			pt.PeersFrac, pt.BooksFrac = float64(p)/float64(measured), float64(b)/float64(measured)
		}
		res.Timeline = append(res.Timeline, pt)
		if p == measured && res.SecondsToPeers == nil {
			res.SecondsToPeers = ptr(round3(tk))
		}
		if b == measured && res.SecondsToBooks == nil {
			res.SecondsToBooks = ptr(round3(tk))
		}
	}
	res.Converged = res.SecondsToPeers != nil && res.SecondsToBooks != nil
	roundsOf := func(s *float64) *int {
		if s == nil || res.SecondsAllUp == nil || t.Period <= 0 {
			return nil
		}
		v := int(math.Ceil(math.Max(0, *s-*res.SecondsAllUp) / t.Period.Seconds()))
		return &v
	}
	res.RoundsToPeers, res.RoundsToBooks = roundsOf(res.SecondsToPeers), roundsOf(res.SecondsToBooks)

	for _, n := range t.Nodes {
		nr := NodeResult{Name: n.Name, Mode: n.Mode, Group: n.Group, IP: n.IP, PeerTarget: t.PeerTargetOf(n), BookTarget: t.BookTargetOf(n)}
		for _, s := range a.samples[n.Index] {
			if nr.SecondsToPeers == nil && atPeers(n, s) {
				nr.SecondsToPeers = ptr(round3(s.T))
			}
			if nr.SecondsToBooks == nil && atBook(n, s) {
				nr.SecondsToBooks = ptr(round3(s.T))
			}
			if s.OK {
				nr.FinalPeers, nr.FinalBook, nr.ClassicPeers, nr.Height = s.R.Peers, s.R.Book, s.R.ClassicPeers, s.R.Height
			}
			nr.Bans = s.Bans
		}
		if a.hasCross {
			if k, ok := a.cross[n.Name]; ok {
				nr.CrossKnown = &k
			}
		}
		res.Nodes = append(res.Nodes, nr)
	}

	evs := append([]event(nil), a.events...)
	sort.Slice(evs, func(i, j int) bool { return evs[i].Start < evs[j].Start })
	for i, ev := range evs {
		n := t.Node(ev.P.Node)
		pr := PerturbResult{Kind: ev.P.Kind, Node: ev.P.Node, AtSeconds: round3(ev.Start), ForSeconds: ev.P.For.Seconds(), Error: ev.Err}
		ss := a.samples[n.Index]
		before := -1
		for _, s := range ss {
			if s.T >= ev.Start {
				break
			}
			if s.OK {
				before = s.R.Book
			}
		}
		if ev.End > 0 {
			for _, s := range ss {
				if s.T >= ev.End && s.OK && s.R.Peers >= t.RecoveryTargetOf(n) {
					pr.RecoveredSeconds = ptr(round3(math.Max(0, s.T-ev.End)))
					break
				}
			}
		}
		after := -1
		if ev.P.Kind == KindKill || ev.P.Kind == KindRestart {
			if v, ok := a.booksAt[ev.Index]; ok {
				after = v
			}
		} else if ev.End > 0 {
			for _, s := range ss {
				if s.T >= ev.End && s.OK {
					after = s.R.Book
					break
				}
			}
		}
		if before >= 0 && after >= 0 && before > after {
			pr.BookEntriesLost = before - after
		}
		until := a.wall
		if i+1 < len(evs) {
			until = evs[i+1].Start
		}
		for _, other := range t.Nodes {
			pr.GoodPeersBanned += bansBetween(a.samples[other.Index], ev.Start, until)
		}
		res.Perturbations = append(res.Perturbations, pr)
	}

	if a.hasCross {
		ok := true
		for _, n := range t.Nodes {
			if k, has := a.cross[n.Name]; has && k == 0 {
				ok = false
			}
		}
		res.CrossDiscovery = &ok
	}
	res.judge()
	return res
}

// bansBetween is the growth of a node's ban count from its last sample
// before from to its last sample before until.
func bansBetween(ss []sample, from, until float64) int {
	b0, b1 := 0, 0
	for _, s := range ss {
		if s.T < from {
			b0 = s.Bans
		}
		if s.T < until {
			b1 = s.Bans
		}
	}
	return max(0, b1-b0)
}

func (res *Result) judge() {
	res.Failures = []string{}
	if res.SecondsToPeers == nil {
		res.Failures = append(res.Failures, "not every node reached its peer target")
	}
	if res.SecondsToBooks == nil {
		res.Failures = append(res.Failures, "not every node reached its book target")
	}
	for _, p := range res.Perturbations {
		what := fmt.Sprintf("%s %s at %.1fs", p.Kind, p.Node, p.AtSeconds)
		if p.Error != "" {
			res.Failures = append(res.Failures, what+": "+p.Error)
		}
		if p.RecoveredSeconds == nil {
			res.Failures = append(res.Failures, what+": the node did not regain its peer target")
		}
		if (p.Kind == KindKill || p.Kind == KindRestart) && p.BookEntriesLost > 0 {
			res.Failures = append(res.Failures, fmt.Sprintf("%s: %d book entries lost", what, p.BookEntriesLost))
		}
		if p.GoodPeersBanned > 0 {
			res.Failures = append(res.Failures, fmt.Sprintf("%s: %d good peers banned", what, p.GoodPeersBanned))
		}
	}
	if res.CrossDiscovery != nil && !*res.CrossDiscovery {
		res.Failures = append(res.Failures, "classic and dual nodes did not all discover each other through the bridge")
	}
	res.Pass = len(res.Failures) == 0
}

func ptr[T any](v T) *T { return &v }

func round3(v float64) float64 { return math.Round(v*1000) / 1000 }
