package bench

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// testConfig returns a config for workload w against a fresh kfake cluster.
func testConfig(t *testing.T, w Workload) Config {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatalf("kfake.NewCluster: %v", err)
	}
	t.Cleanup(c.Close)
	return withCluster(w, c.ListenAddrs())
}

func withCluster(w Workload, seeds []string) Config {
	cfg := DefaultConfig(w)
	cfg.ClientOpts = []kgo.Opt{kgo.SeedBrokers(seeds...)}
	cfg.Topic = "bench"
	cfg.Partitions = 3
	cfg.Timeout = 10 * time.Second
	return cfg
}

func mustRunBench(t *testing.T, cfg Config) *Result {
	t.Helper()
	res, err := Run(t.Context(), cfg)
	if err != nil {
		t.Fatalf("Run(%s): %v", cfg.Workload, err)
	}
	return res
}

func TestRunProduceThenConsume(t *testing.T) {
	cfg := testConfig(t, WorkloadProduce)
	cfg.Count, cfg.RecordSize, cfg.Producers = 1001, 100, 2
	res := mustRunBench(t, cfg)
	if res.Records != 1001 || res.Bytes != 100_100 || res.Errors != 0 {
		t.Errorf("produce: records %d, bytes %d, errors %d, want 1001, 100100, 0", res.Records, res.Bytes, res.Errors)
	}
	if res.Latency == nil || res.Latency.Count != 1001 || res.Latency.P50Ms <= 0 || res.Latency.MaxMs < res.Latency.P99Ms {
		t.Errorf("produce: latency %+v, want 1001 samples with 0 < p50 and p99 <= max", res.Latency)
	}
	if res.Partitions != 3 || len(res.Series) == 0 || res.RecordsPerSecond <= 0 {
		t.Errorf("produce: partitions %d, %d intervals, %.1f records/s, want 3, some, > 0", res.Partitions, len(res.Series), res.RecordsPerSecond)
	}
	var sum int64
	for _, iv := range res.Series {
		sum += iv.Records
	}
	if sum != res.Records {
		t.Errorf("produce: intervals add up to %d records, want %d", sum, res.Records)
	}

	ccfg := withCluster(WorkloadConsume, seedsOf(cfg))
	ccfg.Count, ccfg.Consumers = 1001, 3
	res = mustRunBench(t, ccfg)
	if res.Records != 1001 || res.Bytes != 100_100 || res.Errors != 0 || res.Latency != nil {
		t.Errorf("consume: records %d, bytes %d, errors %d, latency %v, want 1001, 100100, 0, none", res.Records, res.Bytes, res.Errors, res.Latency)
	}

	// Fewer records than in the topic: exactly the count.
	ccfg.Count, ccfg.Consumers = 10, 1
	res = mustRunBench(t, ccfg)
	if res.Records != 10 || res.Bytes != 1000 {
		t.Errorf("consume --count 10: records %d, bytes %d, want 10, 1000", res.Records, res.Bytes)
	}
}

func seedsOf(cfg Config) []string {
	cl, _ := kgo.NewClient(cfg.ClientOpts...)
	defer cl.Close()
	return cl.OptValues(kgo.SeedBrokers)[0].([]string)
}

func TestRunConsumeGroupResumes(t *testing.T) {
	cfg := testConfig(t, WorkloadProduce)
	cfg.Count, cfg.RecordSize = 500, 10
	mustRunBench(t, cfg)

	ccfg := withCluster(WorkloadConsume, seedsOf(cfg))
	ccfg.Group, ccfg.Count, ccfg.Consumers = "g", 200, 2
	if res := mustRunBench(t, ccfg); res.Records != 200 {
		t.Fatalf("consume --group g --count 200: %d records", res.Records)
	}
	ccfg.Count = 300
	if res := mustRunBench(t, ccfg); res.Records != 300 {
		t.Fatalf("consume --group g --count 300 after 200: %d records", res.Records)
	}
	// The group has read everything: one more record never comes.
	ccfg.Count, ccfg.Timeout = 1, 2*time.Second
	res, err := Run(t.Context(), ccfg)
	if err == nil || !strings.Contains(err.Error(), "no records arrived") {
		t.Fatalf("consume --group g after 500 of 500: err %v, want no records arrived", err)
	}
	if res == nil || res.Records != 0 {
		t.Errorf("consume --group g after 500 of 500: result %+v, want 0 records", res)
	}
}

func TestRunConsumeFailures(t *testing.T) {
	cfg := testConfig(t, WorkloadConsume)
	cfg.Count = 5
	if _, err := Run(t.Context(), cfg); !errors.Is(err, kerr.UnknownTopicOrPartition) {
		t.Errorf("consume of a missing topic: err %v, want UNKNOWN_TOPIC_OR_PARTITION", err)
	}

	pcfg := withCluster(WorkloadProduce, seedsOf(cfg))
	pcfg.Count = 3
	mustRunBench(t, pcfg)
	cfg.Timeout = time.Second
	res, err := Run(t.Context(), cfg)
	if err == nil || !strings.Contains(err.Error(), "no records arrived for --timeout 1s (3 of 5 records consumed)") {
		t.Errorf("consume 5 of a topic with 3: err %v, want a timeout naming 3 of 5", err)
	}
	if res == nil || res.Records != 3 {
		t.Errorf("consume 5 of a topic with 3: result %+v, want 3 records", res)
	}

	cfg.Consumers = 4
	if _, err := Run(t.Context(), cfg); err == nil || !strings.Contains(err.Error(), "has 3 partitions") {
		t.Errorf("4 consumers on 3 partitions without a group: err %v, want a refusal", err)
	}
}

func TestRunConsumeForDuration(t *testing.T) {
	cfg := testConfig(t, WorkloadProduce)
	cfg.Count = 50
	mustRunBench(t, cfg)
	ccfg := withCluster(WorkloadConsume, seedsOf(cfg))
	ccfg.Count, ccfg.Duration = 0, 1500*time.Millisecond
	start := time.Now()
	res := mustRunBench(t, ccfg)
	if res.Records != 50 {
		t.Errorf("consume for 1.5s: %d records, want 50", res.Records)
	}
	if took := time.Since(start); took < 1500*time.Millisecond {
		t.Errorf("consume for 1.5s returned after %v", took)
	}
}

func TestRunProduceFailureIsReported(t *testing.T) {
	cfg := testConfig(t, WorkloadProduce)
	cfg.Count, cfg.RecordSize, cfg.BatchMaxBytes = 50, 4096, 1024
	res, err := Run(t.Context(), cfg)
	if !errors.Is(err, ErrRecordsFailed) || !errors.Is(err, kerr.MessageTooLarge) {
		t.Fatalf("produce of records larger than a batch: err %v, want ErrRecordsFailed wrapping MESSAGE_TOO_LARGE", err)
	}
	if res == nil || res.Errors == 0 || res.Records != 0 || !strings.Contains(res.FirstError, "MESSAGE_TOO_LARGE") {
		t.Errorf("result %+v, want errors > 0, no records, first error MESSAGE_TOO_LARGE", res)
	}
}

func TestRunProduceForDurationAtRate(t *testing.T) {
	cfg := testConfig(t, WorkloadProduce)
	cfg.Count, cfg.Duration, cfg.Rate, cfg.RecordSize = 0, 1500*time.Millisecond, 200, 16
	res := mustRunBench(t, cfg)
	// 1.5s at 200/s is 300 records; allow for timer jitter.
	if res.Records < 280 || res.Records > 301 || res.Errors != 0 {
		t.Errorf("produce for 1.5s at 200/s: %d records, %d errors, want about 300, 0", res.Records, res.Errors)
	}
}

func TestRunE2E(t *testing.T) {
	cfg := testConfig(t, WorkloadE2E)
	cfg.Count, cfg.Rate, cfg.RecordSize = 100, 200, 64
	start := time.Now()
	res := mustRunBench(t, cfg)
	if res.Records != 100 || res.ProducedRecords != 100 || res.Bytes != 6400 || res.Errors != 0 {
		t.Errorf("e2e: records %d, produced %d, bytes %d, errors %d, want 100, 100, 6400, 0", res.Records, res.ProducedRecords, res.Bytes, res.Errors)
	}
	if res.Latency == nil || res.Latency.Count != 100 || res.Latency.P50Ms <= 0 || res.Latency.MaxMs > 10_000 {
		t.Errorf("e2e: latency %+v, want 100 samples between 0 and 10s", res.Latency)
	}
	// 100 records at 200/s: the last is due 495ms after the first.
	if took := time.Since(start); took < 495*time.Millisecond {
		t.Errorf("e2e of 100 records at 200/s took %v, want at least 495ms", took)
	}
	// A second run starts at the log end and sees only its own records.
	res = mustRunBench(t, cfg)
	if res.Records != 100 || res.Latency == nil || res.Latency.Count != 100 {
		t.Errorf("second e2e: records %d, latency %+v, want 100 and 100 samples", res.Records, res.Latency)
	}
}

func TestRunInterrupted(t *testing.T) {
	cfg := testConfig(t, WorkloadProduce)
	cfg.Count, cfg.Rate = 0, 100
	cfg.Duration = time.Hour
	ctx, cancel := context.WithTimeout(t.Context(), 700*time.Millisecond)
	defer cancel()
	res, err := Run(ctx, cfg)
	if err == nil || !strings.Contains(err.Error(), "interrupted") {
		t.Fatalf("interrupted run: err %v, want interrupted", err)
	}
	if res == nil || res.Records == 0 || res.Errors != 0 {
		t.Errorf("interrupted run: result %+v, want some records and no errors", res)
	}
}

func TestRunProgressLines(t *testing.T) {
	cfg := testConfig(t, WorkloadProduce)
	cfg.Count, cfg.Duration, cfg.Rate = 0, 2500*time.Millisecond, 50
	var out syncBuffer
	cfg.Progress = &out
	res := mustRunBench(t, cfg)
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) < 2 || !strings.Contains(lines[0], "records/s") || !strings.Contains(lines[0], "MB/s") || !strings.Contains(lines[0], "p99") {
		t.Errorf("progress: %q, want at least 2 lines with records/s, MB/s and p99", out.String())
	}
	if len(res.Series) < 3 {
		t.Errorf("series: %d intervals over 2.5s, want 3", len(res.Series))
	}

	cfg.ProgressInPlace, cfg.Duration = true, 1200*time.Millisecond
	out = syncBuffer{}
	mustRunBench(t, cfg)
	s := out.String()
	if !strings.HasPrefix(s, "\r") || !strings.HasSuffix(s, "\n") || strings.Count(s, "\n") != 1 {
		t.Errorf("in-place progress: %q, want lines starting with \\r and one final newline", s)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func TestPacerSpacesRecordsEvenly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		p := newPacer(start, 100)
		defer p.stop()
		var gaps []time.Duration
		last := start
		for range 50 {
			if err := p.wait(t.Context()); err != nil {
				t.Fatalf("wait: %v", err)
			}
			gaps = append(gaps, time.Since(last))
			last = time.Now()
		}
		if got, want := time.Since(start), 490*time.Millisecond; got != want {
			t.Errorf("50 records at 100/s took %v, want %v", got, want)
		}
		for i, g := range gaps[1:] {
			if g != 10*time.Millisecond {
				t.Fatalf("gap before record %d = %v, want 10ms", i+1, g)
			}
		}
	})
}

func TestPacerCatchesUpWithoutWaiting(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPacer(time.Now(), 10)
		defer p.stop()
		time.Sleep(time.Second) // fell behind by 10 records
		start := time.Now()
		for range 10 {
			if err := p.wait(t.Context()); err != nil {
				t.Fatalf("wait: %v", err)
			}
		}
		if got := time.Since(start); got != 0 {
			t.Errorf("10 overdue records waited %v, want 0", got)
		}
		if err := p.wait(t.Context()); err != nil {
			t.Fatalf("wait: %v", err)
		}
		if got := time.Since(start); got != 0 {
			t.Errorf("record due now waited %v, want 0", got)
		}
	})
	if newPacer(time.Now(), 0).wait(context.Background()) != nil {
		t.Errorf("unpaced wait: error")
	}
}

func TestQuotaStopsAtLimit(t *testing.T) {
	q := newQuota(1000)
	var wg sync.WaitGroup
	var mu sync.Mutex
	total := 0
	for range 8 {
		wg.Go(func() {
			for {
				n, full := q.reserve(7)
				mu.Lock()
				total += n
				mu.Unlock()
				if full {
					return
				}
			}
		})
	}
	wg.Wait()
	if total != 1000 || !q.full() {
		t.Errorf("8 goroutines reserving 7 at a time took %d, full %v, want 1000, true", total, q.full())
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		give func(*Config)
		want string // substring of the error; empty for none
	}{
		{name: "defaults", give: func(*Config) {}},
		{name: "no count or duration", give: func(c *Config) { c.Count = 0 }, want: "count or a duration"},
		{name: "bad acks", give: func(c *Config) { c.Acks = "2" }, want: `acks "2"`},
		{name: "bad compression", give: func(c *Config) { c.Compression = "brotli" }, want: `compression "brotli"`},
		{name: "zero producers", give: func(c *Config) { c.Producers = 0 }, want: "producers"},
		{name: "negative rate", give: func(c *Config) { c.Rate = -1 }, want: "rate"},
		{name: "tiny batch", give: func(c *Config) { c.BatchMaxBytes = 100 }, want: "batch size"},
		{name: "two problems at once", give: func(c *Config) { c.Topic, c.Timeout = "", 0 }, want: "topic is empty\ntimeout must be positive"},
		{name: "transactional", give: func(c *Config) { c.Transactional, c.TxnRecords = true, 1 }},
		{name: "transactional with acks 1", give: func(c *Config) { c.Transactional, c.Acks = true, "1" }, want: "need acks all"},
		{name: "transactional with no records per txn", give: func(c *Config) { c.Transactional, c.TxnRecords = true, 0 }, want: "txn records must be positive"},
		{name: "read_committed producer", give: func(c *Config) { c.Isolation = IsolationReadCommitted }, want: "isolation read_committed is for the consume workload"},
		{name: "bad isolation", give: func(c *Config) { c.Isolation = "snapshot" }, want: `isolation "snapshot"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig(WorkloadProduce)
			tt.give(&cfg)
			err := cfg.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("Validate() = %v, want nil", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("Validate() = %v, want an error containing %q", err, tt.want)
			}
		})
	}
	cfg := DefaultConfig(WorkloadE2E)
	cfg.Transactional = true
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "transactional is for the produce workload") {
		t.Errorf("transactional e2e: Validate() = %v, want an error", err)
	}
	cfg = DefaultConfig(WorkloadConsume)
	cfg.Isolation = IsolationReadCommitted
	if err := cfg.Validate(); err != nil {
		t.Errorf("read_committed consume: Validate() = %v, want nil", err)
	}
	cfg = DefaultConfig(WorkloadE2E)
	cfg.RecordSize = 7
	if err := cfg.Validate(); err == nil {
		t.Errorf("e2e with 7-byte records: Validate() = nil, want an error (the stamp needs 8)")
	}
}

func TestRecorderIntervals(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(d time.Duration) time.Time { return t0.Add(d) }

	t.Run("short last interval folds into the one before", func(t *testing.T) {
		r := newRecorder(t0, true)
		r.addOne(at(500*time.Millisecond), 10, time.Millisecond)
		r.tick(at(time.Second))
		r.addOne(at(1100*time.Millisecond), 10, 50*time.Millisecond)
		r.finish(at(1100 * time.Millisecond))
		var res Result
		r.fill(&res, at(1100*time.Millisecond))
		if len(res.Series) != 1 {
			t.Fatalf("series %+v, want one interval", res.Series)
		}
		iv := res.Series[0]
		if iv.Records != 2 || iv.Bytes != 20 || !near(iv.Seconds, 1.1) || !near(iv.RecordsPerSecond, 2/1.1) || iv.P99Ms == nil || *iv.P99Ms != 50 {
			t.Errorf("folded interval %+v (p99 %v), want 2 records, 20 bytes in 1.1s, p99 50ms", iv, iv.P99Ms)
		}
		if res.Records != 2 || !near(res.ElapsedSeconds, 1.1) || res.Latency == nil || res.Latency.P50Ms != 1 {
			t.Errorf("result %+v, want 2 records over 1.1s, p50 1ms", res)
		}
	})
	t.Run("long last interval stays", func(t *testing.T) {
		r := newRecorder(t0, false)
		r.addBatch(at(200*time.Millisecond), 5, 50, nil)
		r.tick(at(time.Second))
		r.addBatch(at(1400*time.Millisecond), 3, 30, nil)
		r.finish(at(1500 * time.Millisecond))
		var res Result
		r.fill(&res, at(1500*time.Millisecond))
		if len(res.Series) != 2 || res.Series[1].Records != 3 || !near(res.Series[1].RecordsPerSecond, 6) || res.Series[0].P99Ms != nil {
			t.Errorf("series %+v, want 5 then 3 records (6/s), no latency", res.Series)
		}
		if !near(res.ElapsedSeconds, 1.4) || res.Latency != nil {
			t.Errorf("elapsed %v, latency %v, want 1.4s to the last record and none", res.ElapsedSeconds, res.Latency)
		}
		r.fillFetch(&res)
		if !near(res.FirstRecordSeconds, 0.2) || !near(res.FetchRecordsPerSecond, 8/1.2) {
			t.Errorf("first record %v, fetch rate %v, want 0.2s, %v", res.FirstRecordSeconds, res.FetchRecordsPerSecond, 8/1.2)
		}
	})
}

func near(a, b float64) bool { return a-b < 1e-9 && b-a < 1e-9 }
