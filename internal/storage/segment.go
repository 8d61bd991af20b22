package storage

import (
	"bufio"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/strata-io/strata/internal/record"
	"github.com/strata-io/strata/internal/storage/vfs"
)

// Segment file suffixes.
const (
	logFileSuffix       = ".log"
	indexFileSuffix     = ".index"
	timeIndexFileSuffix = ".timeindex"
	deletedFileSuffix   = ".deleted"
)

// indexFileSuffixes are a segment's files besides its .log, each of which
// may be missing; segmentFileSuffixes are all of them.
var (
	indexFileSuffixes   = []string{indexFileSuffix, timeIndexFileSuffix, txnIndexFileSuffix}
	segmentFileSuffixes = append([]string{logFileSuffix}, indexFileSuffixes...)
)

func segmentFileName(base int64, suffix string) string {
	return fmt.Sprintf("%020d%s", base, suffix)
}

// parseOffsetFileName returns the offset a %020d<suffix> file name encodes.
func parseOffsetFileName(name, suffix string) (int64, bool) {
	digits, ok := strings.CutSuffix(name, suffix)
	if !ok || len(digits) != 20 {
		return 0, false
	}
	off, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || off < 0 || strings.Trim(digits, "0123456789") != "" { // no sign: "+000...0.log" is not segment 0's file
		return 0, false
	}
	return off, true
}

// segment is one <base>.log file with its offset and time indexes.
//
// The active (last) segment keeps its index entries in memory and writes the
// index files when it is sealed (roll) or the log closes; sealed segments
// keep no entries in memory and answer lookups from the files with pread.
type segment struct {
	base int64  // set at creation, never changed
	dir  string // set at creation, never changed
	fs   vfs.FS // set at creation, never changed

	// Guarded by Log.mu: the appender changes them with Log.mu held for
	// writing; readers copy them (segView) with Log.mu held for reading.
	size                 int64         // bytes of whole batches
	nextOffset           int64         // offset after the last batch; base when empty
	maxTimestamp         int64         // largest batch max timestamp, -1 if none
	offsetOfMaxTimestamp int64         // last offset of the batch holding maxTimestamp, -1 if none
	idx                  []offsetEntry // active only. NB: entries below len are never rewritten; truncation reallocates
	tidx                 []timeEntry   // active only, same rule
	idxCount, tidxCount  int           // sealed only: entries in the index files
	// txns: active only, the aborted transactions whose ABORT marker is in
	// the segment (written to .txnindex at seal and close); same rule as idx.
	txns []AbortedTxn
	// txnCount: sealed only, entries in the .txnindex file (0: no file).
	txnCount int
	sealed   bool
	// unsynced: sealed by a roll whose fsync is queued but not done; sync
	// rounds fsync it with the active segment until one succeeds.
	unsynced bool
	// [vlo, vhi) are the file positions whose batches are known to match
	// their CRCs: written by this process, recovered, or scrubbed (see
	// scrub.go). Only they are served zero-copy; reads elsewhere are
	// verified first. An append starting at vhi extends it.
	vlo, vhi int64

	// Owned by the appender (Log.appendMu).
	bytesSinceIndex int
	// txnRebuild: set during open when the .txnindex cannot be trusted (the
	// segment was recovered, or the file failed its checks); the
	// producer-state replay rebuilds it.
	txnRebuild bool
	rollTime   time.Time // first append (segment.ms counts from it); zero while empty

	files struct {
		sync.Mutex
		log, idx, tidx vfs.File // opened lazily (openLog leaves none open)
		deleted        bool     // renamed to .deleted: no more lazy opens
		closed         bool     // closeFiles ran: no more lazy opens
	}
}

func (s *segment) path(suffix string) string {
	return filepath.Join(s.dir, segmentFileName(s.base, suffix))
}

func newSegment(fsys vfs.FS, dir string, base int64) *segment {
	return &segment{base: base, dir: dir, fs: fsys, nextOffset: base, maxTimestamp: -1, offsetOfMaxTimestamp: -1}
}

// createSegment creates an empty active segment.
func createSegment(fsys vfs.FS, dir string, base int64) (*segment, error) {
	s := newSegment(fsys, dir, base)
	f, err := fsys.Create(s.path(logFileSuffix))
	if err != nil {
		return nil, fmt.Errorf("create segment %d: %w", base, err)
	}
	s.files.log = f
	// Stale index files from an earlier life of this base offset would be
	// trusted after a clean shutdown; remove them.
	for _, suffix := range indexFileSuffixes {
		if err := fsys.Remove(s.path(suffix)); err != nil && !errors.Is(err, os.ErrNotExist) {
			_ = f.Close()
			return nil, fmt.Errorf("create segment %d: %w", base, err)
		}
	}
	return s, nil
}

// openFile returns the file with suffix, opening it on first use.
func (s *segment) openFile(which *vfs.File, suffix string, flag int) (vfs.File, error) {
	s.files.Lock()
	defer s.files.Unlock()
	if *which != nil {
		return *which, nil
	}
	if s.files.deleted {
		return nil, fmt.Errorf("%w: segment %d was deleted", ErrOffsetOutOfRange, s.base)
	}
	if s.files.closed {
		return nil, ErrLogClosed
	}
	f, err := s.fs.OpenFile(s.path(suffix), flag, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open segment %d: %w", s.base, err)
	}
	*which = f
	return f, nil
}

func (s *segment) logFile() (vfs.File, error) {
	return s.openFile(&s.files.log, logFileSuffix, os.O_RDWR)
}

func (s *segment) indexFile() (vfs.File, error) {
	return s.openFile(&s.files.idx, indexFileSuffix, os.O_RDONLY)
}

func (s *segment) timeIndexFile() (vfs.File, error) {
	return s.openFile(&s.files.tidx, timeIndexFileSuffix, os.O_RDONLY)
}

// closeIndexFiles closes the index handles (the files are about to be
// replaced).
func (s *segment) closeIndexFiles() {
	s.files.Lock()
	defer s.files.Unlock()
	for _, f := range []*vfs.File{&s.files.idx, &s.files.tidx} {
		if *f != nil {
			_ = (*f).Close()
			*f = nil
		}
	}
}

// closeFiles closes every open handle for good.
func (s *segment) closeFiles() error {
	s.files.Lock()
	defer s.files.Unlock()
	s.files.closed = true
	return s.releaseFilesLocked()
}

// releaseFiles closes every open handle; they reopen on next use. Only for
// a segment no reader can hold a Chunk of (a log being opened).
func (s *segment) releaseFiles() error {
	s.files.Lock()
	defer s.files.Unlock()
	return s.releaseFilesLocked()
}

func (s *segment) releaseFilesLocked() error {
	var errs []error
	for _, f := range []*vfs.File{&s.files.log, &s.files.idx, &s.files.tidx} {
		if *f != nil {
			errs = append(errs, (*f).Close())
			*f = nil
		}
	}
	return errors.Join(errs...)
}

// markDeleted renames the segment's files to *.deleted and hands back the
// open handles, which stay valid for readers holding a Chunk until the
// deleter closes them after file.delete.delay.ms. The segment keeps them
// too, so a reader that took its view before the rename still reads it
// (compaction replaces segments whose offsets stay readable); files that
// were not open can no longer be opened.
func (s *segment) markDeleted() (open []vfs.File, paths []string, err error) {
	s.files.Lock()
	defer s.files.Unlock()
	s.files.deleted = true
	for _, f := range []vfs.File{s.files.log, s.files.idx, s.files.tidx} {
		if f != nil {
			open = append(open, f)
		}
	}
	var errs []error
	for _, suffix := range segmentFileSuffixes {
		p := s.path(suffix)
		err := s.fs.Rename(p, p+deletedFileSuffix)
		switch {
		case err == nil:
			paths = append(paths, p+deletedFileSuffix)
		case !errors.Is(err, os.ErrNotExist):
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return open, paths, fmt.Errorf("delete segment %d: %w", s.base, err)
	}
	return open, paths, nil
}

// relOffset returns offset relative to the segment's base, clamped to the
// uint32 range.
func (s *segment) relOffset(offset int64) uint32 {
	switch d := offset - s.base; {
	case d < 0:
		return 0
	case d > math.MaxUint32:
		return math.MaxUint32
	default:
		return uint32(d)
	}
}

// indexBatchLocked updates the in-memory indexes and timestamps for the
// batch h at pos, exactly as at append time. The caller holds Log.mu for
// writing (or owns the segment alone during recovery).
func (s *segment) indexBatchLocked(pos int64, h *record.Header, intervalBytes int) {
	if h.MaxTimestamp > s.maxTimestamp {
		s.maxTimestamp = h.MaxTimestamp
		s.offsetOfMaxTimestamp = h.LastOffset()
	}
	if s.bytesSinceIndex > intervalBytes {
		s.idx = append(s.idx, offsetEntry{RelOffset: s.relOffset(h.LastOffset()), Position: uint32(pos)})
		s.maybeAppendTimeEntryLocked()
		s.bytesSinceIndex = 0
	}
	s.bytesSinceIndex += h.Size()
	s.size = pos + int64(h.Size())
	s.nextOffset = h.NextOffset()
}

// maybeAppendTimeEntryLocked adds (maxTimestamp, offsetOfMaxTimestamp) to
// the time index if it is newer than its last entry.
func (s *segment) maybeAppendTimeEntryLocked() {
	if s.maxTimestamp < 0 {
		return
	}
	if n := len(s.tidx); n > 0 && s.tidx[n-1].Timestamp >= s.maxTimestamp {
		return
	}
	s.tidx = append(s.tidx, timeEntry{Timestamp: s.maxTimestamp, RelOffset: s.relOffset(s.offsetOfMaxTimestamp)})
}

// writeIndexFiles writes the segment's in-memory indexes to their files
// (tmp, fsync, rename). The caller is the appender (the only writer of
// idx and tidx) and has added the final time index entry
// (maybeAppendTimeEntryLocked). It does not fsync the directory.
func (s *segment) writeIndexFiles() error {
	s.closeIndexFiles()
	if err := writeFileSynced(s.fs, s.path(indexFileSuffix), encodeOffsetIndex(s.idx)); err != nil {
		return err
	}
	return writeFileSynced(s.fs, s.path(timeIndexFileSuffix), encodeTimeIndex(s.tidx))
}

// writeFileSynced is writeFileAtomic without the directory fsync.
func writeFileSynced(fsys vfs.FS, path string, data []byte) error {
	tmp := path + tmpSuffix
	f, err := fsys.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("create %s: %w", tmp, err)
	}
	_, werr := f.Write(data)
	if werr == nil {
		werr = f.Sync()
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = fsys.Rename(tmp, path)
	}
	if werr != nil {
		_ = fsys.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, werr)
	}
	return nil
}

// sealLocked turns the active segment into a sealed one: indexes go to disk
// and leave memory. The caller holds Log.mu for writing and has already
// written the index files.
func (s *segment) sealLocked() {
	s.idxCount, s.tidxCount = len(s.idx), len(s.tidx)
	s.idx, s.tidx = nil, nil
	s.txnCount += len(s.txns) // NB: a segment sealed again (index rebuild) keeps its count
	s.txns = nil
	s.sealed = true
}

// readHeaderAt reads the batch header at pos.
func readHeaderAt(f io.ReaderAt, pos int64) (record.Header, error) {
	var b [record.HeaderSize]byte
	if _, err := readSmallAt(f, b[:], pos); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return record.Header{}, fmt.Errorf("read batch header at %d: %w", pos, err)
	}
	return record.ParseHeader(b[:])
}

// readSmallAt is f.ReadAt for a small buffer that may live on the
// caller's stack. NB: a buffer passed to a method of an interface escapes
// to the heap, so an operating-system file (the hot path: index lookups
// and batch headers of every read) is read through its *os.File, and
// other files through a heap copy.
func readSmallAt(f io.ReaderAt, p []byte, off int64) (int, error) {
	if o, ok := f.(vfs.OSFile); ok {
		if of := o.OSFile(); of != nil {
			return of.ReadAt(p, off)
		}
	}
	buf := make([]byte, len(p))
	n, err := f.ReadAt(buf, off)
	copy(p, buf[:n])
	return n, err
}

// checkFraming checks the header fields that must hold for any batch this
// log stores, and that the batch fits in the avail bytes left in the file.
func checkFraming(h *record.Header, avail int64) error {
	switch {
	case h.Magic != 2:
		return fmt.Errorf("%w: magic %d", ErrCorruptLog, h.Magic)
	case int(h.Length) < record.HeaderSize-record.LogOverhead:
		return fmt.Errorf("%w: batch length %d", ErrCorruptLog, h.Length)
	case int64(h.Size()) > avail:
		return fmt.Errorf("%w: batch of %d bytes but %d left", ErrCorruptLog, h.Size(), avail)
	case h.BaseOffset < 0 || h.LastOffsetDelta < 0 || h.NumRecords < 0 || int64(h.NumRecords) > int64(h.LastOffsetDelta)+1:
		return fmt.Errorf("%w: base offset %d, last offset delta %d, %d records", ErrCorruptLog, h.BaseOffset, h.LastOffsetDelta, h.NumRecords)
	case h.BaseOffset > math.MaxInt64-int64(h.LastOffsetDelta)-1:
		return fmt.Errorf("%w: base offset %d overflows", ErrCorruptLog, h.BaseOffset)
	case h.Codec() > record.CodecZstd:
		return fmt.Errorf("%w: compression codec %d", ErrCorruptLog, h.Codec())
	}
	return nil
}

// scanStats counts scan work; tests use it to prove a clean open does not
// read whole segments.
type scanStats struct {
	batchesValidated int64 // batches whose CRC was checked
	headersRead      int64 // batches whose header alone was read
}

// batchScanner walks the batches of a segment file from a position. With
// validate it reads every byte and checks each CRC (recovery); without it,
// it reads only headers with pread.
type batchScanner struct {
	f        io.ReaderAt
	pos, end int64
	validate bool
	br       *bufio.Reader
	stats    *scanStats
	hdr      [record.HeaderSize]byte
}

func newBatchScanner(f io.ReaderAt, pos, end int64, validate bool, stats *scanStats) *batchScanner {
	sc := &batchScanner{f: f, pos: pos, end: end, validate: validate, stats: stats}
	if validate {
		sc.br = bufio.NewReaderSize(io.NewSectionReader(f, pos, end-pos), 256<<10)
	}
	return sc
}

// next returns the batch at the scanner's position. done is true at the end
// of the range. A batch that fails validation gives an error wrapping
// ErrCorruptLog; I/O errors are returned as they are.
func (sc *batchScanner) next() (pos int64, h record.Header, done bool, err error) {
	pos = sc.pos
	avail := sc.end - pos
	if avail == 0 {
		return pos, h, true, nil
	}
	if avail < record.HeaderSize {
		return pos, h, false, fmt.Errorf("%w: %d bytes at the end are shorter than a batch header", ErrCorruptLog, avail)
	}
	if sc.validate {
		if _, err := io.ReadFull(sc.br, sc.hdr[:]); err != nil {
			return pos, h, false, fmt.Errorf("read batch at %d: %w", pos, err)
		}
		h, _ = record.ParseHeader(sc.hdr[:])
	} else {
		if h, err = readHeaderAt(sc.f, pos); err != nil {
			return pos, h, false, err
		}
	}
	if err := checkFraming(&h, avail); err != nil {
		return pos, h, false, err
	}
	if sc.validate {
		sum := crc32.Update(0, castagnoli, sc.hdr[21:])
		for left := h.Size() - record.HeaderSize; left > 0; {
			chunk, err := sc.br.Peek(min(left, sc.br.Size()))
			if err != nil {
				return pos, h, false, fmt.Errorf("read batch at %d: %w", pos, err)
			}
			sum = crc32.Update(sum, castagnoli, chunk)
			_, _ = sc.br.Discard(len(chunk))
			left -= len(chunk)
		}
		if sum != h.CRC {
			return pos, h, false, fmt.Errorf("%w: crc %08x, header says %08x", ErrCorruptLog, sum, h.CRC)
		}
		if sc.stats != nil {
			sc.stats.batchesValidated++
		}
	} else if sc.stats != nil {
		sc.stats.headersRead++
	}
	sc.pos += int64(h.Size())
	return pos, h, false, nil
}

// scanSegmentState rebuilds a segment's in-memory state (size, offsets,
// timestamps, indexes) from the batch headers in bytes [0, end) of f, without
// checking CRCs. It returns a detached segment holding that state; framing
// errors wrap ErrCorruptLog.
func scanSegmentState(f io.ReaderAt, base, end, maxNext int64, intervalBytes int, stats *scanStats) (*segment, error) {
	t := newSegment(nil, "", base)
	sc := newBatchScanner(f, 0, end, false, stats)
	expected := base
	for {
		pos, h, done, err := sc.next()
		if done {
			break
		}
		if err == nil {
			err = checkSegmentOffsets(t, &h, expected, maxNext)
		}
		if err != nil {
			return nil, fmt.Errorf("segment %d position %d: %w", base, pos, err)
		}
		t.indexBatchLocked(pos, &h, intervalBytes)
		expected = h.NextOffset()
	}
	if t.size > 0 {
		h, err := readHeaderAt(f, 0)
		if err != nil {
			return nil, err
		}
		t.rollTime = time.UnixMilli(max(h.MaxTimestamp, 0))
	}
	return t, nil
}

// applyStateLocked makes s active with the state scanSegmentState built.
// The caller holds Log.mu for writing (or owns s alone).
func (s *segment) applyStateLocked(t *segment) {
	s.size, s.nextOffset = t.size, t.nextOffset
	s.maxTimestamp, s.offsetOfMaxTimestamp = t.maxTimestamp, t.offsetOfMaxTimestamp
	s.idx, s.tidx = t.idx, t.tidx
	s.idxCount, s.tidxCount = 0, 0
	s.sealed = false
	s.bytesSinceIndex = t.bytesSinceIndex
	s.rollTime = t.rollTime
	s.cutVerifiedLocked(t.size)
}

// cutVerifiedLocked shrinks the verified range to end at or before pos
// (a truncation, or a corrupt batch found at pos). When nothing verified
// is left, the range restarts empty at pos so that appends extend it.
// The caller holds Log.mu for writing (or owns s alone).
func (s *segment) cutVerifiedLocked(pos int64) {
	s.vhi = min(s.vhi, pos)
	if s.vlo >= s.vhi {
		s.vlo, s.vhi = pos, pos
	}
}

// addVerifiedLocked adds [lo, hi) to the verified range when the two
// touch or overlap; the caller holds Log.mu for writing.
func (s *segment) addVerifiedLocked(lo, hi int64) {
	switch {
	case s.vlo == s.vhi:
		s.vlo, s.vhi = lo, hi
	case lo <= s.vhi && hi >= s.vlo:
		s.vlo, s.vhi = min(s.vlo, lo), max(s.vhi, hi)
	}
}
