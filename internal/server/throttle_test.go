package server

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strata-io/strata/internal/protocol"
)

// throttleHandler throttles every request whose client id is "throttled"
// by 300ms and notes when each request was handled.
type throttleHandler struct {
	mu      sync.Mutex
	handled []time.Time
}

const testThrottle = 300 * time.Millisecond

func (h *throttleHandler) Handle(ctx context.Context, c *Conn, hdr protocol.RequestHeader, req kmsg.Request, body []byte) Response {
	h.mu.Lock()
	h.handled = append(h.handled, time.Now())
	h.mu.Unlock()
	resp := req.ResponseKind().(*kmsg.MetadataResponse)
	switch hdr.ClientID {
	case "throttled":
		return Response{Msg: resp, Throttle: testThrottle}
	case "throttled-later":
		// Throttled at once, answered only after testAnswerDelay, as a
		// produce waiting for acks.
		later := make(chan Response, 1)
		time.AfterFunc(testAnswerDelay, func() { later <- Response{Msg: resp} })
		return Response{Later: later, Throttle: testThrottle}
	}
	return Response{Msg: resp}
}

const testAnswerDelay = 200 * time.Millisecond

// TestThrottledConnectionIsMuted checks KIP-219's order: the throttled
// response comes at once, with throttle_time_ms set, and the next request,
// pipelined right behind it, is handled only after the throttle time.
func TestThrottledConnectionIsMuted(t *testing.T) {
	h := &throttleHandler{}
	addr := startServer(t, h, DefaultConfig())
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	writeMetadata(t, c, 1, "throttled")
	_, resp := readResponse(t, c)
	if first := time.Since(start); first >= testThrottle {
		t.Errorf("throttled response took %v, want it before the throttle time %v", first, testThrottle)
	}
	if resp.ThrottleMillis != int32(testThrottle.Milliseconds()) {
		t.Errorf("throttle_time_ms = %d, want %d", resp.ThrottleMillis, testThrottle.Milliseconds())
	}
	writeMetadata(t, c, 2, "other")
	readResponse(t, c)
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.handled) != 2 {
		t.Fatalf("handled %d requests, want 2", len(h.handled))
	}
	if gap := h.handled[1].Sub(h.handled[0]); gap < testThrottle-10*time.Millisecond {
		t.Errorf("second request handled %v after the throttled one, want at least %v", gap, testThrottle)
	}
}

// TestPipelinedRequestWaitsForThrottledResponse checks that a request
// the client pipelined behind a throttled one whose response is not ready
// yet is handled only once that response is out and its throttle has
// passed (the channel is muted from the response on, as in Kafka), not as
// soon as the reader gets to it.
func TestPipelinedRequestWaitsForThrottledResponse(t *testing.T) {
	h := &throttleHandler{}
	addr := startServer(t, h, DefaultConfig())
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	writeMetadata(t, c, 1, "throttled-later")
	writeMetadata(t, c, 2, "other")
	_, resp := readResponse(t, c)
	if resp.ThrottleMillis != int32(testThrottle.Milliseconds()) {
		t.Errorf("throttle_time_ms = %d, want %d", resp.ThrottleMillis, testThrottle.Milliseconds())
	}
	readResponse(t, c)
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.handled) != 2 {
		t.Fatalf("handled %d requests, want 2", len(h.handled))
	}
	want := testAnswerDelay + testThrottle - 10*time.Millisecond
	if gap := h.handled[1].Sub(h.handled[0]); gap < want {
		t.Errorf("pipelined request handled %v after the throttled one, want at least %v (answer delay + throttle)", gap, want)
	}
}

// TestAcceptThrottleClosesConnection checks that a connection refused by
// AcceptThrottle is held, never served, and closed after the throttle.
func TestAcceptThrottleClosesConnection(t *testing.T) {
	h := &throttleHandler{}
	cfg := DefaultConfig()
	cfg.AcceptThrottle = func(ip netip.Addr) time.Duration {
		if !ip.IsLoopback() {
			t.Errorf("AcceptThrottle(%v), want a loopback address", ip)
		}
		return 200 * time.Millisecond
	}
	addr := startServer(t, h, cfg)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	writeMetadata(t, c, 1, "x")
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	// Closed with our request unread: EOF or a reset.
	if n, err := c.Read(make([]byte, 1)); err != io.EOF && !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("Read on a throttled connection = %d, %v; want EOF or a reset", n, err)
	}
	if held := time.Since(start); held < 150*time.Millisecond {
		t.Errorf("throttled connection closed after %v, want about 200ms", held)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.handled) != 0 {
		t.Errorf("handled %d requests of a throttled connection, want 0", len(h.handled))
	}
}
