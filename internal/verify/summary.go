package verify

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"
)

// summaryExamples is how many examples of each anomaly type the text
// summary prints.
const summaryExamples = 3

// WriteSummary writes a readable text summary: what ran, what the clients
// did, the fault windows, and each anomaly type with its count and a few
// concrete examples. The last line says CLEAN, ANOMALIES or UNKNOWN.
func (r *Result) WriteSummary(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "strata verify: topic %s, seed %d, run tag %s\n", r.Topic, r.Seed, r.RunTag)
	var kinds []string
	for _, k := range []string{KindIdempotent, KindNonIdempotent, KindTransactional} {
		if n := r.Producers[k]; n > 0 {
			kinds = append(kinds, fmt.Sprintf("%d %s", n, k))
		}
	}
	fmt.Fprintf(&b, "load:        %s at %d records/s from %s producers\n", round(r.LoadDuration), r.Rate, strings.Join(kinds, ", "))
	fmt.Fprintf(&b, "writes:      %d sent, %d acknowledged, %d failed\n", r.Sent, r.Acked, r.SendErrors)
	if r.TxnCommitted+r.TxnAborted+r.TxnUnknown > 0 {
		fmt.Fprintf(&b, "txns:        %d committed, %d aborted, %d unconfirmed\n", r.TxnCommitted, r.TxnAborted, r.TxnUnknown)
	}
	fmt.Fprintf(&b, "gaps:        longest without an acknowledgement %s, longest a consumer got no records %s\n", round(r.LongestProduceGap), round(r.LongestFetchGap))
	b.WriteString("consumers:\n")
	for i, c := range r.Consumers {
		fmt.Fprintf(&b, "  #%d %-36s polled %d records (%d distinct values)", i, c.Spec, c.Polled, c.Distinct)
		if c.Group != "" {
			fmt.Fprintf(&b, ", %d clients, %d assignment changes, %d commits (%d failed)", c.Processes, c.Rebalances, c.Commits, c.CommitErrs)
		}
		fmt.Fprintf(&b, ", longest gap %s\n", round(c.LongestGap))
		if c.CommitErr != "" {
			fmt.Fprintf(&b, "     first failed commit: %s\n", c.CommitErr)
		}
	}
	if len(r.Faults) > 0 {
		b.WriteString("faults:\n")
		for _, f := range r.Faults {
			fmt.Fprintf(&b, "  %7.1fs - %7.1fs  %s", f.Start.Seconds(), f.End.Seconds(), f.Name)
			if f.Err != "" {
				fmt.Fprintf(&b, " (error: %s)", f.Err)
			}
			b.WriteString("\n")
		}
	}
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "note: %s\n", n)
	}
	for _, typ := range slices.Sorted(maps.Keys(r.InfoCounts)) {
		n := r.InfoCounts[typ]
		fmt.Fprintf(&b, "info: %d %s (not an anomaly), e.g. %s\n", n, typ, r.firstInfo(typ))
	}
	for _, u := range r.Unknown {
		fmt.Fprintf(&b, "unchecked: %s\n", u)
	}
	total := 0
	for _, typ := range AnomalyTypes {
		total += r.Counts[typ]
	}
	if total > 0 {
		fmt.Fprintf(&b, "anomalies:   %d\n", total)
		for _, typ := range AnomalyTypes {
			n := r.Counts[typ]
			if n == 0 {
				continue
			}
			fmt.Fprintf(&b, "  %s: %d\n", typ, n)
			shown := 0
			for _, a := range r.Anomalies {
				if a.Type == typ && shown < summaryExamples {
					fmt.Fprintf(&b, "    - %s\n", a.Example)
					shown++
				}
			}
			if n > shown {
				fmt.Fprintf(&b, "    ... and %d more\n", n-shown)
			}
		}
	} else {
		b.WriteString("anomalies:   none\n")
	}
	switch {
	case !r.OK() && total > 0:
		b.WriteString("result: ANOMALIES\n")
	case !r.OK():
		b.WriteString("result: UNKNOWN (parts of the history could not be checked)\n")
	default:
		b.WriteString("result: CLEAN\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func (r *Result) firstInfo(typ string) string {
	for _, a := range r.Info {
		if a.Type == typ {
			return a.Example
		}
	}
	return ""
}

func round(d time.Duration) time.Duration {
	if d > 10*time.Second {
		return d.Round(100 * time.Millisecond)
	}
	return d.Round(time.Millisecond)
}

// WriteJSON writes r as one indented JSON object.
func (r *Result) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}
