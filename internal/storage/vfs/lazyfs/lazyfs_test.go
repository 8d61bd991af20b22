package lazyfs

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/strata-io/strata/internal/storage/vfs"
)

// TestReadsSeeWritesAndCrashKeepsOnlySynced drives one file with random
// writes, truncations and syncs, checking every read against a model of
// what readers must see, and after a crash that the disk holds exactly
// what the last sync made durable.
func TestReadsSeeWritesAndCrashKeepsOnlySynced(t *testing.T) {
	for seed := range uint64(20) {
		r := rand.New(rand.NewPCG(seed, 7))
		dir := t.TempDir()
		path := filepath.Join(dir, "f")
		l := New(vfs.Default, Options{DirtyLimit: 1 << 30})
		f, err := l.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		var model, durable []byte
		for step := range 300 {
			switch op := r.IntN(10); {
			case op < 6: // write
				off := int64(r.IntN(len(model) + 64))
				p := make([]byte, 1+r.IntN(200))
				for i := range p {
					p[i] = byte(r.Uint32())
				}
				if _, err := f.WriteAt(p, off); err != nil {
					t.Fatal(err)
				}
				if need := off + int64(len(p)); need > int64(len(model)) {
					model = append(model, make([]byte, need-int64(len(model)))...)
				}
				copy(model[off:], p)
			case op < 7: // truncate
				size := int64(r.IntN(len(model) + 32))
				if err := f.Truncate(size); err != nil {
					t.Fatal(err)
				}
				if size <= int64(len(model)) {
					model = model[:size]
				} else {
					model = append(model, make([]byte, size-int64(len(model)))...)
				}
				// A shrink reaches the disk at once.
				if size < int64(len(durable)) {
					durable = durable[:size]
				}
			case op < 8: // sync
				if err := f.SyncData(); err != nil {
					t.Fatal(err)
				}
				durable = bytes.Clone(model)
			default: // read
				off := int64(r.IntN(len(model) + 16))
				p := make([]byte, r.IntN(300))
				n, err := f.ReadAt(p, off)
				want := []byte{}
				if off < int64(len(model)) {
					want = model[off:min(int64(len(model)), off+int64(len(p)))]
				}
				if !bytes.Equal(p[:n], want) {
					t.Fatalf("seed %d step %d: ReadAt(%d bytes, %d) = %d bytes differing from the model", seed, step, len(p), off, n)
				}
				if n < len(p) && !errors.Is(err, io.EOF) {
					t.Fatalf("seed %d step %d: short read %d of %d without EOF: %v", seed, step, n, len(p), err)
				}
			}
			if fi, err := l.Stat(path); err != nil || fi.Size() != int64(len(model)) {
				t.Fatalf("seed %d step %d: Stat size %v, err %v; want %d", seed, step, fi.Size(), err, len(model))
			}
		}
		l.Crash()
		if _, err := f.WriteAt([]byte("x"), 0); !errors.Is(err, ErrCrashed) {
			t.Fatalf("write after the crash: %v, want ErrCrashed", err)
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, durable) {
			t.Fatalf("seed %d: after the crash the file has %d bytes, want the %d synced", seed, len(got), len(durable))
		}
	}
}

func TestUnsyncedFileIsEmptyAfterCrashAndRenameMovesVolatileData(t *testing.T) {
	dir := t.TempDir()
	l := New(vfs.Default, Options{})
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	f, err := l.Create(a)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if l.DirtyBytes() != 5 {
		t.Fatalf("dirty bytes %d after a closed unsynced write, want 5", l.DirtyBytes())
	}
	if err := l.Rename(a, b); err != nil {
		t.Fatal(err)
	}
	got, err := vfs.ReadFile(l, b)
	if err != nil || string(got) != "hello" {
		t.Fatalf("read after rename: %q, %v", got, err)
	}
	if onDisk, _ := os.ReadFile(b); len(onDisk) != 0 {
		t.Fatalf("disk has %q before any sync", onDisk)
	}
	l.Crash()
	if onDisk, err := os.ReadFile(b); err != nil || len(onDisk) != 0 {
		t.Fatalf("after the crash: %q, %v; want an empty file", onDisk, err)
	}
}

func TestWritebackMakesDataDurable(t *testing.T) {
	dir := t.TempDir()
	l := New(vfs.Default, Options{Writeback: 10 * time.Millisecond})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()
	defer func() { cancel(); <-done }()
	path := filepath.Join(dir, "w")
	f, err := l.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write([]byte("written back")); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for l.DirtyBytes() > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("still %d dirty bytes after 10s of 10ms writebacks", l.DirtyBytes())
		}
		time.Sleep(5 * time.Millisecond)
	}
	l.Crash()
	if got, _ := os.ReadFile(path); string(got) != "written back" {
		t.Fatalf("after writeback and crash: %q", got)
	}
}

func TestDirtyLimitWritesBack(t *testing.T) {
	dir := t.TempDir()
	l := New(vfs.Default, Options{DirtyLimit: 100})
	f, err := l.Create(filepath.Join(dir, "f"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for range 10 {
		if _, err := f.Write(make([]byte, 30)); err != nil {
			t.Fatal(err)
		}
		if d := l.DirtyBytes(); d > 100 {
			t.Fatalf("dirty bytes %d above the limit 100", d)
		}
	}
}

func TestRemovedDirectoryForgetsItsFiles(t *testing.T) {
	dir := t.TempDir()
	l := New(vfs.Default, Options{})
	sub := filepath.Join(dir, "p-0")
	if err := l.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := l.Create(filepath.Join(sub, "x"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte("abc")); err != nil {
		t.Fatal(err)
	}
	f.Close()
	moved := filepath.Join(dir, "p-0.x-delete")
	if err := l.Rename(sub, moved); err != nil {
		t.Fatal(err)
	}
	if got, err := vfs.ReadFile(l, filepath.Join(moved, "x")); err != nil || string(got) != "abc" {
		t.Fatalf("file in the renamed directory: %q, %v", got, err)
	}
	if err := l.RemoveAll(moved); err != nil {
		t.Fatal(err)
	}
	if l.DirtyBytes() != 0 {
		t.Fatalf("dirty bytes %d after removing the directory", l.DirtyBytes())
	}
	// A directory opens as itself and syncs.
	d, err := l.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Sync(); err != nil {
		t.Fatal(err)
	}
	d.Close()
}
