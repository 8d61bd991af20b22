package storage

import (
	"bufio"
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/strata-io/strata/internal/record"
	"github.com/strata-io/strata/internal/storage/vfs"
)

// Log compaction (cleanup.policy=compact) keeps at least the last record of
// every key, after Kafka's LogCleaner. One pass (Log.Compact):
//
//  1. Range. The cleaner checkpoint D (first dirty offset; the log start
//     offset when unknown) and the first uncleanable offset U = min(active
//     segment base, high watermark, first unstable offset, base of the
//     first dirty segment whose largest timestamp is younger than
//     MinCompactionLag). Nothing to do unless D < U. Below U every
//     transaction is decided (Kafka cleans below the last stable offset).
//  2. Aborted transactions: those overlapping the sealed segments
//     (AbortedTransactions, as Kafka's CleanedTransactionMetadata gets them
//     from collectAbortedTransactions). A transactional batch is aborted
//     when one of its producer's covers its offset; below U, any other is
//     committed, even when its COMMIT marker lies at or above U.
//  3. Offset map. For each keyed record in [D, U) outside control batches
//     and aborted transactions, key → its last offset, within
//     CleanerDedupeBufferBytes: committed transactional records compete
//     with plain ones. If the map fills at offset E the pass ends at E
//     instead of U; call that end.
//  4. Rewrite. Every segment whose base is below end, oldest first, grouped
//     into runs that fit one segment, is copied into one new segment named
//     by the run's base. A record below end stays unless it has a null key,
//     the map holds a later offset for its key, or it is a tombstone below
//     D in a segment first cleaned at least DeleteRetention ago. Records at
//     or above end stay, except in aborted transactions, whose records all
//     go. A transaction marker stays while its transaction may have data
//     left: the rewrite met a data batch of the producer's transaction
//     (kept or not) since the producer's previous marker. Without data it
//     goes once it is below D in a segment first cleaned DeleteRetention
//     ago; the pass that removes a transaction's last data batch restarts
//     the clock of the run holding the marker (so the marker outlives its
//     data by DeleteRetention at least, as with Kafka's delete horizon).
//     A removed ABORT marker's .txnindex entry goes with it. A batch keeps
//     its header (base offset, last offset delta, producer fields, leader
//     epoch, attributes, codec); only its records, CRC and max timestamp
//     change. A batch left without records is dropped, unless it is the
//     last data batch of a producer with state, or for a producer without
//     data in its epoch a marker of that epoch (Kafka's
//     isBatchLastRecordOfProducer: duplicate detection and fencing survive
//     a restart that replays it), or the last batch of the run (so the new
//     segment ends where the run ended, which crash recovery relies on):
//     those stay as empty batches.
//  5. Swap, per run (Kafka's protocol): the new files are written as
//     <base>.{log,index,timeindex}.cleaned and fsynced; renaming them to
//     .swap (the .log last) decides the swap; the new segment is published,
//     the old ones are retired (renamed .deleted, their open files kept for
//     readers until FileDeleteDelay), and the .swap files are renamed to
//     their final names. completeSwaps finishes a decided swap after a crash
//     and discards an undecided one.
//  6. The checkpoint moves to end.
//
// Tombstone clock: a rewritten segment's .log modification time is set to
// the time its records were first cleaned (the pass's clock for runs
// holding dirty records, else the newest time of the run's segments), so
// DeleteRetention counts from the first pass that saw a tombstone, as with
// Kafka's segment lastModified.
//
// NB: a marker's clock is its segment's, so a restart of it also delays
// the run's tombstones and other markers by up to DeleteRetention: late,
// never early. Undecided transactions never reach the rewrite below end
// (U is at most the first unstable offset); their batches in a rewritten
// segment's tail are copied unchanged, and their markers, above D, stay.

// Suffixes of compaction's temporary segment files.
const (
	cleanedFileSuffix = ".cleaned"
	swapFileSuffix    = ".swap"
)

// mapEntryOverhead is what one key of the offset map costs beyond the
// key's bytes: a Go map slot (16-byte string header, 8-byte offset) at the
// map's worst load after growth (about twice the slot), plus the key
// allocation's rounding.
const mapEntryOverhead = 64

// defaultDedupeBufferBytes applies when the log was opened without a bound.
const defaultDedupeBufferBytes = 32 << 20

// Byte positions of v2 batch header fields the rewrite patches (Kafka's
// DefaultRecordBatch layout; see package record).
const (
	batchCRCPos             = 17
	batchAttributesPos      = 21
	batchLastOffsetDeltaPos = 23
	batchBaseTimestampPos   = 27
	batchMaxTimestampPos    = 35
	batchProducerIDPos      = 43
	batchProducerEpochPos   = 51
	batchBaseSequencePos    = 53
	batchNumRecordsPos      = 57
)

var (
	// errCleanAborted: the log changed under a pass (truncation, retention,
	// close); the pass stopped and the next one starts over.
	errCleanAborted = errors.New("log changed during compaction")
	// errCompactHalted: a test stopped the pass as a crash would.
	errCompactHalted = errors.New("compaction halted by test hook")
	// errMapFull stops the offset map walk.
	errMapFull = errors.New("offset map full")
)

// CompactStats describes one compaction pass.
type CompactStats struct {
	FirstDirtyOffset       int64 // the cleaner checkpoint when the pass began
	FirstUncleanableOffset int64 // where the cleanable range ended
	EndOffset              int64 // the cleaner checkpoint after the pass
	MapFull                bool  // the dedupe buffer filled before FirstUncleanableOffset; the next pass continues at EndOffset
	MapKeys                int   // distinct keys in the offset map

	SegmentsRead    int   // segments rewritten
	SegmentsWritten int   // segments that replaced them (runs of small segments merge)
	BytesRead       int64 // bytes of the segments rewritten
	BytesWritten    int64 // bytes of the segments that replaced them

	RecordsRead       int64 // records in the rewritten segments (decoded batches only)
	RecordsRemoved    int64 // superseded records, expired tombstones and null-key records
	TombstonesRemoved int64
	NullKeysRemoved   int64
	EmptyBatchesKept  int64 // batches kept without records (producer state, segment end)

	AbortedRecordsRemoved int64 // records of aborted transactions (also in RecordsRemoved)
	MarkersRemoved        int64 // transaction markers removed (their batch dropped or emptied)
}

// compactPlan is a snapshot of a log's segments and its cleanable range.
type compactPlan struct {
	cfg   LogConfig
	views []segView // every segment, oldest first; the last is the active one
	ends  []int64   // ends[i]: the offset after views[i] (next base; log end offset for the last)
	lso   int64
	hw    int64
	fuo   int64 // first unstable offset, -1 if no transaction is ongoing

	firstDirty       int64 // D
	firstUncleanable int64 // U
	cleanBytes       int64 // segments wholly below D
	dirtyBytes       int64 // segments overlapping [D, U)
}

func (p *compactPlan) cleanable() bool { return p.firstUncleanable > p.firstDirty }

// dirtyRatio is Kafka's cleanable ratio: dirty bytes over clean plus dirty.
func (p *compactPlan) dirtyRatio() float64 {
	if total := p.cleanBytes + p.dirtyBytes; total > 0 {
		return float64(p.dirtyBytes) / float64(total)
	}
	return 0
}

// snapshotPlan copies the segments' published state.
func (l *Log) snapshotPlan() (compactPlan, error) {
	var p compactPlan
	l.mu.RLock()
	if l.mu.closed {
		l.mu.RUnlock()
		return p, ErrLogClosed
	}
	p.cfg = l.mu.config
	p.views = make([]segView, len(l.mu.segments))
	for i, s := range l.mu.segments {
		p.views[i] = s.viewLocked()
	}
	leo := l.mu.logEndOffset
	p.lso = l.mu.logStartOffset
	l.mu.RUnlock()
	p.hw = l.highWatermark.Load()
	p.fuo = l.firstUnstable.Load()
	p.ends = make([]int64, len(p.views))
	for i := range p.views {
		if i+1 < len(p.views) {
			p.ends[i] = p.views[i+1].base
		} else {
			p.ends[i] = leo
		}
	}
	p.firstDirty = l.firstDirty.Load()
	if p.firstDirty < p.lso || p.firstDirty > leo {
		p.firstDirty = p.lso
	}
	return p, nil
}

// computeRange finds the first uncleanable offset and the dirty ratio.
func (p *compactPlan) computeRange(now time.Time) error {
	last := len(p.views) - 1
	d := p.firstDirty
	u := min(p.views[last].base, p.hw)
	if p.fuo >= 0 {
		// NB: every transaction below the first unstable offset is
		// decided, so a transactional record there is known committed or
		// aborted (Kafka cleans below the last stable offset only).
		u = min(u, p.fuo)
	}
	if lag := p.cfg.MinCompactionLag; lag > 0 {
		horizon := now.Add(-lag).UnixMilli()
		for i := range p.views[:last] {
			if p.ends[i] <= d {
				continue
			}
			ts, err := largestTimestamp(&p.views[i])
			if err != nil {
				return err
			}
			if ts > horizon {
				u = min(u, p.views[i].base)
				break
			}
		}
	}
	p.firstUncleanable = u
	p.cleanBytes, p.dirtyBytes = 0, 0
	for i := range p.views[:last] {
		switch v := &p.views[i]; {
		case p.ends[i] <= d:
			p.cleanBytes += v.size
		case v.base < u:
			p.dirtyBytes += v.size
		}
	}
	return nil
}

// largestTimestamp is the segment's largest record timestamp, or its
// file's modification time when it has none (as Kafka's segment).
func largestTimestamp(v *segView) (int64, error) {
	if v.maxTimestamp >= 0 {
		return v.maxTimestamp, nil
	}
	fi, err := v.seg.fs.Stat(v.seg.path(logFileSuffix))
	if err != nil {
		return 0, fmt.Errorf("stat segment %d: %w", v.base, err)
	}
	return fi.ModTime().UnixMilli(), nil
}

// mustCleanNow reports whether the oldest dirty batch is older than
// MaxCompactionLag (KIP-354): its segment is then cleaned whatever the
// dirty ratio.
func (p *compactPlan) mustCleanNow(now time.Time) (bool, error) {
	lag := p.cfg.MaxCompactionLag
	if lag <= 0 || lag == math.MaxInt64 || !p.cleanable() {
		return false, nil
	}
	last := len(p.views) - 1
	for i := range p.views[:last] {
		if p.ends[i] <= p.firstDirty {
			continue
		}
		_, h, found, err := p.views[i].findBatch(p.firstDirty)
		if err != nil {
			return false, err
		}
		if !found {
			continue
		}
		return h.MaxTimestamp >= 0 && h.MaxTimestamp < now.Add(-lag).UnixMilli(), nil
	}
	return false, nil
}

// cleanablePlan snapshots the log and computes its cleanable range; the
// cleaner loop uses it to pick logs.
func (l *Log) cleanablePlan(now time.Time) (compactPlan, error) {
	p, err := l.snapshotPlan()
	if err != nil {
		return p, err
	}
	return p, p.computeRange(now)
}

// offsetMap maps keys to the last offset seen for them in the dirty range,
// within a memory bound (see mapEntryOverhead).
type offsetMap struct {
	offsets map[string]int64
	bytes   int64 // accounted memory
	limit   int64
}

func newOffsetMap(limit int64) *offsetMap {
	if limit <= 0 {
		limit = defaultDedupeBufferBytes
	}
	return &offsetMap{offsets: make(map[string]int64), limit: limit}
}

// put records that key was last seen at offset. It refuses a new key when
// the map is full; the first key is always taken so every pass progresses.
func (m *offsetMap) put(key []byte, offset int64) bool {
	if _, ok := m.offsets[string(key)]; ok {
		m.offsets[string(key)] = offset
		return true
	}
	cost := int64(len(key)) + mapEntryOverhead
	if len(m.offsets) > 0 && m.bytes+cost > m.limit {
		return false
	}
	m.offsets[string(key)] = offset
	m.bytes += cost
	return true
}

// Compact runs one compaction pass synchronously (see the top of
// log_compact.go), whatever the dirty ratio; the cleaner loop in
// LogDir.Run decides when passes are due. now drives MinCompactionLag and
// DeleteRetention. The log must have cleanup.policy compact. Appends and
// reads continue during the pass; a truncation, retention or close that
// touches the segments being rewritten stops it (the next pass starts
// over). A batch failing its CRC gives ErrCorruptLog.
func (l *Log) Compact(now time.Time) (CompactStats, error) {
	return l.compact(context.Background(), now)
}

func (l *Log) compact(ctx context.Context, now time.Time) (CompactStats, error) {
	st, advanced, err := l.compactPass(ctx, now)
	// NB: outside cleanMu: the hook takes LogDir locks, which come first.
	if advanced && l.onCleaned != nil {
		l.onCleaned()
	}
	return st, err
}

// compactPass runs the pass and reports whether it moved the cleaner
// checkpoint.
func (l *Log) compactPass(ctx context.Context, now time.Time) (st CompactStats, advanced bool, err error) {
	l.cleanMu.Lock()
	defer l.cleanMu.Unlock()

	// Segments, producer state and the truncation generation, consistently.
	l.appendMu.Lock()
	if err := l.writableLocked(); err != nil {
		l.appendMu.Unlock()
		return st, false, err
	}
	gen := l.syncGeneration()
	producerLast := make(map[int64]producerLastBatch, len(l.producers.producers))
	for id, e := range l.producers.producers {
		last := producerLastBatch{dataOffset: -1, epoch: e.Epoch}
		if n := len(e.Batches); n > 0 {
			last.dataOffset = e.Batches[n-1].LastOffset
		}
		producerLast[id] = last
	}
	p, err := l.snapshotPlan()
	l.appendMu.Unlock()
	if err != nil {
		return st, false, err
	}
	if !p.cfg.Compact {
		return st, false, fmt.Errorf("compact %s: cleanup.policy does not include compact", l.tp)
	}
	if err := p.computeRange(now); err != nil {
		return st, false, fmt.Errorf("compact %s: %w", l.tp, err)
	}
	st.FirstDirtyOffset, st.FirstUncleanableOffset, st.EndOffset = p.firstDirty, p.firstUncleanable, p.firstDirty
	if !p.cleanable() {
		return st, false, nil
	}

	c := &cleaner{l: l, p: &p, now: now, gen: gen, producerLast: producerLast, st: &st,
		offsets: newOffsetMap(l.dedupeBufferBytes), txnData: map[int64]bool{}, txnKept: map[int64]bool{}, droppedMarkers: map[int64]bool{}}
	if c.aborted, err = l.abortedTxnsOf(&p); err != nil {
		return st, false, fmt.Errorf("compact %s: %w", l.tp, err)
	}
	if c.end, st.MapFull, err = c.buildOffsetMap(ctx); err != nil {
		return st, false, fmt.Errorf("compact %s: %w", l.tp, err)
	}
	st.MapKeys = len(c.offsets.offsets)

	n := 0 // segments to rewrite: those starting below end (never the active one)
	for n < len(p.views)-1 && p.views[n].base < c.end {
		n++
	}
	c.mtimes = make([]time.Time, n)
	for i := range n {
		if p.views[i].base < p.firstDirty {
			fi, err := l.fs.Stat(p.views[i].seg.path(logFileSuffix))
			if err != nil {
				return st, false, fmt.Errorf("compact %s: %w: stat segment %d: %w", l.tp, errCleanAborted, p.views[i].base, err)
			}
			c.mtimes[i] = fi.ModTime()
		}
	}
	for _, g := range groupSegments(p.views[:n], p.ends[:n], p.firstDirty, p.cfg) {
		if err := ctx.Err(); err != nil {
			return st, false, err
		}
		if err := c.cleanGroup(ctx, g[0], g[1]); err != nil {
			return st, false, fmt.Errorf("compact %s: %w", l.tp, err)
		}
	}

	l.appendMu.Lock()
	err = l.writableLocked()
	if err == nil && l.syncGeneration() != gen {
		err = errCleanAborted
	}
	if err == nil {
		l.firstDirty.Store(c.end)
	}
	l.appendMu.Unlock()
	if err != nil {
		return st, false, fmt.Errorf("compact %s: %w", l.tp, err)
	}
	st.EndOffset = c.end
	l.logger.Debug("compacted log", "offset", c.end, "segments", st.SegmentsRead,
		"bytes_read", st.BytesRead, "bytes_written", st.BytesWritten, "records_removed", st.RecordsRemoved)
	return st, true, nil
}

// lowerFirstDirtyLocked keeps the cleaner checkpoint at or below the log
// end offset after a truncation. The caller holds appendMu.
func (l *Log) lowerFirstDirtyLocked(leo int64) {
	if l.firstDirty.Load() > leo {
		l.firstDirty.Store(leo)
	}
}

func (l *Log) halt(stage string) bool {
	return l.haltCompaction != nil && l.haltCompaction(stage)
}

// producerLastBatch is what the pass keeps of a producer the log has
// state for (Kafka's LastRecord).
type producerLastBatch struct {
	dataOffset int64 // last offset of its latest data batch, -1 if none in its epoch
	epoch      int16 // its current epoch
}

// cleaner is the state of one pass.
type cleaner struct {
	l            *Log
	p            *compactPlan
	now          time.Time
	gen          uint64                      // truncation generation at the start
	producerLast map[int64]producerLastBatch // producer ID → its latest batch
	offsets      *offsetMap
	end          int64       // records below it were mapped
	mtimes       []time.Time // modification times of the segments below D, before the pass
	st           *CompactStats

	// aborted holds the aborted transactions with records in the
	// segments the pass may rewrite (Kafka's CleanedTransactionMetadata
	// gets them from collectAbortedTransactions).
	aborted abortedSet
	// txnData: producer ID → the rewrite met a data batch of the
	// producer's transaction since its last marker (in offset order over
	// the whole pass). A marker met while it is false has no data left.
	txnData map[int64]bool
	// txnKept: producer ID → a data batch of its transaction met since
	// its last marker was written out (kept, possibly emptied).
	txnKept map[int64]bool
	// markerOrphaned: the run being rewritten holds a marker whose
	// transaction lost its last data batch in this pass; the run's
	// tombstone clock restarts, so the marker stays DeleteRetention more.
	markerOrphaned bool
	// droppedMarkers holds the offsets of the markers the rewrite removed
	// (or emptied), whose aborted-transaction index entries go with them.
	droppedMarkers map[int64]bool

	batch []byte          // reused read buffer
	kept  []record.Record // reused list of the records a batch keeps
}

// buildOffsetMap maps the keyed records of [D, U). It returns where the
// map stops: U, or the offset of the first record that did not fit.
func (c *cleaner) buildOffsetMap(ctx context.Context) (end int64, full bool, err error) {
	p := c.p
	d, u := p.firstDirty, p.firstUncleanable
	last := len(p.views) - 1
	for i := range p.views[:last] {
		v := &p.views[i]
		if p.ends[i] <= d {
			continue
		}
		if v.base >= u {
			break
		}
		pos, _, found, err := v.findBatch(d)
		if err != nil {
			return 0, false, err
		}
		if !found {
			continue
		}
		f, err := v.seg.logFile()
		if err != nil {
			return 0, false, err
		}
		for pos < v.size {
			if err := ctx.Err(); err != nil {
				return 0, false, err
			}
			h, err := readCheckedHeader(f, v, pos)
			if err != nil {
				return 0, false, err
			}
			if h.BaseOffset >= u {
				return u, false, nil
			}
			if !h.IsControl() && h.LastOffset() >= d && !c.abortedBatch(&h) {
				if c.batch, err = readBatchInto(f, pos, &h, c.batch); err != nil {
					return 0, false, err
				}
				if at, full, err := c.mapBatch(c.batch, &h, d, u); err != nil || full {
					return at, full, err
				}
			}
			pos += int64(h.Size())
		}
	}
	return u, false, nil
}

// mapBatch adds the keyed records of batch in [d, u) to the offset map.
// If the map fills, it returns the offset of the record that did not fit.
func (c *cleaner) mapBatch(batch []byte, h *record.Header, d, u int64) (int64, bool, error) {
	if _, err := record.ValidateBatch(batch); err != nil {
		return 0, false, fmt.Errorf("%w: batch at offset %d: %w", ErrCorruptLog, h.BaseOffset, err)
	}
	fullAt := int64(-1)
	err := record.Records(batch, maxDecompressedBatch, func(r *record.Record) error {
		o := h.BaseOffset + int64(r.OffsetDelta)
		if o < d || o >= u || r.Key == nil {
			return nil
		}
		if !c.offsets.put(r.Key, o) {
			fullAt = o
			return errMapFull
		}
		return nil
	})
	switch {
	case errors.Is(err, errMapFull):
		return fullAt, true, nil
	case err != nil:
		// The rewrite copies a batch it cannot decode unchanged; keys
		// already mapped from it point at records that therefore stay.
		c.l.logger.Warn("compaction keeps an undecodable batch as it is", "offset", h.BaseOffset, "err", err)
	}
	return 0, false, nil
}

// readCheckedHeader reads the header of the batch at pos of a trusted
// segment, checking its framing.
func readCheckedHeader(f vfs.File, v *segView, pos int64) (record.Header, error) {
	h, err := readHeaderAt(f, pos)
	if err != nil {
		return h, err
	}
	if err := checkFraming(&h, v.size-pos); err != nil {
		return h, fmt.Errorf("segment %d position %d: %w", v.base, pos, err)
	}
	return h, nil
}

// readBatchInto reads the whole batch at pos into buf's storage.
func readBatchInto(f vfs.File, pos int64, h *record.Header, buf []byte) ([]byte, error) {
	n := h.Size()
	buf = slices.Grow(buf[:0], n)[:n]
	if _, err := f.ReadAt(buf, pos); err != nil {
		return buf, fmt.Errorf("read batch at %d: %w", pos, err)
	}
	return buf, nil
}

// groupSegments splits the segments to rewrite into runs that each fit one
// segment (Kafka's groupSegmentsBySize): sizes summing to at most
// segment.bytes, offset index entries to at most segment.index.bytes, and
// offsets within 2^31-1 of the run's base. Unlike Kafka, a run never mixes
// segments wholly below the first dirty offset d with later ones: the
// merged segment's tombstone clock would restart (see the top of the
// file). It returns [first, end) index pairs.
func groupSegments(views []segView, ends []int64, d int64, cfg LogConfig) [][2]int {
	var groups [][2]int
	for i := 0; i < len(views); {
		size, entries := views[i].size, views[i].idxCount
		j := i + 1
		for ; j < len(views); j++ {
			if (ends[i] <= d) != (ends[j] <= d) ||
				size+views[j].size > cfg.segmentBytes() ||
				entries+views[j].idxCount+1 > cfg.maxIndexEntries() ||
				ends[j]-1-views[i].base > math.MaxInt32 {
				break
			}
			size += views[j].size
			entries += views[j].idxCount + 1
		}
		groups = append(groups, [2]int{i, j})
		i = j
	}
	return groups
}

// cleanGroup rewrites the segments views[lo:hi] into one and swaps it in.
func (c *cleaner) cleanGroup(ctx context.Context, lo, hi int) error {
	p, l := c.p, c.l
	base := p.views[lo].base
	var cleanedAt time.Time
	for k := lo; k < hi; k++ {
		t := c.now
		if p.ends[k] <= p.firstDirty {
			t = c.mtimes[k]
		}
		if t.After(cleanedAt) {
			cleanedAt = t
		}
	}
	c.markerOrphaned = false
	ns, changed, err := c.writeCleaned(ctx, lo, hi, cleanedAt)
	if c.markerOrphaned {
		cleanedAt = c.now // as writeCleaned set it
	}
	if err != nil {
		if ns != nil {
			_ = ns.closeFiles()
		}
		removeCleaned(l.fs, l.dir, base)
		return err
	}
	if l.halt("cleaned") {
		_ = ns.closeFiles()
		return errCompactHalted
	}
	old := make([]*segment, 0, hi-lo)
	for k := lo; k < hi; k++ {
		old = append(old, p.views[k].seg)
	}
	if !changed {
		// A lone segment that lost nothing stays; only its tombstone clock
		// may need to start.
		_ = ns.closeFiles()
		removeCleaned(l.fs, l.dir, base)
		if p.ends[lo] > p.firstDirty || c.markerOrphaned {
			return l.touchCleanedSegment(c.gen, old[0], cleanedAt)
		}
		return nil
	}
	committed, err := l.swapCleaned(c.gen, old, ns)
	if !committed {
		_ = ns.closeFiles()
		removeCleaned(l.fs, l.dir, base)
	}
	if err != nil {
		return err
	}
	c.st.SegmentsRead += hi - lo
	c.st.SegmentsWritten++
	for k := lo; k < hi; k++ {
		c.st.BytesRead += p.views[k].size
	}
	c.st.BytesWritten += ns.size
	return nil
}

func cleanedPath(dir string, base int64, suffix string) string {
	return filepath.Join(dir, segmentFileName(base, suffix)) + cleanedFileSuffix
}

func swapPath(dir string, base int64, suffix string) string {
	return filepath.Join(dir, segmentFileName(base, suffix)) + swapFileSuffix
}

// removeCleaned removes the files of an undecided swap.
func removeCleaned(fsys vfs.FS, dir string, base int64) {
	for _, suffix := range segmentFileSuffixes {
		_ = fsys.Remove(cleanedPath(dir, base, suffix))
		_ = fsys.Remove(swapPath(dir, base, suffix))
	}
}

// writeCleaned writes the cleaned copy of views[lo:hi] as <base>.*.cleaned
// files, fsynced, and returns the new sealed segment with its files open
// (they stay valid through the renames that follow). changed is false
// when the output equals a lone input segment.
func (c *cleaner) writeCleaned(ctx context.Context, lo, hi int, cleanedAt time.Time) (ns *segment, changed bool, err error) {
	p, l := c.p, c.l
	base := p.views[lo].base
	ns = newSegment(l.fs, l.dir, base)
	f, err := l.fs.Create(cleanedPath(l.dir, base, logFileSuffix))
	if err != nil {
		return nil, false, fmt.Errorf("create cleaned segment %d: %w", base, err)
	}
	ns.files.log = f
	w := bufio.NewWriterSize(f, 256<<10)
	changed = hi-lo > 1
	var pos int64
	for k := lo; k < hi; k++ {
		v := &p.views[k]
		src, err := v.seg.logFile()
		if err != nil {
			return ns, false, err
		}
		dropTombstones := v.base < p.firstDirty && c.now.Sub(c.mtimes[k]) >= p.cfg.DeleteRetention
		for spos := int64(0); spos < v.size; {
			if err := ctx.Err(); err != nil {
				return ns, false, err
			}
			h, err := readCheckedHeader(src, v, spos)
			if err != nil {
				return ns, false, err
			}
			if c.batch, err = readBatchInto(src, spos, &h, c.batch); err != nil {
				return ns, false, err
			}
			if record.Checksum(c.batch) != h.CRC {
				// NB: a rewrite would give the damaged records a fresh,
				// valid CRC; stop, and let the replica be repaired.
				cerr := fmt.Errorf("%w: segment %d position %d: crc mismatch", ErrCorruptLog, v.base, spos)
				if _, ok := l.markCorrupt(v.seg, spos, cerr); !ok {
					return ns, false, errCleanAborted
				}
				return ns, false, cerr
			}
			spos += int64(h.Size())
			groupLast := k == hi-1 && spos == v.size
			out, err := c.filterBatch(c.batch, &h, dropTombstones, groupLast)
			if err != nil {
				return ns, false, err
			}
			if out == nil {
				changed = true
				continue
			}
			if len(out) != len(c.batch) || &out[0] != &c.batch[0] {
				changed = true
			}
			if _, err := w.Write(out); err != nil {
				return ns, false, fmt.Errorf("write cleaned segment %d: %w", base, err)
			}
			oh, err := record.ParseHeader(out)
			if err != nil {
				return ns, false, err
			}
			ns.indexBatchLocked(pos, &oh, p.cfg.IndexIntervalBytes)
			pos += int64(len(out))
		}
	}
	if err := w.Flush(); err != nil {
		return ns, false, fmt.Errorf("write cleaned segment %d: %w", base, err)
	}
	if !changed {
		return ns, false, nil
	}
	ns.maybeAppendTimeEntryLocked()
	if c.markerOrphaned {
		cleanedAt = c.now
	}
	if err := l.fs.Chtimes(f.Name(), cleanedAt, cleanedAt); err != nil {
		return ns, false, fmt.Errorf("set time of cleaned segment %d: %w", base, err)
	}
	if err := f.Sync(); err != nil {
		return ns, false, fmt.Errorf("fsync cleaned segment %d: %w", base, err)
	}
	if err := writeFileSynced(l.fs, cleanedPath(l.dir, base, indexFileSuffix), encodeOffsetIndex(ns.idx)); err != nil {
		return ns, false, err
	}
	if err := writeFileSynced(l.fs, cleanedPath(l.dir, base, timeIndexFileSuffix), encodeTimeIndex(ns.tidx)); err != nil {
		return ns, false, err
	}
	// The run's aborted transactions carry over, but for those whose ABORT
	// marker the rewrite removed: they have no record left to hide.
	for k := lo; k < hi; k++ {
		if v := &p.views[k]; v.txnCount > 0 {
			txns, err := v.seg.readTxnIndex(v.next)
			if err != nil {
				return ns, false, err
			}
			for _, t := range txns {
				if !c.droppedMarkers[t.LastOffset] {
					ns.txns = append(ns.txns, t)
				}
			}
		}
	}
	if len(ns.txns) > 0 {
		if err := writeFileSynced(l.fs, cleanedPath(l.dir, base, txnIndexFileSuffix), encodeTxnIndex(ns.txns)); err != nil {
			return ns, false, err
		}
	}
	if err := syncDir(l.fs, l.dir); err != nil {
		return ns, false, err
	}
	for _, x := range []struct {
		f      *vfs.File
		suffix string
	}{{&ns.files.idx, indexFileSuffix}, {&ns.files.tidx, timeIndexFileSuffix}} {
		if *x.f, err = l.fs.Open(cleanedPath(l.dir, base, x.suffix)); err != nil {
			return ns, false, fmt.Errorf("open cleaned index %d: %w", base, err)
		}
	}
	ns.sealLocked()
	ns.nextOffset = p.ends[hi-1]
	ns.vlo, ns.vhi = 0, ns.size // built from batches whose CRCs were checked
	return ns, true, nil
}

// filterBatch returns what the rewrite writes for batch: batch itself when
// every record stays, a rebuilt batch of the records that stay, an empty
// batch, or nil to drop it.
func (c *cleaner) filterBatch(batch []byte, h *record.Header, dropTombstones, groupLast bool) ([]byte, error) {
	if h.IsControl() {
		return c.filterMarker(batch, h, dropTombstones, groupLast)
	}
	if !h.IsTransactional() || !h.HasProducerID() {
		return c.filterData(batch, h, false, dropTombstones, groupLast)
	}
	c.txnData[h.ProducerID] = true
	out, err := c.filterData(batch, h, c.abortedBatch(h), dropTombstones, groupLast)
	if out != nil {
		c.txnKept[h.ProducerID] = true
	}
	return out, err
}

// filterData is filterBatch for a data batch; aborted says whether it
// belongs to an aborted transaction.
func (c *cleaner) filterData(batch []byte, h *record.Header, aborted, dropTombstones, groupLast bool) ([]byte, error) {
	if h.BaseOffset >= c.end && !aborted {
		return batch, nil
	}
	if _, err := record.ValidateBatch(batch); err != nil {
		return nil, fmt.Errorf("%w: batch at offset %d: %w", ErrCorruptLog, h.BaseOffset, err)
	}
	if h.NumRecords == 0 {
		// Kept empty by an earlier pass: it goes once no longer needed.
		if c.keepEmpty(h, groupLast) {
			return batch, nil
		}
		return nil, nil
	}
	if aborted {
		// An aborted transaction's records go whole, wherever they are:
		// its ABORT marker decided it (Kafka's discardBatchRecords).
		c.st.RecordsRead += int64(h.NumRecords)
		c.st.RecordsRemoved += int64(h.NumRecords)
		c.st.AbortedRecordsRemoved += int64(h.NumRecords)
		if c.keepEmpty(h, groupLast) {
			c.st.EmptyBatchesKept++
			return emptyBatch(h), nil
		}
		return nil, nil
	}
	d, end := c.p.firstDirty, c.end
	c.kept = c.kept[:0]
	var tombstones, nullKeys int64
	err := record.Records(batch, maxDecompressedBatch, func(r *record.Record) error {
		o := h.BaseOffset + int64(r.OffsetDelta)
		if o < end {
			if r.Key == nil {
				nullKeys++
				return nil
			}
			if last, ok := c.offsets.offsets[string(r.Key)]; ok && o < last {
				return nil
			}
			if r.Value == nil && o < d && dropTombstones {
				tombstones++
				return nil
			}
		}
		k := *r
		k.Headers = slices.Clone(r.Headers)
		c.kept = append(c.kept, k)
		return nil
	})
	if err != nil {
		// Undecodable (mapBatch logged it): keep it whole.
		return batch, nil
	}
	removed := int64(h.NumRecords) - int64(len(c.kept))
	c.st.RecordsRead += int64(h.NumRecords)
	if removed == 0 {
		return batch, nil
	}
	c.st.RecordsRemoved += removed
	c.st.TombstonesRemoved += tombstones
	c.st.NullKeysRemoved += nullKeys
	if len(c.kept) == 0 {
		if c.keepEmpty(h, groupLast) {
			c.st.EmptyBatchesKept++
			return emptyBatch(h), nil
		}
		return nil, nil
	}
	return rebuildBatch(h, c.kept)
}

// keepEmpty reports whether a batch left without records stays: the last
// batch of a run (so the new segment ends where the run ended), or the
// latest batch of a producer the log has state for (Kafka's
// lastRecordsOfActiveProducers), whose header a restart without producer
// snapshots replays to rebuild duplicate detection.
func (c *cleaner) keepEmpty(h *record.Header, groupLast bool) bool {
	if groupLast {
		return true
	}
	if !h.HasProducerID() {
		return false
	}
	last, ok := c.producerLast[h.ProducerID]
	switch {
	case !ok:
		return false
	case last.dataOffset >= 0:
		// The batch holding the producer's last sequence.
		return h.LastOffset() == last.dataOffset
	default:
		// No data in its epoch: a marker of that epoch carries it, which
		// fencing needs after a restart.
		return h.IsControl() && h.ProducerEpoch == last.epoch
	}
}

// filterMarker returns what the rewrite writes for the control batch h
// (Kafka's shouldDiscardBatch for a marker): the batch itself while a
// record of its transaction may remain in the log (the rewrite met a data
// batch of the transaction, kept or not, since the producer's previous
// marker) or while it is younger than DeleteRetention by the tombstone
// clock (below D, in a segment first cleaned DeleteRetention ago).
// Otherwise it goes, or stays as an empty batch when keepEmpty says so.
// A marker whose transaction had data in the pass but kept none restarts
// the run's tombstone clock (markerOrphaned).
func (c *cleaner) filterMarker(batch []byte, h *record.Header, dropTombstones, groupLast bool) ([]byte, error) {
	if !h.HasProducerID() {
		return batch, nil
	}
	hasData, kept := c.txnData[h.ProducerID], c.txnKept[h.ProducerID]
	delete(c.txnData, h.ProducerID)
	delete(c.txnKept, h.ProducerID)
	if hasData && !kept {
		c.markerOrphaned = true
	}
	if hasData || !dropTombstones || h.BaseOffset >= c.p.firstDirty {
		return batch, nil
	}
	if h.NumRecords > 0 {
		c.st.MarkersRemoved++
	}
	c.droppedMarkers[h.BaseOffset] = true
	if c.keepEmpty(h, groupLast) {
		if h.NumRecords == 0 {
			return batch, nil
		}
		c.st.EmptyBatchesKept++
		return emptyBatch(h), nil
	}
	return nil, nil
}

// abortedBatch reports whether the transactional batch h belongs to an
// aborted transaction.
func (c *cleaner) abortedBatch(h *record.Header) bool {
	return h.IsTransactional() && h.HasProducerID() && c.aborted.contains(h.ProducerID, h.BaseOffset)
}

// abortedSet holds aborted transactions by producer, each producer's by
// first offset (a producer's transactions never overlap).
type abortedSet map[int64][]AbortedTxn

func (s abortedSet) contains(producerID, offset int64) bool {
	txns := s[producerID]
	i, _ := slices.BinarySearchFunc(txns, offset, func(t AbortedTxn, o int64) int { return cmp.Compare(t.FirstOffset, o) })
	// txns[i-1] is the last transaction starting at or before offset
	// (i itself when it starts exactly there).
	if i < len(txns) && txns[i].FirstOffset == offset {
		return true
	}
	return i > 0 && txns[i-1].LastOffset >= offset
}

// abortedTxnsOf collects the aborted transactions overlapping the sealed
// segments of p: the only ones the pass may meet records of.
func (l *Log) abortedTxnsOf(p *compactPlan) (abortedSet, error) {
	last := len(p.views) - 1
	txns, err := l.AbortedTransactions(p.views[0].base, p.views[last].base)
	if err != nil {
		return nil, err
	}
	s := abortedSet{}
	for _, t := range txns {
		s[t.ProducerID] = append(s[t.ProducerID], t)
	}
	for _, ts := range s {
		slices.SortFunc(ts, func(a, b AbortedTxn) int { return cmp.Compare(a.FirstOffset, b.FirstOffset) })
	}
	return s, nil
}

// rebuildBatch encodes kept (records of the batch h, in order) as a batch
// with h's header fields: base offset, last offset delta, partition leader
// epoch, producer fields, attributes and codec. Only the record count, the
// max timestamp (CreateTime: of the kept records) and the CRC change, as
// with Kafka's cleaner.
func rebuildBatch(h *record.Header, kept []record.Record) ([]byte, error) {
	b := record.NewBuilder(h.Codec(), h.BaseTimestamp)
	b.SetProducer(h.ProducerID, h.ProducerEpoch, h.BaseSequence)
	b.SetTransactional(h.IsTransactional())
	for i := range kept {
		b.AddRecord(&kept[i])
	}
	out, err := b.Build()
	if err != nil {
		return nil, fmt.Errorf("rebuild batch at offset %d: %w", h.BaseOffset, err)
	}
	record.SetBaseOffset(out, h.BaseOffset)
	record.SetPartitionLeaderEpoch(out, h.PartitionLeaderEpoch)
	binary.BigEndian.PutUint32(out[batchLastOffsetDeltaPos:], uint32(h.LastOffsetDelta))
	if h.IsLogAppendTime() {
		record.SetLogAppendTime(out, h.MaxTimestamp) // also sets the CRC
	} else {
		binary.BigEndian.PutUint32(out[batchCRCPos:], record.Checksum(out))
	}
	return out, nil
}

// emptyBatch is h without records, as Kafka's cleaner writes a batch it
// keeps for its header (DefaultRecordBatch.writeEmptyHeader): uncompressed,
// base and max timestamp set to h's max timestamp, offsets, producer
// fields, leader epoch and the other attributes unchanged.
func emptyBatch(h *record.Header) []byte {
	b := make([]byte, record.HeaderSize)
	be := binary.BigEndian
	record.SetBaseOffset(b, h.BaseOffset)
	be.PutUint32(b[8:], uint32(record.HeaderSize-record.LogOverhead))
	record.SetPartitionLeaderEpoch(b, h.PartitionLeaderEpoch)
	b[16] = 2 // magic
	be.PutUint16(b[batchAttributesPos:], uint16(h.Attributes&^record.AttrCompressionMask))
	be.PutUint32(b[batchLastOffsetDeltaPos:], uint32(h.LastOffsetDelta))
	be.PutUint64(b[batchBaseTimestampPos:], uint64(h.MaxTimestamp))
	be.PutUint64(b[batchMaxTimestampPos:], uint64(h.MaxTimestamp))
	be.PutUint64(b[batchProducerIDPos:], uint64(h.ProducerID))
	be.PutUint16(b[batchProducerEpochPos:], uint16(h.ProducerEpoch))
	be.PutUint32(b[batchBaseSequencePos:], uint32(h.BaseSequence))
	be.PutUint32(b[batchNumRecordsPos:], 0)
	be.PutUint32(b[batchCRCPos:], record.Checksum(b))
	return b
}

// checkSegmentsLocked reports whether old is still a run of the log's
// segments, followed by another, with no truncation since gen. The caller
// holds appendMu.
func (l *Log) checkSegmentsLocked(gen uint64, old []*segment) error {
	if err := l.writableLocked(); err != nil {
		return err
	}
	if l.syncGeneration() != gen {
		return errCleanAborted
	}
	segs := l.segmentsSnapshot()
	i := slices.Index(segs, old[0])
	if i < 0 || i+len(old) >= len(segs) {
		return errCleanAborted
	}
	for j, s := range old {
		if segs[i+j] != s {
			return errCleanAborted
		}
	}
	return nil
}

// swapCleaned replaces the segments old by ns, whose files are
// <base>.*.cleaned. committed reports whether the swap was decided
// (<base>.log.swap exists); after that, a failure fails the log and the
// next open completes the swap (completeSwaps).
func (l *Log) swapCleaned(gen uint64, old []*segment, ns *segment) (committed bool, err error) {
	l.appendMu.Lock()
	defer l.appendMu.Unlock()
	if err := l.checkSegmentsLocked(gen, old); err != nil {
		return false, err
	}
	base := ns.base
	// The .log rename decides the swap, so it goes last.
	suffixes := []string{indexFileSuffix, timeIndexFileSuffix, logFileSuffix}
	if ns.txnCount > 0 {
		suffixes = []string{indexFileSuffix, timeIndexFileSuffix, txnIndexFileSuffix, logFileSuffix}
	}
	for _, suffix := range suffixes {
		if err := l.fs.Rename(cleanedPath(l.dir, base, suffix), swapPath(l.dir, base, suffix)); err != nil {
			return false, fmt.Errorf("rename cleaned segment %d: %w", base, err)
		}
	}
	if err := syncDir(l.fs, l.dir); err != nil {
		return true, l.fail(err)
	}
	if l.halt("swap") {
		_ = ns.closeFiles() // a crash closes them; ns was never published
		return true, errCompactHalted
	}

	// Readers move to ns, whose files are open already.
	l.mu.Lock()
	segs := l.mu.segments
	i := slices.Index(segs, old[0])
	next := make([]*segment, 0, len(segs)-len(old)+1)
	next = append(next, segs[:i]...)
	next = append(next, ns)
	next = append(next, segs[i+len(old):]...)
	l.mu.segments = next
	cfg := l.mu.config
	l.mu.Unlock()

	var errs []error
	for _, s := range old {
		if l.halt("retire") {
			return true, errCompactHalted
		}
		// Readers holding views of s look its indexes up after the rename.
		_, _ = s.indexFile()
		_, _ = s.timeIndexFile()
		errs = append(errs, l.retireSegment(s, cfg.FileDeleteDelay))
	}
	if err := errors.Join(errs...); err != nil {
		return true, l.fail(err)
	}
	if l.halt("retired") {
		return true, errCompactHalted
	}
	for _, suffix := range suffixes {
		if err := l.fs.Rename(swapPath(l.dir, base, suffix), ns.path(suffix)); err != nil {
			return true, l.fail(fmt.Errorf("rename swapped segment %d: %w", base, err))
		}
	}
	if err := syncDir(l.fs, l.dir); err != nil {
		return true, l.fail(err)
	}
	return true, nil
}

// touchCleanedSegment starts the tombstone clock of a segment that a pass
// cleaned without changing it (see the top of the file).
func (l *Log) touchCleanedSegment(gen uint64, s *segment, cleanedAt time.Time) error {
	l.appendMu.Lock()
	defer l.appendMu.Unlock()
	if err := l.checkSegmentsLocked(gen, []*segment{s}); err != nil {
		return err
	}
	if err := l.fs.Chtimes(s.path(logFileSuffix), cleanedAt, cleanedAt); err != nil {
		return fmt.Errorf("set time of segment %d: %w", s.base, err)
	}
	f, err := s.logFile()
	if err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return l.fail(fmt.Errorf("fsync segment %d: %w", s.base, err))
	}
	return nil
}

// completeSwaps finishes or discards the compaction swaps a crash
// interrupted in the partition directory dir, before its segments are
// listed:
//
//   - *.cleaned files belong to swaps not yet decided: removed;
//   - <X>.index.swap or <X>.timeindex.swap without <X>.log.swap: the same;
//   - <X>.log.swap: the swap was decided. The new segment ends where the
//     run of segments it replaces ended (see filterBatch), so the old
//     segments are exactly those with a base in [X, n), n the offset after
//     its last batch. They are removed, then the .swap files take their
//     final names (an index file without a .swap is removed, to be
//     rebuilt).
func completeSwaps(fsys vfs.FS, dir string, logger *slog.Logger) error {
	entries, err := fsys.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("list partition dir: %w", err)
	}
	var swaps, logs []int64
	swapIndexes := map[string]bool{}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() {
			continue
		}
		switch {
		case strings.HasSuffix(name, cleanedFileSuffix):
			if err := fsys.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("remove leftover %s: %w", name, err)
			}
		case strings.HasSuffix(name, logFileSuffix+swapFileSuffix):
			if base, ok := parseOffsetFileName(name, logFileSuffix+swapFileSuffix); ok {
				swaps = append(swaps, base)
			}
		case strings.HasSuffix(name, swapFileSuffix):
			swapIndexes[name] = true
		default:
			if base, ok := parseOffsetFileName(name, logFileSuffix); ok {
				logs = append(logs, base)
			}
		}
	}
	decided := map[string]bool{}
	for _, x := range swaps {
		for _, suffix := range indexFileSuffixes {
			decided[segmentFileName(x, suffix)+swapFileSuffix] = true
		}
	}
	for name := range swapIndexes {
		if !decided[name] {
			if err := fsys.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("remove leftover %s: %w", name, err)
			}
		}
	}
	if len(swaps) == 0 {
		return nil
	}
	slices.Sort(swaps)
	for _, x := range swaps {
		n, err := swapNextOffset(fsys, swapPath(dir, x, logFileSuffix), x)
		if err != nil {
			return err
		}
		logger.Warn("completing a compaction swap interrupted by a crash", "segment", x, "offset", n)
		for _, b := range logs {
			if b <= x || b >= n {
				continue
			}
			for _, suffix := range segmentFileSuffixes {
				p := filepath.Join(dir, segmentFileName(b, suffix))
				if err := fsys.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
					return fmt.Errorf("remove replaced segment %d: %w", b, err)
				}
			}
		}
		// NB: a swap without a .txnindex.swap had no aborted transaction;
		// removing the final name drops the index of the run's first old
		// segment, which the new one replaces.
		for _, suffix := range indexFileSuffixes {
			final := filepath.Join(dir, segmentFileName(x, suffix))
			if err := fsys.Rename(swapPath(dir, x, suffix), final); err != nil {
				if !errors.Is(err, os.ErrNotExist) {
					return fmt.Errorf("complete swap of segment %d: %w", x, err)
				}
				if err := fsys.Remove(final); err != nil && !errors.Is(err, os.ErrNotExist) {
					return fmt.Errorf("remove stale index of segment %d: %w", x, err)
				}
			}
		}
		if err := fsys.Rename(swapPath(dir, x, logFileSuffix), filepath.Join(dir, segmentFileName(x, logFileSuffix))); err != nil {
			return fmt.Errorf("complete swap of segment %d: %w", x, err)
		}
	}
	return syncDir(fsys, dir)
}

// swapNextOffset returns the offset after the last batch of the segment
// file at path, whose base offset is base (base if it is empty).
func swapNextOffset(fsys vfs.FS, path string, base int64) (int64, error) {
	f, err := fsys.Open(path)
	if err != nil {
		return 0, fmt.Errorf("open swap segment: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0, fmt.Errorf("stat swap segment: %w", err)
	}
	next := base
	sc := newBatchScanner(f, 0, fi.Size(), false, nil)
	for {
		_, h, done, err := sc.next()
		if done {
			return next, nil
		}
		if err != nil {
			// It was fsynced before the swap was decided.
			return 0, fmt.Errorf("swap segment %s: %w", path, err)
		}
		next = h.NextOffset()
	}
}
