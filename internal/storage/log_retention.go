package storage

import (
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"sort"
	"time"
)

// retireSegment renames s's files to *.deleted and hands its open handles
// to the deleter, which closes and removes them after FileDeleteDelay so
// that readers holding a Chunk keep working meanwhile.
func (l *Log) retireSegment(s *segment, delay time.Duration) error {
	open, paths, err := s.markDeleted()
	l.deleter.schedule(l.now().Add(delay), open, paths)
	l.clearCorruptionFrom(0, s)
	return err
}

// deleteOldestSegmentsLocked removes the n oldest segments (never all of
// them) and raises the log start offset to the new first segment's base.
// The caller holds appendMu.
func (l *Log) deleteOldestSegmentsLocked(n int, reason string) error {
	segs := l.segmentsSnapshot()
	if n <= 0 {
		return nil
	}
	if n >= len(segs) {
		return fmt.Errorf("delete %d of %d segments: the active segment must stay", n, len(segs))
	}
	cfg := l.Config()
	l.unchanged = false
	l.mu.Lock()
	l.mu.segments = slices.Clone(segs[n:])
	newBase := segs[n].base
	l.mu.logStartOffset = max(l.mu.logStartOffset, newBase)
	lso := l.mu.logStartOffset
	l.mu.Unlock()
	var errs []error
	for _, s := range segs[:n] {
		errs = append(errs, l.retireSegment(s, cfg.FileDeleteDelay))
	}
	if l.epochs.truncateFromStart(lso) {
		errs = append(errs, l.writeEpochCheckpoint())
	}
	errs = append(errs, l.deleteSnapshotsBelow(newBase))
	if err := errors.Join(errs...); err != nil {
		return l.fail(err)
	}
	l.logger.Info("deleted segments", "reason", reason, "segments", n, "log_start_offset", lso)
	return nil
}

// listSnapshots returns the offsets of the producer snapshots on disk.
func (l *Log) listSnapshots() ([]int64, error) {
	entries, err := l.fs.ReadDir(l.dir)
	if err != nil {
		return nil, fmt.Errorf("list partition dir: %w", err)
	}
	var offs []int64
	for _, e := range entries {
		if off, ok := parseOffsetFileName(e.Name(), snapshotFileSuffix); ok {
			offs = append(offs, off)
		}
	}
	slices.Sort(offs)
	return offs, nil
}

// deleteSnapshotsBelow removes producer snapshots below offset, keeping the
// newest one at or below it (it still describes producers whose batches
// were deleted, which duplicate detection needs).
func (l *Log) deleteSnapshotsBelow(offset int64) error {
	offs, err := l.listSnapshots()
	if err != nil {
		return err
	}
	keep := sort.Search(len(offs), func(i int) bool { return offs[i] > offset }) - 1
	for i := 0; i < keep; i++ {
		if err := l.fs.Remove(l.snapshotPath(offs[i])); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove snapshot: %w", err)
		}
	}
	return nil
}

// deleteSnapshotsAbove removes producer snapshots above offset.
func (l *Log) deleteSnapshotsAbove(offset int64) error {
	offs, err := l.listSnapshots()
	if err != nil {
		return err
	}
	for _, off := range offs {
		if off > offset {
			if err := l.fs.Remove(l.snapshotPath(off)); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("remove snapshot: %w", err)
			}
		}
	}
	return nil
}

// TruncateTo drops everything at or above offset (follower truncation):
// later segments are retired, the segment holding offset is cut at the
// batch containing it (so the log end offset may land below offset when
// offset is inside a batch), and indexes, the leader-epoch cache and
// producer state follow. Truncating at or beyond the log end offset does
// nothing; below the first segment it empties the log and starts at offset.
func (l *Log) TruncateTo(offset int64) error {
	l.appendMu.Lock()
	defer l.appendMu.Unlock()
	if err := l.writableLocked(); err != nil {
		return err
	}
	if offset < 0 {
		return fmt.Errorf("%w: truncate to %d", ErrOffsetOutOfRange, offset)
	}
	if offset >= l.appendLEO {
		return nil
	}
	segs := l.segmentsSnapshot()
	if offset < segs[0].base {
		return l.truncateFullyLocked(offset)
	}
	cfg := l.Config()
	k := sort.Search(len(segs), func(i int) bool { return segs[i].base > offset }) - 1
	s := segs[k]
	v := s.viewUnlocked()
	var pos int64
	var err error
	if cs, cpos, ok := l.corruptPosition(offset); ok && cs == s {
		// Repairing a corrupt batch: cut where it was found, whatever its
		// header says.
		pos = cpos
	} else {
		var found bool
		if pos, _, found, err = v.findBatch(offset); err != nil {
			return l.fail(err)
		}
		if !found {
			pos = v.size
		}
	}
	f, err := s.logFile()
	if err != nil {
		return l.fail(err)
	}
	state, err := scanSegmentState(f, s.base, pos, math.MaxInt64, cfg.IndexIntervalBytes, &l.stats)
	if err != nil {
		return l.fail(err)
	}
	// Aborted transactions whose marker goes stay out of the index.
	txns := v.txns
	if v.sealed && v.txnCount > 0 {
		if txns, err = s.readTxnIndex(v.next); err != nil {
			return l.fail(err)
		}
	}
	keep := 0
	for keep < len(txns) && txns[keep].LastOffset < state.nextOffset {
		keep++
	}
	txns = slices.Clone(txns[:keep]) // NB: a new array; readers may hold the old one

	// Publish first so readers stop at the new end, then change the files:
	// later segments go before the cut so a crash never leaves a gap.
	l.mu.Lock()
	s.applyStateLocked(state)
	s.txns, s.txnCount = txns, 0
	l.mu.segments = slices.Clone(segs[:k+1])
	l.mu.logEndOffset = s.nextOffset
	l.mu.logStartOffset = min(l.mu.logStartOffset, s.nextOffset)
	l.mu.Unlock()
	l.active = s
	l.appendLEO = s.nextOffset
	l.unchanged = false
	l.lowerRecoveryPoint(s.nextOffset)
	l.lowerFirstDirtyLocked(s.nextOffset)

	var errs []error
	for _, r := range segs[k+1:] {
		errs = append(errs, l.retireSegment(r, cfg.FileDeleteDelay))
	}
	if err := errors.Join(errs...); err != nil {
		return l.fail(err)
	}
	if v.sealed {
		// Stale index files must never be trusted after a clean restart;
		// Close writes fresh ones.
		s.closeIndexFiles()
		for _, suffix := range indexFileSuffixes {
			if err := l.fs.Remove(s.path(suffix)); err != nil && !errors.Is(err, os.ErrNotExist) {
				return l.fail(err)
			}
		}
	}
	if err := f.Truncate(pos); err != nil {
		return l.fail(fmt.Errorf("truncate segment %d: %w", s.base, err))
	}
	if err := f.Sync(); err != nil {
		return l.fail(fmt.Errorf("fsync segment %d: %w", s.base, err))
	}
	if err := syncDir(l.fs, l.dir); err != nil {
		return l.fail(err)
	}
	if l.epochs.truncateFromEnd(s.nextOffset) {
		if err := l.writeEpochCheckpoint(); err != nil {
			return l.fail(err)
		}
	}
	if err := l.reloadProducerStateLocked(); err != nil {
		return l.fail(err)
	}
	l.clearCorruptionFrom(s.nextOffset, nil)
	l.logger.Info("truncated log", "offset", s.nextOffset)
	return nil
}

// reloadProducerStateLocked rebuilds producer state after a truncation.
func (l *Log) reloadProducerStateLocked() error {
	if err := l.deleteSnapshotsAbove(l.appendLEO); err != nil {
		return err
	}
	offs, err := l.listSnapshots()
	if err != nil {
		return err
	}
	_, err = l.loadProducerState(offs, false)
	return err
}

// TruncateFullyAndStartAt deletes every segment and restarts the log empty
// at offset, which becomes both log start and log end offset (a follower
// whose fetch offset fell below the leader's log start offset). Producer
// state and the leader-epoch cache are cleared.
func (l *Log) TruncateFullyAndStartAt(offset int64) error {
	l.appendMu.Lock()
	defer l.appendMu.Unlock()
	if err := l.writableLocked(); err != nil {
		return err
	}
	if offset < 0 {
		return fmt.Errorf("%w: start at %d", ErrOffsetOutOfRange, offset)
	}
	return l.truncateFullyLocked(offset)
}

func (l *Log) truncateFullyLocked(offset int64) error {
	segs := l.segmentsSnapshot()
	cfg := l.Config()
	var errs []error
	for _, s := range segs {
		errs = append(errs, l.retireSegment(s, cfg.FileDeleteDelay))
	}
	if err := errors.Join(errs...); err != nil {
		return l.fail(err)
	}
	s, err := createSegment(l.fs, l.dir, offset)
	if err != nil {
		return l.fail(err)
	}
	if err := syncDir(l.fs, l.dir); err != nil {
		return l.fail(err)
	}
	l.mu.Lock()
	l.mu.segments = []*segment{s}
	l.mu.logEndOffset = offset
	l.mu.logStartOffset = offset
	l.mu.Unlock()
	l.active = s
	l.appendLEO = offset
	l.unchanged = false
	l.lowerRecoveryPoint(offset)
	l.advanceRecoveryPoint(offset, l.syncGeneration())
	l.firstDirty.Store(-1)
	l.epochs.set(nil)
	if err := l.writeEpochCheckpoint(); err != nil {
		return l.fail(err)
	}
	l.producers = newProducerState()
	l.firstUnstable.Store(-1)
	l.clearCorruptionFrom(-1, nil)
	if err := l.deleteSnapshotsAbove(-1); err != nil {
		return l.fail(err)
	}
	l.logger.Info("truncated log fully", "offset", offset)
	return nil
}

// DeleteRecordsBefore raises the log start offset to offset (the
// DeleteRecords API) and deletes the segments wholly below it. offset must
// not exceed the high watermark or the log end offset.
func (l *Log) DeleteRecordsBefore(offset int64) error {
	advanced, err := l.deleteRecordsBefore(offset)
	if advanced && err == nil && l.onLogStartAdvanced != nil {
		l.onLogStartAdvanced()
	}
	return err
}

func (l *Log) deleteRecordsBefore(offset int64) (bool, error) {
	l.appendMu.Lock()
	defer l.appendMu.Unlock()
	if err := l.writableLocked(); err != nil {
		return false, err
	}
	if offset > l.appendLEO || offset > l.highWatermark.Load() || offset < 0 {
		return false, fmt.Errorf("%w: delete records before %d, log end offset %d, high watermark %d",
			ErrOffsetOutOfRange, offset, l.appendLEO, l.highWatermark.Load())
	}
	segs := l.segmentsSnapshot()
	l.mu.Lock()
	if offset <= l.mu.logStartOffset {
		l.mu.Unlock()
		return false, nil
	}
	l.mu.logStartOffset = offset
	l.mu.Unlock()
	if l.epochs.truncateFromStart(offset) {
		if err := l.writeEpochCheckpoint(); err != nil {
			return true, l.fail(err)
		}
	}
	n := 0
	for n+1 < len(segs) && segs[n+1].base <= offset {
		n++
	}
	return true, l.deleteOldestSegmentsLocked(n, "log start offset")
}

// EnforceRetention deletes the oldest segments that breach retention.ms
// (by the segment's largest timestamp, or its file's modification time
// when it has none), retention.bytes (both only with cleanup.policy
// delete), or lie wholly below the log start offset. Segments holding
// offsets at or above the high watermark are kept. The active segment is
// deleted only when it is expired and not empty, after rolling a new one,
// as Kafka does.
func (l *Log) EnforceRetention(now time.Time) (deletedSegments int, err error) {
	l.appendMu.Lock()
	defer l.appendMu.Unlock()
	if err := l.writableLocked(); err != nil {
		return 0, err
	}
	cfg := l.Config()
	l.mu.RLock()
	segs := l.mu.segments
	views := make([]segView, len(segs))
	for i, s := range segs {
		views[i] = s.viewLocked()
	}
	leo, lso := l.mu.logEndOffset, l.mu.logStartOffset
	l.mu.RUnlock()
	hw := l.highWatermark.Load()
	last := len(views) - 1
	eligible := func(i int) bool {
		upper := leo
		if i < last {
			upper = views[i+1].base
		}
		return upper <= hw && !(i == last && views[i].size == 0)
	}
	n := 0
	reasons := []string{}
	if cfg.Delete && cfg.RetentionMs >= 0 {
		nowMs := now.UnixMilli()
		for n <= last && eligible(n) {
			ts := views[n].maxTimestamp
			if ts < 0 {
				fi, err := l.fs.Stat(views[n].seg.path(logFileSuffix))
				if err != nil {
					return 0, l.fail(err)
				}
				ts = fi.ModTime().UnixMilli()
			}
			if nowMs-ts <= cfg.RetentionMs.Milliseconds() {
				break
			}
			n++
		}
		if n > 0 {
			reasons = append(reasons, "retention.ms")
		}
	}
	if cfg.Delete && cfg.RetentionBytes >= 0 {
		var total int64
		for _, v := range views[n:] {
			total += v.size
		}
		diff := total - cfg.RetentionBytes
		before := n
		for n <= last && eligible(n) && diff-views[n].size >= 0 {
			diff -= views[n].size
			n++
		}
		if n > before {
			reasons = append(reasons, "retention.bytes")
		}
	}
	before := n
	for n < last && views[n+1].base <= lso {
		n++
	}
	if n > before {
		reasons = append(reasons, "log start offset")
	}
	if n == 0 {
		return 0, nil
	}
	if n > last {
		if err := l.rollLocked(); err != nil {
			return 0, err
		}
	}
	if err := l.deleteOldestSegmentsLocked(n, fmt.Sprint(reasons)); err != nil {
		return 0, err
	}
	return n, nil
}

// removeExpiredProducers forgets producers idle for producer.id.expiration.ms.
func (l *Log) removeExpiredProducers(now time.Time) int {
	l.appendMu.Lock()
	defer l.appendMu.Unlock()
	cfg := l.Config()
	n := l.producers.removeExpired(now.UnixMilli(), cfg.ProducerIDExpiration.Milliseconds())
	if n > 0 {
		l.unchanged = false
	}
	return n
}

// Close makes the log durable and closes it: the active segment is
// fsynced, its indexes are written, and a producer snapshot is taken at the
// log end offset, so that the next open needs no scan; a log unchanged
// since it was opened after a clean shutdown has all of that on disk and
// writes nothing. Reads and writes then fail with ErrLogClosed.
func (l *Log) Close() error { return l.close(true) }

// close closes l, first making its data durable when flush is set (a log
// being deleted is not flushed: its files are about to go).
func (l *Log) close(flush bool) error {
	l.appendMu.Lock()
	defer l.appendMu.Unlock()
	l.mu.RLock()
	closed := l.mu.closed
	l.mu.RUnlock()
	if closed {
		return nil
	}
	var errs []error
	switch p := l.failed.Load(); {
	case !flush:
	case p != nil:
		errs = append(errs, *p)
	case l.unchanged:
		// The files hold all of it already (a clean open, no change since).
	default:
		errs = append(errs, l.flushForCloseLocked())
	}
	l.mu.Lock()
	l.mu.closed = true
	segs := l.mu.segments
	l.mu.Unlock()
	for _, s := range segs {
		errs = append(errs, s.closeFiles())
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close log %s: %w", l.tp, err)
	}
	return nil
}

func (l *Log) flushForCloseLocked() error {
	l.mu.RLock()
	var unsynced []*segment
	for _, s := range l.mu.segments {
		if s.unsynced {
			unsynced = append(unsynced, s)
		}
	}
	l.mu.RUnlock()
	if err := l.fsyncSegments(unsynced); err != nil {
		return err
	}
	s := l.active
	f, err := s.logFile()
	if err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return l.fail(fmt.Errorf("fsync segment %d: %w", s.base, err))
	}
	l.mu.Lock()
	s.maybeAppendTimeEntryLocked()
	l.mu.Unlock()
	if err := s.writeIndexFiles(); err != nil {
		return l.fail(err)
	}
	if err := s.writeTxnIndexFile(s.txns); err != nil {
		return l.fail(err)
	}
	leo := l.appendLEO
	if err := writeFileSynced(l.fs, l.snapshotPath(leo), encodeProducerSnapshot(leo, l.producers)); err != nil {
		return l.fail(err)
	}
	if err := l.pruneSnapshots(s.base, leo); err != nil {
		return l.fail(err)
	}
	if err := syncDir(l.fs, l.dir); err != nil {
		return l.fail(err)
	}
	l.advanceRecoveryPoint(leo, l.syncGeneration())
	return nil
}

// pruneSnapshots removes snapshots strictly between the active segment's
// base (kept: truncation may need it) and the log end offset (just
// written), which the newest snapshot supersedes. Without this every
// restart would leave one more file behind.
func (l *Log) pruneSnapshots(activeBase, leo int64) error {
	offs, err := l.listSnapshots()
	if err != nil {
		return err
	}
	for _, off := range offs {
		if off > activeBase && off < leo {
			if err := l.fs.Remove(l.snapshotPath(off)); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("remove snapshot: %w", err)
			}
		}
	}
	return nil
}
