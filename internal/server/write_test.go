package server

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strata-io/strata/internal/protocol"
)

// writeRaw sends a request frame: a v3 Produce header (non-flexible) with
// clientID and body, which handlers in these tests do not decode.
func writeRaw(t testing.TB, c net.Conn, corr int32, clientID string, body []byte) {
	t.Helper()
	if err := sendRaw(c, corr, clientID, body); err != nil {
		t.Fatal(err)
	}
}

// emptyProduceV3 is the size of the empty Produce v3 request sendRaw puts
// before a body: transactional id "", acks 0, timeout 0, no topics.
const emptyProduceV3 = 12

// sendRaw is writeRaw for goroutines other than the test's.
// The body follows an empty Produce v3 request (12 zero bytes), so that
// protocol.ParseRequest finds it well formed; the body itself is padding.
func sendRaw(c net.Conn, corr int32, clientID string, body []byte) error {
	body = append(make([]byte, emptyProduceV3, emptyProduceV3+len(body)), body...)
	b := make([]byte, 0, 14+len(clientID)+len(body))
	b = binary.BigEndian.AppendUint32(b, uint32(10+len(clientID)+len(body)))
	b = binary.BigEndian.AppendUint16(b, uint16(kmsg.Produce))
	b = binary.BigEndian.AppendUint16(b, 3)
	b = binary.BigEndian.AppendUint32(b, uint32(corr))
	b = binary.BigEndian.AppendUint16(b, uint16(len(clientID)))
	b = append(b, clientID...)
	b = append(b, body...)
	if _, err := c.Write(b); err != nil {
		return fmt.Errorf("writing request %d: %w", corr, err)
	}
	return nil
}

// readFrame reads one response frame and returns its correlation id and
// the rest.
func readFrame(t testing.TB, c net.Conn) (int32, []byte) {
	t.Helper()
	corr, b, err := receiveFrame(c)
	if err != nil {
		t.Fatal(err)
	}
	return corr, b
}

// receiveFrame is readFrame for goroutines other than the test's.
func receiveFrame(c net.Conn) (int32, []byte, error) {
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	var size [4]byte
	if _, err := io.ReadFull(c, size[:]); err != nil {
		return 0, nil, fmt.Errorf("reading response size: %w", err)
	}
	b := make([]byte, binary.BigEndian.Uint32(size[:]))
	if _, err := io.ReadFull(c, b); err != nil {
		return 0, nil, fmt.Errorf("reading response of %d bytes: %w", len(b), err)
	}
	return int32(binary.BigEndian.Uint32(b)), b[4:], nil
}

// bodyHandler answers every request with the Body that plan returns for
// its client id.
type bodyHandler struct {
	plan func(clientID string) *Body
}

func (h *bodyHandler) Handle(_ context.Context, _ *Conn, hdr protocol.RequestHeader, _ kmsg.Request, _ []byte) Response {
	return Response{Body: h.plan(hdr.ClientID)}
}

func startTestServer(t *testing.T, h Handler, cfg Config) (*Server, string) {
	t.Helper()
	cfg.Addr = "127.0.0.1:0"
	s := New(cfg, h)
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { s.Run(ctx) })
	t.Cleanup(func() { cancel(); wg.Wait() })
	return s, s.Addr().String()
}

// segmentFile returns an open file of n random bytes and its contents.
func segmentFile(t testing.TB, n int) (*os.File, []byte) {
	t.Helper()
	data := make([]byte, n)
	rng := rand.New(rand.NewPCG(uint64(n), 1))
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	path := filepath.Join(t.TempDir(), "00000000000000000000.log")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f, data
}

func TestBodyIsWrittenByBothPaths(t *testing.T) {
	f, data := segmentFile(t, 4<<20)
	// Framing, a large section (sendfile), framing, a small one (copied),
	// an empty one, a section at the very end of the file.
	big := Piece{File: f, Pos: 12345, Size: 2<<20 + 7}
	small := Piece{File: f, Pos: 100, Size: 3000}
	tail := Piece{File: f, Pos: int64(len(data)) - sendfileMinBytes, Size: sendfileMinBytes}
	body := &Body{Flexible: true, Pieces: []Piece{
		{Bytes: []byte("head")}, big, {Bytes: []byte("mid")}, small,
		{File: f, Pos: 5, Size: 0}, {Bytes: nil}, tail, {Bytes: []byte("end")},
	}}
	var want []byte
	want = append(want, 0) // header tags
	want = append(want, "head"...)
	want = append(want, data[big.Pos:big.Pos+big.Size]...)
	want = append(want, "mid"...)
	want = append(want, data[small.Pos:small.Pos+small.Size]...)
	want = append(want, data[tail.Pos:]...)
	want = append(want, "end"...)

	tests := []struct {
		name         string
		give         Config
		wantSendfile int64
		wantCopied   int64
	}{
		{"sendfile", DefaultConfig(), big.Size + tail.Size, small.Size},
		{"buffered", func() Config { c := DefaultConfig(); c.DisableSendfile = true; return c }(), 0, big.Size + small.Size + tail.Size},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !sendfileSupported && tt.wantSendfile > 0 {
				t.Skip("no sendfile on this system")
			}
			s, addr := startTestServer(t, &bodyHandler{plan: func(string) *Body { return body }}, tt.give)
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			for corr := int32(1); corr <= 3; corr++ {
				writeRaw(t, c, corr, "c", nil)
			}
			for corr := int32(1); corr <= 3; corr++ {
				gotCorr, got := readFrame(t, c)
				if gotCorr != corr || !bytes.Equal(got, want) {
					t.Fatalf("response %d = correlation id %d, %d bytes (equal: %v); want %d, %d bytes", corr, gotCorr, len(got), bytes.Equal(got, want), corr, len(want))
				}
			}
			st := s.Stats()
			if st.SendfileBytes != 3*tt.wantSendfile || st.CopiedFileBytes != 3*tt.wantCopied {
				t.Fatalf("Stats() = %+v, want %d bytes by sendfile and %d copied", st, 3*tt.wantSendfile, 3*tt.wantCopied)
			}
		})
	}
}

// TestConcurrentSectionsOfOneFile reads random sections of one file from
// many connections at once: the file's shared offset must not be used.
func TestConcurrentSectionsOfOneFile(t *testing.T) {
	f, data := segmentFile(t, 8<<20)
	for _, disable := range []bool{false, true} {
		t.Run(fmt.Sprintf("DisableSendfile=%v", disable), func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.DisableSendfile = disable
			// The client id says which section to send: "pos:size".
			_, addr := startTestServer(t, &bodyHandler{plan: func(id string) *Body {
				var pos, size int64
				fmt.Sscanf(id, "%d:%d", &pos, &size)
				return &Body{Pieces: []Piece{{Bytes: []byte{1}}, {File: f, Pos: pos, Size: size}, {Bytes: []byte{2}}}}
			}}, cfg)
			var wg sync.WaitGroup
			for conn := range 6 {
				wg.Go(func() {
					c, err := net.Dial("tcp", addr)
					if err != nil {
						t.Error(err)
						return
					}
					defer c.Close()
					rng := rand.New(rand.NewPCG(uint64(conn), 2))
					type sec struct{ pos, size int64 }
					var secs []sec
					for corr := range int32(20) {
						size := rng.Int64N(512 << 10)
						pos := rng.Int64N(int64(len(data)) - size)
						secs = append(secs, sec{pos, size})
						if err := sendRaw(c, corr, fmt.Sprintf("%d:%d", pos, size), nil); err != nil {
							t.Error(err)
							return
						}
					}
					for corr, s := range secs {
						gotCorr, got, err := receiveFrame(c)
						if err != nil {
							t.Errorf("connection %d: %v", conn, err)
							return
						}
						want := append(append([]byte{1}, data[s.pos:s.pos+s.size]...), 2)
						if gotCorr != int32(corr) || !bytes.Equal(got, want) {
							t.Errorf("connection %d response %d: correlation id %d, %d bytes, equal %v; want section %d+%d", conn, corr, gotCorr, len(got), bytes.Equal(got, want), s.pos, s.size)
							return
						}
					}
				})
			}
			wg.Wait()
		})
	}
}

func TestShortSectionClosesConnection(t *testing.T) {
	f, data := segmentFile(t, 1<<20)
	for _, disable := range []bool{false, true} {
		t.Run(fmt.Sprintf("DisableSendfile=%v", disable), func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.DisableSendfile = disable
			// The section runs 100 KiB past the end of the file, as after
			// a truncation.
			_, addr := startTestServer(t, &bodyHandler{plan: func(string) *Body {
				return &Body{Pieces: []Piece{{File: f, Pos: int64(len(data)) - 200<<10, Size: 300 << 10}}}
			}}, cfg)
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			writeRaw(t, c, 1, "c", nil)
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			got, err := io.ReadAll(c)
			if err != nil {
				t.Fatalf("reading until close: %v", err)
			}
			// At most the size, the correlation id and the 200 KiB that
			// exist arrive (the copy path may not flush its last buffer),
			// then the close: never a whole frame.
			if len(got) > 8+200<<10 {
				t.Fatalf("got %d bytes before close, want at most %d", len(got), 8+200<<10)
			}
			if len(got) >= 4 && binary.BigEndian.Uint32(got) != 4+300<<10 {
				t.Fatalf("frame size = %d, want %d", binary.BigEndian.Uint32(got), 4+300<<10)
			}
		})
	}
}

// TestNonTCPConnectionCopies serves a connection that is not a
// *net.TCPConn: file sections must be copied.
func TestNonTCPConnectionCopies(t *testing.T) {
	f, data := segmentFile(t, 1<<20)
	s := New(DefaultConfig(), &bodyHandler{plan: func(string) *Body {
		return &Body{Pieces: []Piece{{File: f, Pos: 0, Size: int64(len(data))}}}
	}})
	server, client := net.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { s.serveConn(ctx, server) })
	defer func() { client.Close(); cancel(); wg.Wait() }()
	go sendRaw(client, 7, "c", nil) // an error shows up as a failed read
	corr, got := readFrame(t, client)
	if corr != 7 || !bytes.Equal(got, data) {
		t.Fatalf("response = correlation id %d, %d bytes, equal %v; want 7 and the file", corr, len(got), bytes.Equal(got, data))
	}
	if st := s.Stats(); st.SendfileBytes != 0 || st.CopiedFileBytes != int64(len(data)) {
		t.Fatalf("Stats() = %+v, want everything copied", st)
	}
}
