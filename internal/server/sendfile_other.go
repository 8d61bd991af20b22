//go:build !linux

package server

import (
	"errors"
	"os"
	"syscall"
)

const sendfileSupported = false

var errSendfileUnsupported = errors.New("sendfile not supported")

// sendFile is never called where sendfileSupported is false.
func sendFile(syscall.RawConn, *os.File, int64, int64) (int64, error) {
	return 0, errSendfileUnsupported
}
