package bench

import (
	"encoding/xml"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// Chart geometry, in SVG user units.
const (
	chartWidth   = 960
	chartPanelH  = 240 // plot area height of each panel
	chartLeft    = 90  // room for y tick labels and the y axis label
	chartRight   = 30
	chartTop     = 60 // room for the title
	chartGap     = 90 // between the panels: x tick labels, x axis label, next panel title
	chartBottom  = 60
	chartHeight  = chartTop + 2*chartPanelH + chartGap + chartBottom
	chartPlotW   = chartWidth - chartLeft - chartRight
	chartXTicks  = 8
	chartYTicks  = 5
	chartMaxDots = 120
	chartFont    = "font-family=\"sans-serif\" font-size=\"12\""
	chartTPColor = "#1f77b4"
	chartLtColor = "#d62728"
)

// WriteChart draws r's per-second series as a self-contained SVG: records
// per second in the upper panel and the p99 latency of each second in the
// lower one (seconds without latency samples are left out), against seconds
// since the start. Each series is one polyline with one point per drawn
// second.
func WriteChart(w io.Writer, r *Result) error {
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d">`+"\n",
		chartWidth, chartHeight, chartWidth, chartHeight)
	fmt.Fprintf(&b, `<rect x="0" y="0" width="%d" height="%d" fill="white"/>`+"\n", chartWidth, chartHeight)

	title := fmt.Sprintf("strata bench %s, topic %s: %d records, %.1f records/s, %.2f MB/s", r.Workload, r.Topic, r.Records, r.RecordsPerSecond, r.MBPerSecond)
	if r.Latency != nil {
		title += ", p99 " + formatMs(r.Latency.P99Ms)
	}
	b.WriteString(`<text x="` + strconv.Itoa(chartWidth/2) + `" y="24" text-anchor="middle" font-family="sans-serif" font-size="15" font-weight="bold">`)
	if err := xml.EscapeText(&b, []byte(title)); err != nil {
		return err
	}
	b.WriteString("</text>\n")

	maxT := 1.0
	for _, iv := range r.Series {
		maxT = max(maxT, iv.EndSeconds)
	}
	xMax, xStep := niceScale(maxT, chartXTicks)

	var tput, lat []point
	maxTput, maxLat := 0.0, 0.0
	for _, iv := range r.Series {
		tput = append(tput, point{iv.EndSeconds, iv.RecordsPerSecond})
		maxTput = max(maxTput, iv.RecordsPerSecond)
		if iv.P99Ms != nil {
			lat = append(lat, point{iv.EndSeconds, *iv.P99Ms})
			maxLat = max(maxLat, *iv.P99Ms)
		}
	}

	top := chartTop
	drawPanel(&b, panel{
		top: top, title: "throughput per second", yLabel: "records/s",
		xMax: xMax, xStep: xStep, yMax: maxTput, color: chartTPColor, points: tput,
		empty: "no records",
	})
	top += chartPanelH + chartGap
	empty := "no latency samples"
	if r.Workload == WorkloadConsume {
		empty = "consume measures no latency"
	}
	drawPanel(&b, panel{
		top: top, title: "p99 latency per second", yLabel: "p99 latency (ms)",
		xMax: xMax, xStep: xStep, yMax: maxLat, color: chartLtColor, points: lat,
		empty: empty,
	})
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

type point struct{ x, y float64 }

type panel struct {
	top         int
	title       string
	yLabel      string
	xMax, xStep float64
	yMax        float64
	color       string
	points      []point
	empty       string // shown instead of a line when points is empty
}

func drawPanel(b *strings.Builder, p panel) {
	left, right := float64(chartLeft), float64(chartLeft+chartPlotW)
	top, bottom := float64(p.top), float64(p.top+chartPanelH)
	yMax, yStep := niceScale(p.yMax, chartYTicks)
	sx := func(x float64) float64 { return left + x/p.xMax*(right-left) }
	sy := func(y float64) float64 { return bottom - y/yMax*(bottom-top) }

	fmt.Fprintf(b, `<text x="%.1f" y="%.1f" %s font-weight="bold">%s</text>`+"\n", left, top-10, chartFont, p.title)
	// Grid and y ticks.
	for i := 0; ; i++ {
		y := float64(i) * yStep
		if y > yMax*(1+1e-9) {
			break
		}
		py := sy(y)
		fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#e0e0e0"/>`+"\n", left, py, right, py)
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f" %s text-anchor="end">%s</text>`+"\n", left-6, py+4, chartFont, tickLabel(y))
	}
	// X ticks.
	for i := 0; ; i++ {
		x := float64(i) * p.xStep
		if x > p.xMax*(1+1e-9) {
			break
		}
		px := sx(x)
		fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#000"/>`+"\n", px, bottom, px, bottom+5)
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f" %s text-anchor="middle">%s</text>`+"\n", px, bottom+18, chartFont, tickLabel(x))
	}
	// Axes and their labels.
	fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#000"/>`+"\n", left, top, left, bottom)
	fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#000"/>`+"\n", left, bottom, right, bottom)
	fmt.Fprintf(b, `<text x="%.1f" y="%.1f" %s text-anchor="middle">time (s)</text>`+"\n", (left+right)/2, bottom+38, chartFont)
	cy := (top + bottom) / 2
	fmt.Fprintf(b, `<text x="20" y="%.1f" %s text-anchor="middle" transform="rotate(-90 20 %.1f)">%s</text>`+"\n", cy, chartFont, cy, p.yLabel)

	if len(p.points) == 0 {
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f" %s text-anchor="middle" fill="#888">%s</text>`+"\n", (left+right)/2, cy, chartFont, p.empty)
		return
	}
	b.WriteString(`<polyline fill="none" stroke="` + p.color + `" stroke-width="1.5" points="`)
	for i, pt := range p.points {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(b, "%.1f,%.1f", sx(pt.x), sy(pt.y))
	}
	b.WriteString(`"/>` + "\n")
	// Dots mark each second while there is room, so a run of a second or
	// two, whose line is a single point, still shows.
	if len(p.points) <= chartMaxDots {
		for _, pt := range p.points {
			fmt.Fprintf(b, `<circle cx="%.1f" cy="%.1f" r="2.5" fill="%s"/>`+"\n", sx(pt.x), sy(pt.y), p.color)
		}
	}
}

// niceScale returns an axis maximum >= v and a tick step of 1, 2 or 5 times
// a power of ten giving about n ticks.
func niceScale(v float64, n int) (axisMax, step float64) {
	if !(v > 0) || math.IsInf(v, 0) {
		return 1, 1.0 / float64(n)
	}
	raw := v / float64(n)
	exp := math.Pow(10, math.Floor(math.Log10(raw)))
	switch f := raw / exp; {
	case f <= 1:
		step = exp
	case f <= 2:
		step = 2 * exp
	case f <= 5:
		step = 5 * exp
	default:
		step = 10 * exp
	}
	return math.Ceil(v/step-1e-9) * step, step
}

// tickLabel prints an axis value compactly: 0, 0.5, 250, 12k, 1.5M.
func tickLabel(v float64) string {
	switch a := math.Abs(v); {
	case a >= 1e6:
		return strconv.FormatFloat(v/1e6, 'g', 4, 64) + "M"
	case a >= 1e4:
		return strconv.FormatFloat(v/1e3, 'g', 4, 64) + "k"
	}
	return strconv.FormatFloat(v, 'g', 4, 64)
}
