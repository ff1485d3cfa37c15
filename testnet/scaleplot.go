package testnet

import (
	"fmt"
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
	ch := newSVGChart(320, len(series), title)
	x := func(n float64) float64 {
		return ch.left + ch.pw*(math.Log10(n)-math.Log10(lo))/(math.Log10(hi)-math.Log10(lo))
	}
	y := func(r float64) float64 { return ch.top + ch.ph*(1-r/rtop) }
	colors := []string{"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"}

	for i := 0; i <= 5; i++ {
		r := rtop * float64(i) / 5
		ch.gridY(y(r), fmt.Sprintf("%g", r))
	}
	for d := lo; d <= hi*1.0001; d *= 10 {
		for _, m := range []float64{1, 2, 5} {
			n := d * m
			if n > hi*1.0001 {
				break
			}
			ch.gridX(x(n), fmt.Sprintf("%g", n))
		}
	}
	ch.frame("nodes N (log scale)")
	fmt.Fprintf(&ch.b, `<text x="16" y="%.1f" transform="rotate(-90 16 %.1f)" text-anchor="middle">rounds</text>`+"\n", ch.top+ch.ph/2, ch.top+ch.ph/2)
	for i, s := range series {
		color := colors[i%len(colors)]
		dash := ""
		if s.Dashed {
			dash = "6 4"
		}
		var pts [][2]float64
		for _, p := range s.Points {
			if p.Reached {
				pts = append(pts, [2]float64{x(float64(p.N)), y(p.Rounds)})
			}
		}
		ch.polyline(color, dash, pts)
		for _, p := range s.Points {
			if p.Reached {
				fmt.Fprintf(&ch.b, `<circle cx="%.1f" cy="%.1f" r="3.5" fill="%s"/>`+"\n", x(float64(p.N)), y(p.Rounds), color)
			} else {
				fmt.Fprintf(&ch.b, `<circle cx="%.1f" cy="%.1f" r="4" fill="white" stroke="%s" stroke-width="2"><title>not reached</title></circle>`+"\n", x(float64(p.N)), ch.top+6, color)
			}
		}
		ch.legend(i, ch.left, color, dash, s.Name)
	}
	return ch.bytes()
}
