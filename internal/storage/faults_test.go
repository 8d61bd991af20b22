package storage

import (
	"errors"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/strata-io/strata/internal/storage/vfs"
	"github.com/strata-io/strata/internal/storage/vfs/errorfs"
	"github.com/strata-io/strata/internal/storage/vfs/lazyfs"
)

// faultDir opens a log directory whose files go through fsys, with one log.
func faultDir(t *testing.T, dir string, fsys vfs.FS, cfg LogConfig, set func(*Config)) (*LogDir, *Log) {
	t.Helper()
	dcfg := testConfig(dir, newTestClock())
	dcfg.FS = fsys
	if set != nil {
		set(&dcfg)
	}
	d, err := OpenLogDir(dcfg)
	if err != nil {
		t.Fatalf("OpenLogDir: %v", err)
	}
	t.Cleanup(func() { _ = d.Close() })
	l, err := d.CreateLog(testTP, testTopicID, cfg)
	if err != nil {
		t.Fatalf("CreateLog: %v", err)
	}
	return d, l
}

// offsetsOf returns the base offsets of the log's batches, read back with
// their CRCs checked.
func offsetsOf(t *testing.T, l *Log) []int64 {
	t.Helper()
	var out []int64
	for _, h := range readAll(t, l, l.LogStartOffset()) {
		out = append(out, h.BaseOffset)
	}
	return out
}

func wantOffsets(t *testing.T, what string, got []int64, n int) {
	t.Helper()
	if len(got) != n {
		t.Fatalf("%s: %d batches %v, want the %d acknowledged ones", what, len(got), got, n)
	}
	for i, o := range got {
		if o != int64(i) {
			t.Fatalf("%s: batch %d at offset %d, want %d", what, i, o, i)
		}
	}
}

// TestWriteErrorFailsTheAppendAndTheDirectory: a segment write failing
// with EIO, or running out of space part way (ENOSPC after half the
// bytes), fails the append with ErrStorageFailed, leaves the log end
// offset where it was, takes the directory offline (reads fail too), and
// after a restart the log holds exactly the acknowledged batches.
func TestWriteErrorFailsTheAppendAndTheDirectory(t *testing.T) {
	tests := []struct {
		name          string
		rule          errorfs.Rule
		truncateFails bool
	}{
		{name: "EIO", rule: errorfs.Rule{Err: syscall.EIO}},
		{name: "ENOSPC after half the bytes", rule: errorfs.Rule{Err: syscall.ENOSPC, Torn: true}},
		{name: "ENOSPC torn and the cleanup truncate fails", rule: errorfs.Rule{Err: syscall.ENOSPC, Torn: true}, truncateFails: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			fsys := errorfs.Wrap(vfs.Default)
			d, l := faultDir(t, dir, fsys, testLogConfig(), nil)
			for range 3 {
				mustAppend(t, l, buildBatch(t, spec(1)))
			}
			rule := tt.rule
			rule.Ops, rule.Match = errorfs.OpWrite, errorfs.PathHasSuffix(logFileSuffix)
			inj := fsys.Inject(rule)
			if tt.truncateFails {
				fsys.Inject(errorfs.Rule{Ops: errorfs.OpTruncate, Match: errorfs.PathHasSuffix(logFileSuffix), Err: syscall.EIO})
			}
			_, err := l.AppendAsLeader(buildBatch(t, spec(1)), 1, t0)
			if !errors.Is(err, ErrStorageFailed) || !errors.Is(err, tt.rule.Err) {
				t.Fatalf("AppendAsLeader with a failing write: %v, want ErrStorageFailed wrapping %v", err, tt.rule.Err)
			}
			if inj.Fired() != 1 {
				t.Fatalf("the write fault fired %d times, want 1", inj.Fired())
			}
			if leo := l.LogEndOffset(); leo != 3 {
				t.Fatalf("log end offset %d after the failed append, want 3", leo)
			}
			if d.Err() == nil {
				t.Fatal("the directory is still online after a failed write")
			}
			if _, err := l.Read(0, 1<<20, 3, true); !errors.Is(err, ErrStorageFailed) {
				t.Fatalf("Read on the failed directory: %v, want ErrStorageFailed", err)
			}
			if _, err := l.AppendAsLeader(buildBatch(t, spec(1)), 1, t0); !errors.Is(err, ErrStorageFailed) {
				t.Fatalf("a later append: %v, want ErrStorageFailed", err)
			}
			if err := d.Close(); err == nil {
				t.Fatal("Close of a failed directory reported success (it must leave no clean-shutdown marker)")
			}
			if _, err := os.Stat(filepath.Join(dir, cleanShutdownFile)); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("clean-shutdown marker after a failure: %v", err)
			}
			_, l2 := openAgain(t, dir, newTestClock(), testLogConfig())
			wantOffsets(t, "after the restart", offsetsOf(t, l2), 3)
		})
	}
}

// TestFsyncErrorLosesNothingAcknowledged: with fsync always, a failing
// fdatasync fails the Sync (so the produce is not acknowledged) and the
// directory. The kernel drops the dirty pages of a failed writeback
// (LoseUnsynced); after a power loss the log holds exactly the batches
// whose Sync succeeded.
func TestFsyncErrorLosesNothingAcknowledged(t *testing.T) {
	dir := t.TempDir()
	lazy := lazyfs.New(vfs.Default, lazyfs.Options{})
	fsys := errorfs.Wrap(lazy)
	d, l := faultDir(t, dir, fsys, testLogConfig(), func(c *Config) { c.Fsync = FsyncAlways })
	for range 3 {
		info := mustAppend(t, l, buildBatch(t, spec(1)))
		if err := l.Sync(info.LastOffset + 1); err != nil {
			t.Fatalf("Sync: %v", err)
		}
	}
	inj := fsys.Inject(errorfs.Rule{Ops: errorfs.OpSync, Match: errorfs.PathHasSuffix(logFileSuffix), Err: syscall.EIO, LoseUnsynced: true})
	info := mustAppend(t, l, buildBatch(t, spec(1)))
	if err := l.Sync(info.LastOffset + 1); !errors.Is(err, ErrStorageFailed) || !errors.Is(err, syscall.EIO) {
		t.Fatalf("Sync with a failing fdatasync: %v, want ErrStorageFailed wrapping EIO", err)
	}
	if inj.Fired() == 0 {
		t.Fatal("the fsync fault never fired")
	}
	if d.Err() == nil {
		t.Fatal("the directory is still online after a failed fsync")
	}
	if err := l.Sync(info.LastOffset + 1); !errors.Is(err, ErrStorageFailed) {
		t.Fatalf("a second Sync after the failure: %v, want ErrStorageFailed (never success)", err)
	}
	lazy.Crash()
	crash(t, d)
	_, l2 := openAgain(t, dir, newTestClock(), testLogConfig())
	wantOffsets(t, "after the power loss", offsetsOf(t, l2), 3)
}

// TestRenameErrorOnRollFailsTheAppend: the roll writes the sealed
// segment's index files (tmp, fsync, rename); a failing rename fails the
// append that needed the roll, before anything of it is written.
func TestRenameErrorOnRollFailsTheAppend(t *testing.T) {
	dir := t.TempDir()
	fsys := errorfs.Wrap(vfs.Default)
	cfg := testLogConfig()
	batch := buildBatch(t, spec(1))
	cfg.SegmentBytes = int64(len(batch)) * 3
	d, l := faultDir(t, dir, fsys, cfg, nil)
	for range 3 {
		mustAppend(t, l, buildBatch(t, spec(1)))
	}
	inj := fsys.Inject(errorfs.Rule{Ops: errorfs.OpRename, Match: errorfs.PathHasSuffix(indexFileSuffix + tmpSuffix), Err: syscall.EIO})
	_, err := l.AppendAsLeader(buildBatch(t, spec(1)), 1, t0)
	if !errors.Is(err, ErrStorageFailed) || !errors.Is(err, syscall.EIO) || inj.Fired() != 1 {
		t.Fatalf("append needing a roll whose rename fails: %v (fault fired %d times), want ErrStorageFailed wrapping EIO", err, inj.Fired())
	}
	if l.LogEndOffset() != 3 || l.NumSegments() != 1 || d.Err() == nil {
		t.Fatalf("after the failed roll: log end offset %d, %d segments, dir error %v; want 3, 1 and offline", l.LogEndOffset(), l.NumSegments(), d.Err())
	}
	_ = d.Close()
	_, l2 := openAgain(t, dir, newTestClock(), cfg)
	wantOffsets(t, "after the restart", offsetsOf(t, l2), 3)
}

// TestCheckpointRenameErrorTakesTheDirectoryOffline: as in Kafka, a
// directory whose checkpoint files cannot be written is offline.
func TestCheckpointRenameErrorTakesTheDirectoryOffline(t *testing.T) {
	fsys := errorfs.Wrap(vfs.Default)
	d, l := faultDir(t, t.TempDir(), fsys, testLogConfig(), func(c *Config) { c.CheckpointInterval = 10 * time.Millisecond })
	mustAppend(t, l, buildBatch(t, spec(1)))
	inj := fsys.Inject(errorfs.Rule{Ops: errorfs.OpRename, Match: errorfs.PathHasSuffix(recoveryPointFile + tmpSuffix), Err: syscall.EIO})
	done := make(chan error, 1)
	go func() { done <- d.Run(t.Context()) }()
	select {
	case err := <-done:
		if !errors.Is(err, ErrStorageFailed) || !errors.Is(err, syscall.EIO) || inj.Fired() == 0 {
			t.Fatalf("Run with failing checkpoint renames returned %v (fault fired %d times), want ErrStorageFailed wrapping EIO", err, inj.Fired())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the directory stayed online for 30s with failing checkpoint renames")
	}
	if _, err := l.AppendAsLeader(buildBatch(t, spec(1)), 1, t0); !errors.Is(err, ErrStorageFailed) {
		t.Fatalf("append on the offline directory: %v, want ErrStorageFailed", err)
	}
}

// TestReadErrorTakesTheDirectoryOffline: an EIO reading a segment fails
// the read with ErrStorageFailed and takes the directory offline.
func TestReadErrorTakesTheDirectoryOffline(t *testing.T) {
	fsys := errorfs.Wrap(vfs.Default)
	d, l := faultDir(t, t.TempDir(), fsys, testLogConfig(), nil)
	for range 3 {
		mustAppend(t, l, buildBatch(t, spec(1)))
	}
	inj := fsys.Inject(errorfs.Rule{Ops: errorfs.OpRead, Match: errorfs.PathHasSuffix(logFileSuffix), Err: syscall.EIO})
	_, err := l.Read(1, 1<<20, 3, true)
	if !errors.Is(err, ErrStorageFailed) || !errors.Is(err, syscall.EIO) || inj.Fired() == 0 {
		t.Fatalf("Read with failing reads: %v (fault fired %d times), want ErrStorageFailed wrapping EIO", err, inj.Fired())
	}
	if d.Err() == nil {
		t.Fatal("the directory is still online after a read error")
	}
	inj.Remove()
	if _, err := l.Read(1, 1<<20, 3, true); !errors.Is(err, ErrStorageFailed) {
		t.Fatalf("Read once reads work again: %v, want ErrStorageFailed until a restart", err)
	}
}

// TestLatencyIsInjectedWithoutFailing: a latency-only rule slows the
// operations it matches and fails none.
func TestLatencyIsInjectedWithoutFailing(t *testing.T) {
	fsys := errorfs.Wrap(vfs.Default)
	_, l := faultDir(t, t.TempDir(), fsys, testLogConfig(), nil)
	inj := fsys.Inject(errorfs.Rule{Ops: errorfs.OpWrite, Match: errorfs.PathHasSuffix(logFileSuffix), Latency: 20 * time.Millisecond, Times: 2})
	start := time.Now()
	for range 3 {
		mustAppend(t, l, buildBatch(t, spec(1)))
	}
	if inj.Fired() != 2 {
		t.Fatalf("latency rule hit %d writes, want 2 (Times)", inj.Fired())
	}
	t.Logf("3 appends with 2 delayed writes took %v", time.Since(start))
}

// flipByte flips one bit of the byte at pos of path.
func flipByte(t *testing.T, path string, pos int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var b [1]byte
	if _, err := f.ReadAt(b[:], pos); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0x10
	if _, err := f.WriteAt(b[:], pos); err != nil {
		t.Fatal(err)
	}
}

// corruptLog writes 9 one-record batches in segments of three, closes the
// directory cleanly and flips a bit in the records of batch 4 (in the
// second, sealed, segment). It returns the reopened directory, its log and
// how many times OnCorruption was called.
func corruptLog(t *testing.T) (*LogDir, *Log, *atomic.Int64, [][]byte) {
	t.Helper()
	dir := t.TempDir()
	cfg := testLogConfig()
	var batches [][]byte
	for range 9 {
		batches = append(batches, buildBatch(t, spec(1).size(100)))
	}
	cfg.SegmentBytes = int64(len(batches[0])) * 3
	d, l := faultDir(t, dir, vfs.Default, cfg, nil)
	for _, b := range batches {
		mustAppend(t, l, b)
	}
	if n := l.NumSegments(); n != 3 {
		t.Fatalf("%d segments, want 3", n)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	// Batch 4 is the second of segment 3; flip a bit in its value.
	seg := filepath.Join(dir, testTP.String(), segmentFileName(3, logFileSuffix))
	flipByte(t, seg, int64(len(batches[0]))+int64(len(batches[0]))-20)

	var calls atomic.Int64
	dcfg := testConfig(dir, newTestClock())
	dcfg.OnCorruption = func(got *Log) {
		if got.TopicPartition() == testTP {
			calls.Add(1)
		}
	}
	d2, err := OpenLogDir(dcfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d2.Close() })
	l2, _ := d2.Log(testTP)
	l2.SetConfig(cfg)
	// What the leader would send again: the batches as the log stored them.
	var stored [][]byte
	for off := int64(0); off < 9; off++ {
		if off == 4 {
			stored = append(stored, nil)
			continue
		}
		res, err := l2.Read(off, 1, 9, true)
		if err != nil && off > 4 {
			break // refused past the corruption once it is known
		}
		if err != nil {
			t.Fatalf("Read(%d) before the corrupt batch: %v", off, err)
		}
		b, _ := res.AppendTo(nil)
		stored = append(stored, b)
	}
	return d2, l2, &calls, stored
}

// TestCorruptBatchIsNeverServedAndIsRepairedByTruncation: a bit flipped in
// a sealed segment (after a clean shutdown, so not scanned at open) is
// caught when read: the batches before it are served, the corrupt one and
// everything after it are refused with ErrCorruptLog, OnCorruption is
// called, and truncating to CorruptOffset then appending the leader's
// copies repairs the log.
func TestCorruptBatchIsNeverServedAndIsRepairedByTruncation(t *testing.T) {
	_, l, calls, stored := corruptLog(t)
	// A read from offset 3 returns batch 3 only: it stops before batch 4.
	res, err := l.Read(3, 1<<20, 9, true)
	if err != nil {
		t.Fatalf("Read(3): %v", err)
	}
	b, _ := res.AppendTo(nil)
	if string(b) != string(stored[3]) {
		t.Fatalf("Read(3) served %d bytes, want batch 3 alone (%d bytes)", len(b), len(stored[3]))
	}
	if got := l.CorruptOffset(); got != 4 {
		t.Fatalf("CorruptOffset = %d, want 4", got)
	}
	for _, off := range []int64{4, 5, 8} {
		if _, err := l.Read(off, 1<<20, 9, true); !errors.Is(err, ErrCorruptLog) {
			t.Fatalf("Read(%d) at or past the corrupt batch: %v, want ErrCorruptLog", off, err)
		}
	}
	if calls.Load() == 0 {
		t.Fatal("OnCorruption was not called")
	}
	if err := l.TruncateTo(l.CorruptOffset()); err != nil {
		t.Fatalf("TruncateTo(4): %v", err)
	}
	if l.LogEndOffset() != 4 || l.CorruptOffset() != -1 {
		t.Fatalf("after the repair truncation: log end offset %d, CorruptOffset %d; want 4 and -1", l.LogEndOffset(), l.CorruptOffset())
	}
	// The leader's copies of 4..8.
	for off := int64(4); off < 9; off++ {
		b := buildBatch(t, spec(1).size(100))
		setBaseOffset(b, off)
		if _, err := l.AppendAsFollower(b); err != nil {
			t.Fatalf("AppendAsFollower(%d): %v", off, err)
		}
	}
	got := offsetsOf(t, l)
	if len(got) != 9 {
		t.Fatalf("after the repair: %d batches, want 9", len(got))
	}
}

// TestScrubFindsCorruptionBeforeAnyRead: the scrubber finds the flipped bit
// without any read, and verified segments are then served zero-copy.
func TestScrubFindsCorruptionBeforeAnyRead(t *testing.T) {
	d, l, calls, _ := corruptLog(t)
	// corruptLog read batches 0..3 already; that marked nothing corrupt.
	if got := l.CorruptOffset(); got != -1 {
		t.Fatalf("CorruptOffset = %d before the scrub, want -1", got)
	}
	if n := d.Scrub(t.Context()); n != 1 {
		t.Fatalf("Scrub found %d corrupt logs, want 1", n)
	}
	if got := l.CorruptOffset(); got != 4 || calls.Load() == 0 {
		t.Fatalf("after the scrub: CorruptOffset %d, OnCorruption calls %d; want 4 and some", got, calls.Load())
	}
	// The first segment was verified: it goes zero-copy.
	res, err := l.Read(0, 1<<20, 9, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Chunks) == 0 || res.Chunks[0].File == nil {
		t.Fatalf("Read(0) after the scrub: %+v, want a zero-copy chunk of the verified first segment", res.Chunks)
	}
}

// TestUnverifiedSegmentsAreReadBufferedUntilScrubbed: after a clean
// restart, segments from before it are served from memory with their CRCs
// checked; once scrubbed they are served zero-copy again. What this
// process writes is zero-copy at once.
func TestUnverifiedSegmentsAreReadBufferedUntilScrubbed(t *testing.T) {
	dir := t.TempDir()
	cfg := testLogConfig()
	b := buildBatch(t, spec(1).size(100))
	cfg.SegmentBytes = int64(len(b)) * 3
	d, l := faultDir(t, dir, vfs.Default, cfg, nil)
	for range 6 {
		mustAppend(t, l, buildBatch(t, spec(1).size(100)))
	}
	zeroCopy := func(l *Log, off int64) bool {
		t.Helper()
		res, err := l.Read(off, 1<<20, l.LogEndOffset(), true)
		if err != nil || len(res.Chunks) == 0 {
			t.Fatalf("Read(%d): %v, %d chunks", off, err, len(res.Chunks))
		}
		return res.Chunks[0].File != nil
	}
	if !zeroCopy(l, 0) || !zeroCopy(l, 4) {
		t.Fatal("segments written by this process are not served zero-copy")
	}
	d2, l2 := reopen(t, d, newTestClock(), cfg)
	if zeroCopy(l2, 0) {
		t.Fatal("an unverified sealed segment was served zero-copy after a restart")
	}
	mustAppend(t, l2, buildBatch(t, spec(1).size(100)))
	if !zeroCopy(l2, 6) {
		t.Fatal("a batch appended after the restart is not served zero-copy")
	}
	if n := d2.Scrub(t.Context()); n != 0 {
		t.Fatalf("Scrub of an intact log found %d corrupt logs", n)
	}
	if !zeroCopy(l2, 0) || !zeroCopy(l2, 3) {
		t.Fatal("scrubbed segments are not served zero-copy")
	}
}

// setBaseOffset sets a batch's base offset (outside the CRC).
func setBaseOffset(b []byte, off int64) {
	for i := range 8 {
		b[i] = byte(off >> (56 - 8*i))
	}
}
