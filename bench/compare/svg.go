package compare

import (
	"fmt"
	"html"
	"io"
	"math"
	"strings"
)

// SVG layout, in pixels.
const (
	svgLabelW = 330
	svgPlotW  = 420
	svgRightW = 150
	svgRowH   = 20
	svgTop    = 56
	// The axis is logarithmic from 1/16× to 64× of Apache's value.
	svgMinAdv = 1.0 / 16
	svgMaxAdv = 64.0
)

// WriteSVG draws one bar per row with both values: how many times better
// zkgo is than Apache on that measure (the ratio, inverted where lower is
// better), on a log axis centred on 1×. Green bars meet the row's target
// (or beat Apache when there is none), red ones do not; the target is a
// black tick.
func (r *Report) WriteSVG(w io.Writer) error {
	var rows []Row
	for _, row := range r.Rows {
		if row.Ratio != nil && *row.Ratio > 0 {
			rows = append(rows, row)
		}
	}
	width := svgLabelW + svgPlotW + svgRightW
	height := svgTop + len(rows)*svgRowH + 40
	x := func(adv float64) float64 {
		adv = math.Min(math.Max(adv, svgMinAdv), svgMaxAdv)
		span := math.Log2(svgMaxAdv) - math.Log2(svgMinAdv)
		return svgLabelW + (math.Log2(adv)-math.Log2(svgMinAdv))/span*svgPlotW
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", width, height, width, height)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", width, height)
	fmt.Fprintf(&b, `<text x="10" y="20" font-size="15" font-weight="bold">zkgo vs Apache ZooKeeper 3.8: times better (log scale)</text>`+"\n")
	fmt.Fprintf(&b, `<text x="10" y="38" fill="#555">%s — %s, %d cores</text>`+"\n", html.EscapeString(r.Date), html.EscapeString(r.Machine.CPU), r.Machine.Cores)
	for _, t := range []float64{0.125, 0.25, 0.5, 1, 2, 4, 8, 16, 32} {
		xt := x(t)
		stroke := "#ddd"
		if t == 1 {
			stroke = "#333"
		}
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="%s"/>`+"\n", xt, svgTop-6, xt, svgTop+len(rows)*svgRowH, stroke)
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle" fill="#555">%s×</text>`+"\n", xt, svgTop+len(rows)*svgRowH+16, trimFloat(t))
	}
	for i, row := range rows {
		y := svgTop + i*svgRowH
		adv := *row.Ratio
		if row.Better == Lower {
			adv = 1 / adv
		}
		good := adv >= 1
		if row.Met != nil {
			good = *row.Met
		}
		color := "#2e9d4a"
		if !good {
			color = "#d0453a"
		}
		x0, x1 := x(1), x(adv)
		if x1 < x0 {
			x0, x1 = x1, x0
		}
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end">%s</text>`+"\n", svgLabelW-8, y+14, html.EscapeString(row.Name))
		fmt.Fprintf(&b, `<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="%s"/>`+"\n", x0, y+3, math.Max(x1-x0, 1), svgRowH-6, color)
		if row.Target > 0 {
			tadv := row.Target
			if row.Better == Lower {
				tadv = 1 / tadv
			}
			fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="black" stroke-width="2"/>`+"\n", x(tadv), y+1, x(tadv), y+svgRowH-1)
		}
		fmt.Fprintf(&b, `<text x="%d" y="%d">%s better</text>`+"\n", svgLabelW+svgPlotW+8, y+14, html.EscapeString(fmtRatio(adv)))
	}
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func trimFloat(f float64) string {
	s := fmt.Sprintf("%g", f)
	return s
}
