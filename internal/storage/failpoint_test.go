//go:build failpoints

package storage

import (
	"github.com/strata-io/strata/internal/storage/vfs"

	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/strata-io/strata/internal/failpoint"
)

func enableFailpoint(t *testing.T, name failpoint.Name, spec string) {
	t.Helper()
	restore, err := failpoint.Enable(name, spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(restore)
}

// TestFailpointDuplicateOnRetryAppendsARetryAgain: a retried idempotent batch is
// answered with its first offsets; with duplicate-on-retry it is appended
// again at new offsets, and the producer's next batch still follows.
func TestFailpointDuplicateOnRetryAppendsARetryAgain(t *testing.T) {
	_, l, _ := testLog(t, testLogConfig())
	first := mustAppend(t, l, buildBatch(t, spec(3).idem(7, 0, 0)))
	retry := mustAppend(t, l, buildBatch(t, spec(3).idem(7, 0, 0)))
	if !retry.Duplicate || retry.FirstOffset != first.FirstOffset || l.LogEndOffset() != 3 {
		t.Fatalf("retry without the failpoint = %+v, LEO %d; want a duplicate of offset %d, LEO 3", retry, l.LogEndOffset(), first.FirstOffset)
	}
	enableFailpoint(t, failpoint.DuplicateOnRetry, "return")
	again := mustAppend(t, l, buildBatch(t, spec(3).idem(7, 0, 0)))
	if again.Duplicate || again.FirstOffset != 3 || again.LastOffset != 5 {
		t.Fatalf("retry with duplicate-on-retry = %+v; want appended again at 3-5", again)
	}
	next := mustAppend(t, l, buildBatch(t, spec(1).idem(7, 0, 3)))
	if next.FirstOffset != 6 {
		t.Fatalf("next batch = %+v; want offset 6", next)
	}
	if got := len(readAll(t, l, 0)); got != 3 {
		t.Fatalf("log holds %d batches, want 3 (the batch twice, then the next)", got)
	}
}

// TestFailpointSegmentFsyncFailsTheLog: an injected error before or after a
// segment fsync fails Sync like a disk error, and the log with it.
func TestFailpointSegmentFsyncFailsTheLog(t *testing.T) {
	for _, name := range []failpoint.Name{failpoint.SegmentBeforeFsync, failpoint.SegmentAfterFsync} {
		t.Run(string(name), func(t *testing.T) {
			_, l, _ := testLog(t, testLogConfig())
			info := mustAppend(t, l, buildBatch(t, spec(2)))
			if err := l.Sync(info.LastOffset + 1); err != nil {
				t.Fatalf("Sync without the failpoint: %v", err)
			}
			enableFailpoint(t, name, "1*return")
			info = mustAppend(t, l, buildBatch(t, spec(2)))
			err := l.Sync(info.LastOffset + 1)
			if !errors.Is(err, failpoint.ErrInjected) {
				t.Fatalf("Sync with %s = %v, want the injected error", name, err)
			}
			if _, err := l.AppendAsLeader(buildBatch(t, spec(1)), 1, t0); err == nil {
				t.Fatal("append after a failed fsync succeeded: the log should have failed")
			}
		})
	}
}

// TestFailpointCheckpointRename: before the rename the old file stays;
// after it the new one is in place, and both report the injected error.
func TestFailpointCheckpointRename(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cp")
	if err := writeFileAtomic(vfs.Default, path, []byte("old")); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name failpoint.Name
		want string
	}{{failpoint.CheckpointBeforeRename, "old"}, {failpoint.CheckpointAfterRename, "new"}} {
		restore, err := failpoint.Enable(tc.name, "return")
		if err != nil {
			t.Fatal(err)
		}
		err = writeFileAtomic(vfs.Default, path, []byte("new"))
		restore()
		if !errors.Is(err, failpoint.ErrInjected) {
			t.Fatalf("writeFileAtomic with %s = %v, want the injected error", tc.name, err)
		}
		if b, _ := os.ReadFile(path); string(b) != tc.want {
			t.Fatalf("after %s the file holds %q, want %q", tc.name, b, tc.want)
		}
	}
}
