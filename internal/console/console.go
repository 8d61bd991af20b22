package console

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Defaults of Config's limits.
const (
	DefaultRequestTimeout  = 15 * time.Second
	DefaultBodyReadTimeout = 10 * time.Second
	// MaxBodyBytes bounds every request body; larger ones get 413.
	MaxBodyBytes = 1 << 20
	// maxConcurrent bounds the API requests that talk to the cluster at
	// once; others wait for a slot until their RequestTimeout.
	maxConcurrent = 32
	// clientID names the console in broker logs and quotas.
	clientID = "strata-console"
)

// Config says which cluster the console talks to and how.
type Config struct {
	// Bootstrap lists the seed brokers (host:port).
	Bootstrap []string
	// ClientOpts are extra kgo options (TLS dialer, SASL). They are applied
	// after the console's own options and so may override them.
	ClientOpts []kgo.Opt
	// RequestTimeout bounds the cluster work of one API request
	// (DefaultRequestTimeout when zero).
	RequestTimeout time.Duration
	// BodyReadTimeout bounds how long a request body may take to arrive
	// (DefaultBodyReadTimeout when zero).
	BodyReadTimeout time.Duration
	// Logger gets one line per failed API request (slog.Default when nil).
	Logger *slog.Logger
	// AllowedHosts are the host names (no port) the console answers to
	// besides IP addresses, "localhost" and names under ".localhost": a
	// request naming another Host is refused, so that a web page whose
	// DNS name was pointed at the console's address (DNS rebinding)
	// cannot use it. "*" allows every name.
	AllowedHosts []string
}

// Console serves the console's UI and API. It is an http.Handler for the
// paths /console/... and, as a convenience for a listener of its own, "/"
// (a redirect to /console/). Close releases its Kafka client.
type Console struct {
	cfg    Config        // set in New, never changed
	cl     *kgo.Client   // shared by all requests; closed by Close
	adm    *kadm.Client  // wraps cl
	slots  chan struct{} // maxConcurrent tokens for API requests
	static http.Handler  // the embedded UI
	routes []route       // set in New, never changed
	log    *slog.Logger
	// decompressor decodes fetched batches (safe for concurrent use).
	decompressor kgo.Decompressor
}

// New builds a console for cfg. It does not connect yet: the first request
// does.
func New(cfg Config) (*Console, error) {
	if len(cfg.Bootstrap) == 0 {
		return nil, errors.New("console: no bootstrap brokers")
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = DefaultRequestTimeout
	}
	if cfg.BodyReadTimeout <= 0 {
		cfg.BodyReadTimeout = DefaultBodyReadTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	opts := []kgo.Opt{
		kgo.SeedBrokers(cfg.Bootstrap...),
		kgo.ClientID(clientID),
		kgo.DialTimeout(min(cfg.RequestTimeout, 10*time.Second)),
		kgo.RetryTimeout(cfg.RequestTimeout),
		kgo.MetadataMinAge(time.Second),
		kgo.RecordPartitioner(consolePartitioner{keyed: kgo.StickyKeyPartitioner(nil)}),
		kgo.RecordDeliveryTimeout(cfg.RequestTimeout),
		kgo.ProduceRequestTimeout(cfg.RequestTimeout),
		kgo.MaxBufferedRecords(1000),
		kgo.ProducerLinger(0),
	}
	cl, err := kgo.NewClient(append(opts, cfg.ClientOpts...)...)
	if err != nil {
		return nil, fmt.Errorf("console: kafka client: %w", err)
	}
	adm := kadm.NewClient(cl)
	// Admin requests that wait on the cluster (CreateTopics, DeleteTopics,
	// CreatePartitions) get a broker-side timeout inside the request's.
	adm.SetTimeoutMillis(int32(max(cfg.RequestTimeout-time.Second, time.Second) / time.Millisecond))
	ui, err := fs.Sub(uiFS, "ui")
	if err != nil {
		cl.Close()
		return nil, fmt.Errorf("console: embedded ui: %w", err)
	}
	c := &Console{
		cfg:    cfg,
		cl:     cl,
		adm:    adm,
		slots:  make(chan struct{}, maxConcurrent),
		static: http.StripPrefix("/console", http.FileServerFS(ui)),
		log:    cfg.Logger,

		decompressor: kgo.DefaultDecompressor(),
	}
	c.routes = c.apiRoutes()
	return c, nil
}

// Close closes the console's Kafka client. Requests still running fail.
func (c *Console) Close() { c.cl.Close() }

// ServeHTTP serves /console/ (the UI), /console/api/ (the API) and
// redirects / and /console to /console/.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	// A client that stops reading the answer cannot hold the handler
	// longer than this, whatever the server's own WriteTimeout.
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(c.cfg.RequestTimeout + c.cfg.BodyReadTimeout + 10*time.Second))
	if err := c.checkHost(r.Host); err != nil {
		writeError(w, err)
		return
	}
	p := r.URL.Path
	switch {
	case p == "/" || p == "/console":
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			writeError(w, &apiError{Status: http.StatusMethodNotAllowed, Msg: r.Method + " " + p + " is not allowed"})
			return
		}
		http.Redirect(w, r, "/console/", http.StatusFound)
	case strings.HasPrefix(p, "/console/api/") || p == "/console/api":
		c.serveAPI(w, r)
	case strings.HasPrefix(p, "/console/"):
		c.serveUI(w, r)
	default:
		writeError(w, &apiError{Status: http.StatusNotFound, Msg: "not found: " + p})
	}
}

// serveUI serves the embedded files; unknown files get a JSON 404 rather
// than the file server's text.
func (c *Console) serveUI(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeError(w, &apiError{Status: http.StatusMethodNotAllowed, Msg: r.Method + " is not allowed on the console's files"})
		return
	}
	name := strings.TrimPrefix(path.Clean(r.URL.Path), "/console")
	name = strings.TrimPrefix(name, "/")
	if name == "" {
		name = "index.html"
	}
	if st, err := fs.Stat(uiFS, "ui/"+name); err != nil || st.IsDir() && name != "index.html" {
		writeError(w, &apiError{Status: http.StatusNotFound, Msg: "not found: " + r.URL.Path})
		return
	}
	w.Header().Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
	w.Header().Set("Cache-Control", "no-cache")
	c.static.ServeHTTP(w, r)
}

// route is one API endpoint: a method and a path below /console/api/
// whose segments are literals or {name} parameters.
type route struct {
	method string
	segs   []string
	h      func(ctx context.Context, r *request) (any, error)
}

// request is what a route handler gets: the HTTP request, the path
// parameters, and the console for its clients and limits.
type request struct {
	*http.Request
	w      http.ResponseWriter
	params map[string]string
	c      *Console
}

// param is the path parameter name (unescaped).
func (r *request) param(name string) string { return r.params[name] }

func (c *Console) apiRoutes() []route {
	mk := func(method, pattern string, h func(context.Context, *request) (any, error)) route {
		return route{method: method, segs: strings.Split(pattern, "/"), h: h}
	}
	return []route{
		mk("GET", "cluster", c.getCluster),
		mk("GET", "offsets", c.getOffsets),
		mk("GET", "topics", c.listTopics),
		mk("POST", "topics", c.createTopic),
		mk("GET", "topics/{topic}", c.getTopic),
		mk("DELETE", "topics/{topic}", c.deleteTopic),
		mk("POST", "topics/{topic}/partitions", c.addPartitions),
		mk("PATCH", "topics/{topic}/configs", c.alterTopicConfigs),
		mk("GET", "topics/{topic}/messages", c.browseMessages),
		mk("POST", "topics/{topic}/records", c.produceRecord),
		mk("GET", "groups", c.listGroups),
		mk("GET", "groups/{group}", c.getGroup),
		mk("DELETE", "groups/{group}", c.deleteGroup),
		mk("POST", "groups/{group}/reset-offsets", c.resetOffsets),
	}
}

// match finds the route for method and the escaped path below
// /console/api/. allowed lists the methods of routes whose path matched
// when none had the method.
func (c *Console) match(method, escaped string) (rt *route, params map[string]string, allowed []string, err error) {
	segs := strings.Split(strings.TrimSuffix(escaped, "/"), "/")
	for i, s := range segs {
		if segs[i], err = url.PathUnescape(s); err != nil {
			return nil, nil, nil, err
		}
	}
	for i := range c.routes {
		r := &c.routes[i]
		if len(r.segs) != len(segs) {
			continue
		}
		ps := map[string]string{}
		ok := true
		for j, want := range r.segs {
			switch {
			case strings.HasPrefix(want, "{"):
				if segs[j] == "" {
					ok = false
				}
				ps[strings.Trim(want, "{}")] = segs[j]
			case want != segs[j]:
				ok = false
			}
			if !ok {
				break
			}
		}
		if !ok {
			continue
		}
		if r.method == method || method == http.MethodHead && r.method == http.MethodGet {
			return r, ps, nil, nil
		}
		allowed = append(allowed, r.method)
	}
	return nil, nil, allowed, nil
}

func (c *Console) serveAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	escaped := strings.TrimPrefix(strings.TrimPrefix(r.URL.EscapedPath(), "/console/api"), "/")
	rt, params, allowed, err := c.match(r.Method, escaped)
	switch {
	case err != nil:
		writeError(w, &apiError{Status: http.StatusBadRequest, Msg: "bad path escape: " + err.Error()})
		return
	case rt == nil && len(allowed) > 0:
		w.Header().Set("Allow", strings.Join(allowed, ", "))
		writeError(w, &apiError{Status: http.StatusMethodNotAllowed, Msg: r.Method + " is not allowed on " + r.URL.Path})
		return
	case rt == nil:
		writeError(w, &apiError{Status: http.StatusNotFound, Msg: "no API route " + r.URL.Path})
		return
	}
	if rt.method != http.MethodGet {
		if err := checkMutation(r); err != nil {
			writeError(w, err)
			return
		}
	}
	ctx, cancel := context.WithTimeout(r.Context(), c.cfg.RequestTimeout)
	defer cancel()
	// NB: kadm answers Metadata from franz-go's cache (up to
	// MetadataMinAge old) unless authorized operations are asked for; a
	// console must show a topic it just created, changed or deleted, so
	// every request reads fresh metadata.
	ctx = kadm.WithAuthorizedOps(ctx)
	select {
	case c.slots <- struct{}{}:
	case <-ctx.Done():
		writeError(w, &apiError{Status: http.StatusServiceUnavailable, Msg: "the console is busy: too many requests to the cluster at once"})
		return
	}
	out, err := func() (any, error) {
		defer func() { <-c.slots }() // a slow reader of the answer holds no slot
		return rt.h(ctx, &request{Request: r, w: w, params: params, c: c})
	}()
	if err != nil {
		ae := classify(ctx, err)
		if ae.Status >= 500 {
			c.log.Warn("console request failed", "method", r.Method, "path", r.URL.Path, "status", ae.Status, "err", ae.Msg)
		}
		writeError(w, ae)
		return
	}
	status := http.StatusOK
	if s, ok := out.(created); ok {
		status, out = http.StatusCreated, s.body
	}
	writeJSON(w, status, out)
}

// created marks a handler's result as a 201.
type created struct{ body any }

// checkHost refuses a request whose Host header is a DNS name the console
// was not told it has (see Config.AllowedHosts).
func (c *Console) checkHost(hostport string) *apiError {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.ToLower(strings.Trim(host, "[]")), ".")
	if host == "" {
		return &apiError{Status: http.StatusBadRequest, Msg: "the request names no Host"}
	}
	if _, err := netip.ParseAddr(host); err == nil || host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return nil
	}
	for _, a := range c.cfg.AllowedHosts {
		if a == "*" || strings.EqualFold(strings.TrimSuffix(a, "."), host) {
			return nil
		}
	}
	return &apiError{Status: http.StatusForbidden, Msg: fmt.Sprintf("the console does not answer to the name %q (a page may have pointed that name at this address: DNS rebinding); name it in --allowed-hosts (strata console) or --console-allowed-hosts (strata serve)", host)}
}

// checkMutation refuses requests that change the cluster unless they come
// from the console's own pages: a cross-site Origin is refused, and bodies
// must be JSON (a cross-site form cannot send that without a CORS
// preflight, which the console never answers).
func checkMutation(r *http.Request) *apiError {
	if o := r.Header.Get("Origin"); o != "" {
		u, err := url.Parse(o)
		if err != nil || u.Host != r.Host {
			return &apiError{Status: http.StatusForbidden, Msg: fmt.Sprintf("cross-origin request from %q refused", o)}
		}
	}
	if r.Header.Get("Sec-Fetch-Site") == "cross-site" {
		return &apiError{Status: http.StatusForbidden, Msg: "cross-site request refused"}
	}
	return nil
}

// consolePartitioner places produced records: at the partition the user
// chose (Record.Partition >= 0), by the key's murmur2 hash as the Java
// client does, or at a random partition for a record without a key.
type consolePartitioner struct{ keyed kgo.Partitioner }

func (p consolePartitioner) ForTopic(topic string) kgo.TopicPartitioner {
	return topicPartitioner{keyed: p.keyed.ForTopic(topic)}
}

type topicPartitioner struct{ keyed kgo.TopicPartitioner }

func (topicPartitioner) RequiresConsistency(*kgo.Record) bool { return true }

func (p topicPartitioner) Partition(r *kgo.Record, n int) int {
	switch {
	case r.Partition >= 0:
		return int(r.Partition)
	case r.Key != nil:
		return p.keyed.Partition(r, n)
	default:
		return rand.IntN(n)
	}
}

// Mounter is the HTTP listener's way to add routes (internal/httpapi's
// Mounter has this method): net/http ServeMux patterns.
type Mounter interface {
	Mount(pattern string, h http.Handler)
}

// MountOn serves the console on m: /console/ and the redirect of / to it.
func (c *Console) MountOn(m Mounter) {
	m.Mount("/console/", c)
	m.Mount("/console", c)
	m.Mount("/{$}", c)
}
