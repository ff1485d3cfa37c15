package testnet

import (
	"fmt"
	"math"
	"strconv"
)

// SVG draws, for every stack, the share of measured nodes at the peer
// target (solid) and at the book target (dashed) over time, as a
// self-contained SVG document. Two polylines per stack need no plotting
// library.
func SVG(spec Spec, rs []StackResult) []byte {
	tmax := spec.Period.Seconds()
	for _, r := range rs {
		for _, p := range r.Timeline {
			tmax = math.Max(tmax, p.T)
		}
	}
	tmax = niceCeil(tmax)
	c := spec.Criteria()
	mode := " (regular)"
	if spec.SeedMode {
		mode = " in seed mode"
	}
	// One legend row per stack: two stacks' four labels do not fit on
	// one 760-pixel line.
	ch := newSVGChart(310, len(rs), fmt.Sprintf("pexp2p testnet: %d nodes, %d seed(s)%s, period %v, %s — share of nodes converged", spec.Nodes, spec.Seeds, mode, spec.Period, spec.Transport))
	x := func(t float64) float64 { return ch.left + ch.pw*t/tmax }
	y := func(f float64) float64 { return ch.top + ch.ph*(1-f) }
	colors := []string{"#1f77b4", "#d62728", "#2ca02c", "#9467bd"}

	for i := 0; i <= 4; i++ {
		ch.gridY(y(float64(i)/4), fmt.Sprintf("%d%%", i*25))
	}
	const ticks = 5
	for i := 0; i <= ticks; i++ {
		t := tmax * float64(i) / ticks
		ch.gridX(x(t), strconv.FormatFloat(math.Round(t*100)/100, 'f', -1, 64)+"s")
	}
	ch.frame("time since start")

	for i, r := range rs {
		color := colors[i%len(colors)]
		legendX := ch.left
		for _, line := range []struct {
			label string
			dash  string
			get   func(Point) float64
		}{
			{fmt.Sprintf("%s: peers ≥ %d", r.Stack, c.PeerTarget), "", func(p Point) float64 { return p.PeersFrac }},
			{fmt.Sprintf("%s: book ≥ %d others", r.Stack, c.BookTarget), "6 4", func(p Point) float64 { return p.BooksFrac }},
		} {
			pts := make([][2]float64, len(r.Timeline))
			for j, p := range r.Timeline {
				pts[j] = [2]float64{x(p.T), y(line.get(p))}
			}
			ch.polyline(color, line.dash, pts)
			legendX = ch.legend(i, legendX, color, line.dash, line.label)
		}
	}
	return ch.bytes()
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
