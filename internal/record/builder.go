package record

import (
	"encoding/binary"
	"fmt"
	"math"
)

// Builder assembles one v2 batch: Add records, then Build. It is meant for
// tests and for batches the broker writes itself (coordinator state,
// transaction markers); produce requests arrive already built.
//
// The built batch has base offset 0 and partition leader epoch -1 (what
// producers send); the log assigns both with SetBaseOffset and
// SetPartitionLeaderEpoch. Without SetProducer the producer ID, epoch and
// base sequence are -1, meaning none.
//
// Add and AddRecord do not return errors: the first problem is kept and
// Build reports it, as bufio.Writer does. A Builder is not safe for
// concurrent use.
type Builder struct {
	codec         Codec // set in NewBuilder, never changed
	baseTimestamp int64 // set in NewBuilder, never changed
	attributes    int16 // transactional and control bits only
	producerID    int64
	producerEpoch int16
	baseSequence  int32

	// Per batch, cleared by Build.
	buf             []byte // HeaderSize bytes of room, then the uncompressed records
	numRecords      int32
	lastOffsetDelta int32 // -1 before the first record
	maxTimestamp    int64
	err             error
}

// NewBuilder returns a Builder for a batch compressed with codec whose
// record timestamps are stored relative to baseTimestamp (Kafka producers
// use the first record's timestamp).
func NewBuilder(codec Codec, baseTimestamp int64) *Builder {
	return &Builder{
		codec:           codec,
		baseTimestamp:   baseTimestamp,
		producerID:      -1,
		producerEpoch:   -1,
		baseSequence:    -1,
		lastOffsetDelta: -1,
	}
}

// SetProducer sets the idempotent producer fields of the batch.
func (b *Builder) SetProducer(producerID int64, producerEpoch int16, baseSequence int32) {
	b.producerID, b.producerEpoch, b.baseSequence = producerID, producerEpoch, baseSequence
}

// SetTransactional marks the batch as part of a transaction.
func (b *Builder) SetTransactional(on bool) { b.setAttribute(AttrTransactional, on) }

// SetControl marks the batch as a control batch, whose records are
// transaction markers (key: version int16, type int16; value: version
// int16, coordinator epoch int32).
func (b *Builder) SetControl(on bool) { b.setAttribute(AttrControl, on) }

func (b *Builder) setAttribute(bit int16, on bool) {
	if on {
		b.attributes |= bit
	} else {
		b.attributes &^= bit
	}
}

// Add appends a record with the next offset delta. Nil key or value is
// null; headers are stored in order.
func (b *Builder) Add(timestamp int64, key, value []byte, headers []RecordHeader) {
	b.add(0, timestamp-b.baseTimestamp, b.lastOffsetDelta+1, key, value, headers)
}

// AddRecord appends r as it is, keeping its attributes, timestamp delta and
// offset delta, as a rewrite (compaction, or re-encoding a decoded batch)
// needs. Offset deltas must increase; gaps are allowed.
func (b *Builder) AddRecord(r *Record) {
	if r.OffsetDelta <= b.lastOffsetDelta {
		b.setErr(fmt.Errorf("%w: offset delta %d after %d", ErrInvalid, r.OffsetDelta, b.lastOffsetDelta))
		return
	}
	b.add(r.Attributes, r.TimestampDelta, r.OffsetDelta, r.Key, r.Value, r.Headers)
}

func (b *Builder) setErr(err error) {
	if b.err == nil {
		b.err = err
	}
}

func (b *Builder) add(attributes int8, timestampDelta int64, offsetDelta int32, key, value []byte, headers []RecordHeader) {
	if b.err != nil {
		return
	}
	if b.numRecords == math.MaxInt32 || offsetDelta < 0 {
		b.setErr(fmt.Errorf("%w: offset delta %d after %d records", ErrInvalid, offsetDelta, b.numRecords))
		return
	}
	size := 1 + varintSize(timestampDelta) + varintSize(int64(offsetDelta)) +
		nullableBytesSize(key) + nullableBytesSize(value) + varintSize(int64(len(headers)))
	for i := range headers {
		h := &headers[i]
		size += varintSize(int64(len(h.Key))) + len(h.Key) + nullableBytesSize(h.Value)
	}
	if size > math.MaxInt32 || len(b.buf)+size+5 > math.MaxInt32 {
		b.setErr(fmt.Errorf("%w: record of %d bytes makes the batch too large", ErrInvalid, size))
		return
	}
	if b.buf == nil {
		b.buf = make([]byte, HeaderSize, HeaderSize+max(size+varintSize(int64(size)), 1<<10))
	}
	buf := binary.AppendVarint(b.buf, int64(size))
	buf = append(buf, byte(attributes))
	buf = binary.AppendVarint(buf, timestampDelta)
	buf = binary.AppendVarint(buf, int64(offsetDelta))
	buf = appendNullableBytes(buf, key)
	buf = appendNullableBytes(buf, value)
	buf = binary.AppendVarint(buf, int64(len(headers)))
	for i := range headers {
		h := &headers[i]
		buf = binary.AppendVarint(buf, int64(len(h.Key)))
		buf = append(buf, h.Key...)
		buf = appendNullableBytes(buf, h.Value)
	}
	b.buf = buf

	ts := b.baseTimestamp + timestampDelta
	if b.numRecords == 0 || ts > b.maxTimestamp {
		b.maxTimestamp = ts
	}
	b.numRecords++
	b.lastOffsetDelta = offsetDelta
}

func appendNullableBytes(dst, v []byte) []byte {
	if v == nil {
		return binary.AppendVarint(dst, -1)
	}
	dst = binary.AppendVarint(dst, int64(len(v)))
	return append(dst, v...)
}

// NumRecords is the number of records added since the last Build.
func (b *Builder) NumRecords() int { return int(b.numRecords) }

// UncompressedSize is the size the batch would have without compression.
func (b *Builder) UncompressedSize() int { return max(len(b.buf), HeaderSize) }

// Build returns the batch: header filled in (lengths, last offset delta,
// max timestamp, attributes, CRC) and records compressed with the codec.
// The caller owns the result. Build then empties the Builder, keeping its
// settings, so it can build the next batch. A batch needs at least one record.
func (b *Builder) Build() ([]byte, error) {
	defer b.clear()
	if b.err != nil {
		return nil, b.err
	}
	if b.numRecords == 0 {
		return nil, fmt.Errorf("%w: build a batch with no records", ErrInvalid)
	}
	batch := b.buf
	if b.codec != CodecNone {
		records := b.buf[HeaderSize:]
		// Assume 2:1 compression for the first guess.
		out := make([]byte, HeaderSize, HeaderSize+len(records)/2+64)
		var err error
		if batch, err = Compress(b.codec, out, records); err != nil {
			return nil, fmt.Errorf("compress batch: %w", err)
		}
		if len(batch) > math.MaxInt32 {
			return nil, fmt.Errorf("%w: compressed batch of %d bytes", ErrInvalid, len(batch))
		}
	}
	be := binary.BigEndian
	be.PutUint64(batch[offBaseOffset:], 0)
	be.PutUint32(batch[offLength:], uint32(len(batch)-LogOverhead))
	be.PutUint32(batch[offLeaderEpoch:], math.MaxUint32) // -1
	batch[offMagic] = 2
	be.PutUint16(batch[offAttributes:], uint16(b.attributes|int16(b.codec)&AttrCompressionMask))
	be.PutUint32(batch[offLastOffsetDelta:], uint32(b.lastOffsetDelta))
	be.PutUint64(batch[offBaseTimestamp:], uint64(b.baseTimestamp))
	be.PutUint64(batch[offMaxTimestamp:], uint64(b.maxTimestamp))
	be.PutUint64(batch[offProducerID:], uint64(b.producerID))
	be.PutUint16(batch[offProducerEpoch:], uint16(b.producerEpoch))
	be.PutUint32(batch[offBaseSequence:], uint32(b.baseSequence))
	be.PutUint32(batch[offNumRecords:], uint32(b.numRecords))
	be.PutUint32(batch[offCRC:], Checksum(batch))
	if b.codec == CodecNone {
		b.buf = nil // handed to the caller
	}
	return batch, nil
}

// clear forgets the records of the current batch, keeping the buffer
// unless Build handed it over.
func (b *Builder) clear() {
	if b.buf != nil {
		b.buf = b.buf[:HeaderSize]
	}
	b.numRecords = 0
	b.lastOffsetDelta = -1
	b.maxTimestamp = 0
	b.err = nil
}
