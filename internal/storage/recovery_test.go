package storage

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/strata-io/strata/internal/record"
)

// fillSegments appends n batches of 2 records (offsets 2i, 2i+1).
func fillSegments(t *testing.T, l *Log, n int) {
	t.Helper()
	for i := range n {
		mustAppend(t, l, buildBatch(t, spec(2).size(100).at(t0.UnixMilli()+int64(i))))
	}
}

func recoveryConfig() LogConfig {
	cfg := testLogConfig()
	cfg.SegmentBytes = 2000
	cfg.IndexIntervalBytes = 300
	return cfg
}

func TestCleanRestartDoesNotScan(t *testing.T) {
	cfg := recoveryConfig()
	d, l, clock := testLog(t, cfg)
	fillSegments(t, l, 60)
	leo, segs := l.LogEndOffset(), l.NumSegments()
	if segs < 4 {
		t.Fatalf("NumSegments = %d, want >= 4", segs)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	// Corrupt a record body in the first segment: a clean open must not read it.
	first := filepath.Join(l.dir, segmentFileName(0, logFileSuffix))
	data, err := os.ReadFile(first)
	if err != nil {
		t.Fatal(err)
	}
	data[record.HeaderSize+10] ^= 0xff
	if err := os.WriteFile(first, data, 0o644); err != nil {
		t.Fatal(err)
	}
	_, l = openAgain(t, d.cfg.Dir, clock, cfg)
	if l.stats.batchesValidated != 0 {
		t.Fatalf("clean open validated %d batches, want 0", l.stats.batchesValidated)
	}
	if l.stats.headersRead > 10 {
		t.Fatalf("clean open read %d batch headers, want only those after the last index entry", l.stats.headersRead)
	}
	if l.LogEndOffset() != leo || l.NumSegments() != segs {
		t.Fatalf("after clean open: LEO %d, %d segments; want %d, %d", l.LogEndOffset(), l.NumSegments(), leo, segs)
	}
	got, err := os.ReadFile(first)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("clean open changed the first segment (err %v)", err)
	}
	if info := mustAppend(t, l, buildBatch(t, spec(1))); info.FirstOffset != leo {
		t.Fatalf("append after clean open at %d, want %d", info.FirstOffset, leo)
	}
}

func TestCrashRecoveryTruncatesTornBatch(t *testing.T) {
	cfg := recoveryConfig()
	d, l, clock := testLog(t, cfg)
	fillSegments(t, l, 25)
	active := l.active.path(logFileSuffix)
	size := fileSize(t, active)
	crash(t, d)
	lastBatch := int64(len(buildBatch(t, spec(2).size(100))))
	if err := os.Truncate(active, size-lastBatch/2); err != nil {
		t.Fatal(err)
	}
	_, l = openAgain(t, d.cfg.Dir, clock, cfg)
	if got := l.LogEndOffset(); got != 48 {
		t.Fatalf("LogEndOffset after torn last batch = %d, want 48", got)
	}
	if got := fileSize(t, active); got != size-lastBatch {
		t.Fatalf("active segment size = %d, want %d (torn batch cut)", got, size-lastBatch)
	}
	if l.stats.batchesValidated == 0 {
		t.Fatalf("crash recovery validated no batches")
	}
	if info := mustAppend(t, l, buildBatch(t, spec(2))); info.FirstOffset != 48 {
		t.Fatalf("append after recovery at %d, want 48", info.FirstOffset)
	}
	if n := len(readAll(t, l, 0)); n != 25 {
		t.Fatalf("readAll = %d batches, want 25", n)
	}
}

func TestCrashRecoveryDropsGarbageTail(t *testing.T) {
	for _, garbage := range [][]byte{
		{0},
		bytes.Repeat([]byte{0}, 4096), // preallocated zeros
		bytes.Repeat([]byte{0xab}, 100),
	} {
		cfg := recoveryConfig()
		d, l, clock := testLog(t, cfg)
		fillSegments(t, l, 25)
		active := l.active.path(logFileSuffix)
		size := fileSize(t, active)
		crash(t, d)
		f, err := os.OpenFile(active, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.Write(garbage); err != nil {
			t.Fatal(err)
		}
		f.Close()
		_, l = openAgain(t, d.cfg.Dir, clock, cfg)
		if got := l.LogEndOffset(); got != 50 {
			t.Fatalf("LogEndOffset after %d garbage bytes = %d, want 50", len(garbage), got)
		}
		if got := fileSize(t, active); got != size {
			t.Fatalf("active segment size = %d, want %d", got, size)
		}
	}
}

func TestCrashRecoveryTruncatesAtCorruptCRC(t *testing.T) {
	cfg := recoveryConfig()
	d, l, clock := testLog(t, cfg)
	fillSegments(t, l, 60)
	segs := l.segmentsSnapshot()
	if len(segs) < 4 {
		t.Fatalf("NumSegments = %d, want >= 4", len(segs))
	}
	// Corrupt the third batch of the second segment; no checkpoint was
	// written, so recovery starts at the first segment.
	victim := segs[1]
	v := victim.viewUnlocked()
	pos, h, found, err := v.findBatch(victim.base + 4)
	if err != nil || !found {
		t.Fatalf("findBatch: %v %v", found, err)
	}
	crash(t, d)
	f, err := os.OpenFile(victim.path(logFileSuffix), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte{0xff, 0xfe}, pos+int64(h.Size())-3); err != nil {
		t.Fatal(err)
	}
	f.Close()
	_, l = openAgain(t, d.cfg.Dir, clock, cfg)
	if got := l.LogEndOffset(); got != h.BaseOffset {
		t.Fatalf("LogEndOffset = %d, want %d (the corrupt batch)", got, h.BaseOffset)
	}
	if got := l.NumSegments(); got != 2 {
		t.Fatalf("NumSegments = %d, want 2 (later segments deleted)", got)
	}
	if later, _ := filepath.Glob(filepath.Join(l.dir, segmentFileName(segs[2].base, "*"))); len(later) != 0 {
		t.Fatalf("files of deleted segment %d remain: %v", segs[2].base, later)
	}
	if info := mustAppend(t, l, buildBatch(t, spec(1))); info.FirstOffset != h.BaseOffset {
		t.Fatalf("append after recovery at %d, want %d", info.FirstOffset, h.BaseOffset)
	}
	if n := len(readAll(t, l, 0)); int64(n) != h.BaseOffset/2+1 {
		t.Fatalf("readAll = %d batches, want %d", n, h.BaseOffset/2+1)
	}
}

func TestCrashRecoveryStartsAtRecoveryPoint(t *testing.T) {
	cfg := recoveryConfig()
	d, l, clock := testLog(t, cfg)
	fillSegments(t, l, 60)
	segs := l.segmentsSnapshot()
	activeBase := segs[len(segs)-1].base
	// Rolls queue the old segments' fsyncs; wait for them.
	if err := l.Sync(activeBase); err != nil {
		t.Fatal(err)
	}
	if err := d.writeCheckpoints(); err != nil {
		t.Fatal(err)
	}
	rp := l.RecoveryPoint()
	if rp < activeBase || rp > l.LogEndOffset() {
		t.Fatalf("RecoveryPoint = %d, want within the active segment [%d, %d]", rp, activeBase, l.LogEndOffset())
	}
	fillSegments(t, l, 3)
	activeBatches := int64(len(readAll(t, l, activeBase)))
	// Corrupt the first segment: it is below the recovery point, so a
	// crash recovery must not look at it.
	first := segs[0].path(logFileSuffix)
	crash(t, d)
	data, err := os.ReadFile(first)
	if err != nil {
		t.Fatal(err)
	}
	data[record.HeaderSize+10] ^= 0xff
	if err := os.WriteFile(first, data, 0o644); err != nil {
		t.Fatal(err)
	}
	_, l = openAgain(t, d.cfg.Dir, clock, cfg)
	if l.stats.batchesValidated != activeBatches {
		t.Fatalf("recovery validated %d batches, want %d (the segment holding the recovery point)", l.stats.batchesValidated, activeBatches)
	}
	if got := l.LogEndOffset(); got != 126 {
		t.Fatalf("LogEndOffset = %d, want 126", got)
	}
}

func TestCrashLosesNothingSynced(t *testing.T) {
	cfg := recoveryConfig()
	d, l, clock := testLog(t, cfg)
	fillSegments(t, l, 30)
	if err := l.Sync(l.LogEndOffset()); err != nil {
		t.Fatal(err)
	}
	want := readAll(t, l, 0)
	_, l = crashAndReopen(t, d, clock, cfg)
	got := readAll(t, l, 0)
	if len(got) != len(want) {
		t.Fatalf("after crash: %d batches, want %d", len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("batch %d after crash = %+v, want %+v", i, got[i], want[i])
		}
	}
	// Indexes were rebuilt: every offset is found.
	for off := int64(0); off < l.LogEndOffset(); off++ {
		res, err := l.Read(off, 1, l.LogEndOffset(), true)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := res.AppendTo(nil)
		h, err := record.ParseHeader(b)
		if err != nil || off < h.BaseOffset || off > h.LastOffset() {
			t.Fatalf("Read(%d) = batch %d-%d (%v)", off, h.BaseOffset, h.LastOffset(), err)
		}
	}
}

func TestRecoveryRebuildsEpochCache(t *testing.T) {
	cfg := recoveryConfig()
	d, l, clock := testLog(t, cfg)
	for i := range 10 {
		if _, err := l.AppendAsLeader(buildBatch(t, spec(1)), int32(i/3), t0); err != nil {
			t.Fatal(err)
		}
	}
	crash(t, d)
	// Lose the checkpoint's newest epochs, as if its write never happened.
	if err := os.WriteFile(filepath.Join(l.dir, leaderEpochCheckpointFile), []byte("0\n1\n0 0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, l = openAgain(t, d.cfg.Dir, clock, cfg)
	if got := l.LatestEpoch(); got != 3 {
		t.Fatalf("LatestEpoch after recovery = %d, want 3", got)
	}
	if e, end := l.EndOffsetForEpoch(2); e != 2 || end != 9 {
		t.Fatalf("EndOffsetForEpoch(2) = %d, %d; want 2, 9", e, end)
	}
}

func TestStaleFilesRemovedAtOpen(t *testing.T) {
	cfg := recoveryConfig()
	d, l, clock := testLog(t, cfg)
	fillSegments(t, l, 5)
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"00000000000000000000.log.deleted", "00000000000000000007.index.swap", "x.cleaned", "00000000000000000099.index"} {
		if err := os.WriteFile(filepath.Join(l.dir, name), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	staleDir := filepath.Join(d.cfg.Dir, "events-1.0123456789abcdef-delete")
	if err := os.MkdirAll(staleDir, 0o755); err != nil {
		t.Fatal(err)
	}
	_, l = openAgain(t, d.cfg.Dir, clock, cfg)
	for _, name := range []string{"00000000000000000000.log.deleted", "00000000000000000007.index.swap", "x.cleaned", "00000000000000000099.index"} {
		if _, err := os.Stat(filepath.Join(l.dir, name)); !os.IsNotExist(err) {
			t.Errorf("%s still present after open (%v)", name, err)
		}
	}
	if _, err := os.Stat(staleDir); !os.IsNotExist(err) {
		t.Errorf("stale -delete dir still present (%v)", err)
	}
	if l.LogEndOffset() != 10 {
		t.Fatalf("LogEndOffset = %d, want 10", l.LogEndOffset())
	}
}

func TestSealedIndexRebuiltWhenMissing(t *testing.T) {
	cfg := recoveryConfig()
	d, l, clock := testLog(t, cfg)
	fillSegments(t, l, 60)
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	for _, suffix := range []string{indexFileSuffix, timeIndexFileSuffix} {
		if err := os.Remove(filepath.Join(l.dir, segmentFileName(0, suffix))); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(l.dir, segmentFileName(l.segmentsSnapshot()[1].base, indexFileSuffix)), []byte{1, 2, 3}, 0o644); err != nil {
		t.Fatal(err)
	}
	_, l = openAgain(t, d.cfg.Dir, clock, cfg)
	if n := len(readAll(t, l, 0)); n != 60 {
		t.Fatalf("readAll = %d batches, want 60", n)
	}
	for off := int64(0); off < 40; off++ {
		res, err := l.Read(off, 1, l.LogEndOffset(), true)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := res.AppendTo(nil)
		if h, err := record.ParseHeader(b); err != nil || h.BaseOffset != off&^1 {
			t.Fatalf("Read(%d) = batch %d (%v), want %d", off, h.BaseOffset, err, off&^1)
		}
	}
	if _, ts, _ := l.MaxTimestamp(); ts != t0.UnixMilli()+59 {
		t.Fatalf("MaxTimestamp = %d, want %d", ts, t0.UnixMilli()+59)
	}
}
