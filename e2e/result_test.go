package e2e

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"io"
	"strings"
	"testing"
)

// twoNodeRun is a made-up run: a seed and two regular nodes sampled every
// second; b is killed at 10.5 s and back at 10.6 s.
func twoNodeRun(t *testing.T) analysis {
	tn, err := Parse("r.toml", []byte(`
duration = "30s"
period = "5s"
[node.s]
mode = "seed"
[node.a]
mode = "regular"
seeds = ["s"]
[node.b]
mode = "regular"
seeds = ["s"]
[[perturb]]
kind = "kill"
node = "b"
at = "10s"
`))
	if err != nil {
		t.Fatal(err)
	}
	// Targets: peers min(10, 1 other non-seed) = 1; book ⌈0.9·2⌉ = 2.
	mk := func(T float64, ok bool, peers, book, bans int) sample {
		return sample{T: T, OK: ok, R: Reading{Peers: peers, Book: book}, Bans: bans}
	}
	a := analysis{t: tn, wall: 20, booksAt: map[int]int{0: 1}}
	a.samples = make([][]sample, 3)
	for k := 0; k <= 20; k++ {
		T := float64(k)
		// a (index 0): one peer from 2 s, full book from 4 s; bans 1
		// at 15 s.
		bans := 0
		if k >= 15 {
			bans = 1
		}
		a.samples[0] = append(a.samples[0], mk(T, true, min(k/2, 1), min(k/2, 2), bans))
		// b (index 1): same until the kill; down at 11; back with a
		// book of 1 and a peer again at 13.
		switch {
		case k <= 10:
			a.samples[1] = append(a.samples[1], mk(T, true, min(k/2, 1), min(k/2, 2), 0))
		case k == 11:
			a.samples[1] = append(a.samples[1], mk(T, false, 0, 0, 0))
		case k == 12:
			a.samples[1] = append(a.samples[1], mk(T, true, 0, 1, 0))
		default:
			a.samples[1] = append(a.samples[1], mk(T, true, 1, 2, 0))
		}
		a.samples[2] = append(a.samples[2], mk(T, true, 0, 2, 0)) // the seed, unmeasured
	}
	a.events = []event{{P: tn.Perturbs[0], Index: 0, Start: 10.5, End: 10.6}}
	return a
}

func TestResultConvergenceRecoveryLossAndBans(t *testing.T) {
	res := twoNodeRun(t).compute()
	if !res.Converged || *res.SecondsToPeers != 2 || *res.SecondsToBooks != 4 {
		t.Fatalf("convergence: converged %v, peers %v, books %v", res.Converged, *res.SecondsToPeers, *res.SecondsToBooks)
	}
	if res.SecondsAllUp == nil || *res.SecondsAllUp != 0 {
		t.Errorf("all up at %v, want 0", res.SecondsAllUp)
	}
	if *res.RoundsToPeers != 1 || *res.RoundsToBooks != 1 {
		t.Errorf("rounds %d %d, want 1 1 (period 5 s)", *res.RoundsToPeers, *res.RoundsToBooks)
	}
	if len(res.Perturbations) != 1 {
		t.Fatalf("perturbations %+v", res.Perturbations)
	}
	p := res.Perturbations[0]
	if p.RecoveredSeconds == nil || *p.RecoveredSeconds != 2.4 {
		t.Errorf("recovered %v, want 2.4 (back at 10.6, at target in the 13 s sample)", p.RecoveredSeconds)
	}
	if p.BookEntriesLost != 1 {
		t.Errorf("lost %d, want 1 (2 before, 1 in the file)", p.BookEntriesLost)
	}
	if p.GoodPeersBanned != 1 {
		t.Errorf("banned %d, want a's ban at 15 s", p.GoodPeersBanned)
	}
	if res.Pass {
		t.Error("a run that lost an entry and banned a good peer passed")
	}
	if len(res.Failures) != 2 {
		t.Errorf("failures %q", res.Failures)
	}
	if res.Nodes[1].SecondsToPeers == nil || *res.Nodes[1].SecondsToPeers != 2 {
		t.Errorf("b to peers %v", res.Nodes[1].SecondsToPeers)
	}
}

// Rounds count from the moment every node answered, not from the launch.
func TestRoundsCountFromAllUp(t *testing.T) {
	a := twoNodeRun(t)
	for k := 0; k < 7; k++ {
		a.samples[2][k].OK = false // the seed answers from 7 s
	}
	res := a.compute()
	if res.SecondsAllUp == nil || *res.SecondsAllUp != 7 {
		t.Fatalf("all up at %v, want 7", res.SecondsAllUp)
	}
	// Peers at 2 s and books at 4 s, both before all were up: 0 rounds.
	if *res.RoundsToPeers != 0 || *res.RoundsToBooks != 0 {
		t.Errorf("rounds %d %d, want 0 0", *res.RoundsToPeers, *res.RoundsToBooks)
	}
}

func TestResultNeverConvergedHasNullTimes(t *testing.T) {
	a := twoNodeRun(t)
	for k := range a.samples[0] {
		a.samples[0][k].R.Book = 0
	}
	res := a.compute()
	if res.Converged || res.SecondsToBooks != nil || res.RoundsToBooks != nil {
		t.Fatalf("converged %v books %v", res.Converged, res.SecondsToBooks)
	}
	b, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte(`"seconds_to_books":null`)) {
		t.Errorf("JSON does not say null: %s", b)
	}
}

// The JSON carries the result's fields under their documented names.
func TestResultJSONFieldNames(t *testing.T) {
	res := twoNodeRun(t).compute()
	b, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"converged", "seconds_to_peers", "seconds_to_books", "nodes", "perturbations"} {
		if _, ok := m[k]; !ok {
			t.Errorf("no top-level %q", k)
		}
	}
	node := m["nodes"].([]any)[0].(map[string]any)
	for _, k := range []string{"name", "ip", "cpu_seconds", "peak_rss_mib"} {
		if _, ok := node[k]; !ok {
			t.Errorf("no node field %q", k)
		}
	}
	pert := m["perturbations"].([]any)[0].(map[string]any)
	for _, k := range []string{"kind", "node", "recovered_seconds", "book_entries_lost", "good_peers_banned"} {
		if _, ok := pert[k]; !ok {
			t.Errorf("no perturbation field %q", k)
		}
	}
}

func TestSVGIsWellFormedAndMarksEachPerturbation(t *testing.T) {
	res := twoNodeRun(t).compute()
	var buf bytes.Buffer
	if err := res.WriteSVG(&buf); err != nil {
		t.Fatal(err)
	}
	dec := xml.NewDecoder(&buf)
	polylines, marks := 0, 0
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed XML: %v", err)
		}
		if se, ok := tok.(xml.StartElement); ok {
			switch se.Name.Local {
			case "polyline":
				polylines++
			case "line":
				for _, a := range se.Attr {
					if a.Name.Local == "stroke" && a.Value == kindColour[KindKill] {
						marks++
					}
				}
			}
		}
	}
	if polylines != 2 || marks != 1 {
		t.Errorf("%d polylines (want 2), %d kill marks (want 1)", polylines, marks)
	}
}

func TestTableSaysPassOrFailAndWhy(t *testing.T) {
	res := twoNodeRun(t).compute()
	var buf bytes.Buffer
	if err := res.WriteTable(&buf); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{"r: FAIL", "FAIL: kill b at 10.5s: 1 book entries lost", "kill     b"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}
