//go:build linux

package kafkaapi

import (
	"encoding/binary"
	"io"
	"net"
	"syscall"
	"testing"
	"time"
)

// cpuTime returns the process's user plus system CPU time.
func cpuTime(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatalf("getrusage: %v", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkFetch fetches a 64 MiB partition over loopback TCP from an
// in-process server, 8 MiB per request, with raw kmsg Fetch requests. The
// sub-benchmarks differ only in how record data reaches the socket:
// sendfile, or pread into the connection's write buffer. The client reads
// every byte of each response (it does not decode the records).
//
// On a machine with few cores the client's own copy out of the socket
// bounds MB/s for both; cpu-µs/MB (the whole process, client included)
// shows what the server saves. The /discard variants read the frame
// header and let the kernel drop the rest (recv with MSG_TRUNC, which TCP
// supports on Linux), so the client costs next to nothing and the server
// side dominates.
func BenchmarkFetch(b *testing.B) {
	const (
		batches   = 128
		perBatch  = 128
		valueSize = 4 << 10
		maxBytes  = 8 << 20
	)
	wh := newWireHandler(b)
	p := wh.p
	for i := range batches {
		if _, err := p.AppendAsLeader(batchOf(b, i*perBatch, perBatch, valueSize), time.Now(), 1); err != nil {
			b.Fatalf("append batch %d: %v", i, err)
		}
	}
	end := p.HighWatermark()
	if end != batches*perBatch {
		b.Fatalf("high watermark = %d, want %d", end, batches*perBatch)
	}
	for _, bb := range []struct {
		name    string
		disable bool
		discard bool
	}{
		{"sendfile", false, false},
		{"buffered", true, false},
		{"sendfile/discard", false, true},
		{"buffered/discard", true, true},
	} {
		b.Run(bb.name, func(b *testing.B) {
			s := startWire(b, wh.h, bb.disable)
			w := dialWire(b, s.Addr().String())
			req := wh.fetchRequest(16, 0, maxBytes)
			var total int64
			offset := int64(0)
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := cpuTime(b)
			for b.Loop() {
				req.Topics[0].Partitions[0].FetchOffset = offset
				corr := w.send(b, req)
				var n int
				if bb.discard {
					n = w.readDiscard(b, corr)
				} else {
					raw := w.readRaw(b)
					if got := int32(binary.BigEndian.Uint32(raw)); got != corr {
						b.Fatalf("correlation id = %d, want %d", got, corr)
					}
					n = len(raw)
				}
				total += int64(n) + 4
				// Each response ends on a batch boundary; without decoding,
				// move on by whole batches of the known size.
				offset += int64(n/(perBatch*valueSize)) * perBatch
				if offset >= end {
					offset = 0
				}
			}
			cpu := cpuTime(b) - cpu0
			b.ReportMetric(float64(total)/b.Elapsed().Seconds()/1e6, "MB/s")
			b.ReportMetric(float64(cpu.Microseconds())/(float64(total)/1e6), "cpu-µs/MB")
			st := s.Stats()
			b.ReportMetric(float64(st.CopiedFileBytes)/float64(b.N), "copied-B/op")
			b.ReportMetric(float64(st.SendfileBytes)/float64(b.N), "sendfile-B/op")
		})
	}
}

// readDiscard reads a response's size and correlation id and has the
// kernel discard the rest; it returns the frame's size.
func (w *wireClient) readDiscard(tb testing.TB, corr int32) int {
	tb.Helper()
	var hdr [8]byte
	if _, err := io.ReadFull(w.c, hdr[:]); err != nil {
		tb.Fatalf("reading response header: %v", err)
	}
	if got := int32(binary.BigEndian.Uint32(hdr[4:])); got != corr {
		tb.Fatalf("correlation id = %d, want %d", got, corr)
	}
	size := int(binary.BigEndian.Uint32(hdr[:]))
	left := size - 4
	raw, err := w.c.(*net.TCPConn).SyscallConn()
	if err != nil {
		tb.Fatal(err)
	}
	var rerr error
	for left > 0 && rerr == nil {
		err := raw.Read(func(fd uintptr) bool {
			n, _, errno := syscall.Syscall6(syscall.SYS_RECVFROM, fd, 0, uintptr(left), syscall.MSG_TRUNC, 0, 0)
			switch {
			case errno == syscall.EAGAIN:
				return false
			case errno != 0:
				rerr = errno
			case n == 0:
				rerr = io.ErrUnexpectedEOF
			default:
				left -= int(n)
			}
			return true
		})
		if err != nil {
			rerr = err
		}
	}
	if rerr != nil {
		tb.Fatalf("discarding response: %v", rerr)
	}
	return size
}
