package storage

import "syscall"

// volumeBytes returns the size of the file system holding dir and the bytes
// an unprivileged writer may still use there, for the log directory
// metrics (kafkaapi has its own for DescribeLogDirs).
func volumeBytes(dir string) (total, usable int64, ok bool) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, 0, false
	}
	unit := st.Frsize
	if unit <= 0 {
		unit = st.Bsize
	}
	return int64(st.Blocks) * unit, int64(st.Bavail) * unit, true
}
