package discovery

import (
	"fmt"
	"io"
	"strings"
)

// WriteSVG draws, for every result, two curves over rounds: the share of
// counted nodes at the peer target (solid) and the mean book coverage
// (dashed), on one chart, so stacks run with the same period compare at a
// glance. It writes a self-contained SVG document.
func WriteSVG(w io.Writer, title string, results []*Result) error {
	const (
		width, height = 720, 400
		left, right   = 60, 170
		top, bottom   = 40, 50
	)
	pw, ph := float64(width-left-right), float64(height-top-bottom)
	maxR := 1.0
	for _, r := range results {
		if n := len(r.Samples); n > 0 && r.Samples[n-1].Rounds > maxR {
			maxR = r.Samples[n-1].Rounds
		}
	}
	x := func(rounds float64) float64 { return float64(left) + pw*rounds/maxR }
	y := func(frac float64) float64 { return float64(top) + ph*(1-frac) }
	colors := []string{"#1f77b4", "#d62728", "#2ca02c", "#9467bd"}

	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">`+"\n", width, height)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&b, `<text x="%d" y="20" font-size="14">%s</text>`+"\n", left, escape(title))
	for _, f := range []float64{0, 0.25, 0.5, 0.75, 0.9, 1} {
		fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#ddd"/><text x="%d" y="%.1f" text-anchor="end">%.0f%%</text>`+"\n",
			left, y(f), width-right, y(f), left-6, y(f)+4, 100*f)
	}
	step := niceStep(maxR)
	for r := 0.0; r <= maxR+1e-9; r += step {
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%.0f</text>`+"\n", x(r), height-bottom+18, r)
	}
	fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">rounds (ensure-peers periods)</text>`+"\n", float64(left)+pw/2, height-12)
	for i, r := range results {
		c := colors[i%len(colors)]
		var peers, books []string
		for _, s := range r.Samples {
			peers = append(peers, fmt.Sprintf("%.1f,%.1f", x(s.Rounds), y(float64(s.AtPeerTarget)/float64(r.Counted))))
			books = append(books, fmt.Sprintf("%.1f,%.1f", x(s.Rounds), y(s.MeanBook)))
		}
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>`+"\n", c, strings.Join(peers, " "))
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2" stroke-dasharray="6 4" points="%s"/>`+"\n", c, strings.Join(books, " "))
		ly := top + 10 + 40*i
		fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="2"/><text x="%d" y="%d">%s: at peer target</text>`+"\n",
			width-right+10, ly, width-right+30, ly, c, width-right+34, ly+4, escape(r.Stack))
		fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="2" stroke-dasharray="6 4"/><text x="%d" y="%d">%s: mean book</text>`+"\n",
			width-right+10, ly+16, width-right+30, ly+16, c, width-right+34, ly+20, escape(r.Stack))
	}
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func niceStep(maxR float64) float64 {
	for _, s := range []float64{1, 2, 5, 10, 20, 50, 100, 200, 500} {
		if maxR/s <= 10 {
			return s
		}
	}
	return 1000
}

func escape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}
