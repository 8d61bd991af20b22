package storage

import (
	"bytes"
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/strata-io/strata/internal/record"
)

func TestAppendAssignsOffsetsAndEpochs(t *testing.T) {
	_, l, _ := testLog(t, testLogConfig())
	b1 := buildBatch(t, spec(3))
	b2 := buildBatch(t, spec(2))
	info := mustAppend(t, l, b1, b2)
	want := AppendInfo{FirstOffset: 0, LastOffset: 4, LogAppendTime: -1, LogStartOffset: 0}
	if diff := cmp.Diff(want, info); diff != "" {
		t.Fatalf("AppendAsLeader(3+2 records) info (-want +got):\n%s", diff)
	}
	info, err := l.AppendAsLeader(buildBatch(t, spec(1)), 4, t0)
	if err != nil || info.FirstOffset != 5 {
		t.Fatalf("AppendAsLeader(epoch 4) = %+v, %v; want first offset 5", info, err)
	}
	hs := readAll(t, l, 0)
	var got [][3]int64
	for _, h := range hs {
		got = append(got, [3]int64{h.BaseOffset, h.LastOffset(), int64(h.PartitionLeaderEpoch)})
	}
	if diff := cmp.Diff([][3]int64{{0, 2, 1}, {3, 4, 1}, {5, 5, 4}}, got); diff != "" {
		t.Fatalf("batches (base, last, epoch) (-want +got):\n%s", diff)
	}
	if _, err := l.AppendAsLeader(buildBatch(t, spec(1)), 3, t0); err == nil {
		t.Fatalf("AppendAsLeader(epoch 3 after 4) succeeded, want error")
	}
}

func TestAppendRejectsBrokenFraming(t *testing.T) {
	_, l, _ := testLog(t, testLogConfig())
	b := buildBatch(t, spec(2))
	tests := []struct {
		name string
		give []byte
	}{
		{"empty", nil},
		{"truncated", b[:len(b)-1]},
		{"trailing bytes", append(append([]byte{}, b...), 1, 2, 3)},
		{"bad magic", func() []byte { c := bytes.Clone(b); c[16] = 1; return c }()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := l.AppendAsLeader(tt.give, 0, t0)
			if !errors.Is(err, record.ErrCorrupt) && !errors.Is(err, record.ErrInvalid) {
				t.Fatalf("AppendAsLeader(%s): got %v, want record.ErrCorrupt or ErrInvalid", tt.name, err)
			}
			if l.LogEndOffset() != 0 || l.Size() != 0 {
				t.Fatalf("after refused append: log end offset %d size %d, want 0 0", l.LogEndOffset(), l.Size())
			}
		})
	}
}

func TestLogAppendTimeStampsBatches(t *testing.T) {
	cfg := testLogConfig()
	cfg.LogAppendTime = true
	_, l, _ := testLog(t, cfg)
	now := t0.Add(time.Hour)
	info, err := l.AppendAsLeader(buildBatch(t, spec(3)), 0, now)
	if err != nil {
		t.Fatal(err)
	}
	if info.LogAppendTime != now.UnixMilli() {
		t.Fatalf("LogAppendTime = %d, want %d", info.LogAppendTime, now.UnixMilli())
	}
	hs := readAll(t, l, 0) // also validates the recomputed CRC
	if !hs[0].IsLogAppendTime() || hs[0].MaxTimestamp != now.UnixMilli() {
		t.Fatalf("stored batch: LogAppendTime %v max timestamp %d, want true %d", hs[0].IsLogAppendTime(), hs[0].MaxTimestamp, now.UnixMilli())
	}
}

func TestReadReturnsWholeBatches(t *testing.T) {
	_, l, _ := testLog(t, testLogConfig())
	var sizes []int64
	for i := range 20 {
		b := buildBatch(t, spec(1+i%4).size(50+i*7))
		sizes = append(sizes, int64(len(b)))
		mustAppend(t, l, b)
	}
	leo := l.LogEndOffset()
	hs := readAll(t, l, 0)
	if len(hs) != 20 {
		t.Fatalf("readAll: %d batches, want 20", len(hs))
	}

	t.Run("every offset starts at its batch", func(t *testing.T) {
		for _, h := range hs {
			for off := h.BaseOffset; off <= h.LastOffset(); off++ {
				res, err := l.Read(off, 1, leo, true)
				if err != nil {
					t.Fatalf("Read(%d): %v", off, err)
				}
				b, err := res.AppendTo(nil)
				if err != nil {
					t.Fatal(err)
				}
				got, err := record.ParseHeader(b)
				if err != nil || got.BaseOffset != h.BaseOffset || len(b) != got.Size() {
					t.Fatalf("Read(%d, maxBytes 1, minOne) = batch %d of %d bytes (%v), want batch %d whole", off, got.BaseOffset, len(b), err, h.BaseOffset)
				}
			}
		}
	})
	t.Run("maxBytes without minOneBatch", func(t *testing.T) {
		res, err := l.Read(0, int32(sizes[0]-1), leo, false)
		if err != nil || res.Size != 0 {
			t.Fatalf("Read(0, %d, false) = %d bytes, %v; want 0", sizes[0]-1, res.Size, err)
		}
		res, err = l.Read(0, int32(sizes[0]+sizes[1]+sizes[2]-1), leo, false)
		if err != nil || res.Size != sizes[0]+sizes[1] {
			t.Fatalf("Read(0, 3 batches - 1) = %d bytes, %v; want %d", res.Size, err, sizes[0]+sizes[1])
		}
	})
	t.Run("maxOffset bounds the read", func(t *testing.T) {
		hw := hs[5].BaseOffset
		res, err := l.Read(0, math.MaxInt32, hw, true)
		if err != nil {
			t.Fatal(err)
		}
		var want int64
		for _, s := range sizes[:5] {
			want += s
		}
		if res.Size != want {
			t.Fatalf("Read(0, max, hw %d) = %d bytes, want %d", hw, res.Size, want)
		}
		res, err = l.Read(hw, math.MaxInt32, hw, true)
		if err != nil || res.Size != 0 {
			t.Fatalf("Read(hw, max, hw) = %d bytes, %v; want 0", res.Size, err)
		}
	})
	t.Run("log end offset is empty", func(t *testing.T) {
		res, err := l.Read(leo, 1<<20, leo, true)
		if err != nil || res.Size != 0 {
			t.Fatalf("Read(LEO) = %d bytes, %v; want empty", res.Size, err)
		}
	})
	t.Run("beyond log end offset", func(t *testing.T) {
		_, err := l.Read(leo+1, 1<<20, leo+1, true)
		wantErr(t, "Read(LEO+1)", err, ErrOffsetOutOfRange)
	})
}

func TestReadAcrossManySegmentsUsesIndexes(t *testing.T) {
	cfg := testLogConfig()
	cfg.SegmentBytes = 8 << 10
	cfg.IndexIntervalBytes = 300
	d, l, clock := testLog(t, cfg)
	var want []int64
	for i := range 300 {
		info := mustAppend(t, l, buildBatch(t, spec(1+i%3).size(100)))
		want = append(want, info.FirstOffset)
	}
	if n := l.NumSegments(); n < 10 {
		t.Fatalf("NumSegments = %d, want >= 10 with 8 KiB segments", n)
	}
	check := func(t *testing.T, l *Log) {
		leo := l.LogEndOffset()
		for i, base := range want {
			last := leo - 1
			if i+1 < len(want) {
				last = want[i+1] - 1
			}
			for off := base; off <= last; off++ {
				res, err := l.Read(off, 1, leo, true)
				if err != nil {
					t.Fatalf("Read(%d): %v", off, err)
				}
				b, err := res.AppendTo(nil)
				if err != nil {
					t.Fatal(err)
				}
				h, err := record.ValidateBatch(b)
				if err != nil || h.BaseOffset != base {
					t.Fatalf("Read(%d) = batch at %d (%v), want %d", off, h.BaseOffset, err, base)
				}
			}
		}
		if got := len(readAll(t, l, 0)); got != len(want) {
			t.Fatalf("readAll = %d batches, want %d", got, len(want))
		}
	}
	check(t, l)
	_, l = reopen(t, d, clock, cfg)
	check(t, l)
}

func TestSegmentRollsWhenFull(t *testing.T) {
	cfg := testLogConfig()
	b := buildBatch(t, spec(1).size(100))
	cfg.SegmentBytes = int64(3*len(b) + 10)
	_, l, _ := testLog(t, cfg)
	for range 7 {
		mustAppend(t, l, buildBatch(t, spec(1).size(100)))
	}
	if n := l.NumSegments(); n != 3 {
		t.Fatalf("NumSegments after 7 batches of 3 per segment = %d, want 3", n)
	}
	names := segmentPaths(t, l)
	want := []string{"00000000000000000000.log", "00000000000000000003.log", "00000000000000000006.log"}
	for i := range names {
		names[i] = filepath.Base(names[i])
	}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Fatalf("segment files (-want +got):\n%s", diff)
	}
	// NB: a roll queues the old segment's fsync rather than waiting for it
	// (the group syncer runs it), so the recovery point gets there soon
	// after the append returns, not at once.
	deadline := time.Now().Add(10 * time.Second)
	for l.RecoveryPoint() < 6 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if rp := l.RecoveryPoint(); rp < 6 {
		t.Fatalf("RecoveryPoint 10s after rolls = %d, want at least 6 (rolls queue an fsync of the sealed segments)", rp)
	}
	for _, base := range []int64{0, 3} {
		if _, err := os.Stat(filepath.Join(l.dir, segmentFileName(base, indexFileSuffix))); err != nil {
			t.Fatalf("sealed segment %d has no index file: %v", base, err)
		}
	}
	if _, err := os.Stat(l.snapshotPath(6)); err != nil {
		t.Fatalf("no producer snapshot at roll offset 6: %v", err)
	}
}

func TestSegmentRollsByAge(t *testing.T) {
	cfg := testLogConfig()
	cfg.SegmentMs = time.Hour
	_, l, _ := testLog(t, cfg)
	if _, err := l.AppendAsLeader(buildBatch(t, spec(1)), 0, t0); err != nil {
		t.Fatal(err)
	}
	if _, err := l.AppendAsLeader(buildBatch(t, spec(1)), 0, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if n := l.NumSegments(); n != 1 {
		t.Fatalf("NumSegments after exactly segment.ms = %d, want 1", n)
	}
	if _, err := l.AppendAsLeader(buildBatch(t, spec(1)), 0, t0.Add(time.Hour+time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if n := l.NumSegments(); n != 2 {
		t.Fatalf("NumSegments after segment.ms passed = %d, want 2", n)
	}
	// The new segment's age counts from its own first append.
	if _, err := l.AppendAsLeader(buildBatch(t, spec(1)), 0, t0.Add(90*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if n := l.NumSegments(); n != 2 {
		t.Fatalf("NumSegments = %d, want 2", n)
	}
}

func TestSegmentRollsWhenIndexFull(t *testing.T) {
	cfg := testLogConfig()
	cfg.IndexIntervalBytes = 0
	cfg.SegmentIndexBytes = 4 * offsetEntrySize
	_, l, _ := testLog(t, cfg)
	for range 12 {
		mustAppend(t, l, buildBatch(t, spec(1)))
	}
	// Entries start at the second batch, so a segment holds 5 batches.
	if n := l.NumSegments(); n != 3 {
		t.Fatalf("NumSegments = %d, want 3", n)
	}
}

func TestDeleteRecordsBefore(t *testing.T) {
	cfg := testLogConfig()
	cfg.SegmentBytes = 1000
	d, l, clock := testLog(t, cfg)
	for range 30 {
		mustAppend(t, l, buildBatch(t, spec(2).size(100)))
	}
	segs := l.NumSegments()
	if err := l.DeleteRecordsBefore(25); err != nil {
		t.Fatalf("DeleteRecordsBefore(25): %v", err)
	}
	if got := l.LogStartOffset(); got != 25 {
		t.Fatalf("LogStartOffset = %d, want 25", got)
	}
	if l.NumSegments() >= segs {
		t.Fatalf("NumSegments = %d, want below %d", l.NumSegments(), segs)
	}
	_, err := l.Read(24, 1000, 60, true)
	wantErr(t, "Read(24)", err, ErrOffsetOutOfRange)
	res, err := l.Read(25, 1000, 60, true)
	if err != nil || res.Size == 0 {
		t.Fatalf("Read(25) = %d bytes, %v", res.Size, err)
	}
	wantErr(t, "DeleteRecordsBefore(LEO+1)", l.DeleteRecordsBefore(61), ErrOffsetOutOfRange)
	// The log start offset survives a crash (checkpointed synchronously).
	_, l = crashAndReopen(t, d, clock, cfg)
	if got := l.LogStartOffset(); got != 25 {
		t.Fatalf("LogStartOffset after crash = %d, want 25", got)
	}
}

func TestTruncateTo(t *testing.T) {
	cfg := testLogConfig()
	cfg.SegmentBytes = 1000
	d, l, clock := testLog(t, cfg)
	for i := range 30 {
		if _, err := l.AppendAsLeader(buildBatch(t, spec(2).size(100).at(t0.UnixMilli()+int64(i))), int32(i/10), t0); err != nil {
			t.Fatal(err)
		}
	}
	res, err := l.Read(50, 1<<20, 60, true)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.TruncateTo(41); err != nil { // inside the batch 40-41
		t.Fatalf("TruncateTo(41): %v", err)
	}
	if got := l.LogEndOffset(); got != 40 {
		t.Fatalf("LogEndOffset after TruncateTo(41) = %d, want 40 (whole batch dropped)", got)
	}
	if got := l.LatestEpoch(); got != 1 {
		t.Fatalf("LatestEpoch after truncation = %d, want 1", got)
	}
	if ep, end := l.EndOffsetForEpoch(1); ep != 1 || end != 40 {
		t.Fatalf("EndOffsetForEpoch(1) = %d, %d; want 1, 40", ep, end)
	}
	// A reader's chunk of a truncated-away segment stays readable.
	if _, err := res.AppendTo(nil); err != nil {
		t.Fatalf("AppendTo of a chunk read before truncation: %v", err)
	}
	info := mustAppend(t, l, buildBatch(t, spec(1)))
	if info.FirstOffset != 40 {
		t.Fatalf("append after truncation at %d, want 40", info.FirstOffset)
	}
	if err := l.TruncateTo(100); err != nil || l.LogEndOffset() != 41 {
		t.Fatalf("TruncateTo(beyond LEO) = %v, LEO %d; want no-op", err, l.LogEndOffset())
	}
	hs := readAll(t, l, 0)
	if len(hs) != 21 || hs[20].BaseOffset != 40 {
		t.Fatalf("after truncation: %d batches, last at %d; want 21, 40", len(hs), hs[len(hs)-1].BaseOffset)
	}
	// A truncated sealed segment is active again and survives both restarts.
	_, l = reopen(t, d, clock, cfg)
	if got := len(readAll(t, l, 0)); got != 21 || l.LogEndOffset() != 41 {
		t.Fatalf("after clean restart: %d batches, LEO %d; want 21, 41", got, l.LogEndOffset())
	}
	if err := l.TruncateTo(10); err != nil {
		t.Fatal(err)
	}
	if got := l.LogEndOffset(); got != 10 {
		t.Fatalf("LogEndOffset = %d, want 10", got)
	}
}

func TestTruncateFullyAndStartAt(t *testing.T) {
	_, l, _ := testLog(t, testLogConfig())
	mustAppend(t, l, buildBatch(t, spec(5).idem(7, 0, 0)))
	if err := l.TruncateFullyAndStartAt(100); err != nil {
		t.Fatal(err)
	}
	if l.LogStartOffset() != 100 || l.LogEndOffset() != 100 || l.LatestEpoch() != -1 {
		t.Fatalf("after TruncateFullyAndStartAt(100): LSO %d LEO %d epoch %d; want 100 100 -1", l.LogStartOffset(), l.LogEndOffset(), l.LatestEpoch())
	}
	info := mustAppend(t, l, buildBatch(t, spec(1).idem(7, 0, 5)))
	if info.FirstOffset != 100 {
		t.Fatalf("append at %d, want 100", info.FirstOffset)
	}
}

func TestAppendAsFollower(t *testing.T) {
	_, leader, _ := testLog(t, testLogConfig())
	clock := newTestClock()
	fd := openDir(t, t.TempDir(), clock)
	t.Cleanup(func() { _ = fd.Close() })
	follower, err := fd.CreateLog(testTP, testTopicID, testLogConfig())
	if err != nil {
		t.Fatal(err)
	}
	for epoch := range int32(3) {
		for range 3 {
			if _, err := leader.AppendAsLeader(buildBatch(t, spec(2).idem(9, 0, int32(leader.LogEndOffset()))), epoch*2, t0); err != nil {
				t.Fatal(err)
			}
		}
	}
	res, err := leader.Read(0, 1<<20, leader.LogEndOffset(), true)
	if err != nil {
		t.Fatal(err)
	}
	data, err := res.AppendTo(nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = follower.AppendAsFollower(data[100:])
	if err == nil {
		t.Fatalf("AppendAsFollower(misaligned) succeeded")
	}
	first, _, _ := record.NextBatch(data)
	info, err := follower.AppendAsFollower(data)
	if err != nil || info.FirstOffset != 0 || info.LastOffset != 17 {
		t.Fatalf("AppendAsFollower = %+v, %v; want 0..17", info, err)
	}
	_, err = follower.AppendAsFollower(data[len(first):])
	wantErr(t, "AppendAsFollower(starting at 2, log end offset 18)", err, ErrOffsetMismatch)
	corrupt := bytes.Clone(first)
	corrupt[len(corrupt)-1] ^= 0xff
	record.SetBaseOffset(corrupt, 18)
	_, err = follower.AppendAsFollower(corrupt)
	wantErr(t, "AppendAsFollower(bad CRC)", err, record.ErrCorrupt)
	for _, epoch := range []int32{0, 1, 2, 3, 4, 5} {
		le, lo := leader.EndOffsetForEpoch(epoch)
		fe, fo := follower.EndOffsetForEpoch(epoch)
		if le != fe || lo != fo {
			t.Fatalf("EndOffsetForEpoch(%d): leader %d,%d follower %d,%d", epoch, le, lo, fe, fo)
		}
	}
	// The follower tracked producer state: a retry now is a duplicate.
	retry := buildBatch(t, spec(2).idem(9, 0, 16))
	info, err = follower.AppendAsLeader(retry, 4, t0)
	if err != nil || !info.Duplicate || info.FirstOffset != 16 {
		t.Fatalf("retry on follower = %+v, %v; want duplicate at 16", info, err)
	}
}

func TestAppendAsFollowerAcceptsOffsetGap(t *testing.T) {
	_, follower, _ := testLog(t, testLogConfig())
	// A compacted leader sends a batch at 0..1, then one at 10..11: the
	// offsets between were cleaned away.
	a := buildBatch(t, spec(2))
	record.SetPartitionLeaderEpoch(a, 1)
	b := buildBatch(t, spec(2))
	record.SetBaseOffset(b, 10)
	record.SetPartitionLeaderEpoch(b, 2)
	if _, err := follower.AppendAsFollower(a); err != nil {
		t.Fatal(err)
	}
	info, err := follower.AppendAsFollower(b)
	if err != nil || info.FirstOffset != 10 || info.LastOffset != 11 {
		t.Fatalf("AppendAsFollower(batch at 10, log end offset 2) = %+v, %v; want 10..11", info, err)
	}
	if leo := follower.LogEndOffset(); leo != 12 {
		t.Fatalf("LogEndOffset after gap = %d, want 12", leo)
	}
	if e, end := follower.EndOffsetForEpoch(1); e != 1 || end != 10 {
		t.Fatalf("EndOffsetForEpoch(1) = %d, %d; want 1, 10", e, end)
	}
	var got []int64
	for _, h := range readAll(t, follower, 0) {
		got = append(got, h.BaseOffset)
	}
	if !slices.Equal(got, []int64{0, 10}) {
		t.Fatalf("batches read from 0 start at %v, want [0 10]", got)
	}
	// Offsets inside the gap read from the next batch.
	hs := readAll(t, follower, 5)
	if len(hs) != 1 || hs[0].BaseOffset != 10 {
		t.Fatalf("read from 5 = %+v, want the batch at 10", hs)
	}
	_, err = follower.AppendAsFollower(b)
	wantErr(t, "AppendAsFollower(batch at 10 again)", err, ErrOffsetMismatch)
}

func TestEndOffsetForEpoch(t *testing.T) {
	_, l, _ := testLog(t, testLogConfig())
	for _, epoch := range []int32{1, 1, 3, 3, 3, 6} { // 2 records each
		if _, err := l.AppendAsLeader(buildBatch(t, spec(2)), epoch, t0); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		give      int32
		wantEpoch int32
		wantEnd   int64
	}{
		{give: -1, wantEpoch: -1, wantEnd: -1},
		{give: 0, wantEpoch: 0, wantEnd: 0}, // below the first epoch: its start
		{give: 1, wantEpoch: 1, wantEnd: 4},
		{give: 2, wantEpoch: 1, wantEnd: 4}, // unknown epoch: the previous one's end
		{give: 3, wantEpoch: 3, wantEnd: 10},
		{give: 5, wantEpoch: 3, wantEnd: 10},
		{give: 6, wantEpoch: 6, wantEnd: 12}, // latest: the log end offset
		{give: 7, wantEpoch: -1, wantEnd: -1},
	}
	for _, tt := range tests {
		e, end := l.EndOffsetForEpoch(tt.give)
		if e != tt.wantEpoch || end != tt.wantEnd {
			t.Errorf("EndOffsetForEpoch(%d) = %d, %d; want %d, %d", tt.give, e, end, tt.wantEpoch, tt.wantEnd)
		}
	}
	b, err := os.ReadFile(filepath.Join(l.dir, leaderEpochCheckpointFile))
	if err != nil {
		t.Fatal(err)
	}
	if want := "0\n3\n1 0\n3 4\n6 10\n"; string(b) != want {
		t.Fatalf("leader-epoch-checkpoint = %q, want %q", b, want)
	}
}

func TestOffsetForTimestampAndMaxTimestamp(t *testing.T) {
	cfg := testLogConfig()
	cfg.SegmentBytes = 2000
	cfg.IndexIntervalBytes = 100
	d, l, clock := testLog(t, cfg)
	if off, ts, ep := l.MaxTimestamp(); off != -1 || ts != -1 || ep != -1 {
		t.Fatalf("MaxTimestamp of empty log = %d, %d, %d; want -1s", off, ts, ep)
	}
	base := int64(1_000_000)
	// 40 batches of 5 records, timestamps base + 10*offset, except one
	// out-of-order peak in batch 20.
	for i := range 40 {
		s := spec(5).at(base + int64(i)*50)
		s.tsStep = 10
		if i == 20 {
			s.codec = record.CodecZstd
		}
		mustAppend(t, l, buildBatch(t, s))
	}
	peak := spec(3).at(base + 100_000)
	peak.tsStep = -1
	mustAppend(t, l, buildBatch(t, peak)) // offsets 200..202, timestamps 100000, 99999, 99998
	mustAppend(t, l, buildBatch(t, spec(2).at(base+2000)))
	if l.NumSegments() < 3 {
		t.Fatalf("NumSegments = %d, want several", l.NumSegments())
	}
	check := func(t *testing.T, l *Log) {
		tests := []struct {
			give            int64
			wantOff, wantTs int64
			wantOK          bool
		}{
			{give: 0, wantOff: 0, wantTs: base, wantOK: true},
			{give: base, wantOff: 0, wantTs: base, wantOK: true},
			{give: base + 1, wantOff: 1, wantTs: base + 10, wantOK: true},
			{give: base + 1005, wantOff: 101, wantTs: base + 1010, wantOK: true}, // in the zstd batch
			{give: base + 1990, wantOff: 199, wantTs: base + 1990, wantOK: true},
			{give: base + 1991, wantOff: 200, wantTs: base + 100_000, wantOK: true},
			{give: base + 99_999, wantOff: 200, wantTs: base + 100_000, wantOK: true},
			{give: base + 100_001, wantOK: false},
		}
		for _, tt := range tests {
			off, ts, _, ok, err := l.OffsetForTimestamp(tt.give)
			if err != nil || ok != tt.wantOK || (ok && (off != tt.wantOff || ts != tt.wantTs)) {
				t.Errorf("OffsetForTimestamp(%d) = %d, %d, %v, %v; want %d, %d, %v", tt.give, off, ts, ok, err, tt.wantOff, tt.wantTs, tt.wantOK)
			}
		}
		off, ts, ep := l.MaxTimestamp()
		if off != 200 || ts != base+100_000 || ep != 1 {
			t.Errorf("MaxTimestamp = %d, %d, %d; want 200, %d, 1", off, ts, ep, base+100_000)
		}
	}
	check(t, l)
	_, l = reopen(t, d, clock, cfg)
	check(t, l)

	if err := l.DeleteRecordsBefore(3); err != nil {
		t.Fatal(err)
	}
	off, _, _, ok, err := l.OffsetForTimestamp(base)
	if err != nil || !ok || off != 3 {
		t.Fatalf("OffsetForTimestamp below log start offset = %d, %v, %v; want 3", off, ok, err)
	}
}

func TestRetentionByTime(t *testing.T) {
	cfg := testLogConfig()
	cfg.SegmentBytes = 1000
	cfg.RetentionMs = time.Hour
	cfg.FileDeleteDelay = time.Minute
	d, l, clock := testLog(t, cfg)
	for i := range 20 {
		mustAppend(t, l, buildBatch(t, spec(2).size(100).at(t0.UnixMilli()+int64(i)*60_000)))
	}
	segs := l.NumSegments()
	if segs < 4 {
		t.Fatalf("NumSegments = %d, want >= 4", segs)
	}
	n, err := l.EnforceRetention(t0.Add(time.Hour))
	if err != nil || n != 0 {
		t.Fatalf("EnforceRetention(nothing expired) = %d, %v", n, err)
	}
	// After 1h10m+ε the segments whose newest record is older than 10m+ε go.
	now := t0.Add(70*time.Minute + time.Millisecond)
	res, err := l.Read(0, 1<<20, l.LogEndOffset(), true)
	if err != nil {
		t.Fatal(err)
	}
	n, err = l.EnforceRetention(now)
	if err != nil || n == 0 {
		t.Fatalf("EnforceRetention(%v) = %d, %v; want some deleted", now, n, err)
	}
	lso := l.LogStartOffset()
	if lso == 0 {
		t.Fatalf("LogStartOffset did not move")
	}
	_, err = l.Read(lso-1, 100, l.LogEndOffset(), true)
	wantErr(t, "Read(below log start offset)", err, ErrOffsetOutOfRange)
	for _, h := range readAll(t, l, lso) {
		if h.MaxTimestamp < now.Add(-time.Hour).UnixMilli() && h.BaseOffset < lso {
			t.Fatalf("expired batch %d kept", h.BaseOffset)
		}
	}
	// Deleted files stay readable until file.delete.delay.ms passes.
	deleted, _ := filepath.Glob(filepath.Join(l.dir, "*.deleted"))
	if len(deleted) == 0 {
		t.Fatalf("no .deleted files after retention")
	}
	if _, err := res.AppendTo(nil); err != nil {
		t.Fatalf("reading a chunk of a deleted segment: %v", err)
	}
	if err := d.deleter.runDue(clock.Now().Add(cfg.FileDeleteDelay-time.Millisecond), false); err != nil {
		t.Fatal(err)
	}
	if still, _ := filepath.Glob(filepath.Join(l.dir, "*.deleted")); len(still) != len(deleted) {
		t.Fatalf("files removed before the delay")
	}
	if err := d.deleter.runDue(clock.Now().Add(cfg.FileDeleteDelay), false); err != nil {
		t.Fatal(err)
	}
	if still, _ := filepath.Glob(filepath.Join(l.dir, "*.deleted")); len(still) != 0 {
		t.Fatalf("%d .deleted files left after the delay", len(still))
	}

	// Everything expired: the active segment is rolled, then deleted.
	n, err = l.EnforceRetention(t0.Add(10 * time.Hour))
	if err != nil || n == 0 {
		t.Fatalf("EnforceRetention(all expired) = %d, %v", n, err)
	}
	if l.NumSegments() != 1 || l.Size() != 0 || l.LogStartOffset() != 40 || l.LogEndOffset() != 40 {
		t.Fatalf("after full expiry: %d segments, %d bytes, LSO %d, LEO %d; want 1, 0, 40, 40", l.NumSegments(), l.Size(), l.LogStartOffset(), l.LogEndOffset())
	}
	if info := mustAppend(t, l, buildBatch(t, spec(1))); info.FirstOffset != 40 {
		t.Fatalf("append after full expiry at %d, want 40", info.FirstOffset)
	}
}

func TestRetentionByBytes(t *testing.T) {
	cfg := testLogConfig()
	b := buildBatch(t, spec(1).size(200))
	cfg.SegmentBytes = int64(2 * len(b))
	cfg.RetentionBytes = int64(5 * len(b))
	_, l, _ := testLog(t, cfg)
	for range 10 {
		mustAppend(t, l, buildBatch(t, spec(1).size(200)))
	}
	// 5 segments of 2 batches. As in Kafka, a segment goes only if the
	// log stays at or above retention.bytes without it: 2 segments go,
	// leaving 6 batches.
	n, err := l.EnforceRetention(t0)
	if err != nil || n != 2 {
		t.Fatalf("EnforceRetention = %d, %v; want 2", n, err)
	}
	if l.Size() != int64(6*len(b)) || l.LogStartOffset() != 4 {
		t.Fatalf("after retention: size %d, LSO %d; want %d, 4", l.Size(), l.LogStartOffset(), 6*len(b))
	}
	cfg.RetentionBytes = 0
	l.SetConfig(cfg)
	if n, err := l.EnforceRetention(t0); err != nil || n != 3 || l.Size() != 0 || l.LogStartOffset() != 10 {
		t.Fatalf("EnforceRetention(retention.bytes 0) = %d, %v; size %d LSO %d; want 3, 0 bytes, LSO 10", n, err, l.Size(), l.LogStartOffset())
	}
}

func TestRetentionKeepsDataAboveHighWatermark(t *testing.T) {
	cfg := testLogConfig()
	cfg.SegmentBytes = 500
	cfg.RetentionMs = time.Millisecond
	_, l, _ := testLog(t, cfg)
	for range 10 {
		mustAppend(t, l, buildBatch(t, spec(1).size(200)))
	}
	l.SetHighWatermark(4)
	if _, err := l.EnforceRetention(t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if lso := l.LogStartOffset(); lso != 4 {
		t.Fatalf("LogStartOffset = %d, want 4 (segments up to the high watermark)", lso)
	}
}

func TestRunEnforcesRetentionAndCheckpoints(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := testLogConfig()
		cfg.SegmentBytes = 500
		cfg.RetentionMs = time.Hour
		cfg.FileDeleteDelay = time.Minute
		dir := t.TempDir()
		dcfg := testConfig(dir, nil)
		dcfg.Now = nil // the bubble's fake clock
		dcfg.Fsync = FsyncInterval
		dcfg.FsyncInterval = time.Second
		dcfg.RetentionCheckInterval = 10 * time.Second
		dcfg.CheckpointInterval = 30 * time.Second
		d, err := OpenLogDir(dcfg)
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		l, err := d.CreateLog(testTP, testTopicID, cfg)
		if err != nil {
			t.Fatal(err)
		}
		for range 10 {
			b := buildBatch(t, spec(1).size(200).at(time.Now().UnixMilli()))
			if _, err := l.AppendAsLeader(b, 0, time.Now()); err != nil {
				t.Fatal(err)
			}
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- d.Run(ctx) }()

		time.Sleep(1500 * time.Millisecond)
		synctest.Wait()
		if rp := l.RecoveryPoint(); rp != 10 {
			t.Fatalf("RecoveryPoint after one fsync interval = %d, want 10", rp)
		}
		time.Sleep(time.Hour + dcfg.RetentionCheckInterval) // the first check after the hour
		synctest.Wait()
		if lso := l.LogStartOffset(); lso != 10 {
			t.Fatalf("LogStartOffset after retention.ms = %d, want 10", lso)
		}
		b, err := os.ReadFile(filepath.Join(dir, recoveryPointFile))
		if err != nil || string(b) != "0\n1\nevents 3 10\n" {
			t.Fatalf("recovery point checkpoint = %q, %v", b, err)
		}
		deleted, _ := filepath.Glob(filepath.Join(l.dir, "*.deleted"))
		if len(deleted) == 0 {
			t.Fatalf("no .deleted files right after retention")
		}
		time.Sleep(cfg.FileDeleteDelay + time.Second)
		synctest.Wait()
		if deleted, _ := filepath.Glob(filepath.Join(l.dir, "*.deleted")); len(deleted) != 0 {
			t.Fatalf("%d .deleted files left after file.delete.delay.ms", len(deleted))
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("Run = %v, want nil after cancel", err)
		}
	})
}

func TestWriteFailureTakesLogDirOffline(t *testing.T) {
	d, l, _ := testLog(t, testLogConfig())
	mustAppend(t, l, buildBatch(t, spec(1)))
	// Break the active segment's file under the log, as an EIO would.
	_ = l.active.files.log.Close()
	_, err := l.AppendAsLeader(buildBatch(t, spec(1)), 1, t0)
	wantErr(t, "AppendAsLeader on a broken file", err, ErrStorageFailed)
	_, err = l.AppendAsLeader(buildBatch(t, spec(1)), 1, t0)
	wantErr(t, "AppendAsLeader after a failure", err, ErrStorageFailed)
	wantErr(t, "Sync after a failure", l.Sync(l.LogEndOffset()+1), ErrStorageFailed)
	wantErr(t, "LogDir.Err", d.Err(), ErrStorageFailed)
	if err := d.Run(t.Context()); !errors.Is(err, ErrStorageFailed) {
		t.Fatalf("Run on an offline dir = %v, want ErrStorageFailed", err)
	}
	if err := d.Close(); err == nil {
		t.Fatalf("Close of an offline dir succeeded")
	}
	if _, err := os.Stat(filepath.Join(d.cfg.Dir, cleanShutdownFile)); !os.IsNotExist(err) {
		t.Fatalf("clean shutdown marker written for an offline dir (%v)", err)
	}
}

func TestLogAppendTimeDuplicateReturnsOriginalTime(t *testing.T) {
	cfg := testLogConfig()
	cfg.LogAppendTime = true
	_, l, _ := testLog(t, cfg)
	first, err := l.AppendAsLeader(buildBatch(t, spec(2).idem(1, 0, 0)), 0, t0)
	if err != nil {
		t.Fatal(err)
	}
	retry, err := l.AppendAsLeader(buildBatch(t, spec(2).idem(1, 0, 0)), 0, t0.Add(time.Minute))
	if err != nil || !retry.Duplicate || retry.LogAppendTime != first.LogAppendTime {
		t.Fatalf("retry = %+v, %v; want duplicate with log append time %d", retry, err, first.LogAppendTime)
	}
}
