package bench

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// Result is the summary of one run. Its JSON form is what
// `strata bench --json` prints. MB is 10^6 bytes and GB 10^9 bytes.
type Result struct {
	Workload Workload `json:"workload"`
	Topic    string   `json:"topic"`

	// Records and Bytes are what the workload moved: records acknowledged
	// (produce) or counted on the consumer side (consume, e2e). Bytes is
	// the sum of key and value lengths.
	Records int64 `json:"records"`
	Bytes   int64 `json:"bytes"`
	// Errors counts records that failed to produce, and for consume fetch
	// errors. FirstError is the first of them.
	Errors     int64  `json:"errors"`
	FirstError string `json:"first_error,omitempty"`
	// ProducedRecords is, for e2e, how many records the producer got
	// acknowledged.
	ProducedRecords int64 `json:"produced_records,omitempty"`

	ElapsedSeconds   float64 `json:"elapsed_seconds"`
	RecordsPerSecond float64 `json:"records_per_second"`
	MBPerSecond      float64 `json:"mb_per_second"`
	// FirstRecordSeconds is, for consume, the wait for the first record
	// (group join, metadata, first fetch), which ElapsedSeconds includes.
	// The Fetch rates leave it out, like kafka-consumer-perf-test's
	// fetch.nMsg.sec and fetch.MB.sec; they are absent when the records
	// came in one go.
	FirstRecordSeconds    float64 `json:"first_record_seconds,omitempty"`
	FetchRecordsPerSecond float64 `json:"fetch_records_per_second,omitempty"`
	FetchMBPerSecond      float64 `json:"fetch_mb_per_second,omitempty"`

	// Transactions is, for a transactional produce run, how many
	// transactions were committed, and TransactionsPerSecond that over
	// ElapsedSeconds.
	Transactions          int64   `json:"transactions,omitempty"`
	TransactionsPerSecond float64 `json:"transactions_per_second,omitempty"`

	// Latency is produce call to acknowledgement (produce) or producer
	// stamp to consumer receipt (e2e); nil for consume.
	Latency *Latency `json:"latency,omitempty"`
	// Broker holds the broker process figures when a broker PID was known.
	Broker *Broker `json:"broker,omitempty"`
	// Series has one entry per second of the run (the last may be shorter).
	Series []Interval `json:"series"`

	// The settings the run used.
	RecordSize  int     `json:"record_size,omitempty"`
	Acks        string  `json:"acks,omitempty"`
	Compression string  `json:"compression,omitempty"`
	Producers   int     `json:"producers,omitempty"`
	Consumers   int     `json:"consumers,omitempty"`
	Rate        float64 `json:"rate,omitempty"`
	// Transactional and TxnRecords: whether each producer was
	// transactional, committing every TxnRecords records.
	Transactional bool `json:"transactional,omitempty"`
	TxnRecords    int  `json:"txn_records,omitempty"`
	// Isolation is the consume workload's isolation level.
	Isolation  string `json:"isolation,omitempty"`
	Partitions int    `json:"partitions"`
}

// Latency holds latency percentiles in milliseconds.
type Latency struct {
	Count  int64   `json:"count"`
	P50Ms  float64 `json:"p50_ms"`
	P90Ms  float64 `json:"p90_ms"`
	P99Ms  float64 `json:"p99_ms"`
	P999Ms float64 `json:"p99_9_ms"`
	MaxMs  float64 `json:"max_ms"`
	MeanMs float64 `json:"mean_ms"`
}

func latencyOf(h *Histogram) *Latency {
	if h.Count() == 0 {
		return nil
	}
	return &Latency{
		Count:  h.Count(),
		P50Ms:  ms(h.Quantile(0.50)),
		P90Ms:  ms(h.Quantile(0.90)),
		P99Ms:  ms(h.Quantile(0.99)),
		P999Ms: ms(h.Quantile(0.999)),
		MaxMs:  ms(h.Max()),
		MeanMs: ms(h.Mean()),
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// Broker holds figures about the broker process, read from /proc.
type Broker struct {
	PID int `json:"pid"`
	// CPUSeconds is user plus system CPU time the broker used during the
	// run; CPUSecondsPerGB divides it by BytesMoved in GB (for e2e the
	// bytes went in and out, so they count twice).
	CPUSeconds      float64 `json:"cpu_seconds"`
	CPUSecondsPerGB float64 `json:"cpu_seconds_per_gb"`
	BytesMoved      int64   `json:"bytes_moved"`
	// PeakRSSBytes is the largest VmRSS seen in samples every 100ms during
	// the run; VmHWMBytes is the kernel's peak RSS since the broker started.
	PeakRSSBytes int64 `json:"peak_rss_bytes"`
	VmHWMBytes   int64 `json:"vm_hwm_bytes"`
	RSSSamples   int   `json:"rss_samples"`
}

// Interval is one second (or the shorter last part) of a run.
type Interval struct {
	// EndSeconds is the end of the interval, in seconds since the start.
	EndSeconds       float64 `json:"end_seconds"`
	Seconds          float64 `json:"seconds"`
	Records          int64   `json:"records"`
	Bytes            int64   `json:"bytes"`
	RecordsPerSecond float64 `json:"records_per_second"`
	MBPerSecond      float64 `json:"mb_per_second"`
	// P99Ms is the p99 latency of the records of this interval; nil when
	// it had none or the workload measures no latency.
	P99Ms *float64 `json:"p99_ms,omitempty"`
}

// WriteText writes the human-readable summary of r.
func (r *Result) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s: %d records, %s in %.2fs\n", r.Workload, r.Topic, r.Records, formatBytes(r.Bytes), r.ElapsedSeconds)
	if r.ProducedRecords > 0 || r.Workload == WorkloadE2E {
		fmt.Fprintf(&b, "produced:   %d records\n", r.ProducedRecords)
	}
	fmt.Fprintf(&b, "throughput: %.1f records/s, %.2f MB/s", r.RecordsPerSecond, r.MBPerSecond)
	// Only runs with the new settings get more on this line, so the
	// output of other runs stays as it was.
	if r.Transactional {
		fmt.Fprintf(&b, ", %.1f txns/s (transactional: %d transactions committed, up to %d records each)", r.TransactionsPerSecond, r.Transactions, r.TxnRecords)
	}
	if r.Isolation == IsolationReadCommitted {
		fmt.Fprintf(&b, " (%s)", r.Isolation)
	}
	b.WriteByte('\n')
	if r.Workload == WorkloadConsume && r.Records > 0 {
		fmt.Fprintf(&b, "first record after %.2fs", r.FirstRecordSeconds)
		if r.FetchRecordsPerSecond > 0 {
			fmt.Fprintf(&b, "; from there %.1f records/s, %.2f MB/s", r.FetchRecordsPerSecond, r.FetchMBPerSecond)
		}
		b.WriteByte('\n')
	}
	if l := r.Latency; l != nil {
		fmt.Fprintf(&b, "latency:    p50 %s  p90 %s  p99 %s  p99.9 %s  max %s  mean %s\n",
			formatMs(l.P50Ms), formatMs(l.P90Ms), formatMs(l.P99Ms), formatMs(l.P999Ms), formatMs(l.MaxMs), formatMs(l.MeanMs))
	}
	fmt.Fprintf(&b, "errors:     %d", r.Errors)
	if r.FirstError != "" {
		fmt.Fprintf(&b, " (first: %s)", r.FirstError)
	}
	b.WriteByte('\n')
	if br := r.Broker; br != nil {
		fmt.Fprintf(&b, "broker pid %d: cpu %.2fs (%.2f s/GB), peak RSS %s (VmHWM %s)\n",
			br.PID, br.CPUSeconds, br.CPUSecondsPerGB, formatBytes(br.PeakRSSBytes), formatBytes(br.VmHWMBytes))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// formatBytes prints n in decimal units (MB = 10^6 bytes).
func formatBytes(n int64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.2f GB", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.2f MB", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.2f kB", float64(n)/1e3)
	}
	return fmt.Sprintf("%d B", n)
}

// formatMs prints a latency in milliseconds with three significant digits,
// switching to µs or s where that reads better.
func formatMs(v float64) string {
	switch {
	case v < 1:
		return sig3(v*1000) + "µs"
	case v < 1000:
		return sig3(v) + "ms"
	}
	return sig3(v/1000) + "s"
}

func sig3(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.2f", v)
}
