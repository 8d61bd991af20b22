// Package record owns the Kafka record batch v2 format: parsing and validating
// batch headers, CRC-32C, compression codecs, and iterating the records inside a
// batch. It is a leaf package: it knows nothing of partitions, logs or the wire.
//
// A v2 batch as it sits on the wire and on disk (big-endian):
//
//	offset  size  field
//	0       8     base offset
//	8       4     batch length (bytes after this field)
//	12      4     partition leader epoch
//	16      1     magic (2)
//	17      4     CRC-32C of bytes 21..end
//	21      2     attributes (bits 0-2 codec, 3 timestamp type, 4 transactional, 5 control)
//	23      4     last offset delta
//	27      8     base timestamp
//	35      8     max timestamp
//	43      8     producer id
//	51      2     producer epoch
//	53      4     base sequence
//	57      4     record count
//	61      ...   records (compressed as a whole when the codec is not none)
//
// The broker stores batches exactly as the client sent them, except for the
// fields it owns: base offset, partition leader epoch and, for LogAppendTime
// topics, the timestamp type and max timestamp (which changes the CRC).
package record

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// HeaderSize is the size of a v2 batch header, up to and including the record count.
const HeaderSize = 61

// LogOverhead is the base offset plus the length field: bytes not counted in BatchLength.
const LogOverhead = 12

// Byte offsets of header fields.
const (
	offBaseOffset      = 0
	offLength          = 8
	offLeaderEpoch     = 12
	offMagic           = 16
	offCRC             = 17
	offAttributes      = 21
	offLastOffsetDelta = 23
	offBaseTimestamp   = 27
	offMaxTimestamp    = 35
	offProducerID      = 43
	offProducerEpoch   = 51
	offBaseSequence    = 53
	offNumRecords      = 57
)

// Attribute bits.
const (
	AttrCompressionMask = 0x07
	AttrTimestampType   = 0x08 // set: LogAppendTime
	AttrTransactional   = 0x10
	AttrControl         = 0x20
)

// Codec is a compression codec as encoded in the attributes.
type Codec int8

const (
	CodecNone   Codec = 0
	CodecGzip   Codec = 1
	CodecSnappy Codec = 2
	CodecLZ4    Codec = 3
	CodecZstd   Codec = 4
)

func (c Codec) String() string {
	switch c {
	case CodecNone:
		return "none"
	case CodecGzip:
		return "gzip"
	case CodecSnappy:
		return "snappy"
	case CodecLZ4:
		return "lz4"
	case CodecZstd:
		return "zstd"
	}
	return fmt.Sprintf("codec(%d)", int8(c))
}

// Errors returned by validation. The API layer maps ErrCorrupt to
// CORRUPT_MESSAGE and ErrInvalid to INVALID_RECORD.
var (
	ErrCorrupt     = errors.New("corrupt record batch")
	ErrInvalid     = errors.New("invalid record batch")
	ErrUnsupported = errors.New("unsupported record batch")
)

// Header is a decoded v2 batch header.
type Header struct {
	BaseOffset           int64
	Length               int32 // bytes after the length field
	PartitionLeaderEpoch int32
	Magic                int8
	CRC                  uint32
	Attributes           int16
	LastOffsetDelta      int32
	BaseTimestamp        int64
	MaxTimestamp         int64
	ProducerID           int64
	ProducerEpoch        int16
	BaseSequence         int32
	NumRecords           int32
}

// Codec returns the compression codec of the batch.
func (h *Header) Codec() Codec { return Codec(h.Attributes & AttrCompressionMask) }

// IsTransactional reports whether the batch belongs to a transaction.
func (h *Header) IsTransactional() bool { return h.Attributes&AttrTransactional != 0 }

// IsControl reports whether the batch is a control batch (commit/abort marker).
func (h *Header) IsControl() bool { return h.Attributes&AttrControl != 0 }

// IsLogAppendTime reports whether the batch's timestamps are broker-assigned.
func (h *Header) IsLogAppendTime() bool { return h.Attributes&AttrTimestampType != 0 }

// LastOffset is the offset of the last record in the batch.
func (h *Header) LastOffset() int64 { return h.BaseOffset + int64(h.LastOffsetDelta) }

// NextOffset is the offset after the batch.
func (h *Header) NextOffset() int64 { return h.LastOffset() + 1 }

// Size is the total number of bytes of the batch including the offset and length fields.
func (h *Header) Size() int { return int(h.Length) + LogOverhead }

// LastSequence is the sequence number of the last record, wrapping at int32 max as Kafka does.
func (h *Header) LastSequence() int32 {
	if h.BaseSequence < 0 {
		return -1
	}
	return IncrementSequence(h.BaseSequence, h.LastOffsetDelta)
}

// HasProducerID reports whether the batch was written by an idempotent producer.
func (h *Header) HasProducerID() bool { return h.ProducerID >= 0 }

// IncrementSequence adds delta to seq, wrapping past int32 max to 0 (KIP-98).
func IncrementSequence(seq, delta int32) int32 {
	if seq > (1<<31-1)-delta {
		return delta - ((1<<31 - 1) - seq) - 1
	}
	return seq + delta
}

// ParseHeader decodes the header at the start of b without checking the CRC.
// It fails only if b is shorter than HeaderSize.
func ParseHeader(b []byte) (Header, error) {
	if len(b) < HeaderSize {
		return Header{}, fmt.Errorf("%w: %d bytes is shorter than a batch header", ErrCorrupt, len(b))
	}
	be := binary.BigEndian
	return Header{
		BaseOffset:           int64(be.Uint64(b[offBaseOffset:])),
		Length:               int32(be.Uint32(b[offLength:])),
		PartitionLeaderEpoch: int32(be.Uint32(b[offLeaderEpoch:])),
		Magic:                int8(b[offMagic]),
		CRC:                  be.Uint32(b[offCRC:]),
		Attributes:           int16(be.Uint16(b[offAttributes:])),
		LastOffsetDelta:      int32(be.Uint32(b[offLastOffsetDelta:])),
		BaseTimestamp:        int64(be.Uint64(b[offBaseTimestamp:])),
		MaxTimestamp:         int64(be.Uint64(b[offMaxTimestamp:])),
		ProducerID:           int64(be.Uint64(b[offProducerID:])),
		ProducerEpoch:        int16(be.Uint16(b[offProducerEpoch:])),
		BaseSequence:         int32(be.Uint32(b[offBaseSequence:])),
		NumRecords:           int32(be.Uint32(b[offNumRecords:])),
	}, nil
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Checksum computes the CRC-32C of a batch as stored in its CRC field.
// b must hold the whole batch.
func Checksum(b []byte) uint32 { return crc32.Checksum(b[offAttributes:], castagnoli) }

// ValidateBatch checks one complete batch b (len(b) == its Size): the length
// field, magic, CRC and codec. It accepts what a log may legitimately hold,
// including compacted batches with offset gaps or no records left; produce
// adds ValidateProduced. It does not decompress.
func ValidateBatch(b []byte) (Header, error) {
	h, err := ParseHeader(b)
	if err != nil {
		return h, err
	}
	if h.Magic != 2 {
		return h, fmt.Errorf("%w: magic %d", ErrCorrupt, h.Magic)
	}
	if int(h.Length) < HeaderSize-LogOverhead || h.Size() != len(b) {
		return h, fmt.Errorf("%w: length field %d does not match %d bytes", ErrCorrupt, h.Length, len(b))
	}
	if got := Checksum(b); got != h.CRC {
		return h, fmt.Errorf("%w: crc %08x, header says %08x", ErrCorrupt, got, h.CRC)
	}
	if h.Codec() > CodecZstd {
		return h, fmt.Errorf("%w: compression codec %d", ErrInvalid, h.Codec())
	}
	if h.NumRecords < 0 || h.LastOffsetDelta < 0 {
		return h, fmt.Errorf("%w: record count %d, last offset delta %d", ErrCorrupt, h.NumRecords, h.LastOffsetDelta)
	}
	return h, nil
}

// ValidateProduced adds the checks for a batch a client produced: at least
// one record, offset deltas without gaps, and a sequence number when the
// batch has a producer id (Kafka's LogValidator.validateBatch).
func ValidateProduced(h *Header) error {
	if h.NumRecords <= 0 {
		return fmt.Errorf("%w: record count %d", ErrInvalid, h.NumRecords)
	}
	if h.LastOffsetDelta != h.NumRecords-1 {
		return fmt.Errorf("%w: last offset delta %d with %d records", ErrInvalid, h.LastOffsetDelta, h.NumRecords)
	}
	if h.HasProducerID() && h.BaseSequence < 0 {
		return fmt.Errorf("%w: sequence %d with producer id %d", ErrInvalid, h.BaseSequence, h.ProducerID)
	}
	return nil
}

// NextBatch splits the first batch off b. It returns the batch, the rest, and
// an error if b does not start with a complete batch whose length field is
// sane. It does not check the CRC.
func NextBatch(b []byte) (batch, rest []byte, err error) {
	if len(b) < HeaderSize {
		return nil, nil, fmt.Errorf("%w: %d trailing bytes", ErrCorrupt, len(b))
	}
	n := int(int32(binary.BigEndian.Uint32(b[offLength:])))
	if n < HeaderSize-LogOverhead || n > len(b)-LogOverhead {
		return nil, nil, fmt.Errorf("%w: batch length %d with %d bytes left", ErrCorrupt, n, len(b)-LogOverhead)
	}
	return b[:n+LogOverhead], b[n+LogOverhead:], nil
}

// SetBaseOffset rewrites the base offset. The CRC does not cover it.
func SetBaseOffset(b []byte, off int64) { binary.BigEndian.PutUint64(b[offBaseOffset:], uint64(off)) }

// SetPartitionLeaderEpoch rewrites the partition leader epoch. The CRC does not cover it.
func SetPartitionLeaderEpoch(b []byte, epoch int32) {
	binary.BigEndian.PutUint32(b[offLeaderEpoch:], uint32(epoch))
}

// SetLogAppendTime marks the batch as LogAppendTime with max timestamp ts and
// recomputes the CRC, as Kafka does for topics with
// message.timestamp.type=LogAppendTime.
func SetLogAppendTime(b []byte, ts int64) {
	be := binary.BigEndian
	attrs := be.Uint16(b[offAttributes:]) | AttrTimestampType
	be.PutUint16(b[offAttributes:], attrs)
	be.PutUint64(b[offMaxTimestamp:], uint64(ts))
	be.PutUint32(b[offCRC:], Checksum(b))
}
