package cli_test

import (
	"encoding/json"
	"encoding/xml"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// benchSummary is the part of `bench --json` the tests check.
type benchSummary struct {
	Workload        string  `json:"workload"`
	Topic           string  `json:"topic"`
	Records         int64   `json:"records"`
	Bytes           int64   `json:"bytes"`
	Errors          int64   `json:"errors"`
	FirstError      string  `json:"first_error"`
	ProducedRecords int64   `json:"produced_records"`
	ElapsedSeconds  float64 `json:"elapsed_seconds"`
	RecordsPerSec   float64 `json:"records_per_second"`
	MBPerSec        float64 `json:"mb_per_second"`
	Latency         *struct {
		Count int64   `json:"count"`
		P50   float64 `json:"p50_ms"`
		P90   float64 `json:"p90_ms"`
		P99   float64 `json:"p99_ms"`
		P999  float64 `json:"p99_9_ms"`
		Max   float64 `json:"max_ms"`
	} `json:"latency"`
	Series []struct {
		Records int64 `json:"records"`
	} `json:"series"`
	Transactional         bool    `json:"transactional"`
	TxnRecords            int     `json:"txn_records"`
	Transactions          int64   `json:"transactions"`
	TransactionsPerSecond float64 `json:"transactions_per_second"`
	Isolation             string  `json:"isolation"`
}

func decodeBench(t *testing.T, out string) benchSummary {
	t.Helper()
	if strings.Count(out, "\n") != 1 {
		t.Fatalf("bench --json: stdout %q, want one line", out)
	}
	var s benchSummary
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatalf("bench --json: %v in %q", err, out)
	}
	return s
}

func TestBenchProduceThenConsume(t *testing.T) {
	b := "--bootstrap=" + fakeCluster(t)
	chart := filepath.Join(t.TempDir(), "produce.svg")
	r := mustRun(t, "", "bench", "produce", b, "--topic", "bt", "--partitions", "3", "--count", "500", "--record-size", "100",
		"--producers", "2", "--compression", "zstd", "--acks", "1", "--json", "--chart", chart, "--quiet")
	s := decodeBench(t, r.stdout)
	if s.Workload != "produce" || s.Topic != "bt" || s.Records != 500 || s.Bytes != 50_000 || s.Errors != 0 {
		t.Errorf("bench produce: %+v, want 500 records, 50000 bytes, 0 errors", s)
	}
	if s.Latency == nil || s.Latency.Count != 500 || s.Latency.P50 <= 0 || s.Latency.P50 > s.Latency.P99 || s.Latency.P99 > s.Latency.Max {
		t.Errorf("bench produce: latency %+v, want 500 samples, 0 < p50 <= p99 <= max", s.Latency)
	}
	if s.RecordsPerSec <= 0 || s.MBPerSec <= 0 || len(s.Series) == 0 {
		t.Errorf("bench produce: %.1f records/s, %.3f MB/s, %d intervals, want all positive", s.RecordsPerSec, s.MBPerSec, len(s.Series))
	}
	if r.stderr != "" {
		t.Errorf("bench produce --quiet: stderr %q, want empty", r.stderr)
	}
	svg, err := os.ReadFile(chart)
	if err != nil {
		t.Fatalf("read --chart file: %v", err)
	}
	var doc struct {
		Polylines []struct {
			Points string `xml:"points,attr"`
		} `xml:"polyline"`
	}
	if err := xml.Unmarshal(svg, &doc); err != nil {
		t.Fatalf("--chart file is not XML: %v", err)
	}
	if len(doc.Polylines) != 2 || len(strings.Fields(doc.Polylines[0].Points)) != len(s.Series) {
		t.Errorf("--chart: polylines %+v, want 2, the first with %d points", doc.Polylines, len(s.Series))
	}

	r = mustRun(t, "", "bench", "consume", b, "--topic", "bt", "--count", "500", "--consumers", "3", "--json")
	s = decodeBench(t, r.stdout)
	if s.Workload != "consume" || s.Records != 500 || s.Bytes != 50_000 || s.Errors != 0 || s.Latency != nil {
		t.Errorf("bench consume: %+v, want 500 records, 50000 bytes, 0 errors, no latency", s)
	}

	// The text summary.
	r = mustRun(t, "", "bench", "consume", b, "--topic", "bt", "--count", "200", "--group", "g1")
	want := regexp.MustCompile(`(?m)^consume bt: 200 records, 20\.00 kB in [0-9.]+s\nthroughput: [0-9.]+ records/s, [0-9.]+ MB/s\nfirst record after [0-9.]+s(; from there [0-9.]+ records/s, [0-9.]+ MB/s)?\nerrors: +0\n$`)
	if !want.MatchString(r.stdout) {
		t.Errorf("bench consume: stdout\n%s\ndoes not match\n%s", r.stdout, want)
	}
}

func TestBenchE2E(t *testing.T) {
	b := "--bootstrap=" + fakeCluster(t)
	r := mustRun(t, "", "bench", "e2e", b, "--topic", "e2e", "--partitions", "2", "--rate", "100", "--count", "60", "--record-size", "32", "--json")
	s := decodeBench(t, r.stdout)
	if s.Records != 60 || s.ProducedRecords != 60 || s.Bytes != 60*32 || s.Errors != 0 {
		t.Errorf("bench e2e: %+v, want 60 records consumed and produced, 1920 bytes, 0 errors", s)
	}
	if s.Latency == nil || s.Latency.Count != 60 || s.Latency.P50 <= 0 || s.Latency.Max > 10_000 {
		t.Errorf("bench e2e: latency %+v, want 60 samples between 0 and 10s", s.Latency)
	}
	// 60 records at 100/s: the last is sent 590ms after the first.
	if s.ElapsedSeconds < 0.59 {
		t.Errorf("bench e2e: elapsed %.3fs, want at least 0.59s at --rate 100", s.ElapsedSeconds)
	}
	// Progress lines went to stderr, not a terminal: plain lines.
	if strings.Contains(r.stderr, "\r") {
		t.Errorf("bench e2e: stderr %q has carriage returns, want plain lines", r.stderr)
	}
	r = mustRun(t, "", "bench", "e2e", b, "--topic", "e2e", "--rate", "50", "--count", "10", "--record-size", "16")
	if !strings.Contains(r.stdout, "e2e e2e: 10 records") || !strings.Contains(r.stdout, "produced:   10 records") || !strings.Contains(r.stdout, "latency:    p50 ") {
		t.Errorf("bench e2e: stdout %q, want 10 records and a latency line", r.stdout)
	}
}

func TestBenchProduceFailureExitsNonZero(t *testing.T) {
	b := "--bootstrap=" + fakeCluster(t)
	r := run(t, "", "bench", "produce", b, "--topic", "big", "--count", "20", "--record-size", "4096", "--batch-size", "1024", "--json")
	if r.err == nil {
		t.Fatalf("bench produce of records larger than --batch-size: no error, stdout %q", r.stdout)
	}
	if !strings.Contains(r.errLine, "records failed") || !strings.Contains(r.errLine, "MESSAGE_TOO_LARGE") {
		t.Errorf("bench produce: error %q, want records failed with MESSAGE_TOO_LARGE", r.errLine)
	}
	s := decodeBench(t, r.stdout)
	if s.Errors == 0 || s.Records != 0 || !strings.Contains(s.FirstError, "MESSAGE_TOO_LARGE") {
		t.Errorf("bench produce: summary %+v, want errors > 0 and the first error", s)
	}
}

func TestBenchConsumeTimesOut(t *testing.T) {
	b := "--bootstrap=" + fakeCluster(t)
	mustRun(t, "", "topic", "create", "empty", b, "--partitions", "1")
	r := run(t, "", "bench", "consume", b, "--topic", "empty", "--count", "5", "--timeout", "1s")
	if r.err == nil || !strings.Contains(r.errLine, "no records arrived for --timeout 1s (0 of 5 records consumed)") {
		t.Errorf("bench consume of an empty topic: error %q, want a timeout", r.errLine)
	}
	if !strings.Contains(r.stdout, "consume empty: 0 records") {
		t.Errorf("bench consume of an empty topic: stdout %q, want the summary", r.stdout)
	}
	r = run(t, "", "bench", "consume", b, "--topic", "missing", "--count", "5")
	if r.err == nil || !strings.Contains(r.errLine, "UNKNOWN_TOPIC_OR_PARTITION") {
		t.Errorf("bench consume of a missing topic: error %q, want UNKNOWN_TOPIC_OR_PARTITION", r.errLine)
	}
}

func TestBenchRejectsBadFlags(t *testing.T) {
	tests := []struct {
		give []string
		want string
	}{
		{give: []string{"produce", "--acks", "2"}, want: `acks "2"`},
		{give: []string{"produce", "--compression", "brotli"}, want: `compression "brotli"`},
		{give: []string{"produce", "--count", "0"}, want: "count or a duration"},
		{give: []string{"e2e", "--record-size", "4"}, want: "record size must be between 8"},
		{give: []string{"produce", "--broker-pid", "-2"}, want: "--broker-pid"},
		{give: []string{"consume", "--rate", "5"}, want: "unknown flag: --rate"},
		{give: []string{"produce", "--transactional", "--acks", "1"}, want: "need acks all"},
		{give: []string{"produce", "--transactional", "--txn-records", "0"}, want: "txn records must be positive"},
		{give: []string{"produce", "--txn-records", "5"}, want: "--txn-records needs --transactional"},
		{give: []string{"e2e", "--transactional"}, want: "unknown flag: --transactional"},
		{give: []string{"consume", "--isolation", "dirty"}, want: `isolation "dirty"`},
		{give: []string{"produce", "extra"}, want: "unknown command"},
		{give: []string{"nope"}, want: `unknown command "nope" for "strata bench"`},
	}
	for _, tt := range tests {
		args := append([]string{"bench"}, tt.give...)
		args = append(args, "--bootstrap=127.0.0.1:1")
		r := run(t, "", args...)
		if r.err == nil || !strings.Contains(r.errLine, tt.want) {
			t.Errorf("strata %s: error %q, want it to contain %q", strings.Join(args, " "), r.errLine, tt.want)
		}
	}
}

func TestBenchTransactionalProduceThenReadCommitted(t *testing.T) {
	bs := txnCluster(t)
	b := "--bootstrap=" + bs
	topic := unique("bench-txn")
	// 2 producers of 250 records, 100 per transaction: 3 transactions
	// each (100, 100, 50).
	r := mustRun(t, "", "bench", "produce", b, "--topic", topic, "--partitions", "2", "--count", "500", "--record-size", "100",
		"--producers", "2", "--transactional", "--txn-records", "100", "--json", "--quiet")
	s := decodeBench(t, r.stdout)
	if s.Records != 500 || s.Errors != 0 || !s.Transactional || s.TxnRecords != 100 || s.Transactions != 6 {
		t.Errorf("bench produce --transactional: %+v, want 500 records, 0 errors, 6 transactions of up to 100", s)
	}
	if s.TransactionsPerSecond <= 0 || s.RecordsPerSec <= 0 || s.Latency == nil || s.Latency.Count != 500 {
		t.Errorf("bench produce --transactional: %.1f txns/s, %.1f records/s, latency %+v, want positive rates and 500 samples", s.TransactionsPerSecond, s.RecordsPerSec, s.Latency)
	}

	// Every transaction committed, so read_committed sees every record.
	r = mustRun(t, "", "bench", "consume", b, "--topic", topic, "--count", "500", "--isolation", "read_committed", "--json")
	s = decodeBench(t, r.stdout)
	if s.Records != 500 || s.Errors != 0 || s.Isolation != "read_committed" {
		t.Errorf("bench consume --isolation read_committed: %+v, want 500 records, 0 errors", s)
	}

	// The text summary says the run was transactional and gives txns/s.
	r = mustRun(t, "", "bench", "produce", b, "--topic", topic, "--count", "30", "--record-size", "10", "--transactional", "--txn-records", "10")
	want := regexp.MustCompile(`(?m)^throughput: [0-9.]+ records/s, [0-9.]+ MB/s, [0-9.]+ txns/s \(transactional: 3 transactions committed, up to 10 records each\)$`)
	if !want.MatchString(r.stdout) {
		t.Errorf("bench produce --transactional: stdout\n%s\ndoes not match\n%s", r.stdout, want)
	}
	r = mustRun(t, "", "bench", "consume", b, "--topic", topic, "--count", "10", "--isolation", "read_committed")
	if !regexp.MustCompile(`(?m)^throughput: [0-9.]+ records/s, [0-9.]+ MB/s \(read_committed\)$`).MatchString(r.stdout) {
		t.Errorf("bench consume --isolation read_committed: stdout %q, want the isolation on the throughput line", r.stdout)
	}
}

func TestBenchConsumeReadCommittedSkipsAborted(t *testing.T) {
	bs := txnCluster(t)
	b := "--bootstrap=" + bs
	topic := unique("bench-abort")
	mustRun(t, "", "topic", "create", topic, b, "--partitions", "1")
	p := newTxnProducer(t, bs, unique("bench-abort-txn"))
	p.transact(false, topic, "a0", "a1", "a2")
	p.transact(true, topic, "c0", "c1")

	// Asking for more than was committed: read_committed counts the two
	// committed records, then times out waiting for more.
	r := run(t, "", "bench", "consume", b, "--topic", topic, "--count", "3", "--isolation", "read_committed", "--timeout", "1s", "--json")
	s := decodeBench(t, r.stdout)
	if s.Records != 2 || r.err == nil || !strings.Contains(r.errLine, "2 of 3 records consumed") {
		t.Errorf("bench consume --isolation read_committed --count 3: %d records, error %q, want 2 and a timeout", s.Records, r.errLine)
	}
	r = mustRun(t, "", "bench", "consume", b, "--topic", topic, "--count", "5", "--json")
	if s := decodeBench(t, r.stdout); s.Records != 5 {
		t.Errorf("bench consume (read_uncommitted) --count 5: %d records, want 5 (aborted ones too)", s.Records)
	}
}
