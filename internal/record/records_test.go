package record

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestRecordsDecodesKmsgBatches(t *testing.T) {
	for _, codec := range allCodecs {
		t.Run(codec.String(), func(t *testing.T) {
			want := normalize(sampleRecords())
			batch := kmsgBatch(t, codec, sampleRecords(), kmsgBatchOptions{baseTimestamp: 1_700_000_000_000, producerID: 3, producerEpoch: 4, baseSequence: 5})
			if _, err := ValidateBatch(batch); err != nil {
				t.Fatalf("ValidateBatch(kmsg batch): %v", err)
			}
			got, err := collect(batch, 1<<20)
			if err != nil {
				t.Fatalf("Records(kmsg %s batch): %v", codec, err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Records(kmsg %s batch) (-want +got):\n%s", codec, diff)
			}
		})
	}
}

func TestRecordsDecodesLargeKmsgBatches(t *testing.T) {
	want := manyRecords(2000, 300)
	for _, codec := range allCodecs {
		t.Run(codec.String(), func(t *testing.T) {
			batch := kmsgBatch(t, codec, want, kmsgBatchOptions{producerID: -1, producerEpoch: -1, baseSequence: -1})
			got, err := collect(batch, 4<<20)
			if err != nil {
				t.Fatalf("Records(kmsg %s batch of %d): %v", codec, len(want), err)
			}
			if len(got) != len(want) {
				t.Fatalf("Records(kmsg %s batch of %d) gave %d records", codec, len(want), len(got))
			}
			// cmp.Diff is slow on this many records; compare one by one.
			for i := range want {
				w, g := &want[i], &got[i]
				if w.TimestampDelta != g.TimestampDelta || w.OffsetDelta != g.OffsetDelta ||
					!bytes.Equal(w.Key, g.Key) || !bytes.Equal(w.Value, g.Value) || len(g.Headers) != 0 {
					t.Fatalf("Records(kmsg %s batch) record %d = %+v, want %+v", codec, i, g, w)
				}
			}
		})
	}
}

func TestRecordsKeepsNullApartFromEmpty(t *testing.T) {
	recs := []Record{{OffsetDelta: 0, Key: nil, Value: []byte{}, Headers: []RecordHeader{{Key: "h", Value: nil}, {Key: "i", Value: []byte{}}}}}
	batch := kmsgBatch(t, CodecNone, recs, kmsgBatchOptions{})
	got, err := collect(batch, 1<<20)
	if err != nil {
		t.Fatalf("Records: %v", err)
	}
	r := got[0]
	if r.Key != nil || r.Value == nil || len(r.Value) != 0 || r.Headers[0].Value != nil || r.Headers[1].Value == nil {
		t.Errorf("Records decoded key %#v value %#v headers %#v; want null key, empty value, null then empty header value", r.Key, r.Value, r.Headers)
	}
}

func TestRecordsAliasesUncompressedBatch(t *testing.T) {
	batch := kmsgBatch(t, CodecNone, sampleRecords()[:1], kmsgBatchOptions{})
	err := Records(batch, 0, func(r *Record) error {
		if &r.Value[0] != &batch[len(batch)-3] { // value "v0" then a zero header count
			t.Errorf("Value does not alias the batch")
		}
		if cap(r.Key) != len(r.Key) {
			t.Errorf("cap(Key) = %d, want %d so that appends cannot overwrite the batch", cap(r.Key), len(r.Key))
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Records: %v", err)
	}
}

func TestRecordsStopsOnCallbackError(t *testing.T) {
	batch := kmsgBatch(t, CodecNone, sampleRecords(), kmsgBatchOptions{})
	stop := errors.New("stop")
	calls := 0
	err := Records(batch, 0, func(*Record) error {
		calls++
		if calls == 2 {
			return stop
		}
		return nil
	})
	if err != stop || calls != 2 {
		t.Errorf("Records with a callback failing on call 2 = %v after %d calls, want the callback's error after 2", err, calls)
	}
}

func TestRecordsBoundsDecompression(t *testing.T) {
	recs := manyRecords(1000, 1000) // about 1 MB, compresses well
	for _, codec := range allCodecs[1:] {
		batch := kmsgBatch(t, codec, recs, kmsgBatchOptions{})
		if err := Records(batch, 64<<10, func(*Record) error { return nil }); !errors.Is(err, ErrTooLarge) {
			t.Errorf("Records(%s batch of about 1 MB, limit 64 KiB) = %v, want ErrTooLarge", codec, err)
		}
	}
}

// Hand-made record bytes for the corruption tests.

func vi(v int64) []byte { return binary.AppendVarint(nil, v) }

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// withLength prefixes body with its varint length.
func withLength(body []byte) []byte { return cat(vi(int64(len(body))), body) }

// goodBody is a valid record body with the given offset delta: no key,
// value "v", no headers.
func goodBody(offsetDelta int64) []byte {
	return cat([]byte{0}, vi(0), vi(offsetDelta), vi(-1), vi(1), []byte("v"), vi(0))
}

func TestRecordsRejectsCorruptRecords(t *testing.T) {
	good0, good1 := withLength(goodBody(0)), withLength(goodBody(1))
	tests := []struct {
		name       string
		numRecords int32
		records    []byte
		codec      Codec
		want       error
	}{
		{name: "two good records", numRecords: 2, records: cat(good0, good1)},
		{name: "record length past end", numRecords: 1, records: cat(vi(100), goodBody(0)), want: ErrCorrupt},
		{name: "negative record length", numRecords: 1, records: cat(vi(-1), goodBody(0)), want: ErrCorrupt},
		{name: "truncated length varint", numRecords: 1, records: []byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80}, want: ErrCorrupt},
		{name: "length varint longer than five bytes", numRecords: 1, records: cat([]byte{0x8e, 0x80, 0x80, 0x80, 0x80, 0x00}, goodBody(0)), want: ErrCorrupt},
		{name: "length varint overflows int32", numRecords: 1, records: cat([]byte{0xff, 0xff, 0xff, 0xff, 0x1f}, goodBody(0), goodBody(0)), want: ErrCorrupt},
		{name: "empty record", numRecords: 1, records: cat(vi(0), goodBody(0)), want: ErrCorrupt},
		{name: "truncated timestamp", numRecords: 1, records: cat(withLength([]byte{0, 0x80}), good1), want: ErrCorrupt},
		{name: "timestamp varint overflows", numRecords: 1, records: withLength(cat([]byte{0}, bytes.Repeat([]byte{0xff}, 10), []byte{0x01}, vi(0), vi(-1), vi(-1), vi(0))), want: ErrCorrupt},
		{name: "offset delta overflows int32", numRecords: 1, records: withLength(cat([]byte{0}, vi(0), vi(1<<33), vi(-1), vi(-1), vi(0))), want: ErrCorrupt},
		{name: "key length below null", numRecords: 1, records: withLength(cat([]byte{0}, vi(0), vi(0), vi(-2), vi(1), []byte("v"), vi(0))), want: ErrCorrupt},
		{name: "key past record end", numRecords: 1, records: withLength(cat([]byte{0}, vi(0), vi(0), vi(50), vi(1), []byte("v"), vi(0))), want: ErrCorrupt},
		{name: "value past record end", numRecords: 1, records: withLength(cat([]byte{0}, vi(0), vi(0), vi(-1), vi(2), []byte("v"), vi(0))), want: ErrCorrupt},
		{name: "declared length longer than fields", numRecords: 1, records: withLength(cat(goodBody(0), []byte{0})), want: ErrCorrupt},
		{name: "fields longer than declared length", numRecords: 2, records: cat(vi(int64(len(goodBody(0))-1)), goodBody(0), good1), want: ErrCorrupt},
		{name: "missing header count", numRecords: 1, records: withLength(cat([]byte{0}, vi(0), vi(0), vi(-1), vi(1), []byte("v"))), want: ErrCorrupt},
		{name: "negative header count", numRecords: 1, records: withLength(cat([]byte{0}, vi(0), vi(0), vi(-1), vi(-1), vi(-1))), want: ErrCorrupt},
		{name: "header count too large", numRecords: 1, records: withLength(cat([]byte{0}, vi(0), vi(0), vi(-1), vi(-1), vi(1<<20), vi(0), vi(0))), want: ErrCorrupt},
		{name: "null header key", numRecords: 1, records: withLength(cat([]byte{0}, vi(0), vi(0), vi(-1), vi(-1), vi(1), vi(-1), vi(-1))), want: ErrCorrupt},
		{name: "header key past end", numRecords: 1, records: withLength(cat([]byte{0}, vi(0), vi(0), vi(-1), vi(-1), vi(1), vi(9), []byte("k"), vi(-1))), want: ErrCorrupt},
		{name: "header value past end", numRecords: 1, records: withLength(cat([]byte{0}, vi(0), vi(0), vi(-1), vi(-1), vi(1), vi(1), []byte("k"), vi(9))), want: ErrCorrupt},
		{name: "too few records", numRecords: 3, records: cat(good0, good1, good0[:len(good0)-1]), want: ErrCorrupt},
		{name: "count beyond what the bytes hold", numRecords: 1 << 30, records: cat(good0, good1), want: ErrCorrupt},
		{name: "negative count", numRecords: -1, records: nil, want: ErrCorrupt},
		{name: "trailing bytes", numRecords: 2, records: cat(good0, good1, []byte{0}), want: ErrCorrupt},
		{name: "garbage gzip payload", numRecords: 1, records: []byte("not gzip at all"), codec: CodecGzip, want: ErrCorrupt},
		{name: "unknown codec", numRecords: 1, records: good0, codec: Codec(6), want: ErrUnsupported},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			batch := rawBatch(tt.codec, tt.numRecords, tt.records)
			n := 0
			err := Records(batch, 1<<20, func(*Record) error { n++; return nil })
			if tt.want == nil {
				if err != nil || n != int(tt.numRecords) {
					t.Fatalf("Records(%s) = %v after %d records, want nil after %d", tt.name, err, n, tt.numRecords)
				}
			} else if !errors.Is(err, tt.want) {
				t.Fatalf("Records(%s) = %v, want %v", tt.name, err, tt.want)
			}
			if tt.codec != CodecNone {
				return
			}
			count, err := CountRecords(batch)
			if tt.want == nil {
				if err != nil || count != int(tt.numRecords) {
					t.Fatalf("CountRecords(%s) = %d, %v; want %d, nil", tt.name, count, err, tt.numRecords)
				}
			} else if !errors.Is(err, tt.want) {
				t.Fatalf("CountRecords(%s) = %d, %v; want %v", tt.name, count, err, tt.want)
			}
		})
	}
}

func TestRecordsRejectsBadHeaders(t *testing.T) {
	valid := kmsgBatch(t, CodecNone, sampleRecords(), kmsgBatchOptions{})
	badMagic := bytes.Clone(valid)
	badMagic[offMagic] = 1
	tests := []struct {
		name string
		give []byte
	}{
		{name: "short", give: valid[:HeaderSize-1]},
		{name: "bad magic", give: badMagic},
		{name: "length field mismatch", give: valid[:len(valid)-1]},
		{name: "extra bytes after batch", give: append(bytes.Clone(valid), 0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := Records(tt.give, 1<<20, func(*Record) error { return nil }); !errors.Is(err, ErrCorrupt) {
				t.Errorf("Records(%s) = %v, want ErrCorrupt", tt.name, err)
			}
			if _, err := CountRecords(tt.give); !errors.Is(err, ErrCorrupt) {
				t.Errorf("CountRecords(%s) = %v, want ErrCorrupt", tt.name, err)
			}
		})
	}
}

func TestCountRecords(t *testing.T) {
	batch := kmsgBatch(t, CodecNone, sampleRecords(), kmsgBatchOptions{})
	if n, err := CountRecords(batch); err != nil || n != 5 {
		t.Errorf("CountRecords(5 records) = %d, %v; want 5, nil", n, err)
	}

	gappy := sampleRecords()
	gappy[3].OffsetDelta = 7
	gappy[4].OffsetDelta = 8
	if _, err := CountRecords(kmsgBatch(t, CodecNone, gappy, kmsgBatchOptions{})); !errors.Is(err, ErrInvalid) {
		t.Errorf("CountRecords(offset deltas 0,1,2,7,8) = %v, want ErrInvalid", err)
	}
	swapped := sampleRecords()
	swapped[0].OffsetDelta, swapped[1].OffsetDelta = 1, 0
	if _, err := CountRecords(kmsgBatch(t, CodecNone, swapped, kmsgBatchOptions{})); !errors.Is(err, ErrInvalid) {
		t.Errorf("CountRecords(offset deltas 1,0,2,3,4) = %v, want ErrInvalid", err)
	}
	if _, err := CountRecords(kmsgBatch(t, CodecLZ4, sampleRecords(), kmsgBatchOptions{})); !errors.Is(err, ErrUnsupported) {
		t.Errorf("CountRecords(lz4 batch) = %v, want ErrUnsupported", err)
	}
	if allocs := testing.AllocsPerRun(100, func() { CountRecords(batch) }); allocs != 0 {
		t.Errorf("CountRecords allocated %.1f times per call, want 0", allocs)
	}
}

// Every truncation and every single-byte change of the records must give an
// error or a decode, never a panic, and truncations must always fail.
func TestRecordsSurvivesDamage(t *testing.T) {
	for _, codec := range allCodecs {
		valid := kmsgBatch(t, codec, sampleRecords(), kmsgBatchOptions{})
		records := valid[HeaderSize:]
		for n := range len(records) {
			batch := rawBatch(codec, 5, records[:n])
			if err := Records(batch, 1<<20, func(*Record) error { return nil }); err == nil {
				t.Fatalf("Records(%s batch with records cut to %d of %d bytes) = nil, want an error", codec, n, len(records))
			}
		}
		for i := range len(records) {
			for _, x := range []byte{0x01, 0x80, 0xff} {
				damaged := bytes.Clone(records)
				damaged[i] ^= x
				err := Records(rawBatch(codec, 5, damaged), 1<<20, func(*Record) error { return nil })
				if err != nil && !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrTooLarge) {
					t.Fatalf("Records(%s batch with byte %d ^ %#x) = %v, want ErrCorrupt or ErrTooLarge", codec, i, x, err)
				}
				CountRecords(rawBatch(codec, 5, damaged))
			}
		}
	}
}

func TestCheckFraming(t *testing.T) {
	good0, good1 := withLength(goodBody(0)), withLength(goodBody(1))
	tests := []struct {
		name       string
		numRecords int32
		records    []byte
		want       error
	}{
		{name: "two good records", numRecords: 2, records: cat(good0, good1)},
		{name: "record length past end", numRecords: 1, records: cat(vi(100), goodBody(0)), want: ErrCorrupt},
		{name: "negative record length", numRecords: 1, records: cat(vi(-1), goodBody(0)), want: ErrCorrupt},
		{name: "truncated length varint", numRecords: 1, records: []byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80}, want: ErrCorrupt},
		{name: "empty record", numRecords: 1, records: cat(vi(0), goodBody(0)), want: ErrCorrupt},
		{name: "record too short for its fields", numRecords: 1, records: cat(withLength([]byte{0, 0x80}), good1), want: ErrCorrupt},
		{name: "offset delta overflows int32", numRecords: 1, records: withLength(cat([]byte{0}, vi(0), vi(1<<33), vi(-1), vi(-1), vi(0))), want: ErrCorrupt},
		{name: "too few records", numRecords: 3, records: cat(good0, good1, good0[:len(good0)-1]), want: ErrCorrupt},
		{name: "count beyond what the bytes hold", numRecords: 1 << 30, records: cat(good0, good1), want: ErrCorrupt},
		{name: "trailing bytes", numRecords: 2, records: cat(good0, good1, []byte{0}), want: ErrCorrupt},
		{name: "offset deltas out of order", numRecords: 2, records: cat(good1, good0), want: ErrInvalid},
		// Fields inside a record are not decoded: the CRC covers them.
		{name: "key past record end is not looked at", numRecords: 1, records: withLength(cat([]byte{0}, vi(0), vi(0), vi(50), vi(1), []byte("v"), vi(0)))},
	}
	for _, tt := range tests {
		if err := CheckFraming(rawBatch(CodecNone, tt.numRecords, tt.records)); !errors.Is(err, tt.want) && (err != nil || tt.want != nil) {
			t.Errorf("CheckFraming(%s) = %v, want %v", tt.name, err, tt.want)
		}
	}
	if err := CheckFraming(kmsgBatch(t, CodecLZ4, sampleRecords(), kmsgBatchOptions{})); !errors.Is(err, ErrUnsupported) {
		t.Errorf("CheckFraming(lz4 batch) = %v, want ErrUnsupported", err)
	}
	batch := kmsgBatch(t, CodecNone, sampleRecords(), kmsgBatchOptions{})
	if err := CheckFraming(batch); err != nil {
		t.Errorf("CheckFraming(5 records) = %v, want nil", err)
	}
	if allocs := testing.AllocsPerRun(100, func() { CheckFraming(batch) }); allocs != 0 {
		t.Errorf("CheckFraming allocated %.1f times per call, want 0", allocs)
	}
}

func TestScanRecords(t *testing.T) {
	recs := sampleRecords() // record 1 has a null key; record 2 an empty one
	want := func(base int64) []RecordMeta {
		var out []RecordMeta
		for i, r := range recs {
			out = append(out, RecordMeta{Index: int32(i), Timestamp: base + r.TimestampDelta, NullKey: r.Key == nil})
		}
		return out
	}
	for _, codec := range allCodecs {
		t.Run(codec.String(), func(t *testing.T) {
			batch := kmsgBatch(t, codec, recs, kmsgBatchOptions{baseTimestamp: 1000})
			var got []RecordMeta
			if err := ScanRecords(batch, 1<<20, func(m RecordMeta) { got = append(got, m) }); err != nil {
				t.Fatalf("ScanRecords(%s batch) = %v, want nil", codec, err)
			}
			if diff := cmp.Diff(want(1000), got); diff != "" {
				t.Errorf("ScanRecords(%s batch) records (-want +got):\n%s", codec, diff)
			}
		})
	}
	t.Run("log append time reads the max timestamp", func(t *testing.T) {
		batch := kmsgBatch(t, CodecNone, recs[:2], kmsgBatchOptions{baseTimestamp: 1000, attributes: AttrTimestampType})
		h, _ := ParseHeader(batch)
		var got []int64
		if err := ScanRecords(batch, 1<<20, func(m RecordMeta) { got = append(got, m.Timestamp) }); err != nil {
			t.Fatalf("ScanRecords = %v, want nil", err)
		}
		if diff := cmp.Diff([]int64{h.MaxTimestamp, h.MaxTimestamp}, got); diff != "" {
			t.Errorf("ScanRecords timestamps (-want +got):\n%s", diff)
		}
	})
	t.Run("framing errors", func(t *testing.T) {
		good0 := withLength(goodBody(0))
		tests := []struct {
			name    string
			records []byte
			want    error
		}{
			{name: "key past record end", records: withLength(cat([]byte{0}, vi(0), vi(0), vi(50), vi(1), []byte("v"), vi(0))), want: ErrCorrupt},
			{name: "key length below -1", records: withLength(cat([]byte{0}, vi(0), vi(0), vi(-2), vi(1), []byte("v"), vi(0))), want: ErrCorrupt},
			{name: "trailing bytes", records: cat(good0, []byte{0}), want: ErrCorrupt},
		}
		for _, tt := range tests {
			if err := ScanRecords(rawBatch(CodecNone, 1, tt.records), 1<<20, func(RecordMeta) {}); !errors.Is(err, tt.want) {
				t.Errorf("ScanRecords(%s) = %v, want %v", tt.name, err, tt.want)
			}
		}
	})
	t.Run("decompression is bounded", func(t *testing.T) {
		batch := kmsgBatch(t, CodecZstd, manyRecords(100, 1000), kmsgBatchOptions{})
		if err := ScanRecords(batch, 10_000, nil); !errors.Is(err, ErrTooLarge) {
			t.Errorf("ScanRecords(100 KB of zstd records, limit 10 KB) = %v, want ErrTooLarge", err)
		}
	})
}

func TestReadVarintMatchesBinaryVarint(t *testing.T) {
	for _, v := range []int64{0, 1, -1, 2, -2, 63, -64, 64, -65, 1 << 20, -(1 << 31), 1<<31 - 1, 1 << 40, -(1 << 62)} {
		b := binary.AppendVarint(nil, v)
		got, n := readVarlong(b)
		if got != v || n != len(b) {
			t.Errorf("readVarlong(%x) = %d, %d; want %d, %d", b, got, n, v, len(b))
		}
		got32, n32 := readVarint(b)
		if v >= math.MinInt32 && v <= math.MaxInt32 && (int64(got32) != v || n32 != len(b)) {
			t.Errorf("readVarint(%x) = %d, %d; want %d, %d", b, got32, n32, v, len(b))
		}
	}
}
