//go:build !linux

package kafkaapi

import (
	"errors"
	"runtime"
)

// volumeBytes is only implemented on Linux; elsewhere DescribeLogDirs v4
// answers -1 for the volume sizes.
func volumeBytes(dir string) (total, usable int64, err error) {
	return 0, 0, errors.New("volume sizes are unavailable on " + runtime.GOOS)
}
