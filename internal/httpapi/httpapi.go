// Package httpapi is the node's HTTP listener (--http-listen): one
// net/http server whose routes the node and other packages mount on it.
// The node mounts /metrics (Prometheus), /healthz, /readyz and, with
// --pprof, /debug/pprof/; the web console (/console/) and the REST proxy
// (/topics, /consumers, /brokers, /v3/) mount theirs through Mounter.
//
// It owns the listening socket and the http.Server; Run serves on the
// caller's goroutine (net/http starts one goroutine per connection, all
// ended by Run's shutdown) and returns once the server has shut down.
package httpapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"strings"
	"time"
)

// DefaultListen is the default --http-listen: loopback only, so that
// metrics and profiles are not exposed to the network unless asked.
const DefaultListen = "127.0.0.1:9644"

// Enabled reports whether an --http-listen value turns the listener on:
// "" and "off" turn it off.
func Enabled(listen string) bool {
	l := strings.TrimSpace(listen)
	return l != "" && !strings.EqualFold(l, "off")
}

// Mounter is what a package needs to serve routes on the listener.
type Mounter interface {
	// Mount serves h for pattern, a net/http ServeMux pattern (Go 1.22+
	// method and wildcard patterns allowed). Mounting a pattern twice is a
	// programming error and panics, as ServeMux does.
	Mount(pattern string, h http.Handler)
}

// Config configures the listener.
type Config struct {
	Listen string // host:port
	Logger *slog.Logger
	// ReadHeaderTimeout bounds how long a client may take to send its
	// request headers; IdleTimeout closes idle keep-alive connections;
	// ShutdownTimeout is how long Run waits for requests in flight when
	// it stops.
	ReadHeaderTimeout time.Duration
	IdleTimeout       time.Duration
	ShutdownTimeout   time.Duration
}

// DefaultConfig returns the defaults for listen.
func DefaultConfig(listen string) Config {
	return Config{
		Listen:            listen,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ShutdownTimeout:   5 * time.Second,
	}
}

// Validate checks the settings.
func (c Config) Validate() error {
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		return fmt.Errorf("http listen address %q: %w", c.Listen, err)
	}
	return nil
}

// Server is the HTTP listener.
type Server struct {
	cfg Config         // set in New, never changed
	mux *http.ServeMux // set in New; safe for concurrent Mount
	srv *http.Server   // set in New
	ln  net.Listener   // set in Listen
}

var _ Mounter = (*Server)(nil)

// New returns a server with no routes; it neither listens nor starts
// goroutines.
func New(cfg Config) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	mux := http.NewServeMux()
	return &Server{cfg: cfg, mux: mux, srv: &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelDebug),
	}}
}

// Mount serves h for pattern.
func (s *Server) Mount(pattern string, h http.Handler) { s.mux.Handle(pattern, h) }

// Handler is the server's router, for tests that serve it without a
// socket.
func (s *Server) Handler() http.Handler { return s.mux }

// Listen binds the socket so that Addr is known before Run.
func (s *Server) Listen() error {
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("http listen %s: %w", s.cfg.Listen, err)
	}
	s.ln = ln
	return nil
}

// Addr is the bound address (after Listen).
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Close closes the socket of a server that Listen bound but Run never ran.
func (s *Server) Close() error {
	if s.ln == nil {
		return nil
	}
	return s.ln.Close()
}

// Run serves until ctx is cancelled, then shuts down: it stops accepting,
// waits up to ShutdownTimeout for requests in flight, closes every
// connection and returns.
func (s *Server) Run(ctx context.Context) error {
	errc := make(chan error, 1)
	go func() { errc <- s.srv.Serve(s.ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.ShutdownTimeout)
	defer cancel()
	if err := s.srv.Shutdown(sctx); err != nil {
		s.cfg.Logger.Warn("http server shutdown timed out; closing connections", "err", err)
		s.srv.Close()
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("http server: %w", err)
	}
	return nil
}

// Healthz answers 200 "ok" while the process serves HTTP at all: a
// liveness probe.
func Healthz() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		fmt.Fprintln(w, "ok")
	})
}

// Readyz answers 200 "ready" when ready returns nil, else 503 with the
// reason: a readiness probe.
func Readyz(ready func() error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		if err := ready(); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintf(w, "not ready: %v\n", err)
			return
		}
		fmt.Fprintln(w, "ready")
	})
}

// MountPprof mounts net/http/pprof's handlers under /debug/pprof/.
func MountPprof(m Mounter) {
	m.Mount("/debug/pprof/", http.HandlerFunc(pprof.Index))
	m.Mount("/debug/pprof/cmdline", http.HandlerFunc(pprof.Cmdline))
	m.Mount("/debug/pprof/profile", http.HandlerFunc(pprof.Profile))
	m.Mount("/debug/pprof/symbol", http.HandlerFunc(pprof.Symbol))
	m.Mount("/debug/pprof/trace", http.HandlerFunc(pprof.Trace))
}
