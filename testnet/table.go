package testnet

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
)

// WriteTable prints the run's results: rounds, wall time and PEX traffic
// per stack, then CPU and memory per node (WriteCostTable), then each
// stack's final state, its misbehaviour and whether it converged. With
// more than one stack, ratio rows divide the first by each of the others.
func WriteTable(out io.Writer, spec Spec, rs []StackResult) error {
	c := spec.Criteria()
	fmt.Fprintln(out)
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "stack\tnodes\tpeers≥%d rounds\twall\tbooks≥%d rounds\twall\tPEX msgs\tPEX bytes\trun\t\n", c.PeerTarget, c.BookTarget)
	for _, r := range rs {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%d\t%s\t%.1fs\t\n",
			r.Stack, r.Nodes, roundsText(r.Peers), wallText(r.Peers), roundsText(r.Books), wallText(r.Books),
			r.Traffic.Msgs, bytesText(r.Traffic.Bytes), r.WallTime)
	}
	for _, b := range rest(rs) {
		a := rs[0]
		bothP, bothB, same := a.Peers.Reached && b.Peers.Reached, a.Books.Reached && b.Books.Reached, SameWindow(a, b)
		fmt.Fprintf(tw, "ratio %s/%s\t\t%s\t%s\t%s\t%s\t%s\t%s\t\t\n", ShortName(a.Stack), ShortName(b.Stack),
			ratioText(bothP, float64(a.Peers.Rounds), float64(b.Peers.Rounds)),
			ratioText(bothP, a.Peers.Seconds, b.Peers.Seconds),
			ratioText(bothB, float64(a.Books.Rounds), float64(b.Books.Rounds)),
			ratioText(bothB, a.Books.Seconds, b.Books.Seconds),
			ratioText(same, float64(a.Traffic.Msgs), float64(b.Traffic.Msgs)),
			ratioText(same, float64(a.Traffic.Bytes), float64(b.Traffic.Bytes)))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if err := WriteCostTable(out, rs); err != nil {
		return err
	}
	for _, r := range rs {
		fmt.Fprintf(out, "%s: final min peers %d (mean %.1f), min book coverage %d/%d, run %.1fs\n",
			r.Stack, r.MinPeers, r.MeanPeers, r.MinKnown, spec.Nodes-1, r.WallTime)
		if r.Traffic.Misbehavior > 0 {
			fmt.Fprintf(out, "%s: %d peers were stopped for PEX misbehaviour (%d bans) during the run, by reason: %s\n",
				r.Stack, r.Traffic.Misbehavior, r.Traffic.Bans, reasonsText(r.Traffic.Reasons))
		}
		if !r.Peers.Reached || !r.Books.Reached {
			fmt.Fprintf(out, "%s: NOT converged within %v (peers: %.0f%% of nodes, books: %.0f%% of nodes)\n",
				r.Stack, spec.Duration, 100*r.Peers.Final, 100*r.Books.Final)
		}
	}
	return nil
}

// WriteCostTable reports CPU and memory per node over two kinds of window,
// because the whole-run figures of two stacks compare only when their runs
// lasted equally long: a stack that converges stops early (its CPU covers
// seconds) while one that never converges runs to the full duration. The
// milestone columns charge each stack what it spent until it met the
// criterion, a like-for-like figure whatever the run lengths; the
// whole-run columns are like-for-like only with RunFull (or equal runs),
// and their ratio is printed only then.
func WriteCostTable(out io.Writer, rs []StackResult) error {
	fmt.Fprintln(out)
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "per node (process ÷ N)\tCPU s until peers\tuntil books\twhole run\tpeak RSS MiB until peers\tuntil books\twhole run\trun\t\n")
	for _, r := range rs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%.3f\t%s\t%s\t%.2f\t%.1fs\t\n", r.Stack,
			atText(r.Peers, r.Peers.CPUSecondsPerNode, "%.3f"), atText(r.Books, r.Books.CPUSecondsPerNode, "%.3f"), r.CPUSecondsPerNode,
			atText(r.Peers, r.Peers.PeakRSSMiBPerNode, "%.2f"), atText(r.Books, r.Books.PeakRSSMiBPerNode, "%.2f"), r.RSSMiBPerNode,
			r.WallTime)
	}
	var omitted []string
	for _, b := range rest(rs) {
		a := rs[0]
		bothP, bothB, same := a.Peers.Reached && b.Peers.Reached, a.Books.Reached && b.Books.Reached, SameWindow(a, b)
		fmt.Fprintf(tw, "ratio %s/%s\t%s\t%s\t%s\t%s\t%s\t%s\t\t\n", ShortName(a.Stack), ShortName(b.Stack),
			ratioText(bothP, a.Peers.CPUSecondsPerNode, b.Peers.CPUSecondsPerNode),
			ratioText(bothB, a.Books.CPUSecondsPerNode, b.Books.CPUSecondsPerNode),
			ratioText(same, a.CPUSecondsPerNode, b.CPUSecondsPerNode),
			ratioText(bothP, a.Peers.PeakRSSMiBPerNode, b.Peers.PeakRSSMiBPerNode),
			ratioText(bothB, a.Books.PeakRSSMiBPerNode, b.Books.PeakRSSMiBPerNode),
			ratioText(same, a.RSSMiBPerNode, b.RSSMiBPerNode))
		if !same {
			omitted = append(omitted, fmt.Sprintf("%.1fs and %.1fs", a.WallTime, b.WallTime))
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, o := range omitted {
		if _, err := fmt.Fprintf(out, "whole-run ratios omitted: the runs lasted %s (use --run-full for equal windows)\n", o); err != nil {
			return err
		}
	}
	return nil
}

// rest is every stack after the first: the ones the first is divided by
// in the ratio rows.
func rest(rs []StackResult) []StackResult {
	if len(rs) < 2 {
		return nil
	}
	return rs[1:]
}

// SameWindow is true when two runs were measured over comparable windows:
// both ran the full duration, or their lengths differ by less than 10 %.
func SameWindow(a, b StackResult) bool {
	if a.RunFull && b.RunFull {
		return true
	}
	lo, hi := min(a.WallTime, b.WallTime), max(a.WallTime, b.WallTime)
	return hi > 0 && lo >= 0.9*hi
}

// ShortName is a stack's name up to its first '/' ("pexp2p", "cometbft").
func ShortName(s string) string {
	name, _, _ := strings.Cut(s, "/")
	return name
}

// reasonsText lists reason=count sorted by reason.
func reasonsText(m map[string]int64) string {
	if len(m) == 0 {
		return "not recorded"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%d", k, m[k])
	}
	return strings.Join(parts, ", ")
}

func atText(m Milestone, v float64, format string) string {
	if !m.Reached {
		return "-"
	}
	return fmt.Sprintf(format, v)
}

// ratioText is a/b, or "-" when either side did not reach the milestone
// or b is zero (a ratio to "not reached" would be a made-up number).
func ratioText(ok bool, a, b float64) string {
	if !ok || b <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f×", a/b)
}

func roundsText(m Milestone) string {
	if !m.Reached {
		return "not reached"
	}
	return fmt.Sprint(m.Rounds)
}

func wallText(m Milestone) string {
	if !m.Reached {
		return "-"
	}
	return fmt.Sprintf("%.2fs", m.Seconds)
}

func bytesText(b int64) string {
	switch {
	case b >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20))
	case b >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(b)/(1<<10))
	}
	return fmt.Sprintf("%d B", b)
}
