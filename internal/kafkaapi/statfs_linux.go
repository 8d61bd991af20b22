package kafkaapi

import (
	"fmt"
	"syscall"
)

// volumeBytes returns the size of the file system holding dir and the bytes
// an unprivileged writer may still use there (Java's getTotalSpace and
// getUsableSpace).
func volumeBytes(dir string) (total, usable int64, err error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, 0, fmt.Errorf("statfs %s: %w", dir, err)
	}
	unit := st.Frsize
	if unit <= 0 {
		unit = st.Bsize
	}
	return int64(st.Blocks) * unit, int64(st.Bavail) * unit, nil
}
