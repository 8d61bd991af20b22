package storage

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/strata-io/strata/internal/record"
	"github.com/strata-io/strata/internal/storage/vfs"
)

// Log is the durable log of one partition: an ordered list of segments
// with their indexes, the producer state of idempotent producers, the
// leader-epoch cache and the log start offset.
//
// One appender at a time (appends, roll, truncation, retention and close
// serialise on appendMu); any number of readers run concurrently and only
// ever see whole batches, because the log end offset and segment sizes are
// published under mu after the write.
//
// Lock order: cleanMu, appendMu, then mu; epochs.mu and sync.mu are leaves.
type Log struct {
	tp      TopicPartition // set at open, never changed
	dir     string         // partition directory; set at open, never changed
	fs      vfs.FS         // set at open, never changed
	logger  *slog.Logger   // set at open, never changed
	now     func() time.Time
	deleter *fileDeleter // owned by the LogDir

	// Hooks set by the LogDir before the log is shared; may be nil.
	onFailure          func(error) // a write or fsync failed
	onLogStartAdvanced func()      // DeleteRecordsBefore raised the log start offset
	onCleaned          func()      // a compaction pass moved the cleaner checkpoint
	onCorrupt          func()      // a corrupt batch was found, or a read met one (scrub.go)

	dedupeBufferBytes int64 // bound of a compaction pass's offset map; set at open, never changed

	// cleanMu serialises compaction passes (Compact). A pass reads sealed
	// segments and writes its output without appendMu, and takes appendMu
	// only to check the log did not change and swap the output in.
	cleanMu sync.Mutex
	// firstDirty is the cleaner checkpoint: every record below it has been
	// deduplicated by a compaction pass; -1 if unknown (the log start
	// offset). Set by passes and lowered by truncation, both under
	// appendMu; read by the checkpoint writer without locks.
	firstDirty atomic.Int64
	// haltCompaction is for tests only: returning true at a stage stops the
	// pass right there and leaves the files as a crash would.
	haltCompaction func(stage string) bool

	stats scanStats // work done by scans; owned by appendMu (and open)

	// corruptOffset is where the first corrupt batch found starts, -1 if
	// none (see scrub.go); set with corrupt held, read without locks.
	corruptOffset atomic.Int64
	corrupt       struct {
		sync.Mutex
		seg *segment // the segment holding it; nil if none
		pos int64    // its position in seg
	}

	appendMu  sync.Mutex
	producers *producerState // owned by appendMu
	// firstUnstable is producers' first unstable offset (-1 if none),
	// published for readers: set under appendMu, read without locks.
	firstUnstable atomic.Int64
	active        *segment // owned by appendMu; also the last of mu.segments
	appendLEO     int64    // owned by appendMu; equals mu.logEndOffset
	// unchanged: the files already hold what Close would write (opened
	// after a clean shutdown, nothing appended, rolled or truncated since),
	// so Close writes nothing. Owned by appendMu.
	unchanged bool

	mu struct {
		sync.RWMutex
		segments       []*segment // copy-on-write: replaced, never changed in place
		logEndOffset   int64
		logStartOffset int64
		config         LogConfig
		topicID        [16]byte
		closed         bool
	}

	epochs epochCache

	syncer *groupSyncer // runs Sync's fsyncs; owned by the LogDir
	sync   struct {
		sync.Mutex
		recoveryPoint int64         // all data below it is durable
		generation    uint64        // bumped by truncation so an fsync in flight cannot raise the recovery point past it
		syncedBytes   int64         // appendedBytes when the last fsync that raised the recovery point started
		next          []*syncWaiter // waiting for the log's next fsync
		queued        bool          // in syncer's queue; set while next is not empty unless round is set
		round         *syncRound    // the fsync in flight, nil if none; its worker queues the log again if next is not empty
	}

	appendedBytes atomic.Int64          // bytes written by appends since open; GroupCommitBytes compares it with sync.syncedBytes
	fsyncs        atomic.Int64          // segment fsyncs by Sync; for tests and benchmarks
	failed        atomic.Pointer[error] // first write or fsync failure; the log then refuses writes
	// dirFailed is the failure of the log's directory, nil while it is
	// online (LogDir.failErrPtr); set by the LogDir before the log is
	// shared, nil for a log outside one. A failed directory's logs refuse
	// reads and writes.
	dirFailed      *atomic.Pointer[error]
	highWatermark  atomic.Int64 // bound for retention and DeleteRecords; MaxInt64 until the partition sets it
	checkpointedHW int64        // set by openLog, never changed: see CheckpointedHighWatermark
}

// AppendInfo describes the result of an append.
type AppendInfo struct {
	FirstOffset, LastOffset int64
	LogAppendTime           int64 // -1 unless the topic uses LogAppendTime
	LogStartOffset          int64
	Duplicate               bool // a retried idempotent batch: offsets are the original ones, nothing was appended
}

// logOptions are the inputs of openLog.
type logOptions struct {
	tp             TopicPartition
	dir            string
	fs             vfs.FS
	config         LogConfig
	clean          bool  // the log directory was shut down cleanly
	recoveryPoint  int64 // from the checkpoint; -1 if unknown
	logStartOffset int64 // from the checkpoint; -1 if unknown
	firstDirty     int64 // from the cleaner checkpoint; -1 if unknown
	highWatermark  int64 // from the high watermark checkpoint; -1 if unknown
	dedupeBytes    int64 // Config.CleanerDedupeBufferBytes
	logger         *slog.Logger
	now            func() time.Time
	deleter        *fileDeleter
	syncer         *groupSyncer
}

// TopicPartition returns the partition the log stores.
func (l *Log) TopicPartition() TopicPartition { return l.tp }

// TopicID returns the topic ID recorded in partition.metadata (zero if none).
func (l *Log) TopicID() [16]byte {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.mu.topicID
}

// Config returns the log's configuration.
func (l *Log) Config() LogConfig {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.mu.config
}

// SetConfig replaces the configuration; it applies from the next append or
// retention pass.
func (l *Log) SetConfig(cfg LogConfig) {
	l.mu.Lock()
	l.mu.config = cfg
	l.mu.Unlock()
}

// CheckpointedHighWatermark is the partition's high watermark as last
// checkpointed before this open (replication-offset-checkpoint), at most
// the log end offset; -1 if none was recorded. The partition starts from
// it, so consumers can read committed data at once after a restart.
func (l *Log) CheckpointedHighWatermark() int64 { return l.checkpointedHW }

// SetHighWatermark tells the log the partition's high watermark. Retention
// and DeleteRecordsBefore never remove data at or above it. Until it is
// called the log assumes everything is committed (single-replica use).
func (l *Log) SetHighWatermark(hw int64) { l.highWatermark.Store(hw) }

// LogStartOffset returns the first offset readable.
func (l *Log) LogStartOffset() int64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.mu.logStartOffset
}

// LogEndOffset returns the offset the next appended record gets.
func (l *Log) LogEndOffset() int64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.mu.logEndOffset
}

// Size returns the bytes in the log's segments.
func (l *Log) Size() int64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	var n int64
	for _, s := range l.mu.segments {
		n += s.size
	}
	return n
}

// NumSegments returns how many segments the log has.
func (l *Log) NumSegments() int {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return len(l.mu.segments)
}

// RecoveryPoint returns the offset below which all data is known durable.
func (l *Log) RecoveryPoint() int64 {
	l.sync.Lock()
	defer l.sync.Unlock()
	return l.sync.recoveryPoint
}

// LatestEpoch returns the latest leader epoch in the log, -1 if none.
func (l *Log) LatestEpoch() int32 { return l.epochs.latestEpoch() }

// EndOffsetForEpoch answers OffsetForLeaderEpoch (KIP-101/279): the largest
// epoch <= epoch known to the log and the offset where the following epoch
// starts (the log end offset for the latest epoch). (-1, -1) if unknown.
func (l *Log) EndOffsetForEpoch(epoch int32) (int32, int64) {
	return l.epochs.endOffsetFor(epoch, l.LogEndOffset())
}

// writableLocked reports why the log cannot be written, if it cannot.
// The caller holds appendMu.
func (l *Log) writableLocked() error {
	if p := l.failed.Load(); p != nil {
		return *p
	}
	if err := l.dirFailure(); err != nil {
		return err
	}
	l.mu.RLock()
	closed := l.mu.closed
	l.mu.RUnlock()
	if closed {
		return ErrLogClosed
	}
	return nil
}

// fail records a write or fsync failure and returns it wrapped in
// ErrStorageFailed. NB: after a failed fsync the kernel may have dropped
// the dirty pages, so retrying could report data durable that is not; the
// log stays failed until the directory is reopened (and recovered).
func (l *Log) fail(err error) error {
	if p := l.failed.Load(); p != nil {
		return *p
	}
	wrapped := fmt.Errorf("%w: %s: %w", ErrStorageFailed, l.tp, err)
	if l.failed.CompareAndSwap(nil, &wrapped) {
		l.logger.Error("log failed", "err", err)
		if l.onFailure != nil {
			l.onFailure(wrapped)
		}
	}
	return *l.failed.Load()
}

// Offline reports whether the log's directory is offline.
func (l *Log) Offline() bool { return l.dirFailure() != nil }

// dirFailure returns the failure of the log's directory, or nil.
func (l *Log) dirFailure() error {
	if l.dirFailed == nil {
		return nil
	}
	if p := l.dirFailed.Load(); p != nil {
		return *p
	}
	return nil
}

// Dir is the log's partition directory.
func (l *Log) Dir() string { return l.dir }

func (l *Log) segmentsSnapshot() []*segment {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.mu.segments
}

func (l *Log) snapshotPath(offset int64) string {
	return filepath.Join(l.dir, segmentFileName(offset, snapshotFileSuffix))
}

// writeEpochCheckpoint persists the leader-epoch cache.
func (l *Log) writeEpochCheckpoint() error {
	return writeFileAtomic(l.fs, filepath.Join(l.dir, leaderEpochCheckpointFile), encodeEpochCheckpoint(l.epochs.snapshot()))
}

// openLog opens (creating if needed) the partition directory opts.dir and
// recovers it. See the package documentation for the recovery rules.
func openLog(opts logOptions) (*Log, error) {
	l := &Log{
		tp:        opts.tp,
		dir:       opts.dir,
		fs:        opts.fs,
		logger:    opts.logger.With("topic", opts.tp.Topic, "partition", opts.tp.Partition),
		now:       opts.now,
		deleter:   opts.deleter,
		syncer:    opts.syncer,
		producers: newProducerState(),

		dedupeBufferBytes: opts.dedupeBytes,
	}
	l.firstDirty.Store(-1)
	l.firstUnstable.Store(-1)
	l.corruptOffset.Store(-1)
	l.mu.config = opts.config
	l.highWatermark.Store(math.MaxInt64)
	l.checkpointedHW = -1
	if err := opts.fs.MkdirAll(opts.dir, 0o755); err != nil {
		return nil, fmt.Errorf("create partition dir: %w", err)
	}
	if err := l.load(opts); err != nil {
		for _, s := range l.mu.segments {
			_ = s.closeFiles()
		}
		return nil, fmt.Errorf("open log %s: %w", opts.tp, err)
	}
	if opts.highWatermark >= 0 {
		l.checkpointedHW = max(min(opts.highWatermark, l.LogEndOffset()), l.LogStartOffset())
	}
	// No reader holds a file yet: close them all, to reopen on first use,
	// so an idle partition costs no file descriptor.
	for _, s := range l.mu.segments {
		if err := s.releaseFiles(); err != nil {
			return nil, fmt.Errorf("open log %s: %w", opts.tp, err)
		}
	}
	return l, nil
}

// dirListing is what load finds in a partition directory.
type dirListing struct {
	logs      []int64 // segment base offsets, sorted
	snapshots []int64 // snapshot offsets, sorted
}

// listDir removes leftovers of interrupted operations and lists segments
// and snapshots.
func (l *Log) listDir() (dirListing, error) {
	var out dirListing
	entries, err := l.fs.ReadDir(l.dir)
	if err != nil {
		return out, fmt.Errorf("list partition dir: %w", err)
	}
	if slices.ContainsFunc(entries, func(e os.DirEntry) bool {
		return strings.HasSuffix(e.Name(), cleanedFileSuffix) || strings.HasSuffix(e.Name(), swapFileSuffix)
	}) {
		// A compaction was interrupted (rarely): settle it, then look again.
		if err := completeSwaps(l.fs, l.dir, l.logger); err != nil {
			return out, err
		}
		if entries, err = l.fs.ReadDir(l.dir); err != nil {
			return out, fmt.Errorf("list partition dir: %w", err)
		}
	}
	indexes := map[string]int64{}
	logs := map[int64]bool{}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() {
			continue
		}
		switch {
		case strings.HasSuffix(name, deletedFileSuffix), strings.HasSuffix(name, ".cleaned"),
			strings.HasSuffix(name, ".swap"), strings.HasSuffix(name, tmpSuffix):
			if err := l.fs.Remove(filepath.Join(l.dir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
				return out, fmt.Errorf("remove leftover %s: %w", name, err)
			}
		case strings.HasSuffix(name, logFileSuffix):
			if base, ok := parseOffsetFileName(name, logFileSuffix); ok {
				out.logs = append(out.logs, base)
				logs[base] = true
			}
		case strings.HasSuffix(name, timeIndexFileSuffix):
			if base, ok := parseOffsetFileName(name, timeIndexFileSuffix); ok {
				indexes[name] = base
			}
		case strings.HasSuffix(name, txnIndexFileSuffix):
			if base, ok := parseOffsetFileName(name, txnIndexFileSuffix); ok {
				indexes[name] = base
			}
		case strings.HasSuffix(name, indexFileSuffix):
			if base, ok := parseOffsetFileName(name, indexFileSuffix); ok {
				indexes[name] = base
			}
		case strings.HasSuffix(name, snapshotFileSuffix):
			if off, ok := parseOffsetFileName(name, snapshotFileSuffix); ok {
				out.snapshots = append(out.snapshots, off)
			}
		}
	}
	for name, base := range indexes {
		if !logs[base] {
			if err := l.fs.Remove(filepath.Join(l.dir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
				return out, fmt.Errorf("remove orphan index %s: %w", name, err)
			}
		}
	}
	slices.Sort(out.logs)
	slices.Sort(out.snapshots)
	return out, nil
}

func (l *Log) load(opts logOptions) error {
	listing, err := l.listDir()
	if err != nil {
		return err
	}
	if b, err := vfs.ReadFile(l.fs, filepath.Join(l.dir, partitionMetadataFile)); err == nil {
		id, err := decodePartitionMetadata(b)
		if err != nil {
			return err
		}
		l.mu.topicID = id
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("read partition metadata: %w", err)
	}
	var savedEpochs []epochEntry
	if b, err := vfs.ReadFile(l.fs, filepath.Join(l.dir, leaderEpochCheckpointFile)); err == nil {
		if savedEpochs, err = decodeEpochCheckpoint(b); err != nil {
			return fmt.Errorf("%s: %w", leaderEpochCheckpointFile, err)
		}
		l.epochs.set(savedEpochs)
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("read leader epoch checkpoint: %w", err)
	}

	cfg := opts.config
	segs := make([]*segment, len(listing.logs))
	for i, base := range listing.logs {
		segs[i] = newSegment(l.fs, l.dir, base)
	}
	recovered := false
	if len(segs) > 0 {
		if segs, recovered, err = l.loadSegments(segs, opts, cfg); err != nil {
			return err
		}
	}
	if len(segs) == 0 {
		start := max(opts.logStartOffset, 0)
		s, err := createSegment(l.fs, l.dir, start)
		if err != nil {
			return err
		}
		segs = []*segment{s}
	}
	leo := segs[len(segs)-1].nextOffset
	lso := max(opts.logStartOffset, segs[0].base)
	if lso > leo {
		// The tail above the checkpointed log start offset was lost in a
		// crash (it was never fsynced): start afresh at the log start offset.
		l.logger.Warn("log end offset below log start offset after recovery; starting empty at the log start offset",
			"offset", leo, "log_start_offset", lso)
		for _, s := range segs {
			_ = s.closeFiles()
			for _, suffix := range segmentFileSuffixes {
				if err := l.fs.Remove(s.path(suffix)); err != nil && !errors.Is(err, os.ErrNotExist) {
					return fmt.Errorf("remove segment %d: %w", s.base, err)
				}
			}
		}
		s, err := createSegment(l.fs, l.dir, lso)
		if err != nil {
			return err
		}
		segs = []*segment{s}
		leo = lso
		recovered = true
	}
	if !opts.clean && opts.recoveryPoint > leo {
		l.logger.Warn("log end offset after recovery is below the recovery point: data known durable was lost",
			"offset", leo, "recovery_point", opts.recoveryPoint)
	}
	l.mu.segments = segs
	l.mu.logEndOffset = leo
	l.mu.logStartOffset = lso
	l.active = segs[len(segs)-1]
	l.appendLEO = leo

	if _, err := l.active.logFile(); err != nil {
		return err
	}
	l.epochs.truncateFromEnd(leo)
	l.epochs.truncateFromStart(lso)
	if !slices.Equal(savedEpochs, l.epochs.snapshot()) {
		if err := l.writeEpochCheckpoint(); err != nil {
			return err
		}
	}
	snap, err := l.loadProducerState(listing.snapshots, true)
	if err != nil {
		return err
	}
	// After a clean shutdown that left this log's active indexes and a
	// producer snapshot at its end, Close has nothing to write until the
	// log changes.
	l.unchanged = opts.clean && !recovered && snap == leo && len(listing.logs) > 0
	if recovered {
		// Recovered data may sit only in the page cache of the crashed
		// kernel's successor; make it durable before trusting it as the
		// recovery point.
		for _, s := range segs {
			if s.sealed {
				continue
			}
			f, err := s.logFile()
			if err != nil {
				return err
			}
			if err := f.Sync(); err != nil {
				return fmt.Errorf("fsync segment %d: %w", s.base, err)
			}
		}
		if err := syncDir(l.fs, l.dir); err != nil {
			return err
		}
	}
	l.sync.recoveryPoint = leo
	if fd := opts.firstDirty; fd >= 0 && fd <= leo {
		l.firstDirty.Store(fd)
	} else if fd > leo {
		l.logger.Warn("cleaner checkpoint beyond the log end offset; cleaning from the log start offset",
			"offset", fd, "log_end_offset", leo)
	}
	return nil
}

// loadSegments opens the segments found on disk. With a clean shutdown it
// trusts index files and finds the log end offset by scanning the active
// segment from its last index entry; otherwise it validates every batch
// from the segment holding the recovery point on, truncating at the first
// invalid batch. It reports whether it recovered anything.
func (l *Log) loadSegments(segs []*segment, opts logOptions, cfg LogConfig) ([]*segment, bool, error) {
	recoverFrom := len(segs)
	if !opts.clean {
		rp := max(opts.recoveryPoint, 0)
		recoverFrom = sort.Search(len(segs), func(i int) bool { return segs[i].base > rp }) - 1
		recoverFrom = max(recoverFrom, 0)
	}
	for i, s := range segs {
		fi, err := l.fs.Stat(s.path(logFileSuffix))
		if err != nil {
			return nil, false, fmt.Errorf("stat segment %d: %w", s.base, err)
		}
		s.size = fi.Size()
		if s.size > math.MaxInt32 {
			return nil, false, fmt.Errorf("%w: segment %d is %d bytes, more than 32-bit positions allow", ErrCorruptLog, s.base, s.size)
		}
		if i+1 < len(segs) {
			s.nextOffset = segs[i+1].base
		}
	}
	last := len(segs) - 1
	for i := 0; i < min(recoverFrom, len(segs)); i++ {
		s := segs[i]
		if i < last {
			if err := l.loadSealedSegment(s, segs[i+1].base, cfg); err != nil {
				return nil, false, err
			}
			continue
		}
		ok, err := l.loadActiveSegmentClean(s, cfg)
		if err != nil {
			return nil, false, err
		}
		if !ok {
			recoverFrom = i
		}
	}
	if recoverFrom >= len(segs) {
		return segs, false, nil
	}

	prevNext := int64(0)
	if recoverFrom > 0 {
		prevNext = segs[recoverFrom].base
	}
	for i := recoverFrom; i < len(segs); i++ {
		s := segs[i]
		if s.base < prevNext {
			l.logger.Error("segment overlaps the one before it; deleting it and later segments",
				"segment", s.base, "offset", prevNext)
			if err := l.removeSegmentFiles(segs[i:]); err != nil {
				return nil, false, err
			}
			segs = segs[:i]
			break
		}
		maxNext := int64(math.MaxInt64)
		if i+1 < len(segs) {
			maxNext = segs[i+1].base
		}
		corrupt, err := l.recoverSegment(s, max(prevNext, s.base), maxNext, cfg)
		if err != nil {
			return nil, false, err
		}
		prevNext = s.nextOffset
		if corrupt != nil {
			l.logger.Warn("truncating log at invalid batch",
				"segment", s.base, "offset", s.nextOffset, "position", s.size, "err", corrupt)
			f, err := s.logFile()
			if err != nil {
				return nil, false, err
			}
			if err := f.Truncate(s.size); err != nil {
				return nil, false, fmt.Errorf("truncate segment %d: %w", s.base, err)
			}
			if i+1 < len(segs) {
				l.logger.Warn("deleting segments after the invalid batch", "segments", len(segs)-i-1)
				if err := l.removeSegmentFiles(segs[i+1:]); err != nil {
					return nil, false, err
				}
				segs = segs[:i+1]
			}
			break
		}
	}
	if len(segs) == 0 {
		return segs, true, nil
	}
	// Every recovered segment but the last is sealed again.
	for i := recoverFrom; i < len(segs)-1; i++ {
		s := segs[i]
		s.maybeAppendTimeEntryLocked()
		if err := s.writeIndexFiles(); err != nil {
			return nil, false, err
		}
		f, err := s.logFile()
		if err != nil {
			return nil, false, err
		}
		if err := f.Sync(); err != nil {
			return nil, false, fmt.Errorf("fsync segment %d: %w", s.base, err)
		}
		s.sealLocked()
	}
	return segs, true, nil
}

// removeSegmentFiles deletes segments outright (only during open, when no
// reader can hold them).
func (l *Log) removeSegmentFiles(segs []*segment) error {
	for _, s := range segs {
		_ = s.closeFiles()
		for _, suffix := range segmentFileSuffixes {
			if err := l.fs.Remove(s.path(suffix)); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("remove segment %d: %w", s.base, err)
			}
		}
	}
	return nil
}

// loadSealedSegment checks a trusted sealed segment's index files cheaply
// (sizes and last entries) and rebuilds them from batch headers if they
// look wrong. It reads the segment's max timestamp from the time index.
func (l *Log) loadSealedSegment(s *segment, nextBase int64, cfg LogConfig) error {
	maxRel := nextBase - s.base
	idxOK, tidxOK := false, false
	if fi, err := l.fs.Stat(s.path(indexFileSuffix)); err == nil && fi.Size()%offsetEntrySize == 0 {
		s.idxCount = int(fi.Size() / offsetEntrySize)
		idxOK = s.idxCount == 0
		if !idxOK {
			if f, err := s.indexFile(); err == nil {
				e, err := offsetIndexView{f: f, n: s.idxCount}.at(s.idxCount - 1)
				idxOK = err == nil && int64(e.Position) < s.size && int64(e.RelOffset) < maxRel
			}
		}
	}
	if fi, err := l.fs.Stat(s.path(timeIndexFileSuffix)); err == nil && fi.Size()%timeEntrySize == 0 {
		s.tidxCount = int(fi.Size() / timeEntrySize)
		tidxOK = s.tidxCount == 0
		if !tidxOK {
			if f, err := s.timeIndexFile(); err == nil {
				e, err := timeIndexView{f: f, n: s.tidxCount}.at(s.tidxCount - 1)
				if err == nil && e.Timestamp >= 0 && int64(e.RelOffset) < maxRel {
					tidxOK = true
					s.maxTimestamp = e.Timestamp
					s.offsetOfMaxTimestamp = s.base + int64(e.RelOffset)
				}
			}
		}
	}
	s.closeIndexFiles()
	s.sealed = true
	if txns, err := s.readTxnIndex(nextBase); err != nil {
		l.logger.Warn("transaction index unusable; rebuilding it", "segment", s.base, "err", err)
		s.txnRebuild = true
	} else {
		s.txnCount = len(txns)
	}
	if idxOK && tidxOK {
		return nil
	}
	l.logger.Warn("rebuilding index of segment", "segment", s.base)
	if err := l.rebuildFromHeaders(s, s.size, nextBase, cfg); err != nil {
		return err
	}
	s.maybeAppendTimeEntryLocked()
	if err := s.writeIndexFiles(); err != nil {
		return err
	}
	s.sealLocked()
	return nil
}

// rebuildFromHeaders rebuilds s's in-memory state from the batch headers of
// bytes [0, end) of a trusted segment (no CRC check). Framing errors are
// corruption of data that should be durable.
func (l *Log) rebuildFromHeaders(s *segment, end, maxNext int64, cfg LogConfig) error {
	f, err := s.logFile()
	if err != nil {
		return err
	}
	t, err := scanSegmentState(f, s.base, end, maxNext, cfg.IndexIntervalBytes, &l.stats)
	if err != nil {
		return err
	}
	s.applyStateLocked(t)
	return nil
}

// resetLocked empties s's in-memory state before a rebuild.
func (s *segment) resetLocked() {
	s.size = 0
	s.nextOffset = s.base
	s.maxTimestamp, s.offsetOfMaxTimestamp = -1, -1
	s.idx, s.tidx = nil, nil
	s.idxCount, s.tidxCount = 0, 0
	s.txns, s.txnCount = nil, 0
	s.sealed = false
	s.bytesSinceIndex = 0
	s.rollTime = time.Time{}
	s.vlo, s.vhi = 0, 0
}

// checkSegmentOffsets checks that h continues the segment: offsets not
// below expected, below maxNext, and relative offsets fitting 32 bits.
func checkSegmentOffsets(s *segment, h *record.Header, expected, maxNext int64) error {
	switch {
	case h.BaseOffset < expected:
		return fmt.Errorf("%w: batch base offset %d below %d", ErrCorruptLog, h.BaseOffset, expected)
	case h.NextOffset() > maxNext:
		return fmt.Errorf("%w: batch ends at %d, past the next segment's base %d", ErrCorruptLog, h.NextOffset(), maxNext)
	case h.LastOffset()-s.base > math.MaxInt32:
		return fmt.Errorf("%w: batch offset %d too far from segment base %d", ErrCorruptLog, h.LastOffset(), s.base)
	}
	return nil
}

// loadActiveSegmentClean loads the active segment after a clean shutdown:
// its index files into memory, then batch headers from the last index
// entry to the end of the file. It returns false if the segment must be
// recovered instead (its files disagree with each other).
func (l *Log) loadActiveSegmentClean(s *segment, cfg LogConfig) (bool, error) {
	fileSize := s.size
	idxBytes, err1 := vfs.ReadFile(l.fs, s.path(indexFileSuffix))
	tidxBytes, err2 := vfs.ReadFile(l.fs, s.path(timeIndexFileSuffix))
	var idx []offsetEntry
	var tidx []timeEntry
	if err1 == nil && err2 == nil {
		idx, err1 = decodeOffsetIndex(idxBytes, fileSize)
		tidx, err2 = decodeTimeIndex(tidxBytes, math.MaxUint32)
	}
	if err1 != nil || err2 != nil {
		l.logger.Warn("active segment index unusable after clean shutdown; recovering the segment",
			"segment", s.base, "err", errors.Join(err1, err2))
		return false, nil
	}
	f, err := s.logFile()
	if err != nil {
		return false, err
	}
	s.resetLocked()
	s.idx, s.tidx = idx, tidx
	start := int64(0)
	expected := s.base
	if n := len(idx); n > 0 {
		start = int64(idx[n-1].Position)
		expected = s.base + int64(idx[n-1].RelOffset) // the batch there ends at this offset
		s.size = start
	}
	if n := len(tidx); n > 0 {
		s.maxTimestamp = tidx[n-1].Timestamp
		s.offsetOfMaxTimestamp = s.base + int64(tidx[n-1].RelOffset)
	}
	sc := newBatchScanner(f, start, fileSize, false, &l.stats)
	first := true
	for {
		pos, h, done, err := sc.next()
		if done {
			break
		}
		if err == nil && first && len(idx) > 0 && h.LastOffset() != expected {
			err = fmt.Errorf("%w: index says batch at %d ends at %d, it ends at %d", ErrCorruptLog, pos, expected, h.LastOffset())
		} else if err == nil && !(first && len(idx) > 0) {
			err = checkSegmentOffsets(s, &h, expected, math.MaxInt64)
		}
		if err != nil {
			if !errors.Is(err, ErrCorruptLog) {
				return false, err
			}
			l.logger.Error("active segment invalid after clean shutdown; recovering the segment",
				"segment", s.base, "position", pos, "err", err)
			return false, nil
		}
		s.indexBatchLocked(pos, &h, cfg.IndexIntervalBytes)
		expected = h.NextOffset()
		first = false
	}
	txns, err := s.readTxnIndex(s.nextOffset)
	if err != nil {
		l.logger.Warn("active segment transaction index unusable after clean shutdown; recovering the segment",
			"segment", s.base, "err", err)
		return false, nil
	}
	s.txns = txns
	if s.size > 0 {
		h, err := readHeaderAt(f, 0)
		if err != nil {
			return false, err
		}
		s.rollTime = time.UnixMilli(max(h.MaxTimestamp, 0))
	}
	// What is on disk is unverified until scrubbed; appends from here on
	// are verified as they are written.
	s.vlo, s.vhi = s.size, s.size
	return true, nil
}

// recoverSegment validates every batch of s (framing, CRC, offsets) and
// rebuilds its in-memory indexes. It stops at the first invalid batch and
// returns why (nil if the whole file is valid); s.size is then the
// position of that batch.
func (l *Log) recoverSegment(s *segment, minOffset, maxNext int64, cfg LogConfig) (corrupt error, err error) {
	f, err := s.logFile()
	if err != nil {
		return nil, err
	}
	fileSize := s.size
	s.resetLocked()
	s.txnRebuild = true // its markers are replayed with the producer state
	sc := newBatchScanner(f, 0, fileSize, true, &l.stats)
	expected := minOffset
	for {
		pos, h, done, err := sc.next()
		if done {
			break
		}
		if err == nil {
			err = checkSegmentOffsets(s, &h, expected, maxNext)
		}
		if err != nil {
			if !errors.Is(err, ErrCorruptLog) {
				return nil, fmt.Errorf("recover segment %d: %w", s.base, err)
			}
			return err, nil
		}
		s.indexBatchLocked(pos, &h, cfg.IndexIntervalBytes)
		if h.PartitionLeaderEpoch > l.epochs.latestEpoch() {
			l.epochs.assign(h.PartitionLeaderEpoch, h.BaseOffset)
		}
		expected = h.NextOffset()
	}
	s.vlo, s.vhi = 0, s.size // every batch kept matched its CRC
	if s.size > 0 {
		h, err := readHeaderAt(f, 0)
		if err != nil {
			return nil, err
		}
		s.rollTime = time.UnixMilli(max(h.MaxTimestamp, 0))
	}
	return nil, nil
}

// loadProducerState rebuilds producer state: the newest valid snapshot at
// or below the log end offset, then the headers of later batches (and the
// markers of control batches). Newer snapshots (from before a truncation
// or crash) are deleted. With rebuildTxns, the aborted-transaction index
// of every segment marked txnRebuild is rebuilt from its ABORT markers:
// the replay then starts from a snapshot at or below the first such
// segment. It returns the offset of the snapshot it used, -1 if none.
func (l *Log) loadProducerState(snapshots []int64, rebuildTxns bool) (int64, error) {
	leo := l.appendLEO
	segs := l.mu.segments
	l.producers = newProducerState()
	limit := leo
	if rebuildTxns {
		if i := slices.IndexFunc(segs, func(s *segment) bool { return s.txnRebuild }); i >= 0 {
			limit = min(limit, segs[i].base)
		} else {
			rebuildTxns = false
		}
	}
	from := int64(-1)
	for i := len(snapshots) - 1; i >= 0; i-- {
		off := snapshots[i]
		path := l.snapshotPath(off)
		if off > leo {
			if err := l.fs.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
				return -1, fmt.Errorf("remove snapshot: %w", err)
			}
			continue
		}
		if from >= 0 {
			break
		}
		if off > limit {
			continue // valid, but the replay must start lower
		}
		b, err := vfs.ReadFile(l.fs, path)
		if err != nil {
			return -1, fmt.Errorf("read producer snapshot: %w", err)
		}
		snapOff, state, err := decodeProducerSnapshot(b)
		if err == nil && snapOff != off {
			err = fmt.Errorf("%w: snapshot %s holds offset %d", ErrCorruptLog, path, snapOff)
		}
		if err != nil {
			l.logger.Warn("deleting unreadable producer snapshot", "offset", off, "err", err)
			if err := l.fs.Remove(path); err != nil {
				return -1, fmt.Errorf("remove snapshot: %w", err)
			}
			continue
		}
		l.producers = state
		from = off
	}
	used := from
	from = max(from, segs[0].base)
	if err := l.replayProducerState(segs, from, leo); err != nil {
		return -1, err
	}
	if rebuildTxns {
		if err := l.writeRebuiltTxnIndexes(segs); err != nil {
			return -1, err
		}
	}
	cfg := l.Config()
	l.producers.removeExpired(l.now().UnixMilli(), cfg.ProducerIDExpiration.Milliseconds())
	l.firstUnstable.Store(l.producers.firstUnstableOffset())
	return used, nil
}

// writeRebuiltTxnIndexes persists the aborted-transaction indexes the
// replay rebuilt: sealed segments get their file now, the active segment
// keeps its entries in memory until it is sealed or closed.
func (l *Log) writeRebuiltTxnIndexes(segs []*segment) error {
	wrote := false
	for _, s := range segs {
		if !s.txnRebuild {
			continue
		}
		s.txnRebuild = false
		if s == l.active {
			continue
		}
		if err := s.writeTxnIndexFile(s.txns); err != nil {
			return err
		}
		s.txnCount, s.txns = len(s.txns), nil
		wrote = true
	}
	if wrote {
		return syncDir(l.fs, l.dir)
	}
	return nil
}

// replayProducerState applies the headers of batches in [from, to) (and
// the markers of control batches) to the producer state, as a follower
// would. The aborted transactions it completes are added to the index of
// their segment when that segment is marked txnRebuild.
func (l *Log) replayProducerState(segs []*segment, from, to int64) error {
	if from >= to {
		return nil
	}
	first := sort.Search(len(segs), func(i int) bool { return segs[i].base > from }) - 1
	first = max(first, 0)
	pa := l.producers.begin()
	for _, s := range segs[first:] {
		if s.base >= to {
			break
		}
		v := s.viewUnlocked()
		pos, _, found, err := v.findBatch(from)
		if err != nil {
			return err
		}
		if !found {
			continue
		}
		f, err := s.logFile()
		if err != nil {
			return err
		}
		sc := newBatchScanner(f, pos, v.size, false, &l.stats)
		for {
			pos, h, done, err := sc.next()
			if done {
				break
			}
			if err != nil {
				return fmt.Errorf("replay producer state from segment %d: %w", s.base, err)
			}
			if h.BaseOffset >= to {
				break
			}
			if h.BaseOffset < from {
				continue
			}
			var marker *txnMarker
			if h.IsControl() && h.HasProducerID() {
				b, err := readBatchAt(f, pos, &h)
				if err != nil {
					return fmt.Errorf("replay producer state from segment %d: %w", s.base, err)
				}
				if marker, err = parseTxnMarker(b); err != nil {
					l.logger.Warn("ignoring unreadable transaction marker", "offset", h.BaseOffset, "err", err)
				}
			}
			_ = pa.add(&h, marker, false)
			if len(pa.txns) > 0 {
				// NB: one transaction at a time, so each aborted one
				// records the last stable offset right after it.
				aborted, _ := pa.commit()
				if s.txnRebuild {
					s.txns = append(s.txns, aborted...)
				}
			}
		}
	}
	pa.commit()
	return nil
}
