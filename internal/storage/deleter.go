package storage

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/strata-io/strata/internal/storage/vfs"
)

// fileDeleter closes and removes retired files after a delay
// (file.delete.delay.ms), so that readers holding a Chunk of a deleted or
// truncated-away segment can finish. LogDir.Run's deleteLoop drives it;
// LogDir.Close flushes it.
type fileDeleter struct {
	fs      vfs.FS // set in newFileDeleter, never changed
	mu      sync.Mutex
	pending []pendingDelete // guarded by mu; unordered
	wake    chan struct{}   // buffer 1: nudges deleteLoop when something is scheduled
}

type pendingDelete struct {
	at    time.Time
	files []vfs.File // closed when due
	paths []string   // removed when due (directories recursively)
}

func newFileDeleter(fsys vfs.FS) *fileDeleter {
	return &fileDeleter{fs: fsys, wake: make(chan struct{}, 1)}
}

func (d *fileDeleter) schedule(at time.Time, files []vfs.File, paths []string) {
	if len(files) == 0 && len(paths) == 0 {
		return
	}
	d.mu.Lock()
	d.pending = append(d.pending, pendingDelete{at: at, files: files, paths: paths})
	d.mu.Unlock()
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// next returns the earliest due time.
func (d *fileDeleter) next() (time.Time, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	var at time.Time
	for i, p := range d.pending {
		if i == 0 || p.at.Before(at) {
			at = p.at
		}
	}
	return at, len(d.pending) > 0
}

// runDue deletes everything due at now (everything if all is set).
func (d *fileDeleter) runDue(now time.Time, all bool) error {
	d.mu.Lock()
	var due []pendingDelete
	kept := d.pending[:0]
	for _, p := range d.pending {
		if all || !p.at.After(now) {
			due = append(due, p)
		} else {
			kept = append(kept, p)
		}
	}
	clear(d.pending[len(kept):])
	d.pending = kept
	d.mu.Unlock()
	var errs []error
	for _, p := range due {
		for _, f := range p.files {
			if err := f.Close(); err != nil && !errors.Is(err, os.ErrClosed) {
				errs = append(errs, err)
			}
		}
		for _, path := range p.paths {
			if err := d.fs.RemoveAll(path); err != nil {
				errs = append(errs, fmt.Errorf("remove %s: %w", path, err))
			}
		}
	}
	return errors.Join(errs...)
}
