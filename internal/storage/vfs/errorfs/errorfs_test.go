package errorfs

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/strata-io/strata/internal/storage/vfs"
	"github.com/strata-io/strata/internal/storage/vfs/lazyfs"
)

func TestRulesSelectOperationsByKindAndPath(t *testing.T) {
	dir := t.TempDir()
	fsys := Wrap(vfs.Default)
	inj := fsys.Inject(Rule{Ops: OpWrite | OpRename, Match: PathHasSuffix(".log"), Err: EIO, Times: 2})
	f, err := fsys.Create(filepath.Join(dir, "a.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	g, err := fsys.Create(filepath.Join(dir, "a.index"))
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if _, err := g.Write([]byte("x")); err != nil {
		t.Fatalf("write to a path the rule does not match: %v", err)
	}
	if _, err := f.WriteAt([]byte("x"), 0); !errors.Is(err, syscall.EIO) {
		t.Fatalf("first matching write: %v, want EIO", err)
	}
	var pe *os.PathError
	if _, err := f.Write([]byte("x")); !errors.As(err, &pe) || !errors.Is(err, syscall.EIO) {
		t.Fatalf("second matching write: %v, want an *os.PathError wrapping EIO", err)
	}
	if _, err := f.Write([]byte("x")); err != nil {
		t.Fatalf("third matching write, past Times: %v", err)
	}
	if inj.Fired() != 2 {
		t.Fatalf("Fired = %d, want 2", inj.Fired())
	}
	if err := f.Sync(); err != nil {
		t.Fatalf("sync is not a kind the rule names: %v", err)
	}
	ren := fsys.Inject(Rule{Ops: OpRename, Match: func(op Op) bool { return filepath.Base(op.NewPath) == "b.log" }, Err: ENOSPC})
	if err := fsys.Rename(filepath.Join(dir, "a.index"), filepath.Join(dir, "b.log")); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("rename to b.log: %v, want ENOSPC", err)
	}
	ren.Remove()
	if err := fsys.Rename(filepath.Join(dir, "a.index"), filepath.Join(dir, "b.log")); err != nil {
		t.Fatalf("rename after the rule was removed: %v", err)
	}
	if _, ok := vfs.OSFileOf(f); ok {
		t.Fatal("a wrapped file hands out its *os.File: zero-copy reads would bypass the faults")
	}
}

func TestTornWriteWritesHalf(t *testing.T) {
	dir := t.TempDir()
	fsys := Wrap(vfs.Default)
	fsys.Inject(Rule{Ops: OpWrite, Err: ENOSPC, Torn: true})
	path := filepath.Join(dir, "t")
	f, err := fsys.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n, err := f.WriteAt([]byte("0123456789"), 0)
	if n != 5 || !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("torn write: %d bytes, %v; want 5 and ENOSPC", n, err)
	}
	if b, _ := os.ReadFile(path); string(b) != "01234" {
		t.Fatalf("file holds %q, want the first half", b)
	}
}

func TestFailedSyncCanLoseUnsyncedData(t *testing.T) {
	dir := t.TempDir()
	lazy := lazyfs.New(vfs.Default, lazyfs.Options{})
	fsys := Wrap(lazy)
	path := filepath.Join(dir, "s")
	f, err := fsys.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write([]byte("durable")); err != nil {
		t.Fatal(err)
	}
	if err := f.SyncData(); err != nil {
		t.Fatal(err)
	}
	fsys.Inject(Rule{Ops: OpSync, Err: EIO, LoseUnsynced: true, Times: 1})
	if _, err := f.Write([]byte("-lost")); err != nil {
		t.Fatal(err)
	}
	if err := f.SyncData(); !errors.Is(err, syscall.EIO) {
		t.Fatalf("failing sync: %v, want EIO", err)
	}
	if err := f.SyncData(); err != nil {
		t.Fatalf("the next sync: %v", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "durable" {
		t.Fatalf("after a failed sync that lost the pages and a later one that succeeded, the disk holds %q, want %q", b, "durable")
	}
}
