// Package clock is the broker's wall clock: the readings that become record
// timestamps or are compared with them, and the other wall-clock
// bookkeeping Kafka does with System.currentTimeMillis (LogAppendTime and
// the message.timestamp.*.max.ms bounds, segment.ms rolls, retention.ms,
// transaction timeouts and transactional id expiration, producer id
// expiration, committed offsets' timestamps and their expiration).
//
// Now is time.Now plus an offset that is zero unless a test sets one: in
// process with SetOffset, or for a broker process with the hidden serve
// flag --test-clock-offset-file PATH (UseOffsetFile): the file holds a Go
// duration with an optional sign ("+1h", "-30m", "0"; empty or missing
// means 0) and is read again at most every 100 ms, so a fault test jumps a
// running broker's clock by rewriting the file.
//
// Durations the broker measures (session and heartbeat timeouts, raft and
// controller fencing, ISR lag, request timeouts, back-offs, quotas) do not
// use this package: they use time.Now's monotonic reading, which a wall
// clock jump does not move.
//
// The offset moves the monotonic reading of the returned time too, so
// durations between two readings of Now see a jump, as wall-clock
// arithmetic does.
package clock

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// RereadInterval is how often Now reads the offset file again at most.
const RereadInterval = 100 * time.Millisecond

var (
	offset atomic.Int64 // nanoseconds added to time.Now
	file   atomic.Pointer[offsetFile]
)

// offsetFile is the file UseOffsetFile named.
type offsetFile struct {
	path string
	mu   sync.Mutex // one reader at a time
	// next is when (monotonic, since start) the file is read again.
	next  atomic.Int64
	start time.Time
}

// Now returns the wall clock: time.Now plus the test offset.
func Now() time.Time {
	if f := file.Load(); f != nil {
		f.maybeReread()
	}
	return time.Now().Add(time.Duration(offset.Load()))
}

// Offset returns the current test offset.
func Offset() time.Duration { return time.Duration(offset.Load()) }

// SetOffset sets the test offset (in-process tests; a broker process uses
// UseOffsetFile). It applies to the whole process.
func SetOffset(d time.Duration) { offset.Store(int64(d)) }

// UseOffsetFile makes Now take its offset from path, read now and again at
// most every RereadInterval. An unreadable or malformed file keeps the
// previous offset (a missing or empty one means 0).
func UseOffsetFile(path string) error {
	d, err := readOffset(path)
	if err != nil {
		return err
	}
	SetOffset(d)
	f := &offsetFile{path: path, start: time.Now()}
	f.next.Store(int64(RereadInterval))
	file.Store(f)
	return nil
}

func (f *offsetFile) maybeReread() {
	since := int64(time.Since(f.start))
	if since < f.next.Load() || !f.mu.TryLock() {
		return
	}
	defer f.mu.Unlock()
	if since < f.next.Load() {
		return
	}
	if d, err := readOffset(f.path); err == nil {
		SetOffset(d)
	}
	f.next.Store(since + int64(RereadInterval))
}

// readOffset reads an offset file: missing or empty is 0.
func readOffset(path string) (time.Duration, error) {
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return ParseOffset(string(b))
}

// ParseOffset parses an offset: a Go duration with an optional sign
// ("+1h", "-30m", "90s"), surrounding space ignored; empty is 0.
func ParseOffset(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("clock offset %q: want a Go duration such as +1h or -30m", s)
	}
	return d, nil
}
