package testnet

import (
	"strings"
	"testing"
	"time"

	"github.com/pexp2p/pexp2p/pex"
)

// The ratio rows divide the first stack by the second, and refuse to
// divide by a milestone that was not reached, or whole-run figures of
// runs of different lengths.
func TestWriteTableRatiosOnlyLikeForLike(t *testing.T) {
	spec := Spec{Nodes: 3, Seeds: 1, Period: time.Second, MaxOutbound: 10, Duration: time.Minute}
	rs := []StackResult{
		{Stack: "pexp2p/libp2p-quic", Nodes: 3, Peers: Milestone{Reached: true, Rounds: 2, Seconds: 2, CPUSecondsPerNode: 0.05, PeakRSSMiBPerNode: 3},
			Books:   Milestone{Reached: true, Rounds: 3, Seconds: 3, CPUSecondsPerNode: 0.06, PeakRSSMiBPerNode: 3.5},
			Traffic: Traffic{Msgs: 10, Bytes: 1000}, CPUSecondsPerNode: 0.1, RSSMiBPerNode: 3, WallTime: 3},
		{Stack: "cometbft/classic-tcp", Nodes: 3, Peers: Milestone{Reached: true, Rounds: 8, Seconds: 8, CPUSecondsPerNode: 0.1, PeakRSSMiBPerNode: 2},
			Books:   Milestone{Final: 0.5},
			Traffic: Traffic{Msgs: 40, Bytes: 4000}, CPUSecondsPerNode: 0.2, RSSMiBPerNode: 2, WallTime: 60},
	}
	rows := func(out string) (ratio, cost []string) {
		var ratios []string
		for _, l := range strings.Split(out, "\n") {
			if strings.Contains(l, "ratio pexp2p/cometbft") {
				ratios = append(ratios, l)
			}
		}
		if len(ratios) != 2 {
			t.Fatalf("want 2 ratio rows (rounds, cost):\n%s", out)
		}
		return strings.Fields(ratios[0]), strings.Fields(ratios[1])
	}
	var b strings.Builder
	if err := WriteTable(&b, spec, rs); err != nil {
		t.Fatal(err)
	}
	ratio, cost := rows(b.String())
	// ratio, label, peers rounds, wall, books rounds, wall, msgs, bytes:
	// the runs lasted 3 s and 60 s, so no traffic ratio.
	want := []string{"ratio", "pexp2p/cometbft", "0.25×", "0.25×", "-", "-", "-", "-"}
	if strings.Join(ratio, " ") != strings.Join(want, " ") {
		t.Fatalf("ratio row %q, want %q\n%s", ratio, want, b.String())
	}
	// CPU until peers, until books, whole run; RSS the same: only the
	// peer milestone (both reached) divides; whole run is withheld.
	want = []string{"ratio", "pexp2p/cometbft", "0.50×", "-", "-", "1.50×", "-", "-"}
	if strings.Join(cost, " ") != strings.Join(want, " ") {
		t.Fatalf("cost row %q, want %q\n%s", cost, want, b.String())
	}
	if !strings.Contains(b.String(), "cometbft/classic-tcp: NOT converged") || !strings.Contains(b.String(), "whole-run ratios omitted") {
		t.Fatalf("unconverged classic row or unequal windows not flagged:\n%s", b.String())
	}

	// With RunFull both rows cover the same window: whole-run ratios are
	// printed.
	rs[0].RunFull, rs[1].RunFull = true, true
	rs[0].WallTime = 60
	b.Reset()
	if err := WriteTable(&b, spec, rs); err != nil {
		t.Fatal(err)
	}
	ratio, cost = rows(b.String())
	if ratio[6] != "0.25×" || cost[4] != "0.50×" || cost[7] != "1.50×" || strings.Contains(b.String(), "omitted") {
		t.Fatalf("run-full ratios %q %q\n%s", ratio, cost, b.String())
	}
}

// Misbehaviour is counted per reason, the reactor's and the transport's
// alike, and the table names them, so that a run with bans says why.
func TestCounterNamesMisbehaviourReasonsInTheTable(t *testing.T) {
	o := &Counter{}
	if o.Traffic().Reasons != nil {
		t.Fatal("reasons before any misbehaviour")
	}
	o.Misbehavior(pex.ReasonRequestTooSoon)
	o.Misbehavior(pex.ReasonRequestTooSoon)
	o.WireViolation("wire_oversized", true)
	o.WireViolation("wire_second_message", false)
	tr := o.Traffic()
	if tr.Reasons[string(pex.ReasonRequestTooSoon)] != 2 || tr.Reasons["wire_oversized"] != 1 || tr.Misbehavior != 4 || tr.Bans != 1 {
		t.Fatalf("traffic %+v", tr)
	}
	// The copy is the caller's: later events do not change it.
	o.Ban()
	if tr.Bans != 1 || o.Traffic().Bans != 2 {
		t.Fatalf("traffic is not a snapshot: %+v", tr)
	}
	var b strings.Builder
	spec := Spec{Nodes: 3, Seeds: 1, Period: time.Second, MaxOutbound: 10, Duration: time.Minute}
	if err := WriteTable(&b, spec, []StackResult{{Stack: "pexp2p/libp2p-quic", Nodes: 3, Traffic: tr}}); err != nil {
		t.Fatal(err)
	}
	want := "by reason: " + string(pex.ReasonRequestTooSoon) + "=2, wire_oversized=1, wire_second_message=1"
	if !strings.Contains(b.String(), want) {
		t.Fatalf("table does not say %q:\n%s", want, b.String())
	}
}
