package testnet

import (
	"bytes"
	"fmt"
	"html"
	"math"
)

// ScalePoint is one network size's rounds to a criterion; Reached false
// means not within the run (drawn as an open marker at the top).
type ScalePoint struct {
	N       int
	Rounds  float64
	Reached bool
}

// ScaleSeries is one stack's or simulation's rounds against N.
type ScaleSeries struct {
	Name   string
	Dashed bool // simulations dashed, real hosts solid
	Points []ScalePoint
}

// ScaleSVG draws rounds against N on a logarithmic N axis, one polyline
// with markers per series, as a self-contained SVG document.
func ScaleSVG(title string, series []ScaleSeries) []byte {
	const (
		w, ph            = 760.0, 320.0
		left, right, top = 60.0, 20.0, 40.0
		legendRow        = 16.0
	)
	bott := 54 + legendRow*float64(max(1, len(series)))
	h := top + ph + bott
	pw := w - left - right
	nmin, nmax, rmax := math.Inf(1), 0.0, 1.0
	for _, s := range series {
		for _, p := range s.Points {
			nmin = math.Min(nmin, float64(p.N))
			nmax = math.Max(nmax, float64(p.N))
			if p.Reached {
				rmax = math.Max(rmax, p.Rounds)
			}
		}
	}
	if nmax == 0 {
		nmin, nmax = 10, 100
	}
	lo := math.Pow(10, math.Floor(math.Log10(nmin)))
	hi := math.Pow(10, math.Ceil(math.Log10(nmax)))
	if hi <= lo {
		hi = lo * 10
	}
	rtop := niceCeil(rmax * 1.1)
	x := func(n float64) float64 {
		return left + pw*(math.Log10(n)-math.Log10(lo))/(math.Log10(hi)-math.Log10(lo))
	}
	y := func(r float64) float64 { return top + ph*(1-r/rtop) }
	colors := []string{"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"}

	var b bytes.Buffer
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f" font-family="sans-serif" font-size="12">`+"\n", w, h, w, h)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&b, `<text x="%.0f" y="20" font-size="14">%s</text>`+"\n", left, html.EscapeString(title))
	for i := 0; i <= 5; i++ {
		r := rtop * float64(i) / 5
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#ddd"/>`+"\n", left, y(r), left+pw, y(r))
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="end">%g</text>`+"\n", left-6, y(r)+4, r)
	}
	for d := lo; d <= hi*1.0001; d *= 10 {
		for _, m := range []float64{1, 2, 5} {
			n := d * m
			if n > hi*1.0001 {
				break
			}
			fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#ddd"/>`+"\n", x(n), top, x(n), top+ph)
			fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle">%g</text>`+"\n", x(n), top+ph+16, n)
		}
	}
	fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="none" stroke="#333"/>`+"\n", left, top, pw, ph)
	fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle">nodes N (log scale)</text>`+"\n", left+pw/2, top+ph+32)
	fmt.Fprintf(&b, `<text x="16" y="%.1f" transform="rotate(-90 16 %.1f)" text-anchor="middle">rounds</text>`+"\n", top+ph/2, top+ph/2)
	for i, s := range series {
		color := colors[i%len(colors)]
		dash := ""
		if s.Dashed {
			dash = ` stroke-dasharray="6 4"`
		}
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2"%s points="`, color, dash)
		first := true
		for _, p := range s.Points {
			if !p.Reached {
				continue
			}
			if !first {
				b.WriteByte(' ')
			}
			first = false
			fmt.Fprintf(&b, "%.1f,%.1f", x(float64(p.N)), y(p.Rounds))
		}
		b.WriteString(`"/>` + "\n")
		for _, p := range s.Points {
			if p.Reached {
				fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="3.5" fill="%s"/>`+"\n", x(float64(p.N)), y(p.Rounds), color)
			} else {
				fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="4" fill="white" stroke="%s" stroke-width="2"><title>not reached</title></circle>`+"\n", x(float64(p.N)), top+6, color)
			}
		}
		ly := h - 14 - legendRow*float64(len(series)-1-i)
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="2"%s/>`+"\n", left, ly-4, left+24, ly-4, color, dash)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f">%s</text>`+"\n", left+30, ly, html.EscapeString(s.Name))
	}
	b.WriteString("</svg>\n")
	return b.Bytes()
}
