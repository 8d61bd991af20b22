package record

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
)

// Records follow the batch header, compressed together when the batch has
// a codec. Each one is (varints are zigzag, as in protobuf):
//
//	length          varint  bytes after this field
//	attributes      int8    unused, 0
//	timestampDelta  varlong from the batch's base timestamp
//	offsetDelta     varint  from the batch's base offset
//	keyLength       varint  -1 for a null key
//	key             bytes
//	valueLength     varint  -1 for a null value
//	value           bytes
//	headerCount     varint
//	headers         headerCount times:
//	  keyLength     varint  never negative
//	  key           bytes   UTF-8
//	  valueLength   varint  -1 for a null value
//	  value         bytes

// minRecordSize is the smallest encoded record: a one-byte length and six
// one-byte fields. It bounds how many records a run of bytes can hold.
const minRecordSize = 7

// Record is one record of a v2 batch.
type Record struct {
	Attributes     int8
	TimestampDelta int64
	OffsetDelta    int32
	Key, Value     []byte // nil for null
	Headers        []RecordHeader
}

// RecordHeader is a record header. Its Value is nil for null.
type RecordHeader struct {
	Key   string
	Value []byte
}

// Records calls fn for each record of batch, in order. batch must be one
// whole batch (as NextBatch returns). Records does not check the CRC, which
// is the caller's job (see ValidateBatch). A compressed batch is
// decompressed first, to at most maxDecompressed bytes (see Decompress).
//
// Every length is checked against the bytes that hold it, each record must
// span exactly its declared length, and the records must be exactly
// NumRecords long with nothing after them; otherwise the error wraps
// ErrCorrupt. NB: the trailing-bytes check comes after the last record was
// passed to fn. An error returned by fn stops the walk and is returned as is.
//
// The *Record passed to fn, and its Headers slice, are reused for the next
// record: copy what you keep. Key, Value and header values alias the batch,
// or the decompressed buffer, which Records does not reuse; they stay valid
// as long as the batch does.
func Records(batch []byte, maxDecompressed int, fn func(r *Record) error) error {
	h, data, err := recordsOf(batch)
	if err != nil {
		return err
	}
	if c := h.Codec(); c != CodecNone {
		data, err = Decompress(c, data, maxDecompressed)
		if err != nil {
			return fmt.Errorf("decompress records: %w", err)
		}
	}
	if err := checkRecordCount(h.NumRecords, len(data)); err != nil {
		return err
	}
	var r Record
	for i := range h.NumRecords {
		n, err := parseRecord(data, &r, true)
		if err != nil {
			return fmt.Errorf("record %d of %d: %w", i, h.NumRecords, err)
		}
		data = data[n:]
		if err := fn(&r); err != nil {
			return err
		}
	}
	if len(data) != 0 {
		return fmt.Errorf("%w: %d bytes after %d records", ErrCorrupt, len(data), h.NumRecords)
	}
	return nil
}

// CheckFraming is the produce path's cheap structural check of an
// uncompressed batch: the records' length prefixes tile the batch exactly,
// there are NumRecords of them, and their offset deltas run 0, 1, ...,
// NumRecords-1. Per record it reads three varints (length, timestamp
// delta, offset delta) and skips the rest: keys, values and headers are
// not decoded (the CRC already covers their bytes). Errors wrap ErrCorrupt
// or ErrInvalid; a compressed batch gives ErrUnsupported.
func CheckFraming(batch []byte) error {
	h, data, err := recordsOf(batch)
	if err != nil {
		return err
	}
	if c := h.Codec(); c != CodecNone {
		return fmt.Errorf("%w: check framing of a %s batch", ErrUnsupported, c)
	}
	return scanFraming(&h, data, nil)
}

// RecordMeta is what produce validation needs of one record (KIP-467's
// per-record checks); no value or header bytes are decoded for it.
type RecordMeta struct {
	// Index is the record's position in its batch (Kafka's batch_index).
	Index int32
	// Timestamp is the batch's base timestamp plus the record's delta, or
	// the batch's max timestamp when the batch says LogAppendTime, as
	// Kafka reads a record's timestamp.
	Timestamp int64
	// NullKey is true for a record without a key.
	NullKey bool
}

// ScanRecords checks a batch's framing as CheckFraming does, and also that
// each key length fits its record, and calls fn with each record's
// RecordMeta, in order. A compressed batch is decompressed first, to at most
// maxDecompressed bytes (see Decompress). The CRC is not checked (see
// ValidateBatch). Errors wrap ErrCorrupt, ErrInvalid, ErrTooLarge or
// ErrUnsupported; a structural error found after some records were passed
// to fn is still returned, and the caller must not act on what fn saw.
func ScanRecords(batch []byte, maxDecompressed int, fn func(RecordMeta)) error {
	h, data, err := recordsOf(batch)
	if err != nil {
		return err
	}
	if c := h.Codec(); c != CodecNone {
		data, err = Decompress(c, data, maxDecompressed)
		if err != nil {
			return fmt.Errorf("decompress records: %w", err)
		}
	}
	if fn == nil {
		fn = func(RecordMeta) {}
	}
	return scanFraming(&h, data, fn)
}

// scanFraming walks the uncompressed records of h. With fn nil it reads
// three varints per record (CheckFraming); otherwise also the key length,
// and passes each record's RecordMeta to fn.
func scanFraming(h *Header, data []byte, fn func(RecordMeta)) error {
	if err := checkRecordCount(h.NumRecords, len(data)); err != nil {
		return err
	}
	for i := range h.NumRecords {
		length, n := readVarint(data)
		if n <= 0 {
			return fmt.Errorf("record %d of %d: %w", i, h.NumRecords, varintError("record length", n))
		}
		if length < minRecordSize-1 || int(length) > len(data)-n {
			return fmt.Errorf("%w: record %d of %d: length %d with %d bytes left", ErrCorrupt, i, h.NumRecords, length, len(data)-n)
		}
		rec := data[n+1 : n+int(length)] // after the attributes byte
		data = data[n+int(length):]
		tsDelta, m := readVarlong(rec)
		if m <= 0 {
			return fmt.Errorf("record %d of %d: %w", i, h.NumRecords, varintError("timestamp delta", m))
		}
		rec = rec[m:]
		delta, k := readVarint(rec)
		if k <= 0 {
			return fmt.Errorf("record %d of %d: %w", i, h.NumRecords, varintError("offset delta", k))
		}
		if delta != i {
			return fmt.Errorf("%w: record %d has offset delta %d", ErrInvalid, i, delta)
		}
		if fn == nil {
			continue
		}
		rec = rec[k:]
		keyLen, k := readVarint(rec)
		if k <= 0 {
			return fmt.Errorf("record %d of %d: %w", i, h.NumRecords, varintError("key length", k))
		}
		if keyLen < -1 || int(keyLen) > len(rec)-k {
			return fmt.Errorf("%w: record %d of %d: key length %d with %d bytes left", ErrCorrupt, i, h.NumRecords, keyLen, len(rec)-k)
		}
		ts := h.BaseTimestamp + tsDelta
		if h.IsLogAppendTime() {
			ts = h.MaxTimestamp
		}
		fn(RecordMeta{Index: i, Timestamp: ts, NullKey: keyLen == -1})
	}
	if len(data) != 0 {
		return fmt.Errorf("%w: %d bytes after %d records", ErrCorrupt, len(data), h.NumRecords)
	}
	return nil
}

// recordsOf parses the header of batch and returns the bytes after it.
func recordsOf(batch []byte) (Header, []byte, error) {
	h, err := ParseHeader(batch)
	if err != nil {
		return h, nil, err
	}
	if h.Magic != 2 {
		return h, nil, fmt.Errorf("%w: magic %d", ErrCorrupt, h.Magic)
	}
	if int(h.Length) < HeaderSize-LogOverhead || h.Size() != len(batch) {
		return h, nil, fmt.Errorf("%w: length field %d does not match %d bytes", ErrCorrupt, h.Length, len(batch))
	}
	return h, batch[HeaderSize:], nil
}

// checkRecordCount refuses counts that are negative or cannot fit in size bytes.
func checkRecordCount(n int32, size int) error {
	if n < 0 || int64(n) > int64(size)/minRecordSize {
		return fmt.Errorf("%w: %d records cannot fit in %d bytes", ErrCorrupt, n, size)
	}
	return nil
}

// parseRecord decodes the record at the start of b into r and returns its
// encoded size. With keepHeaders false the headers are checked but not
// stored, and nothing is allocated.
func parseRecord(b []byte, r *Record, keepHeaders bool) (int, error) {
	length, n := readVarint(b)
	if n <= 0 {
		return 0, varintError("record length", n)
	}
	if length < 0 || int(length) > len(b)-n {
		return 0, fmt.Errorf("%w: record length %d with %d bytes left", ErrCorrupt, length, len(b)-n)
	}
	total := n + int(length)
	b = b[n:total]

	if len(b) < 1 {
		return 0, fmt.Errorf("%w: record of %d bytes has no attributes", ErrCorrupt, length)
	}
	r.Attributes = int8(b[0])
	b = b[1:]

	if r.TimestampDelta, n = readVarlong(b); n <= 0 {
		return 0, varintError("timestamp delta", n)
	}
	b = b[n:]
	if r.OffsetDelta, n = readVarint(b); n <= 0 {
		return 0, varintError("offset delta", n)
	}
	b = b[n:]

	var err error
	if r.Key, b, err = readNullableBytes(b, "key"); err != nil {
		return 0, err
	}
	if r.Value, b, err = readNullableBytes(b, "value"); err != nil {
		return 0, err
	}

	count, n := readVarint(b)
	if n <= 0 {
		return 0, varintError("header count", n)
	}
	b = b[n:]
	// Each header takes at least two bytes, which bounds the allocation below.
	if count < 0 || int(count) > len(b)/2 {
		return 0, fmt.Errorf("%w: %d headers in %d bytes", ErrCorrupt, count, len(b))
	}
	r.Headers = r.Headers[:0]
	for i := range count {
		keyLen, n := readVarint(b)
		if n <= 0 {
			return 0, varintError("header key length", n)
		}
		b = b[n:]
		if keyLen < 0 || int(keyLen) > len(b) {
			return 0, fmt.Errorf("%w: header %d key length %d with %d bytes left", ErrCorrupt, i, keyLen, len(b))
		}
		key := b[:keyLen]
		b = b[keyLen:]
		var value []byte
		if value, b, err = readNullableBytes(b, "header value"); err != nil {
			return 0, err
		}
		if keepHeaders {
			r.Headers = append(r.Headers, RecordHeader{Key: string(key), Value: value})
		}
	}
	if len(b) != 0 {
		return 0, fmt.Errorf("%w: record length %d leaves %d bytes unread", ErrCorrupt, length, len(b))
	}
	return total, nil
}

// readNullableBytes reads a varint length (-1 for null) and that many bytes.
// The returned slice's capacity ends with its data, so appending to it
// cannot clobber what follows.
func readNullableBytes(b []byte, what string) (v, rest []byte, err error) {
	l, n := readVarint(b)
	if n <= 0 {
		return nil, nil, varintError(what+" length", n)
	}
	b = b[n:]
	switch {
	case l == -1:
		return nil, b, nil
	case l < -1 || int(l) > len(b):
		return nil, nil, fmt.Errorf("%w: %s length %d with %d bytes left", ErrCorrupt, what, l, len(b))
	}
	return b[:l:l], b[l:], nil
}

// readVarint decodes a zigzag varint of at most 5 bytes that fits in an
// int32, as Kafka writes them. n is 0 if b is too short and negative if the
// encoding is too long or overflows.
func readVarint(b []byte) (v int32, n int) {
	switch {
	case len(b) > 0 && b[0] < 0x80: // one byte: the common case
		return int32(b[0]>>1) ^ -int32(b[0]&1), 1
	case len(b) > 1 && b[1] < 0x80: // two bytes: record lengths up to 8 KiB
		u := uint32(b[0]&0x7f) | uint32(b[1])<<7
		return int32(u>>1) ^ -int32(u&1), 2
	}
	x, n := binary.Varint(b)
	if n <= 0 {
		return 0, n
	}
	if n > 5 || x < math.MinInt32 || x > math.MaxInt32 {
		return 0, -n
	}
	return int32(x), n
}

// readVarlong decodes a zigzag varint of at most 10 bytes.
func readVarlong(b []byte) (v int64, n int) {
	if len(b) > 0 && b[0] < 0x80 {
		return int64(b[0]>>1) ^ -int64(b[0]&1), 1
	}
	return binary.Varint(b)
}

func varintError(what string, n int) error {
	if n == 0 {
		return fmt.Errorf("%w: %s: truncated varint", ErrCorrupt, what)
	}
	return fmt.Errorf("%w: %s: varint overflows", ErrCorrupt, what)
}

// varintSize is the encoded size of v as a zigzag varint.
func varintSize(v int64) int {
	u := uint64(v<<1) ^ uint64(v>>63)
	return (bits.Len64(u|1) + 6) / 7
}

// nullableBytesSize is the encoded size of b with its varint length.
func nullableBytesSize(b []byte) int {
	if b == nil {
		return 1
	}
	return varintSize(int64(len(b))) + len(b)
}
