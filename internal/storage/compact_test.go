package storage

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/strata-io/strata/internal/record"
)

// kv is one record of a test batch.
type kv struct {
	key, value string
	nullKey    bool
	tombstone  bool
}

func put(k, v string) kv      { return kv{key: k, value: v} }
func tombstone(k string) kv   { return kv{key: k, tombstone: true} }
func keyless(v string) kv     { return kv{value: v, nullKey: true} }
func bigValue(n int) string   { return string(bytes.Repeat([]byte{'x'}, n)) }
func (r kv) keyBytes() []byte { return nilIf(r.nullKey, r.key) }

func nilIf(null bool, s string) []byte {
	if null {
		return nil
	}
	return []byte(s)
}

// keyedBatch builds one batch of kvs; record i has timestamp ts+i.
func keyedBatch(t testing.TB, codec record.Codec, ts int64, kvs ...kv) []byte {
	t.Helper()
	return keyedBatchFrom(t, record.NewBuilder(codec, ts), ts, kvs...)
}

func keyedBatchFrom(t testing.TB, b *record.Builder, ts int64, kvs ...kv) []byte {
	t.Helper()
	for i, r := range kvs {
		b.Add(ts+int64(i), r.keyBytes(), nilIf(r.tombstone, r.value), []record.RecordHeader{{Key: "h", Value: []byte(r.key)}})
	}
	out, err := b.Build()
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	return out
}

func compactLogConfig() LogConfig {
	cfg := testLogConfig()
	cfg.Compact, cfg.Delete = true, false
	cfg.DeleteRetention = time.Hour
	return cfg
}

// appendKV appends one batch of kvs (timestamps from the clock) and
// returns the offset of its first record.
func appendKV(t testing.TB, l *Log, clock *testClock, kvs ...kv) int64 {
	t.Helper()
	info, err := l.AppendAsLeader(keyedBatch(t, record.CodecNone, clock.Now().UnixMilli(), kvs...), 0, clock.Now())
	if err != nil {
		t.Fatalf("AppendAsLeader: %v", err)
	}
	return info.FirstOffset
}

// roll seals the active segment (which must not be empty).
func roll(t testing.TB, l *Log) {
	t.Helper()
	l.appendMu.Lock()
	defer l.appendMu.Unlock()
	if err := l.rollLocked(); err != nil {
		t.Fatalf("roll: %v", err)
	}
}

// consumed is a record as a consumer sees it.
type consumed struct {
	Offset    int64
	Key       string
	Value     string
	Tombstone bool
	Timestamp int64
}

// consume reads the log from offset 0 (or its start) to its end as a
// consumer does: it checks every batch's CRC and that offsets increase,
// skips empty batches, and returns the records.
func consume(t testing.TB, l *Log) []consumed {
	t.Helper()
	var out []consumed
	next := l.LogStartOffset()
	for next < l.LogEndOffset() {
		res, err := l.Read(next, 1<<16, l.LogEndOffset(), true)
		if err != nil {
			t.Fatalf("Read(%d): %v", next, err)
		}
		b, err := res.AppendTo(nil)
		if err != nil || len(b) == 0 {
			t.Fatalf("Read(%d) = %d bytes, %v", next, len(b), err)
		}
		for len(b) > 0 {
			batch, rest, err := record.NextBatch(b)
			if err != nil {
				t.Fatalf("NextBatch at %d: %v", next, err)
			}
			h, err := record.ValidateBatch(batch)
			if err != nil {
				t.Fatalf("ValidateBatch at %d: %v", next, err)
			}
			err = record.Records(batch, 1<<20, func(r *record.Record) error {
				off := h.BaseOffset + int64(r.OffsetDelta)
				if n := len(out); n > 0 && off <= out[n-1].Offset {
					return fmt.Errorf("offset %d after %d", off, out[n-1].Offset)
				}
				if off > h.LastOffset() {
					return fmt.Errorf("offset %d past the batch's last offset %d", off, h.LastOffset())
				}
				if len(r.Headers) != 1 || string(r.Headers[0].Value) != string(r.Key) {
					return fmt.Errorf("offset %d: headers %v lost", off, r.Headers)
				}
				out = append(out, consumed{Offset: off, Key: string(r.Key), Value: string(r.Value),
					Tombstone: r.Value == nil, Timestamp: h.BaseTimestamp + r.TimestampDelta})
				return nil
			})
			if err != nil {
				t.Fatalf("records of batch at %d: %v", h.BaseOffset, err)
			}
			next = h.NextOffset()
			b = rest
		}
	}
	return out
}

// latestOnly keeps, of records, the last one of each key.
func latestOnly(records []consumed) []consumed {
	last := map[string]int64{}
	for _, r := range records {
		last[r.Key] = r.Offset
	}
	var out []consumed
	for _, r := range records {
		if last[r.Key] == r.Offset {
			out = append(out, r)
		}
	}
	return out
}

func mustCompact(t testing.TB, l *Log, now time.Time) CompactStats {
	t.Helper()
	st, err := l.Compact(now)
	if err != nil {
		t.Fatalf("Compact(%v): %v", now, err)
	}
	return st
}

func leftoverFiles(t testing.TB, l *Log) []string {
	t.Helper()
	var out []string
	for _, pattern := range []string{"*.cleaned", "*.swap", "*.tmp"} {
		m, err := filepath.Glob(filepath.Join(l.dir, pattern))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, m...)
	}
	return out
}

// writeUpdates appends rounds × keys single-record batches (key-<i>,
// value r<round>-<i>), rolling every perSegment batches, then rolls.
func writeUpdates(t testing.TB, l *Log, clock *testClock, rounds, keys, perSegment int) {
	t.Helper()
	n := 0
	for r := range rounds {
		for k := range keys {
			appendKV(t, l, clock, put(fmt.Sprintf("key-%02d", k), fmt.Sprintf("r%d-%d", r, k)))
			clock.Advance(time.Millisecond)
			if n++; n%perSegment == 0 {
				roll(t, l)
			}
		}
	}
	if n%perSegment != 0 {
		roll(t, l)
	}
}

func TestCompactKeepsLatestValuePerKey(t *testing.T) {
	d, l, clock := testLog(t, compactLogConfig())
	writeUpdates(t, l, clock, 20, 10, 12)
	before := consume(t, l)
	if len(before) != 200 {
		t.Fatalf("wrote %d records, want 200", len(before))
	}
	segsBefore := l.NumSegments()
	st := mustCompact(t, l, clock.Now())
	want := latestOnly(before)
	if diff := cmp.Diff(want, consume(t, l)); diff != "" {
		t.Fatalf("records after Compact (-want +got):\n%s", diff)
	}
	if st.FirstDirtyOffset != 0 || st.EndOffset != 200 || st.MapKeys != 10 || st.RecordsRemoved != 190 || st.MapFull {
		t.Fatalf("Compact stats = %+v, want dirty 0, end 200, 10 keys, 190 removed", st)
	}
	if st.SegmentsRead != segsBefore-1 || st.BytesWritten >= st.BytesRead {
		t.Fatalf("Compact stats = %+v, want %d segments read and fewer bytes written", st, segsBefore-1)
	}
	if l.LogEndOffset() != 200 || l.LogStartOffset() != 0 || l.firstDirty.Load() != 200 {
		t.Fatalf("after Compact: LEO %d LSO %d first dirty %d, want 200 0 200", l.LogEndOffset(), l.LogStartOffset(), l.firstDirty.Load())
	}
	if files := leftoverFiles(t, l); len(files) != 0 {
		t.Fatalf("files left by Compact: %v", files)
	}

	t.Run("a fetch at a removed offset returns the next batch", func(t *testing.T) {
		for off := int64(0); off < 200; off++ {
			res, err := l.Read(off, 1, l.LogEndOffset(), true)
			if err != nil {
				t.Fatalf("Read(%d): %v", off, err)
			}
			b, err := res.AppendTo(nil)
			if err != nil {
				t.Fatal(err)
			}
			h, err := record.ParseHeader(b)
			i := slices.IndexFunc(want, func(r consumed) bool { return r.Offset >= off })
			if err != nil || h.LastOffset() < off || h.BaseOffset > want[i].Offset {
				t.Fatalf("Read(%d) = batch %d..%d (%v), want the first batch ending at or after it", off, h.BaseOffset, h.LastOffset(), err)
			}
		}
	})
	t.Run("timestamps are searchable", func(t *testing.T) {
		for _, r := range want {
			off, ts, _, ok, err := l.OffsetForTimestamp(r.Timestamp)
			if err != nil || !ok || off != r.Offset || ts != r.Timestamp {
				t.Fatalf("OffsetForTimestamp(%d) = %d, %d, %v, %v; want %d", r.Timestamp, off, ts, ok, err, r.Offset)
			}
		}
	})
	t.Run("a second pass with nothing dirty does nothing", func(t *testing.T) {
		st := mustCompact(t, l, clock.Now())
		if st.SegmentsRead != 0 || st.EndOffset != 200 {
			t.Fatalf("second Compact = %+v, want nothing done", st)
		}
	})
	t.Run("clean restart", func(t *testing.T) {
		var l2 *Log
		d, l2 = reopen(t, d, clock, compactLogConfig())
		if diff := cmp.Diff(want, consume(t, l2)); diff != "" {
			t.Fatalf("records after reopen (-want +got):\n%s", diff)
		}
		if fd := l2.firstDirty.Load(); fd != 200 {
			t.Fatalf("cleaner checkpoint after reopen = %d, want 200", fd)
		}
		l = l2
	})
	t.Run("crash restart", func(t *testing.T) {
		_, l2 := crashAndReopen(t, d, clock, compactLogConfig())
		if diff := cmp.Diff(want, consume(t, l2)); diff != "" {
			t.Fatalf("records after crash (-want +got):\n%s", diff)
		}
	})
}

func TestCompactMergesSmallSegments(t *testing.T) {
	cfg := compactLogConfig()
	cfg.SegmentBytes = 8192
	_, l, clock := testLog(t, cfg)
	writeUpdates(t, l, clock, 10, 5, 5) // ten segments, every key in each
	mustCompact(t, l, clock.Now())
	if n := l.NumSegments(); n != 2 {
		t.Fatalf("NumSegments after the first pass = %d, want 2 (one merged, the active)", n)
	}
	first := consume(t, l)
	writeUpdates(t, l, clock, 2, 3, 5)
	all := consume(t, l)
	st := mustCompact(t, l, clock.Now())
	// The clean segment and the dirty ones are not merged together.
	if n := l.NumSegments(); n != 3 || st.SegmentsWritten != 2 {
		t.Fatalf("NumSegments after the second pass = %d (stats %+v), want 3", n, st)
	}
	if diff := cmp.Diff(latestOnly(all), consume(t, l)); diff != "" {
		t.Fatalf("records after the second pass (-want +got):\n%s", diff)
	}
	if len(first) != 5 {
		t.Fatalf("first pass left %d records, want 5", len(first))
	}
}

func TestCompactTombstones(t *testing.T) {
	_, l, clock := testLog(t, compactLogConfig())
	appendKV(t, l, clock, put("a", "1"), put("b", "1"))
	appendKV(t, l, clock, tombstone("a"))
	appendKV(t, l, clock, put("c", "1"), tombstone("d"))
	roll(t, l)
	firstClean := clock.Now()
	st := mustCompact(t, l, firstClean)
	got := consume(t, l)
	want := []consumed{
		{Offset: 1, Key: "b", Value: "1", Timestamp: got[0].Timestamp},
		{Offset: 2, Key: "a", Tombstone: true, Timestamp: got[1].Timestamp},
		{Offset: 3, Key: "c", Value: "1", Timestamp: got[2].Timestamp},
		{Offset: 4, Key: "d", Tombstone: true, Timestamp: got[3].Timestamp},
	}
	if diff := cmp.Diff(want, got); diff != "" || st.TombstonesRemoved != 0 {
		t.Fatalf("after the first pass (%+v) (-want +got):\n%s", st, diff)
	}
	if fi, err := os.Stat(l.segmentsSnapshot()[0].path(logFileSuffix)); err != nil || !fi.ModTime().Equal(firstClean) {
		t.Fatalf("cleaned segment modification time = %v, %v; want the pass's time %v", fi.ModTime(), err, firstClean)
	}

	// Later passes (each with new dirty data to clean) keep the tombstones
	// until delete.retention.ms after the first pass.
	clock.Advance(time.Hour - time.Millisecond)
	appendKV(t, l, clock, put("e", "1"))
	roll(t, l)
	st = mustCompact(t, l, clock.Now())
	if got := consume(t, l); len(got) != 5 || st.TombstonesRemoved != 0 {
		t.Fatalf("one ms before delete.retention.ms: %d records (%+v), want 5 with both tombstones", len(got), st)
	}
	clock.Advance(time.Millisecond)
	appendKV(t, l, clock, put("f", "1"), tombstone("e"))
	roll(t, l)
	st = mustCompact(t, l, clock.Now())
	got = consume(t, l)
	var keys []string
	for _, r := range got {
		keys = append(keys, fmt.Sprintf("%s@%d", r.Key, r.Offset))
	}
	// a's and d's tombstones expired; e's value was superseded by e's
	// tombstone, which is new and stays.
	if diff := cmp.Diff([]string{"b@1", "c@3", "f@6", "e@7"}, keys); diff != "" || st.TombstonesRemoved != 2 {
		t.Fatalf("at delete.retention.ms (%+v) (-want +got):\n%s", st, diff)
	}
}

func TestCompactDropsNullKeys(t *testing.T) {
	_, l, clock := testLog(t, compactLogConfig())
	appendKV(t, l, clock, keyless("x"), put("a", "1"), keyless("y"))
	appendKV(t, l, clock, keyless("z"))
	appendKV(t, l, clock, put("b", "1"))
	roll(t, l)
	st := mustCompact(t, l, clock.Now())
	got := consume(t, l)
	if len(got) != 2 || got[0].Offset != 1 || got[1].Offset != 4 || st.NullKeysRemoved != 3 {
		t.Fatalf("after Compact: %+v (stats %+v), want a@1 and b@4 and 3 null keys removed", got, st)
	}
}

func TestCompactRespectsMinCompactionLag(t *testing.T) {
	cfg := compactLogConfig()
	cfg.MinCompactionLag = time.Hour
	_, l, clock := testLog(t, cfg)
	writeUpdates(t, l, clock, 3, 2, 2) // three segments, written within 6 ms
	before := consume(t, l)
	st := mustCompact(t, l, clock.Now().Add(time.Hour-10*time.Millisecond))
	if st.FirstUncleanableOffset != 0 || st.SegmentsRead != 0 || len(consume(t, l)) != len(before) {
		t.Fatalf("Compact within min.compaction.lag.ms = %+v, want nothing cleanable", st)
	}
	// Two segments are old enough now, the third (newest) is not.
	st = mustCompact(t, l, t0.Add(time.Hour+3*time.Millisecond))
	if st.FirstUncleanableOffset != 4 || st.EndOffset != 4 {
		t.Fatalf("Compact after the lag of two segments = %+v, want uncleanable from 4", st)
	}
	got := consume(t, l)
	want := append(latestOnly(before[:4]), before[4:]...)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("after a partial pass (-want +got):\n%s", diff)
	}
}

func TestCompactLeavesActiveSegmentAlone(t *testing.T) {
	_, l, clock := testLog(t, compactLogConfig())
	writeUpdates(t, l, clock, 3, 3, 100)
	for range 3 {
		appendKV(t, l, clock, put("key-00", "active"))
	}
	active := l.active.path(logFileSuffix)
	b, err := os.ReadFile(active)
	if err != nil {
		t.Fatal(err)
	}
	st := mustCompact(t, l, clock.Now())
	if st.EndOffset != 9 {
		t.Fatalf("Compact end offset = %d, want the active segment's base 9", st.EndOffset)
	}
	after, err := os.ReadFile(active)
	if err != nil || !bytes.Equal(b, after) {
		t.Fatalf("active segment changed by Compact (%v)", err)
	}
	got := consume(t, l)
	if n := len(got); n != 6 || got[0].Key != "key-00" || got[3].Value != "active" {
		t.Fatalf("after Compact: %+v, want key-00 (older), key-01, key-02 and the 3 active records", got)
	}
}

func TestCompactRespectsHighWatermark(t *testing.T) {
	_, l, clock := testLog(t, compactLogConfig())
	for i := range 4 {
		appendKV(t, l, clock, put("k", fmt.Sprint(i)))
	}
	roll(t, l)
	l.SetHighWatermark(2)
	st := mustCompact(t, l, clock.Now())
	got := consume(t, l)
	var values []string
	for _, r := range got {
		values = append(values, r.Value)
	}
	// Only offsets below the high watermark were deduplicated: 1 is the
	// latest below it; 2 and 3 are untouched.
	if diff := cmp.Diff([]string{"1", "2", "3"}, values); diff != "" || st.EndOffset != 2 {
		t.Fatalf("with high watermark 2 (%+v) (-want +got):\n%s", st, diff)
	}
	l.SetHighWatermark(4)
	mustCompact(t, l, clock.Now())
	if got := consume(t, l); len(got) != 1 || got[0].Value != "3" {
		t.Fatalf("with high watermark 4: %+v, want only 3", got)
	}
}

func TestCompactRebuildsCompressedBatches(t *testing.T) {
	for _, codec := range []record.Codec{record.CodecNone, record.CodecGzip, record.CodecSnappy, record.CodecLZ4, record.CodecZstd} {
		for _, appendTime := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/log append time %v", codec, appendTime), func(t *testing.T) {
				cfg := compactLogConfig()
				cfg.LogAppendTime = appendTime
				_, l, clock := testLog(t, cfg)
				ts := clock.Now().UnixMilli()
				b := record.NewBuilder(codec, ts-100)
				b.SetProducer(42, 3, 10)
				first := keyedBatchFrom(t, b, ts-100, put("k0", "a"), put("k1", "a"), put("k2", "a"), put("k3", "a"), put("k4", "a"))
				if _, err := l.AppendAsLeader(first, 7, clock.Now()); err != nil {
					t.Fatal(err)
				}
				if _, err := l.AppendAsLeader(keyedBatch(t, codec, ts, put("k0", "b"), put("k4", "b")), 7, clock.Now()); err != nil {
					t.Fatal(err)
				}
				roll(t, l)
				origHeaders := readAll(t, l, 0)
				mustCompact(t, l, clock.Now())
				hs := readAll(t, l, 0)
				if len(hs) != 2 {
					t.Fatalf("%d batches after Compact, want 2", len(hs))
				}
				h, orig := hs[0], origHeaders[0]
				wantHeader := orig
				wantHeader.Length, wantHeader.CRC, wantHeader.NumRecords = h.Length, h.CRC, 3
				if !appendTime {
					wantHeader.MaxTimestamp = ts - 100 + 3 // k3's
				}
				if diff := cmp.Diff(wantHeader, h); diff != "" {
					t.Fatalf("rebuilt batch header (-want +got):\n%s", diff)
				}
				if hs[1] != origHeaders[1] {
					t.Fatalf("untouched batch header changed: %+v, was %+v", hs[1], origHeaders[1])
				}
				var got []string
				for _, r := range consume(t, l) {
					got = append(got, fmt.Sprintf("%d %s=%s @%d", r.Offset, r.Key, r.Value, r.Timestamp-ts))
				}
				want := []string{"1 k1=a @-99", "2 k2=a @-98", "3 k3=a @-97", "5 k0=b @0", "6 k4=b @1"}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Fatalf("records (-want +got):\n%s", diff)
				}
			})
		}
	}
}

func TestCompactKeepsIdempotentProducerState(t *testing.T) {
	cfg := compactLogConfig()
	d, l, clock := testLog(t, cfg)
	idem := func(seq int32, v string) []byte {
		b := record.NewBuilder(record.CodecNone, clock.Now().UnixMilli())
		b.SetProducer(7, 0, seq)
		return keyedBatchFrom(t, b, clock.Now().UnixMilli(), put("a", v), put("b", v))
	}
	for seq := int32(0); seq < 6; seq += 2 {
		if _, err := l.AppendAsLeader(idem(seq, fmt.Sprint(seq)), 0, clock.Now()); err != nil {
			t.Fatal(err)
		}
	}
	appendKV(t, l, clock, put("a", "other"), put("b", "other")) // supersedes the producer's last batch
	roll(t, l)
	st := mustCompact(t, l, clock.Now())
	hs := readAll(t, l, 0)
	if len(hs) != 2 || hs[0].BaseOffset != 4 || hs[0].NumRecords != 0 || hs[0].LastOffsetDelta != 1 ||
		hs[0].ProducerID != 7 || hs[0].BaseSequence != 4 || st.EmptyBatchesKept != 1 {
		t.Fatalf("after Compact: batches %+v (stats %+v), want the producer's last batch kept empty at 4..5, then 6..7", hs, st)
	}
	retry := func(l *Log, what string) {
		t.Helper()
		info, err := l.AppendAsLeader(idem(4, "4"), 0, clock.Now())
		if err != nil || !info.Duplicate || info.FirstOffset != 4 || info.LastOffset != 5 {
			t.Fatalf("%s: retry of the last batch = %+v, %v; want a duplicate at 4..5", what, info, err)
		}
	}
	retry(l, "after Compact")

	// Without snapshots the state comes from the batches alone.
	d, l = reopenWithout(t, d, clock, cfg, "*.snapshot")
	retry(l, "after a restart without snapshots")
	if _, err := l.AppendAsLeader(idem(6, "6"), 0, clock.Now()); err != nil {
		t.Fatalf("next sequence after a restart without snapshots: %v", err)
	}
	_, l = crashAndReopen(t, d, clock, cfg)
	retry(l, "after a crash")

	// Once the producer wrote again, its empty batch has served its time;
	// 6..7 stays empty as the end of its segment's run.
	roll(t, l)
	mustCompact(t, l, clock.Now())
	var got [][2]int64
	for _, h := range readAll(t, l, 0) {
		got = append(got, [2]int64{h.BaseOffset, int64(h.NumRecords)})
	}
	if diff := cmp.Diff([][2]int64{{6, 0}, {8, 2}}, got); diff != "" {
		t.Fatalf("batches (base offset, records) after the producer moved on (-want +got):\n%s", diff)
	}
}

// reopenWithout closes d cleanly, removes the partition files matching
// pattern, and opens the directory again.
func reopenWithout(t *testing.T, d *LogDir, clock *testClock, cfg LogConfig, pattern string) (*LogDir, *Log) {
	t.Helper()
	l, _ := d.Log(testTP)
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	m, _ := filepath.Glob(filepath.Join(l.dir, pattern))
	if len(m) == 0 {
		t.Fatalf("no %s files to remove", pattern)
	}
	for _, p := range m {
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
	}
	return openAgain(t, d.cfg.Dir, clock, cfg)
}

func TestCompactCrashSafety(t *testing.T) {
	tests := []struct {
		name      string
		stage     string
		nth       int
		wantNewer bool // the reopened log holds the cleaned segments
	}{
		{"after writing .cleaned", "cleaned", 1, false},
		{"after renaming to .swap", "swap", 1, true},
		{"mid-swap, one old segment retired", "retire", 2, true},
		{"mid-swap, all old segments retired", "retired", 1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := compactLogConfig()
			cfg.SegmentBytes = 4096
			d, l, clock := testLog(t, cfg)
			writeUpdates(t, l, clock, 6, 4, 4) // six small segments: one run
			before := consume(t, l)
			want := latestOnly(before)
			calls := 0
			l.haltCompaction = func(stage string) bool {
				if stage == tt.stage {
					calls++
					return calls == tt.nth
				}
				return false
			}
			_, err := l.Compact(clock.Now())
			if !errors.Is(err, errCompactHalted) {
				t.Fatalf("Compact halted at %s = %v, want errCompactHalted", tt.stage, err)
			}
			d, l = crashAndReopen(t, d, clock, cfg)
			got := consume(t, l)
			wantNow := before
			if tt.wantNewer {
				wantNow = want
			}
			if diff := cmp.Diff(wantNow, got); diff != "" {
				t.Fatalf("after the crash (-want +got):\n%s", diff)
			}
			if files := leftoverFiles(t, l); len(files) != 0 {
				t.Fatalf("files left after recovery: %v", files)
			}
			mustCompact(t, l, clock.Now())
			if diff := cmp.Diff(want, consume(t, l)); diff != "" {
				t.Fatalf("after compacting again (-want +got):\n%s", diff)
			}
			_, l = reopen(t, d, clock, cfg)
			if diff := cmp.Diff(want, consume(t, l)); diff != "" {
				t.Fatalf("after a clean restart (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCompactWithBoundedDedupeBuffer(t *testing.T) {
	clock := newTestClock()
	dcfg := testConfig(t.TempDir(), clock)
	dcfg.CleanerDedupeBufferBytes = 4 * (6 + mapEntryOverhead) // four keys
	d, err := OpenLogDir(dcfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	l, err := d.CreateLog(testTP, testTopicID, compactLogConfig())
	if err != nil {
		t.Fatal(err)
	}
	writeUpdates(t, l, clock, 5, 10, 7)
	want := latestOnly(consume(t, l))
	passes := 0
	for {
		st := mustCompact(t, l, clock.Now())
		passes++
		if st.MapKeys > 4 || st.EndOffset <= st.FirstDirtyOffset && st.FirstDirtyOffset < st.FirstUncleanableOffset {
			t.Fatalf("pass %d = %+v, want at most 4 keys and progress", passes, st)
		}
		if !st.MapFull {
			break
		}
		if passes > 50 {
			t.Fatalf("still not done after %d passes", passes)
		}
	}
	if passes < 3 {
		t.Fatalf("%d passes, want several with a four-key buffer", passes)
	}
	if diff := cmp.Diff(want, consume(t, l)); diff != "" {
		t.Fatalf("after %d passes (-want +got):\n%s", passes, diff)
	}
}

func TestCompactRefusesDeleteOnlyLog(t *testing.T) {
	_, l, clock := testLog(t, testLogConfig())
	if _, err := l.Compact(clock.Now()); err == nil {
		t.Fatalf("Compact of a cleanup.policy=delete log succeeded")
	}
}

func TestRetentionOnlyWithDeletePolicy(t *testing.T) {
	for _, del := range []bool{false, true} {
		cfg := compactLogConfig()
		cfg.Delete = del
		cfg.RetentionMs = time.Millisecond
		cfg.RetentionBytes = 0
		_, l, clock := testLog(t, cfg)
		writeUpdates(t, l, clock, 2, 2, 2)
		n, err := l.EnforceRetention(clock.Now().Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if (n > 0) != del {
			t.Fatalf("EnforceRetention with Delete=%v deleted %d segments", del, n)
		}
	}
}

func TestCleanerCheckpoint(t *testing.T) {
	d, l, clock := testLog(t, compactLogConfig())
	writeUpdates(t, l, clock, 2, 3, 3)
	mustCompact(t, l, clock.Now())
	b, err := os.ReadFile(filepath.Join(d.cfg.Dir, cleanerCheckpointFile))
	if err != nil || string(b) != "0\n1\nevents 3 6\n" {
		t.Fatalf("%s after Compact = %q, %v", cleanerCheckpointFile, b, err)
	}
	d, l = reopen(t, d, clock, compactLogConfig())
	if fd := l.firstDirty.Load(); fd != 6 {
		t.Fatalf("cleaner checkpoint after reopen = %d, want 6", fd)
	}
	if err := l.TruncateTo(4); err != nil {
		t.Fatal(err)
	}
	if fd := l.firstDirty.Load(); fd > l.LogEndOffset() {
		t.Fatalf("cleaner checkpoint after truncation = %d, beyond the log end offset %d", fd, l.LogEndOffset())
	}
	if err := l.TruncateFullyAndStartAt(10); err != nil {
		t.Fatal(err)
	}
	if err := d.writeCheckpoints(); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(d.cfg.Dir, cleanerCheckpointFile)); err != nil || string(b) != "0\n0\n" {
		t.Fatalf("%s after a full truncation = %q, %v", cleanerCheckpointFile, b, err)
	}
}

func TestEmptyBatchKeepsHeader(t *testing.T) {
	b := record.NewBuilder(record.CodecZstd, 1000)
	b.SetProducer(5, 2, 40)
	b.SetTransactional(true)
	b.Add(1000, []byte("k"), []byte("v"), nil)
	b.Add(1007, []byte("k"), []byte("v"), nil)
	src, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	record.SetBaseOffset(src, 100)
	record.SetPartitionLeaderEpoch(src, 9)
	h, _ := record.ParseHeader(src)
	empty := emptyBatch(&h)
	got, err := record.ValidateBatch(empty)
	if err != nil {
		t.Fatalf("ValidateBatch(emptyBatch) = %v", err)
	}
	want := h
	want.Length = record.HeaderSize - record.LogOverhead
	want.CRC = got.CRC
	want.Attributes = h.Attributes &^ record.AttrCompressionMask
	want.BaseTimestamp = 1007
	want.NumRecords = 0
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("emptyBatch header (-want +got):\n%s", diff)
	}
	if err := record.Records(empty, 1<<10, func(*record.Record) error { return errors.New("a record") }); err != nil {
		t.Fatalf("Records(emptyBatch) = %v", err)
	}
}

func TestCompleteSwapsAtOpen(t *testing.T) {
	// A decided swap whose old segments are all still there, with no index
	// swap files: the old segments in its range go, the rest stay.
	cfg := compactLogConfig()
	d, l, clock := testLog(t, cfg)
	writeUpdates(t, l, clock, 3, 2, 2) // segments at 0, 2, 4
	want := consume(t, l)
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	// The "cleaned" copy of segments 0 and 2 is their concatenation.
	var merged []byte
	for _, base := range []int64{0, 2} {
		b, err := os.ReadFile(filepath.Join(l.dir, segmentFileName(base, logFileSuffix)))
		if err != nil {
			t.Fatal(err)
		}
		merged = append(merged, b...)
	}
	if err := os.WriteFile(swapPath(l.dir, 0, logFileSuffix), merged, 0o644); err != nil {
		t.Fatal(err)
	}
	_, l = crashAndReopenDir(t, d.cfg.Dir, clock, cfg)
	if diff := cmp.Diff(want, consume(t, l)); diff != "" {
		t.Fatalf("after completing the swap (-want +got):\n%s", diff)
	}
	if got := len(segmentPaths(t, l)); got != 3 {
		t.Fatalf("%d segments after completing the swap, want 3 (merged, 4, 6)", got)
	}
	if files := leftoverFiles(t, l); len(files) != 0 {
		t.Fatalf("files left: %v", files)
	}
}

// crashAndReopenDir opens dir after removing its clean-shutdown marker.
func crashAndReopenDir(t *testing.T, dir string, clock *testClock, cfg LogConfig) (*LogDir, *Log) {
	t.Helper()
	if err := os.Remove(filepath.Join(dir, cleanShutdownFile)); err != nil {
		t.Fatal(err)
	}
	return openAgain(t, dir, clock, cfg)
}

func TestCompactKeepsReadersOfReplacedSegments(t *testing.T) {
	_, l, clock := testLog(t, compactLogConfig())
	writeUpdates(t, l, clock, 5, 4, 20)
	res, err := l.Read(0, 1<<20, l.LogEndOffset(), true)
	if err != nil {
		t.Fatal(err)
	}
	mustCompact(t, l, clock.Now())
	b, err := res.AppendTo(nil)
	if err != nil {
		t.Fatalf("reading a chunk of a replaced segment: %v", err)
	}
	n := 0
	for len(b) > 0 {
		batch, rest, err := record.NextBatch(b)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := record.ValidateBatch(batch); err != nil {
			t.Fatalf("batch %d of the old chunk: %v", n, err)
		}
		n++
		b = rest
	}
	if n != 20 {
		t.Fatalf("old chunk holds %d batches, want the 20 from before compaction", n)
	}
	if got := consume(t, l); len(got) != 4 {
		t.Fatalf("after Compact: %+v, want 4 records", got)
	}
}

func TestCompactCrashAfterFirstRunWhoseTailWasRemoved(t *testing.T) {
	// Runs: {segment a, segment b} then {segment b'}, where b' supersedes
	// every record of b. The first run's new segment keeps b's last batch
	// empty, so recovery knows the run covered b too.
	cfg := compactLogConfig()
	cfg.SegmentBytes = 1000
	d, l, clock := testLog(t, cfg)
	for _, prefix := range []string{"a", "b", "b"} {
		for i := range 5 {
			appendKV(t, l, clock, put(fmt.Sprintf("%s%d", prefix, i), "v"))
		}
		roll(t, l)
	}
	before := consume(t, l)
	l.haltCompaction = func(stage string) bool { return stage == "swap" }
	if _, err := l.Compact(clock.Now()); !errors.Is(err, errCompactHalted) {
		t.Fatalf("Compact = %v, want halted", err)
	}
	_, l = crashAndReopen(t, d, clock, cfg)
	want := append(slices.Clone(before[:5]), before[10:]...)
	if diff := cmp.Diff(want, consume(t, l)); diff != "" {
		t.Fatalf("after the crash (-want +got):\n%s", diff)
	}
	hs := readAll(t, l, 0)
	if last := hs[5]; last.BaseOffset != 9 || last.NumRecords != 0 {
		t.Fatalf("batch after the first run's records = %+v, want b4's batch kept empty at 9", last)
	}
}

func TestCompactKeepsNewTombstonesOfPartlyCleanedSegment(t *testing.T) {
	// A one-key dedupe buffer ends the first pass inside the segment; the
	// tombstone above that point is first cleaned by the second pass, so
	// it stays, however old the segment's clock.
	clock := newTestClock()
	dcfg := testConfig(t.TempDir(), clock)
	dcfg.CleanerDedupeBufferBytes = 1
	d, err := OpenLogDir(dcfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	l, err := d.CreateLog(testTP, testTopicID, compactLogConfig())
	if err != nil {
		t.Fatal(err)
	}
	appendKV(t, l, clock, put("a", "1"), tombstone("b"), put("c", "1"))
	roll(t, l)
	if st := mustCompact(t, l, clock.Now()); !st.MapFull || st.EndOffset != 1 {
		t.Fatalf("first pass = %+v, want the map full at 1", st)
	}
	clock.Advance(2 * time.Hour)
	st := mustCompact(t, l, clock.Now())
	if got := consume(t, l); len(got) != 3 || !got[1].Tombstone || st.TombstonesRemoved != 0 {
		t.Fatalf("second pass (%+v): %+v, want b's tombstone kept", st, got)
	}
}

func TestCompactAlongsideAppendsAndReads(t *testing.T) {
	cfg := compactLogConfig()
	cfg.SegmentBytes = 2048
	_, l, clock := testLog(t, cfg)
	const batches = 600
	stop := make(chan struct{})
	readerDone := make(chan error, 1)
	go func() {
		// A consumer reading from the start over and over.
		defer close(readerDone)
		for {
			select {
			case <-stop:
				return
			default:
			}
			for next := l.LogStartOffset(); next < l.LogEndOffset(); {
				res, err := l.Read(next, 4096, l.LogEndOffset(), true)
				if err != nil {
					readerDone <- fmt.Errorf("Read(%d): %w", next, err)
					return
				}
				b, err := res.AppendTo(nil)
				if err != nil {
					readerDone <- err
					return
				}
				for len(b) > 0 {
					batch, rest, err := record.NextBatch(b)
					if err == nil {
						_, err = record.ValidateBatch(batch)
					}
					if err != nil {
						readerDone <- fmt.Errorf("batch at %d: %w", next, err)
						return
					}
					h, _ := record.ParseHeader(batch)
					next = h.NextOffset()
					b = rest
				}
			}
		}
	}()
	compactDone := make(chan error, 1)
	go func() {
		defer close(compactDone)
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := l.Compact(clock.Now()); err != nil && !errors.Is(err, errCleanAborted) {
				compactDone <- err
				return
			}
		}
	}()
	for i := range batches {
		appendKV(t, l, clock, put(fmt.Sprintf("key-%02d", i%20), fmt.Sprint(i)))
	}
	close(stop)
	if err := <-readerDone; err != nil {
		t.Fatalf("reader: %v", err)
	}
	if err := <-compactDone; err != nil {
		t.Fatalf("Compact: %v", err)
	}
	roll(t, l)
	mustCompact(t, l, clock.Now())
	got := consume(t, l)
	if len(got) != 20 {
		t.Fatalf("after the last pass: %d records, want 20", len(got))
	}
	for i, r := range got {
		if r.Offset != int64(batches-20+i) {
			t.Fatalf("record %d at offset %d, want %d", i, r.Offset, batches-20+i)
		}
	}
}

func TestCompactStopsWhenTruncatedMeanwhile(t *testing.T) {
	_, l, clock := testLog(t, compactLogConfig())
	writeUpdates(t, l, clock, 4, 3, 4)
	before := consume(t, l)
	l.haltCompaction = func(stage string) bool {
		if stage == "cleaned" {
			l.haltCompaction = nil
			if err := l.TruncateTo(10); err != nil {
				t.Errorf("TruncateTo: %v", err)
			}
		}
		return false
	}
	_, err := l.Compact(clock.Now())
	if !errors.Is(err, errCleanAborted) {
		t.Fatalf("Compact with a truncation meanwhile = %v, want errCleanAborted", err)
	}
	if files := leftoverFiles(t, l); len(files) != 0 {
		t.Fatalf("files left by the stopped pass: %v", files)
	}
	if diff := cmp.Diff(before[:10], consume(t, l)); diff != "" {
		t.Fatalf("after the stopped pass (-want +got):\n%s", diff)
	}
	if fd := l.firstDirty.Load(); fd != -1 {
		t.Fatalf("cleaner checkpoint after the stopped pass = %d, want unset", fd)
	}
}
