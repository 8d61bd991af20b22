package storage

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/strata-io/strata/internal/record"
)

// batchRef is one batch of an append call.
type batchRef struct {
	pos int // position in the call's bytes
	h   record.Header
}

// splitBatches checks the framing of every batch in b (and the CRC when
// validate is set) and returns their headers. Errors wrap record.ErrCorrupt
// or record.ErrInvalid.
func splitBatches(b []byte, validate bool) ([]batchRef, error) {
	if len(b) == 0 {
		return nil, fmt.Errorf("%w: no record batches", record.ErrInvalid)
	}
	var refs []batchRef
	pos := 0
	for len(b) > 0 {
		batch, rest, err := record.NextBatch(b)
		if err != nil {
			return nil, fmt.Errorf("batch %d: %w", len(refs), err)
		}
		var h record.Header
		if validate {
			h, err = record.ValidateBatch(batch)
		} else {
			h, err = record.ParseHeader(batch)
			if err == nil && h.Magic != 2 {
				err = fmt.Errorf("%w: magic %d", record.ErrCorrupt, h.Magic)
			}
			if err == nil && (h.LastOffsetDelta < 0 || h.NumRecords < 0 || int64(h.NumRecords) > int64(h.LastOffsetDelta)+1) {
				err = fmt.Errorf("%w: last offset delta %d with %d records", record.ErrInvalid, h.LastOffsetDelta, h.NumRecords)
			}
		}
		if err != nil {
			return nil, fmt.Errorf("batch %d: %w", len(refs), err)
		}
		refs = append(refs, batchRef{pos: pos, h: h})
		pos += len(batch)
		b = rest
	}
	return refs, nil
}

// markerOf returns the transaction marker of the control batch r of an
// append call's bytes, nil for any other batch.
func markerOf(batches []byte, r *batchRef, i int) (*txnMarker, error) {
	if !r.h.IsControl() {
		return nil, nil
	}
	m, err := parseTxnMarker(batches[r.pos : r.pos+r.h.Size()])
	if err != nil {
		return nil, fmt.Errorf("batch %d: %w", i, err)
	}
	return m, nil
}

// AppendAsLeader appends one or more complete v2 batches, assigning offsets
// from the log end offset, stamping PartitionLeaderEpoch = leaderEpoch and,
// for LogAppendTime topics, the append time. It modifies batches in place.
// Batches of idempotent producers are checked against the producer state:
// a retried duplicate returns the original offsets with Duplicate set and
// appends nothing; a sequence gap gives ErrOutOfOrderSequence and a stale
// epoch ErrInvalidProducerEpoch. A transactional batch starts its
// producer's transaction if none is ongoing; a control batch (see
// AppendControlAsLeader) ends it. Nothing is appended if any batch fails.
func (l *Log) AppendAsLeader(batches []byte, leaderEpoch int32, now time.Time) (AppendInfo, error) {
	return l.appendAsLeader(batches, leaderEpoch, now, appendOrigin{})
}

// AppendVerifiedAsLeader is AppendAsLeader for a produce whose
// transactional batches went through transaction verification (KIP-890
// part 1): a transactional batch whose producer has no ongoing
// transaction in the batch's epoch may start one only while guard, from
// StartTxnVerification, is still the producer's verification in
// progress; otherwise nothing is appended and the error wraps
// ErrTxnNotVerified. A nil guard (the producer had an ongoing transaction
// when the produce checked) lets only batches continue that transaction.
func (l *Log) AppendVerifiedAsLeader(batches []byte, leaderEpoch int32, now time.Time, guard *VerificationGuard) (AppendInfo, error) {
	return l.appendAsLeader(batches, leaderEpoch, now, appendOrigin{verified: true, guard: guard})
}

// AppendAsCoordinator is AppendAsLeader for the batches a coordinator
// writes to its own internal topic (Kafka's AppendOrigin.COORDINATOR),
// such as the group coordinator's transactional offset commits: they
// carry the producer's id and epoch but no sequence (-1), so duplicate
// detection and sequence checks are skipped. A producer epoch older than
// the log's is still refused (ErrInvalidProducerEpoch), a transactional
// batch still starts its producer's transaction, and control batches are
// checked as AppendControlAsLeader's are (issue 10).
func (l *Log) AppendAsCoordinator(batches []byte, leaderEpoch int32, now time.Time) (AppendInfo, error) {
	return l.appendAsLeader(batches, leaderEpoch, now, appendOrigin{coordinator: true})
}

// appendOrigin is where a leader append comes from: a client's produce
// (verified or not) or a coordinator's own writes.
type appendOrigin struct {
	coordinator bool
	verified    bool
	guard       *VerificationGuard
}

func (l *Log) appendAsLeader(batches []byte, leaderEpoch int32, now time.Time, origin appendOrigin) (AppendInfo, error) {
	l.appendMu.Lock()
	defer l.appendMu.Unlock()
	info := AppendInfo{FirstOffset: -1, LastOffset: -1, LogAppendTime: -1, LogStartOffset: -1}
	if err := l.writableLocked(); err != nil {
		return info, err
	}
	refs, err := splitBatches(batches, false)
	if err != nil {
		return info, err
	}
	cfg := l.Config()
	info.LogStartOffset = l.LogStartOffset()
	if latest := l.epochs.latestEpoch(); leaderEpoch < latest {
		return info, fmt.Errorf("append with leader epoch %d below the log's latest epoch %d", leaderEpoch, latest)
	}

	leo := l.appendLEO
	offset := leo
	appendTime := now.UnixMilli()
	pa := l.producers.begin()
	pa.coordinator = origin.coordinator
	for i := range refs {
		h := &refs[i].h
		if dup, ok := pa.duplicate(h); ok {
			info.FirstOffset, info.LastOffset, info.Duplicate = dup.FirstOffset, dup.LastOffset, true
			if cfg.LogAppendTime {
				info.LogAppendTime = dup.Timestamp
			}
			return info, nil
		}
		h.BaseOffset = offset
		h.PartitionLeaderEpoch = leaderEpoch
		if cfg.LogAppendTime {
			h.Attributes |= record.AttrTimestampType
			h.MaxTimestamp = appendTime
		}
		marker, err := markerOf(batches, &refs[i], i)
		if err != nil {
			return info, err
		}
		if origin.verified && h.IsTransactional() && !h.IsControl() && !pa.ongoing(h.ProducerID, h.ProducerEpoch) &&
			!l.producers.guardValid(origin.guard, h.ProducerID, h.ProducerEpoch) {
			return info, fmt.Errorf("%w: producer %d epoch %d", ErrTxnNotVerified, h.ProducerID, h.ProducerEpoch)
		}
		if err := pa.add(h, marker, true); err != nil {
			return info, err
		}
		offset = h.NextOffset()
	}

	// Validation passed: now change the caller's bytes.
	for i := range refs {
		r := &refs[i]
		b := batches[r.pos : r.pos+r.h.Size()]
		record.SetBaseOffset(b, r.h.BaseOffset)
		record.SetPartitionLeaderEpoch(b, leaderEpoch)
		if cfg.LogAppendTime {
			record.SetLogAppendTime(b, appendTime)
		}
	}
	if l.epochs.assign(leaderEpoch, leo) {
		if err := l.writeEpochCheckpoint(); err != nil {
			return info, l.fail(err)
		}
	}
	if err := l.writeLocked(batches, refs, now, cfg); err != nil {
		return info, err
	}
	if aborted, changed := pa.commit(); changed {
		l.publishTxnsLocked(aborted)
	}
	info.FirstOffset, info.LastOffset = leo, offset-1
	if cfg.LogAppendTime {
		info.LogAppendTime = appendTime
	}
	return info, nil
}

// AppendAsFollower appends batches fetched from the leader, keeping their
// offsets and leader epochs. The first batch must start at or above the log
// end offset (else ErrOffsetMismatch) and offsets must increase. A gap is
// allowed: a compacted leader has no batch at the offsets the cleaner
// removed, so the follower's next batch can start above its log end offset.
// CRCs are checked. Producer state and the leader-epoch cache follow the
// batches.
func (l *Log) AppendAsFollower(batches []byte) (AppendInfo, error) {
	l.appendMu.Lock()
	defer l.appendMu.Unlock()
	info := AppendInfo{FirstOffset: -1, LastOffset: -1, LogAppendTime: -1, LogStartOffset: -1}
	if err := l.writableLocked(); err != nil {
		return info, err
	}
	refs, err := splitBatches(batches, true)
	if err != nil {
		return info, err
	}
	cfg := l.Config()
	info.LogStartOffset = l.LogStartOffset()
	leo := l.appendLEO
	if first := refs[0].h.BaseOffset; first < leo {
		return info, fmt.Errorf("%w: first batch at %d, below log end offset %d", ErrOffsetMismatch, first, leo)
	}
	next := leo
	pa := l.producers.begin()
	epochs := l.epochs.snapshot()
	latest := l.epochs.latestEpoch()
	var newEpochs []epochEntry
	for i := range refs {
		h := &refs[i].h
		if h.BaseOffset < next {
			return info, fmt.Errorf("%w: batch %d starts at %d, below %d", ErrOffsetMismatch, i, h.BaseOffset, next)
		}
		if h.BaseOffset > math.MaxInt64-int64(h.LastOffsetDelta)-1 {
			return info, fmt.Errorf("%w: batch %d base offset %d overflows", record.ErrInvalid, i, h.BaseOffset)
		}
		marker, err := markerOf(batches, &refs[i], i)
		if err != nil {
			return info, err
		}
		_ = pa.add(h, marker, false)
		if h.PartitionLeaderEpoch > latest {
			latest = h.PartitionLeaderEpoch
			newEpochs = append(newEpochs, epochEntry{Epoch: h.PartitionLeaderEpoch, StartOffset: h.BaseOffset})
		}
		next = h.NextOffset()
	}
	if len(newEpochs) > 0 {
		for _, e := range newEpochs {
			l.epochs.assign(e.Epoch, e.StartOffset)
		}
		if !slices.Equal(epochs, l.epochs.snapshot()) {
			if err := l.writeEpochCheckpoint(); err != nil {
				return info, l.fail(err)
			}
		}
	}
	if err := l.writeLocked(batches, refs, l.now(), cfg); err != nil {
		return info, err
	}
	if aborted, changed := pa.commit(); changed {
		l.publishTxnsLocked(aborted)
	}
	info.FirstOffset, info.LastOffset = refs[0].h.BaseOffset, next-1
	return info, nil
}

// shouldRollLocked reports whether an append of size bytes ending at
// lastOffset must go to a new segment.
func (l *Log) shouldRollLocked(s *segment, size int64, lastOffset int64, now time.Time, cfg LogConfig) bool {
	if s.size == 0 {
		return false
	}
	switch {
	case s.size+size > cfg.segmentBytes():
		return true
	case cfg.SegmentMs > 0 && !s.rollTime.IsZero() && now.Sub(s.rollTime) > cfg.SegmentMs:
		return true
	case lastOffset-s.base > math.MaxInt32:
		return true
	case len(s.idx) >= cfg.maxIndexEntries():
		return true
	}
	return false
}

// writeLocked rolls if needed, writes the batches to the active segment
// with one write, then publishes them to readers. The caller holds appendMu.
func (l *Log) writeLocked(batches []byte, refs []batchRef, now time.Time, cfg LogConfig) error {
	last := &refs[len(refs)-1].h
	if l.shouldRollLocked(l.active, int64(len(batches)), last.LastOffset(), now, cfg) {
		if err := l.rollLocked(); err != nil {
			return err
		}
	}
	s := l.active
	// NB: a follower append may skip offsets (a compacted leader), so the
	// batch can lie beyond what the segment's 32-bit relative offsets reach
	// even after a roll. Refuse it rather than corrupt the index.
	if last.LastOffset()-s.base > math.MaxInt32 {
		return fmt.Errorf("%w: offset %d too far above segment base %d", ErrOffsetMismatch, last.LastOffset(), s.base)
	}
	f, err := s.logFile()
	if err != nil {
		return l.fail(err)
	}
	start := s.size
	l.unchanged = false
	if _, err := f.WriteAt(batches, start); err != nil {
		// Leave no partial batch behind for a reader or a restart.
		_ = f.Truncate(start)
		return l.fail(fmt.Errorf("write segment %d: %w", s.base, err))
	}
	l.appendedBytes.Add(int64(len(batches)))
	l.mu.Lock()
	for i := range refs {
		s.indexBatchLocked(start+int64(refs[i].pos), &refs[i].h, cfg.IndexIntervalBytes)
	}
	if s.vhi == start {
		s.vhi = start + int64(len(batches)) // written from checked memory
	}
	l.mu.logEndOffset = last.NextOffset()
	l.mu.Unlock()
	if s.rollTime.IsZero() {
		s.rollTime = now
	}
	l.appendLEO = last.NextOffset()
	return nil
}

// rollLocked seals the active segment (index files) and starts a new one
// at the log end offset, with a producer snapshot at that offset. The old
// segment's fsync is queued, not waited for, so appends go on while it
// runs (Kafka also flushes rolled segments in the background); the
// recovery point passes the old segment once a sync round has fsynced it.
// A crash before that recovers from below it, truncating at the first
// invalid batch and dropping the segments and snapshots after it. The
// caller holds appendMu.
func (l *Log) rollLocked() error {
	old := l.active
	newBase := l.appendLEO
	l.unchanged = false
	l.mu.Lock()
	old.maybeAppendTimeEntryLocked()
	l.mu.Unlock()
	if err := old.writeIndexFiles(); err != nil {
		return l.fail(err)
	}
	if err := old.writeTxnIndexFile(old.txns); err != nil {
		return l.fail(err)
	}
	s, err := createSegment(l.fs, l.dir, newBase)
	if err != nil {
		return l.fail(err)
	}
	if err := writeFileSynced(l.fs, l.snapshotPath(newBase), encodeProducerSnapshot(newBase, l.producers)); err != nil {
		_ = s.closeFiles()
		return l.fail(err)
	}
	if err := syncDir(l.fs, l.dir); err != nil {
		_ = s.closeFiles()
		return l.fail(err)
	}
	l.mu.Lock()
	old.sealLocked()
	old.unsynced = true
	l.mu.segments = append(slices.Clip(l.mu.segments), s)
	l.mu.Unlock()
	l.active = s
	l.SyncAsync(newBase) // NB: never blocks; a failure fails the log
	l.logger.Debug("rolled segment", "offset", newBase)
	return nil
}
