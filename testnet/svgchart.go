package testnet

import (
	"bytes"
	"fmt"
	"html"
)

// svgChart is the frame both plots draw in, so that they look alike: a
// white page 760 pixels wide with a title, a plot area with grey grid
// lines and a frame, and a legend below it, one row per series. Two
// kinds of chart need no plotting library.
type svgChart struct {
	b          bytes.Buffer
	left, top  float64 // the plot area's corner
	pw, ph     float64 // and its size
	h          float64 // the page's height
	legendRows int
}

const (
	chartWidth   = 760.0
	chartLeft    = 60.0
	chartRight   = 20.0
	chartTop     = 40.0
	chartLegendH = 16.0
)

// newSVGChart starts a chart whose plot area is ph high, with room for
// legendRows legend rows (at least one), and writes the page and title.
func newSVGChart(ph float64, legendRows int, title string) *svgChart {
	c := &svgChart{left: chartLeft, top: chartTop, pw: chartWidth - chartLeft - chartRight, ph: ph, legendRows: legendRows}
	c.h = c.top + ph + 54 + chartLegendH*float64(max(1, legendRows))
	fmt.Fprintf(&c.b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f" font-family="sans-serif" font-size="12">`+"\n", chartWidth, c.h, chartWidth, c.h)
	fmt.Fprintf(&c.b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&c.b, `<text x="%.0f" y="20" font-size="14">%s</text>`+"\n", c.left, html.EscapeString(title))
	return c
}

// gridY draws a horizontal grid line at pixel y, labelled on the left.
func (c *svgChart) gridY(y float64, label string) {
	fmt.Fprintf(&c.b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#ddd"/>`+"\n", c.left, y, c.left+c.pw, y)
	fmt.Fprintf(&c.b, `<text x="%.1f" y="%.1f" text-anchor="end">%s</text>`+"\n", c.left-6, y+4, label)
}

// gridX draws a vertical grid line at pixel x, labelled below the plot.
func (c *svgChart) gridX(x float64, label string) {
	fmt.Fprintf(&c.b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#ddd"/>`+"\n", x, c.top, x, c.top+c.ph)
	fmt.Fprintf(&c.b, `<text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`+"\n", x, c.top+c.ph+16, label)
}

// frame draws the plot area's border and names the x axis.
func (c *svgChart) frame(xTitle string) {
	fmt.Fprintf(&c.b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="none" stroke="#333"/>`+"\n", c.left, c.top, c.pw, c.ph)
	fmt.Fprintf(&c.b, `<text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`+"\n", c.left+c.pw/2, c.top+c.ph+32, xTitle)
}

// dashAttr is the stroke attribute of a dash pattern ("" for solid).
func dashAttr(dash string) string {
	if dash == "" {
		return ""
	}
	return fmt.Sprintf(` stroke-dasharray="%s"`, dash)
}

// polyline draws a curve through pts (pixel coordinates).
func (c *svgChart) polyline(color, dash string, pts [][2]float64) {
	fmt.Fprintf(&c.b, `<polyline fill="none" stroke="%s" stroke-width="2"%s points="`, color, dashAttr(dash))
	for j, p := range pts {
		if j > 0 {
			c.b.WriteByte(' ')
		}
		fmt.Fprintf(&c.b, "%.1f,%.1f", p[0], p[1])
	}
	c.b.WriteString(`"/>` + "\n")
}

// legend draws a sample of a curve and its label in legend row row (0 is
// the top one) from pixel x, and returns where the next entry of that row
// may start.
func (c *svgChart) legend(row int, x float64, color, dash, label string) float64 {
	y := c.h - 14 - chartLegendH*float64(c.legendRows-1-row)
	fmt.Fprintf(&c.b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="2"%s/>`+"\n", x, y-4, x+24, y-4, color, dashAttr(dash))
	fmt.Fprintf(&c.b, `<text x="%.1f" y="%.1f">%s</text>`+"\n", x+30, y, html.EscapeString(label))
	return x + 30 + 7*float64(len([]rune(label))) + 20
}

// bytes closes the document and returns it.
func (c *svgChart) bytes() []byte {
	c.b.WriteString("</svg>\n")
	return c.b.Bytes()
}
