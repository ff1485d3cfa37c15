package testnet

import (
	"encoding/xml"
	"strings"
	"testing"
)

// The scale plot is well-formed SVG with one polyline per series, a
// marker per point (open for one not reached) and the series named in
// the legend, escaped.
func TestScaleSVGDrawsEverySeriesOnALogAxis(t *testing.T) {
	svg := string(ScaleSVG("rounds to 90 % books", []ScaleSeries{
		{Name: "sim <2 visitors>", Dashed: true, Points: []ScalePoint{{N: 50, Rounds: 3, Reached: true}, {N: 1000, Rounds: 38, Reached: true}}},
		{Name: "real", Points: []ScalePoint{{N: 100, Rounds: 10, Reached: true}, {N: 500, Reached: false}}},
	}))
	if err := xml.Unmarshal([]byte(svg), new(struct{})); err != nil {
		t.Fatalf("not well-formed: %v", err)
	}
	for want, n := range map[string]int{"<polyline": 2, "<circle": 4, "not reached": 1, "sim &lt;2 visitors&gt;": 1, ">1000<": 1} {
		if got := strings.Count(svg, want); got != n {
			t.Errorf("%q appears %d times, want %d", want, got, n)
		}
	}
}
