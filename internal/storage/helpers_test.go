package storage

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/strata-io/strata/internal/record"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// t0 is the start of every test clock.
var t0 = time.UnixMilli(1_700_000_000_000)

type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func newTestClock() *testClock { return &testClock{now: t0} }

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// batchSpec describes a test batch.
type batchSpec struct {
	records   int
	valueSize int
	ts        int64 // first record's timestamp; t0 if zero
	tsStep    int64 // added per record
	codec     record.Codec
	pid       int64 // -1 (the default via newSpec) for none
	epoch     int16
	seq       int32
	txn       bool // transactional
}

func spec(records int) batchSpec { return batchSpec{records: records, valueSize: 10, pid: -1} }

func (s batchSpec) idem(pid int64, epoch int16, seq int32) batchSpec {
	s.pid, s.epoch, s.seq = pid, epoch, seq
	return s
}

// inTxn makes the batch transactional for producer pid.
func (s batchSpec) inTxn(pid int64, epoch int16, seq int32) batchSpec {
	s.pid, s.epoch, s.seq, s.txn = pid, epoch, seq, true
	return s
}

func (s batchSpec) at(ts int64) batchSpec { s.ts = ts; return s }

func (s batchSpec) size(valueSize int) batchSpec { s.valueSize = valueSize; return s }

func buildBatch(t testing.TB, s batchSpec) []byte {
	t.Helper()
	ts := s.ts
	if ts == 0 {
		ts = t0.UnixMilli()
	}
	b := record.NewBuilder(s.codec, ts)
	if s.pid >= 0 {
		b.SetProducer(s.pid, s.epoch, s.seq)
	}
	b.SetTransactional(s.txn)
	value := make([]byte, s.valueSize)
	for i := range value {
		value[i] = byte('a' + i%26)
	}
	for i := range s.records {
		b.Add(ts+int64(i)*s.tsStep, fmt.Appendf(nil, "k%d", i), value, nil)
	}
	out, err := b.Build()
	if err != nil {
		t.Fatalf("Build(%+v): %v", s, err)
	}
	return out
}

func testConfig(dir string, clock *testClock) Config {
	return Config{
		Dir:                    dir,
		Fsync:                  FsyncNever,
		FsyncInterval:          time.Second,
		RetentionCheckInterval: time.Minute,
		CheckpointInterval:     time.Minute,
		RecoveryThreads:        2,
		Logger:                 slog.New(slog.DiscardHandler),
		Now:                    clock.nowFunc(),
	}
}

func (c *testClock) nowFunc() func() time.Time {
	if c == nil {
		return nil
	}
	return c.Now
}

func testLogConfig() LogConfig {
	cfg := DefaultLogConfig()
	cfg.IndexIntervalBytes = 256
	cfg.RetentionMs = -1
	cfg.FileDeleteDelay = time.Minute
	return cfg
}

var testTP = TopicPartition{Topic: "events", Partition: 3}
var testTopicID = [16]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}

func openDir(t testing.TB, dir string, clock *testClock) *LogDir {
	t.Helper()
	d, err := OpenLogDir(testConfig(dir, clock))
	if err != nil {
		t.Fatalf("OpenLogDir(%s): %v", dir, err)
	}
	return d
}

// testLog opens a fresh directory with one log. The directory is closed at
// the end of the test unless the test closed or crashed it.
func testLog(t testing.TB, cfg LogConfig) (*LogDir, *Log, *testClock) {
	t.Helper()
	clock := newTestClock()
	d := openDir(t, t.TempDir(), clock)
	t.Cleanup(func() { _ = d.Close() })
	l, err := d.CreateLog(testTP, testTopicID, cfg)
	if err != nil {
		t.Fatalf("CreateLog: %v", err)
	}
	return d, l, clock
}

// reopen closes d cleanly and opens its directory again.
func reopen(t testing.TB, d *LogDir, clock *testClock, cfg LogConfig) (*LogDir, *Log) {
	t.Helper()
	if err := d.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	return openAgain(t, d.cfg.Dir, clock, cfg)
}

func openAgain(t testing.TB, dir string, clock *testClock, cfg LogConfig) (*LogDir, *Log) {
	t.Helper()
	d := openDir(t, dir, clock)
	t.Cleanup(func() { _ = d.Close() })
	l, ok := d.Log(testTP)
	if !ok {
		t.Fatalf("Log(%v) missing after reopen", testTP)
	}
	l.SetConfig(cfg)
	return d, l
}

// crash abandons d as a killed process would: no fsync, no index files, no
// snapshot, no clean-shutdown marker. Only the open files are closed.
func crash(t testing.TB, d *LogDir) {
	t.Helper()
	d.mu.Lock()
	d.mu.closed = true
	d.mu.Unlock()
	for _, l := range d.Logs() {
		l.appendMu.Lock()
		l.mu.Lock()
		l.mu.closed = true
		segs := l.mu.segments
		l.mu.Unlock()
		for _, s := range segs {
			_ = s.closeFiles()
		}
		l.appendMu.Unlock()
	}
	_ = d.deleter.runDue(time.Time{}, true)
}

// crashAndReopen crashes d and opens its directory again.
func crashAndReopen(t testing.TB, d *LogDir, clock *testClock, cfg LogConfig) (*LogDir, *Log) {
	t.Helper()
	crash(t, d)
	return openAgain(t, d.cfg.Dir, clock, cfg)
}

func mustAppend(t testing.TB, l *Log, batches ...[]byte) AppendInfo {
	t.Helper()
	var all []byte
	for _, b := range batches {
		all = append(all, b...)
	}
	info, err := l.AppendAsLeader(all, 1, t0)
	if err != nil {
		t.Fatalf("AppendAsLeader: %v", err)
	}
	return info
}

// readAll reads every batch from offset to the log end offset and returns
// their headers, checking CRCs.
func readAll(t testing.TB, l *Log, offset int64) []record.Header {
	t.Helper()
	var hs []record.Header
	for offset < l.LogEndOffset() {
		res, err := l.Read(offset, 1<<16, l.LogEndOffset(), true)
		if err != nil {
			t.Fatalf("Read(%d): %v", offset, err)
		}
		b, err := res.AppendTo(nil)
		if err != nil {
			t.Fatalf("AppendTo: %v", err)
		}
		if len(b) == 0 {
			t.Fatalf("Read(%d) returned nothing below log end offset %d", offset, l.LogEndOffset())
		}
		for len(b) > 0 {
			batch, rest, err := record.NextBatch(b)
			if err != nil {
				t.Fatalf("NextBatch at offset %d: %v", offset, err)
			}
			h, err := record.ValidateBatch(batch)
			if err != nil {
				t.Fatalf("ValidateBatch at offset %d: %v", offset, err)
			}
			hs = append(hs, h)
			offset = h.NextOffset()
			b = rest
		}
	}
	return hs
}

func segmentPaths(t testing.TB, l *Log) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(l.dir, "*.log"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func wantErr(t testing.TB, call string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: got error %v, want %v", call, err, want)
	}
}

func fileSize(t testing.TB, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}
