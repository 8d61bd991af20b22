package server

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/goleak"

	"github.com/strata-io/strata/internal/protocol"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// delayHandler answers Metadata requests; a request whose client id is
// "slow" completes later than the requests that follow it.
type delayHandler struct {
	release chan struct{}
}

func (h *delayHandler) Handle(ctx context.Context, c *Conn, hdr protocol.RequestHeader, req kmsg.Request, body []byte) Response {
	if err := req.ReadFrom(body); err != nil {
		return Response{Close: true}
	}
	resp := req.ResponseKind().(*kmsg.MetadataResponse)
	resp.ClusterID = kmsg.StringPtr(hdr.ClientID)
	if hdr.ClientID != "slow" {
		return Response{Msg: resp}
	}
	ch := make(chan Response, 1)
	go func() {
		select {
		case <-h.release:
		case <-ctx.Done():
		}
		ch <- Response{Msg: resp}
	}()
	return Response{Later: ch}
}

func startServer(t *testing.T, h Handler, cfg Config) string {
	t.Helper()
	cfg.Addr = "127.0.0.1:0"
	s := New(cfg, h)
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); s.Run(ctx) }()
	t.Cleanup(func() { cancel(); wg.Wait() })
	return s.Addr().String()
}

func writeMetadata(t *testing.T, c net.Conn, corr int32, clientID string) {
	t.Helper()
	req := kmsg.NewPtrMetadataRequest()
	req.Version = 9
	f := kmsg.NewRequestFormatter(kmsg.FormatterClientID(clientID))
	if _, err := c.Write(f.AppendRequest(nil, req, corr)); err != nil {
		t.Fatal(err)
	}
}

func readResponse(t *testing.T, c net.Conn) (int32, *kmsg.MetadataResponse) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var size [4]byte
	if _, err := io.ReadFull(c, size[:]); err != nil {
		t.Fatalf("reading response size: %v", err)
	}
	b := make([]byte, binary.BigEndian.Uint32(size[:]))
	if _, err := io.ReadFull(c, b); err != nil {
		t.Fatalf("reading response: %v", err)
	}
	resp := kmsg.NewPtrMetadataResponse()
	resp.Version = 9
	if err := resp.ReadFrom(b[5:]); err != nil { // correlation id + tag byte
		t.Fatalf("decoding response: %v", err)
	}
	return int32(binary.BigEndian.Uint32(b)), resp
}

func TestPipelinedResponsesKeepRequestOrder(t *testing.T) {
	h := &delayHandler{release: make(chan struct{})}
	addr := startServer(t, h, DefaultConfig())
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	writeMetadata(t, c, 1, "fast-1")
	writeMetadata(t, c, 2, "slow")
	writeMetadata(t, c, 3, "fast-2")
	if corr, _ := readResponse(t, c); corr != 1 {
		t.Fatalf("first response correlation id = %d, want 1", corr)
	}
	// Response 3 is ready but must wait behind 2.
	c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	var one [1]byte
	if n, _ := c.Read(one[:]); n != 0 {
		t.Fatalf("got bytes of a later response before the slow one completed")
	}
	close(h.release)
	for _, want := range []struct {
		corr   int32
		client string
	}{{2, "slow"}, {3, "fast-2"}} {
		corr, resp := readResponse(t, c)
		if corr != want.corr || resp.ClusterID == nil || *resp.ClusterID != want.client {
			t.Fatalf("response = (%d, %v), want (%d, %s)", corr, resp.ClusterID, want.corr, want.client)
		}
	}
}

func TestOversizedFrameClosesConnectionAndServerKeepsServing(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxRequestBytes = 1 << 20
	addr := startServer(t, &delayHandler{release: make(chan struct{})}, cfg)
	for _, size := range []int32{-5, 1<<20 + 1, 2_000_000_000} {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		var b [4]byte
		binary.BigEndian.PutUint32(b[:], uint32(size))
		c.Write(b[:])
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if n, err := c.Read(make([]byte, 1)); err == nil || n != 0 {
			t.Fatalf("size %d: connection still open (n=%d err=%v), want closed", size, n, err)
		}
		c.Close()
	}
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	writeMetadata(t, c, 9, "after")
	if corr, _ := readResponse(t, c); corr != 9 {
		t.Fatalf("correlation id = %d, want 9", corr)
	}
}

func TestIdleConnectionIsClosed(t *testing.T) {
	cfg := DefaultConfig()
	cfg.IdleTimeout = 50 * time.Millisecond
	addr := startServer(t, &delayHandler{release: make(chan struct{})}, cfg)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("read on idle connection = %v, want EOF from the server closing it", err)
	}
}
