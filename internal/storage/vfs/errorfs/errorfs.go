// Package errorfs wraps a vfs.FS to inject faults: an operation that a
// rule matches fails with the rule's error (EIO, ENOSPC, ...) instead of
// running, or runs late. Tests arm rules while a broker runs and remove
// them to let it recover:
//
//	fsys := errorfs.Wrap(vfs.Default)
//	inj := fsys.Inject(errorfs.Rule{Ops: errorfs.OpWrite, Match: errorfs.PathHasSuffix(".log"), Err: syscall.ENOSPC})
//	...
//	inj.Remove()
//
// Operations are selected by kind (write, fsync, read, rename, open, ...)
// and by a predicate over the operation (its path, offset, length). The
// wrapped files do not expose the operating-system file (vfs.OSFile), so
// reads go through the wrapper and the fetch path copies instead of
// using sendfile.
package errorfs

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/strata-io/strata/internal/storage/vfs"
)

// OpKind is a kind of file-system operation; kinds combine as a bit set.
type OpKind uint32

const (
	OpOpen     OpKind = 1 << iota // Create, Open, OpenFile
	OpRead                        // File.Read, File.ReadAt
	OpWrite                       // File.Write, File.WriteAt
	OpSync                        // File.Sync, File.SyncData (directories too)
	OpTruncate                    // File.Truncate
	OpRename                      // FS.Rename
	OpRemove                      // FS.Remove, FS.RemoveAll
	OpMkdir                       // FS.MkdirAll
	OpReadDir                     // FS.ReadDir
	OpStat                        // FS.Stat, File.Stat
	OpChtimes                     // FS.Chtimes

	// OpAll is every kind.
	OpAll OpKind = 1<<iota - 1
)

var opNames = []string{"open", "read", "write", "sync", "truncate", "rename", "remove", "mkdir", "readdir", "stat", "chtimes"}

func (k OpKind) String() string {
	var parts []string
	for i, n := range opNames {
		if k&(1<<i) != 0 {
			parts = append(parts, n)
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, "|")
}

// Op is one operation about to run.
type Op struct {
	Kind OpKind
	Path string // the file's path; for a rename, the old path
	// NewPath is a rename's new path.
	NewPath string
	// Off and Len locate a read or write (Off is -1 for Read and Write,
	// which use the file offset).
	Off int64
	Len int
}

// Rule is a fault: operations of the kinds in Ops that Match accepts are
// delayed by Latency and then, if Err is set, fail with it instead of
// running.
type Rule struct {
	Ops   OpKind
	Match func(Op) bool // nil matches every operation of the kinds
	// Err is returned (as an *os.PathError) instead of running the
	// operation; nil only delays it.
	Err     error
	Latency time.Duration
	// Torn makes a failing write write the first half of its bytes first,
	// as a write that ran out of space part way does.
	Torn bool
	// LoseUnsynced makes a failing sync discard the file's data that was
	// written but not yet synced, when the wrapped FS keeps such data
	// (lazyfs): Linux marks the pages of a failed writeback clean, so
	// they are lost, and a later fsync reports success without them.
	LoseUnsynced bool
	// Times is how many operations the rule fails or delays; 0 = all.
	Times int
}

// Injection is an armed rule.
type Injection struct {
	fs    *FS
	rule  Rule
	fired atomic.Int64
}

// Fired is how many operations the rule has hit.
func (in *Injection) Fired() int64 { return in.fired.Load() }

// Remove disarms the rule.
func (in *Injection) Remove() {
	in.fs.mu.Lock()
	defer in.fs.mu.Unlock()
	for i, r := range in.fs.mu.rules {
		if r == in {
			in.fs.mu.rules = append(in.fs.mu.rules[:i:i], in.fs.mu.rules[i+1:]...)
			return
		}
	}
}

// FS is a fault-injecting vfs.FS.
type FS struct {
	inner vfs.FS // set in Wrap, never changed
	mu    struct {
		sync.Mutex
		rules []*Injection // copy-on-write
	}
}

// Wrap returns inner with no rule armed.
func Wrap(inner vfs.FS) *FS { return &FS{inner: inner} }

// Inject arms r; the first armed rule that matches an operation decides it.
func (f *FS) Inject(r Rule) *Injection {
	in := &Injection{fs: f, rule: r}
	f.mu.Lock()
	f.mu.rules = append(f.mu.rules[:len(f.mu.rules):len(f.mu.rules)], in)
	f.mu.Unlock()
	return in
}

// check applies the rules to op: it sleeps for a matching rule's latency
// and returns the injection that fails op, if any.
func (f *FS) check(op Op) *Injection {
	f.mu.Lock()
	rules := f.mu.rules
	f.mu.Unlock()
	for _, in := range rules {
		r := &in.rule
		if r.Ops&op.Kind == 0 || (r.Match != nil && !r.Match(op)) {
			continue
		}
		if n := in.fired.Add(1); r.Times > 0 && n > int64(r.Times) {
			in.fired.Add(-1)
			continue
		}
		if r.Latency > 0 {
			time.Sleep(r.Latency)
		}
		if r.Err != nil {
			return in
		}
	}
	return nil
}

func (f *FS) fail(op Op, opName string) error {
	if in := f.check(op); in != nil {
		return &os.PathError{Op: opName, Path: op.Path, Err: in.rule.Err}
	}
	return nil
}

func (f *FS) Create(name string) (vfs.File, error) {
	if err := f.fail(Op{Kind: OpOpen, Path: name, Off: -1}, "open"); err != nil {
		return nil, err
	}
	return f.wrapFile(f.inner.Create(name))
}

func (f *FS) Open(name string) (vfs.File, error) {
	if err := f.fail(Op{Kind: OpOpen, Path: name, Off: -1}, "open"); err != nil {
		return nil, err
	}
	return f.wrapFile(f.inner.Open(name))
}

func (f *FS) OpenFile(name string, flag int, perm os.FileMode) (vfs.File, error) {
	if err := f.fail(Op{Kind: OpOpen, Path: name, Off: -1}, "open"); err != nil {
		return nil, err
	}
	return f.wrapFile(f.inner.OpenFile(name, flag, perm))
}

func (f *FS) wrapFile(inner vfs.File, err error) (vfs.File, error) {
	if err != nil {
		return nil, err
	}
	return &file{fs: f, inner: inner}, nil
}

func (f *FS) Rename(oldname, newname string) error {
	if in := f.check(Op{Kind: OpRename, Path: oldname, NewPath: newname, Off: -1}); in != nil {
		return &os.LinkError{Op: "rename", Old: oldname, New: newname, Err: in.rule.Err}
	}
	return f.inner.Rename(oldname, newname)
}

func (f *FS) Remove(name string) error {
	if err := f.fail(Op{Kind: OpRemove, Path: name, Off: -1}, "remove"); err != nil {
		return err
	}
	return f.inner.Remove(name)
}

func (f *FS) RemoveAll(name string) error {
	if err := f.fail(Op{Kind: OpRemove, Path: name, Off: -1}, "removeall"); err != nil {
		return err
	}
	return f.inner.RemoveAll(name)
}

func (f *FS) MkdirAll(dir string, perm os.FileMode) error {
	if err := f.fail(Op{Kind: OpMkdir, Path: dir, Off: -1}, "mkdir"); err != nil {
		return err
	}
	return f.inner.MkdirAll(dir, perm)
}

func (f *FS) ReadDir(dir string) ([]os.DirEntry, error) {
	if err := f.fail(Op{Kind: OpReadDir, Path: dir, Off: -1}, "readdirent"); err != nil {
		return nil, err
	}
	return f.inner.ReadDir(dir)
}

func (f *FS) Stat(name string) (os.FileInfo, error) {
	if err := f.fail(Op{Kind: OpStat, Path: name, Off: -1}, "stat"); err != nil {
		return nil, err
	}
	return f.inner.Stat(name)
}

func (f *FS) Chtimes(name string, atime, mtime time.Time) error {
	if err := f.fail(Op{Kind: OpChtimes, Path: name, Off: -1}, "chtimes"); err != nil {
		return err
	}
	return f.inner.Chtimes(name, atime, mtime)
}

// file is a file of FS. It deliberately has no OSFile method.
type file struct {
	fs    *FS
	inner vfs.File
}

func (f *file) op(kind OpKind, off int64, n int) Op {
	return Op{Kind: kind, Path: f.inner.Name(), Off: off, Len: n}
}

func (f *file) Read(p []byte) (int, error) {
	if err := f.fs.fail(f.op(OpRead, -1, len(p)), "read"); err != nil {
		return 0, err
	}
	return f.inner.Read(p)
}

func (f *file) ReadAt(p []byte, off int64) (int, error) {
	if err := f.fs.fail(f.op(OpRead, off, len(p)), "read"); err != nil {
		return 0, err
	}
	return f.inner.ReadAt(p, off)
}

func (f *file) Write(p []byte) (int, error) {
	if in := f.fs.check(f.op(OpWrite, -1, len(p))); in != nil {
		n := 0
		if in.rule.Torn {
			n, _ = f.inner.Write(p[:len(p)/2])
		}
		return n, &os.PathError{Op: "write", Path: f.inner.Name(), Err: in.rule.Err}
	}
	return f.inner.Write(p)
}

func (f *file) WriteAt(p []byte, off int64) (int, error) {
	if in := f.fs.check(f.op(OpWrite, off, len(p))); in != nil {
		n := 0
		if in.rule.Torn {
			n, _ = f.inner.WriteAt(p[:len(p)/2], off)
		}
		return n, &os.PathError{Op: "write", Path: f.inner.Name(), Err: in.rule.Err}
	}
	return f.inner.WriteAt(p, off)
}

// unsyncedDropper is what a wrapped file keeping unsynced data in memory
// offers (lazyfs).
type unsyncedDropper interface{ DropUnsynced() }

func (f *file) sync(name string, sync func() error) error {
	if in := f.fs.check(f.op(OpSync, -1, 0)); in != nil {
		if d, ok := f.inner.(unsyncedDropper); ok && in.rule.LoseUnsynced {
			d.DropUnsynced()
		}
		return &os.PathError{Op: name, Path: f.inner.Name(), Err: in.rule.Err}
	}
	return sync()
}

func (f *file) Sync() error     { return f.sync("fsync", f.inner.Sync) }
func (f *file) SyncData() error { return f.sync("fdatasync", f.inner.SyncData) }

func (f *file) Truncate(size int64) error {
	if err := f.fs.fail(f.op(OpTruncate, size, 0), "truncate"); err != nil {
		return err
	}
	return f.inner.Truncate(size)
}

func (f *file) Stat() (os.FileInfo, error) {
	if err := f.fs.fail(f.op(OpStat, -1, 0), "stat"); err != nil {
		return nil, err
	}
	return f.inner.Stat()
}

func (f *file) Close() error { return f.inner.Close() }
func (f *file) Name() string { return f.inner.Name() }

var _ io.ReaderAt = (*file)(nil)

// PathHasSuffix matches operations on paths ending in one of suffixes.
func PathHasSuffix(suffixes ...string) func(Op) bool {
	return func(op Op) bool {
		for _, s := range suffixes {
			if strings.HasSuffix(op.Path, s) {
				return true
			}
		}
		return false
	}
}

// PathContains matches operations on paths containing s.
func PathContains(s string) func(Op) bool {
	return func(op Op) bool { return strings.Contains(op.Path, s) }
}

// And matches operations every one of preds matches.
func And(preds ...func(Op) bool) func(Op) bool {
	return func(op Op) bool {
		for _, p := range preds {
			if !p(op) {
				return false
			}
		}
		return true
	}
}

// Common errors to inject.
var (
	EIO    error = syscall.EIO
	ENOSPC error = syscall.ENOSPC
)

// String describes the rule, for test logs.
func (r Rule) String() string {
	return fmt.Sprintf("%v: err %v, latency %v, times %d", r.Ops, r.Err, r.Latency, r.Times)
}
