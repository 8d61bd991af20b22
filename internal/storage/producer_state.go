package storage

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"maps"
	"slices"

	"github.com/strata-io/strata/internal/failpoint"
	"github.com/strata-io/strata/internal/record"
)

// maxProducerBatches is how many recent batches are kept per producer for
// duplicate detection (Kafka's ProducerStateEntry.NUM_BATCHES_TO_RETAIN; the
// client allows at most 5 in-flight requests with idempotence).
const maxProducerBatches = 5

// batchMetadata describes one batch an idempotent producer wrote.
type batchMetadata struct {
	FirstSeq, LastSeq       int32
	FirstOffset, LastOffset int64
	Timestamp               int64 // the batch's max timestamp
}

// producerEntry is what the log remembers of one producer ID.
type producerEntry struct {
	ProducerID    int64
	Epoch         int16
	LastTimestamp int64           // max timestamp of the latest batch; drives expiration
	Batches       []batchMetadata // oldest first, at most maxProducerBatches
	// CurrentTxnFirstOffset is the first offset of the producer's ongoing
	// transaction, -1 if none (Kafka's currentTxnFirstOffset).
	CurrentTxnFirstOffset int64
	// CoordinatorEpoch is the coordinator epoch of the last transaction
	// marker, -1 if none: a marker from an older coordinator is fenced.
	CoordinatorEpoch int32
}

func newProducerEntry(id int64, epoch int16) *producerEntry {
	return &producerEntry{ProducerID: id, Epoch: epoch, CurrentTxnFirstOffset: -1, CoordinatorEpoch: -1}
}

func (e *producerEntry) clone() *producerEntry {
	c := *e
	c.Batches = slices.Clone(e.Batches)
	return &c
}

// lastSeq is the last sequence written in the current epoch, -1 if none.
func (e *producerEntry) lastSeq() int32 {
	if len(e.Batches) == 0 {
		return -1
	}
	return e.Batches[len(e.Batches)-1].LastSeq
}

// findDuplicate returns the retained batch with the same epoch and sequence
// range as h, if any.
func (e *producerEntry) findDuplicate(h *record.Header) (batchMetadata, bool) {
	if h.ProducerEpoch != e.Epoch {
		return batchMetadata{}, false
	}
	last := h.LastSequence()
	for _, b := range e.Batches {
		if b.FirstSeq == h.BaseSequence && b.LastSeq == last {
			return b, true
		}
	}
	return batchMetadata{}, false
}

// setEpoch moves the entry to epoch, forgetting batches of the old one.
func (e *producerEntry) setEpoch(epoch int16) {
	if e.Epoch != epoch {
		e.Epoch = epoch
		e.Batches = e.Batches[:0]
	}
}

func (e *producerEntry) addBatch(epoch int16, m batchMetadata) {
	e.setEpoch(epoch)
	if len(e.Batches) == maxProducerBatches {
		copy(e.Batches, e.Batches[1:])
		e.Batches = e.Batches[:maxProducerBatches-1]
	}
	e.Batches = append(e.Batches, m)
	e.LastTimestamp = m.Timestamp
}

// producerState maps producer IDs to their entries. Owned by Log.appendMu.
type producerState struct {
	producers map[int64]*producerEntry
	// ongoing holds the ongoing transactions, ascending by first offset
	// (Kafka's ongoingTxns): one per producer whose entry has
	// CurrentTxnFirstOffset >= 0. Its first element is the first unstable
	// offset.
	ongoing []ongoingTxn
	// verifying holds the transaction verifications in progress, by
	// producer id (KIP-890 part 1): see VerificationGuard.
	verifying map[int64]*VerificationGuard
}

// VerificationGuard stands for one transaction verification of a producer
// on a log (Kafka's VerificationGuard, KIP-890 part 1). The leader takes
// one (Log.StartTxnVerification) before asking the transaction coordinator
// whether the log's partition is in the producer's ongoing transaction,
// and hands it to AppendVerifiedAsLeader once the coordinator said yes.
// Anything that may have ended that transaction in the meantime (a marker
// of the producer, the transaction starting through another request, a
// verification in a newer epoch, a reload of the producer state) drops the
// guard from the log, and the append with it is refused: a marker written
// between the check and the append cannot let the batch start a
// transaction the coordinator never heard of.
type VerificationGuard struct {
	producerID int64
	epoch      int16
	startedMs  int64 // for expiry with producer.id.expiration.ms
}

// guardValid reports whether g is the verification in progress for
// producerID in epoch.
func (s *producerState) guardValid(g *VerificationGuard, producerID int64, epoch int16) bool {
	return g != nil && g.producerID == producerID && g.epoch == epoch && s.verifying[producerID] == g
}

// ongoingTxn is a transaction whose marker has not been written yet.
type ongoingTxn struct {
	FirstOffset int64
	ProducerID  int64
}

func newProducerState() *producerState {
	return &producerState{producers: make(map[int64]*producerEntry)}
}

// rebuildOngoing derives the ongoing transactions from the entries (after
// a snapshot was read).
func (s *producerState) rebuildOngoing() {
	s.ongoing = s.ongoing[:0]
	for _, e := range s.producers {
		if e.CurrentTxnFirstOffset >= 0 {
			s.ongoing = append(s.ongoing, ongoingTxn{FirstOffset: e.CurrentTxnFirstOffset, ProducerID: e.ProducerID})
		}
	}
	slices.SortFunc(s.ongoing, func(a, b ongoingTxn) int { return cmp.Compare(a.FirstOffset, b.FirstOffset) })
}

// firstUnstableOffset is the first offset of the oldest ongoing
// transaction, -1 if there is none.
func (s *producerState) firstUnstableOffset() int64 {
	if len(s.ongoing) == 0 {
		return -1
	}
	return s.ongoing[0].FirstOffset
}

func (s *producerState) addOngoing(t ongoingTxn) {
	i, _ := slices.BinarySearchFunc(s.ongoing, t.FirstOffset, func(e ongoingTxn, off int64) int { return cmp.Compare(e.FirstOffset, off) })
	s.ongoing = slices.Insert(s.ongoing, i, t)
}

func (s *producerState) removeOngoing(firstOffset int64) {
	i, ok := slices.BinarySearchFunc(s.ongoing, firstOffset, func(e ongoingTxn, off int64) int { return cmp.Compare(e.FirstOffset, off) })
	if ok {
		s.ongoing = slices.Delete(s.ongoing, i, i+1)
	}
}

// lastStableOffsetAfter is the last stable offset once producerID's
// transaction ending at lastOffset is complete: the first offset of the
// oldest other ongoing transaction, or the offset after the marker
// (Kafka's ProducerStateManager.lastStableOffset(completedTxn)).
func (s *producerState) lastStableOffsetAfter(producerID, lastOffset int64) int64 {
	for _, t := range s.ongoing {
		if t.ProducerID != producerID {
			return t.FirstOffset
		}
	}
	return lastOffset + 1
}

// removeExpired drops producers whose last batch timestamp is at least
// expirationMs before nowMs (producer.id.expiration.ms), except those with
// an ongoing transaction (as Kafka). It returns how many it removed.
func (s *producerState) removeExpired(nowMs, expirationMs int64) int {
	for id, g := range s.verifying {
		if nowMs-g.startedMs >= expirationMs {
			delete(s.verifying, id)
		}
	}
	n := 0
	for id, e := range s.producers {
		if e.CurrentTxnFirstOffset < 0 && nowMs-e.LastTimestamp >= expirationMs {
			delete(s.producers, id)
			n++
		}
	}
	return n
}

// producerAppend stages the producer-state changes of one append call so
// that nothing changes if any batch of the call is refused.
type producerAppend struct {
	state   *producerState
	updated map[int64]*producerEntry
	txns    []txnEvent // transactions started and ended by the staged batches, in offset order
	// unguard lists the producers whose verification guard the staged
	// batches end: a marker, or a transactional batch starting a
	// transaction.
	unguard []int64
	// coordinator marks an append of a coordinator's own batches (Kafka's
	// AppendOrigin.COORDINATOR): no duplicate detection, no sequence
	// checks; epochs are still checked.
	coordinator bool
}

// txnEvent is a transaction starting (a transactional batch of a producer
// with none ongoing) or ending (its marker, at LastOffset).
type txnEvent struct {
	ProducerID  int64
	FirstOffset int64
	LastOffset  int64 // the marker's offset; -1 for a start
	Abort       bool
}

func (s *producerState) begin() *producerAppend {
	return &producerAppend{state: s}
}

func (a *producerAppend) entry(id int64) *producerEntry {
	if e, ok := a.updated[id]; ok {
		return e
	}
	return a.state.producers[id]
}

// ongoing reports whether producer id has an ongoing transaction in
// epoch, counting the staged batches.
func (a *producerAppend) ongoing(id int64, epoch int16) bool {
	e := a.entry(id)
	return e != nil && e.CurrentTxnFirstOffset >= 0 && e.Epoch == epoch
}

// duplicate reports whether h retries a batch already in the log. Like
// Kafka it looks only at the state before this call.
func (a *producerAppend) duplicate(h *record.Header) (batchMetadata, bool) {
	if !h.HasProducerID() || h.IsControl() || a.coordinator || failpoint.Inject(failpoint.DuplicateOnRetry) {
		return batchMetadata{}, false
	}
	e, ok := a.state.producers[h.ProducerID]
	if !ok {
		return batchMetadata{}, false
	}
	return e.findDuplicate(h)
}

// add validates (when fromClient) and stages the batch h, which occupies
// offsets [h.BaseOffset, h.LastOffset()]; marker is the transaction marker
// of a control batch (nil for other batches, and for a control batch
// whose marker compaction removed). Validation follows Kafka's
// ProducerAppendInfo: an epoch below the current one is fenced (a marker
// with ErrProducerFenced, one from an older coordinator with
// ErrCoordinatorFenced); a new epoch must start at sequence 0; within an
// epoch the sequence must continue the last one; a producer the log knows
// nothing about (never seen, expired, or its records deleted) may start at
// any sequence (KIP-360). A coordinator's append skips the sequence
// checks. A transactional batch of a producer with no
// ongoing transaction starts one; a marker ends it, and a marker for a
// producer with none changes only its epochs.
func (a *producerAppend) add(h *record.Header, marker *txnMarker, fromClient bool) error {
	if !h.HasProducerID() {
		return nil
	}
	cur := a.entry(h.ProducerID)
	if fromClient && cur != nil {
		if h.IsControl() {
			if h.ProducerEpoch < cur.Epoch {
				return fmt.Errorf("%w: marker of producer %d epoch %d is older than %d", ErrProducerFenced, h.ProducerID, h.ProducerEpoch, cur.Epoch)
			}
			if marker != nil && marker.CoordinatorEpoch < cur.CoordinatorEpoch {
				return fmt.Errorf("%w: marker of producer %d from coordinator epoch %d, the log has seen %d", ErrCoordinatorFenced, h.ProducerID, marker.CoordinatorEpoch, cur.CoordinatorEpoch)
			}
		} else if h.ProducerEpoch < cur.Epoch {
			return fmt.Errorf("%w: producer %d epoch %d is older than %d", ErrInvalidProducerEpoch, h.ProducerID, h.ProducerEpoch, cur.Epoch)
		}
		if !h.IsControl() && !a.coordinator {
			if h.ProducerEpoch != cur.Epoch {
				if h.BaseSequence != 0 {
					return fmt.Errorf("%w: producer %d new epoch %d starts at sequence %d, want 0", ErrOutOfOrderSequence, h.ProducerID, h.ProducerEpoch, h.BaseSequence)
				}
			} else if last := cur.lastSeq(); !inSequence(last, h.BaseSequence) && !(failpoint.Compiled && cur.retriedBatch(h)) {
				return fmt.Errorf("%w: producer %d epoch %d sequence %d after %d", ErrOutOfOrderSequence, h.ProducerID, h.ProducerEpoch, h.BaseSequence, last)
			}
		}
	}
	var next *producerEntry
	if cur == nil {
		next = newProducerEntry(h.ProducerID, h.ProducerEpoch)
	} else if _, staged := a.updated[h.ProducerID]; staged {
		next = cur
	} else {
		next = cur.clone()
	}
	if h.IsControl() {
		// A transaction marker carries no sequence; it only fixes the epoch.
		next.setEpoch(h.ProducerEpoch)
		next.LastTimestamp = h.MaxTimestamp
		a.unguard = append(a.unguard, h.ProducerID)
		if marker != nil {
			if next.CurrentTxnFirstOffset >= 0 {
				a.txns = append(a.txns, txnEvent{ProducerID: h.ProducerID, FirstOffset: next.CurrentTxnFirstOffset, LastOffset: h.BaseOffset, Abort: !marker.Commit})
				next.CurrentTxnFirstOffset = -1
			}
			next.CoordinatorEpoch = marker.CoordinatorEpoch
		}
	} else {
		next.addBatch(h.ProducerEpoch, batchMetadata{
			FirstSeq:    h.BaseSequence,
			LastSeq:     h.LastSequence(),
			FirstOffset: h.BaseOffset,
			LastOffset:  h.LastOffset(),
			Timestamp:   h.MaxTimestamp,
		})
		if h.IsTransactional() && next.CurrentTxnFirstOffset < 0 {
			next.CurrentTxnFirstOffset = h.BaseOffset
			a.txns = append(a.txns, txnEvent{ProducerID: h.ProducerID, FirstOffset: h.BaseOffset, LastOffset: -1})
			a.unguard = append(a.unguard, h.ProducerID)
		}
	}
	if a.updated == nil {
		a.updated = make(map[int64]*producerEntry)
	}
	a.updated[h.ProducerID] = next
	return nil
}

// commit applies the staged changes and empties a for the next batches.
// It returns the aborted transactions the batches completed, with the last
// stable offset just after each (computed batch by batch, as Kafka's
// recovery does), for the segment's transaction index; txnChanged reports
// whether the ongoing transactions changed.
func (a *producerAppend) commit() (aborted []AbortedTxn, txnChanged bool) {
	maps.Copy(a.state.producers, a.updated)
	clear(a.updated)
	for _, id := range a.unguard {
		delete(a.state.verifying, id)
	}
	a.unguard = a.unguard[:0]
	for _, t := range a.txns {
		if t.LastOffset < 0 {
			a.state.addOngoing(ongoingTxn{FirstOffset: t.FirstOffset, ProducerID: t.ProducerID})
			continue
		}
		if t.Abort {
			aborted = append(aborted, AbortedTxn{
				ProducerID:       t.ProducerID,
				FirstOffset:      t.FirstOffset,
				LastOffset:       t.LastOffset,
				LastStableOffset: a.state.lastStableOffsetAfter(t.ProducerID, t.LastOffset),
			})
		}
		a.state.removeOngoing(t.FirstOffset)
	}
	txnChanged = len(a.txns) > 0
	a.txns = a.txns[:0]
	return aborted, txnChanged
}

func inSequence(last, next int32) bool {
	return int64(next) == int64(last)+1 || (next == 0 && last == 1<<31-1)
}

// Producer snapshot file, %020d.snapshot, named by the offset it was taken
// at: it holds the state produced by every batch below that offset.
//
//	offset  size  field
//	0       2     version (2; 1 is still read)
//	2       4     CRC-32C (Castagnoli) of every byte after this field
//	6       8     snapshot offset (equals the file name)
//	14      4     producer count
//	18      ...   producers, sorted by producer id:
//	              8  producer id
//	              2  producer epoch
//	              8  last timestamp
//	              8  current transaction's first offset, -1 if none (v2 only)
//	              4  coordinator epoch of the last marker, -1 if none (v2 only)
//	              1  batch count (0..5)
//	              32 per batch: first seq int32, last seq int32,
//	                 first offset int64, last offset int64, timestamp int64
//
// All integers are big-endian. A version-1 producer has no transaction
// (first offset and coordinator epoch read as -1).
const (
	snapshotVersion        = 2
	snapshotHeaderSize     = 18
	snapshotProducerSizeV1 = 19
	snapshotProducerSize   = 31
	snapshotBatchSize      = 32
	snapshotCRCStart       = 6
	maxSnapshotBatchCount  = maxProducerBatches
	snapshotFileSuffix     = ".snapshot"
	snapshotOffsetFieldPos = 6
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func encodeProducerSnapshot(offset int64, s *producerState) []byte {
	ids := slices.Sorted(maps.Keys(s.producers))
	be := binary.BigEndian
	b := make([]byte, snapshotHeaderSize, snapshotHeaderSize+len(ids)*(snapshotProducerSize+2*snapshotBatchSize))
	be.PutUint16(b, snapshotVersion)
	be.PutUint64(b[snapshotOffsetFieldPos:], uint64(offset))
	be.PutUint32(b[14:], uint32(len(ids)))
	for _, id := range ids {
		e := s.producers[id]
		b = be.AppendUint64(b, uint64(e.ProducerID))
		b = be.AppendUint16(b, uint16(e.Epoch))
		b = be.AppendUint64(b, uint64(e.LastTimestamp))
		b = be.AppendUint64(b, uint64(e.CurrentTxnFirstOffset))
		b = be.AppendUint32(b, uint32(e.CoordinatorEpoch))
		b = append(b, byte(len(e.Batches)))
		for _, m := range e.Batches {
			b = be.AppendUint32(b, uint32(m.FirstSeq))
			b = be.AppendUint32(b, uint32(m.LastSeq))
			b = be.AppendUint64(b, uint64(m.FirstOffset))
			b = be.AppendUint64(b, uint64(m.LastOffset))
			b = be.AppendUint64(b, uint64(m.Timestamp))
		}
	}
	be.PutUint32(b[2:], crc32.Checksum(b[snapshotCRCStart:], castagnoli))
	return b
}

// decodeProducerSnapshot parses encodeProducerSnapshot's format (and
// version 1), refusing anything that is not exactly what it would write
// in that version.
func decodeProducerSnapshot(b []byte) (offset int64, s *producerState, err error) {
	corrupt := func(format string, args ...any) (int64, *producerState, error) {
		return 0, nil, fmt.Errorf("%w: producer snapshot: %s", ErrCorruptLog, fmt.Sprintf(format, args...))
	}
	if len(b) < snapshotHeaderSize {
		return corrupt("%d bytes is shorter than the header", len(b))
	}
	be := binary.BigEndian
	version := be.Uint16(b)
	producerSize := snapshotProducerSize
	switch version {
	case 1:
		producerSize = snapshotProducerSizeV1
	case snapshotVersion:
	default:
		return corrupt("version %d", version)
	}
	if got, want := crc32.Checksum(b[snapshotCRCStart:], castagnoli), be.Uint32(b[2:]); got != want {
		return corrupt("crc %08x, header says %08x", got, want)
	}
	offset = int64(be.Uint64(b[snapshotOffsetFieldPos:]))
	if offset < 0 {
		return corrupt("offset %d", offset)
	}
	count := be.Uint32(b[14:])
	rest := b[snapshotHeaderSize:]
	if uint64(count) > uint64(len(rest)/producerSize) {
		return corrupt("%d producers cannot fit in %d bytes", count, len(rest))
	}
	s = newProducerState()
	prev := int64(-1)
	for i := uint32(0); i < count; i++ {
		if len(rest) < producerSize {
			return corrupt("producer %d truncated", i)
		}
		e := newProducerEntry(int64(be.Uint64(rest)), int16(be.Uint16(rest[8:])))
		e.LastTimestamp = int64(be.Uint64(rest[10:]))
		if version >= 2 {
			e.CurrentTxnFirstOffset = int64(be.Uint64(rest[18:]))
			e.CoordinatorEpoch = int32(be.Uint32(rest[26:]))
		}
		nb := int(rest[producerSize-1])
		rest = rest[producerSize:]
		if e.ProducerID <= prev {
			return corrupt("producer id %d not above %d", e.ProducerID, prev)
		}
		prev = e.ProducerID
		if e.CurrentTxnFirstOffset < -1 || e.CurrentTxnFirstOffset >= offset {
			return corrupt("producer %d transaction starts at %d, snapshot offset %d", e.ProducerID, e.CurrentTxnFirstOffset, offset)
		}
		if nb > maxSnapshotBatchCount || len(rest) < nb*snapshotBatchSize {
			return corrupt("producer %d has %d batches in %d bytes", e.ProducerID, nb, len(rest))
		}
		if nb > 0 {
			e.Batches = make([]batchMetadata, nb)
		}
		for j := range nb {
			e.Batches[j] = batchMetadata{
				FirstSeq:    int32(be.Uint32(rest)),
				LastSeq:     int32(be.Uint32(rest[4:])),
				FirstOffset: int64(be.Uint64(rest[8:])),
				LastOffset:  int64(be.Uint64(rest[16:])),
				Timestamp:   int64(be.Uint64(rest[24:])),
			}
			rest = rest[snapshotBatchSize:]
		}
		s.producers[e.ProducerID] = e
	}
	if len(rest) != 0 {
		return corrupt("%d bytes after %d producers", len(rest), count)
	}
	s.rebuildOngoing()
	return offset, s, nil
}
