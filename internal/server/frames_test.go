package server

import (
	"bytes"
	"context"
	"encoding/binary"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strata-io/strata/internal/protocol"
)

func TestFramePoolClasses(t *testing.T) {
	p := newFramePool()
	tests := []struct {
		give    int
		wantCap int
	}{
		{10, 1 << 10},
		{1 << 10, 1 << 10},
		{1<<10 + 1, 2 << 10},
		{1 << 20, 1 << 20},
		{16 << 20, 16 << 20},
		{16<<20 + 1, 16<<20 + 1}, // beyond the pool: exact
	}
	for _, tt := range tests {
		b := p.get(tt.give)
		if len(b) != tt.give || cap(b) != tt.wantCap {
			t.Errorf("get(%d) = len %d cap %d, want len %d cap %d", tt.give, len(b), cap(b), tt.give, tt.wantCap)
		}
		p.put(b)
	}
}

// patternBody fills a request body from its correlation id, so that a
// reused frame shows up as a changed body.
func patternBody(corr int32, n int) []byte {
	b := make([]byte, n)
	for i := 0; i+4 <= n; i += 4 {
		binary.BigEndian.PutUint32(b[i:], uint32(corr)*2654435761+uint32(i))
	}
	return b
}

// keepHandler answers each request after a delay, checking on the way
// out that the body it was given is unchanged; it can claim frame reuse.
type keepHandler struct {
	reuse bool
	wg    sync.WaitGroup

	mu struct {
		sync.Mutex
		bad   []int32
		addrs map[*byte]int // first byte of each body seen
	}
}

func (h *keepHandler) ReusesFrame(protocol.RequestHeader) bool { return h.reuse }

func (h *keepHandler) Handle(ctx context.Context, _ *Conn, hdr protocol.RequestHeader, _ kmsg.Request, body []byte) Response {
	body = body[emptyProduceV3:] // what runFrames sent
	h.mu.Lock()
	h.mu.addrs[&body[0]]++
	h.mu.Unlock()
	ch := make(chan Response, 1)
	h.wg.Go(func() {
		select {
		case <-time.After(time.Duration(hdr.CorrelationID%4) * time.Millisecond):
		case <-ctx.Done():
		}
		if !bytes.Equal(body, patternBody(hdr.CorrelationID, len(body))) {
			h.mu.Lock()
			h.mu.bad = append(h.mu.bad, hdr.CorrelationID)
			h.mu.Unlock()
		}
		ch <- Response{Msg: kmsg.NewPtrMetadataResponse()}
	})
	return Response{Later: ch}
}

// runFrames sends n requests of size bytes on one connection, in windows
// of window pipelined requests, and returns the handler.
func runFrames(t *testing.T, reuse bool, n, size, window int) *keepHandler {
	h := &keepHandler{reuse: reuse}
	h.mu.addrs = make(map[*byte]int)
	_, addr := startTestServer(t, h, DefaultConfig())
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for start := 0; start < n; start += window {
		for i := start; i < min(n, start+window); i++ {
			writeRaw(t, c, int32(i), "p", patternBody(int32(i), size))
		}
		for i := start; i < min(n, start+window); i++ {
			if corr, _ := readFrame(t, c); corr != int32(i) {
				t.Fatalf("response correlation id = %d, want %d", corr, i)
			}
		}
	}
	h.wg.Wait()
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.mu.bad) > 0 {
		t.Fatalf("bodies changed before their responses were produced: correlation ids %v", h.mu.bad)
	}
	return h
}

// TestReusedFramesAreNotChangedUnderTheHandler pipelines requests whose
// handlers read their bodies until their deferred responses are produced;
// run with -race, a frame reused too early is also a data race.
func TestReusedFramesAreNotChangedUnderTheHandler(t *testing.T) {
	h := runFrames(t, true, 400, 3000, 16)
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.mu.addrs) >= 400 {
		t.Fatalf("400 requests used %d distinct frames, want some reused", len(h.mu.addrs))
	}
}

func TestFramesAreNotReusedWithoutFrameReuser(t *testing.T) {
	h := runFrames(t, false, 100, 3000, 1)
	h.mu.Lock()
	defer h.mu.Unlock()
	for addr, n := range h.mu.addrs {
		if n > 1 {
			t.Fatalf("frame at %p used by %d requests, want none reused", addr, n)
		}
	}
}
