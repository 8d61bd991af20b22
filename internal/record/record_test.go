package record

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Helpers shared by the tests of this package. Reference batches are built
// and read with franz-go's kmsg and kgo, never with the code under test.

var allCodecs = []Codec{CodecNone, CodecGzip, CodecSnappy, CodecLZ4, CodecZstd}

var testCRCTable = crc32.MakeTable(crc32.Castagnoli)

// sampleRecords returns records covering null and empty keys and values,
// headers with null values, negative and large timestamp deltas, and a value
// long enough to need a multi-byte length.
func sampleRecords() []Record {
	return []Record{
		{TimestampDelta: 0, OffsetDelta: 0, Key: []byte("k0"), Value: []byte("v0")},
		{TimestampDelta: 5, OffsetDelta: 1, Key: nil, Value: []byte("null key")},
		{TimestampDelta: -3, OffsetDelta: 2, Key: []byte{}, Value: nil},
		{TimestampDelta: 1 << 40, OffsetDelta: 3, Key: []byte("h"), Value: bytes.Repeat([]byte("abcdefgh"), 300),
			Headers: []RecordHeader{{Key: "a", Value: []byte("1")}, {Key: "", Value: nil}, {Key: "empty", Value: []byte{}}}},
		{TimestampDelta: math.MinInt64 / 4, OffsetDelta: 4, Key: []byte("last"), Value: []byte{}},
	}
}

// manyRecords returns n records of about valueSize bytes each with
// compressible values.
func manyRecords(n, valueSize int) []Record {
	recs := make([]Record, n)
	for i := range recs {
		v := make([]byte, valueSize)
		for j := range v {
			v[j] = byte('a' + (i+j/7)%26)
		}
		recs[i] = Record{TimestampDelta: int64(i), OffsetDelta: int32(i), Key: binary.BigEndian.AppendUint32(nil, uint32(i)), Value: v}
	}
	return recs
}

// kmsgBatchOptions sets the header fields of a reference batch.
type kmsgBatchOptions struct {
	baseOffset    int64
	baseTimestamp int64
	attributes    int16 // other than the codec
	producerID    int64
	producerEpoch int16
	baseSequence  int32
}

// kmsgBatch encodes recs with kmsg, compresses them with kgo's compressor
// and fills in the length and CRC: the way franz-go producers build batches.
func kmsgBatch(t testing.TB, codec Codec, recs []Record, o kmsgBatchOptions) []byte {
	t.Helper()
	var raw []byte
	maxTS := o.baseTimestamp
	for i, r := range recs {
		kr := kmsg.Record{
			Attributes:       r.Attributes,
			TimestampDelta64: r.TimestampDelta,
			OffsetDelta:      r.OffsetDelta,
			Key:              r.Key,
			Value:            r.Value,
		}
		for _, h := range r.Headers {
			kr.Headers = append(kr.Headers, kmsg.Header{Key: h.Key, Value: h.Value})
		}
		// Length is everything after itself: encode once to measure it.
		body := kr.AppendTo(nil)
		_, n := binary.Varint(body)
		kr.Length = int32(len(body) - n)
		raw = kr.AppendTo(raw)
		if ts := o.baseTimestamp + r.TimestampDelta; i == 0 || ts > maxTS {
			maxTS = ts
		}
	}
	payload := raw
	if codec != CodecNone {
		comp, err := kgo.DefaultCompressor(kgoCodec(t, codec))
		if err != nil {
			t.Fatalf("kgo.DefaultCompressor(%s): %v", codec, err)
		}
		var used kgo.CompressionCodecType
		payload, used = comp.Compress(new(bytes.Buffer), raw)
		if int(used) != int(codec) {
			t.Fatalf("kgo compressed with codec %d, want %s", used, codec)
		}
		payload = bytes.Clone(payload) // the buffer belongs to kgo's pool
	}
	lastDelta := int32(-1)
	if len(recs) > 0 {
		lastDelta = recs[len(recs)-1].OffsetDelta
	}
	rb := kmsg.RecordBatch{
		FirstOffset:          o.baseOffset,
		Length:               int32(HeaderSize - LogOverhead + len(payload)),
		PartitionLeaderEpoch: -1,
		Magic:                2,
		Attributes:           o.attributes | int16(codec),
		LastOffsetDelta:      lastDelta,
		FirstTimestamp:       o.baseTimestamp,
		MaxTimestamp:         maxTS,
		ProducerID:           o.producerID,
		ProducerEpoch:        o.producerEpoch,
		FirstSequence:        o.baseSequence,
		NumRecords:           int32(len(recs)),
		Records:              payload,
	}
	b := rb.AppendTo(nil)
	binary.BigEndian.PutUint32(b[17:], crc32.Checksum(b[21:], testCRCTable))
	return b
}

func kgoCodec(t testing.TB, c Codec) kgo.CompressionCodec {
	switch c {
	case CodecNone:
		return kgo.NoCompression()
	case CodecGzip:
		return kgo.GzipCompression()
	case CodecSnappy:
		return kgo.SnappyCompression()
	case CodecLZ4:
		return kgo.Lz4Compression()
	case CodecZstd:
		return kgo.ZstdCompression()
	}
	t.Fatalf("no kgo codec for %s", c)
	return kgo.CompressionCodec{}
}

// kmsgDecode reads batch with kmsg and kgo: it checks the CRC itself,
// decompresses with kgo's decompressor and parses each record with kmsg.
func kmsgDecode(t testing.TB, batch []byte) (kmsg.RecordBatch, []Record) {
	t.Helper()
	var rb kmsg.RecordBatch
	if err := rb.ReadFrom(batch); err != nil {
		t.Fatalf("kmsg.RecordBatch.ReadFrom: %v", err)
	}
	if got := int32(crc32.Checksum(batch[21:], testCRCTable)); got != rb.CRC {
		t.Fatalf("batch crc %08x, header says %08x", uint32(got), uint32(rb.CRC))
	}
	if int(rb.Length)+LogOverhead != len(batch) {
		t.Fatalf("batch length field %d for %d bytes", rb.Length, len(batch))
	}
	data := rb.Records
	if c := kgo.CompressionCodecType(rb.Attributes & 7); c != kgo.CodecNone {
		var err error
		if data, err = kgo.DefaultDecompressor().Decompress(rb.Records, c); err != nil {
			t.Fatalf("kgo decompress codec %d: %v", c, err)
		}
	}
	var recs []Record
	for i := range rb.NumRecords {
		var kr kmsg.Record
		if err := kr.ReadFrom(data); err != nil {
			t.Fatalf("kmsg.Record.ReadFrom record %d: %v", i, err)
		}
		_, n := binary.Varint(data)
		data = data[n+int(kr.Length):]
		r := Record{
			Attributes:     kr.Attributes,
			TimestampDelta: kr.TimestampDelta64,
			OffsetDelta:    kr.OffsetDelta,
			Key:            kr.Key,
			Value:          kr.Value,
		}
		for _, h := range kr.Headers {
			r.Headers = append(r.Headers, RecordHeader{Key: h.Key, Value: h.Value})
		}
		recs = append(recs, r)
	}
	if len(data) != 0 {
		t.Fatalf("%d bytes after %d records", len(data), rb.NumRecords)
	}
	return rb, recs
}

// cloneRecord deep-copies r, keeping nil apart from empty, with no headers as nil.
func cloneRecord(r *Record) Record {
	c := *r
	c.Key = bytes.Clone(r.Key)
	c.Value = bytes.Clone(r.Value)
	c.Headers = nil
	for _, h := range r.Headers {
		c.Headers = append(c.Headers, RecordHeader{Key: h.Key, Value: bytes.Clone(h.Value)})
	}
	return c
}

// collect decodes batch with Records and returns copies of its records.
func collect(batch []byte, maxDecompressed int) ([]Record, error) {
	var recs []Record
	err := Records(batch, maxDecompressed, func(r *Record) error {
		recs = append(recs, cloneRecord(r))
		return nil
	})
	return recs, err
}

// normalize makes empty header lists nil so expectations compare with decodes.
func normalize(recs []Record) []Record {
	out := make([]Record, len(recs))
	for i := range recs {
		out[i] = cloneRecord(&recs[i])
	}
	return out
}

// rawBatch wraps hand-made record bytes in a batch header with a valid CRC.
func rawBatch(codec Codec, numRecords int32, records []byte) []byte {
	b := make([]byte, HeaderSize, HeaderSize+len(records))
	b = append(b, records...)
	be := binary.BigEndian
	be.PutUint32(b[offLength:], uint32(len(b)-LogOverhead))
	be.PutUint32(b[offLeaderEpoch:], math.MaxUint32)
	b[offMagic] = 2
	be.PutUint16(b[offAttributes:], uint16(codec))
	be.PutUint32(b[offLastOffsetDelta:], uint32(numRecords-1))
	be.PutUint64(b[offProducerID:], math.MaxUint64)
	be.PutUint16(b[offProducerEpoch:], math.MaxUint16)
	be.PutUint32(b[offBaseSequence:], math.MaxUint32)
	be.PutUint32(b[offNumRecords:], uint32(numRecords))
	be.PutUint32(b[offCRC:], crc32.Checksum(b[offAttributes:], testCRCTable))
	return b
}

// fixCRC recomputes the CRC of a batch the test has edited.
func fixCRC(b []byte) []byte {
	binary.BigEndian.PutUint32(b[offCRC:], crc32.Checksum(b[offAttributes:], testCRCTable))
	return b
}

func TestValidateBatch(t *testing.T) {
	valid := kmsgBatch(t, CodecNone, sampleRecords(), kmsgBatchOptions{baseOffset: 42, baseTimestamp: 1000, producerID: -1, producerEpoch: -1, baseSequence: -1})
	edit := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(valid)) }
	be := binary.BigEndian
	tests := []struct {
		name string
		give []byte
		want error
	}{
		{name: "valid batch", give: valid},
		{name: "shorter than a header", give: valid[:HeaderSize-1], want: ErrCorrupt},
		{name: "bad crc", give: edit(func(b []byte) []byte { b[len(b)-1] ^= 1; return b }), want: ErrCorrupt},
		{name: "bad magic", give: edit(func(b []byte) []byte { b[offMagic] = 1; return b }), want: ErrCorrupt},
		{name: "length field too long", give: edit(func(b []byte) []byte {
			be.PutUint32(b[offLength:], be.Uint32(b[offLength:])+1)
			return b
		}), want: ErrCorrupt},
		{name: "length field below header", give: edit(func(b []byte) []byte {
			be.PutUint32(b[offLength:], 10)
			return b
		}), want: ErrCorrupt},
		{name: "truncated batch", give: valid[:len(valid)-1], want: ErrCorrupt},
		{name: "negative last offset delta", give: edit(func(b []byte) []byte {
			be.PutUint32(b[offNumRecords:], 0)
			be.PutUint32(b[offLastOffsetDelta:], math.MaxUint32)
			return fixCRC(b)
		}), want: ErrCorrupt},
		{name: "unknown codec", give: edit(func(b []byte) []byte {
			be.PutUint16(b[offAttributes:], 5)
			return fixCRC(b)
		}), want: ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := ValidateBatch(tt.give)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("ValidateBatch(valid) = %v, want nil", err)
				}
				if h.BaseOffset != 42 || h.NumRecords != 5 || h.LastOffset() != 46 || h.NextOffset() != 47 || h.Size() != len(tt.give) {
					t.Errorf("ValidateBatch(valid) header = %+v", h)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("ValidateBatch(%s) = %v, want %v", tt.name, err, tt.want)
			}
		})
	}
}

func TestValidateProduced(t *testing.T) {
	tests := []struct {
		name string
		give Header
		want error
	}{
		{"contiguous", Header{NumRecords: 5, LastOffsetDelta: 4}, nil},
		{"offset gap (compacted, not producible)", Header{NumRecords: 4, LastOffsetDelta: 4}, ErrInvalid},
		{"no records", Header{NumRecords: 0, LastOffsetDelta: 3}, ErrInvalid},
		{"producer id without a sequence", Header{NumRecords: 1, ProducerID: 7, BaseSequence: -1}, ErrInvalid},
		{"no producer id, no sequence", Header{NumRecords: 1, ProducerID: -1, BaseSequence: -1}, nil},
	}
	for _, tt := range tests {
		if err := ValidateProduced(&tt.give); !errors.Is(err, tt.want) {
			t.Errorf("ValidateProduced(%s) = %v, want %v", tt.name, err, tt.want)
		}
	}
	// A compacted batch that kept 4 of 5 records is valid in a log.
	b := kmsgBatch(t, CodecNone, sampleRecords(), kmsgBatchOptions{producerID: -1, producerEpoch: -1, baseSequence: -1})
	binary.BigEndian.PutUint32(b[offNumRecords:], 4)
	if _, err := ValidateBatch(fixCRC(b)); err != nil {
		t.Errorf("ValidateBatch(batch with an offset gap) = %v, want nil", err)
	}
}

func TestSetLogAppendTimeKeepsCRCValid(t *testing.T) {
	for _, codec := range allCodecs {
		t.Run(codec.String(), func(t *testing.T) {
			batch := kmsgBatch(t, codec, sampleRecords(), kmsgBatchOptions{baseTimestamp: 1000, producerID: 7, producerEpoch: 1, baseSequence: 3})
			SetLogAppendTime(batch, 99_999)
			h, err := ValidateBatch(batch)
			if err != nil {
				t.Fatalf("ValidateBatch after SetLogAppendTime: %v", err)
			}
			if !h.IsLogAppendTime() || h.MaxTimestamp != 99_999 || h.Codec() != codec {
				t.Errorf("header after SetLogAppendTime(99999) = %+v, want LogAppendTime, max timestamp 99999, codec %s", h, codec)
			}
			rb, _ := kmsgDecode(t, batch) // checks the CRC independently
			if rb.Attributes&AttrTimestampType == 0 {
				t.Errorf("kmsg sees attributes %#x, want the timestamp type bit", rb.Attributes)
			}
		})
	}
}

func TestSetBaseOffsetAndLeaderEpochLeaveCRCValid(t *testing.T) {
	batch := kmsgBatch(t, CodecNone, sampleRecords(), kmsgBatchOptions{producerID: -1, producerEpoch: -1, baseSequence: -1})
	SetBaseOffset(batch, 1<<40)
	SetPartitionLeaderEpoch(batch, 17)
	h, err := ValidateBatch(batch)
	if err != nil {
		t.Fatalf("ValidateBatch after SetBaseOffset: %v", err)
	}
	if h.BaseOffset != 1<<40 || h.PartitionLeaderEpoch != 17 {
		t.Errorf("header = %+v, want base offset %d and leader epoch 17", h, int64(1<<40))
	}
}

func TestIncrementSequence(t *testing.T) {
	tests := []struct {
		give, delta, want int32
	}{
		{give: 0, delta: 0, want: 0},
		{give: 5, delta: 3, want: 8},
		{give: math.MaxInt32 - 3, delta: 3, want: math.MaxInt32},
		{give: math.MaxInt32, delta: 1, want: 0},
		{give: math.MaxInt32, delta: 0, want: math.MaxInt32},
		{give: math.MaxInt32 - 1, delta: 3, want: 1},
		{give: math.MaxInt32, delta: math.MaxInt32, want: math.MaxInt32 - 1},
	}
	for _, tt := range tests {
		if got := IncrementSequence(tt.give, tt.delta); got != tt.want {
			t.Errorf("IncrementSequence(%d, %d) = %d, want %d", tt.give, tt.delta, got, tt.want)
		}
	}
}

func TestLastSequenceWraps(t *testing.T) {
	b := NewBuilder(CodecNone, 0)
	b.SetProducer(9, 0, math.MaxInt32-1)
	for range 4 {
		b.Add(0, nil, []byte("v"), nil)
	}
	batch, err := b.Build()
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	h, err := ValidateBatch(batch)
	if err != nil {
		t.Fatalf("ValidateBatch: %v", err)
	}
	if got := h.LastSequence(); got != 1 {
		t.Errorf("LastSequence() with base %d and 4 records = %d, want 1", h.BaseSequence, got)
	}
	h.BaseSequence = -1
	if got := h.LastSequence(); got != -1 {
		t.Errorf("LastSequence() without a sequence = %d, want -1", got)
	}
}

func TestNextBatchSplitsConcatenatedBatches(t *testing.T) {
	var all []byte
	var want [][]byte
	for i, codec := range allCodecs {
		b := kmsgBatch(t, codec, sampleRecords()[:i+1], kmsgBatchOptions{baseOffset: int64(i * 10), producerID: -1, producerEpoch: -1, baseSequence: -1})
		want = append(want, b)
		all = append(all, b...)
	}
	var got [][]byte
	for rest := all; len(rest) > 0; {
		batch, r, err := NextBatch(rest)
		if err != nil {
			t.Fatalf("NextBatch after %d batches: %v", len(got), err)
		}
		got = append(got, batch)
		rest = r
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("NextBatch split (-want +got):\n%s", diff)
	}
	if _, _, err := NextBatch(all[:len(all)-1][len(all)-len(want[4]):]); !errors.Is(err, ErrCorrupt) {
		t.Errorf("NextBatch(truncated batch) = %v, want ErrCorrupt", err)
	}
}
