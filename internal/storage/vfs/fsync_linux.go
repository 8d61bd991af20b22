package vfs

import (
	"os"
	"syscall"
)

// fdatasync flushes f's data and the metadata needed to read it back,
// including its size, but not its timestamps. Appends to a segment change
// its size, which fdatasync makes durable on Linux; the modification time
// it skips matters only to retention of segments whose batches carry no
// timestamps, and a crash can only make that time older.
func fdatasync(f *os.File) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return f.Sync()
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		for {
			serr = syscall.Fdatasync(int(fd))
			if serr != syscall.EINTR {
				return
			}
		}
	}); err != nil {
		// Closed meanwhile: Sync reports it as os.ErrClosed.
		return f.Sync()
	}
	if serr != nil {
		return &os.PathError{Op: "fdatasync", Path: f.Name(), Err: serr}
	}
	return nil
}
