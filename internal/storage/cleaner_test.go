package storage

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"testing/synctest"
	"time"

	"github.com/strata-io/strata/internal/record"
)

func TestCleanerLoopPicksDirtyLogs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		dcfg := testConfig(dir, nil)
		dcfg.Now = nil // the bubble's fake clock
		dcfg.CleanerEnabled = true
		dcfg.CleanerInterval = 15 * time.Second
		dcfg.RetentionCheckInterval = time.Hour
		d, err := OpenLogDir(dcfg)
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		create := func(name string, cfg LogConfig) *Log {
			l, err := d.CreateLog(TopicPartition{Topic: name, Partition: 0}, testTopicID, cfg)
			if err != nil {
				t.Fatal(err)
			}
			return l
		}
		write := func(l *Log, keys, rounds int) {
			for r := range rounds {
				for k := range keys {
					b := keyedBatch(t, record.CodecNone, time.Now().UnixMilli(), put(fmt.Sprintf("k%d", k), fmt.Sprintf("%d-%s", r, bigValue(100))))
					if _, err := l.AppendAsLeader(b, 0, time.Now()); err != nil {
						t.Fatal(err)
					}
				}
			}
			roll(t, l)
		}
		compactCfg := compactLogConfig()
		compactCfg.MaxCompactionLag = time.Hour

		// dirty: every record but the last per key is superseded.
		dirty := create("dirty", compactCfg)
		write(dirty, 5, 10)
		// fresh: cleaned once, then a little new data, far below the ratio
		// until max.compaction.lag.ms forces it.
		fresh := create("fresh", compactCfg)
		write(fresh, 40, 1)
		if _, err := fresh.Compact(time.Now()); err != nil {
			t.Fatal(err)
		}
		write(fresh, 1, 1)
		freshDirty := fresh.firstDirty.Load()
		// deleteOnly: as many duplicates, but cleanup.policy=delete.
		deleteOnly := create("delete-only", testLogConfig())
		write(deleteOnly, 5, 10)

		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- d.Run(ctx) }()

		time.Sleep(dcfg.CleanerInterval - time.Second)
		synctest.Wait()
		if fd := dirty.firstDirty.Load(); fd != -1 {
			t.Fatalf("dirty log cleaned before the cleaner interval (first dirty %d)", fd)
		}
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if fd := dirty.firstDirty.Load(); fd != 50 {
			t.Fatalf("dirty log's first dirty offset after one round = %d, want 50", fd)
		}
		if n := len(consume(t, dirty)); n != 5 {
			t.Fatalf("dirty log holds %d records after the round, want 5", n)
		}
		if fd := fresh.firstDirty.Load(); fd != freshDirty {
			p := mustPlan(t, fresh)
			t.Fatalf("fresh log (dirty ratio %.2f) cleaned: first dirty %d, want %d", p.dirtyRatio(), fd, freshDirty)
		}
		if n := len(consume(t, deleteOnly)); n != 50 {
			t.Fatalf("delete-only log holds %d records, want all 50", n)
		}
		b, err := os.ReadFile(filepath.Join(dir, cleanerCheckpointFile))
		if err != nil || string(b) != fmt.Sprintf("0\n2\ndirty 0 50\nfresh 0 %d\n", freshDirty) {
			t.Fatalf("cleaner checkpoint = %q, %v", b, err)
		}

		time.Sleep(time.Hour)
		synctest.Wait()
		if fd := fresh.firstDirty.Load(); fd != freshDirty+1 {
			t.Fatalf("fresh log's first dirty offset after max.compaction.lag.ms = %d, want %d", fd, freshDirty+1)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("Run = %v, want nil after cancel", err)
		}
	})
}

func mustPlan(t *testing.T, l *Log) compactPlan {
	t.Helper()
	p, err := l.cleanablePlan(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return p
}
