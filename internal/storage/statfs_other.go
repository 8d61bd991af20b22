//go:build !linux

package storage

// volumeBytes is only implemented on Linux; elsewhere the volume metrics
// are left out.
func volumeBytes(dir string) (total, usable int64, ok bool) { return 0, 0, false }
