// Package storage owns the durable partition log: segment files of Kafka
// record batches (v2, stored exactly as produced once the broker set its own
// header fields), sparse offset and time indexes, producer state for
// idempotent and transactional producers (ongoing transactions, the first
// unstable offset, and each segment's aborted-transaction index), the
// leader-epoch cache, the log start offset,
// segment roll, retention, compaction (cleanup.policy=compact, see
// log_compact.go), fsync policy and crash recovery.
//
// It leaves to others: replication state, the high watermark and ISR
// (internal/partition, which tells a Log its high watermark), record
// validation beyond framing (the produce path), Kafka error codes
// (internal/kafkaapi), the transaction coordinator (internal/txn, which
// has markers written with Log.AppendControlAsLeader), and filtering
// aborted records out of read_committed fetches (the fetch path, with
// Log.LastStableOffset and Log.AbortedTransactions). Compaction cleans
// below the first unstable offset only, removes aborted transactions'
// records, deduplicates committed ones with plain ones, and removes a
// marker once its transaction has no data left and delete.retention.ms
// passed (see log_compact.go).
//
// # Types
//
// A LogDir is one log directory; it opens, creates and deletes the Log of
// each partition. A Log is an ordered list of segments; the last is the
// active segment, which alone is appended to. Readers get Chunks: sections
// of segment files, so the fetch path may sendfile them, or, for sections
// whose CRCs were not verified yet, their checked bytes (see scrub.go).
//
// Every file goes through Config.FS (package vfs; the operating system's
// by default): tests inject I/O errors (vfs/errorfs) and power loss
// (vfs/lazyfs) there. An I/O error fails the log and takes its directory
// offline (ErrStorageFailed); a corrupt batch is recorded and never
// served (ErrCorruptLog). See docs/design/storage-faults.md.
//
// # Goroutines
//
// OpenLogDir starts none that outlive it (RecoveryThreads workers open logs
// and exit before it returns; LogDir.Close likewise closes logs with
// FsyncThreads workers). LogDir.Run runs six loops until its context
// ends or a log fails, and returns after they exit: retention (every
// RetentionCheckInterval), interval fsync (FsyncInterval policy only),
// checkpoints (every CheckpointInterval), the delayed removal of deleted
// segment files, the log cleaner (CleanerEnabled only: compaction
// passes, one at a time, every CleanerInterval) and the scrubber
// (ScrubRate > 0: CRC checks of segments at a bounded rate). Log methods, Log.Compact
// included, run on their callers' goroutines, except the fsyncs of
// Log.Sync and Log.SyncAsync: up to FsyncThreads workers of the
// directory's group syncer (groupsync.go) run them. A worker starts when
// a log is queued for an fsync and fewer are running, and exits when the
// queue is empty; LogDir.Close waits for them after closing every log.
//
// # Group commit
//
// Sync(offset) and SyncAsync(offset) wait until everything below offset is
// durable (the recovery point reaches it). A log with waiters is queued
// once, however many it has; a worker takes it, reads its log end offset,
// fdatasyncs its active segment (and any sealed segment whose roll fsync
// is still pending: a roll queues the old segment's fsync rather than
// waiting for it) and releases every waiter below that offset. Waiters arriving during the fsync join it when it covers them
// and otherwise wait for the log's next one, so appenders of one partition
// share fsyncs, different partitions fsync in parallel (their journal
// commits merge in the file system), and a produce request spanning many
// partitions waits for about one fsync. GroupCommitDelay holds a queued
// log back so more appends share its fsync; GroupCommitBytes ends that
// wait early. A failed fsync fails every waiter it covered and the log
// (ErrStorageFailed); a truncation during an fsync makes its waiters try
// again against what is left. fdatasync rather than fsync: appends change
// a segment's size, which fdatasync makes durable; it skips the
// modification time, which a crash can only make older.
//
// # Concurrency
//
// Per log, one writer at a time (Log.appendMu: appends, roll, truncation,
// retention, close) and any number of readers. A write goes to the page
// cache with one write(2); only afterwards are the log end offset and the
// segment size published under Log.mu, so readers only ever see whole
// batches. Sync never holds appendMu: appends go on during an fsync.
// Segments leaving the log are renamed *.deleted and their
// open files are closed only after FileDeleteDelay, so a Chunk stays
// readable meanwhile. A compaction pass (Log.cleanMu, one per log at a
// time) reads sealed segments and writes its output without appendMu, and
// takes appendMu only to check nothing changed and swap the new segment
// in. Lock order: LogDir.mu, Log.cleanMu, Log.appendMu, Log.mu; the epoch
// cache, sync state, the recorded corruption (Log.corrupt), the group
// syncer's queue and segment file handles have leaf locks.
//
// # Memory and file descriptors
//
// An idle open log costs about 1 KiB of heap (its structs, paths and maps;
// see TestTenThousandIdleLogsFitInMemory) and no file descriptor: openLog
// closes every file it used, and files open again on first use. The
// active segment's index entries live in memory (8 + 16 bytes per
// IndexIntervalBytes of data appended to it, about 0.6% of its size) until
// it rolls. A Log starts no goroutine and owns no timer.
//
// # On-disk layout (format version 3, see docs/format/storage.md)
//
//	<dir>/
//	  .kafka_cleanshutdown               empty; written last by LogDir.Close, removed by OpenLogDir
//	  recovery-point-offset-checkpoint   per partition: offset below which data is fsynced
//	  log-start-offset-checkpoint        per partition: log start offset
//	  cleaner-offset-checkpoint          per compacted partition: first dirty offset
//	  <topic>-<partition>/
//	    partition.metadata               topic ID
//	    leader-epoch-checkpoint          leader epochs and their start offsets
//	    %020d.log                        segment: batches back to back, named by base offset
//	    %020d.index                      offset index of the segment
//	    %020d.timeindex                  time index of the segment
//	    %020d.txnindex                   aborted transactions whose marker is in the segment (if any)
//	    %020d.snapshot                   producer state below that offset
//	    %020d.{log,index,timeindex,txnindex}.cleaned  compaction output, swap not decided
//	    %020d.{log,index,timeindex,txnindex}.swap     compaction output, swap decided (.log.swap)
//	  <topic>-<partition>.<hex>-delete/  a deleted partition awaiting removal
//
// Checkpoint files use Kafka's text format and are replaced atomically
// (write .tmp, fsync, rename, fsync the directory):
//
//	0                       version
//	2                       entry count
//	events 0 1234           topic partition offset   (leader-epoch-checkpoint: "epoch startOffset")
//	events 1 99
//
// partition.metadata is "version: 0\ntopic_id: <base64url, unpadded>\n".
//
// A segment is a sequence of v2 batches (see package record), nothing else:
//
//	+-----------------------------+-----------------------------+---
//	| batch: base offset int64,   | batch ...                   |
//	| length int32, header, records|                            |
//	+-----------------------------+-----------------------------+---
//
// Offsets increase strictly from batch to batch and stay within 2^31-1 of
// the segment's base offset; the file stays below 2 GiB (32-bit positions).
// Compacted segments have offset gaps between and inside batches, and may
// hold batches without records (NumRecords 0, control batches included)
// kept for their header; a
// compacted segment's last batch ends where the next segment begins, and
// its file's modification time is when its records were first cleaned
// (the clock of delete.retention.ms).
//
// Offset index: 8-byte big-endian entries, one for a batch whenever more than
// IndexIntervalBytes were appended since the previous entry (the first batch
// of a segment never has one; lookups fall back to position 0):
//
//	+---------------------------+---------------------------+
//	| relative offset uint32    | position uint32           |
//	| (batch last offset - base)| (batch start in .log)     |
//	+---------------------------+---------------------------+
//
// Time index: 12-byte big-endian entries, written with offset index entries
// when the segment's max timestamp grew, plus a final one at seal:
//
//	+---------------------------+---------------------------+
//	| max timestamp int64 (ms)  | relative offset uint32    |
//	| of the segment so far     | (last offset of the batch |
//	|                           |  holding that timestamp)  |
//	+---------------------------+---------------------------+
//
// Both indexes increase strictly in every field. The active segment keeps
// its index entries in memory and writes the files when it is sealed (roll)
// or closed; sealed segments keep nothing in memory and are searched with
// pread. All files are opened lazily.
//
// Aborted-transaction index (Kafka's .txnindex): 34-byte big-endian
// entries, one per ABORT marker in the segment, in offset order; the file
// exists only when there is one:
//
//	+---------+-------------+--------------+-------------+--------------------+
//	| version | producer id | first offset | last offset | last stable offset |
//	| int16 0 | int64       | int64        | int64 (the  | int64, right after |
//	|         |             |              |  marker's)  | the abort          |
//	+---------+-------------+--------------+-------------+--------------------+
//
// The active segment keeps its entries in memory like its other indexes.
// A transaction marker is a control batch whose one record has key
// version int16 0, type int16 (0 ABORT, 1 COMMIT) and value version int16
// 0, coordinator epoch int32.
//
// Producer snapshot (%020d.snapshot, the state of every batch below the
// offset in its name), big-endian:
//
//	offset  size  field
//	0       2     version (2; version 1 is still read)
//	2       4     CRC-32C (Castagnoli) of bytes 6..end
//	6       8     snapshot offset
//	14      4     producer count
//	18      ...   per producer, ascending producer id:
//	              8 producer id, 2 producer epoch, 8 last timestamp,
//	              8 first offset of the ongoing transaction (-1: none),
//	              4 coordinator epoch of the last marker (-1: none)
//	              (version 1 has neither), 1 batch count (0..5), then per
//	              batch 32 bytes: first seq int32, last seq int32, first
//	              offset int64, last offset int64, max timestamp int64
//
// Snapshots are taken at each roll (at the new segment's base) and at close
// (at the log end offset).
//
// # Recovery
//
// With the clean-shutdown marker, index files and the newest snapshot are
// trusted; the active segment's end is found by reading batch headers from
// its last index entry on, and a log that then stays unchanged (no append,
// roll or truncation) writes nothing when it closes. Without it (a crash), every batch of the segment
// holding the recovery point and of all later segments is validated
// (framing, CRC-32C, increasing offsets); the log is cut at the first
// invalid or torn batch (logged with segment and offset), later segments are
// deleted, their indexes are rebuilt, and the recovered data is fsynced.
// Segments below the recovery point were fsynced before it moved past them
// and are only sanity-checked (index sizes and last entries; an index that
// fails is rebuilt from batch headers). Producer state is the newest valid
// snapshot at or below the log end offset plus the headers of later batches
// (and the markers of control batches), replayed from a snapshot at or
// below the first recovered segment so that the aborted-transaction index
// of every recovered segment is rebuilt from its ABORT markers;
// the leader-epoch cache is the checkpoint, extended by the epochs of
// recovered batches and cut at the log end offset. Before segments are
// listed, an interrupted compaction swap is finished if it was decided (a
// <base>.log.swap exists: the old segments it covers are removed and the
// .swap files renamed) and discarded otherwise (*.cleaned, index .swap
// files). Leftovers (*.deleted, *.tmp, index files without a segment,
// "-delete" directories) are removed.
package storage
