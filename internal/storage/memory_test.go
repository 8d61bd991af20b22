package storage

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// cloneLogDir fills a fresh directory with n partitions of topic "idle",
// each holding one small batch, closed cleanly: it writes one log through
// the API and copies its files into the other n-1 partition directories
// (creating 10,000 logs through CreateLog would take a minute of fsyncs).
// With link the copies are hard links, for clones that are only opened
// and closed unchanged, which writes none of their files.
func cloneLogDir(t testing.TB, n int, link bool) string {
	t.Helper()
	dir := t.TempDir()
	d := openDir(t, dir, newTestClock())
	src := TopicPartition{Topic: "idle", Partition: 0}
	l, err := d.CreateLog(src, testTopicID, testLogConfig())
	if err != nil {
		t.Fatalf("CreateLog: %v", err)
	}
	mustAppend(t, l, buildBatch(t, spec(5).size(100)))
	if err := d.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	srcDir := filepath.Join(dir, src.String())
	entries, err := os.ReadDir(srcDir)
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i < n; i++ {
		dst := filepath.Join(dir, TopicPartition{Topic: src.Topic, Partition: int32(i)}.String())
		if err := os.Mkdir(dst, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			from, to := filepath.Join(srcDir, e.Name()), filepath.Join(dst, e.Name())
			if link {
				if err := os.Link(from, to); err != nil {
					t.Fatal(err)
				}
				continue
			}
			b, err := os.ReadFile(from)
			if err == nil {
				err = os.WriteFile(to, b, 0o644)
			}
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	return dir
}

// heapInUse returns the live heap after a full collection.
func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// openFDs counts this process's file descriptors, -1 where /proc is missing.
func openFDs() int {
	e, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(e)
}

// maxHeapPerIdleLog bounds what one idle open log may cost. Today it is
// about 1 KiB (the Log and segment structs, paths, producer-state map);
// the bound is generous but catches a per-log buffer such as a
// preallocated index or a bufio.Writer.
const maxHeapPerIdleLog = 8 << 10

func TestTenThousandIdleLogsFitInMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("opens 10,000 logs")
	}
	const n = 10_000
	dir := cloneLogDir(t, n, true)
	heap0, fds0 := heapInUse(), openFDs()
	d := openDir(t, dir, newTestClock())
	heap1, fds1 := heapInUse(), openFDs()
	if got := len(d.Logs()); got != n {
		t.Fatalf("OpenLogDir opened %d logs, want %d", got, n)
	}
	perLog := (int64(heap1) - int64(heap0)) / n
	t.Logf("%d idle logs: %d heap bytes per log, %d file descriptors in all", n, perLog, fds1-fds0)
	if perLog > maxHeapPerIdleLog {
		t.Errorf("an idle log costs %d heap bytes, want at most %d", perLog, maxHeapPerIdleLog)
	}
	if fds0 >= 0 && fds1-fds0 > n/100 {
		t.Errorf("%d idle logs hold %d file descriptors, want their files closed until used", n, fds1-fds0)
	}
	// A log opens its files on first use and reads what was there.
	l, _ := d.Log(TopicPartition{Topic: "idle", Partition: n - 1})
	if hs := readAll(t, l, 0); len(hs) != 1 || hs[0].NumRecords != 5 {
		t.Fatalf("idle log holds %d batches, want one of 5 records", len(hs))
	}
	if err := d.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	runtime.KeepAlive(d)
}

func TestUnchangedLogCloseWritesNothing(t *testing.T) {
	dir := cloneLogDir(t, 1, false)
	d := openDir(t, dir, newTestClock())
	l, _ := d.Log(TopicPartition{Topic: "idle", Partition: 0})
	if !l.unchanged {
		t.Fatalf("log opened after a clean shutdown is not marked unchanged")
	}
	before := dirModTimes(t, l.dir)
	if err := d.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if after := dirModTimes(t, l.dir); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatalf("Close of an unchanged log rewrote files:\nbefore %v\nafter  %v", before, after)
	}

	// Once appended to, Close writes indexes and a snapshot again, and the
	// next open trusts them without a recovery scan.
	d = openDir(t, dir, newTestClock())
	l, _ = d.Log(TopicPartition{Topic: "idle", Partition: 0})
	mustAppend(t, l, buildBatch(t, spec(3)))
	if l.unchanged {
		t.Fatalf("log still marked unchanged after an append")
	}
	if err := d.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	d = openDir(t, dir, newTestClock())
	t.Cleanup(func() { _ = d.Close() })
	l, _ = d.Log(TopicPartition{Topic: "idle", Partition: 0})
	if !l.unchanged || l.stats.batchesValidated != 0 || l.LogEndOffset() != 8 {
		t.Fatalf("reopen: unchanged %v, %d batches validated, log end offset %d; want true, 0, 8",
			l.unchanged, l.stats.batchesValidated, l.LogEndOffset())
	}
}

// dirModTimes maps each file of dir to its size and modification time.
func dirModTimes(t testing.TB, dir string) map[string]string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, e := range entries {
		fi, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		m[e.Name()] = fmt.Sprintf("%d@%d", fi.Size(), fi.ModTime().UnixNano())
	}
	return m
}
