// Package server owns the Kafka listeners and the per-connection loops. It
// knows the framing (package protocol) and a one-method Handler; it knows
// nothing about what requests mean.
//
// Goroutines: Run owns the accept loop. Each connection has one reader
// goroutine (reads frames, calls Handler.Handle in request order) and one
// writer goroutine (writes responses in request order, waiting for deferred
// ones). Both stop when the connection closes or Run's context is cancelled;
// Run returns only after every connection goroutine has exited.
package server

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime/debug"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strata-io/strata/internal/protocol"
)

// Response is a handler's answer to one request.
type Response struct {
	// Msg is the response body. Nil with Later nil means no response is
	// sent (acks=0 produce).
	Msg kmsg.Response
	// Later, when set, yields the real Response once the work completes
	// (acks waits, fetch long-polls). The handler guarantees exactly one
	// value is sent and that the send never blocks (buffer of one).
	Later <-chan Response
	// Close closes the connection after writing Msg (if any).
	Close bool
}

// Handler serves decoded requests. Handle runs on the connection's reader
// goroutine in request order, so work that must be ordered (log appends)
// happens inside it; anything slow goes behind Response.Later.
type Handler interface {
	Handle(ctx context.Context, c *Conn, h protocol.RequestHeader, req kmsg.Request, body []byte) Response
}

// Conn describes a client connection to handlers.
type Conn struct {
	Remote net.Addr
	Logger *slog.Logger // with the remote address
	// State belongs to the Handler, for per-connection bookkeeping. It is
	// only touched from Handle, which runs on the reader goroutine.
	State any
}

// Config configures a listener.
type Config struct {
	Addr            string        // host:port to listen on
	MaxRequestBytes int32         // socket.request.max.bytes
	IdleTimeout     time.Duration // connections.max.idle.ms; <=0 disables
	MaxInFlight     int           // requests read ahead of their responses per connection
	Logger          *slog.Logger
}

// DefaultConfig returns Kafka's defaults.
func DefaultConfig() Config {
	return Config{
		Addr:            ":9092",
		MaxRequestBytes: 100 << 20,
		IdleTimeout:     10 * time.Minute,
		MaxInFlight:     64,
		Logger:          slog.New(slog.DiscardHandler),
	}
}

// Server accepts Kafka connections.
type Server struct {
	cfg     Config
	handler Handler
	ln      net.Listener // set in Listen

	mu struct {
		sync.Mutex
		conns  map[net.Conn]struct{}
		closed bool
	}
	wg sync.WaitGroup // connection goroutines
}

// New returns a server; it neither listens nor starts goroutines.
func New(cfg Config, h Handler) *Server {
	s := &Server{cfg: cfg, handler: h}
	s.mu.conns = make(map[net.Conn]struct{})
	return s
}

// Listen binds the listening socket so that Addr is known before Run.
func (s *Server) Listen() error {
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", s.cfg.Addr, err)
	}
	s.ln = ln
	return nil
}

// Addr returns the bound address (after Listen).
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Run accepts connections until ctx is cancelled, then closes the listener
// and every connection and returns once all connection goroutines exited.
func (s *Server) Run(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() {
		s.ln.Close()
		s.mu.Lock()
		s.mu.closed = true
		for c := range s.mu.conns {
			c.Close()
		}
		s.mu.Unlock()
	})
	defer stop()
	var err error
	for {
		var c net.Conn
		c, err = s.ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				err = nil
				break
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			// EMFILE and friends: back off instead of spinning.
			s.cfg.Logger.Warn("accept failed", "err", err)
			select {
			case <-time.After(50 * time.Millisecond):
				continue
			case <-ctx.Done():
				err = nil
			}
			break
		}
		s.mu.Lock()
		if s.mu.closed {
			s.mu.Unlock()
			c.Close()
			break
		}
		s.mu.conns[c] = struct{}{}
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.serveConn(ctx, c)
			s.mu.Lock()
			delete(s.mu.conns, c)
			s.mu.Unlock()
		}()
	}
	s.ln.Close()
	s.mu.Lock()
	s.mu.closed = true
	for c := range s.mu.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	return err
}

type slot struct {
	correlationID int32
	resp          Response
}

// serveConn runs the reader loop on the calling goroutine and the writer
// loop on a second one, returning when both are done.
func (s *Server) serveConn(ctx context.Context, nc net.Conn) {
	if tc, ok := nc.(*net.TCPConn); ok {
		tc.SetNoDelay(true)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	c := &Conn{Remote: nc.RemoteAddr(), Logger: s.cfg.Logger.With("remote", nc.RemoteAddr().String())}
	// The buffer bounds how far the reader runs ahead of the writer.
	pending := make(chan slot, s.cfg.MaxInFlight)
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		s.writeLoop(ctx, nc, c, pending)
	}()
	s.readLoop(ctx, nc, c, pending)
	close(pending)
	<-writerDone
	nc.Close()
}

func (s *Server) readLoop(ctx context.Context, nc net.Conn, c *Conn, pending chan<- slot) {
	defer func() {
		if r := recover(); r != nil {
			c.Logger.Error("panic serving connection; closing it", "panic", r, "stack", string(debug.Stack()))
		}
	}()
	br := bufio.NewReaderSize(nc, 64<<10)
	var scratch [4]byte
	for {
		if s.cfg.IdleTimeout > 0 {
			nc.SetReadDeadline(time.Now().Add(s.cfg.IdleTimeout))
		}
		n, err := protocol.ReadFrameSize(br, &scratch, s.cfg.MaxRequestBytes)
		if err != nil {
			s.logReadErr(c, err)
			return
		}
		frame := make([]byte, n)
		if _, err := io.ReadFull(br, frame); err != nil {
			s.logReadErr(c, err)
			return
		}
		hdr, req, body, err := protocol.ParseRequest(frame)
		if err != nil {
			c.Logger.Warn("closing connection: bad request header", "api_key", hdr.APIKey, "api_version", hdr.APIVersion, "client_id", hdr.ClientID, "err", err)
			return
		}
		resp := s.handler.Handle(ctx, c, hdr, req, body)
		if resp.Msg == nil && resp.Later == nil && !resp.Close {
			continue // no response expected (acks=0)
		}
		select {
		case pending <- slot{correlationID: hdr.CorrelationID, resp: resp}:
		case <-ctx.Done():
			return
		}
		if resp.Close && resp.Later == nil {
			return
		}
	}
}

func (s *Server) logReadErr(c *Conn, err error) {
	var ne net.Error
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed), errors.Is(err, io.ErrUnexpectedEOF):
		c.Logger.Debug("connection closed", "err", err)
	case errors.As(err, &ne) && ne.Timeout():
		c.Logger.Info("closing idle connection", "idle_timeout", s.cfg.IdleTimeout)
	case errors.Is(err, protocol.ErrFrameTooLarge), errors.Is(err, protocol.ErrFrameInvalid):
		c.Logger.Warn("closing connection: bad frame", "err", err)
	default:
		c.Logger.Debug("connection read failed", "err", err)
	}
}

func (s *Server) writeLoop(ctx context.Context, nc net.Conn, c *Conn, pending <-chan slot) {
	bw := bufio.NewWriterSize(nc, 64<<10)
	var buf []byte
	broken := false
	for sl := range pending {
		if broken {
			continue // drain so the reader never blocks; Later senders never block either
		}
		resp := sl.resp
		if resp.Later != nil {
			select {
			case resp = <-resp.Later:
			default:
				// Not ready: push out what is buffered before waiting, so
				// earlier responses are not held behind a long poll.
				if bw.Buffered() > 0 && bw.Flush() != nil {
					broken = true
					nc.Close()
					continue
				}
				select {
				case resp = <-resp.Later:
				case <-ctx.Done():
					broken = true
					nc.Close()
					continue
				}
			}
		}
		if resp.Msg != nil {
			buf = protocol.AppendResponse(buf[:0], sl.correlationID, resp.Msg)
			if _, err := bw.Write(buf); err != nil {
				broken = true
				nc.Close()
				continue
			}
			if cap(buf) > 1<<20 {
				buf = nil // do not pin a huge fetch buffer to an idle connection
			}
		}
		if len(pending) == 0 || resp.Close {
			if err := bw.Flush(); err != nil {
				broken = true
				nc.Close()
				continue
			}
		}
		if resp.Close {
			broken = true
			nc.Close()
		}
	}
}
