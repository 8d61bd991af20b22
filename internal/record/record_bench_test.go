package record

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// benchBatch builds a batch of about size uncompressed bytes of JSON-like
// records, compressible the way real event payloads are.
func benchBatch(b *testing.B, codec Codec, size int) []byte {
	b.Helper()
	rng := rand.New(rand.NewPCG(7, 7))
	bld := NewBuilder(codec, 1_700_000_000_000)
	for i := 0; bld.UncompressedSize() < size; i++ {
		key := fmt.Appendf(nil, "user-%d", rng.IntN(10_000))
		value := fmt.Appendf(nil, `{"id":%d,"user":"%s","amount":%d.%02d,"currency":"EUR","items":[%d,%d,%d],"note":"order placed via web checkout"}`,
			i, key, rng.IntN(1000), rng.IntN(100), rng.IntN(1e6), rng.IntN(1e6), rng.IntN(1e6))
		bld.Add(1_700_000_000_000+int64(i), key, value, nil)
	}
	batch, err := bld.Build()
	if err != nil {
		b.Fatalf("Build: %v", err)
	}
	return batch
}

var benchSizes = []struct {
	name string
	size int
}{
	{"16KiB", 16 << 10},
	{"1MiB", 1 << 20},
}

func BenchmarkValidateBatch(b *testing.B) {
	for _, s := range benchSizes {
		b.Run(s.name, func(b *testing.B) {
			batch := benchBatch(b, CodecNone, s.size)
			b.SetBytes(int64(len(batch)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ValidateBatch(batch); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkDecompress(b *testing.B) {
	for _, codec := range allCodecs[1:] {
		b.Run(codec.String(), func(b *testing.B) {
			raw := benchBatch(b, CodecNone, 1<<20)[HeaderSize:]
			comp, err := Compress(codec, nil, raw)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(raw))) // MB/s of decompressed output
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Decompress(codec, comp, len(raw)); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(raw))/float64(len(comp)), "ratio")
		})
	}
}

func BenchmarkCompress(b *testing.B) {
	for _, codec := range allCodecs[1:] {
		b.Run(codec.String(), func(b *testing.B) {
			raw := benchBatch(b, CodecNone, 1<<20)[HeaderSize:]
			dst := make([]byte, 0, len(raw))
			b.SetBytes(int64(len(raw)))
			b.ReportAllocs()
			for b.Loop() {
				var err error
				if dst, err = Compress(codec, dst[:0], raw); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRecords measures the produce-path walk: decompress (if needed)
// and visit every record.
func BenchmarkRecords(b *testing.B) {
	for _, codec := range allCodecs {
		b.Run(codec.String(), func(b *testing.B) {
			batch := benchBatch(b, codec, 1<<20)
			h, _ := ParseHeader(batch)
			b.SetBytes(int64(len(batch)))
			b.ReportAllocs()
			for b.Loop() {
				if err := Records(batch, 2<<20, func(*Record) error { return nil }); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(h.NumRecords)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
		})
	}
}

func BenchmarkCountRecords(b *testing.B) {
	batch := benchBatch(b, CodecNone, 1<<20)
	h, _ := ParseHeader(batch)
	b.SetBytes(int64(len(batch)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := CountRecords(batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(h.NumRecords)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

func BenchmarkCheckFraming(b *testing.B) {
	batch := benchBatch(b, CodecNone, 1<<20)
	h, _ := ParseHeader(batch)
	b.SetBytes(int64(len(batch)))
	b.ReportAllocs()
	for b.Loop() {
		if err := CheckFraming(batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(h.NumRecords)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

func BenchmarkBuild(b *testing.B) {
	key, value := []byte("user-1234"), make([]byte, 200)
	for _, codec := range []Codec{CodecNone, CodecZstd} {
		b.Run(codec.String(), func(b *testing.B) {
			bld := NewBuilder(codec, 0)
			b.ReportAllocs()
			for b.Loop() {
				for i := range 100 {
					bld.Add(int64(i), key, value, nil)
				}
				if _, err := bld.Build(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(100, "records/op")
		})
	}
}
