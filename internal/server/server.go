package server

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strata-io/strata/internal/auth"
	"github.com/strata-io/strata/internal/protocol"
)

// Response is a handler's answer to one request.
type Response struct {
	// Msg is the response body. Nil with Later and Body nil means no
	// response is sent (acks=0 produce).
	Msg kmsg.Response
	// Body, when set, is what is written instead of Msg: a response the
	// handler encoded itself, whose file sections go to the socket without
	// being copied into user space where the connection allows it. Msg may
	// be set alongside as a description of the same response (for tests
	// and logs); it need not carry the data that Body has in file sections.
	Body *Body
	// Later, when set, yields the real Response once the work completes
	// (acks waits, fetch long-polls). The handler guarantees exactly one
	// value is sent and that the send never blocks (buffer of one).
	Later <-chan Response
	// Close closes the connection after writing Msg or Body (if any).
	Close bool

	// raw, when isRaw, is written as a size-prefixed SASL token without a
	// response header (after SaslHandshake v0; see sasl.go).
	raw   []byte
	isRaw bool

	// Throttle, when positive, is a quota's throttle time (KIP-219): the
	// response's throttle_time_ms is raised to it (in Msg, or in a Body
	// with ThrottleAtStart), and once the response is written the
	// connection reads no further request for that long. Without a
	// response (acks=0) the connection is muted at once. On a Response
	// with Later, it adds to the throttle of the Response Later yields.
	Throttle time.Duration
}

// Handler serves decoded requests. Handle runs on the connection's reader
// goroutine in request order, so work that must be ordered (log appends)
// happens inside it; anything slow goes behind Response.Later.
//
// body, and the byte slices of a request decoded from it, alias the
// request frame. The frame is never reused unless the Handler implements
// FrameReuser.
type Handler interface {
	Handle(ctx context.Context, c *Conn, h protocol.RequestHeader, req kmsg.Request, body []byte) Response
}

// FrameReuser is an optional interface of a Handler that lets the server
// reuse request frames. When ReusesFrame(h) is true, the handler promises
// that once the request's final Response exists (the one Handle returns,
// or the one Later yields), nothing it keeps refers to the frame: neither
// body nor any byte slice of the request decoded from it. The server then
// returns the frame to its pool after writing that response. ReusesFrame
// is called on the reader goroutine before Handle.
type FrameReuser interface {
	ReusesFrame(h protocol.RequestHeader) bool
}

// Security protocols of a listener, as Kafka names them.
const (
	Plaintext     = "PLAINTEXT"
	SSL           = "SSL"
	SASLPlaintext = "SASL_PLAINTEXT"
	SASLSSL       = "SASL_SSL"
)

// SecurityProtocolID is Kafka's wire id of a security protocol (as in
// BrokerRegistrationRequest listeners); ok is false for an unknown name.
func SecurityProtocolID(name string) (id int16, ok bool) {
	switch name {
	case Plaintext:
		return 0, true
	case SSL:
		return 1, true
	case SASLPlaintext:
		return 2, true
	case SASLSSL:
		return 3, true
	}
	return -1, false
}

// SecurityProtocolName is the inverse of SecurityProtocolID ("" if unknown).
func SecurityProtocolName(id int16) string {
	return [...]string{Plaintext, SSL, SASLPlaintext, SASLSSL, ""}[min(uint16(id), 4)]
}

// Conn describes a client connection to handlers.
type Conn struct {
	Remote net.Addr
	Logger *slog.Logger // with the remote address
	// Listener is the name of the listener the connection came in on
	// (PLAINTEXT, SSL, INTERNAL...); "" in tests that build a Conn by
	// hand, read as the broker's first listener. SecurityProtocol is that
	// listener's protocol (Plaintext, SSL, SASLPlaintext or SASLSSL).
	// Both are set before the first request and never change.
	Listener         string
	SecurityProtocol string
	// State belongs to the Handler, for per-connection bookkeeping. It is
	// only touched from Handle, which runs on the reader goroutine.
	State any

	// principal is who the connection is authenticated as; nil means
	// auth.Anonymous. Set by the connection layer (TLS, SASL) and read by
	// any goroutine serving the connection's requests.
	principal atomic.Pointer[auth.Principal]
}

// Principal returns who the connection is authenticated as
// (auth.Anonymous until something authenticates it).
func (c *Conn) Principal() auth.Principal {
	if p := c.principal.Load(); p != nil {
		return *p
	}
	return auth.Anonymous
}

// SetPrincipal records who the connection is authenticated as.
func (c *Conn) SetPrincipal(p auth.Principal) { c.principal.Store(&p) }

// Config configures a listener.
type Config struct {
	Addr            string        // host:port to listen on
	MaxRequestBytes int32         // socket.request.max.bytes
	IdleTimeout     time.Duration // connections.max.idle.ms; <=0 disables
	MaxInFlight     int           // requests read ahead of their responses per connection
	// QueuedMaxRequestBytes bounds the bytes of requests read but not yet
	// answered, over all connections (queued.max.request.bytes); <= 0
	// disables the bound. See the package doc for the exact rules.
	QueuedMaxRequestBytes int64
	// DisableSendfile makes the writer copy file sections through user
	// space (pread) even on connections that could sendfile them.
	// Connections that are not *net.TCPConn never use sendfile.
	DisableSendfile bool
	Logger          *slog.Logger

	// Listener names the listener (Kafka's listener name, upper case);
	// SecurityProtocol is its protocol. Both are copied into every Conn.
	Listener         string
	SecurityProtocol string
	// TLS, when set, makes every connection a TLS server connection (SSL
	// and SASL_SSL listeners). The handshake must finish within
	// HandshakeTimeout, or the connection is closed.
	TLS              *tls.Config
	HandshakeTimeout time.Duration
	// TLSPrincipal maps a verified client certificate's subject (RFC 2253,
	// "CN=alice,O=Acme") to the connection's principal name
	// (ssl.principal.mapping.rules); an error closes the connection. Nil
	// takes the subject as is. Only used on an SSL listener: on SASL_SSL
	// the principal comes from SASL, as in Kafka.
	TLSPrincipal func(dn string) (string, error)
	// RequireSASL marks a SASL_PLAINTEXT or SASL_SSL listener:
	// connections must authenticate with SASL (configured by SASL) before
	// anything but ApiVersions is served. See sasl.go.
	RequireSASL bool
	SASL        SASLConfig
	// AcceptThrottle, when set, is asked about every accepted connection:
	// a positive answer (a connection_creation_rate quota exceeded,
	// KIP-612) means the connection is not served but held unread for
	// that long and then closed, as Kafka's acceptor does.
	AcceptThrottle func(ip netip.Addr) time.Duration
	// Metrics, when set, records requests and connections (shared by all
	// listeners of a node); nil records nothing.
	Metrics *Metrics
}

// DefaultConfig returns Kafka's defaults.
func DefaultConfig() Config {
	return Config{
		Addr:                  ":9092",
		MaxRequestBytes:       100 << 20,
		IdleTimeout:           10 * time.Minute,
		MaxInFlight:           64,
		QueuedMaxRequestBytes: 500 << 20,
		Logger:                slog.New(slog.DiscardHandler),
		Listener:              Plaintext,
		SecurityProtocol:      Plaintext,
		HandshakeTimeout:      10 * time.Second,
	}
}

// Validate checks the settings.
func (c Config) Validate() error {
	var errs []error
	if c.MaxRequestBytes < 10 {
		errs = append(errs, fmt.Errorf("max request bytes %d is below the smallest request", c.MaxRequestBytes))
	}
	if c.MaxInFlight < 1 {
		errs = append(errs, fmt.Errorf("max in-flight requests %d is below 1", c.MaxInFlight))
	}
	if _, ok := SecurityProtocolID(c.SecurityProtocol); !ok && c.SecurityProtocol != "" {
		errs = append(errs, fmt.Errorf("security protocol %q: want PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL", c.SecurityProtocol))
	}
	if tlsProto := c.SecurityProtocol == SSL || c.SecurityProtocol == SASLSSL; tlsProto != (c.TLS != nil) {
		errs = append(errs, fmt.Errorf("listener %s (%s): TLS configured %v", c.Listener, c.SecurityProtocol, c.TLS != nil))
	}
	if c.RequireSASL && c.SASL.Authenticator == nil {
		errs = append(errs, errors.New("a SASL listener needs SASL mechanisms"))
	}
	return errors.Join(errs...)
}

// Stats are the server's counters, for metrics and tests.
type Stats struct {
	// QueuedRequestBytes is the bytes of requests read and not yet
	// answered, as counted against QueuedMaxRequestBytes.
	QueuedRequestBytes int64
	// SendfileBytes is the total of file-section bytes sent with sendfile.
	SendfileBytes int64
	// CopiedFileBytes is the total of file-section bytes read into user
	// space and written from there.
	CopiedFileBytes int64
}

// Server accepts Kafka connections.
type Server struct {
	cfg     Config          // set in New, never changed
	epoch   time.Time       // set in New; connection mutes count from it
	handler Handler         // set in New
	reuser  FrameReuser     // the handler's, or nil; set in New
	budget  *budget         // set in New
	frames  *framePool      // set in New
	ln      net.Listener    // set in Listen
	lm      listenerMetrics // set in New

	sendfileBytes atomic.Int64
	copiedBytes   atomic.Int64

	mu struct {
		sync.Mutex
		conns map[net.Conn]struct{}
		// throttled holds connections refused by AcceptThrottle until
		// their timer closes them.
		throttled map[net.Conn]*time.Timer
		closed    bool
	}
	wg sync.WaitGroup // connection goroutines
}

// New returns a server; it neither listens nor starts goroutines.
func New(cfg Config, h Handler) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxInFlight < 1 {
		cfg.MaxInFlight = 1
	}
	if cfg.SecurityProtocol == "" {
		cfg.SecurityProtocol = Plaintext
	}
	if cfg.HandshakeTimeout <= 0 {
		cfg.HandshakeTimeout = 10 * time.Second
	}
	if cfg.SASL.MaxReceiveBytes <= 0 {
		cfg.SASL.MaxReceiveBytes = DefaultSASLMaxReceiveBytes
	}
	if cfg.SASL.Now == nil {
		cfg.SASL.Now = time.Now
	}
	s := &Server{cfg: cfg, handler: h, budget: newBudget(cfg.QueuedMaxRequestBytes), frames: newFramePool(), epoch: time.Now()}
	s.lm = cfg.Metrics.listener(cfg.Listener)
	s.reuser, _ = h.(FrameReuser)
	s.mu.conns = make(map[net.Conn]struct{})
	s.mu.throttled = make(map[net.Conn]*time.Timer)
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

// Close closes the listening socket of a server that Listen bound but
// Run never ran (a later listener failed to bind).
func (s *Server) Close() error {
	if s.ln == nil {
		return nil
	}
	return s.ln.Close()
}

// Addr returns the bound address (after Listen).
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Stats returns the current counters.
func (s *Server) Stats() Stats {
	return Stats{
		QueuedRequestBytes: s.budget.used(),
		SendfileBytes:      s.sendfileBytes.Load(),
		CopiedFileBytes:    s.copiedBytes.Load(),
	}
}

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
		if s.cfg.AcceptThrottle != nil {
			if d := s.cfg.AcceptThrottle(remoteIP(c)); d > 0 {
				s.closeLater(c, d)
				continue
			}
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
			s.lm.connOpened()
			defer s.lm.connClosed()
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
	for c, t := range s.mu.throttled {
		t.Stop()
		c.Close()
		delete(s.mu.throttled, c)
	}
	s.mu.Unlock()
	s.wg.Wait()
	return err
}

// closeLater holds a throttled connection unread for d, then closes it.
// Run stops the timer and closes the connection if it ends first.
func (s *Server) closeLater(c net.Conn, d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.closed {
		c.Close()
		return
	}
	s.mu.throttled[c] = time.AfterFunc(d, func() {
		s.mu.Lock()
		_, ok := s.mu.throttled[c]
		delete(s.mu.throttled, c)
		s.mu.Unlock()
		if ok {
			c.Close()
		}
	})
}

// remoteIP is the address a connection comes from (the zero Addr when it
// is not an IP connection).
func remoteIP(c net.Conn) netip.Addr {
	if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		ip, _ := netip.AddrFromSlice(a.IP)
		return ip.Unmap()
	}
	return netip.Addr{}
}

// slot is one request between the reader and the writer.
type slot struct {
	correlationID int32
	resp          Response
	held          int64  // bytes of the request budget, released once answered
	frame         []byte // returned to the pool once answered; nil if not reusable
	// throttled says the reader counted this response in
	// connState.throttledUnwritten; the writer uncounts it once written.
	throttled bool
	timing    reqTiming // for Metrics
}

// connState is shared by a connection's reader and writer.
type connState struct {
	c *Conn
	// held is the budget bytes of this connection's unanswered requests:
	// added by the reader, subtracted by the writer.
	held atomic.Int64
	// sasl is the SASL state of a RequireSASL connection, else nil; owned
	// by the reader.
	sasl *saslConn
	// mutedUntil is when a quota's throttle ends, as time since the
	// server's epoch (0: never muted): the reader handles no request
	// before then. Raised by whoever learns of a throttle (the writer
	// after writing a throttled response, the reader for one without a
	// response); read by the reader.
	mutedUntil atomic.Int64
	// throttledUnwritten counts responses the handler throttled that the
	// writer has not written yet: the reader handles nothing while it is
	// above zero, since the throttle starts only once the response is out
	// (KIP-219). Raised by the reader, lowered by the writer, which then
	// signals wake.
	throttledUnwritten atomic.Int32
	// wake tells a reader waiting on throttledUnwritten to look again;
	// buffer of one, sent to without blocking.
	wake chan struct{}
}

// mute makes the connection read nothing for d from now.
func (s *Server) mute(cs *connState, d time.Duration) {
	until := int64(s.sinceEpoch() + d)
	for {
		cur := cs.mutedUntil.Load()
		if cur >= until || cs.mutedUntil.CompareAndSwap(cur, until) {
			return
		}
	}
}

func (s *Server) sinceEpoch() time.Duration { return time.Since(s.epoch) }

// waitUnmuted returns once no throttled response is waiting to be written
// and the connection's throttle has ended, or false when ctx ends first.
// No goroutine: the reader itself waits.
func (s *Server) waitUnmuted(ctx context.Context, cs *connState) bool {
	for {
		if cs.throttledUnwritten.Load() > 0 {
			select {
			case <-cs.wake:
				continue
			case <-ctx.Done():
				return false
			}
		}
		until := cs.mutedUntil.Load()
		if until == 0 {
			return true
		}
		d := time.Duration(until) - s.sinceEpoch()
		if d <= 0 {
			return true
		}
		// The writer may extend the mute meanwhile: look again after.
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return false
		}
	}
}

// serveConn runs the reader loop on the calling goroutine and the writer
// loop on a second one, returning when both are done.
func (s *Server) serveConn(ctx context.Context, nc net.Conn) {
	if tc, ok := nc.(*net.TCPConn); ok {
		tc.SetNoDelay(true)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	c := &Conn{Remote: nc.RemoteAddr(), Logger: s.cfg.Logger.With("remote", nc.RemoteAddr().String()),
		Listener: s.cfg.Listener, SecurityProtocol: s.cfg.SecurityProtocol}
	if s.cfg.TLS != nil {
		tc, err := s.handshake(ctx, nc, c)
		if err != nil {
			c.Logger.Info("closing connection: TLS handshake failed", "listener", s.cfg.Listener, "err", err)
			s.lm.tlsFailed()
			nc.Close()
			return
		}
		nc = tc
	}
	cs := &connState{c: c, wake: make(chan struct{}, 1)}
	if s.cfg.RequireSASL {
		cs.sasl = &saslConn{}
	}
	// The buffer bounds how far the reader runs ahead of the writer.
	pending := make(chan slot, s.cfg.MaxInFlight)
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		s.writeLoop(ctx, cancel, nc, cs, pending)
	}()
	s.readLoop(ctx, nc, cs, pending)
	close(pending)
	<-writerDone
	nc.Close()
}

// handshake runs the TLS server handshake within HandshakeTimeout and,
// on an SSL listener, sets the principal from the client certificate.
// NB: the handshake is bounded by its own deadline, not by the idle
// timeout: a client that opens a connection and stalls mid-handshake must
// not hold a goroutine and its buffers for connections.max.idle.ms.
func (s *Server) handshake(ctx context.Context, nc net.Conn, c *Conn) (*tls.Conn, error) {
	tc := tls.Server(nc, s.cfg.TLS)
	hctx, cancel := context.WithTimeout(ctx, s.cfg.HandshakeTimeout)
	defer cancel()
	if err := tc.HandshakeContext(hctx); err != nil {
		return nil, err
	}
	st := tc.ConnectionState()
	if s.cfg.SecurityProtocol != SSL || len(st.PeerCertificates) == 0 {
		return tc, nil // User:ANONYMOUS until SASL says otherwise
	}
	dn := st.PeerCertificates[0].Subject.String()
	name := dn
	if s.cfg.TLSPrincipal != nil {
		var err error
		if name, err = s.cfg.TLSPrincipal(dn); err != nil {
			return nil, err
		}
	}
	c.SetPrincipal(auth.User(name))
	c.Logger = c.Logger.With("principal", "User:"+name)
	c.Logger.Debug("TLS client certificate authenticated", "subject", dn)
	return tc, nil
}

// release gives back what a request held once it no longer needs it;
// reuse returns its frame to the pool.
func (s *Server) release(cs *connState, held int64, frame []byte, reuse bool) {
	if held > 0 {
		cs.held.Add(-held)
		s.budget.release(held)
	}
	if reuse && frame != nil {
		s.frames.put(frame)
	}
}

func (s *Server) readLoop(ctx context.Context, nc net.Conn, cs *connState, pending chan<- slot) {
	c := cs.c
	// The request in hand: acquired but not yet passed to the writer.
	var held int64
	defer func() {
		if r := recover(); r != nil {
			c.Logger.Error("panic serving connection; closing it", "panic", r, "stack", string(debug.Stack()))
		}
		// The handler may still hold the frame after a panic: no reuse.
		s.release(cs, held, nil, false)
	}()
	br := bufio.NewReaderSize(nc, readBufferBytes)
	var scratch [4]byte
	for {
		if s.cfg.IdleTimeout > 0 {
			nc.SetReadDeadline(time.Now().Add(s.cfg.IdleTimeout))
		}
		var n int32
		var err error
		switch sc := cs.sasl; {
		case sc == nil:
			n, err = protocol.ReadFrameSize(br, &scratch, s.cfg.MaxRequestBytes)
		case sc.phase == saslWantRawToken:
			n, err = readRawTokenSize(br, &scratch, s.saslFrameLimit(sc))
		default:
			// Before authentication frames are capped before anything is
			// allocated for them.
			n, err = protocol.ReadFrameSize(br, &scratch, s.saslFrameLimit(sc))
		}
		if err != nil {
			s.logReadErr(c, err)
			return
		}
		exempt := n <= exemptFrameBytes && cs.held.Load() == 0
		if err := s.budget.acquire(ctx, int64(n), exempt); err != nil {
			return // the connection or the server is closing
		}
		held = int64(n)
		cs.held.Add(held)
		if s.cfg.IdleTimeout > 0 {
			// The wait for memory is not the client's idleness.
			nc.SetReadDeadline(time.Now().Add(s.cfg.IdleTimeout))
		}
		frame := s.frames.get(int(n))
		if _, err := io.ReadFull(br, frame); err != nil {
			s.logReadErr(c, err)
			return
		}
		readAt := s.cfg.Metrics.now()
		if cs.sasl != nil {
			out := s.saslIntercept(ctx, cs, cs.sasl, frame)
			if !out.pass {
				resp := out.resp
				resp.Close = out.close
				if resp.Msg == nil && !resp.isRaw {
					return // close without an answer; the deferred release frees the frame's budget
				}
				select {
				case pending <- slot{correlationID: out.correlationID, resp: resp, held: held}:
					held = 0
				case <-ctx.Done():
					return
				}
				if out.close {
					return
				}
				continue
			}
		}
		hdr, req, body, err := protocol.ParseRequest(frame)
		if err != nil {
			c.Logger.Warn("closing connection: bad request header or body claims", "api_key", hdr.APIKey, "api_version", hdr.APIVersion, "client_id", hdr.ClientID, "err", err)
			return
		}
		reuse := s.reuser != nil && s.reuser.ReusesFrame(hdr)
		// A throttled connection is muted (KIP-219): a request that
		// arrived meanwhile waits here, unread requests wait in the
		// socket, and the client sees TCP backpressure.
		if !s.waitUnmuted(ctx, cs) {
			return
		}
		timing := s.cfg.Metrics.begin(hdr, readAt, n)
		resp := s.handler.Handle(ctx, c, hdr, req, body)
		timing.handlerDone()
		if resp.Msg == nil && resp.Body == nil && resp.Later == nil && !resp.Close {
			timing.written(nil, -1)
			// No response expected (acks=0): the handler is done with it.
			if resp.Throttle > 0 {
				s.mute(cs, resp.Throttle)
			}
			s.release(cs, held, frame, reuse)
			held = 0
			continue
		}
		sl := slot{correlationID: hdr.CorrelationID, resp: resp, held: held, timing: timing}
		if reuse {
			sl.frame = frame
		}
		if resp.Throttle > 0 {
			// Requests the client pipelined behind this one wait until
			// its response is out and the throttle has passed, as on a
			// Kafka channel, which reads nothing while it serves a
			// request and is muted once the throttled response is sent.
			sl.throttled = true
			cs.throttledUnwritten.Add(1)
		}
		select {
		case pending <- sl:
			held = 0 // the writer releases it
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
