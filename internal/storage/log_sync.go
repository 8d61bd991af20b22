package storage

import (
	"errors"
	"fmt"
	"os"
)

// syncRound is one fsync shared by every Sync caller that arrives while it
// runs or is satisfied by it (group commit).
type syncRound struct {
	done   chan struct{} // closed when the round ends
	target int64         // log end offset captured before the fsync
	err    error
}

// Sync returns once all data below offset is durable. Concurrent callers
// share fsyncs: one caller leads a round that fsyncs everything appended so
// far, the others wait for it and return if it covered them. Sync never
// holds appendMu, so appends continue during the fsync.
func (l *Log) Sync(offset int64) error {
	for {
		l.sync.Lock()
		if offset <= l.sync.recoveryPoint {
			l.sync.Unlock()
			return nil
		}
		if p := l.failed.Load(); p != nil {
			l.sync.Unlock()
			return *p
		}
		if r := l.sync.round; r != nil {
			l.sync.Unlock()
			<-r.done
			if r.err != nil {
				return r.err
			}
			continue
		}
		r := &syncRound{done: make(chan struct{})}
		l.sync.round = r
		gen := l.sync.generation
		l.sync.Unlock()

		r.target, r.err = l.syncActive()
		l.sync.Lock()
		if r.err == nil && gen == l.sync.generation && r.target > l.sync.recoveryPoint {
			l.sync.recoveryPoint = r.target
		}
		l.sync.round = nil
		l.sync.Unlock()
		close(r.done)
		if r.err != nil {
			return r.err
		}
		if r.target < offset {
			return fmt.Errorf("%w: sync to %d beyond log end offset %d", ErrOffsetOutOfRange, offset, r.target)
		}
	}
}

// syncActive fsyncs the segments that are not sealed (sealed ones were
// fsynced when they rolled) and returns the log end offset they cover.
func (l *Log) syncActive() (int64, error) {
	l.mu.RLock()
	if l.mu.closed {
		l.mu.RUnlock()
		return 0, ErrLogClosed
	}
	leo := l.mu.logEndOffset
	var open []*segment
	for _, s := range l.mu.segments {
		if !s.sealed {
			open = append(open, s)
		}
	}
	l.mu.RUnlock()
	for _, s := range open {
		f, err := s.logFile()
		if err == nil {
			l.fsyncs.Add(1)
			err = f.Sync()
		}
		if err != nil {
			if s.isDeleted() || errors.Is(err, os.ErrClosed) {
				// Truncated away or closed meanwhile: nothing left to make durable.
				continue
			}
			return 0, l.fail(fmt.Errorf("fsync segment %d: %w", s.base, err))
		}
	}
	return leo, nil
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
