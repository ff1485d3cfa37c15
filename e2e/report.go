package e2e

import (
	"fmt"
	"html"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
)

func secs(p *float64) string {
	if p == nil {
		return "never"
	}
	return strconv.FormatFloat(*p, 'f', 1, 64) + "s"
}

func roundsStr(p *int) string {
	if p == nil {
		return "-"
	}
	return strconv.Itoa(*p)
}

// WriteTable prints the run as a human reads it: the verdict and
// convergence, one row per node, one per perturbation.
func (res *Result) WriteTable(w io.Writer) error {
	verdict := "PASS"
	if !res.Pass {
		verdict = "FAIL"
	}
	fmt.Fprintf(w, "%s: %s after %.1fs (run %s, %d nodes, %d groups, period %gs)\n", res.Manifest, verdict, res.WallSeconds, res.RunID, len(res.Nodes), res.Groups, res.PeriodSeconds)
	fmt.Fprintf(w, "all nodes up at %s; converged: %v — peer target at %s (%s rounds after all up), 90%% book at %s (%s rounds)\n",
		secs(res.SecondsAllUp), res.Converged, secs(res.SecondsToPeers), roundsStr(res.RoundsToPeers), secs(res.SecondsToBooks), roundsStr(res.RoundsToBooks))
	fmt.Fprintf(w, "load average %.1f at the start, %.1f at the end, on %d cores\n", res.LoadAvg[0], res.LoadAvg[1], res.Cores)
	if res.CrossDiscovery != nil {
		fmt.Fprintf(w, "classic ↔ dual discovery through the bridge: %v\n", *res.CrossDiscovery)
	}
	fmt.Fprintln(w)
	chain := false
	for _, n := range res.Nodes {
		chain = chain || n.Height > 0
	}
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', tabwriter.AlignRight)
	head := "node\tmode\tip\tpeers\t(target)\tbook\t(target)\tto peers\tto book\tCPU s\tpeak RSS MiB\tsent KiB\trecv KiB\tstarts\tbans\t"
	if chain {
		head += "height\t"
	}
	fmt.Fprintln(tw, head)
	for _, n := range res.Nodes {
		book := strconv.Itoa(n.FinalBook)
		bt := strconv.Itoa(n.BookTarget)
		if n.Mode == ModeClassic {
			book, bt = "-", "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%s\t%s\t%s\t%s\t%.2f\t%.1f\t%.0f\t%.0f\t%d\t%d\t",
			n.Name, n.Mode, n.IP, n.FinalPeers, n.PeerTarget, book, bt, secs(n.SecondsToPeers), secs(n.SecondsToBooks),
			n.CPUSeconds, n.PeakRSSMiB, float64(n.BytesSent)/1024, float64(n.BytesReceived)/1024, n.Starts, n.Bans)
		if chain {
			fmt.Fprintf(tw, "%d\t", n.Height)
		}
		fmt.Fprintln(tw)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(res.Perturbations) > 0 {
		fmt.Fprintln(w)
		tw = tabwriter.NewWriter(w, 2, 8, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "perturbation\tnode\tat\tfor\trecovered in\tbook entries lost\tgood peers banned\t")
		for _, p := range res.Perturbations {
			fmt.Fprintf(tw, "%s\t%s\t%.1fs\t%gs\t%s\t%d\t%d\t\n", p.Kind, p.Node, p.AtSeconds, p.ForSeconds, secs(p.RecoveredSeconds), p.BookEntriesLost, p.GoodPeersBanned)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	for _, f := range res.Failures {
		fmt.Fprintf(w, "FAIL: %s\n", f)
	}
	return nil
}

// kindColour marks each perturbation kind on the timeline.
var kindColour = map[string]string{
	KindKill:       "#d62728",
	KindDisconnect: "#ff7f0e",
	KindPause:      "#9467bd",
	KindRestart:    "#8c564b",
}

// WriteSVG draws the share of measured nodes at the peer and book
// targets over time, with every perturbation as a band from its start to
// the node's return and a label.
func (res *Result) WriteSVG(w io.Writer) error {
	const (
		W, H                 = 900, 360
		left, right, top, bt = 60, 20, 40, 50
	)
	pw, ph := float64(W-left-right), float64(H-top-bt)
	span := res.WallSeconds
	if span <= 0 {
		span = 1
	}
	x := func(t float64) float64 { return float64(left) + pw*t/span }
	y := func(f float64) float64 { return float64(top) + ph*(1-f) }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="11">`+"\n", W, H, W, H)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", W, H)
	fmt.Fprintf(&b, `<text x="%d" y="18" font-size="13">%s — share of nodes at the peer target and the 90%% book (%d nodes, %d groups)</text>`+"\n",
		left, html.EscapeString(res.Manifest), len(res.Nodes), res.Groups)
	for i, p := range res.Perturbations {
		end := p.AtSeconds + p.ForSeconds
		if p.RecoveredSeconds != nil {
			end += *p.RecoveredSeconds
		}
		wd := max(x(end)-x(p.AtSeconds), 2)
		c := kindColour[p.Kind]
		fmt.Fprintf(&b, `<rect x="%.1f" y="%d" width="%.1f" height="%.0f" fill="%s" fill-opacity="0.15"/>`+"\n", x(p.AtSeconds), top, wd, ph, c)
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%.0f" stroke="%s" stroke-width="1.5"/>`+"\n", x(p.AtSeconds), top, x(p.AtSeconds), float64(top)+ph, c)
		// Labels stagger over four rows so close perturbations stay legible.
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" fill="%s" font-size="9">%s %s</text>`+"\n", x(p.AtSeconds)+2, top+10+(i%4)*10, c, p.Kind, html.EscapeString(p.Node))
	}
	for _, f := range []float64{0, 0.5, 1} {
		fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#ccc"/>`+"\n", left, y(f), W-right, y(f))
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end">%.0f%%</text>`+"\n", left-5, y(f)+4, f*100)
	}
	step := niceStep(span)
	for t := 0.0; t <= span+1e-9 && step > 0; t += step {
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%gs</text>`+"\n", x(t), H-bt+15, t)
	}
	line := func(get func(Point) float64, colour, dash string) {
		if len(res.Timeline) == 0 {
			return
		}
		var pts []string
		for _, p := range res.Timeline {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(p.T), y(get(p))))
		}
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2" stroke-dasharray="%s" points="%s"/>`+"\n", colour, dash, strings.Join(pts, " "))
	}
	line(func(p Point) float64 { return p.PeersFrac }, "#1f77b4", "")
	line(func(p Point) float64 { return p.BooksFrac }, "#2ca02c", "5,3")
	ly := H - 15
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#1f77b4" stroke-width="2"/><text x="%d" y="%d">at peer target</text>`+"\n", left, ly-4, left+20, ly-4, left+25, ly)
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#2ca02c" stroke-width="2" stroke-dasharray="5,3"/><text x="%d" y="%d">at 90%% book</text>`+"\n", left+130, ly-4, left+150, ly-4, left+155, ly)
	lx := left + 250
	for _, k := range kinds {
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="10" height="10" fill="%s" fill-opacity="0.5"/><text x="%d" y="%d">%s</text>`+"\n", lx, ly-9, kindColour[k], lx+14, ly, k)
		lx += 90
	}
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// niceStep picks a tick spacing giving 5 to 10 ticks.
func niceStep(span float64) float64 {
	for _, s := range []float64{1, 2, 5, 10, 15, 30, 60, 120, 300, 600} {
		if span/s <= 10 {
			return s
		}
	}
	return span / 10
}
