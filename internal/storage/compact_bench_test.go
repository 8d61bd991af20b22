package storage

import (
	"fmt"
	"os"
	"testing"

	"github.com/strata-io/strata/internal/record"
)

// BenchmarkCompact measures one compaction pass over a log of 16 MiB in
// batches of 10 records (200-byte values, 1000 keys updated in turn), by
// codec. The log is copied afresh for every pass, outside the timer.
func BenchmarkCompact(b *testing.B) {
	for _, codec := range []record.Codec{record.CodecNone, record.CodecLZ4, record.CodecZstd} {
		b.Run("codec="+codec.String(), func(b *testing.B) {
			cfg := compactLogConfig()
			cfg.SegmentBytes = 4 << 20
			clock := newTestClock()
			src := b.TempDir()
			d := openDir(b, src, clock)
			l, err := d.CreateLog(testTP, testTopicID, cfg)
			if err != nil {
				b.Fatal(err)
			}
			value := bigValue(200)
			records := 0
			for l.Size() < 16<<20 {
				kvs := make([]kv, 10)
				for j := range kvs {
					kvs[j] = put(fmt.Sprintf("key-%04d", records%1000), value)
					records++
				}
				if _, err := l.AppendAsLeader(keyedBatch(b, codec, clock.Now().UnixMilli(), kvs...), 0, clock.Now()); err != nil {
					b.Fatal(err)
				}
			}
			roll(b, l)
			size := l.Size()
			if err := d.Close(); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(size)
			b.ReportAllocs()
			for b.Loop() {
				b.StopTimer()
				dst := b.TempDir()
				if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
					b.Fatal(err)
				}
				d, err := OpenLogDir(testConfig(dst, clock))
				if err != nil {
					b.Fatal(err)
				}
				l, _ := d.Log(testTP)
				l.SetConfig(cfg)
				b.StartTimer()
				st, err := l.Compact(clock.Now())
				if err != nil || st.RecordsRemoved == 0 {
					b.Fatalf("Compact = %+v, %v", st, err)
				}
				b.StopTimer()
				if err := d.Close(); err != nil {
					b.Fatal(err)
				}
				if err := os.RemoveAll(dst); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
			b.ReportMetric(float64(records)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
		})
	}
}
