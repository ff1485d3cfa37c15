package testnet

import (
	"encoding/xml"
	"errors"
	"io"
	"strings"
	"testing"
	"time"
)

// The SVG is well-formed XML with two curves per stack, and a stack name
// that is not XML-safe is escaped in the legend.
func TestSVGDrawsTwoCurvesPerStack(t *testing.T) {
	spec := Spec{Nodes: 4, Seeds: 1, SeedMode: true, Period: time.Second, Transport: "quic", MaxOutbound: 10}
	mk := func(name string) StackResult {
		r := StackResult{Stack: name}
		for i := 0; i <= 5; i++ {
			r.Timeline = append(r.Timeline, Point{T: float64(i) * 0.7, PeersFrac: float64(i) / 5, BooksFrac: float64(i%3) / 2})
		}
		return r
	}
	svg := SVG(spec, []StackResult{mk("pexp2p/libp2p-quic"), mk("a <b> & c")})
	dec := xml.NewDecoder(strings.NewReader(string(svg)))
	polylines := 0
	var text strings.Builder
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("SVG is not well-formed XML: %v\n%s", err, svg)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			if tok.Name.Local == "polyline" {
				polylines++
			}
		case xml.CharData:
			text.Write(tok)
		}
	}
	if polylines != 4 {
		t.Fatalf("%d curves, want 4", polylines)
	}
	if !strings.Contains(text.String(), "a <b> & c: peers ≥ 2") {
		t.Fatalf("legend lost the stack name:\n%s", svg)
	}
	// 3.5 s of samples: the axis ends at 5 s, ticks every second.
	if !strings.Contains(string(svg), ">5s<") || !strings.Contains(string(svg), ">1s<") {
		t.Fatalf("time axis:\n%s", svg)
	}
}

func TestNiceCeil(t *testing.T) {
	for in, want := range map[float64]float64{0: 1, 0.3: 0.5, 1: 1, 1.2: 2, 3.5: 5, 7: 10, 42: 50, 101: 200} {
		if got := niceCeil(in); got != want {
			t.Errorf("niceCeil(%v) = %v, want %v", in, got, want)
		}
	}
}
