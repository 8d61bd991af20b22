package record

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Seed corpora live in testdata/fuzz/<FuzzName>/. They are franz-go (kmsg and
// kgo) batches and payloads for each codec, plus xerial snappy; rewrite them
// with:
//
//	go test ./internal/record -run TestRewriteFuzzCorpus -rewrite-corpus
var rewriteCorpus = flag.Bool("rewrite-corpus", false, "rewrite the fuzz seed corpora in testdata/fuzz")

// knownError reports whether err belongs to one of the package's error classes.
func knownError(err error) bool {
	return errors.Is(err, ErrCorrupt) || errors.Is(err, ErrInvalid) ||
		errors.Is(err, ErrUnsupported) || errors.Is(err, ErrTooLarge)
}

// FuzzValidateBatch feeds arbitrary bytes to ValidateBatch, Records,
// CountRecords, CheckFraming and ScanRecords. Properties: no panic; errors fall in the package's classes;
// Records and CountRecords agree; and a batch Records can decode rebuilds,
// through Builder, into a batch that decodes to the same records and header.
func FuzzValidateBatch(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		const maxDecompressed = 1 << 20
		_, verr := ValidateBatch(data)
		var recs []Record
		rerr := Records(data, maxDecompressed, func(r *Record) error {
			recs = append(recs, cloneRecord(r))
			return nil
		})
		n, cerr := CountRecords(data)
		for _, err := range []error{verr, rerr, cerr} {
			if err != nil && !knownError(err) {
				t.Fatalf("error outside the package's classes: %v", err)
			}
		}
		if cerr == nil && (rerr != nil || n != len(recs)) {
			t.Fatalf("CountRecords = %d, nil but Records gave %d records, %v", n, len(recs), rerr)
		}
		// CheckFraming looks at less than CountRecords: whatever
		// CountRecords accepts, it accepts.
		if ferr := CheckFraming(data); cerr == nil && ferr != nil {
			t.Fatalf("CountRecords accepted the batch, CheckFraming = %v", ferr)
		} else if ferr != nil && !knownError(ferr) {
			t.Fatalf("CheckFraming error outside the package's classes: %v", ferr)
		}
		// ScanRecords reads less of each record than Records but wants
		// offset deltas 0..n-1: where Records decodes such a batch,
		// ScanRecords sees the same keys and timestamps.
		var metas []RecordMeta
		serr := ScanRecords(data, maxDecompressed, func(m RecordMeta) { metas = append(metas, m) })
		if serr != nil && !knownError(serr) {
			t.Fatalf("ScanRecords error outside the package's classes: %v", serr)
		}
		if rerr == nil {
			h, _ := ParseHeader(data)
			contiguous := true
			for i := range recs {
				contiguous = contiguous && recs[i].OffsetDelta == int32(i)
			}
			if contiguous && serr != nil {
				t.Fatalf("Records decoded %d contiguous records, ScanRecords = %v", len(recs), serr)
			}
			for i := range metas {
				if !contiguous {
					break
				}
				ts := h.BaseTimestamp + recs[i].TimestampDelta
				if h.IsLogAppendTime() {
					ts = h.MaxTimestamp
				}
				if want := (RecordMeta{Index: int32(i), Timestamp: ts, NullKey: recs[i].Key == nil}); metas[i] != want {
					t.Fatalf("ScanRecords record %d = %+v, Records says %+v", i, metas[i], want)
				}
			}
		}
		if rerr != nil || len(recs) == 0 {
			return
		}

		h, _ := ParseHeader(data)
		b := NewBuilder(h.Codec(), h.BaseTimestamp)
		b.SetProducer(h.ProducerID, h.ProducerEpoch, h.BaseSequence)
		b.SetTransactional(h.IsTransactional())
		b.SetControl(h.IsControl())
		increasing := true
		for i := range recs {
			b.AddRecord(&recs[i])
			increasing = increasing && recs[i].OffsetDelta >= 0 && (i == 0 || recs[i].OffsetDelta > recs[i-1].OffsetDelta)
		}
		rebuilt, err := b.Build()
		if !increasing {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Build with offset deltas out of order = %v, want ErrInvalid", err)
			}
			return
		}
		if err != nil {
			t.Fatalf("Build of %d decoded records: %v", len(recs), err)
		}
		got, err := collect(rebuilt, maxDecompressed)
		if err != nil {
			t.Fatalf("Records(rebuilt batch): %v", err)
		}
		if diff := cmp.Diff(recs, got); diff != "" {
			t.Fatalf("decode, build, decode changed the records (-first +second):\n%s", diff)
		}
		rh, err := ParseHeader(rebuilt)
		if err != nil {
			t.Fatalf("ParseHeader(rebuilt): %v", err)
		}
		const kept = AttrCompressionMask | AttrTransactional | AttrControl
		if rh.Attributes != h.Attributes&kept || rh.BaseTimestamp != h.BaseTimestamp ||
			rh.ProducerID != h.ProducerID || rh.ProducerEpoch != h.ProducerEpoch || rh.BaseSequence != h.BaseSequence ||
			rh.NumRecords != h.NumRecords || rh.LastOffsetDelta != recs[len(recs)-1].OffsetDelta {
			t.Fatalf("rebuilt header %+v does not carry over %+v", rh, h)
		}
		if _, err := ValidateBatch(rebuilt); err != nil && !errors.Is(err, ErrInvalid) {
			t.Fatalf("ValidateBatch(rebuilt) = %v; only ErrInvalid (offset gaps) may remain", err)
		}
	})
}

// FuzzDecompress feeds arbitrary bytes to every codec, and to unknown ones.
// Properties: no panic; the output respects the limit; errors fall in the
// package's classes; and whatever decodes survives Compress then Decompress.
func FuzzDecompress(f *testing.F) {
	f.Fuzz(func(t *testing.T, codec byte, data []byte) {
		const limit = 256 << 10
		c := Codec(codec % 8)
		out, err := Decompress(c, data, limit)
		if err != nil {
			if !knownError(err) {
				t.Fatalf("Decompress(%s) error outside the package's classes: %v", c, err)
			}
			if c <= CodecZstd && errors.Is(err, ErrUnsupported) {
				t.Fatalf("Decompress(%s) = %v, a known codec", c, err)
			}
			return
		}
		if len(out) > limit {
			t.Fatalf("Decompress(%s, %d bytes, limit %d) returned %d bytes", c, len(data), limit, len(out))
		}
		enc, err := Compress(c, nil, out)
		if err != nil {
			t.Fatalf("Compress(%s, %d bytes): %v", c, len(out), err)
		}
		back, err := Decompress(c, enc, len(out))
		if err != nil {
			t.Fatalf("Decompress(%s, Compress(%d bytes)): %v", c, len(out), err)
		}
		if !bytes.Equal(back, out) {
			t.Fatalf("Decompress(%s, Compress(x)) != x for %d bytes", c, len(out))
		}
	})
}

// TestRewriteFuzzCorpus writes the seed corpora; it runs only with -rewrite-corpus.
func TestRewriteFuzzCorpus(t *testing.T) {
	if !*rewriteCorpus {
		t.Skip("run with -rewrite-corpus to rewrite testdata/fuzz")
	}
	batches := map[string][]byte{}
	payloads := map[string][]byte{}
	opts := kmsgBatchOptions{baseOffset: 100, baseTimestamp: 1_700_000_000_000, producerID: 4000, producerEpoch: 2, baseSequence: 10}
	for _, codec := range allCodecs {
		batches["kmsg_"+codec.String()] = kmsgBatch(t, codec, sampleRecords(), opts)
		payloads[codec.String()] = batches["kmsg_"+codec.String()][HeaderSize:]
	}
	raw := kmsgBatch(t, CodecNone, sampleRecords(), opts)[HeaderSize:]
	batches["kmsg_snappy_xerial"] = rawBatch(CodecSnappy, 5, xerialFrame(raw, 64))
	payloads["snappy_xerial"] = xerialFrame(raw, 64)

	b := NewBuilder(CodecNone, 1_700_000_000_000)
	b.SetProducer(4000, 2, -1)
	b.SetTransactional(true)
	b.SetControl(true)
	b.Add(1_700_000_000_000, []byte{0, 0, 0, 1}, []byte{0, 0, 0, 0, 0, 3}, nil) // commit marker
	control, err := b.Build()
	if err != nil {
		t.Fatalf("Build control batch: %v", err)
	}
	batches["builder_control"] = control

	b = NewBuilder(CodecZstd, 5)
	b.AddRecord(&Record{TimestampDelta: 1, OffsetDelta: 0, Key: []byte("a"), Value: []byte("1")})
	b.AddRecord(&Record{TimestampDelta: 2, OffsetDelta: 4, Key: []byte("a"), Value: nil}) // compacted, with a tombstone
	compacted, err := b.Build()
	if err != nil {
		t.Fatalf("Build compacted batch: %v", err)
	}
	batches["builder_compacted_zstd"] = compacted

	codecOf := map[string]Codec{"none": CodecNone, "gzip": CodecGzip, "snappy": CodecSnappy, "lz4": CodecLZ4, "zstd": CodecZstd, "snappy_xerial": CodecSnappy}
	for name, batch := range batches {
		writeSeed(t, "FuzzValidateBatch", name, fmt.Sprintf("[]byte(%q)\n", batch))
	}
	for name, p := range payloads {
		writeSeed(t, "FuzzDecompress", name, fmt.Sprintf("byte(%q)\n[]byte(%q)\n", rune(codecOf[name]), p))
	}
}

func writeSeed(t *testing.T, fuzzName, name, body string) {
	t.Helper()
	dir := filepath.Join("testdata", "fuzz", fuzzName)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), []byte("go test fuzz v1\n"+body), 0o644); err != nil {
		t.Fatal(err)
	}
}
