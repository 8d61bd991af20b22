package storage

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/strata-io/strata/internal/clock"
	"github.com/strata-io/strata/internal/storage/vfs"
)

// LogDir is one log directory: a directory per partition plus the
// checkpoint files and the clean-shutdown marker at its root.
type LogDir struct {
	cfg     Config           // set in OpenLogDir, never changed
	fs      vfs.FS           // cfg.FS; set in OpenLogDir, never changed
	id      DirID            // from meta.properties; set in OpenLogDir, never changed
	logger  *slog.Logger     // set in OpenLogDir, never changed
	now     func() time.Time // set in OpenLogDir, never changed
	deleter *fileDeleter
	syncer  *groupSyncer // fsyncs for Log.Sync; its workers exit when idle, Close waits for them

	mu struct {
		sync.Mutex
		logs map[TopicPartition]*Log
		// futures are the future logs of AlterReplicaLogDirs moves into
		// this directory: not served, checkpointed or cleaned until
		// promoted into logs.
		futures map[TopicPartition]*Log
		// promoted holds partitions found at open with the promoted
		// marker: a move into this directory committed, but the source
		// log may not have been removed (see LogDirs).
		promoted map[TopicPartition]bool
		closed   bool
	}

	checkpointMu sync.Mutex // serialises checkpoint file writes

	failOnce sync.Once
	failErr  error         // set once before failed is closed
	failed   chan struct{} // closed when a log fails: the directory is offline
	// failErrPtr holds failErr once set; every log of the directory reads
	// it (Log.dirFailed) to refuse reads and writes.
	failErrPtr atomic.Pointer[error]
}

// OpenLogDir opens the log directory, creating it if needed: it removes
// leftovers of deleted partitions, opens (and recovers) every partition
// log, then removes the clean-shutdown marker. It starts no goroutines.
// Logs get DefaultLogConfig until the caller calls SetConfig.
func OpenLogDir(cfg Config) (*LogDir, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = clock.Now
	}
	if cfg.FS == nil {
		cfg.FS = vfs.Default
	}
	if cfg.RecoveryThreads == 0 {
		cfg.RecoveryThreads = 1
	}
	if cfg.FsyncThreads == 0 {
		cfg.FsyncThreads = defaultFsyncThreads
	}
	def := DefaultConfig(cfg.Dir)
	if cfg.RetentionCheckInterval == 0 {
		cfg.RetentionCheckInterval = def.RetentionCheckInterval
	}
	if cfg.CheckpointInterval == 0 {
		cfg.CheckpointInterval = def.CheckpointInterval
	}
	if cfg.FsyncInterval == 0 {
		cfg.FsyncInterval = def.FsyncInterval
	}
	if cfg.CleanerInterval == 0 {
		cfg.CleanerInterval = def.CleanerInterval
	}
	if cfg.CleanerDedupeBufferBytes == 0 {
		cfg.CleanerDedupeBufferBytes = def.CleanerDedupeBufferBytes
	}
	if cfg.ScrubInterval == 0 {
		cfg.ScrubInterval = def.ScrubInterval
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("log dir config: %w", err)
	}
	d := &LogDir{
		cfg:     cfg,
		fs:      cfg.FS,
		logger:  cfg.Logger.With("component", "storage", "dir", cfg.Dir),
		now:     cfg.Now,
		deleter: newFileDeleter(cfg.FS),
		syncer:  newGroupSyncer(cfg),
		failed:  make(chan struct{}),
	}
	d.mu.logs = make(map[TopicPartition]*Log)
	d.mu.futures = make(map[TopicPartition]*Log)
	d.mu.promoted = make(map[TopicPartition]bool)
	if err := cfg.FS.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("create log dir: %w", err)
	}
	id, err := loadMetaProperties(cfg.FS, cfg.Dir, cfg.NodeID)
	if err != nil {
		return nil, err
	}
	d.id = id
	entries, err := cfg.FS.ReadDir(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("list log dir: %w", err)
	}
	var tps []TopicPartition
	for _, e := range entries {
		name := e.Name()
		switch {
		case !e.IsDir():
			if strings.HasSuffix(name, tmpSuffix) {
				if err := cfg.FS.Remove(filepath.Join(cfg.Dir, name)); err != nil {
					return nil, fmt.Errorf("remove leftover %s: %w", name, err)
				}
			}
		case strings.HasSuffix(name, "-delete"):
			if err := cfg.FS.RemoveAll(filepath.Join(cfg.Dir, name)); err != nil {
				return nil, fmt.Errorf("remove deleted partition %s: %w", name, err)
			}
		default:
			tp, ok := parsePartitionDir(name)
			if !ok {
				d.logger.Warn("ignoring directory that names no partition", "name", name)
				continue
			}
			switch {
			case fileExists(cfg.FS, filepath.Join(cfg.Dir, name, futureMarkerFile)):
				// A move into this directory that never completed: the
				// source log is still current.
				d.logger.Info("removing the future log of an unfinished log dir move", "topic", tp.Topic, "partition", tp.Partition)
				if err := cfg.FS.RemoveAll(filepath.Join(cfg.Dir, name)); err != nil {
					return nil, fmt.Errorf("remove future log %s: %w", name, err)
				}
				continue
			case fileExists(cfg.FS, filepath.Join(cfg.Dir, name, promotedMarkerFile)):
				d.mu.promoted[tp] = true
			}
			tps = append(tps, tp)
		}
	}
	rps, err := readOffsetCheckpoint(cfg.FS, filepath.Join(cfg.Dir, recoveryPointFile))
	if err != nil {
		return nil, err
	}
	lsos, err := readOffsetCheckpoint(cfg.FS, filepath.Join(cfg.Dir, logStartOffsetFile))
	if err != nil {
		return nil, err
	}
	dirty, err := readOffsetCheckpoint(cfg.FS, filepath.Join(cfg.Dir, cleanerCheckpointFile))
	if err != nil {
		return nil, err
	}
	hws, err := readOffsetCheckpoint(cfg.FS, filepath.Join(cfg.Dir, highWatermarkFile))
	if err != nil {
		return nil, err
	}
	marker := filepath.Join(cfg.Dir, cleanShutdownFile)
	_, err = cfg.FS.Stat(marker)
	clean := err == nil
	if !clean && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("stat clean shutdown marker: %w", err)
	}
	d.logger.Info("opening log dir", "partitions", len(tps), "clean_shutdown", clean)

	if err := d.openLogs(tps, clean, checkpoints{recoveryPoints: rps, logStartOffsets: lsos, firstDirty: dirty, highWatermarks: hws}); err != nil {
		for _, l := range d.mu.logs {
			_ = l.Close()
		}
		return nil, err
	}
	if clean {
		if err := cfg.FS.Remove(marker); err != nil {
			d.closeAll()
			return nil, fmt.Errorf("remove clean shutdown marker: %w", err)
		}
		if err := syncDir(cfg.FS, cfg.Dir); err != nil {
			d.closeAll()
			return nil, err
		}
	}
	return d, nil
}

func (d *LogDir) closeAll() {
	for _, l := range d.mu.logs {
		_ = l.Close()
	}
}

// checkpoints are the offset checkpoint files read at open.
type checkpoints struct {
	recoveryPoints, logStartOffsets, firstDirty, highWatermarks map[TopicPartition]int64
}

// offset returns m[tp], or -1 when tp has no entry.
func offset(m map[TopicPartition]int64, tp TopicPartition) int64 {
	if v, ok := m[tp]; ok {
		return v
	}
	return -1
}

// openLogs opens the logs with RecoveryThreads workers, which all exit
// before it returns.
func (d *LogDir) openLogs(tps []TopicPartition, clean bool, cps checkpoints) error {
	jobs := make(chan TopicPartition)
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for range min(d.cfg.RecoveryThreads, max(len(tps), 1)) {
		wg.Go(func() {
			for tp := range jobs {
				l, err := openLog(logOptions{
					tp: tp, dir: filepath.Join(d.cfg.Dir, tp.String()), config: DefaultLogConfig(), clean: clean,
					recoveryPoint: offset(cps.recoveryPoints, tp), logStartOffset: offset(cps.logStartOffsets, tp),
					firstDirty: offset(cps.firstDirty, tp), highWatermark: offset(cps.highWatermarks, tp),
					fs: d.fs, dedupeBytes: d.cfg.CleanerDedupeBufferBytes, logger: d.logger, now: d.now, deleter: d.deleter, syncer: d.syncer,
				})
				mu.Lock()
				if err != nil {
					errs = append(errs, err)
				} else {
					d.attach(l)
					d.mu.logs[tp] = l
				}
				mu.Unlock()
			}
		})
	}
	for _, tp := range tps {
		jobs <- tp
	}
	close(jobs)
	wg.Wait()
	return errors.Join(errs...)
}

func (d *LogDir) attach(l *Log) {
	l.dirFailed = &d.failErrPtr
	l.onFailure = d.fail
	l.onLogStartAdvanced = func() {
		if err := d.writeCheckpoints(); err != nil {
			d.logger.Warn("checkpoint after log start offset change failed", "err", err)
		}
	}
	l.onCorrupt = func() {
		if d.cfg.OnCorruption != nil {
			d.cfg.OnCorruption(l)
		}
	}
	l.onCleaned = func() {
		if err := d.writeCheckpoints(); err != nil {
			d.logger.Warn("checkpoint after compaction failed", "err", err)
		}
	}
}

// parsePartitionDir parses "<topic>-<partition>".
func parsePartitionDir(name string) (TopicPartition, bool) {
	i := strings.LastIndexByte(name, '-')
	if i <= 0 {
		return TopicPartition{}, false
	}
	p, err := strconv.ParseInt(name[i+1:], 10, 32)
	if err != nil || p < 0 || strconv.FormatInt(p, 10) != name[i+1:] || !validTopicName(name[:i]) {
		return TopicPartition{}, false
	}
	return TopicPartition{Topic: name[:i], Partition: int32(p)}, true
}

// fail takes the directory offline after a write, fsync or checkpoint in
// it failed: every log in it refuses reads and writes from then on (Kafka
// takes the whole directory offline, not only the failed log).
// NB: it may run under d.mu (a log closed by DeleteLog failed its fsync):
// it takes no lock.
func (d *LogDir) fail(err error) {
	d.failOnce.Do(func() {
		if !errors.Is(err, ErrStorageFailed) {
			err = fmt.Errorf("%w: %w", ErrStorageFailed, err)
		}
		d.failErr = err
		d.failErrPtr.Store(&err)
		close(d.failed)
		d.logger.Error("log dir offline", "err", err)
	})
}

// Fail takes the directory offline (see fail), for a failure the broker
// found: a corrupt batch in a log this broker leads, which an in-sync
// replica elsewhere holds intact.
func (d *LogDir) Fail(err error) {
	d.fail(fmt.Errorf("%w: %w", ErrStorageFailed, err))
}

// FutureLogs returns the future logs of moves into the directory.
func (d *LogDir) FutureLogs() []*Log {
	d.mu.Lock()
	logs := make([]*Log, 0, len(d.mu.futures))
	for _, l := range d.mu.futures {
		logs = append(logs, l)
	}
	d.mu.Unlock()
	slices.SortFunc(logs, func(a, b *Log) int { return compareTopicPartition(a.tp, b.tp) })
	return logs
}

// Failed is closed when the directory goes offline.
func (d *LogDir) Failed() <-chan struct{} { return d.failed }

// ID is the directory id from its meta.properties (KIP-858).
func (d *LogDir) ID() DirID { return d.id }

// Path is the directory's path.
func (d *LogDir) Path() string { return d.cfg.Dir }

// NumLogs is the number of logs in the directory, future logs included
// (what Kafka counts when it places a new partition).
func (d *LogDir) NumLogs() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.mu.logs) + len(d.mu.futures)
}

// offlineLogDir stands for a directory that could not be opened: it holds
// no logs and is offline from the start. Its id is read from its
// meta.properties when that is still readable.
func offlineLogDir(cfg Config, err error) *LogDir {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.FS == nil {
		cfg.FS = vfs.Default
	}
	d := &LogDir{cfg: cfg, fs: cfg.FS, logger: cfg.Logger.With("component", "storage", "dir", cfg.Dir), now: time.Now,
		deleter: newFileDeleter(cfg.FS), syncer: newGroupSyncer(cfg), failed: make(chan struct{})}
	d.mu.logs = make(map[TopicPartition]*Log)
	d.mu.futures = make(map[TopicPartition]*Log)
	d.mu.promoted = make(map[TopicPartition]bool)
	d.mu.closed = true
	if b, rerr := vfs.ReadFile(cfg.FS, filepath.Join(cfg.Dir, metaPropertiesFile)); rerr == nil {
		if id, perr := ParseDirID(parseProperties(b)["directory.id"]); perr == nil {
			d.id = id
		}
	}
	d.fail(fmt.Errorf("%w: open log dir %s: %w", ErrStorageFailed, cfg.Dir, err))
	return d
}

func fileExists(fsys vfs.FS, path string) bool {
	_, err := fsys.Stat(path)
	return err == nil
}

// Marker files in a partition directory of an AlterReplicaLogDirs move:
// futureMarkerFile while the copy is being filled (removed with the copy at
// the next open), renamed to promotedMarkerFile when the copy becomes the
// current log (the source log is then stale and removed; the marker is
// removed after it).
const (
	futureMarkerFile   = "strata.future"
	promotedMarkerFile = "strata.promoted"
)

// openEmptyLog creates tp's directory afresh, with marker (if not empty)
// written first, so that a crash from there on leaves a directory the next
// open recognises, then the partition metadata, and opens the empty log.
// what prefixes errors. The caller holds d.mu.
func (d *LogDir) openEmptyLog(tp TopicPartition, topicID [16]byte, cfg LogConfig, what, marker string) (*Log, error) {
	dir := filepath.Join(d.cfg.Dir, tp.String())
	if err := d.fs.RemoveAll(dir); err != nil {
		return nil, fmt.Errorf("%s %s: %w", what, tp, err)
	}
	if err := d.fs.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("%s %s: %w", what, tp, err)
	}
	if marker != "" {
		if err := writeFileAtomic(d.fs, filepath.Join(dir, marker), nil); err != nil {
			return nil, fmt.Errorf("%s %s: %w", what, tp, err)
		}
	}
	if err := writeFileAtomic(d.fs, filepath.Join(dir, partitionMetadataFile), encodePartitionMetadata(topicID)); err != nil {
		return nil, fmt.Errorf("%s %s: %w", what, tp, err)
	}
	l, err := openLog(logOptions{
		tp: tp, dir: dir, config: cfg, clean: true, recoveryPoint: -1, logStartOffset: -1, firstDirty: -1, highWatermark: -1,
		fs: d.fs, dedupeBytes: d.cfg.CleanerDedupeBufferBytes, logger: d.logger, now: d.now, deleter: d.deleter, syncer: d.syncer,
	})
	if err != nil {
		return nil, err
	}
	if err := syncDir(d.fs, d.cfg.Dir); err != nil {
		_ = l.Close()
		return nil, fmt.Errorf("%s %s: %w", what, tp, err)
	}
	return l, nil
}

// createFutureLog creates an empty future log for tp in this directory,
// starting at startOffset: the copy a move into this directory fills.
func (d *LogDir) createFutureLog(tp TopicPartition, topicID [16]byte, cfg LogConfig, startOffset int64) (*Log, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("create future log %s: %w", tp, err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.mu.closed {
		return nil, ErrLogClosed
	}
	if err := d.Err(); err != nil {
		return nil, err
	}
	if _, ok := d.mu.logs[tp]; ok {
		return nil, fmt.Errorf("create future log %s: the partition is already in %s", tp, d.cfg.Dir)
	}
	if _, ok := d.mu.futures[tp]; ok {
		return nil, fmt.Errorf("create future log %s: a move into %s is under way", tp, d.cfg.Dir)
	}
	l, err := d.openEmptyLog(tp, topicID, cfg, "create future log", futureMarkerFile)
	if err != nil {
		return nil, err
	}
	if startOffset > 0 {
		if err := l.TruncateFullyAndStartAt(startOffset); err != nil {
			_ = l.Close()
			return nil, fmt.Errorf("create future log %s: %w", tp, err)
		}
	}
	d.attach(l)
	d.mu.futures[tp] = l
	return l, nil
}

// dropFutureLog deletes the future log of tp (an abandoned move).
func (d *LogDir) dropFutureLog(l *Log) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.mu.futures[l.tp] != l {
		return nil
	}
	delete(d.mu.futures, l.tp)
	return d.retireLog(l)
}

// promoteFuture makes the future log l a current log of this directory:
// its marker becomes the promoted marker (the commit point of the move;
// see LogDirs.Open for what a crash after it leaves).
func (d *LogDir) promoteFuture(l *Log) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.mu.futures[l.tp] != l {
		return fmt.Errorf("promote future log %s: not a future log of %s", l.tp, d.cfg.Dir)
	}
	if err := d.fs.Rename(filepath.Join(l.dir, futureMarkerFile), filepath.Join(l.dir, promotedMarkerFile)); err != nil {
		return fmt.Errorf("promote future log %s: %w", l.tp, err)
	}
	if err := syncDir(d.fs, l.dir); err != nil {
		return fmt.Errorf("promote future log %s: %w", l.tp, err)
	}
	delete(d.mu.futures, l.tp)
	d.mu.logs[l.tp] = l
	d.mu.promoted[l.tp] = true
	return nil
}

// clearPromoted removes tp's promoted marker once its source log is gone.
func (d *LogDir) clearPromoted(tp TopicPartition) error {
	d.mu.Lock()
	l, ok := d.mu.logs[tp]
	promoted := d.mu.promoted[tp]
	delete(d.mu.promoted, tp)
	d.mu.Unlock()
	if !ok || !promoted {
		return nil
	}
	if err := d.fs.Remove(filepath.Join(l.dir, promotedMarkerFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("clear promoted marker of %s: %w", tp, err)
	}
	return syncDir(d.fs, l.dir)
}

// isPromoted reports whether tp carries the promoted marker.
func (d *LogDir) isPromoted(tp TopicPartition) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.mu.promoted[tp]
}

// Err returns the failure that took the directory offline, or nil.
func (d *LogDir) Err() error {
	select {
	case <-d.failed:
		return d.failErr
	default:
		return nil
	}
}

// Log returns the log of tp.
func (d *LogDir) Log(tp TopicPartition) (*Log, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	l, ok := d.mu.logs[tp]
	return l, ok
}

// Logs returns every log, sorted by topic and partition.
func (d *LogDir) Logs() []*Log {
	d.mu.Lock()
	logs := make([]*Log, 0, len(d.mu.logs))
	for _, l := range d.mu.logs {
		logs = append(logs, l)
	}
	d.mu.Unlock()
	slices.SortFunc(logs, func(a, b *Log) int { return compareTopicPartition(a.tp, b.tp) })
	return logs
}

// CreateLog returns the log of tp, creating it empty if it does not exist.
// An existing log with the same topic ID is returned with cfg applied; one
// with no recorded topic ID adopts topicID; one with a different topic ID
// belongs to a deleted incarnation of the topic and is deleted first.
func (d *LogDir) CreateLog(tp TopicPartition, topicID [16]byte, cfg LogConfig) (*Log, error) {
	if !validTopicName(tp.Topic) || tp.Partition < 0 {
		return nil, fmt.Errorf("create log: invalid partition %q %d", tp.Topic, tp.Partition)
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("create log %s: %w", tp, err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.mu.closed {
		return nil, ErrLogClosed
	}
	if err := d.Err(); err != nil {
		return nil, err
	}
	if l, ok := d.mu.logs[tp]; ok {
		switch id := l.TopicID(); id {
		case topicID:
			l.SetConfig(cfg)
			return l, nil
		case [16]byte{}:
			if err := writeFileAtomic(d.fs, filepath.Join(l.dir, partitionMetadataFile), encodePartitionMetadata(topicID)); err != nil {
				return nil, fmt.Errorf("create log %s: %w", tp, err)
			}
			l.mu.Lock()
			l.mu.topicID = topicID
			l.mu.Unlock()
			l.SetConfig(cfg)
			return l, nil
		default:
			d.logger.Info("deleting stale log of an older topic incarnation", "topic", tp.Topic, "partition", tp.Partition)
			delete(d.mu.logs, tp)
			if err := d.retireLog(l); err != nil {
				return nil, fmt.Errorf("create log %s: %w", tp, err)
			}
		}
	}
	l, err := d.openEmptyLog(tp, topicID, cfg, "create log", "")
	if err != nil {
		return nil, err
	}
	d.attach(l)
	d.mu.logs[tp] = l
	return l, nil
}

// DeleteLog detaches the log of tp, closes it, renames its directory to
// "<topic>-<partition>.<hex>-delete" and removes it in the background (a
// leftover is removed at the next open). Deleting a missing log does nothing.
func (d *LogDir) DeleteLog(tp TopicPartition) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	l, ok := d.mu.logs[tp]
	if !ok {
		return nil
	}
	delete(d.mu.logs, tp)
	if err := d.retireLog(l); err != nil {
		return fmt.Errorf("delete log %s: %w", tp, err)
	}
	return nil
}

// retireLog closes l and renames its directory for background removal.
func (d *LogDir) retireLog(l *Log) error {
	if err := l.close(false); err != nil {
		d.logger.Warn("closing deleted log", "topic", l.tp.Topic, "partition", l.tp.Partition, "err", err)
	}
	var suffix [16]byte
	_, _ = rand.Read(suffix[:])
	target := filepath.Join(d.cfg.Dir, fmt.Sprintf("%s.%s-delete", l.tp, hex.EncodeToString(suffix[:])))
	if err := d.fs.Rename(l.dir, target); err != nil {
		return fmt.Errorf("rename %s: %w", l.dir, err)
	}
	if err := syncDir(d.fs, d.cfg.Dir); err != nil {
		return err
	}
	d.deleter.schedule(d.now(), nil, []string{target})
	return nil
}

// writeCheckpoints writes the recovery-point, log-start-offset and
// cleaner-offset checkpoint files for every log (the last only for logs a
// compaction pass has cleaned).
func (d *LogDir) writeCheckpoints() error {
	d.checkpointMu.Lock()
	defer d.checkpointMu.Unlock()
	logs := d.Logs()
	rps := make(map[TopicPartition]int64, len(logs))
	lsos := make(map[TopicPartition]int64, len(logs))
	dirty := make(map[TopicPartition]int64)
	hws := make(map[TopicPartition]int64, len(logs))
	for _, l := range logs {
		rps[l.tp] = l.RecoveryPoint()
		lsos[l.tp] = l.LogStartOffset()
		if fd := l.firstDirty.Load(); fd >= 0 {
			dirty[l.tp] = fd
		}
		if hw := l.highWatermark.Load(); hw != math.MaxInt64 {
			hws[l.tp] = hw
		}
	}
	return errors.Join(
		writeFileAtomic(d.fs, filepath.Join(d.cfg.Dir, recoveryPointFile), encodeOffsetCheckpoint(rps)),
		writeFileAtomic(d.fs, filepath.Join(d.cfg.Dir, logStartOffsetFile), encodeOffsetCheckpoint(lsos)),
		writeFileAtomic(d.fs, filepath.Join(d.cfg.Dir, cleanerCheckpointFile), encodeOffsetCheckpoint(dirty)),
		writeFileAtomic(d.fs, filepath.Join(d.cfg.Dir, highWatermarkFile), encodeOffsetCheckpoint(hws)),
	)
}

// Close closes every log (fsync, indexes, producer snapshots; FsyncThreads
// at a time), waits for the group syncer's workers to exit, removes
// files awaiting deletion, writes the checkpoints and, if all of that
// succeeded and no log failed, the clean-shutdown marker. Stop Run first.
func (d *LogDir) Close() error {
	d.mu.Lock()
	if d.mu.closed {
		d.mu.Unlock()
		return nil
	}
	d.mu.closed = true
	futures := make([]*Log, 0, len(d.mu.futures))
	for _, l := range d.mu.futures {
		futures = append(futures, l)
	}
	d.mu.Unlock()
	errs := d.closeLogs(append(d.Logs(), futures...))
	d.syncer.close()
	errs = append(errs, d.deleter.runDue(time.Time{}, true))
	errs = append(errs, d.writeCheckpoints())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close log dir %s: %w", d.cfg.Dir, err)
	}
	if err := d.Err(); err != nil {
		return fmt.Errorf("close log dir %s: %w", d.cfg.Dir, err)
	}
	if err := writeFileAtomic(d.fs, filepath.Join(d.cfg.Dir, cleanShutdownFile), nil); err != nil {
		return fmt.Errorf("close log dir %s: %w", d.cfg.Dir, err)
	}
	return nil
}

// closeLogs closes logs with FsyncThreads workers (closing is mostly
// fsyncs, which run faster side by side), which all exit before it returns.
func (d *LogDir) closeLogs(logs []*Log) []error {
	errs := make([]error, len(logs))
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range min(d.cfg.FsyncThreads, len(logs)) {
		wg.Go(func() {
			for i := range jobs {
				errs[i] = logs[i].Close()
			}
		})
	}
	for i := range logs {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	return errs
}

// Run runs the directory's background work until ctx is done or a log
// fails, then returns after its goroutines exit:
//
//   - retentionLoop: EnforceRetention and producer expiry for every log
//     every RetentionCheckInterval;
//   - flushLoop (FsyncInterval policy only): fsyncs dirty logs every
//     FsyncInterval;
//   - checkpointLoop: recovery-point and log-start-offset checkpoints every
//     CheckpointInterval;
//   - deleteLoop: removes retired segment files once FileDeleteDelay passed;
//   - cleanerLoop (CleanerEnabled only): compaction passes over the logs
//     with cleanup.policy compact, filthiest first (see cleaner.go);
//   - scrubLoop (ScrubRate > 0): checks the CRCs of segments not verified
//     yet, then of all segments every ScrubInterval (see scrub.go).
//
// It returns nil when ctx ends and the failure when a log failed.
func (d *LogDir) Run(ctx context.Context) error {
	if err := d.Err(); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	wg.Go(func() { d.tickLoop(ctx, d.cfg.RetentionCheckInterval, d.enforceRetention) })
	if d.cfg.Fsync == FsyncInterval {
		wg.Go(func() { d.tickLoop(ctx, d.cfg.FsyncInterval, d.flushDirty) })
	}
	wg.Go(func() {
		d.tickLoop(ctx, d.cfg.CheckpointInterval, func() {
			if err := d.writeCheckpoints(); err != nil {
				// As in Kafka, a directory whose checkpoints cannot be
				// written is offline.
				d.fail(fmt.Errorf("%w: %w", ErrStorageFailed, err))
			}
		})
	})
	wg.Go(func() { d.deleteLoop(ctx) })
	if d.cfg.CleanerEnabled {
		wg.Go(func() { d.cleanerLoop(ctx) })
	}
	if d.cfg.ScrubRate > 0 {
		wg.Go(func() { d.scrubLoop(ctx) })
	}
	var err error
	select {
	case <-ctx.Done():
	case <-d.failed:
		err = d.failErr
	}
	cancel()
	wg.Wait()
	return err
}

// tickLoop calls fn every interval until ctx is done.
func (d *LogDir) tickLoop(ctx context.Context, interval time.Duration, fn func()) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			fn()
		}
	}
}

func (d *LogDir) enforceRetention() {
	now := d.now()
	for _, l := range d.Logs() {
		n, err := l.EnforceRetention(now)
		switch {
		case errors.Is(err, ErrLogClosed), errors.Is(err, ErrStorageFailed):
			// Closed meanwhile, or failed (already reported by fail).
		case err != nil:
			d.logger.Warn("retention", "topic", l.tp.Topic, "partition", l.tp.Partition, "err", err)
		case n > 0:
			d.logger.Debug("retention deleted segments", "topic", l.tp.Topic, "partition", l.tp.Partition, "segments", n)
		}
		l.removeExpiredProducers(now)
	}
}

// flushDirty fsyncs every dirty log through the group syncer (in parallel)
// and waits for them all.
func (d *LogDir) flushDirty() {
	type pending struct {
		l    *Log
		done <-chan error
	}
	var all []pending
	for _, l := range d.Logs() {
		if l.dirty() {
			all = append(all, pending{l, l.SyncAsync(l.LogEndOffset())})
		}
	}
	for _, p := range all {
		err := <-p.done
		// Closed or truncated meanwhile, or failed (already reported by fail).
		if err != nil && !errors.Is(err, ErrLogClosed) && !errors.Is(err, ErrStorageFailed) && !errors.Is(err, ErrOffsetOutOfRange) {
			d.logger.Warn("interval fsync", "topic", p.l.tp.Topic, "partition", p.l.tp.Partition, "err", err)
		}
	}
}

// deleteLoop removes retired files when they fall due.
func (d *LogDir) deleteLoop(ctx context.Context) {
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		if err := d.deleter.runDue(d.now(), false); err != nil {
			d.logger.Warn("removing deleted files", "err", err)
		}
		wait := time.Hour
		if at, ok := d.deleter.next(); ok {
			wait = max(at.Sub(d.now()), time.Millisecond)
		}
		t.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-d.deleter.wake:
		}
	}
}
