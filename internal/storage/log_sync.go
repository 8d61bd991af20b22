package storage

import (
	"errors"
	"fmt"
	"os"

	"github.com/strata-io/strata/internal/failpoint"
)

// syncWaiter is one Sync or SyncAsync call waiting for an fsync.
type syncWaiter struct {
	offset int64
	done   chan error // buffer 1; receives the result once
}

// syncRound is the fsync of one log in flight, run by a worker of the
// directory's groupSyncer.
type syncRound struct {
	target  int64         // log end offset read after the round took its waiters; -1 until then
	gen     uint64        // Log.sync.generation when the round started
	waiters []*syncWaiter // those it took from Log.sync.next and those that joined it
}

// Sync returns once all data below offset is durable. It is SyncAsync
// followed by a wait: fsyncs are shared with concurrent callers on this
// log and run in parallel with those of other logs of the directory.
func (l *Log) Sync(offset int64) error {
	if done, err := l.syncDone(offset); done {
		return err
	}
	return <-l.SyncAsync(offset)
}

// SyncAsync starts making the data below offset durable and returns a
// channel that receives the result once: nil when everything below offset
// was fsynced (the recovery point reached it), an error wrapping
// ErrStorageFailed if an fsync failed (the log is then failed for good),
// ErrLogClosed, or ErrOffsetOutOfRange when offset is beyond the log end
// offset or the data was truncated away first. It never blocks on I/O:
// a produce request spanning many partitions calls it for each of them and
// then waits for all, sharing fsync rounds with every concurrent request.
// The caller may stop waiting at any time; the channel is buffered.
func (l *Log) SyncAsync(offset int64) <-chan error {
	done := make(chan error, 1)
	if ok, err := l.syncDone(offset); ok {
		done <- err
		return done
	}
	l.mu.RLock()
	leo, closed := l.mu.logEndOffset, l.mu.closed
	l.mu.RUnlock()
	switch {
	case offset > leo:
		done <- fmt.Errorf("%w: sync to %d beyond log end offset %d", ErrOffsetOutOfRange, offset, leo)
		return done
	case closed:
		done <- ErrLogClosed
		return done
	}
	w := &syncWaiter{offset: offset, done: done}
	s := l.syncer
	l.sync.Lock()
	if r := l.sync.round; r != nil && r.target >= offset {
		// The fsync in flight started after this data was written.
		r.waiters = append(r.waiters, w)
		l.sync.Unlock()
		return done
	}
	l.sync.next = append(l.sync.next, w)
	queue := !l.sync.queued && l.sync.round == nil
	if queue {
		l.sync.queued = true
	}
	expedite := s.delay > 0 && s.maxBytes > 0 && l.appendedBytes.Load()-l.sync.syncedBytes >= s.maxBytes
	l.sync.Unlock()
	if queue {
		s.enqueue(l)
	}
	if expedite {
		s.expedite()
	}
	return done
}

// syncDone reports Sync's result when it needs no fsync: the offset is
// already durable, or the log failed.
func (l *Log) syncDone(offset int64) (bool, error) {
	l.sync.Lock()
	defer l.sync.Unlock()
	if offset <= l.sync.recoveryPoint {
		return true, nil
	}
	if p := l.failed.Load(); p != nil {
		return true, *p
	}
	return false, nil
}

// runSync is one fsync of the log for the waiters in Log.sync.next, run by
// a groupSyncer worker. Waiters arriving meanwhile join it if it covers
// them, or wait in Log.sync.next; the log is queued again at the end if
// any do.
func (l *Log) runSync() {
	l.sync.Lock()
	r := &syncRound{target: -1, gen: l.sync.generation, waiters: l.sync.next}
	l.sync.next = nil
	l.sync.queued = false
	l.sync.round = r
	l.sync.Unlock()

	// NB: read after taking the waiters, so it covers all of them: each
	// wrote its data before it called SyncAsync.
	appended := l.appendedBytes.Load()
	l.mu.RLock()
	closed, leo := l.mu.closed, l.mu.logEndOffset
	var open []*segment
	for _, s := range l.mu.segments {
		if !s.sealed || s.unsynced {
			open = append(open, s)
		}
	}
	l.mu.RUnlock()

	var err error
	switch p := l.failed.Load(); {
	case p != nil:
		err = *p
	case closed:
		err = ErrLogClosed
	default:
		l.sync.Lock()
		r.target = leo
		l.sync.Unlock()
		err = l.fsyncSegments(open)
	}

	if err == nil {
		l.mu.Lock()
		for _, s := range open {
			s.unsynced = false
		}
		l.mu.Unlock()
	}
	l.sync.Lock()
	l.sync.round = nil
	if err == nil && r.gen == l.sync.generation {
		l.sync.recoveryPoint = max(l.sync.recoveryPoint, leo)
		l.sync.syncedBytes = max(l.sync.syncedBytes, appended)
	}
	type result struct {
		w   *syncWaiter
		err error
	}
	results := make([]result, 0, len(r.waiters))
	for _, w := range r.waiters {
		switch {
		case w.offset <= l.sync.recoveryPoint:
			results = append(results, result{w, nil})
		case err != nil:
			results = append(results, result{w, err})
		case r.gen != l.sync.generation:
			// Truncated during the fsync: try again against what is left.
			l.sync.next = append(l.sync.next, w)
		default:
			// The round started after a truncation below the offset.
			results = append(results, result{w, fmt.Errorf("%w: sync to %d beyond log end offset %d", ErrOffsetOutOfRange, w.offset, leo)})
		}
	}
	queue := len(l.sync.next) > 0 && !l.sync.queued
	if queue {
		l.sync.queued = true
	}
	l.sync.Unlock()

	l.syncer.metrics.groupCommitted(len(results))
	for _, res := range results {
		res.w.done <- res.err
	}
	if queue {
		l.syncer.enqueue(l)
	}
}

// fsyncSegments fdatasyncs the active segment and the sealed ones whose
// roll fsync is pending. A failure fails the log.
func (l *Log) fsyncSegments(segs []*segment) error {
	for _, s := range segs {
		f, err := s.logFile()
		if err == nil && failpoint.Inject(failpoint.SegmentBeforeFsync) {
			err = failpoint.Error(failpoint.SegmentBeforeFsync)
		}
		if err == nil {
			l.fsyncs.Add(1)
			err = l.syncer.timedFsync(l, f)
		}
		if err == nil && failpoint.Inject(failpoint.SegmentAfterFsync) {
			err = failpoint.Error(failpoint.SegmentAfterFsync)
		}
		if err != nil {
			if s.isDeleted() || errors.Is(err, os.ErrClosed) || errors.Is(err, ErrLogClosed) {
				// Truncated away or closed meanwhile: nothing left to make
				// durable (Close fsyncs before it closes).
				continue
			}
			return l.fail(fmt.Errorf("fsync segment %d: %w", s.base, err))
		}
	}
	return nil
}

func (s *segment) isDeleted() bool {
	s.files.Lock()
	defer s.files.Unlock()
	return s.files.deleted
}

func (l *Log) syncGeneration() uint64 {
	l.sync.Lock()
	defer l.sync.Unlock()
	return l.sync.generation
}

// advanceRecoveryPoint raises the recovery point to offset unless a
// truncation happened since gen was read.
func (l *Log) advanceRecoveryPoint(offset int64, gen uint64) {
	l.sync.Lock()
	if gen == l.sync.generation && offset > l.sync.recoveryPoint {
		l.sync.recoveryPoint = offset
	}
	l.sync.Unlock()
}

// lowerRecoveryPoint caps the recovery point at offset after a truncation
// and invalidates fsyncs in flight.
func (l *Log) lowerRecoveryPoint(offset int64) {
	l.sync.Lock()
	l.sync.generation++
	l.sync.recoveryPoint = min(l.sync.recoveryPoint, offset)
	l.sync.Unlock()
}

// dirty reports whether the log has data that is not known durable.
func (l *Log) dirty() bool {
	leo := l.LogEndOffset()
	return l.RecoveryPoint() < leo
}
