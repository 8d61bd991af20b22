package restproxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Config configures a Proxy.
type Config struct {
	// Bootstrap is the seed broker list (host:port).
	Bootstrap []string
	// ClientOpts are extra kgo options for every client the proxy makes:
	// TLS dialer, SASL, timeouts. Seed brokers come from Bootstrap.
	ClientOpts []kgo.Opt
	// Logger receives lifecycle and unexpected-error lines.
	Logger *slog.Logger

	// MaxBodyBytes bounds a request body (413 beyond); for a streaming
	// v3 produce it bounds each record.
	MaxBodyBytes int64
	// BodyReadTimeout bounds reading a request body (408 beyond); for a
	// streaming v3 produce it bounds the wait for each next record.
	BodyReadTimeout time.Duration
	// WriteTimeout bounds writing a response to a client.
	WriteTimeout time.Duration
	// RequestTimeout bounds every Kafka call a request makes.
	RequestTimeout time.Duration

	// ConsumerInstanceTimeout: an instance without requests this long is
	// closed (Confluent's consumer.instance.timeout.ms).
	ConsumerInstanceTimeout time.Duration
	// MaxConsumerInstances bounds the live consumer instances (429 beyond).
	MaxConsumerInstances int
	// ConsumerRequestTimeout is how long a records request waits for
	// records (Confluent's consumer.request.timeout.ms). An instance's own
	// consumer.request.timeout.ms replaces it (up to
	// MaxConsumerRequestTimeout); the timeout query parameter may only
	// shorten it.
	ConsumerRequestTimeout time.Duration
	// MaxConsumerRequestTimeout caps any records request's wait.
	MaxConsumerRequestTimeout time.Duration
	// ConsumerRequestMaxBytes caps a records response's keys and values
	// (Confluent's consumer.request.max.bytes).
	ConsumerRequestMaxBytes int64
	// ConsumerFetchMaxBytes is each instance's kgo FetchMaxBytes; with
	// two fetches at most in flight or buffered per instance it bounds
	// an instance's memory.
	ConsumerFetchMaxBytes int32

	// BaseURL (scheme://host:port) starts the base_uri of new consumer
	// instances and v3 links; empty uses each request's Host.
	BaseURL string
}

// DefaultConfig returns the defaults: Confluent's where it has one.
func DefaultConfig() Config {
	return Config{
		MaxBodyBytes:              16 << 20,
		BodyReadTimeout:           30 * time.Second,
		WriteTimeout:              30 * time.Second,
		RequestTimeout:            30 * time.Second,
		ConsumerInstanceTimeout:   5 * time.Minute,
		MaxConsumerInstances:      1000,
		ConsumerRequestTimeout:    time.Second,
		MaxConsumerRequestTimeout: 30 * time.Second,
		ConsumerRequestMaxBytes:   64 << 20,
		ConsumerFetchMaxBytes:     4 << 20,
	}
}

// withDefaults fills zero fields from DefaultConfig.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = d.MaxBodyBytes
	}
	if c.BodyReadTimeout == 0 {
		c.BodyReadTimeout = d.BodyReadTimeout
	}
	if c.WriteTimeout == 0 {
		c.WriteTimeout = d.WriteTimeout
	}
	if c.RequestTimeout == 0 {
		c.RequestTimeout = d.RequestTimeout
	}
	if c.ConsumerInstanceTimeout == 0 {
		c.ConsumerInstanceTimeout = d.ConsumerInstanceTimeout
	}
	if c.MaxConsumerInstances == 0 {
		c.MaxConsumerInstances = d.MaxConsumerInstances
	}
	if c.ConsumerRequestTimeout == 0 {
		c.ConsumerRequestTimeout = d.ConsumerRequestTimeout
	}
	if c.MaxConsumerRequestTimeout == 0 {
		c.MaxConsumerRequestTimeout = d.MaxConsumerRequestTimeout
	}
	if c.ConsumerRequestMaxBytes == 0 {
		c.ConsumerRequestMaxBytes = d.ConsumerRequestMaxBytes
	}
	if c.ConsumerFetchMaxBytes == 0 {
		c.ConsumerFetchMaxBytes = d.ConsumerFetchMaxBytes
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Validate reports every problem with the settings at once.
func (c Config) Validate() error {
	var errs []error
	if len(c.Bootstrap) == 0 {
		errs = append(errs, errors.New("bootstrap: no seed brokers"))
	}
	positive := func(name string, ok bool) {
		if !ok {
			errs = append(errs, fmt.Errorf("%s: must be positive", name))
		}
	}
	positive("max body bytes", c.MaxBodyBytes > 0)
	positive("body read timeout", c.BodyReadTimeout > 0)
	positive("write timeout", c.WriteTimeout > 0)
	positive("request timeout", c.RequestTimeout > 0)
	positive("consumer instance timeout", c.ConsumerInstanceTimeout > 0)
	positive("max consumer instances", c.MaxConsumerInstances > 0)
	positive("consumer request timeout", c.ConsumerRequestTimeout > 0)
	positive("max consumer request timeout", c.MaxConsumerRequestTimeout > 0)
	positive("consumer request max bytes", c.ConsumerRequestMaxBytes > 0)
	positive("consumer fetch max bytes", c.ConsumerFetchMaxBytes > 0)
	if c.BaseURL != "" && !strings.HasPrefix(c.BaseURL, "http://") && !strings.HasPrefix(c.BaseURL, "https://") {
		errs = append(errs, fmt.Errorf("base URL %q: want http://host:port or https://host:port", c.BaseURL))
	}
	return errors.Join(errs...)
}

// clientID names the proxy's clients in broker logs and quotas.
const clientID = "strata-rest-proxy"

// Prefixes are the URL path patterns the proxy serves, for mounting it on
// a shared http.ServeMux: mux.Handle(prefix, proxy) for each.
var Prefixes = []string{"/topics", "/topics/", "/brokers", "/consumers/", "/v3/"}

// Mounter is the HTTP listener's way to serve a handler under a
// net/http ServeMux pattern.
type Mounter interface {
	Mount(pattern string, h http.Handler)
}

// MountOn serves the proxy on m under Prefixes.
func (p *Proxy) MountOn(m Mounter) {
	for _, prefix := range Prefixes {
		m.Mount(prefix, p)
	}
}

// Proxy is the REST proxy: an http.Handler.
type Proxy struct {
	cfg    Config         // set in New, never changed
	client *kgo.Client    // shared: produce and admin requests; set in New
	admin  *kadm.Client   // over client
	mux    *http.ServeMux // set in New
	insts  *instances

	closeOnce sync.Once
	closed    chan struct{} // closed by Close
}

// New builds the proxy and its shared Kafka client, which connects on
// first use. Call Run, or Close when Run is not used.
func New(cfg Config) (*Proxy, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("rest proxy: %w", err)
	}
	// NB: no RecordDeliveryTimeout: kgo measures it from each record's
	// Timestamp, so a v3 record with an old timestamp would time out at
	// once. Requests wait for acknowledgements under their own deadline
	// instead (produceAll), and the buffer is bounded.
	opts := append(p0opts(cfg),
		kgo.RecordPartitioner(newPartitioner()),
		kgo.ProducerBatchMaxBytes(int32(min(cfg.MaxBodyBytes+1024, 1<<30))),
		kgo.MaxBufferedBytes(int(max(64<<20, 2*cfg.MaxBodyBytes))),
	)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("rest proxy: kafka client: %w", err)
	}
	p := &Proxy{
		cfg:    cfg,
		client: cl,
		admin:  kadm.NewClient(cl),
		closed: make(chan struct{}),
	}
	p.insts = newInstances(p)
	p.mux = p.routes()
	return p, nil
}

// p0opts are the options of every client: seeds, the caller's options,
// the client id.
func p0opts(cfg Config) []kgo.Opt {
	opts := []kgo.Opt{kgo.SeedBrokers(cfg.Bootstrap...), kgo.ClientID(clientID)}
	return append(opts, cfg.ClientOpts...)
}

// Run expires idle consumer instances until ctx ends, then closes the
// proxy (every instance and the shared client) and returns nil.
func (p *Proxy) Run(ctx context.Context) error {
	defer p.Close()
	every := min(max(p.cfg.ConsumerInstanceTimeout/10, 50*time.Millisecond), 10*time.Second)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-p.closed:
			return nil
		case now := <-t.C:
			p.insts.expire(now)
		}
	}
}

// Close closes every consumer instance and the shared client; requests
// after it get 503. It waits for the instances' clients to close.
func (p *Proxy) Close() {
	p.closeOnce.Do(func() {
		close(p.closed)
		p.insts.closeAll()
		p.client.Close()
	})
}

// isClosed reports whether Close has begun.
func (p *Proxy) isClosed() bool {
	select {
	case <-p.closed:
		return true
	default:
		return false
	}
}

// ServeHTTP serves the REST API.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Now().Add(p.cfg.WriteTimeout + p.cfg.RequestTimeout + p.cfg.MaxConsumerRequestTimeout))
	if r.ContentLength != 0 {
		// NB: a response sent before the body is read makes net/http
		// drain the body first, with no deadline: a client that stalls
		// would hold the response forever. Closing the connection after
		// the response skips the drain; readBody lifts this once it has
		// read the whole body.
		w.Header().Set("Connection", "close")
	}
	if p.isClosed() {
		writeError(w, contentTypeV2, errClosed)
		return
	}
	p.mux.ServeHTTP(w, r)
}

// handlerFunc is a route: it returns an error to answer, or writes the
// response itself and returns nil.
type handlerFunc func(w http.ResponseWriter, r *http.Request) *restError

// routes builds the mux. Every path also has a method-less pattern that
// answers 405 in JSON, and "/" answers 404 in JSON.
func (p *Proxy) routes() *http.ServeMux {
	mux := http.NewServeMux()
	route := func(path, ct string, methods map[string]handlerFunc) {
		var allowed []string
		for m, h := range methods {
			allowed = append(allowed, m)
			mux.HandleFunc(m+" "+path, func(w http.ResponseWriter, r *http.Request) {
				if e := h(w, r); e != nil {
					writeError(w, ct, e)
				}
			})
		}
		allow := strings.Join(allowed, ", ")
		mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", allow)
			writeError(w, ct, errorf(http.StatusMethodNotAllowed, http.StatusMethodNotAllowed,
				"method %s not allowed on %s (allowed: %s)", r.Method, r.URL.Path, allow))
		})
	}
	v2 := contentTypeV2
	route("/topics", v2, map[string]handlerFunc{"GET": p.listTopics})
	route("/topics/{topic}", v2, map[string]handlerFunc{"GET": p.getTopic, "POST": p.produceToTopic})
	route("/topics/{topic}/partitions", v2, map[string]handlerFunc{"GET": p.listPartitions})
	route("/topics/{topic}/partitions/{partition}", v2, map[string]handlerFunc{"GET": p.getPartition, "POST": p.produceToPartition})
	route("/brokers", v2, map[string]handlerFunc{"GET": p.listBrokers})

	const inst = "/consumers/{group}/instances/{instance}"
	route("/consumers/{group}", v2, map[string]handlerFunc{"POST": p.createInstance})
	route(inst, v2, map[string]handlerFunc{"DELETE": p.deleteInstance})
	route(inst+"/subscription", v2, map[string]handlerFunc{"POST": p.subscribe, "GET": p.getSubscription, "DELETE": p.unsubscribe})
	route(inst+"/assignments", v2, map[string]handlerFunc{"POST": p.assign, "GET": p.getAssignments})
	route(inst+"/positions", v2, map[string]handlerFunc{"POST": p.seek})
	route(inst+"/positions/beginning", v2, map[string]handlerFunc{"POST": p.seekToBeginning})
	route(inst+"/positions/end", v2, map[string]handlerFunc{"POST": p.seekToEnd})
	route(inst+"/records", v2, map[string]handlerFunc{"GET": p.records})
	route(inst+"/offsets", v2, map[string]handlerFunc{"POST": p.commitOffsets, "GET": p.committedOffsets})

	const cluster = "/v3/clusters/{cluster}"
	v3 := contentTypeV3
	route("/v3/clusters", v3, map[string]handlerFunc{"GET": p.v3ListClusters})
	route(cluster, v3, map[string]handlerFunc{"GET": p.v3GetCluster})
	route(cluster+"/brokers", v3, map[string]handlerFunc{"GET": p.v3ListBrokers})
	route(cluster+"/topics", v3, map[string]handlerFunc{"GET": p.v3ListTopics, "POST": p.v3CreateTopic})
	route(cluster+"/topics/{topic}", v3, map[string]handlerFunc{"GET": p.v3GetTopic, "DELETE": p.v3DeleteTopic})
	route(cluster+"/topics/{topic}/partitions", v3, map[string]handlerFunc{"GET": p.v3ListPartitions})
	route(cluster+"/topics/{topic}/partitions/{partition}", v3, map[string]handlerFunc{"GET": p.v3GetPartition})
	route(cluster+"/topics/{topic}/records", v3, map[string]handlerFunc{"POST": p.v3Produce})

	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		ct := v2
		if strings.HasPrefix(r.URL.Path, "/v3/") {
			ct = v3
		}
		writeError(w, ct, errorf(http.StatusNotFound, http.StatusNotFound, "HTTP 404 Not Found: %s", r.URL.Path))
	})
	return mux
}

// requestContext bounds the Kafka calls of one request.
func (p *Proxy) requestContext(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), p.cfg.RequestTimeout)
}

// baseURL is scheme://host for links in responses.
func (p *Proxy) baseURL(r *http.Request) string {
	if p.cfg.BaseURL != "" {
		return strings.TrimSuffix(p.cfg.BaseURL, "/")
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}
