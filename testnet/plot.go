package testnet

import (
	"bytes"
	"fmt"
	"html"
	"math"
	"strconv"
)

// SVG draws, for every stack, the share of measured nodes at the peer
// target (solid) and at the book target (dashed) over time, as a
// self-contained SVG document. Two polylines per stack need no plotting
// library.
func SVG(spec Spec, rs []StackResult) []byte {
	const (
		w, ph            = 760.0, 310.0
		left, right, top = 60.0, 20.0, 40.0
		legendRow        = 16.0
	)
	// One legend row per stack: two stacks' four labels do not fit on
	// one 760-pixel line.
	bott := 54 + legendRow*float64(max(1, len(rs)))
	h := top + ph + bott
	pw := w - left - right
	tmax := spec.Period.Seconds()
	for _, r := range rs {
		for _, p := range r.Timeline {
			tmax = math.Max(tmax, p.T)
		}
	}
	tmax = niceCeil(tmax)
	x := func(t float64) float64 { return left + pw*t/tmax }
	y := func(f float64) float64 { return top + ph*(1-f) }
	colors := []string{"#1f77b4", "#d62728", "#2ca02c", "#9467bd"}
	c := spec.Criteria()
	mode := " (regular)"
	if spec.SeedMode {
		mode = " in seed mode"
	}

	var b bytes.Buffer
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f" font-family="sans-serif" font-size="12">`+"\n", w, h, w, h)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&b, `<text x="%.0f" y="20" font-size="14">%s</text>`+"\n", left,
		html.EscapeString(fmt.Sprintf("pexp2p testnet: %d nodes, %d seed(s)%s, period %v, %s — share of nodes converged", spec.Nodes, spec.Seeds, mode, spec.Period, spec.Transport)))
	for i := 0; i <= 4; i++ {
		f := float64(i) / 4
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#ddd"/>`+"\n", left, y(f), left+pw, y(f))
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="end">%d%%</text>`+"\n", left-6, y(f)+4, i*25)
	}
	const ticks = 5
	for i := 0; i <= ticks; i++ {
		t := tmax * float64(i) / ticks
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#ddd"/>`+"\n", x(t), top, x(t), top+ph)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle">%ss</text>`+"\n", x(t), top+ph+16, strconv.FormatFloat(math.Round(t*100)/100, 'f', -1, 64))
	}
	fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="none" stroke="#333"/>`+"\n", left, top, pw, ph)
	fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle">time since start</text>`+"\n", left+pw/2, top+ph+32)

	for i, r := range rs {
		color := colors[i%len(colors)]
		legendY := h - 14 - legendRow*float64(len(rs)-1-i)
		legendX := left
		for _, line := range []struct {
			label string
			dash  string
			get   func(Point) float64
		}{
			{fmt.Sprintf("%s: peers ≥ %d", r.Stack, c.PeerTarget), "", func(p Point) float64 { return p.PeersFrac }},
			{fmt.Sprintf("%s: book ≥ %d others", r.Stack, c.BookTarget), "6 4", func(p Point) float64 { return p.BooksFrac }},
		} {
			dash := ""
			if line.dash != "" {
				dash = fmt.Sprintf(` stroke-dasharray="%s"`, line.dash)
			}
			fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2"%s points="`, color, dash)
			for j, p := range r.Timeline {
				if j > 0 {
					b.WriteByte(' ')
				}
				fmt.Fprintf(&b, "%.1f,%.1f", x(p.T), y(line.get(p)))
			}
			b.WriteString(`"/>` + "\n")
			fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="2"%s/>`+"\n", legendX, legendY-4, legendX+24, legendY-4, color, dash)
			fmt.Fprintf(&b, `<text x="%.1f" y="%.1f">%s</text>`+"\n", legendX+30, legendY, html.EscapeString(line.label))
			legendX += 30 + 7*float64(len([]rune(line.label))) + 20
		}
	}
	b.WriteString("</svg>\n")
	return b.Bytes()
}

// niceCeil rounds up to 1, 2 or 5 times a power of ten, so axis ticks
// fall on round numbers.
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}
