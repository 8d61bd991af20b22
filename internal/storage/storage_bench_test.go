package storage

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/strata-io/strata/internal/record"
)

// benchBatch is a 16 KiB batch of 1 KiB records, uncompressed.
func benchBatch(b *testing.B) []byte {
	return buildBatch(b, spec(16).size(1000))
}

func benchLog(b *testing.B, cfg LogConfig) (*LogDir, *Log) {
	b.Helper()
	clock := newTestClock()
	d := openDir(b, b.TempDir(), clock)
	b.Cleanup(func() { _ = d.Close() })
	l, err := d.CreateLog(testTP, testTopicID, cfg)
	if err != nil {
		b.Fatal(err)
	}
	return d, l
}

func BenchmarkAppend(b *testing.B) {
	for _, policy := range []FsyncPolicy{FsyncNever, FsyncAlways} {
		b.Run("fsync="+policy.String(), func(b *testing.B) {
			cfg := DefaultLogConfig()
			cfg.SegmentBytes = 64 << 20
			_, l := benchLog(b, cfg)
			batch := benchBatch(b)
			b.SetBytes(int64(len(batch)))
			b.ReportAllocs()
			start := time.Now()
			for b.Loop() {
				info, err := l.AppendAsLeader(batch, 0, t0)
				if err != nil {
					b.Fatal(err)
				}
				if policy == FsyncAlways {
					if err := l.Sync(info.LastOffset + 1); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(b.N*16)/time.Since(start).Seconds(), "records/s")
		})
	}
}

func BenchmarkRead(b *testing.B) {
	cfg := DefaultLogConfig()
	cfg.SegmentBytes = 16 << 20
	_, l := benchLog(b, cfg)
	batch := benchBatch(b)
	for range (64 << 20) / len(batch) {
		if _, err := l.AppendAsLeader(batch, 0, t0); err != nil {
			b.Fatal(err)
		}
	}
	leo := l.LogEndOffset()
	for _, maxBytes := range []int32{64 << 10, 1 << 20} {
		b.Run(fmt.Sprintf("maxBytes=%d", maxBytes), func(b *testing.B) {
			r := rand.New(rand.NewPCG(1, 2))
			var buf []byte
			var total int64
			b.ReportAllocs()
			for b.Loop() {
				res, err := l.Read(r.Int64N(leo), maxBytes, leo, true)
				if err != nil {
					b.Fatal(err)
				}
				if buf, err = res.AppendTo(buf[:0]); err != nil {
					b.Fatal(err)
				}
				total += res.Size
			}
			b.SetBytes(total / int64(b.N))
		})
	}
}

func BenchmarkIndexLookup(b *testing.B) {
	cfg := DefaultLogConfig()
	cfg.SegmentBytes = 32 << 20
	d, l := benchLog(b, cfg)
	batch := buildBatch(b, spec(4).size(100))
	for range (40 << 20) / len(batch) {
		if _, err := l.AppendAsLeader(batch, 0, t0); err != nil {
			b.Fatal(err)
		}
	}
	_ = d
	for _, which := range []string{"sealed", "active"} {
		b.Run(which, func(b *testing.B) {
			segs := l.segmentsSnapshot()
			s := segs[0]
			if which == "active" {
				s = segs[len(segs)-1]
			}
			l.mu.RLock()
			v := s.viewLocked()
			l.mu.RUnlock()
			r := rand.New(rand.NewPCG(3, 4))
			b.ReportAllocs()
			for b.Loop() {
				off := v.base + r.Int64N(v.next-v.base)
				if _, h, found, err := v.findBatch(off); err != nil || !found || off < h.BaseOffset || off > h.LastOffset() {
					b.Fatalf("findBatch(%d) = %d, %v, %v", off, h.BaseOffset, found, err)
				}
			}
		})
	}
}

func BenchmarkRecoveryScan(b *testing.B) {
	clock := newTestClock()
	dir := b.TempDir()
	d := openDir(b, dir, clock)
	cfg := DefaultLogConfig()
	l, err := d.CreateLog(testTP, testTopicID, cfg)
	if err != nil {
		b.Fatal(err)
	}
	batch := benchBatch(b)
	for range (64 << 20) / len(batch) {
		if _, err := l.AppendAsLeader(batch, 0, t0); err != nil {
			b.Fatal(err)
		}
	}
	size := l.Size()
	crash(b, d)
	segPath := filepath.Join(dir, testTP.String(), segmentFileName(0, logFileSuffix))
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		// Every iteration is a crash recovery of the whole segment.
		for _, name := range []string{recoveryPointFile, cleanShutdownFile} {
			_ = os.Remove(filepath.Join(dir, name))
		}
		d, err := OpenLogDir(testConfig(dir, clock))
		if err != nil {
			b.Fatal(err)
		}
		l, _ := d.Log(testTP)
		if l.Size() != size || l.stats.batchesValidated == 0 {
			b.Fatalf("recovered %d bytes (%d batches validated), want %d", l.Size(), l.stats.batchesValidated, size)
		}
		crash(b, d)
	}
	if fileSize(b, segPath) != size {
		b.Fatalf("segment changed size")
	}
	_ = record.HeaderSize
}
