package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"syscall"
	"time"

	"github.com/strata-io/strata/internal/record"
)

// Corruption: a batch whose bytes on disk no longer match its CRC (or
// whose framing or offsets are broken) is never served. See
// docs/design/storage-faults.md.
//
// Where it is found:
//
//   - at open, without a clean shutdown: every batch from the recovery
//     point on is checked (recovery, log.go), and the log is cut at the
//     first invalid one;
//   - on read: a section of a segment outside its verified range
//     (segment.vlo, vhi) is read into memory and each batch checked
//     before it is served (Log.chunk); only verified sections are sent
//     zero-copy, because sendfile cannot check what it sends;
//   - by the scrubber: LogDir.Run's scrubLoop checks, at Config.ScrubRate
//     bytes per second, every segment not yet verified (the segments below
//     the recovery point, found at open) and then, every ScrubInterval,
//     all of them again.
//
// What happens then: the log records the corrupt batch (Log.CorruptOffset)
// and refuses reads at and past it with ErrCorruptLog; Config.OnCorruption
// tells the broker, which repairs a follower by truncating it to the
// corrupt batch and fetching the rest again from the leader, and takes the
// directory offline when this replica leads (its leadership moves to an
// in-sync replica, whose copy is intact).

// corruptBatchError is a batch found corrupt at pos of seg.
type corruptBatchError struct {
	seg *segment
	pos int64
	err error // wraps ErrCorruptLog
}

func (e *corruptBatchError) Error() string {
	return fmt.Sprintf("segment %d position %d: %v", e.seg.base, e.pos, e.err)
}

func (e *corruptBatchError) Unwrap() error { return e.err }

// isIOError reports whether err is the operating system failing an I/O
// (EIO, ENOSPC, ...), as opposed to a file closed or truncated meanwhile.
func isIOError(err error) bool {
	var errno syscall.Errno
	return errors.As(err, &errno)
}

// readError turns an error met while reading into what the reader gets:
// a corrupt batch is recorded (markCorrupt) and reported as ErrCorruptLog,
// an I/O error fails the log and its directory (ErrStorageFailed, as
// Kafka's LogDirFailureChannel does for reads), anything else is returned
// as it is.
func (l *Log) readError(err error) error {
	var cb *corruptBatchError
	if errors.As(err, &cb) {
		off, ok := l.markCorrupt(cb.seg, cb.pos, cb.err)
		if !ok {
			return fmt.Errorf("%s: segment %d changed while it was read", l.tp, cb.seg.base)
		}
		return fmt.Errorf("%w: %s at offset %d: %w", ErrCorruptLog, l.tp, off, cb.err)
	}
	if isIOError(err) {
		return l.fail(err)
	}
	return err
}

// CorruptOffset is the offset of the first corrupt batch found in the log
// and not yet truncated or deleted away, -1 if none. Reads at or past it
// fail with ErrCorruptLog. A follower repairs by truncating to it
// (TruncateTo) and fetching again.
func (l *Log) CorruptOffset() int64 { return l.corruptOffset.Load() }

// corruptAt fails a read at offset at or past the known corruption.
func (l *Log) corruptAt(offset int64) error {
	co := l.corruptOffset.Load()
	if co < 0 || offset < co {
		return nil
	}
	if l.onCorrupt != nil {
		l.onCorrupt()
	}
	return fmt.Errorf("%w: %s: offset %d is at or past the corrupt batch at offset %d", ErrCorruptLog, l.tp, offset, co)
}

// markCorrupt records the corrupt batch a reader met at pos of s, once it
// is confirmed on disk, and returns the offset it should start at (the
// end of the whole batches before it; an earlier batch with broken
// framing found on the way is recorded instead). ok is false when the
// batch is intact after all: the segment changed under the reader (a
// truncation). The batch leaves the verified range, so it is never sent
// zero-copy.
func (l *Log) markCorrupt(s *segment, pos int64, cause error) (off int64, ok bool) {
	// NB: appendMu keeps truncations out while the batch is checked again.
	l.appendMu.Lock()
	l.mu.RLock()
	present, size := slices.Contains(l.mu.segments, s), s.size
	l.mu.RUnlock()
	if !present || pos >= size {
		l.appendMu.Unlock()
		return -1, false
	}
	pos, off, ok = l.locateCorruption(s, pos, size)
	if ok {
		l.mu.Lock()
		s.cutVerifiedLocked(pos)
		l.mu.Unlock()
	}
	l.appendMu.Unlock()
	if !ok {
		return -1, false
	}
	l.corrupt.Lock()
	changed := l.corrupt.seg == nil || off < l.corruptOffset.Load()
	if changed {
		l.corrupt.seg, l.corrupt.pos = s, pos
		l.corruptOffset.Store(off)
	}
	l.corrupt.Unlock()
	if changed {
		l.logger.Error("corrupt batch found on disk; it is not served", "segment", s.base, "position", pos, "offset", off, "err", cause)
	}
	if l.onCorrupt != nil {
		l.onCorrupt()
	}
	return off, true
}

// locateCorruption walks the batch headers of s (size bytes) up to pos,
// then checks the batch at pos whole. It returns the position and expected
// offset of the first broken batch: an earlier one whose framing or
// offsets fail, or the one at pos; ok is false if all are intact. When
// the file cannot be read it blames the whole segment.
func (l *Log) locateCorruption(s *segment, pos, size int64) (int64, int64, bool) {
	f, err := s.logFile()
	if err != nil {
		return 0, s.base, true
	}
	sc := newBatchScanner(f, 0, pos, false, nil)
	expected := s.base
	for {
		p, h, done, err := sc.next()
		if done {
			break
		}
		if err == nil {
			err = checkSegmentOffsets(s, &h, expected, math.MaxInt64)
		}
		if errors.Is(err, ErrCorruptLog) {
			return p, expected, true
		}
		if err != nil {
			return 0, s.base, true
		}
		expected = h.NextOffset()
	}
	h, err := readHeaderAt(f, pos)
	if err == nil {
		err = checkFraming(&h, size-pos)
	}
	if err == nil {
		err = checkSegmentOffsets(s, &h, expected, math.MaxInt64)
	}
	if err == nil {
		var b []byte
		if b, err = readBatchAt(f, pos, &h); err == nil && record.Checksum(b) != h.CRC {
			err = ErrCorruptLog
		}
	}
	return pos, expected, err != nil
}

// corruptPosition returns where the recorded corruption is when it starts
// at offset.
func (l *Log) corruptPosition(offset int64) (*segment, int64, bool) {
	l.corrupt.Lock()
	defer l.corrupt.Unlock()
	if l.corrupt.seg == nil || l.corruptOffset.Load() != offset {
		return nil, 0, false
	}
	return l.corrupt.seg, l.corrupt.pos, true
}

// clearCorruptionFrom forgets the recorded corruption when everything at
// and after offset is gone (a truncation), or when seg (if not nil) held
// it and was removed.
func (l *Log) clearCorruptionFrom(offset int64, seg *segment) {
	l.corrupt.Lock()
	defer l.corrupt.Unlock()
	if l.corrupt.seg == nil {
		return
	}
	if (seg != nil && seg == l.corrupt.seg) || (seg == nil && offset <= l.corruptOffset.Load()) {
		l.corrupt.seg, l.corrupt.pos = nil, 0
		l.corruptOffset.Store(-1)
	}
}

// scrubLoop checks the segments of every log at ScrubRate bytes a second
// until ctx ends: first those not verified yet, then, every ScrubInterval,
// all of them (bit rot can strike after a check).
func (d *LogDir) scrubLoop(ctx context.Context) {
	lim := &rateLimiter{rate: d.cfg.ScrubRate}
	full := false
	for {
		d.scrub(ctx, lim, full)
		t := time.NewTimer(d.cfg.ScrubInterval)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		full = true
	}
}

// Scrub checks every batch of every segment of the directory now, at full
// speed, and returns the number of corrupt batches it found (each also
// reported through Config.OnCorruption). For tests and tools; LogDir.Run
// scrubs on its own.
func (d *LogDir) Scrub(ctx context.Context) int {
	return d.scrub(ctx, &rateLimiter{}, true)
}

func (d *LogDir) scrub(ctx context.Context, lim *rateLimiter, full bool) int {
	found := 0
	for _, l := range d.Logs() {
		if ctx.Err() != nil || d.Err() != nil {
			break
		}
		if l.scrub(ctx, lim, full) {
			found++
		}
	}
	return found
}

// scrub checks the log's segments (only those not wholly verified unless
// full) and reports whether it found a corrupt batch. It stops at the
// first corrupt batch, and at an I/O error, which fails the log.
func (l *Log) scrub(ctx context.Context, lim *rateLimiter, full bool) bool {
	if l.CorruptOffset() >= 0 || l.Offline() {
		return false // already known; repair comes first
	}
	l.mu.RLock()
	if l.mu.closed {
		l.mu.RUnlock()
		return false
	}
	views := make([]segView, 0, len(l.mu.segments))
	for _, s := range l.mu.segments {
		views = append(views, s.viewLocked())
	}
	l.mu.RUnlock()
	for i := range views {
		v := &views[i]
		if v.size == 0 || (!full && v.vlo == 0 && v.vhi >= v.size) {
			continue
		}
		maxNext := int64(math.MaxInt64)
		if v.sealed {
			maxNext = v.next
		}
		pos, err := l.scrubSegment(ctx, lim, v, maxNext)
		switch {
		case err == nil:
			l.mu.Lock()
			if v.seg.size >= v.size {
				v.seg.addVerifiedLocked(0, v.size)
			}
			l.mu.Unlock()
		case errors.Is(err, ErrCorruptLog):
			_, ok := l.markCorrupt(v.seg, pos, err)
			return ok
		case isIOError(err):
			_ = l.fail(fmt.Errorf("scrub segment %d: %w", v.base, err))
			return false
		default:
			// Cancelled, or the segment was deleted, truncated or closed
			// meanwhile.
			if ctx.Err() != nil {
				return false
			}
		}
	}
	return false
}

// scrubSegment checks the batches of v (framing, CRC, increasing offsets
// below maxNext) and returns the position of the first broken one with an
// error wrapping ErrCorruptLog.
func (l *Log) scrubSegment(ctx context.Context, lim *rateLimiter, v *segView, maxNext int64) (int64, error) {
	f, err := v.seg.logFile()
	if err != nil {
		return 0, err
	}
	r := &limitedReaderAt{ctx: ctx, r: f, lim: lim}
	sc := newBatchScanner(r, 0, v.size, true, nil)
	expected := v.base
	for {
		pos, h, done, err := sc.next()
		if done {
			return v.size, nil
		}
		if err == nil {
			err = checkSegmentOffsets(v.seg, &h, expected, maxNext)
		}
		if err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, os.ErrClosed) {
				return pos, fmt.Errorf("segment %d changed while scrubbed: %w", v.base, err)
			}
			return pos, err
		}
		expected = h.NextOffset()
	}
}

// rateLimiter paces a reader to rate bytes a second (0: no limit). Owned
// by one goroutine.
type rateLimiter struct {
	rate  int64
	start time.Time
	bytes int64
}

// wait sleeps until n more bytes are within the rate.
func (r *rateLimiter) wait(ctx context.Context, n int) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if r.rate <= 0 {
		return nil
	}
	now := time.Now()
	due := r.start.Add(time.Duration(float64(r.bytes) / float64(r.rate) * float64(time.Second)))
	if r.start.IsZero() || now.Sub(due) > time.Second {
		// Idle for a while: no burst to catch up on.
		r.start, r.bytes, due = now, 0, now
	}
	r.bytes += int64(n)
	if d := due.Sub(now); d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}

// limitedReaderAt is an io.ReaderAt paced by a rateLimiter.
type limitedReaderAt struct {
	ctx context.Context //nolint:containedctx // lives for one scrubSegment call
	r   io.ReaderAt
	lim *rateLimiter
}

func (l *limitedReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if err := l.lim.wait(l.ctx, len(p)); err != nil {
		return 0, err
	}
	return l.r.ReadAt(p, off)
}
