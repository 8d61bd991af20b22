package server

import (
	"context"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strata-io/strata/internal/protocol"
)

// acquireAsync starts an acquire and returns a channel closed once it
// succeeds (or fails: then err is set).
func acquireAsync(ctx context.Context, b *budget, n int64, exempt bool, err *error) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		*err = b.acquire(ctx, n, exempt)
	}()
	return done
}

func isDone(ch <-chan struct{}, wait time.Duration) bool {
	select {
	case <-ch:
		return true
	case <-time.After(wait):
		return false
	}
}

func TestBudgetServesWaitersInOrder(t *testing.T) {
	b := newBudget(100)
	ctx := t.Context()
	if err := b.acquire(ctx, 60, false); err != nil {
		t.Fatal(err)
	}
	var err1, err2 error
	first := acquireAsync(ctx, b, 50, false, &err1)
	for b.waiting() != 1 {
		time.Sleep(time.Millisecond)
	}
	// 10 would fit, but it arrived after 50: it waits its turn.
	second := acquireAsync(ctx, b, 10, false, &err2)
	if isDone(first, 50*time.Millisecond) || isDone(second, 50*time.Millisecond) {
		t.Fatalf("acquire(50) or acquire(10) returned while 60 of 100 were held and 50 waited first")
	}
	b.release(60)
	if !isDone(first, 5*time.Second) || !isDone(second, 5*time.Second) || err1 != nil || err2 != nil {
		t.Fatalf("waiters after release(60): errors %v, %v; want both granted", err1, err2)
	}
	if got := b.used(); got != 60 {
		t.Fatalf("used() = %d, want 60", got)
	}
}

func TestBudgetAdmitsOversizedRequestAlone(t *testing.T) {
	b := newBudget(100)
	ctx := t.Context()
	if err := b.acquire(ctx, 1, false); err != nil {
		t.Fatal(err)
	}
	var err error
	big := acquireAsync(ctx, b, 250, false, &err)
	if isDone(big, 50*time.Millisecond) {
		t.Fatalf("acquire(250) of a 100-byte budget returned while 1 byte was held")
	}
	b.release(1)
	if !isDone(big, 5*time.Second) || err != nil {
		t.Fatalf("acquire(250) with nothing held: err %v, want granted", err)
	}
	// Others wait until it is answered; an exempt request does not.
	var err2 error
	small := acquireAsync(ctx, b, 10, false, &err2)
	if isDone(small, 50*time.Millisecond) {
		t.Fatalf("acquire(10) returned while 250 of 100 were held")
	}
	if err := b.acquire(ctx, 10, true); err != nil {
		t.Fatalf("exempt acquire: %v", err)
	}
	b.release(250)
	if !isDone(small, 5*time.Second) || err2 != nil {
		t.Fatalf("acquire(10) after release: err %v, want granted", err2)
	}
}

func TestBudgetWaitEndsWithContext(t *testing.T) {
	b := newBudget(100)
	if err := b.acquire(t.Context(), 90, false); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	var err1, err2 error
	first := acquireAsync(ctx, b, 50, false, &err1)
	for b.waiting() != 1 {
		time.Sleep(time.Millisecond)
	}
	second := acquireAsync(t.Context(), b, 10, false, &err2)
	for b.waiting() != 2 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	// The cancelled head leaves the queue, and the one behind it fits.
	if !isDone(first, 5*time.Second) || err1 == nil {
		t.Fatalf("cancelled acquire: err %v, want the context's error", err1)
	}
	if !isDone(second, 5*time.Second) || err2 != nil {
		t.Fatalf("acquire(10) behind a cancelled waiter: err %v, want granted", err2)
	}
	if got := b.used(); got != 100 {
		t.Fatalf("used() = %d, want 100", got)
	}
}

// holdHandler answers at once, except requests from client id "hold",
// which are answered when the test says so. It records what it sees.
type holdHandler struct {
	seen    chan string // client ids, in arrival order
	release chan struct{}
}

func (h *holdHandler) Handle(ctx context.Context, _ *Conn, hdr protocol.RequestHeader, _ kmsg.Request, _ []byte) Response {
	h.seen <- hdr.ClientID
	msg := kmsg.NewPtrMetadataResponse() // any message; tests read only the frame
	if hdr.ClientID != "hold" {
		return Response{Msg: msg}
	}
	ch := make(chan Response, 1)
	go func() {
		select {
		case <-h.release:
		case <-ctx.Done():
		}
		ch <- Response{Msg: msg}
	}()
	return Response{Later: ch}
}

func TestBudgetBlocksSecondBigRequestUntilFirstIsAnswered(t *testing.T) {
	cfg := DefaultConfig()
	cfg.QueuedMaxRequestBytes = 1 << 20
	h := &holdHandler{seen: make(chan string, 16), release: make(chan struct{})}
	s, addr := startTestServer(t, h, cfg)
	a, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()

	big := make([]byte, 700<<10)
	writeRaw(t, a, 1, "hold", big)
	if got := <-h.seen; got != "hold" {
		t.Fatalf("first request seen = %q, want hold", got)
	}
	if got := s.Stats().QueuedRequestBytes; got < 700<<10 {
		t.Fatalf("QueuedRequestBytes = %d with a 700 KiB request unanswered, want at least that", got)
	}
	// The second connection holds nothing, but its request is too big to
	// be exempt: it must not be read until the first is answered. The
	// write itself succeeds into the socket buffers.
	go sendRaw(b, 2, "second", big) // an error shows up as a missing response
	select {
	case got := <-h.seen:
		t.Fatalf("request %q was read while the budget was exhausted", got)
	case <-time.After(300 * time.Millisecond):
	}
	// A small request on a third connection gets in all the same.
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	writeRaw(t, c, 3, "small", make([]byte, 100))
	if got := <-h.seen; got != "small" {
		t.Fatalf("request seen = %q, want small (exempt)", got)
	}
	if corr, _ := readFrame(t, c); corr != 3 {
		t.Fatalf("small response correlation id = %d, want 3", corr)
	}

	close(h.release)
	if corr, _ := readFrame(t, a); corr != 1 {
		t.Fatalf("first response correlation id = %d, want 1", corr)
	}
	select {
	case got := <-h.seen:
		if got != "second" {
			t.Fatalf("request seen = %q, want second", got)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("second request not read within 5s of the first being answered")
	}
	if corr, _ := readFrame(t, b); corr != 2 {
		t.Fatalf("second response correlation id = %d, want 2", corr)
	}
	waitFor(t, "QueuedRequestBytes back to 0", func() bool { return s.Stats().QueuedRequestBytes == 0 })
}

// waitFor polls cond for up to 5s; what names the condition.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// mixedHandler answers each request at once or after a short random delay
// (a long poll, an acks=all wait), and samples the budget's use.
type mixedHandler struct {
	s       *Server
	maxUsed atomic.Int64
	wg      sync.WaitGroup
}

func (h *mixedHandler) Handle(ctx context.Context, _ *Conn, hdr protocol.RequestHeader, _ kmsg.Request, body []byte) Response {
	if u := h.s.budget.used(); u > h.maxUsed.Load() {
		h.maxUsed.Store(u) // reader goroutines race here; an approximate max is enough
	}
	msg := kmsg.NewPtrMetadataResponse()
	if len(body)%3 != 0 {
		return Response{Msg: msg}
	}
	ch := make(chan Response, 1)
	delay := time.Duration(len(body)%7) * 3 * time.Millisecond
	h.wg.Go(func() {
		select {
		case <-time.After(delay):
		case <-ctx.Done():
		}
		ch <- Response{Msg: msg}
	})
	return Response{Later: ch}
}

func TestBudgetPipelinedRequestsDoNotDeadlock(t *testing.T) {
	const limit = 256 << 10
	cfg := DefaultConfig()
	cfg.QueuedMaxRequestBytes = limit
	cfg.MaxInFlight = 8
	h := &mixedHandler{}
	s, addr := startTestServer(t, h, cfg)
	h.s = s
	t.Cleanup(h.wg.Wait)
	const conns, perConn = 8, 60
	var wg sync.WaitGroup
	maxFrame := 0
	for conn := range conns {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		rng := rand.New(rand.NewPCG(uint64(conn), 3))
		sizes := make([]int, perConn)
		for i := range sizes {
			sizes[i] = 1 + rng.IntN(120<<10)
			if conn == 0 && i == 10 {
				sizes[i] = 300 << 10 // larger than the whole budget
			}
			maxFrame = max(maxFrame, sizes[i]+10+1)
		}
		// The client writes everything without reading, then reads.
		wg.Go(func() {
			for i, n := range sizes {
				if err := sendRaw(c, int32(i), "p", make([]byte, n)); err != nil {
					t.Error(err)
					return
				}
			}
		})
		wg.Go(func() {
			for i := range sizes {
				corr, _, err := receiveFrame(c)
				if err != nil || corr != int32(i) {
					t.Errorf("connection %d: response correlation id %d (%v), want %d", conn, corr, err, i)
					return
				}
			}
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Fatalf("pipelined requests not all answered within 60s; budget holds %d bytes", s.Stats().QueuedRequestBytes)
	}
	if got := h.maxUsed.Load(); got < limit/2 {
		t.Fatalf("budget use peaked at %d bytes of %d: the test did not exhaust it", got, limit)
	}
	// At most the budget (or one oversized frame), plus one exempt frame
	// per connection.
	if got, bound := h.maxUsed.Load(), int64(max(limit, maxFrame)+conns*exemptFrameBytes); got > bound {
		t.Fatalf("budget use peaked at %d bytes, want at most %d", got, bound)
	}
	waitFor(t, "QueuedRequestBytes back to 0", func() bool { return s.Stats().QueuedRequestBytes == 0 })
}

// TestBudgetConnectionBehindItsOwnLongPoll: a connection's first request
// waits (a long poll) while it pipelines more than the budget behind it.
func TestBudgetConnectionBehindItsOwnLongPoll(t *testing.T) {
	cfg := DefaultConfig()
	cfg.QueuedMaxRequestBytes = 512 << 10
	h := &holdHandler{seen: make(chan string, 64), release: make(chan struct{})}
	s, addr := startTestServer(t, h, cfg)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	writeRaw(t, c, 0, "hold", nil)
	go func() {
		for i := int32(1); i <= 20; i++ {
			if sendRaw(c, i, "p", make([]byte, 100<<10)) != nil {
				return // shows up as a missing response
			}
		}
	}()
	<-h.seen
	// The reader stops once the budget is used up behind the long poll.
	waitFor(t, "the reader to fill the budget", func() bool { return len(h.seen) >= 4 })
	time.Sleep(100 * time.Millisecond)
	if n := len(h.seen); n > 5 {
		t.Fatalf("%d requests of 100 KiB read behind an unanswered one with a 512 KiB budget, want at most 5", n)
	}
	if got := s.Stats().QueuedRequestBytes; got > 512<<10 {
		t.Fatalf("QueuedRequestBytes = %d, want at most %d", got, 512<<10)
	}
	close(h.release) // the long poll ends
	for i := int32(0); i <= 20; i++ {
		if corr, _ := readFrame(t, c); corr != i {
			t.Fatalf("response correlation id = %d, want %d", corr, i)
		}
	}
}

// TestBudgetReleasedWhenConnectionCloses: requests never answered give
// their bytes back when their connection goes away.
func TestBudgetReleasedWhenConnectionCloses(t *testing.T) {
	cfg := DefaultConfig()
	cfg.QueuedMaxRequestBytes = 1 << 20
	h := &holdHandler{seen: make(chan string, 16), release: make(chan struct{})}
	s, addr := startTestServer(t, h, cfg)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	writeRaw(t, c, 1, "hold", make([]byte, 900<<10))
	<-h.seen
	// A second request waits for memory on the same connection.
	writeRaw(t, c, 2, "p", make([]byte, 900<<10))
	time.Sleep(50 * time.Millisecond)
	c.Close()
	// The long poll ends; writing its answer (or the next) finds the
	// connection gone, and everything it held is given back.
	close(h.release)
	waitFor(t, "QueuedRequestBytes back to 0", func() bool { return s.Stats().QueuedRequestBytes == 0 })
}

// TestBudgetWaitEndsWhenServerStops: a reader waiting for memory must not
// keep Run from returning.
func TestBudgetWaitEndsWhenServerStops(t *testing.T) {
	cfg := DefaultConfig()
	cfg.QueuedMaxRequestBytes = 1 << 20
	cfg.Addr = "127.0.0.1:0"
	h := &holdHandler{seen: make(chan string, 16), release: make(chan struct{})}
	s := New(cfg, h)
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	ran := make(chan error, 1)
	go func() { ran <- s.Run(ctx) }()
	c, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	writeRaw(t, c, 1, "hold", make([]byte, 900<<10))
	<-h.seen
	writeRaw(t, c, 2, "p", make([]byte, 900<<10))
	waitFor(t, "the second request to wait for memory", func() bool { return s.budget.waiting() == 1 })
	cancel()
	select {
	case err := <-ran:
		if err != nil {
			t.Fatalf("Run() = %v, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return within 5s of its context ending")
	}
}

// waiting returns the number of waiters.
func (b *budget) waiting() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.mu.waiters)
}
