// Package vfs is the file-system seam of package storage: every file the
// storage package reads or writes goes through an FS, so that tests can
// inject I/O errors and latency (package errorfs) and simulate a power
// loss (package lazyfs), while production uses the operating system's
// file system (Default) at the cost of one interface call per operation.
//
// The interfaces are small, as in database/sql/driver: FS and File carry
// what every implementation must offer, and optional extras are separate
// interfaces an implementation may satisfy. OSFile is one: a File backed by
// an *os.File hands it out, and the fetch path sends such files to the
// socket with sendfile(2); a File without it (a fault-injecting or lazy
// one) is read with ReadAt into memory instead.
//
// Errors keep the os package's conventions (errors.Is(err,
// fs.ErrNotExist), *os.PathError), so callers test them the same way
// whatever the implementation.
package vfs

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"time"
)

// FS is a file system. Paths are operating-system paths.
type FS interface {
	// Create creates or truncates name for reading and writing.
	Create(name string) (File, error)
	// Open opens name for reading.
	Open(name string) (File, error)
	// OpenFile is os.OpenFile.
	OpenFile(name string, flag int, perm os.FileMode) (File, error)
	// Rename renames oldname to newname, replacing newname if it exists.
	Rename(oldname, newname string) error
	// Remove removes a file or an empty directory.
	Remove(name string) error
	// RemoveAll removes name and everything below it; a missing name is
	// not an error.
	RemoveAll(name string) error
	// MkdirAll creates dir and its missing parents.
	MkdirAll(dir string, perm os.FileMode) error
	// ReadDir lists dir sorted by name.
	ReadDir(dir string) ([]os.DirEntry, error)
	// Stat describes name.
	Stat(name string) (os.FileInfo, error)
	// Chtimes sets name's access and modification times.
	Chtimes(name string, atime, mtime time.Time) error
}

// File is an open file. ReadAt and WriteAt may be called concurrently
// with each other and with Sync; Read and Write use the file's offset.
type File interface {
	io.Reader
	io.ReaderAt
	io.Writer
	io.WriterAt
	io.Closer
	// Sync makes the file's data and metadata durable (fsync).
	Sync() error
	// SyncData makes the file's data durable, and the metadata needed to
	// read it back such as its size, but not its timestamps (fdatasync).
	SyncData() error
	// Truncate changes the file's size.
	Truncate(size int64) error
	// Stat describes the file.
	Stat() (os.FileInfo, error)
	// Name is the path the file was opened with.
	Name() string
}

// OSFile is the optional interface of a File backed by an operating-system
// file: the fetch path sends such a file's sections with sendfile(2). The
// *os.File stays owned by the File (its Close closes it).
//
// NB: a wrapper that changes what reads return (fault injection, data
// kept in memory) must not implement it, or zero-copy reads would bypass
// the wrapper.
type OSFile interface {
	OSFile() *os.File
}

// OSFileOf returns the operating-system file behind f, if f has one.
func OSFileOf(f File) (*os.File, bool) {
	if o, ok := f.(OSFile); ok {
		if of := o.OSFile(); of != nil {
			return of, true
		}
	}
	return nil, false
}

// ReadFile reads the whole of name.
func ReadFile(fsys FS, name string) ([]byte, error) {
	f, err := fsys.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var size int
	if fi, err := f.Stat(); err == nil && fi.Size() < 1<<30 {
		size = int(fi.Size())
	}
	b := make([]byte, 0, size+1) // +1: io.EOF without growing
	for {
		n, err := f.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err != nil {
			if errors.Is(err, io.EOF) {
				return b, nil
			}
			return b, err
		}
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
	}
}

// IsNotExist reports whether err says a file does not exist.
func IsNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }
