package storage

import (
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/strata-io/strata/internal/storage/vfs"
)

// syncTestDir opens a directory with n logs ("events-0" ...) and cfg's
// group commit settings.
func syncTestDir(t *testing.T, n int, set func(*Config)) (*LogDir, []*Log) {
	t.Helper()
	cfg := testConfig(t.TempDir(), newTestClock())
	cfg.Fsync = FsyncAlways
	if set != nil {
		set(&cfg)
	}
	d, err := OpenLogDir(cfg)
	if err != nil {
		t.Fatalf("OpenLogDir: %v", err)
	}
	t.Cleanup(func() { _ = d.Close() })
	logs := make([]*Log, n)
	for i := range logs {
		if logs[i], err = d.CreateLog(TopicPartition{Topic: "events", Partition: int32(i)}, testTopicID, testLogConfig()); err != nil {
			t.Fatalf("CreateLog(%d): %v", i, err)
		}
	}
	return d, logs
}

// gatedFsync replaces the directory's fsync with one that reports each
// call on entered and then waits for release of its log.
type gatedFsync struct {
	entered chan *Log
	mu      sync.Mutex
	gates   map[*Log]chan error
}

func gateFsyncs(d *LogDir) *gatedFsync {
	g := &gatedFsync{entered: make(chan *Log, 100), gates: map[*Log]chan error{}}
	d.syncer.fsyncFile = func(l *Log, f vfs.File) error {
		g.entered <- l
		if err := <-g.gate(l); err != nil {
			return err
		}
		return f.SyncData()
	}
	return g
}

func (g *gatedFsync) gate(l *Log) chan error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.gates[l] == nil {
		g.gates[l] = make(chan error)
	}
	return g.gates[l]
}

// release lets the fsync of l waiting in the gate go on (err nil) or fail
// with err.
func (g *gatedFsync) release(l *Log, err error) { g.gate(l) <- err }

func pending(ch <-chan error) bool {
	select {
	case err := <-ch:
		panic(fmt.Sprintf("sync finished early with %v", err))
	default:
		return true
	}
}

func TestSyncAcknowledgesOnlySyncedData(t *testing.T) {
	tests := []struct {
		name string
		give func(*Config)
	}{
		{"no delay", func(c *Config) { c.FsyncThreads = 3 }},
		{"delay and bytes", func(c *Config) {
			c.FsyncThreads = 2
			c.GroupCommitDelay = 200 * time.Microsecond
			c.GroupCommitBytes = 1 << 10
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { testSyncAcknowledgesOnlySyncedData(t, tt.give) })
	}
}

func testSyncAcknowledgesOnlySyncedData(t *testing.T, set func(*Config)) {
	d, logs := syncTestDir(t, 8, set)
	// durable[l] is the log end offset read when an fsync of l started,
	// recorded after that fsync returned: everything below it is on disk.
	var mu sync.Mutex
	durable := map[*Log]int64{}
	d.syncer.fsyncFile = func(l *Log, f vfs.File) error {
		leo := l.LogEndOffset()
		if err := f.SyncData(); err != nil {
			return err
		}
		mu.Lock()
		durable[l] = max(durable[l], leo)
		mu.Unlock()
		return nil
	}
	batch := buildBatch(t, spec(2).size(50))
	var wg sync.WaitGroup
	for w := range 24 {
		wg.Go(func() {
			for i := range 30 {
				l := logs[(w+i)%len(logs)]
				info, err := l.AppendAsLeader(append([]byte(nil), batch...), 0, t0)
				if err != nil {
					t.Errorf("AppendAsLeader: %v", err)
					return
				}
				if err := l.Sync(info.LastOffset + 1); err != nil {
					t.Errorf("Sync(%d): %v", info.LastOffset+1, err)
					return
				}
				mu.Lock()
				got := durable[l]
				mu.Unlock()
				if got <= info.LastOffset {
					t.Errorf("Sync(%d) of %s returned with data durable only below %d", info.LastOffset+1, l.tp, got)
					return
				}
			}
		})
	}
	wg.Wait()
	var fsyncs int64
	for _, l := range logs {
		fsyncs += l.fsyncs.Load()
		if l.RecoveryPoint() != l.LogEndOffset() {
			t.Errorf("%s: recovery point %d, log end offset %d after every Sync returned", l.tp, l.RecoveryPoint(), l.LogEndOffset())
		}
	}
	t.Logf("%d Sync calls, %d fsyncs", 24*30, fsyncs)
}

func TestSyncAsyncWaitsForItsFsync(t *testing.T) {
	d, logs := syncTestDir(t, 2, nil)
	g := gateFsyncs(d)
	a, b := logs[0], logs[1]
	mustAppend(t, a, buildBatch(t, spec(1)))
	first := a.SyncAsync(1)
	if got := <-g.entered; got != a {
		t.Fatalf("fsync of %s started, want %s", got.tp, a.tp)
	}
	pending(first)

	// Covered by the fsync in flight: joins it.
	joined := a.SyncAsync(1)
	// Appended after it started: needs the next one.
	mustAppend(t, a, buildBatch(t, spec(1)))
	later := a.SyncAsync(2)
	// Another log does not wait for a's fsync.
	mustAppend(t, b, buildBatch(t, spec(1)))
	other := b.SyncAsync(1)
	if got := <-g.entered; got != b {
		t.Fatalf("fsync of %s started while a's ran, want %s", got.tp, b.tp)
	}
	g.release(b, nil)
	if err := <-other; err != nil {
		t.Fatalf("SyncAsync(1) of %s = %v", b.tp, err)
	}
	pending(first)
	pending(joined)

	g.release(a, nil)
	for name, ch := range map[string]<-chan error{"first": first, "joined": joined} {
		if err := <-ch; err != nil {
			t.Fatalf("%s SyncAsync(1) = %v", name, err)
		}
	}
	if got := <-g.entered; got != a {
		t.Fatalf("second fsync of %s, want %s", got.tp, a.tp)
	}
	pending(later)
	g.release(a, nil)
	if err := <-later; err != nil {
		t.Fatalf("SyncAsync(2) = %v", err)
	}
	if n := a.fsyncs.Load(); n != 2 {
		t.Fatalf("%d fsyncs of %s for three waiters in two rounds, want 2", n, a.tp)
	}
	if err := a.Sync(2); err != nil || a.fsyncs.Load() != 2 {
		t.Fatalf("Sync(2) of durable data = %v after %d fsyncs, want nil and no fsync", err, a.fsyncs.Load())
	}
}

func TestSyncFailureFailsEveryWaiter(t *testing.T) {
	d, logs := syncTestDir(t, 2, nil)
	g := gateFsyncs(d)
	a, b := logs[0], logs[1]
	mustAppend(t, a, buildBatch(t, spec(1)))
	first := a.SyncAsync(1)
	<-g.entered
	joined := a.SyncAsync(1)
	mustAppend(t, a, buildBatch(t, spec(1)))
	next := a.SyncAsync(2)
	g.release(a, syscall.EIO)
	for name, ch := range map[string]<-chan error{"first": first, "joined": joined, "next": next} {
		if err := <-ch; !errors.Is(err, ErrStorageFailed) || !errors.Is(err, syscall.EIO) {
			t.Fatalf("%s waiter got %v, want ErrStorageFailed wrapping EIO", name, err)
		}
	}
	if rp := a.RecoveryPoint(); rp != 0 {
		t.Fatalf("recovery point %d after a failed fsync, want 0", rp)
	}
	wantErr(t, "Sync after a failed fsync", a.Sync(2), ErrStorageFailed)
	_, err := a.AppendAsLeader(buildBatch(t, spec(1)), 0, t0)
	wantErr(t, "AppendAsLeader after a failed fsync", err, ErrStorageFailed)
	wantErr(t, "LogDir.Err", d.Err(), ErrStorageFailed)

	// The directory goes offline with it, as in Kafka: its other logs
	// refuse writes and reads too.
	for deadline := time.Now().Add(10 * time.Second); !b.Offline(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s of the failed directory still online after 10s", b.tp)
		}
	}
	_, err = b.AppendAsLeader(buildBatch(t, spec(1)), 0, t0)
	wantErr(t, "AppendAsLeader to another log of the offline directory", err, ErrStorageFailed)
	_, err = b.Read(0, 1<<20, 1<<62, true)
	wantErr(t, "Read of another log of the offline directory", err, ErrStorageFailed)
}

func TestSyncAcrossTruncation(t *testing.T) {
	d, logs := syncTestDir(t, 1, nil)
	g := gateFsyncs(d)
	l := logs[0]
	for range 4 {
		mustAppend(t, l, buildBatch(t, spec(1)))
	}
	kept := l.SyncAsync(2)
	lost := l.SyncAsync(4)
	<-g.entered
	if err := l.TruncateTo(3); err != nil {
		t.Fatalf("TruncateTo(3): %v", err)
	}
	g.release(l, nil) // this fsync cannot count: the log changed under it
	<-g.entered       // the waiters try again
	g.release(l, nil)
	if err := <-kept; err != nil {
		t.Fatalf("SyncAsync(2) across a truncation to 3 = %v", err)
	}
	wantErr(t, "SyncAsync(4) across a truncation to 3", <-lost, ErrOffsetOutOfRange)
	if rp := l.RecoveryPoint(); rp != 3 {
		t.Fatalf("recovery point %d, want 3", rp)
	}
	wantErr(t, "Sync beyond the log end offset", l.Sync(4), ErrOffsetOutOfRange)
}

func TestSyncRunsFsyncThreadsInParallel(t *testing.T) {
	const threads, n = 4, 40
	d, logs := syncTestDir(t, n, func(c *Config) { c.FsyncThreads = threads })
	var inside, most atomic.Int32
	barrier := make(chan struct{})
	var once sync.Once
	d.syncer.fsyncFile = func(_ *Log, f vfs.File) error {
		k := inside.Add(1)
		defer inside.Add(-1)
		for {
			m := most.Load()
			if k <= m || most.CompareAndSwap(m, k) {
				break
			}
		}
		if k == threads {
			once.Do(func() { close(barrier) })
		}
		select {
		case <-barrier:
		case <-time.After(10 * time.Second):
			t.Errorf("only %d fsyncs ran at once after 10s, want %d", inside.Load(), threads)
		}
		return f.SyncData()
	}
	// One produce request spanning n partitions.
	done := make([]<-chan error, n)
	for i, l := range logs {
		info := mustAppend(t, l, buildBatch(t, spec(1)))
		done[i] = l.SyncAsync(info.LastOffset + 1)
	}
	for i, ch := range done {
		if err := <-ch; err != nil {
			t.Fatalf("SyncAsync of %s = %v", logs[i].tp, err)
		}
	}
	if m := most.Load(); m != threads {
		t.Fatalf("at most %d fsyncs ran at once, want FsyncThreads = %d", m, threads)
	}
}

func TestGroupCommitDelay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d, logs := syncTestDir(t, 2, func(c *Config) { c.GroupCommitDelay = 10 * time.Millisecond })
		a, b := logs[0], logs[1]
		start := time.Now()
		mustAppend(t, a, buildBatch(t, spec(1)))
		first := a.SyncAsync(1)
		time.Sleep(5 * time.Millisecond)
		synctest.Wait()
		pending(first)
		// Appends during the delay share the fsync.
		mustAppend(t, a, buildBatch(t, spec(1)))
		second := a.SyncAsync(2)
		mustAppend(t, b, buildBatch(t, spec(1)))
		other := b.SyncAsync(1)
		for _, ch := range []<-chan error{first, second} {
			if err := <-ch; err != nil {
				t.Fatalf("SyncAsync = %v", err)
			}
		}
		if waited := time.Since(start); waited != 10*time.Millisecond {
			t.Fatalf("fsync after %v, want the group commit delay 10ms", waited)
		}
		if n := a.fsyncs.Load(); n != 1 {
			t.Fatalf("%d fsyncs for two appends within the delay, want 1", n)
		}
		if err := <-other; err != nil {
			t.Fatalf("SyncAsync of %s = %v", b.tp, err)
		}
		if waited := time.Since(start); waited != 15*time.Millisecond {
			t.Fatalf("fsync of a log queued 5ms later after %v, want 15ms", waited)
		}
		if err := d.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
	})
}

func TestGroupCommitBytesEndsTheDelay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		batch := buildBatch(t, spec(4).size(100))
		d, logs := syncTestDir(t, 2, func(c *Config) {
			c.GroupCommitDelay = time.Second
			c.GroupCommitBytes = int64(2 * len(batch))
		})
		a, b := logs[0], logs[1]
		start := time.Now()
		mustAppend(t, b, buildBatch(t, spec(1)))
		small := b.SyncAsync(1)
		mustAppend(t, a, batch)
		first := a.SyncAsync(4)
		synctest.Wait()
		pending(first)
		mustAppend(t, a, batch)
		second := a.SyncAsync(8) // a now holds GroupCommitBytes unsynced
		for _, ch := range []<-chan error{first, second, small} {
			if err := <-ch; err != nil {
				t.Fatalf("SyncAsync = %v", err)
			}
		}
		if waited := time.Since(start); waited != 0 {
			t.Fatalf("fsyncs after %v, want none of the 1s delay once a log held GroupCommitBytes", waited)
		}
		if err := d.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
	})
}

func TestCloseReleasesQueuedSyncs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d, logs := syncTestDir(t, 1, func(c *Config) { c.GroupCommitDelay = time.Hour })
		l := logs[0]
		start := time.Now()
		mustAppend(t, l, buildBatch(t, spec(1)))
		done := l.SyncAsync(1)
		synctest.Wait()
		pending(done)
		if err := d.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		// Close fsynced the log: the waiter is satisfied, not failed.
		if err := <-done; err != nil {
			t.Fatalf("SyncAsync(1) across Close = %v", err)
		}
		if waited := time.Since(start); waited != 0 {
			t.Fatalf("Close waited %v for the group commit delay", waited)
		}
		wantErr(t, "SyncAsync after Close", <-l.SyncAsync(2), ErrOffsetOutOfRange)
	})
}

// TestRollQueuesTheOldSegmentsFsync: a roll does not wait for the old
// segment's fsync; the recovery point passes the old segment only once a
// sync round has fsynced it, and a clean close fsyncs it if none did.
func TestRollQueuesTheOldSegmentsFsync(t *testing.T) {
	cfg := testConfig(t.TempDir(), newTestClock())
	cfg.Fsync = FsyncNever
	d, err := OpenLogDir(cfg)
	if err != nil {
		t.Fatalf("OpenLogDir: %v", err)
	}
	release := make(chan struct{})
	synced := make(chan string, 16)
	d.syncer.fsyncFile = func(_ *Log, f vfs.File) error {
		<-release
		synced <- filepath.Base(f.Name())
		return f.SyncData()
	}
	lcfg := testLogConfig()
	batch := buildBatch(t, spec(4).size(100))
	lcfg.SegmentBytes = int64(len(batch)) + 1 // every append rolls
	l, err := d.CreateLog(testTP, testTopicID, lcfg)
	if err != nil {
		t.Fatalf("CreateLog: %v", err)
	}
	mustAppend(t, l, append([]byte(nil), batch...))
	mustAppend(t, l, append([]byte(nil), batch...)) // rolls; its fsync blocks in the gate
	if rp := l.RecoveryPoint(); rp != 0 {
		t.Errorf("recovery point %d before the rolled segment's fsync, want 0", rp)
	}
	close(release)
	if got := <-synced; got != segmentFileName(0, logFileSuffix) {
		t.Errorf("first fsync of %s, want the rolled segment", got)
	}
	deadline := time.Now().Add(10 * time.Second)
	for l.RecoveryPoint() < 4 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if rp := l.RecoveryPoint(); rp < 4 {
		t.Errorf("recovery point %d after the rolled segment's fsync, want >= 4", rp)
	}
	if err := d.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}
