package record

import (
	"bytes"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// buildSample builds sampleRecords with b, using Add.
func buildSample(t *testing.T, b *Builder, baseTimestamp int64) []byte {
	t.Helper()
	for _, r := range sampleRecords() {
		b.Add(baseTimestamp+r.TimestampDelta, r.Key, r.Value, r.Headers)
	}
	batch, err := b.Build()
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	return batch
}

func TestBuilderOutputDecodesWithKmsg(t *testing.T) {
	const base = 1_700_000_000_000
	for _, codec := range allCodecs {
		t.Run(codec.String(), func(t *testing.T) {
			b := NewBuilder(codec, base)
			b.SetProducer(1234, 5, 100)
			b.SetTransactional(true)
			batch := buildSample(t, b, base)

			rb, recs := kmsgDecode(t, batch)
			wantHeader := kmsg.RecordBatch{
				FirstOffset:          0,
				Length:               int32(len(batch) - LogOverhead),
				PartitionLeaderEpoch: -1,
				Magic:                2,
				CRC:                  rb.CRC, // checked by kmsgDecode
				Attributes:           int16(codec) | AttrTransactional,
				LastOffsetDelta:      4,
				FirstTimestamp:       base,
				MaxTimestamp:         base + 1<<40,
				ProducerID:           1234,
				ProducerEpoch:        5,
				FirstSequence:        100,
				NumRecords:           5,
				Records:              rb.Records,
			}
			if diff := cmp.Diff(wantHeader, rb); diff != "" {
				t.Errorf("kmsg header of Builder batch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(normalize(sampleRecords()), normalize(recs)); diff != "" {
				t.Errorf("kmsg records of Builder batch (-want +got):\n%s", diff)
			}

			h, err := ValidateBatch(batch)
			if err != nil {
				t.Fatalf("ValidateBatch(Builder batch): %v", err)
			}
			if !h.IsTransactional() || h.IsControl() || h.Codec() != codec || !h.HasProducerID() {
				t.Errorf("ValidateBatch(Builder batch) header = %+v", h)
			}
			got, err := collect(batch, 1<<20)
			if err != nil {
				t.Fatalf("Records(Builder batch): %v", err)
			}
			if diff := cmp.Diff(normalize(sampleRecords()), got); diff != "" {
				t.Errorf("Records(Builder batch) (-want +got):\n%s", diff)
			}
		})
	}
}

func TestBuilderMatchesKmsgBytes(t *testing.T) {
	// Without compression there is one encoding, so the bytes must match.
	b := NewBuilder(CodecNone, 1000)
	batch := buildSample(t, b, 1000)
	want := kmsgBatch(t, CodecNone, sampleRecords(), kmsgBatchOptions{baseTimestamp: 1000, producerID: -1, producerEpoch: -1, baseSequence: -1})
	if !bytes.Equal(batch, want) {
		t.Errorf("Builder batch differs from kmsg's:\n got %x\nwant %x", batch, want)
	}
}

func TestBuilderDefaults(t *testing.T) {
	b := NewBuilder(CodecNone, 50)
	b.Add(40, []byte("k"), nil, nil)
	b.Add(60, nil, []byte("v"), nil)
	b.Add(55, nil, nil, nil)
	batch, err := b.Build()
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	h, err := ValidateBatch(batch)
	if err != nil {
		t.Fatalf("ValidateBatch: %v", err)
	}
	want := Header{
		BaseOffset: 0, Length: int32(len(batch) - LogOverhead), PartitionLeaderEpoch: -1, Magic: 2, CRC: h.CRC,
		LastOffsetDelta: 2, BaseTimestamp: 50, MaxTimestamp: 60,
		ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1, NumRecords: 3,
	}
	if diff := cmp.Diff(want, h); diff != "" {
		t.Errorf("header of a default Builder batch (-want +got):\n%s", diff)
	}
	if n, err := CountRecords(batch); err != nil || n != 3 {
		t.Errorf("CountRecords = %d, %v; want 3, nil", n, err)
	}
}

func TestBuilderControlBatch(t *testing.T) {
	b := NewBuilder(CodecNone, 7)
	b.SetProducer(11, 2, -1)
	b.SetTransactional(true)
	b.SetControl(true)
	// An abort marker: key version 0, type 0; value version 0, coordinator epoch 3.
	b.Add(7, []byte{0, 0, 0, 0}, []byte{0, 0, 0, 0, 0, 3}, nil)
	batch, err := b.Build()
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	h, err := ValidateBatch(batch)
	if err != nil {
		t.Fatalf("ValidateBatch: %v", err)
	}
	if !h.IsControl() || !h.IsTransactional() || h.ProducerID != 11 || h.ProducerEpoch != 2 {
		t.Errorf("control batch header = %+v, want control, transactional, producer 11 epoch 2", h)
	}
	b.SetControl(false)
	b.Add(7, nil, []byte("x"), nil)
	batch, err = b.Build()
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	if h, _ := ParseHeader(batch); h.IsControl() || !h.IsTransactional() {
		t.Errorf("after SetControl(false) header = %+v, want transactional only", h)
	}
}

func TestBuilderIsReusableAfterBuild(t *testing.T) {
	for _, codec := range allCodecs {
		t.Run(codec.String(), func(t *testing.T) {
			b := NewBuilder(codec, 0)
			first := buildSample(t, b, 0)
			firstCopy := bytes.Clone(first)
			if b.NumRecords() != 0 || b.UncompressedSize() != HeaderSize {
				t.Fatalf("after Build NumRecords() = %d, UncompressedSize() = %d; want 0, %d", b.NumRecords(), b.UncompressedSize(), HeaderSize)
			}
			b.Add(9, []byte("second"), []byte("batch"), nil)
			second, err := b.Build()
			if err != nil {
				t.Fatalf("second Build: %v", err)
			}
			if !bytes.Equal(first, firstCopy) {
				t.Errorf("building a second batch changed the first")
			}
			got, err := collect(second, 1<<20)
			if err != nil {
				t.Fatalf("Records(second batch): %v", err)
			}
			want := []Record{{TimestampDelta: 9, OffsetDelta: 0, Key: []byte("second"), Value: []byte("batch")}}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("second batch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestBuilderAddRecordKeepsDeltas(t *testing.T) {
	b := NewBuilder(CodecNone, 100)
	recs := []Record{
		{Attributes: 0, TimestampDelta: -5, OffsetDelta: 0, Value: []byte("a")},
		{Attributes: 0, TimestampDelta: 9, OffsetDelta: 3, Value: []byte("b")}, // compaction left a gap
		{Attributes: 0, TimestampDelta: 2, OffsetDelta: 7, Value: []byte("c")},
	}
	for i := range recs {
		b.AddRecord(&recs[i])
	}
	batch, err := b.Build()
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	h, _ := ParseHeader(batch)
	if h.LastOffsetDelta != 7 || h.NumRecords != 3 || h.MaxTimestamp != 109 {
		t.Errorf("header = %+v, want last offset delta 7, 3 records, max timestamp 109", h)
	}
	got, err := collect(batch, 0)
	if err != nil {
		t.Fatalf("Records: %v", err)
	}
	if diff := cmp.Diff(recs, got); diff != "" {
		t.Errorf("Records (-want +got):\n%s", diff)
	}
	if _, err := CountRecords(batch); !errors.Is(err, ErrInvalid) {
		t.Errorf("CountRecords(batch with offset gaps) = %v, want ErrInvalid", err)
	}
}

func TestBuilderErrors(t *testing.T) {
	b := NewBuilder(CodecNone, 0)
	if _, err := b.Build(); !errors.Is(err, ErrInvalid) {
		t.Errorf("Build() with no records = %v, want ErrInvalid", err)
	}

	b.AddRecord(&Record{OffsetDelta: 2})
	b.AddRecord(&Record{OffsetDelta: 2})
	b.Add(0, nil, nil, nil)
	if _, err := b.Build(); !errors.Is(err, ErrInvalid) {
		t.Errorf("Build() after a repeated offset delta = %v, want ErrInvalid", err)
	}
	b.AddRecord(&Record{OffsetDelta: -1})
	if _, err := b.Build(); !errors.Is(err, ErrInvalid) {
		t.Errorf("Build() after a negative offset delta = %v, want ErrInvalid", err)
	}

	// The failed builds left nothing behind.
	b.Add(0, nil, []byte("ok"), nil)
	batch, err := b.Build()
	if err != nil {
		t.Fatalf("Build after errors: %v", err)
	}
	if n, err := CountRecords(batch); err != nil || n != 1 {
		t.Errorf("CountRecords after errors = %d, %v; want 1, nil", n, err)
	}

	bad := NewBuilder(Codec(5), 0)
	bad.Add(0, nil, nil, nil)
	if _, err := bad.Build(); !errors.Is(err, ErrUnsupported) {
		t.Errorf("Build() with codec 5 = %v, want ErrUnsupported", err)
	}
}

func TestBuilderAllocations(t *testing.T) {
	key, value := []byte("key"), bytes.Repeat([]byte("v"), 100)
	headers := []RecordHeader{{Key: "h", Value: []byte("1")}}
	b := NewBuilder(CodecNone, 0)
	allocs := testing.AllocsPerRun(50, func() {
		for range 100 {
			b.Add(1, key, value, headers)
		}
		if _, err := b.Build(); err != nil {
			t.Fatal(err)
		}
	})
	// The buffer grows by doubling: about log2(100 records) allocations.
	if allocs > 12 {
		t.Errorf("building 100 records allocated %.0f times, want at most 12", allocs)
	}
}
