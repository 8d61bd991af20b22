package storage

import (
	"errors"

	"golang.org/x/sys/unix"

	"github.com/strata-io/strata/internal/storage/vfs"
)

// fadviseDontNeed drops f's clean pages from the page cache.
func fadviseDontNeed(f vfs.File) error {
	of, ok := vfs.OSFileOf(f)
	if !ok {
		return errors.ErrUnsupported
	}
	rc, err := of.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) { ferr = unix.Fadvise(int(fd), 0, 0, unix.FADV_DONTNEED) }); err != nil {
		return err
	}
	return ferr
}
