package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"

	"github.com/strata-io/strata/internal/record"
	"github.com/strata-io/strata/internal/storage/vfs"
)

// AbortedTxn is an entry of a segment's aborted-transaction index: the
// transaction of ProducerID spanning [FirstOffset, LastOffset] (LastOffset
// is its ABORT marker) was aborted, and once it was, the last stable
// offset was LastStableOffset. A read_committed fetch drops the
// producer's batches in that range.
type AbortedTxn struct {
	ProducerID       int64
	FirstOffset      int64
	LastOffset       int64
	LastStableOffset int64
}

// Aborted-transaction index, %020d.txnindex (Kafka's TransactionIndex):
// one 34-byte big-endian entry per ABORT marker in the segment, in offset
// order:
//
//	offset  size  field
//	0       2     version (0)
//	2       8     producer id
//	10      8     first offset
//	18      8     last offset (the marker's)
//	26      8     last stable offset once the transaction completed
const (
	txnIndexFileSuffix = ".txnindex"
	txnEntrySize       = 34
	txnEntryVersion    = 0
)

func appendTxnEntry(b []byte, e AbortedTxn) []byte {
	be := binary.BigEndian
	b = be.AppendUint16(b, txnEntryVersion)
	b = be.AppendUint64(b, uint64(e.ProducerID))
	b = be.AppendUint64(b, uint64(e.FirstOffset))
	b = be.AppendUint64(b, uint64(e.LastOffset))
	return be.AppendUint64(b, uint64(e.LastStableOffset))
}

func encodeTxnIndex(entries []AbortedTxn) []byte {
	b := make([]byte, 0, len(entries)*txnEntrySize)
	for _, e := range entries {
		b = appendTxnEntry(b, e)
	}
	return b
}

// decodeTxnIndex decodes a whole aborted-transaction index. Every entry
// must have version 0, a producer id and offsets that are not negative,
// FirstOffset <= LastOffset, and a LastOffset above the previous entry's.
// Any violation means the index must be rebuilt.
func decodeTxnIndex(b []byte) ([]AbortedTxn, error) {
	if len(b)%txnEntrySize != 0 {
		return nil, fmt.Errorf("%w: transaction index of %d bytes is not a multiple of %d", ErrCorruptLog, len(b), txnEntrySize)
	}
	be := binary.BigEndian
	entries := make([]AbortedTxn, 0, len(b)/txnEntrySize)
	for i := 0; i < len(b); i += txnEntrySize {
		if v := be.Uint16(b[i:]); v != txnEntryVersion {
			return nil, fmt.Errorf("%w: transaction index entry %d has version %d", ErrCorruptLog, i/txnEntrySize, v)
		}
		e := AbortedTxn{
			ProducerID:       int64(be.Uint64(b[i+2:])),
			FirstOffset:      int64(be.Uint64(b[i+10:])),
			LastOffset:       int64(be.Uint64(b[i+18:])),
			LastStableOffset: int64(be.Uint64(b[i+26:])),
		}
		if e.ProducerID < 0 || e.FirstOffset < 0 || e.FirstOffset > e.LastOffset || e.LastStableOffset < 0 {
			return nil, fmt.Errorf("%w: transaction index entry %d %+v out of range", ErrCorruptLog, i/txnEntrySize, e)
		}
		if n := len(entries); n > 0 && e.LastOffset <= entries[n-1].LastOffset {
			return nil, fmt.Errorf("%w: transaction index entry %d ends at %d, not after %d", ErrCorruptLog, i/txnEntrySize, e.LastOffset, entries[n-1].LastOffset)
		}
		entries = append(entries, e)
	}
	return entries, nil
}

// readTxnIndex reads the aborted-transaction index of s, which must lie
// within [s.base, next). A missing file is an empty index.
func (s *segment) readTxnIndex(next int64) ([]AbortedTxn, error) {
	b, err := vfs.ReadFile(s.fs, s.path(txnIndexFileSuffix))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read transaction index of segment %d: %w", s.base, err)
	}
	entries, err := decodeTxnIndex(b)
	if err != nil {
		return nil, fmt.Errorf("segment %d: %w", s.base, err)
	}
	if n := len(entries); n > 0 && (entries[0].LastOffset < s.base || entries[n-1].LastOffset >= next) {
		return nil, fmt.Errorf("%w: segment %d: transaction index holds markers at %d..%d, outside [%d, %d)",
			ErrCorruptLog, s.base, entries[0].LastOffset, entries[n-1].LastOffset, s.base, next)
	}
	return entries, nil
}

// writeTxnIndexFile writes entries as the segment's aborted-transaction
// index (tmp, fsync, rename), or removes the file when there are none: the
// index exists only for segments holding an ABORT marker. It does not
// fsync the directory.
func (s *segment) writeTxnIndexFile(entries []AbortedTxn) error {
	if len(entries) == 0 {
		if err := s.fs.Remove(s.path(txnIndexFileSuffix)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove transaction index of segment %d: %w", s.base, err)
		}
		return nil
	}
	return writeFileSynced(s.fs, s.path(txnIndexFileSuffix), encodeTxnIndex(entries))
}

// collectAbortedTxns appends to dst the entries overlapping
// [fetchOffset, upperBound) and reports whether the search is complete:
// an entry's last stable offset reached upperBound, so no later segment
// can hold a transaction that overlaps the range (Kafka's
// TransactionIndex.collectAbortedTxns).
func collectAbortedTxns(dst, entries []AbortedTxn, fetchOffset, upperBound int64) ([]AbortedTxn, bool) {
	for _, e := range entries {
		if e.LastOffset >= fetchOffset && e.FirstOffset < upperBound {
			dst = append(dst, e)
		}
		if e.LastStableOffset >= upperBound {
			return dst, true
		}
	}
	return dst, false
}

// Transaction markers (control records, KIP-98): the key is version int16
// (0) and type int16 (0 ABORT, 1 COMMIT); the value is version int16 (0)
// and the coordinator epoch int32.
const (
	markerTypeAbort  = 0
	markerTypeCommit = 1
)

// txnMarker is the content of a control batch's record.
type txnMarker struct {
	Commit           bool
	CoordinatorEpoch int32
}

// maxControlBatchDecompressed bounds decompression of a control batch,
// whose one record is a few bytes.
const maxControlBatchDecompressed = 1 << 20

// parseTxnMarker returns the marker of the control batch b; nil if it has
// no record (compaction removed it). Errors wrap record.ErrInvalid.
func parseTxnMarker(b []byte) (*txnMarker, error) {
	var m *txnMarker
	errDone := errors.New("done")
	err := record.Records(b, maxControlBatchDecompressed, func(r *record.Record) error {
		if len(r.Key) < 4 {
			return fmt.Errorf("%w: control record key of %d bytes", record.ErrInvalid, len(r.Key))
		}
		be := binary.BigEndian
		typ := int16(be.Uint16(r.Key[2:]))
		if typ != markerTypeAbort && typ != markerTypeCommit {
			return fmt.Errorf("%w: control record type %d is not a transaction marker", record.ErrInvalid, typ)
		}
		if len(r.Value) < 6 {
			return fmt.Errorf("%w: transaction marker value of %d bytes", record.ErrInvalid, len(r.Value))
		}
		m = &txnMarker{Commit: typ == markerTypeCommit, CoordinatorEpoch: int32(be.Uint32(r.Value[2:]))}
		return errDone
	})
	if err != nil && err != errDone {
		return nil, fmt.Errorf("control batch: %w", err)
	}
	return m, nil
}

// buildControlBatch builds the control batch of a transaction marker, as
// the transaction coordinator asks the partition leader to write it.
func buildControlBatch(producerID int64, producerEpoch int16, coordinatorEpoch int32, commit bool, ts int64) ([]byte, error) {
	typ := uint16(markerTypeAbort)
	if commit {
		typ = markerTypeCommit
	}
	be := binary.BigEndian
	key := be.AppendUint16(be.AppendUint16(nil, 0), typ)
	value := be.AppendUint32(be.AppendUint16(nil, 0), uint32(coordinatorEpoch))
	b := record.NewBuilder(record.CodecNone, ts)
	b.SetProducer(producerID, producerEpoch, -1)
	b.SetTransactional(true)
	b.SetControl(true)
	b.Add(ts, key, value, nil)
	return b.Build()
}
