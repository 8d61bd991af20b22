package verify

import (
	"fmt"
	"html"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Timeline geometry, in SVG user units.
const (
	tlWidth   = 1100
	tlLeft    = 70
	tlRight   = 20
	tlTop     = 40 // fault labels
	tlPanelH  = 200
	tlGap     = 40
	tlErrH    = 110
	tlStripH  = 36 // anomaly strip
	tlBottom  = 40
	tlPlotW   = tlWidth - tlLeft - tlRight
	tlHeight  = tlTop + tlPanelH + tlGap + tlErrH + tlGap + tlStripH + tlBottom
	tlAckCol  = "#1f77b4"
	tlPollCol = "#2ca02c"
	tlErrCol  = "#d62728"
	tlFault   = "#ff7f0e"
)

// WriteHTML writes a self-contained HTML report of h and r: a summary, a
// timeline of acknowledged and polled records per second and of errors
// per second with the fault windows shaded and the anomalies marked, the
// anomaly list with examples, and the fault windows with their output.
// It uses inline CSS and SVG only: no scripts, no network assets.
func WriteHTML(w io.Writer, h *History, r *Result) error {
	var b strings.Builder
	verdict, class := "CLEAN", "clean"
	switch {
	case len(r.Anomalies) > 0:
		verdict, class = "ANOMALIES", "bad"
	case !r.OK():
		verdict, class = "UNKNOWN", "unknown"
	}
	esc := html.EscapeString
	fmt.Fprintf(&b, `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>strata verify: %s, seed %d</title>
<style>
body{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:1200px}
h1{font-size:22px;margin:0 0 4px}
h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
.verdict{display:inline-block;padding:3px 10px;border-radius:4px;font-weight:bold;color:#fff}
.clean{background:#2e7d32}.bad{background:#c62828}.unknown{background:#ef6c00}
table{border-collapse:collapse;font-size:13px}
td,th{border:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f4f4f4}
td.n{text-align:right;font-variant-numeric:tabular-nums}
.meta{color:#555;font-size:13px}
pre{white-space:pre-wrap;font-size:12px;background:#f8f8f8;padding:6px;margin:4px 0;max-height:300px;overflow:auto}
svg text{font-family:system-ui,sans-serif}
.legend span{display:inline-block;margin-right:16px;font-size:13px}
.sw{display:inline-block;width:12px;height:12px;margin-right:4px;vertical-align:middle}
</style></head><body>
`, esc(h.Topic), h.Seed)
	fmt.Fprintf(&b, `<h1>strata verify <span class="verdict %s" id="verdict">%s</span></h1>`+"\n", class, verdict)
	fmt.Fprintf(&b, `<div class="meta">topic %s &middot; seed %d &middot; run tag %s &middot; started %s &middot; bootstrap %s</div>`+"\n",
		esc(h.Topic), h.Seed, esc(h.RunTag), esc(h.Start.Format(time.RFC3339)), esc(strings.Join(h.Bootstrap, ",")))

	b.WriteString("<h2>Summary</h2>\n<table>\n")
	row := func(k, v string) { fmt.Fprintf(&b, "<tr><th>%s</th><td>%s</td></tr>\n", esc(k), esc(v)) }
	var kinds []string
	for _, k := range []string{KindIdempotent, KindNonIdempotent, KindTransactional} {
		if n := r.Producers[k]; n > 0 {
			kinds = append(kinds, fmt.Sprintf("%d %s", n, k))
		}
	}
	row("load", fmt.Sprintf("%s at %d records/s from %s producers", round(r.LoadDuration), r.Rate, strings.Join(kinds, ", ")))
	row("writes", fmt.Sprintf("%d sent, %d acknowledged, %d failed", r.Sent, r.Acked, r.SendErrors))
	if r.TxnCommitted+r.TxnAborted+r.TxnUnknown > 0 {
		row("transactions", fmt.Sprintf("%d committed, %d aborted, %d unconfirmed", r.TxnCommitted, r.TxnAborted, r.TxnUnknown))
	}
	row("longest produce gap", round(r.LongestProduceGap).String())
	row("longest fetch gap", round(r.LongestFetchGap).String())
	row("records polled", fmt.Sprint(r.Polled))
	b.WriteString("</table>\n")

	b.WriteString("<h2>Consumers</h2>\n<table><tr><th>#</th><th>spec</th><th>group</th><th>clients</th><th>polled</th><th>distinct values</th><th>assignment changes</th><th>commits</th><th>failed commits</th><th>first failed commit</th><th>longest gap</th></tr>\n")
	for i, c := range r.Consumers {
		fmt.Fprintf(&b, `<tr><td class="n">%d</td><td>%s</td><td>%s</td><td class="n">%d</td><td class="n">%d</td><td class="n">%d</td><td class="n">%d</td><td class="n">%d</td><td class="n">%d</td><td>%s</td><td class="n">%s</td></tr>`+"\n",
			i, esc(c.Spec), esc(c.Group), c.Processes, c.Polled, c.Distinct, c.Rebalances, c.Commits, c.CommitErrs, esc(c.CommitErr), round(c.LongestGap))
	}
	b.WriteString("</table>\n")

	b.WriteString("<h2>Anomalies</h2>\n<table><tr><th>type</th><th>count</th></tr>\n")
	for _, typ := range AnomalyTypes {
		n := r.Counts[typ]
		style := ""
		if n > 0 {
			style = ` style="color:#c62828;font-weight:bold"`
		}
		fmt.Fprintf(&b, `<tr><td%s>%s</td><td class="n"%s>%d</td></tr>`+"\n", style, typ, style, n)
	}
	b.WriteString("</table>\n")

	b.WriteString("<h2>Timeline</h2>\n")
	b.WriteString(`<div class="legend">` +
		`<span><i class="sw" style="background:` + tlAckCol + `"></i>acknowledged records/s</span>` +
		`<span><i class="sw" style="background:` + tlPollCol + `"></i>polled records/s (all consumers)</span>` +
		`<span><i class="sw" style="background:` + tlErrCol + `"></i>errors/s (sends, polls, commits)</span>` +
		`<span><i class="sw" style="background:` + tlFault + `;opacity:.35"></i>fault window</span>` +
		`<span>&#9650; anomaly</span></div>` + "\n")
	writeTimeline(&b, h, r)

	if len(r.Anomalies) > 0 {
		b.WriteString("<h2>Anomaly examples</h2>\n<table><tr><th>type</th><th>time</th><th>partition</th><th>offset</th><th>example</th></tr>\n")
		for _, a := range r.Anomalies {
			fmt.Fprintf(&b, `<tr><td>%s</td><td class="n">%.3fs</td><td class="n">%d</td><td class="n">%d</td><td>%s</td></tr>`+"\n",
				esc(a.Type), a.T.Seconds(), a.Partition, a.Offset, esc(a.Example))
		}
		b.WriteString("</table>\n")
	}
	if len(r.Info) > 0 {
		b.WriteString("<h2>Information (not anomalies)</h2>\n<table><tr><th>type</th><th>time</th><th>example</th></tr>\n")
		for _, a := range r.Info {
			fmt.Fprintf(&b, `<tr><td>%s</td><td class="n">%.3fs</td><td>%s</td></tr>`+"\n", esc(a.Type), a.T.Seconds(), esc(a.Example))
		}
		b.WriteString("</table>\n")
	}
	if len(h.Faults) > 0 {
		b.WriteString("<h2>Fault windows</h2>\n<table><tr><th>from</th><th>to</th><th>fault</th><th>output</th></tr>\n")
		for _, f := range h.Faults {
			out := f.Output
			if f.Err != "" {
				out = strings.TrimSpace(out + "\nerror: " + f.Err)
			}
			cell := ""
			if out != "" {
				cell = "<details><summary>output</summary><pre>" + esc(out) + "</pre></details>"
			}
			fmt.Fprintf(&b, `<tr><td class="n">%.1fs</td><td class="n">%.1fs</td><td>%s</td><td>%s</td></tr>`+"\n", f.Start.Seconds(), f.End.Seconds(), esc(f.Name), cell)
		}
		b.WriteString("</table>\n")
	}
	if len(r.Notes)+len(r.Unknown) > 0 {
		b.WriteString("<h2>Notes</h2>\n<ul>\n")
		for _, n := range r.Unknown {
			fmt.Fprintf(&b, "<li><b>unchecked:</b> %s</li>\n", esc(n))
		}
		for _, n := range r.Notes {
			fmt.Fprintf(&b, "<li>%s</li>\n", esc(n))
		}
		b.WriteString("</ul>\n")
	}
	b.WriteString("</body></html>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// writeTimeline draws the per-second series as inline SVG.
func writeTimeline(b *strings.Builder, h *History, r *Result) {
	esc := html.EscapeString
	xMax, xStep := timelineScale(h)
	x := func(sec float64) float64 { return tlLeft + sec/xMax*tlPlotW }
	tputTop := float64(tlTop)
	errTop := tputTop + tlPanelH + tlGap
	stripTop := errTop + tlErrH + tlGap

	maxT, maxE := 1.0, 1.0
	for _, s := range r.Series {
		maxT = max(maxT, float64(s.Acked), float64(s.Polled))
		maxE = max(maxE, float64(s.SendErrors+s.PollErrors+s.CommitErrors))
	}
	maxT, maxE = niceCeil(maxT), niceCeil(maxE)

	fmt.Fprintf(b, `<svg id="timeline" xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" role="img" aria-label="timeline">`+"\n",
		tlWidth, tlHeight, tlWidth, tlHeight)
	fmt.Fprintf(b, `<rect x="0" y="0" width="%d" height="%d" fill="white"/>`+"\n", tlWidth, tlHeight)

	// Fault windows: bands over every panel, labelled at the top.
	for i, f := range h.Faults {
		x0, x1 := x(f.Start.Seconds()), x(f.End.Seconds())
		if x1-x0 < 2 {
			x1 = x0 + 2
		}
		fmt.Fprintf(b, `<g class="fault"><title>%s: %.1fs to %.1fs</title><rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s" fill-opacity="0.22" stroke="%s" stroke-opacity="0.6"/>`,
			esc(f.Name), f.Start.Seconds(), f.End.Seconds(), x0, tputTop, x1-x0, stripTop+tlStripH-tputTop, tlFault, tlFault)
		label := f.Name
		if len(label) > 40 {
			label = label[:37] + "..."
		}
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f" font-size="11" fill="#b35300">%s</text></g>`+"\n", x0+2, tputTop-6-float64(i%2)*13, esc(label))
	}

	// Axes and grid.
	panel := func(top, height, yMax float64, title string) {
		fmt.Fprintf(b, `<text x="%d" y="%.1f" font-size="12" fill="#444" transform="rotate(-90 %d %.1f)" text-anchor="middle">%s</text>`+"\n",
			16, top+height/2, 16, top+height/2, esc(title))
		for i := 0; i <= 4; i++ {
			v := yMax * float64(i) / 4
			y := top + height - height*float64(i)/4
			fmt.Fprintf(b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#eee"/>`, tlLeft, y, tlLeft+tlPlotW, y)
			fmt.Fprintf(b, `<text x="%d" y="%.1f" font-size="11" text-anchor="end" fill="#555">%s</text>`+"\n", tlLeft-6, y+4, fmtNum(v))
		}
		fmt.Fprintf(b, `<rect x="%d" y="%.1f" width="%d" height="%.1f" fill="none" stroke="#999"/>`+"\n", tlLeft, top, tlPlotW, height)
	}
	panel(tputTop, tlPanelH, maxT, "records/s")
	panel(errTop, tlErrH, maxE, "errors/s")
	for sec := 0.0; sec <= xMax+xStep/2; sec += xStep {
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f" font-size="11" text-anchor="middle" fill="#555">%ss</text>`+"\n", x(sec), errTop+tlErrH+14, fmtNum(sec))
	}

	// Phases.
	for i, ph := range []struct {
		t    time.Duration
		name string
	}{{h.LoadStart, "load starts"}, {h.LoadEnd, "load ends"}, {h.SettleEnd, "consumers stop"}} {
		if ph.t <= 0 {
			continue
		}
		lx, anchor := x(ph.t.Seconds())+3, "start"
		if lx > tlLeft+tlPlotW-100 {
			lx, anchor = lx-6, "end" // keep labels near the right edge inside the plot
		}
		fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#777" stroke-dasharray="4 3"/><text x="%.1f" y="%.1f" font-size="10" fill="#777" text-anchor="%s">%s</text>`+"\n",
			x(ph.t.Seconds()), tputTop, x(ph.t.Seconds()), errTop+tlErrH, lx, tputTop+12+float64(i)*12, anchor, ph.name)
	}

	// Series: one point per second, at the middle of the second.
	line := func(val func(Second) float64, yMax, top, height float64, color string) {
		var pts []string
		for i, s := range r.Series {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(float64(i)+0.5), top+height-height*min(val(s)/yMax, 1)))
		}
		if len(pts) > 0 {
			fmt.Fprintf(b, `<polyline fill="none" stroke="%s" stroke-width="1.6" points="%s"/>`+"\n", color, strings.Join(pts, " "))
		}
	}
	line(func(s Second) float64 { return float64(s.Acked) }, maxT, tputTop, tlPanelH, tlAckCol)
	line(func(s Second) float64 { return float64(s.Polled) }, maxT, tputTop, tlPanelH, tlPollCol)
	barW := max(tlPlotW/xMax-1, 1)
	for i, s := range r.Series {
		n := s.SendErrors + s.PollErrors + s.CommitErrors
		if n == 0 {
			continue
		}
		hgt := tlErrH * min(float64(n)/maxE, 1)
		fmt.Fprintf(b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%ds: %d send, %d poll, %d commit errors</title></rect>`+"\n",
			x(float64(i)), errTop+tlErrH-hgt, barW, hgt, tlErrCol, i, s.SendErrors, s.PollErrors, s.CommitErrors)
	}

	// Anomalies.
	fmt.Fprintf(b, `<text x="%d" y="%.1f" font-size="11" text-anchor="end" fill="#555">anomalies</text>`+"\n", tlLeft-6, stripTop+tlStripH/2+4)
	fmt.Fprintf(b, `<rect x="%d" y="%.1f" width="%d" height="%d" fill="none" stroke="#ccc"/>`+"\n", tlLeft, stripTop, tlPlotW, tlStripH)
	anomalies := slices.Clone(r.Anomalies)
	slices.SortFunc(anomalies, func(a, b Anomaly) int { return int(a.T - b.T) })
	for _, a := range anomalies {
		ax := x(a.T.Seconds())
		y := stripTop + tlStripH - 8
		fmt.Fprintf(b, `<path class="anomaly" d="M%.1f %.1f l-6 10 h12 z" fill="%s"><title>%s at %.3fs: %s</title></path>`+"\n",
			ax, y-10, tlErrCol, esc(a.Type), a.T.Seconds(), esc(a.Example))
	}
	if len(anomalies) == 0 {
		fmt.Fprintf(b, `<text x="%d" y="%.1f" font-size="12" fill="#2e7d32">none</text>`+"\n", tlLeft+8, stripTop+tlStripH/2+4)
	}
	b.WriteString("</svg>\n")
}

// timelineScale returns the timeline's last second and the step between
// its ticks: a step of 1, 2 or 5 times a power of ten giving about eight
// ticks, the end rounded up to a step.
func timelineScale(h *History) (xMax, step float64) {
	end := max(h.End, time.Second).Seconds()
	step = niceCeil(end / 8)
	return math.Ceil(end/step) * step, step
}

// niceCeil rounds v up to 1, 2 or 5 times a power of ten.
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if v <= m*p {
			return m * p
		}
	}
	return 10 * p
}

func fmtNum(v float64) string {
	if v == math.Trunc(v) {
		return fmt.Sprintf("%.0f", v)
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}
