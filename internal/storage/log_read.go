package storage

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"sort"

	"github.com/strata-io/strata/internal/record"
	"github.com/strata-io/strata/internal/storage/vfs"
)

// ReadResult is what Read returns: sections of segment files holding whole
// batches, in offset order.
type ReadResult struct {
	Chunks []Chunk
	Size   int64 // sum of the chunks' sizes
}

// Chunk is a section of a segment file: either the file itself (File,
// Pos, Size), to be read when the response is written, or its bytes read
// already (Bytes, Size).
//
// File is set when the section may be sent zero-copy: the segment has an
// operating-system file (vfs.OSFile) and the section's batches are known
// to match their CRCs (written by this process, recovered or scrubbed; see
// scrub.go). The file stays open (even if its segment is deleted or
// truncated away) for at least the log's FileDeleteDelay, so the fetch
// path may sendfile it. Any other section is read at once, its batches'
// CRCs checked, and handed over as Bytes: a corrupt batch is never served.
type Chunk struct {
	File      *os.File
	Pos, Size int64
	Bytes     []byte
}

// AppendTo reads the chunks into dst with pread and returns the extended slice.
func (r *ReadResult) AppendTo(dst []byte) ([]byte, error) {
	for _, c := range r.Chunks {
		if c.File == nil {
			dst = append(dst, c.Bytes...)
			continue
		}
		n := len(dst)
		dst = slices.Grow(dst, int(c.Size))[:n+int(c.Size)]
		if _, err := c.File.ReadAt(dst[n:], c.Pos); err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return dst[:n], fmt.Errorf("read %d bytes at %d of %s: %w", c.Size, c.Pos, c.File.Name(), err)
		}
	}
	return dst, nil
}

// segView is a consistent copy of a segment's published state, taken under
// Log.mu and used without it.
type segView struct {
	seg                  *segment
	base, size, next     int64
	maxTimestamp         int64
	offsetOfMaxTimestamp int64
	sealed               bool
	idx                  []offsetEntry
	tidx                 []timeEntry
	idxCount, tidxCount  int
	txns                 []AbortedTxn
	txnCount             int
	vlo, vhi             int64 // verified positions (segment.vlo, vhi)
}

// viewLocked copies s's published state; the caller holds Log.mu (either
// mode), or is the appender (the only writer).
func (s *segment) viewLocked() segView {
	return segView{
		seg: s, base: s.base, size: s.size, next: s.nextOffset,
		maxTimestamp: s.maxTimestamp, offsetOfMaxTimestamp: s.offsetOfMaxTimestamp,
		sealed: s.sealed, idx: s.idx, tidx: s.tidx, idxCount: s.idxCount, tidxCount: s.tidxCount,
		txns: s.txns, txnCount: s.txnCount, vlo: s.vlo, vhi: s.vhi,
	}
}

// viewUnlocked is viewLocked for the appender, which needs no lock to read
// what only it writes.
func (s *segment) viewUnlocked() segView { return s.viewLocked() }

func (v *segView) offsetIndex() (offsetIndexView, error) {
	if !v.sealed {
		return offsetIndexView{mem: v.idx}, nil
	}
	if v.idxCount == 0 {
		return offsetIndexView{}, nil
	}
	f, err := v.seg.indexFile()
	if err != nil {
		return offsetIndexView{}, err
	}
	return offsetIndexView{f: f, n: v.idxCount}, nil
}

func (v *segView) timeIndex() (timeIndexView, error) {
	if !v.sealed {
		return timeIndexView{mem: v.tidx}, nil
	}
	if v.tidxCount == 0 {
		return timeIndexView{}, nil
	}
	f, err := v.seg.timeIndexFile()
	if err != nil {
		return timeIndexView{}, err
	}
	return timeIndexView{f: f, n: v.tidxCount}, nil
}

// positionFloor returns a position at or before the batch holding offset:
// the index entry with the largest offset <= offset, or 0.
func (v *segView) positionFloor(offset int64) (int64, error) {
	if offset <= v.base {
		return 0, nil
	}
	idx, err := v.offsetIndex()
	if err != nil {
		return 0, err
	}
	rel := v.seg.relOffset(offset)
	e, found, err := idx.floor(func(e offsetEntry) bool { return e.RelOffset <= rel })
	if err != nil || !found {
		return 0, err
	}
	return int64(e.Position), nil
}

// findBatch returns the position and header of the first batch whose last
// offset is >= offset; found is false if the segment has none.
func (v *segView) findBatch(offset int64) (pos int64, h record.Header, found bool, err error) {
	pos, err = v.positionFloor(offset)
	if err != nil {
		return 0, h, false, err
	}
	f, err := v.seg.logFile()
	if err != nil {
		return 0, h, false, err
	}
	for pos < v.size {
		if h, err = readHeaderAt(f, pos); err != nil {
			return 0, h, false, err
		}
		if err := checkFraming(&h, v.size-pos); err != nil {
			return 0, h, false, &corruptBatchError{seg: v.seg, pos: pos, err: err}
		}
		if h.LastOffset() >= offset {
			return pos, h, true, nil
		}
		pos += int64(h.Size())
	}
	return pos, h, false, nil
}

// Read returns whole batches starting with the one containing offset, up to
// maxBytes, never including a batch whose base offset is >= maxOffset (the
// high watermark). With minOneBatch the first batch is returned even when
// it is larger than maxBytes (KIP-74). offset == LogEndOffset gives an
// empty result; offset below LogStartOffset or above LogEndOffset gives
// ErrOffsetOutOfRange. Reads may span segments.
func (l *Log) Read(offset int64, maxBytes int32, maxOffset int64, minOneBatch bool) (ReadResult, error) {
	if err := l.dirFailure(); err != nil {
		return ReadResult{}, err
	}
	if err := l.corruptAt(offset); err != nil {
		return ReadResult{}, err
	}
	l.mu.RLock()
	if l.mu.closed {
		l.mu.RUnlock()
		return ReadResult{}, ErrLogClosed
	}
	lso, leo := l.mu.logStartOffset, l.mu.logEndOffset
	segs := l.mu.segments
	first := sort.Search(len(segs), func(i int) bool { return segs[i].base > offset }) - 1
	var views []segView
	if offset >= lso && offset < leo && first >= 0 {
		// A read rarely needs more than a few segments; the cap keeps the
		// time under the read lock constant.
		views = make([]segView, 0, min(len(segs)-first, 4))
		for _, s := range segs[first:min(len(segs), first+4)] {
			views = append(views, s.viewLocked())
		}
	}
	l.mu.RUnlock()

	if offset < lso || offset > leo {
		return ReadResult{}, fmt.Errorf("%w: offset %d not in [%d, %d]", ErrOffsetOutOfRange, offset, lso, leo)
	}
	var res ReadResult
	budget := int64(max(maxBytes, 0))
	for i := range views {
		v := &views[i]
		f, start, end, stop, err := v.read(offset, maxOffset, budget-res.Size, minOneBatch && res.Size == 0)
		var c Chunk
		if err == nil && end > start {
			var cut bool
			c, cut, err = l.chunk(v, f, start, end)
			stop = stop || cut
		}
		if err != nil {
			err = l.readError(err)
			if res.Size > 0 && errors.Is(err, ErrCorruptLog) {
				break // serve the whole batches before the corrupt one
			}
			return ReadResult{}, err
		}
		if c.Size > 0 {
			res.Chunks = append(res.Chunks, c)
			res.Size += c.Size
		}
		if stop {
			break
		}
	}
	return res, nil
}

// chunk returns the section [start, end) of v's segment, which holds whole
// batches: zero-copy when it lies in the verified range of an
// operating-system file, else read into memory with each batch's CRC
// checked. A corrupt batch cuts the section before it (cut is set); when
// it is the first, the error is a *corruptBatchError.
func (l *Log) chunk(v *segView, f vfs.File, start, end int64) (c Chunk, cut bool, err error) {
	if osf, ok := vfs.OSFileOf(f); ok && start >= v.vlo && end <= v.vhi {
		return Chunk{File: osf, Pos: start, Size: end - start}, false, nil
	}
	b := make([]byte, end-start)
	if _, err := f.ReadAt(b, start); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return c, false, fmt.Errorf("read %d bytes at %d of segment %d: %w", len(b), start, v.base, err)
	}
	good, bad := verifyBatches(b)
	if bad != nil {
		cerr := &corruptBatchError{seg: v.seg, pos: start + int64(good), err: bad}
		if good == 0 {
			return c, false, cerr
		}
		_ = l.readError(cerr) // reported; the batches before it are served
		b, cut = b[:good], true
	} else {
		// Verified now: an old segment read from its start on becomes
		// zero-copy as readers go (scrub.go does the rest).
		l.mu.Lock()
		if v.seg.size >= end {
			v.seg.addVerifiedLocked(start, end)
		}
		l.mu.Unlock()
	}
	return Chunk{Bytes: b, Size: int64(len(b))}, cut, nil
}

// verifyBatches checks the framing and CRC of each batch of b, which
// should hold whole batches, and returns the length of the valid prefix
// and what is wrong after it (nil if nothing).
func verifyBatches(b []byte) (int, error) {
	pos := 0
	for pos < len(b) {
		rest := b[pos:]
		if len(rest) < record.HeaderSize {
			return pos, fmt.Errorf("%w: %d bytes are shorter than a batch header", ErrCorruptLog, len(rest))
		}
		h, _ := record.ParseHeader(rest)
		if err := checkFraming(&h, int64(len(rest))); err != nil {
			return pos, err
		}
		if sum := record.Checksum(rest[:h.Size()]); sum != h.CRC {
			return pos, fmt.Errorf("%w: batch at offset %d has crc %08x, header says %08x", ErrCorruptLog, h.BaseOffset, sum, h.CRC)
		}
		pos += h.Size()
	}
	return pos, nil
}

// read returns the section [start, end) of the segment's file f holding
// the batches from the one containing offset, within budget bytes (one
// batch regardless if mustOne) and below maxOffset (empty if none). stop
// is true when the read must not continue into the next segment.
func (v *segView) read(offset, maxOffset, budget int64, mustOne bool) (f vfs.File, start, end int64, stop bool, err error) {
	start, h, found, err := v.findBatch(offset)
	if err != nil || !found {
		return nil, 0, 0, false, err
	}
	if h.BaseOffset >= maxOffset {
		return nil, 0, 0, true, nil
	}
	if f, err = v.seg.logFile(); err != nil {
		return nil, 0, 0, false, err
	}
	size := int64(h.Size())
	if size > budget {
		if mustOne {
			return f, start, start + size, true, nil
		}
		return nil, 0, 0, true, nil
	}
	limit := start + budget
	end = start + size
	// Jump over whole batches with the index: any entry is a batch boundary
	// whose offset is known, so everything before it qualifies if the
	// entry's position is within budget and its batch is below maxOffset.
	if idx, err := v.offsetIndex(); err == nil {
		maxRel := int64(math.MaxUint32)
		if d := maxOffset - v.base; d <= maxRel {
			maxRel = d
		}
		e, found, err := idx.floor(func(e offsetEntry) bool {
			return int64(e.Position) <= limit && int64(e.RelOffset) < maxRel
		})
		if err != nil {
			return nil, 0, 0, false, err
		}
		if found && int64(e.Position) > end && int64(e.Position) <= v.size {
			end = int64(e.Position)
		}
	} else {
		return nil, 0, 0, false, err
	}
	for end < v.size {
		h, err := readHeaderAt(f, end)
		if err != nil {
			return nil, 0, 0, false, err
		}
		if checkFraming(&h, v.size-end) != nil || h.BaseOffset >= maxOffset || end+int64(h.Size()) > limit {
			// NB: a batch with broken framing ends the section; the next
			// read starts at it and reports it.
			return f, start, end, true, nil
		}
		end += int64(h.Size())
	}
	return f, start, end, false, nil
}

// readBatchAt reads the whole batch at pos.
func readBatchAt(f vfs.File, pos int64, h *record.Header) ([]byte, error) {
	b := make([]byte, h.Size())
	if _, err := f.ReadAt(b, pos); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("read batch at %d: %w", pos, err)
	}
	return b, nil
}

// maxDecompressedBatch bounds decompression while searching by timestamp.
const maxDecompressedBatch = 64 << 20

// OffsetForTimestamp returns the first record (at or above the log start
// offset) whose timestamp is >= ts, with its timestamp and the leader epoch
// of its batch; ok is false if there is none. It narrows the search with
// the segments' max timestamps and time indexes, then walks records.
func (l *Log) OffsetForTimestamp(ts int64) (offset, timestamp int64, leaderEpoch int32, ok bool, err error) {
	l.mu.RLock()
	if l.mu.closed {
		l.mu.RUnlock()
		return -1, -1, -1, false, ErrLogClosed
	}
	lso := l.mu.logStartOffset
	var views []segView
	for _, s := range l.mu.segments {
		if s.maxTimestamp >= ts && s.nextOffset > lso {
			views = append(views, s.viewLocked())
		}
	}
	l.mu.RUnlock()

	for i := range views {
		v := &views[i]
		tidx, err := v.timeIndex()
		if err != nil {
			return -1, -1, -1, false, err
		}
		startOffset := max(v.base, lso)
		if e, found, err := floorTimestamp(tidx, ts); err != nil {
			return -1, -1, -1, false, err
		} else if found {
			startOffset = max(startOffset, v.base+int64(e.RelOffset))
		}
		pos, _, found, err := v.findBatch(startOffset)
		if err != nil || !found {
			if err != nil {
				return -1, -1, -1, false, err
			}
			continue
		}
		f, err := v.seg.logFile()
		if err != nil {
			return -1, -1, -1, false, err
		}
		for pos < v.size {
			h, err := readHeaderAt(f, pos)
			if err != nil {
				return -1, -1, -1, false, err
			}
			if h.MaxTimestamp >= ts && h.LastOffset() >= lso {
				off, rts, found, err := findRecordAtOrAfter(f, pos, &h, ts, lso)
				if err != nil {
					return -1, -1, -1, false, err
				}
				if found {
					return off, rts, h.PartitionLeaderEpoch, true, nil
				}
			}
			pos += int64(h.Size())
		}
	}
	return -1, -1, -1, false, nil
}

// findRecordAtOrAfter returns the first record of the batch at pos with a
// timestamp >= ts and an offset >= minOffset.
func findRecordAtOrAfter(f vfs.File, pos int64, h *record.Header, ts, minOffset int64) (int64, int64, bool, error) {
	if h.IsLogAppendTime() {
		// Every record of a LogAppendTime batch has the batch's timestamp.
		return max(h.BaseOffset, minOffset), h.MaxTimestamp, true, nil
	}
	b, err := readBatchAt(f, pos, h)
	if err != nil {
		return 0, 0, false, err
	}
	var off, rts int64
	found := false
	errFound := fmt.Errorf("found")
	err = record.Records(b, maxDecompressedBatch, func(r *record.Record) error {
		o, t := h.BaseOffset+int64(r.OffsetDelta), h.BaseTimestamp+r.TimestampDelta
		if t >= ts && o >= minOffset {
			off, rts, found = o, t, true
			return errFound
		}
		return nil
	})
	if err != nil && err != errFound {
		return 0, 0, false, fmt.Errorf("batch at offset %d: %w", h.BaseOffset, err)
	}
	return off, rts, found, nil
}

// MaxTimestamp returns the record with the largest timestamp in the log
// (the earliest one on ties) with the leader epoch of its batch (KIP-734);
// -1s when the log has no timestamps.
func (l *Log) MaxTimestamp() (offset, timestamp int64, leaderEpoch int32) {
	l.mu.RLock()
	var best *segView
	for _, s := range l.mu.segments {
		if s.maxTimestamp >= 0 && (best == nil || s.maxTimestamp > best.maxTimestamp) {
			v := s.viewLocked()
			best = &v
		}
	}
	closed := l.mu.closed
	l.mu.RUnlock()
	if best == nil || closed {
		return -1, -1, -1
	}
	pos, h, found, err := best.findBatch(best.offsetOfMaxTimestamp)
	if err != nil || !found {
		l.logger.Warn("max timestamp batch unreadable", "offset", best.offsetOfMaxTimestamp, "err", err)
		return -1, -1, -1
	}
	f, err := best.seg.logFile()
	if err != nil {
		return -1, -1, -1
	}
	off, ts, found, err := findRecordAtOrAfter(f, pos, &h, best.maxTimestamp, 0)
	if err != nil || !found {
		// The batch header promises the timestamp; fall back to the batch.
		return h.LastOffset(), h.MaxTimestamp, h.PartitionLeaderEpoch
	}
	return off, ts, h.PartitionLeaderEpoch
}
