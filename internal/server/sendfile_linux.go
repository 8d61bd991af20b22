package server

import (
	"errors"
	"os"
	"syscall"
)

const sendfileSupported = true

// errSendfileUnsupported means the kernel refused sendfile for this file
// or socket before sending anything.
var errSendfileUnsupported = errors.New("sendfile not supported")

// sendFile sends size bytes of f from offset pos to the socket with
// sendfile(2), passing the offset explicitly so that f's shared offset is
// neither used nor moved: many responses read the same segment file at
// once. It returns the bytes sent. A section that ends early (the file was
// truncated) gives errSectionShort.
//
// NB: f's RawConn.Control holds a reference on the descriptor for the
// whole send, so a concurrent Close (the segment deleter) cannot let the
// descriptor number be reused under us; for regular files Close does not
// wait for it. The socket's RawConn.Write parks on the poller when the
// socket buffer is full and fails once the connection is closed.
func sendFile(sock syscall.RawConn, f *os.File, pos, size int64) (int64, error) {
	src, err := f.SyscallConn()
	if err != nil {
		return 0, err
	}
	var sent int64
	var serr error
	cerr := src.Control(func(sfd uintptr) {
		off := pos
		werr := sock.Write(func(dfd uintptr) bool {
			for sent < size {
				// Chunks stay below the kernel's per-call limit (about 2 GiB).
				n, err := syscall.Sendfile(int(dfd), int(sfd), &off, int(min(size-sent, 1<<30)))
				if n > 0 {
					sent += int64(n)
				}
				switch {
				case err == syscall.EAGAIN:
					return false // wait until the socket is writable
				case err == syscall.EINTR:
				case err != nil:
					if sent == 0 && (err == syscall.EINVAL || err == syscall.ENOSYS || err == syscall.EOPNOTSUPP) {
						err = errSendfileUnsupported
					}
					serr = err
					return true
				case n == 0:
					serr = errSectionShort
					return true
				}
			}
			return true
		})
		if serr == nil {
			serr = werr
		}
	})
	if serr == nil {
		serr = cerr
	}
	return sent, serr
}
