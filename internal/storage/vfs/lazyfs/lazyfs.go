// Package lazyfs simulates a power loss: it wraps a vfs.FS and keeps the
// data written to files in the process's memory until the file is synced
// (or written back), as Jepsen's LazyFS does with a FUSE file system. A
// SIGKILL of the process then loses every write not yet fsynced, as a
// power loss loses what sat in the page cache, so crash-recovery tests can
// run without rebooting a machine.
//
// TEST ONLY. A broker turns it on with the hidden `--test-fs=lazy` flag
// (STRATA_TEST_FS=lazy); see internal/config. Never use it in production:
// a process crash then loses data that a real kernel would keep.
//
// The model: file data is volatile until Sync/SyncData, a writeback
// (FS.Run's interval), or the dirty-memory limit writes it to the wrapped
// FS. Metadata operations (create, rename, remove, truncation, directory
// changes) reach the wrapped FS at once, as with a journaling file system
// that commits metadata ahead of data; a file created and written but not
// synced is therefore found empty after the crash, and a synced file
// renamed over another is found whole. Reads see the volatile data.
//
// Files do not expose the operating-system file (vfs.OSFile): reads must
// see the volatile data, so the fetch path copies instead of using
// sendfile.
package lazyfs

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/strata-io/strata/internal/storage/vfs"
)

// ErrCrashed is returned by every operation after Crash.
var ErrCrashed = errors.New("lazyfs: simulated power loss")

// DefaultDirtyLimit is Options.DirtyLimit when it is 0.
const DefaultDirtyLimit = 256 << 20

// Options configure an FS.
type Options struct {
	// Writeback is the period of Run's writebacks of all volatile data
	// (the kernel's dirty writeback); 0 = none, data waits for a sync.
	Writeback time.Duration
	// DirtyLimit bounds the volatile bytes held in memory: a write that
	// takes the total past it writes its file back first (the kernel's
	// dirty limit). 0 = DefaultDirtyLimit.
	DirtyLimit int64
}

// FS is a vfs.FS keeping unsynced file data in memory.
type FS struct {
	inner vfs.FS  // set in New, never changed
	opts  Options // set in New, never changed

	dirty   atomic.Int64 // volatile bytes over all inodes
	crashed atomic.Bool  // set by Crash, never cleared

	mu struct {
		sync.Mutex
		inodes map[string]*inode // by current path; an inode leaves when unlinked or clean and closed
	}
}

// New wraps inner.
func New(inner vfs.FS, opts Options) *FS {
	if opts.DirtyLimit <= 0 {
		opts.DirtyLimit = DefaultDirtyLimit
	}
	l := &FS{inner: inner, opts: opts}
	l.mu.inodes = map[string]*inode{}
	return l
}

// inode is one file's state, shared by its handles.
//
// Lock order: FS.mu, then inode.mu.
type inode struct {
	fs *FS
	// f is the wrapped file, opened read-write; owned by the inode and
	// closed when the inode leaves FS.mu.inodes with no handle left.
	f vfs.File

	// Guarded by FS.mu.
	path     string
	refs     int  // open handles
	unlinked bool // removed or renamed over: its data can never be synced

	mu       sync.Mutex
	size     int64    // guarded by mu: the size readers see
	diskSize int64    // guarded by mu: the wrapped file's size
	extents  []extent // guarded by mu: volatile data, sorted by off, not overlapping
	dirty    int64    // guarded by mu: bytes in extents
}

// extent is a volatile write.
type extent struct {
	off  int64
	data []byte
}

func (e extent) end() int64 { return e.off + int64(len(e.data)) }

func (l *FS) Create(name string) (vfs.File, error) {
	return l.OpenFile(name, os.O_CREATE|os.O_TRUNC|os.O_RDWR, 0o644)
}

func (l *FS) Open(name string) (vfs.File, error) { return l.OpenFile(name, os.O_RDONLY, 0) }

// OpenFile opens name. A directory is opened as it is (syncing it reaches
// the wrapped FS); a file shares its inode with its other handles.
func (l *FS) OpenFile(name string, flag int, perm os.FileMode) (vfs.File, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.crashed.Load() {
		return nil, &os.PathError{Op: "open", Path: name, Err: ErrCrashed}
	}
	ino := l.mu.inodes[name]
	if ino == nil {
		rw := flag&^(os.O_RDONLY|os.O_WRONLY|os.O_RDWR) | os.O_RDWR
		f, err := l.inner.OpenFile(name, rw, perm)
		if errors.Is(err, syscall.EISDIR) {
			return l.inner.OpenFile(name, flag, perm)
		}
		if err != nil {
			return nil, err
		}
		fi, err := f.Stat()
		if err != nil {
			_ = f.Close()
			return nil, err
		}
		ino = &inode{fs: l, f: f, path: name, size: fi.Size(), diskSize: fi.Size()}
		l.mu.inodes[name] = ino
	} else {
		if flag&os.O_EXCL != 0 && flag&os.O_CREATE != 0 {
			return nil, &os.PathError{Op: "open", Path: name, Err: fs.ErrExist}
		}
		if flag&os.O_TRUNC != 0 {
			if err := ino.truncate(0); err != nil {
				return nil, err
			}
		}
	}
	ino.refs++
	return &handle{ino: ino, name: name, flag: flag}, nil
}

// releaseLocked drops an inode that has no handle and nothing volatile.
// The caller holds l.mu.
func (l *FS) releaseLocked(ino *inode) {
	if ino.refs > 0 {
		return
	}
	ino.mu.Lock()
	clean := ino.dirty == 0
	ino.mu.Unlock()
	if !clean && !ino.unlinked {
		return // its data waits for a writeback, as dirty pages of a closed file do
	}
	if l.mu.inodes[ino.path] == ino {
		delete(l.mu.inodes, ino.path)
	}
	ino.mu.Lock()
	l.dirty.Add(-ino.dirty)
	ino.extents, ino.dirty = nil, 0
	ino.mu.Unlock()
	_ = ino.f.Close()
}

// unlinkLocked forgets the inode at path (removed, or replaced by a
// rename). The caller holds l.mu.
func (l *FS) unlinkLocked(path string) {
	ino := l.mu.inodes[path]
	if ino == nil {
		return
	}
	delete(l.mu.inodes, path)
	ino.unlinked = true
	l.releaseLocked(ino)
}

// under reports whether p is dir or inside it.
func under(p, dir string) bool {
	return p == dir || strings.HasPrefix(p, dir+string(filepath.Separator))
}

func (l *FS) Rename(oldname, newname string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.crashed.Load() {
		return &os.LinkError{Op: "rename", Old: oldname, New: newname, Err: ErrCrashed}
	}
	if err := l.inner.Rename(oldname, newname); err != nil {
		return err
	}
	// The inodes at and below oldname move; those at and below newname
	// were replaced.
	var moved []*inode
	for p, ino := range l.mu.inodes {
		if under(p, oldname) {
			moved = append(moved, ino)
			delete(l.mu.inodes, p)
		}
	}
	for p := range l.mu.inodes {
		if under(p, newname) {
			l.unlinkLocked(p)
		}
	}
	for _, ino := range moved {
		ino.path = newname + strings.TrimPrefix(ino.path, oldname)
		l.mu.inodes[ino.path] = ino
	}
	return nil
}

func (l *FS) Remove(name string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.crashed.Load() {
		return &os.PathError{Op: "remove", Path: name, Err: ErrCrashed}
	}
	if err := l.inner.Remove(name); err != nil {
		return err
	}
	l.unlinkLocked(name)
	return nil
}

func (l *FS) RemoveAll(name string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.crashed.Load() {
		return &os.PathError{Op: "removeall", Path: name, Err: ErrCrashed}
	}
	if err := l.inner.RemoveAll(name); err != nil {
		return err
	}
	for p := range l.mu.inodes {
		if under(p, name) {
			l.unlinkLocked(p)
		}
	}
	return nil
}

func (l *FS) MkdirAll(dir string, perm os.FileMode) error {
	if err := l.checkCrashed("mkdir", dir); err != nil {
		return err
	}
	return l.inner.MkdirAll(dir, perm)
}

func (l *FS) ReadDir(dir string) ([]os.DirEntry, error) {
	if err := l.checkCrashed("readdirent", dir); err != nil {
		return nil, err
	}
	return l.inner.ReadDir(dir)
}

func (l *FS) Chtimes(name string, atime, mtime time.Time) error {
	if err := l.checkCrashed("chtimes", name); err != nil {
		return err
	}
	return l.inner.Chtimes(name, atime, mtime)
}

// Stat describes name with the size readers see.
func (l *FS) Stat(name string) (os.FileInfo, error) {
	if l.crashed.Load() {
		return nil, &os.PathError{Op: "stat", Path: name, Err: ErrCrashed}
	}
	l.mu.Lock()
	ino := l.mu.inodes[name]
	l.mu.Unlock()
	fi, err := l.inner.Stat(name)
	if err != nil || ino == nil {
		return fi, err
	}
	ino.mu.Lock()
	defer ino.mu.Unlock()
	return sizedInfo{fi, ino.size}, nil
}

func (l *FS) checkCrashed(op, path string) error {
	if l.crashed.Load() {
		return &os.PathError{Op: op, Path: path, Err: ErrCrashed}
	}
	return nil
}

// Crash simulates a power loss in a running process: every volatile
// write is dropped, and every later operation fails with ErrCrashed, so
// nothing more reaches the wrapped FS (a clean shutdown then fails and
// leaves no clean-shutdown marker). A new FS over the same wrapped FS
// sees what survived.
func (l *FS) Crash() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.crashed.Store(true)
	for _, ino := range l.mu.inodes {
		ino.mu.Lock()
		l.dirty.Add(-ino.dirty)
		ino.extents, ino.dirty = nil, 0
		ino.size = ino.diskSize
		ino.mu.Unlock()
	}
}

// DirtyBytes is how many written bytes are volatile.
func (l *FS) DirtyBytes() int64 { return l.dirty.Load() }

// Run writes all volatile data back every Options.Writeback until ctx
// ends (it returns at once when Writeback is 0).
func (l *FS) Run(ctx context.Context) error {
	if l.opts.Writeback <= 0 {
		return nil
	}
	t := time.NewTicker(l.opts.Writeback)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			l.WritebackAll()
		}
	}
}

// WritebackAll writes every volatile write to the wrapped FS (without
// syncing it: in this model the wrapped FS is what survives a crash).
func (l *FS) WritebackAll() {
	l.mu.Lock()
	var inos []*inode
	for _, ino := range l.mu.inodes {
		inos = append(inos, ino)
	}
	l.mu.Unlock()
	for _, ino := range inos {
		ino.mu.Lock()
		_ = ino.writebackLocked() // a failure leaves the data volatile
		ino.mu.Unlock()
	}
	l.mu.Lock()
	for _, ino := range inos {
		l.releaseLocked(ino)
	}
	l.mu.Unlock()
}

// addDirty adjusts the volatile byte count and reports whether it is
// over the limit.
func (l *FS) addDirty(n int64) bool { return l.dirty.Add(n) > l.opts.DirtyLimit }

// readAtLocked reads from what readers see. The caller holds ino.mu.
func (ino *inode) readAtLocked(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("lazyfs: negative offset")
	}
	if off >= ino.size {
		return 0, io.EOF
	}
	n := int(min(int64(len(p)), ino.size-off))
	q := p[:n]
	// The wrapped file first (it may be shorter: the rest is zeros or
	// volatile), then the volatile extents over it.
	if off < ino.diskSize {
		m := int(min(int64(n), ino.diskSize-off))
		got, err := ino.f.ReadAt(q[:m], off)
		if err != nil && !errors.Is(err, io.EOF) {
			return 0, err
		}
		clear(q[got:])
	} else {
		clear(q)
	}
	end := off + int64(n)
	i, _ := slices.BinarySearchFunc(ino.extents, off, func(e extent, o int64) int {
		if e.end() <= o {
			return -1
		}
		return 1
	})
	for ; i < len(ino.extents) && ino.extents[i].off < end; i++ {
		e := ino.extents[i]
		lo, hi := max(e.off, off), min(e.end(), end)
		copy(q[lo-off:hi-off], e.data[lo-e.off:hi-e.off])
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// writeAtLocked records a volatile write and returns the change in
// volatile bytes. The caller holds ino.mu.
func (ino *inode) writeAtLocked(p []byte, off int64) int64 {
	if len(p) == 0 {
		return 0
	}
	before := ino.dirty
	end := off + int64(len(p))
	ino.size = max(ino.size, end)
	if n := len(ino.extents); n > 0 && ino.extents[n-1].end() == off {
		// An append to the last extent: the common case (segments).
		ino.extents[n-1].data = append(ino.extents[n-1].data, p...)
		ino.dirty += int64(len(p))
		return ino.dirty - before
	}
	// Cut what p overwrites out of the extents, then insert p.
	var kept []extent
	for _, e := range ino.extents {
		if e.end() <= off || e.off >= end {
			kept = append(kept, e)
			continue
		}
		ino.dirty -= int64(len(e.data))
		if e.off < off {
			head := extent{off: e.off, data: e.data[:off-e.off]}
			kept = append(kept, head)
			ino.dirty += int64(len(head.data))
		}
		if e.end() > end {
			tail := extent{off: end, data: slices.Clone(e.data[end-e.off:])}
			kept = append(kept, tail)
			ino.dirty += int64(len(tail.data))
		}
	}
	kept = append(kept, extent{off: off, data: slices.Clone(p)})
	ino.dirty += int64(len(p))
	slices.SortFunc(kept, func(a, b extent) int {
		switch {
		case a.off < b.off:
			return -1
		case a.off > b.off:
			return 1
		}
		return 0
	})
	ino.extents = kept
	return ino.dirty - before
}

// writebackLocked writes the volatile extents to the wrapped file and
// gives it the size readers see. The caller holds ino.mu.
func (ino *inode) writebackLocked() error {
	if ino.fs.crashed.Load() {
		return &os.PathError{Op: "write", Path: ino.f.Name(), Err: ErrCrashed}
	}
	for len(ino.extents) > 0 {
		e := ino.extents[0]
		if _, err := ino.f.WriteAt(e.data, e.off); err != nil {
			return err
		}
		ino.extents = ino.extents[1:]
		ino.dirty -= int64(len(e.data))
		ino.fs.addDirty(-int64(len(e.data)))
		ino.diskSize = max(ino.diskSize, e.end())
	}
	ino.extents = nil
	if ino.diskSize != ino.size {
		if err := ino.f.Truncate(ino.size); err != nil {
			return err
		}
		ino.diskSize = ino.size
	}
	return nil
}

// truncate changes the size readers see; a shrink reaches the wrapped
// file at once (metadata), a growth at the next writeback.
func (ino *inode) truncate(size int64) error {
	ino.mu.Lock()
	defer ino.mu.Unlock()
	if size < ino.diskSize {
		if err := ino.f.Truncate(size); err != nil {
			return err
		}
		ino.diskSize = size
	}
	var kept []extent
	var freed int64
	for _, e := range ino.extents {
		switch {
		case e.off >= size:
			freed += int64(len(e.data))
		case e.end() > size:
			freed += e.end() - size
			e.data = e.data[:size-e.off]
			kept = append(kept, e)
		default:
			kept = append(kept, e)
		}
	}
	ino.extents = kept
	ino.dirty -= freed
	ino.fs.addDirty(-freed)
	ino.size = size
	return nil
}

// handle is an open file of FS.
type handle struct {
	ino  *inode
	name string
	flag int

	mu     sync.Mutex // guards off and closed
	off    int64
	closed bool
}

func (h *handle) pathErr(op string, err error) error {
	return &os.PathError{Op: op, Path: h.name, Err: err}
}

func (h *handle) check(op string, write bool) error {
	h.mu.Lock()
	closed := h.closed
	h.mu.Unlock()
	switch {
	case closed:
		return h.pathErr(op, os.ErrClosed)
	case h.ino.fs.crashed.Load():
		return h.pathErr(op, ErrCrashed)
	case write && h.flag&(os.O_WRONLY|os.O_RDWR) == 0:
		return h.pathErr(op, syscall.EBADF)
	case !write && h.flag&os.O_WRONLY != 0:
		return h.pathErr(op, syscall.EBADF)
	}
	return nil
}

func (h *handle) ReadAt(p []byte, off int64) (int, error) {
	if err := h.check("read", false); err != nil {
		return 0, err
	}
	h.ino.mu.Lock()
	defer h.ino.mu.Unlock()
	return h.ino.readAtLocked(p, off)
}

func (h *handle) Read(p []byte) (int, error) {
	if err := h.check("read", false); err != nil {
		return 0, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.ino.mu.Lock()
	n, err := h.ino.readAtLocked(p, h.off)
	h.ino.mu.Unlock()
	h.off += int64(n)
	if n > 0 && errors.Is(err, io.EOF) {
		err = nil
	}
	return n, err
}

func (h *handle) WriteAt(p []byte, off int64) (int, error) {
	if err := h.check("write", true); err != nil {
		return 0, err
	}
	if off < 0 {
		return 0, h.pathErr("write", errors.New("negative offset"))
	}
	return h.write(p, off)
}

func (h *handle) Write(p []byte) (int, error) {
	if err := h.check("write", true); err != nil {
		return 0, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	n, err := h.write(p, h.off)
	h.off += int64(n)
	return n, err
}

func (h *handle) write(p []byte, off int64) (int, error) {
	ino := h.ino
	ino.mu.Lock()
	defer ino.mu.Unlock()
	if ino.fs.addDirty(ino.writeAtLocked(p, off)) {
		if err := ino.writebackLocked(); err != nil {
			return len(p), nil // still volatile; a sync reports the failure
		}
	}
	return len(p), nil
}

// sync writes the volatile data back and syncs the wrapped file.
func (h *handle) sync(op string, sync func(vfs.File) error) error {
	if h.ino.fs.crashed.Load() {
		return h.pathErr(op, ErrCrashed)
	}
	h.mu.Lock()
	closed := h.closed
	h.mu.Unlock()
	if closed {
		return h.pathErr(op, os.ErrClosed)
	}
	ino := h.ino
	ino.mu.Lock()
	defer ino.mu.Unlock()
	if err := ino.writebackLocked(); err != nil {
		return err
	}
	return sync(ino.f)
}

func (h *handle) Sync() error     { return h.sync("fsync", vfs.File.Sync) }
func (h *handle) SyncData() error { return h.sync("fdatasync", vfs.File.SyncData) }

// DropUnsynced discards the file's volatile data, as the kernel drops the
// dirty pages of a failed writeback (see errorfs.Rule.LoseUnsynced).
func (h *handle) DropUnsynced() {
	ino := h.ino
	ino.mu.Lock()
	defer ino.mu.Unlock()
	ino.fs.addDirty(-ino.dirty)
	ino.extents, ino.dirty = nil, 0
	ino.size = ino.diskSize
}

func (h *handle) Truncate(size int64) error {
	if err := h.check("truncate", true); err != nil {
		return err
	}
	if size < 0 {
		return h.pathErr("truncate", syscall.EINVAL)
	}
	return h.ino.truncate(size)
}

func (h *handle) Stat() (os.FileInfo, error) {
	if err := h.check("stat", false); err != nil && !errors.Is(err, syscall.EBADF) {
		return nil, err
	}
	fi, err := h.ino.f.Stat()
	if err != nil {
		return nil, err
	}
	h.ino.mu.Lock()
	defer h.ino.mu.Unlock()
	return sizedInfo{fi, h.ino.size}, nil
}

func (h *handle) Name() string { return h.name }

func (h *handle) Close() error {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return h.pathErr("close", os.ErrClosed)
	}
	h.closed = true
	h.mu.Unlock()
	l := h.ino.fs
	l.mu.Lock()
	defer l.mu.Unlock()
	h.ino.refs--
	l.releaseLocked(h.ino)
	return nil
}

// sizedInfo is a FileInfo with the size readers see.
type sizedInfo struct {
	os.FileInfo
	size int64
}

func (s sizedInfo) Size() int64 { return s.size }
