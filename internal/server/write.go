package server

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strata-io/strata/internal/protocol"
)

const (
	readBufferBytes  = 64 << 10
	writeBufferBytes = 64 << 10
	// sendfileMinBytes: smaller file sections are copied into the write
	// buffer, which is cheaper than a flush plus a sendfile.
	sendfileMinBytes = 16 << 10
)

// Body is a response encoded by the handler: everything after the response
// header, as pieces written in order.
type Body struct {
	// Flexible selects response header v1 (an empty tag section after the
	// correlation id), as for a flexible version of the API.
	Flexible bool
	Pieces   []Piece
	// ThrottleAtStart says the body starts with the response's
	// throttle_time_ms (int32, in Pieces[0].Bytes), so that a Response's
	// Throttle can raise it.
	ThrottleAtStart bool
}

// Piece is part of a Body: Bytes, or, when File is set, the Size bytes of
// File starting at offset Pos. File sections are read at their offset
// (never through the file's shared offset), so one file may serve many
// responses at once; the file must stay open until the response is
// written.
type Piece struct {
	Bytes     []byte
	File      *os.File
	Pos, Size int64
}

// Len returns the body's size in bytes.
func (b *Body) Len() int64 {
	var n int64
	for _, p := range b.Pieces {
		if p.File != nil {
			n += p.Size
		} else {
			n += int64(len(p.Bytes))
		}
	}
	return n
}

// errSectionShort means a file section ended before its promised size
// (its segment was truncated meanwhile).
var errSectionShort = errors.New("file section shorter than promised")

// connWriter writes responses to one connection; owned by writeLoop.
type connWriter struct {
	s   *Server
	bw  *bufio.Writer
	raw syscall.RawConn // the socket, for sendfile; nil: copy file sections
	buf []byte          // reused for kmsg responses
	// size is the bytes of the last response write wrote (for Metrics).
	size int64
}

func (s *Server) newConnWriter(nc net.Conn) *connWriter {
	w := &connWriter{s: s, bw: bufio.NewWriterSize(nc, writeBufferBytes)}
	if tc, ok := nc.(*net.TCPConn); ok && sendfileSupported && !s.cfg.DisableSendfile {
		if raw, err := tc.SyscallConn(); err == nil {
			w.raw = raw
		}
	}
	return w
}

func (s *Server) writeLoop(ctx context.Context, cancel context.CancelFunc, nc net.Conn, cs *connState, pending <-chan slot) {
	w := s.newConnWriter(nc)
	broken := false
	fail := func() {
		broken = true
		nc.Close()
		cancel() // wakes a reader waiting for request memory
	}
	for sl := range pending {
		if broken {
			// Drain so the reader never blocks; Later senders never block
			// either. A deferred handler may still hold its frame.
			s.release(cs, sl.held, nil, false)
			continue
		}
		resp := sl.resp
		throttle := resp.Throttle
		if resp.Later != nil {
			select {
			case resp = <-resp.Later:
			default:
				// Not ready: push out what is buffered before waiting, so
				// earlier responses are not held behind a long poll.
				if w.bw.Buffered() > 0 && w.bw.Flush() != nil {
					s.release(cs, sl.held, nil, false)
					fail()
					continue
				}
				select {
				case resp = <-resp.Later:
				case <-ctx.Done():
					s.release(cs, sl.held, nil, false)
					fail()
					continue
				}
			}
			sl.timing.remoteDone()
		}
		throttle = max(throttle, resp.Throttle)
		if throttle > 0 {
			setThrottle(&resp, throttle)
		}
		err := w.write(sl.correlationID, resp)
		sl.timing.written(resp.Msg, w.size)
		// The response exists, so the handler is done with the frame.
		s.release(cs, sl.held, sl.frame, true)
		if throttle > 0 {
			// KIP-219: the response leaves at once; the connection is
			// muted from now on for the throttle time.
			s.mute(cs, throttle)
		}
		if sl.throttled {
			cs.throttledUnwritten.Add(-1)
			select {
			case cs.wake <- struct{}{}:
			default:
			}
		}
		if err != nil {
			if clientGone(err) {
				cs.c.Logger.Debug("connection closed while writing", "err", err)
			} else {
				cs.c.Logger.Warn("closing connection: writing response failed", "err", err)
			}
			fail()
			continue
		}
		if len(pending) == 0 || resp.Close {
			if err := w.bw.Flush(); err != nil {
				fail()
				continue
			}
		}
		if resp.Close {
			fail()
		}
	}
}

// setThrottle raises the throttle_time_ms of resp's message to d.
func setThrottle(resp *Response, d time.Duration) {
	ms := int32(min(d.Milliseconds(), math.MaxInt32))
	if b := resp.Body; b != nil {
		if b.ThrottleAtStart && len(b.Pieces) > 0 && len(b.Pieces[0].Bytes) >= 4 && b.Pieces[0].File == nil {
			if cur := int32(binary.BigEndian.Uint32(b.Pieces[0].Bytes)); cur < ms {
				binary.BigEndian.PutUint32(b.Pieces[0].Bytes, uint32(ms))
			}
		}
		return
	}
	if t, ok := resp.Msg.(kmsg.ThrottleResponse); ok {
		if cur, _ := t.Throttle(); cur < ms {
			resp.Msg.(kmsg.SetThrottleResponse).SetThrottle(ms)
		}
	}
}

// write writes one response frame, if resp has one.
func (w *connWriter) write(correlationID int32, resp Response) error {
	w.size = 0
	switch {
	case resp.isRaw:
		w.size = 4 + int64(len(resp.raw))
		var size [4]byte
		binary.BigEndian.PutUint32(size[:], uint32(len(resp.raw)))
		if _, err := w.bw.Write(size[:]); err != nil {
			return err
		}
		_, err := w.bw.Write(resp.raw)
		return err
	case resp.Body != nil:
		return w.writeBody(correlationID, resp.Body)
	case resp.Msg != nil:
		w.buf = protocol.AppendResponse(w.buf[:0], correlationID, resp.Msg)
		w.size = int64(len(w.buf))
		_, err := w.bw.Write(w.buf)
		if cap(w.buf) > 1<<20 {
			w.buf = nil // do not pin a huge buffer to an idle connection
		}
		return err
	}
	return nil
}

func (w *connWriter) writeBody(correlationID int32, b *Body) error {
	size := 4 + b.Len()
	if b.Flexible {
		size++
	}
	w.size = 4 + size
	if size > math.MaxInt32 {
		return fmt.Errorf("response of %d bytes does not fit a frame", size)
	}
	var hdr [9]byte
	binary.BigEndian.PutUint32(hdr[0:], uint32(size))
	binary.BigEndian.PutUint32(hdr[4:], uint32(correlationID))
	n := 8
	if b.Flexible {
		n++ // hdr[8] is 0: no tagged fields
	}
	if _, err := w.bw.Write(hdr[:n]); err != nil {
		return err
	}
	for _, p := range b.Pieces {
		if p.File == nil {
			if _, err := w.bw.Write(p.Bytes); err != nil {
				return err
			}
			continue
		}
		if err := w.writeSection(p); err != nil {
			return err
		}
	}
	return nil
}

// writeSection writes a file section, with sendfile when it can.
func (w *connWriter) writeSection(p Piece) error {
	if p.Size <= 0 {
		return nil
	}
	if w.raw != nil && p.Size >= sendfileMinBytes {
		if err := w.bw.Flush(); err != nil {
			return err
		}
		n, err := sendFile(w.raw, p.File, p.Pos, p.Size)
		w.s.sendfileBytes.Add(n)
		if err == nil {
			return nil
		}
		if !errors.Is(err, errSendfileUnsupported) {
			return fmt.Errorf("sendfile %d bytes at %d of %s: %w", p.Size, p.Pos, p.File.Name(), err)
		}
		// The kernel will not sendfile this pair: copy from now on.
		w.raw = nil
		p.Pos, p.Size = p.Pos+n, p.Size-n
	}
	return w.copySection(p)
}

// copySection reads a file section with pread straight into the free
// space of the write buffer, flushing it as it fills.
func (w *connWriter) copySection(p Piece) error {
	for p.Size > 0 {
		if w.bw.Available() == 0 {
			if err := w.bw.Flush(); err != nil {
				return err
			}
		}
		b := w.bw.AvailableBuffer()
		b = b[:min(int64(cap(b)), p.Size)]
		n, err := p.File.ReadAt(b, p.Pos)
		if n < len(b) {
			if err == nil || err == io.EOF {
				err = errSectionShort
			}
			return fmt.Errorf("read %d bytes at %d of %s: %w", len(b), p.Pos, p.File.Name(), err)
		}
		if _, err := w.bw.Write(b); err != nil {
			return err
		}
		w.s.copiedBytes.Add(int64(n))
		p.Pos, p.Size = p.Pos+int64(n), p.Size-int64(n)
	}
	return nil
}

// clientGone reports whether err is the connection going away rather than
// a problem worth a warning (an unreadable file section).
func clientGone(err error) bool {
	return errors.Is(err, net.ErrClosed) || errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNRESET)
}
