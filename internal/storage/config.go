package storage

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"time"

	"github.com/strata-io/strata/internal/storage/vfs"
)

// FsyncPolicy says when appended data is forced to disk.
type FsyncPolicy int

const (
	// FsyncNever fsyncs only when a segment rolls and when a log closes;
	// durability comes from replication (Kafka's default).
	FsyncNever FsyncPolicy = iota
	// FsyncInterval fsyncs dirty logs every Config.FsyncInterval from LogDir.Run.
	FsyncInterval
	// FsyncAlways: the broker calls Log.Sync (or Log.SyncAsync) before
	// acknowledging a produce; the fsyncs of all partitions go through the
	// directory's group commit (see Config.FsyncThreads).
	FsyncAlways
)

// ParseFsyncPolicy parses "never", "interval" or "always".
func ParseFsyncPolicy(s string) (FsyncPolicy, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "never":
		return FsyncNever, nil
	case "interval":
		return FsyncInterval, nil
	case "always":
		return FsyncAlways, nil
	}
	return 0, fmt.Errorf("unknown fsync policy %q (want never, interval or always)", s)
}

func (p FsyncPolicy) String() string {
	switch p {
	case FsyncNever:
		return "never"
	case FsyncInterval:
		return "interval"
	case FsyncAlways:
		return "always"
	}
	return fmt.Sprintf("FsyncPolicy(%d)", int(p))
}

// LogConfig is the per-partition configuration, derived by the caller from
// topic configs. It may change at run time through Log.SetConfig.
type LogConfig struct {
	SegmentBytes         int64         // roll when the next append would exceed it (segment.bytes)
	SegmentMs            time.Duration // roll by age since the segment's first append (segment.ms); <=0 never
	IndexIntervalBytes   int           // bytes between offset index entries (index.interval.bytes)
	SegmentIndexBytes    int           // roll when the offset index would exceed it (segment.index.bytes); 0 = 10 MiB
	RetentionMs          time.Duration // <0 unlimited (retention.ms)
	RetentionBytes       int64         // <0 unlimited (retention.bytes)
	LogAppendTime        bool          // message.timestamp.type=LogAppendTime
	FileDeleteDelay      time.Duration // delay before removing deleted segment files (file.delete.delay.ms)
	ProducerIDExpiration time.Duration // producer.id.expiration.ms

	// cleanup.policy: "delete" sets Delete, "compact" sets Compact,
	// "compact,delete" both. RetentionMs and RetentionBytes apply only
	// with Delete; the log cleaner (see Log.Compact) only with Compact.
	Delete  bool
	Compact bool
	// DeleteRetention is how long a tombstone (a record with a null value)
	// stays in a compacted log after the pass that first cleaned its
	// segment (delete.retention.ms).
	DeleteRetention time.Duration
	// MinCompactionLag and MaxCompactionLag bound how long a record stays
	// uncompacted (min/max.compaction.lag.ms, KIP-354): a segment whose
	// largest timestamp is younger than MinCompactionLag is not cleaned;
	// a log whose oldest dirty batch is older than MaxCompactionLag is
	// cleaned whatever its dirty ratio. MaxCompactionLag 0 means no maximum.
	MinCompactionLag time.Duration
	MaxCompactionLag time.Duration
	// MinCleanableDirtyRatio: the cleaner loop picks a log only when its
	// dirty bytes are at least this fraction of its cleanable bytes
	// (min.cleanable.dirty.ratio).
	MinCleanableDirtyRatio float64
}

// DefaultLogConfig returns Kafka's topic defaults.
func DefaultLogConfig() LogConfig {
	return LogConfig{
		SegmentBytes:         1 << 30,
		SegmentMs:            7 * 24 * time.Hour,
		IndexIntervalBytes:   4096,
		SegmentIndexBytes:    10 << 20,
		RetentionMs:          7 * 24 * time.Hour,
		RetentionBytes:       -1,
		FileDeleteDelay:      time.Minute,
		ProducerIDExpiration: 24 * time.Hour,

		Delete:                 true,
		DeleteRetention:        24 * time.Hour,
		MaxCompactionLag:       math.MaxInt64,
		MinCleanableDirtyRatio: 0.5,
	}
}

// Validate reports every invalid field.
func (c LogConfig) Validate() error {
	var errs []error
	if c.SegmentBytes < 14 || c.SegmentBytes > math.MaxInt32 {
		errs = append(errs, fmt.Errorf("segment bytes %d not in [14, %d]", c.SegmentBytes, math.MaxInt32))
	}
	if c.IndexIntervalBytes < 0 {
		errs = append(errs, fmt.Errorf("index interval bytes %d is negative", c.IndexIntervalBytes))
	}
	if c.SegmentIndexBytes < 0 || (c.SegmentIndexBytes > 0 && c.SegmentIndexBytes < offsetEntrySize) {
		errs = append(errs, fmt.Errorf("segment index bytes %d below one entry", c.SegmentIndexBytes))
	}
	if c.FileDeleteDelay < 0 {
		errs = append(errs, fmt.Errorf("file delete delay %v is negative", c.FileDeleteDelay))
	}
	if c.ProducerIDExpiration <= 0 {
		errs = append(errs, fmt.Errorf("producer id expiration %v must be positive", c.ProducerIDExpiration))
	}
	if c.DeleteRetention < 0 {
		errs = append(errs, fmt.Errorf("delete retention %v is negative", c.DeleteRetention))
	}
	if c.MinCompactionLag < 0 {
		errs = append(errs, fmt.Errorf("min compaction lag %v is negative", c.MinCompactionLag))
	}
	if c.MaxCompactionLag < 0 || (c.MaxCompactionLag > 0 && c.MaxCompactionLag < c.MinCompactionLag) {
		errs = append(errs, fmt.Errorf("max compaction lag %v must be 0 (none) or at least the min compaction lag %v", c.MaxCompactionLag, c.MinCompactionLag))
	}
	if !(c.MinCleanableDirtyRatio >= 0 && c.MinCleanableDirtyRatio <= 1) {
		errs = append(errs, fmt.Errorf("min cleanable dirty ratio %v not in [0, 1]", c.MinCleanableDirtyRatio))
	}
	return errors.Join(errs...)
}

// segmentBytes clamps SegmentBytes so 32-bit index positions always fit.
func (c LogConfig) segmentBytes() int64 {
	if c.SegmentBytes <= 0 || c.SegmentBytes > math.MaxInt32 {
		return math.MaxInt32
	}
	return c.SegmentBytes
}

// maxIndexEntries is how many offset index entries a segment may hold.
func (c LogConfig) maxIndexEntries() int {
	if c.SegmentIndexBytes <= 0 {
		return (10 << 20) / offsetEntrySize
	}
	return c.SegmentIndexBytes / offsetEntrySize
}

// Config configures one log directory.
type Config struct {
	Dir string
	// NodeID is written to the directory's meta.properties, and a file
	// naming another node is refused; < 0 (DefaultConfig) skips both.
	NodeID                 int32
	Fsync                  FsyncPolicy
	FsyncInterval          time.Duration // for FsyncInterval
	RetentionCheckInterval time.Duration // log.retention.check.interval.ms
	CheckpointInterval     time.Duration // recovery point and log start offset checkpoints
	RecoveryThreads        int           // logs opened in parallel by OpenLogDir
	Logger                 *slog.Logger  // nil discards
	// FS is the file system every file of the directory is read and
	// written through; nil = vfs.Default (the operating system's). Tests
	// inject faults (errorfs) or simulate power loss (lazyfs) with it.
	FS  vfs.FS
	Now func() time.Time // wall clock (rolls, retention, expiry); nil = clock.Now

	// FsyncThreads bounds the fsyncs the directory runs at once for
	// Log.Sync and Log.SyncAsync (group commit across partitions), the
	// interval flush, and the logs LogDir.Close closes at once; 0 = 16.
	// Parallel fsyncs of different files share journal commits, so more
	// threads raise throughput until the device saturates.
	FsyncThreads int
	// GroupCommitDelay is how long a log waiting for an fsync waits, from
	// when it is queued, before its fsync starts, so that later appends
	// share it. 0 (the default) starts it as soon as a thread is free;
	// appends that arrive while a log's fsync runs share the next one.
	GroupCommitDelay time.Duration
	// GroupCommitBytes ends the GroupCommitDelay wait of every queued log
	// once one of them holds this many bytes not yet fsynced; 0 = no limit.
	GroupCommitBytes int64
	// Metrics records fsync times and group-commit sizes; nil records
	// nothing. Directories of one broker share it.
	Metrics *Metrics

	// CleanerEnabled runs the log cleaner loop in Run (log.cleaner.enable).
	// NB: the zero Config leaves it off; DefaultConfig turns it on.
	CleanerEnabled bool
	// CleanerInterval is the pause between cleaner rounds when no log
	// needs cleaning (log.cleaner.backoff.ms); 0 = 15s.
	CleanerInterval time.Duration
	// CleanerDedupeBufferBytes bounds the memory of the key → offset map
	// one compaction pass builds (log.cleaner.dedupe.buffer.size); 0 =
	// 32 MiB. A key is accounted as its length plus a fixed 64 bytes (its
	// map slot, string header and allocation rounding, with room for the
	// map's growth). When the map is full the pass cleans up to the last
	// mapped offset and the next pass continues from there.
	CleanerDedupeBufferBytes int64

	// ScrubRate is how many bytes a second the scrubber reads to check the
	// CRCs of segments written before the directory was opened, then of
	// all segments every ScrubInterval (see scrub.go); 0 = no scrubber.
	// NB: the zero Config leaves it off; DefaultConfig turns it on.
	ScrubRate int64
	// ScrubInterval is the pause between full scrubs; 0 = 24h.
	ScrubInterval time.Duration
	// OnCorruption, if set, is called when a corrupt batch is found in a
	// log, and whenever a read meets one, on the goroutine that found it
	// (a reader or the scrubber); it must not block. The broker repairs a
	// follower (Log.CorruptOffset, TruncateTo) and fails the directory of
	// a leader (LogDir.Fail).
	OnCorruption func(*Log)
}

// defaultFsyncThreads is Config.FsyncThreads when it is 0.
const defaultFsyncThreads = 16

// DefaultConfig returns Kafka-like defaults for dir.
func DefaultConfig(dir string) Config {
	return Config{
		Dir:                    dir,
		NodeID:                 -1,
		Fsync:                  FsyncNever,
		FsyncInterval:          time.Second,
		RetentionCheckInterval: 5 * time.Minute,
		CheckpointInterval:     time.Minute,
		RecoveryThreads:        1,
		FsyncThreads:           defaultFsyncThreads,

		CleanerEnabled:           true,
		CleanerInterval:          15 * time.Second,
		CleanerDedupeBufferBytes: 32 << 20,

		ScrubRate:     16 << 20,
		ScrubInterval: 24 * time.Hour,
	}
}

// Validate reports every invalid field.
func (c Config) Validate() error {
	var errs []error
	if c.Dir == "" {
		errs = append(errs, errors.New("log dir is empty"))
	}
	if c.Fsync < FsyncNever || c.Fsync > FsyncAlways {
		errs = append(errs, fmt.Errorf("unknown fsync policy %d", int(c.Fsync)))
	}
	if c.Fsync == FsyncInterval && c.FsyncInterval <= 0 {
		errs = append(errs, fmt.Errorf("fsync interval %v must be positive", c.FsyncInterval))
	}
	if c.RetentionCheckInterval <= 0 {
		errs = append(errs, fmt.Errorf("retention check interval %v must be positive", c.RetentionCheckInterval))
	}
	if c.CheckpointInterval <= 0 {
		errs = append(errs, fmt.Errorf("checkpoint interval %v must be positive", c.CheckpointInterval))
	}
	if c.RecoveryThreads < 0 {
		errs = append(errs, fmt.Errorf("recovery threads %d is negative", c.RecoveryThreads))
	}
	if c.FsyncThreads < 0 {
		errs = append(errs, fmt.Errorf("fsync threads %d is negative", c.FsyncThreads))
	}
	if c.GroupCommitDelay < 0 {
		errs = append(errs, fmt.Errorf("group commit delay %v is negative", c.GroupCommitDelay))
	}
	if c.GroupCommitBytes < 0 {
		errs = append(errs, fmt.Errorf("group commit bytes %d is negative", c.GroupCommitBytes))
	}
	if c.CleanerInterval <= 0 {
		errs = append(errs, fmt.Errorf("cleaner interval %v must be positive", c.CleanerInterval))
	}
	if c.ScrubRate < 0 {
		errs = append(errs, fmt.Errorf("scrub rate %d is negative", c.ScrubRate))
	}
	if c.ScrubInterval <= 0 {
		errs = append(errs, fmt.Errorf("scrub interval %v must be positive", c.ScrubInterval))
	}
	if c.CleanerDedupeBufferBytes <= 0 {
		errs = append(errs, fmt.Errorf("cleaner dedupe buffer bytes %d must be positive", c.CleanerDedupeBufferBytes))
	}
	return errors.Join(errs...)
}

// TopicPartition names a partition.
type TopicPartition struct {
	Topic     string
	Partition int32
}

func (tp TopicPartition) String() string { return fmt.Sprintf("%s-%d", tp.Topic, tp.Partition) }
