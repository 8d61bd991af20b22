package storage

import (
	"os"

	"golang.org/x/sys/unix"
)

// fadviseDontNeed drops f's clean pages from the page cache.
func fadviseDontNeed(f *os.File) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) { ferr = unix.Fadvise(int(fd), 0, 0, unix.FADV_DONTNEED) }); err != nil {
		return err
	}
	return ferr
}
