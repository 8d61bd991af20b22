package storage

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// benchBatch is a 16 KiB batch of 1 KiB records, uncompressed.
func benchBatch(b *testing.B) []byte {
	return buildBatch(b, spec(16).size(1000))
}

// benchRecords is how many records benchBatch holds.
const benchRecords = 16

func benchLog(b *testing.B, cfg LogConfig) (*LogDir, *Log) {
	b.Helper()
	return benchLogWith(b, cfg, nil)
}

// benchLogWith is benchLog with a directory config changed by set.
func benchLogWith(b *testing.B, cfg LogConfig, set func(*Config)) (*LogDir, *Log) {
	b.Helper()
	dcfg := testConfig(b.TempDir(), newTestClock())
	if set != nil {
		set(&dcfg)
	}
	d, err := OpenLogDir(dcfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = d.Close() })
	l, err := d.CreateLog(testTP, testTopicID, cfg)
	if err != nil {
		b.Fatal(err)
	}
	return d, l
}

// reportRate reports n per second of the benchmark's run time as unit.
func reportRate(b *testing.B, n int64, elapsed time.Duration, unit string) {
	b.ReportMetric(float64(n)/elapsed.Seconds(), unit)
}

func BenchmarkAppend(b *testing.B) {
	for _, policy := range []FsyncPolicy{FsyncNever, FsyncInterval, FsyncAlways} {
		b.Run("fsync="+policy.String(), func(b *testing.B) {
			cfg := DefaultLogConfig()
			cfg.SegmentBytes = 64 << 20
			d, l := benchLogWith(b, cfg, func(c *Config) {
				c.Fsync = policy
				c.FsyncInterval = 100 * time.Millisecond
			})
			if policy == FsyncInterval {
				ctx, cancel := context.WithCancel(b.Context())
				done := make(chan error, 1)
				go func() { done <- d.Run(ctx) }()
				defer func() { cancel(); <-done }()
			}
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
			elapsed := time.Since(start)
			reportRate(b, int64(b.N)*benchRecords, elapsed, "records/s")
			reportRate(b, d.fsyncCount(), elapsed, "fsyncs/s")
		})
	}
}

// fsyncCount sums the Sync fsyncs of every log.
func (d *LogDir) fsyncCount() int64 {
	var n int64
	for _, l := range d.Logs() {
		n += l.fsyncs.Load()
	}
	return n
}

// soloSync is Log.Sync as it was before group commit, kept to compare
// with: a caller that finds no fsync in flight on the log runs one itself,
// on its own goroutine, with no bound on how many run at once; concurrent
// callers on the same log wait for it and share it.
type soloSync struct {
	mu     sync.Mutex
	rounds map[*Log]*soloRound
}

type soloRound struct {
	done chan struct{}
	err  error
}

func (s *soloSync) sync(l *Log, offset int64) error {
	for {
		if l.RecoveryPoint() >= offset {
			return nil
		}
		s.mu.Lock()
		if r := s.rounds[l]; r != nil {
			s.mu.Unlock()
			<-r.done
			if r.err != nil {
				return r.err
			}
			continue
		}
		r := &soloRound{done: make(chan struct{})}
		s.rounds[l] = r
		s.mu.Unlock()

		gen := l.syncGeneration()
		l.mu.RLock()
		leo := l.mu.logEndOffset
		open := slices.DeleteFunc(slices.Clone(l.mu.segments), func(s *segment) bool { return s.sealed })
		l.mu.RUnlock()
		for _, seg := range open {
			f, err := seg.logFile()
			if err == nil {
				l.fsyncs.Add(1)
				err = f.Sync()
			}
			if err != nil {
				r.err = err
				break
			}
		}
		if r.err == nil {
			l.advanceRecoveryPoint(leo, gen)
		}
		s.mu.Lock()
		delete(s.rounds, l)
		s.mu.Unlock()
		close(r.done)
		if r.err != nil {
			return r.err
		}
	}
}

// syncPath is how a benchmark makes appends durable.
type syncPath struct {
	name  string
	delay time.Duration // Config.GroupCommitDelay
	// start begins making l durable below offset; wait returns the result.
	start func(l *Log, offset int64) (wait func() error)
}

func syncPaths() []syncPath {
	solo := &soloSync{rounds: map[*Log]*soloRound{}}
	group := func(l *Log, offset int64) func() error {
		ch := l.SyncAsync(offset)
		return func() error { return <-ch }
	}
	return []syncPath{
		{name: "per-log", start: func(l *Log, offset int64) func() error {
			// The old Sync blocks: a caller syncing several logs does
			// them one after another.
			err := solo.sync(l, offset)
			return func() error { return err }
		}},
		{name: "group", start: group},
	}
}

// syncBenchDir opens a directory with n logs for the sync benchmarks.
func syncBenchDir(b *testing.B, n int, threads int, delay time.Duration) (*LogDir, []*Log) {
	b.Helper()
	dcfg := testConfig(b.TempDir(), newTestClock())
	dcfg.Fsync = FsyncAlways
	dcfg.FsyncThreads = threads
	dcfg.GroupCommitDelay = delay
	d, err := OpenLogDir(dcfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = d.Close() })
	logs := make([]*Log, n)
	for i := range logs {
		if logs[i], err = d.CreateLog(TopicPartition{Topic: "bench", Partition: int32(i)}, testTopicID, DefaultLogConfig()); err != nil {
			b.Fatal(err)
		}
	}
	return d, logs
}

// runProducers runs producers goroutines until b.N requests are done in
// all; each request appends batch to the logs request(i) names and makes
// them durable through path, starting every sync before waiting for any.
// It reports records/s, fsyncs/s, fsyncs per request and the 99th
// percentile request latency.
func runProducers(b *testing.B, d *LogDir, path syncPath, producers int, batch []byte, records int, request func(producer int) []*Log) {
	b.Helper()
	var (
		next    atomic.Int64
		mu      sync.Mutex
		latency []time.Duration
		wg      sync.WaitGroup
	)
	b.SetBytes(int64(len(batch) * len(request(0))))
	fsyncs0 := d.fsyncCount()
	b.ResetTimer()
	start := time.Now()
	for p := range producers {
		wg.Go(func() {
			own := append([]byte(nil), batch...)
			var lat []time.Duration
			waits := make([]func() error, 0, 64)
			for next.Add(1) <= int64(b.N) {
				t := time.Now()
				waits = waits[:0]
				for _, l := range request(p) {
					info, err := l.AppendAsLeader(own, 0, t0)
					if err != nil {
						b.Error(err)
						return
					}
					waits = append(waits, path.start(l, info.LastOffset+1))
				}
				for _, wait := range waits {
					if err := wait(); err != nil {
						b.Error(err)
						return
					}
				}
				lat = append(lat, time.Since(t))
			}
			mu.Lock()
			latency = append(latency, lat...)
			mu.Unlock()
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	reportRate(b, int64(b.N*records*len(request(0))), elapsed, "records/s")
	fsyncs := d.fsyncCount() - fsyncs0
	reportRate(b, fsyncs, elapsed, "fsyncs/s")
	b.ReportMetric(float64(fsyncs)/float64(b.N), "fsyncs/op")
	if len(latency) > 0 {
		slices.Sort(latency)
		b.ReportMetric(float64(latency[len(latency)*99/100].Microseconds()), "p99-µs")
	}
}

// BenchmarkSyncPartitions has N producers, each appending a 1 KiB batch to
// its own partition and waiting until it is durable (fsync=always), once
// per op: the old per-log Sync against the group commit.
func BenchmarkSyncPartitions(b *testing.B) {
	batch := buildBatch(b, spec(4).size(250))
	for _, n := range []int{1, 16, 64} {
		for _, path := range syncPaths() {
			b.Run(fmt.Sprintf("partitions=%d/sync=%s", n, path.name), func(b *testing.B) {
				d, logs := syncBenchDir(b, n, 0, path.delay)
				runProducers(b, d, path, n, batch, 4, func(p int) []*Log { return logs[p : p+1] })
			})
		}
	}
}

// BenchmarkSyncRequest has 4 producers sending produce requests that each
// append a 1 KiB batch to every one of 16 partitions and wait until all
// are durable: the old Sync does them one after another, the group commit
// in parallel (and, with a 1ms GroupCommitDelay, fewer times).
func BenchmarkSyncRequest(b *testing.B) {
	batch := buildBatch(b, spec(4).size(250))
	paths := syncPaths()
	delayed := paths[1]
	delayed.name, delayed.delay = "group-delay=1ms", time.Millisecond
	for _, path := range append(paths, delayed) {
		b.Run("sync="+path.name, func(b *testing.B) {
			d, logs := syncBenchDir(b, 16, 0, path.delay)
			runProducers(b, d, path, 4, batch, 4, func(int) []*Log { return logs })
		})
	}
}

// BenchmarkFsyncThreads runs BenchmarkSyncPartitions' 64 producers through
// the group commit with different FsyncThreads.
func BenchmarkFsyncThreads(b *testing.B) {
	batch := buildBatch(b, spec(4).size(250))
	group := syncPaths()[1]
	for _, threads := range []int{1, 4, 16, 64} {
		b.Run(fmt.Sprintf("threads=%d", threads), func(b *testing.B) {
			d, logs := syncBenchDir(b, 64, threads, 0)
			runProducers(b, d, group, 64, batch, 4, func(p int) []*Log { return logs[p : p+1] })
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
	if err := l.Sync(leo); err != nil { // clean pages can be dropped from the cache
		b.Fatal(err)
	}
	for _, cache := range []string{"hot", "cold"} {
		for _, maxBytes := range []int32{64 << 10, 1 << 20} {
			b.Run(fmt.Sprintf("cache=%s/maxBytes=%d", cache, maxBytes), func(b *testing.B) {
				if cache == "cold" {
					if err := dropPageCache(l); err != nil {
						b.Skipf("cannot drop the page cache: %v", err)
					}
				}
				r := rand.New(rand.NewPCG(1, 2))
				var buf []byte
				var total int64
				b.ReportAllocs()
				for b.Loop() {
					if cache == "cold" {
						b.StopTimer()
						if err := dropPageCache(l); err != nil {
							b.Fatal(err)
						}
						b.StartTimer()
					}
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
				b.ReportMetric(float64(total)/float64(len(batch))*benchRecords/b.Elapsed().Seconds(), "records/s")
			})
		}
	}
}

// dropPageCache evicts l's segment files from the page cache.
func dropPageCache(l *Log) error {
	for _, s := range l.segmentsSnapshot() {
		f, err := s.logFile()
		if err != nil {
			return err
		}
		if err := fadviseDontNeed(f); err != nil {
			return err
		}
	}
	return nil
}

func BenchmarkIndexLookup(b *testing.B) {
	cfg := DefaultLogConfig()
	cfg.SegmentBytes = 32 << 20
	_, l := benchLog(b, cfg)
	batch := buildBatch(b, spec(4).size(100))
	for range (40 << 20) / len(batch) {
		if _, err := l.AppendAsLeader(batch, 0, t0); err != nil {
			b.Fatal(err)
		}
	}
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
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lookups/s")
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
	var batches int64
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
		batches += l.stats.batchesValidated
		crash(b, d)
	}
	if fileSize(b, segPath) != size {
		b.Fatalf("segment changed size")
	}
	b.ReportMetric(float64(batches*benchRecords)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkOpenLogDir measures a restart after a clean shutdown: opening
// a directory of idle logs, one small batch each.
func BenchmarkOpenLogDir(b *testing.B) {
	const n = 1000
	dir := cloneLogDir(b, n, true)
	for _, threads := range []int{1, 4} {
		b.Run(fmt.Sprintf("logs=%d/threads=%d", n, threads), func(b *testing.B) {
			clock := newTestClock()
			cfg := testConfig(dir, clock)
			cfg.RecoveryThreads = threads
			b.ReportAllocs()
			for b.Loop() {
				d, err := OpenLogDir(cfg)
				if err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				if got := len(d.Logs()); got != n {
					b.Fatalf("opened %d logs, want %d", got, n)
				}
				if err := d.Close(); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
			b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "logs/s")
		})
	}
}

// BenchmarkCloseLogDir measures a clean shutdown of 1,000 logs, each just
// appended to (so each fsyncs and writes its indexes and a producer
// snapshot), by FsyncThreads (how many logs close at once).
func BenchmarkCloseLogDir(b *testing.B) {
	const n = 1000
	dir := cloneLogDir(b, n, false)
	batch := buildBatch(b, spec(1))
	for _, threads := range []int{1, 16} {
		b.Run(fmt.Sprintf("logs=%d/threads=%d", n, threads), func(b *testing.B) {
			benchCloseLogDir(b, dir, n, threads, batch)
		})
	}
}

func benchCloseLogDir(b *testing.B, dir string, n, threads int, batch []byte) {
	clock := newTestClock()
	cfg := testConfig(dir, clock)
	cfg.FsyncThreads = threads
	for b.Loop() {
		b.StopTimer()
		d, err := OpenLogDir(cfg)
		if err != nil {
			b.Fatal(err)
		}
		for _, l := range d.Logs() {
			if _, err := l.AppendAsLeader(append([]byte(nil), batch...), 1, t0); err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
		if err := d.Close(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "logs/s")
}
