package server

import (
	"reflect"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strata-io/strata/internal/metrics"
	"github.com/strata-io/strata/internal/protocol"
)

// Metrics are the request and connection metrics of every listener of a
// node. A nil *Metrics records nothing.
//
// Per request the hot path touches only pre-resolved children: the API's
// entry (an atomic pointer, made on its first request) holds its version
// counters and latency observers; error counters are resolved per error
// code on first use. Series appear only for APIs that were requested.
type Metrics struct {
	requests     *prometheus.CounterVec   // request, version
	errors       *prometheus.CounterVec   // request, error
	latency      *prometheus.HistogramVec // request, phase
	requestSize  *prometheus.HistogramVec // request
	responseSize *prometheus.HistogramVec // request
	connections  *prometheus.GaugeVec     // listener
	accepted     *prometheus.CounterVec   // listener
	authFailures *prometheus.CounterVec   // listener, kind

	mu   sync.Mutex // serializes making apis entries
	apis [maxAPIKey + 1]atomic.Pointer[apiMetrics]
}

// maxAPIKey bounds the API keys with metrics; requests with larger keys
// never reach a handler (protocol.ParseRequest refuses unknown keys).
const maxAPIKey = 127

// maxTrackedVersion bounds the versions counted per API.
const maxTrackedVersion = 31

// apiMetrics are one API's pre-resolved children.
type apiMetrics struct {
	m        *Metrics
	name     string
	versions [maxTrackedVersion + 1]atomic.Pointer[prometheus.Counter]
	// errs are the error counters by error code + 1 (-1 is
	// UNKNOWN_SERVER_ERROR); codes beyond the array share the last slot's
	// lookup through the vector.
	errs                [256]atomic.Pointer[prometheus.Counter]
	queue, local, total prometheus.Observer
	// remote is made on the API's first wait for a Later response, so
	// that APIs that never wait have no remote series.
	remote                    atomic.Pointer[prometheus.Observer]
	requestSize, responseSize prometheus.Observer
}

// NewMetrics registers the server metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: metrics.Name("", "requests_total"),
			Help: "Kafka requests handled, by API (request) and API version.",
		}, []string{"request", "version"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: metrics.Name("", "request_errors_total"),
			Help: "Error codes in Kafka responses, by API and error (each partition or resource with an error counts once; NONE is not counted).",
		}, []string{"request", "error"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    metrics.Name("", "request_latency_seconds"),
			Help:    "Kafka request latency by API and phase: queue (request read until its handler starts, including quota throttling), local (in the handler), remote (waiting for acks=all replication, a fetch long poll or another broker; only requests that waited), total (request read until its response is written to the socket).",
			Buckets: metrics.LatencyBuckets,
		}, []string{"request", "phase"}),
		requestSize: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    metrics.Name("", "request_size_bytes"),
			Help:    "Size of Produce request frames (only Produce is recorded, to keep scrapes small).",
			Buckets: metrics.SizeBuckets,
		}, []string{"request"}),
		responseSize: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    metrics.Name("", "response_size_bytes"),
			Help:    "Size of Fetch responses, records included (only Fetch is recorded, to keep scrapes small).",
			Buckets: metrics.SizeBuckets,
		}, []string{"request"}),
		connections: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: metrics.Name("", "connections"),
			Help: "Open Kafka client connections by listener.",
		}, []string{"listener"}),
		accepted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: metrics.Name("", "connections_accepted_total"),
			Help: "Kafka connections accepted by listener (connections refused by a connection_creation_rate quota included).",
		}, []string{"listener"}),
		authFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: metrics.Name("", "authentication_failures_total"),
			Help: "Failed authentications by listener and kind (tls: handshake or principal mapping; sasl: a failed or refused SASL exchange).",
		}, []string{"listener", "kind"}),
	}
	reg.MustRegister(m.requests, m.errors, m.latency, m.requestSize, m.responseSize, m.connections, m.accepted, m.authFailures)
	return m
}

// api returns key's entry, making it on first use.
func (m *Metrics) api(key int16) *apiMetrics {
	if key < 0 || key > maxAPIKey {
		return nil
	}
	if a := m.apis[key].Load(); a != nil {
		return a
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if a := m.apis[key].Load(); a != nil {
		return a
	}
	name := kmsg.NameForKey(key)
	if name == "" {
		name = "Unknown"
	}
	a := &apiMetrics{m: m, name: name,
		queue: m.latency.WithLabelValues(name, "queue"),
		local: m.latency.WithLabelValues(name, "local"),
		total: m.latency.WithLabelValues(name, "total"),
	}
	// Sizes only where they matter (produce and fetch sizes): a
	// histogram per API would double the scrape for little.
	switch key {
	case int16(kmsg.Produce):
		a.requestSize = m.requestSize.WithLabelValues(name)
	case int16(kmsg.Fetch):
		a.responseSize = m.responseSize.WithLabelValues(name)
	}
	m.apis[key].Store(a)
	return a
}

func (a *apiMetrics) version(v int16) prometheus.Counter {
	if v < 0 || v > maxTrackedVersion {
		return nil
	}
	if c := a.versions[v].Load(); c != nil {
		return *c
	}
	c := a.m.requests.WithLabelValues(a.name, itoa(v))
	a.versions[v].Store(&c)
	return c
}

func (a *apiMetrics) countError(code int16) {
	i := int(code) + 1
	if i < 0 || i >= len(a.errs) {
		a.m.errors.WithLabelValues(a.name, metrics.ErrorName(code)).Inc()
		return
	}
	if c := a.errs[i].Load(); c != nil {
		(*c).Inc()
		return
	}
	c := a.m.errors.WithLabelValues(a.name, metrics.ErrorName(code))
	a.errs[i].Store(&c)
	c.Inc()
}

func itoa(v int16) string {
	const digits = "0123456789"
	if v >= 0 && v < 10 {
		return digits[v : v+1]
	}
	if v >= 10 && v < 100 {
		return string([]byte{digits[v/10], digits[v%10]})
	}
	return "other"
}

// listener returns the per-listener children for a server.
func (m *Metrics) listener(name string) listenerMetrics {
	if m == nil {
		return listenerMetrics{}
	}
	return listenerMetrics{
		connections: m.connections.WithLabelValues(name),
		accepted:    m.accepted.WithLabelValues(name),
		tlsFailures: m.authFailures.WithLabelValues(name, "tls"),
		saslFailure: m.authFailures.WithLabelValues(name, "sasl"),
	}
}

// listenerMetrics are one listener's children; the zero value records
// nothing.
type listenerMetrics struct {
	connections prometheus.Gauge
	accepted    prometheus.Counter
	tlsFailures prometheus.Counter
	saslFailure prometheus.Counter
}

func (l listenerMetrics) connOpened() {
	if l.connections != nil {
		l.accepted.Inc()
		l.connections.Inc()
	}
}

func (l listenerMetrics) connClosed() {
	if l.connections != nil {
		l.connections.Dec()
	}
}

func (l listenerMetrics) tlsFailed() {
	if l.tlsFailures != nil {
		l.tlsFailures.Inc()
	}
}

func (l listenerMetrics) saslFailed() {
	if l.saslFailure != nil {
		l.saslFailure.Inc()
	}
}

// reqTiming follows one request from its frame being read to its response
// being written; the zero value (metrics off) records nothing.
type reqTiming struct {
	api     *apiMetrics
	read    time.Time // the frame was read
	start   time.Time // the handler started
	handled time.Time // the handler returned
}

// now is time.Now when metrics are on, else the zero time.
func (m *Metrics) now() time.Time {
	if m == nil {
		return time.Time{}
	}
	return time.Now()
}

// begin counts a request whose frame of size bytes was read at read and
// whose handler starts now.
func (m *Metrics) begin(h protocol.RequestHeader, read time.Time, size int32) reqTiming {
	if m == nil {
		return reqTiming{}
	}
	a := m.api(h.APIKey)
	if a == nil {
		return reqTiming{}
	}
	if c := a.version(h.APIVersion); c != nil {
		c.Inc()
	}
	if a.requestSize != nil {
		a.requestSize.Observe(float64(size))
	}
	now := time.Now()
	a.queue.Observe(now.Sub(read).Seconds())
	return reqTiming{api: a, read: read, start: now}
}

// handlerDone records that the handler returned.
func (t *reqTiming) handlerDone() {
	if t.api != nil {
		t.handled = time.Now()
		t.api.local.Observe(t.handled.Sub(t.start).Seconds())
	}
}

// remoteDone records the end of a wait for a Later response.
func (t *reqTiming) remoteDone() {
	if t.api == nil {
		return
	}
	o := t.api.remote.Load()
	if o == nil {
		obs := t.api.m.latency.WithLabelValues(t.api.name, "remote")
		t.api.remote.Store(&obs)
		o = &obs
	}
	(*o).Observe(time.Since(t.handled).Seconds())
}

// written records a response of size bytes written (size < 0: none sent)
// and counts the error codes in msg.
func (t *reqTiming) written(msg kmsg.Response, size int64) {
	if t.api == nil {
		return
	}
	t.api.total.Observe(time.Since(t.read).Seconds())
	if size >= 0 && t.api.responseSize != nil {
		t.api.responseSize.Observe(float64(size))
	}
	if msg != nil {
		forEachErrorCode(msg, t.api.countError)
	}
}

// forEachErrorCode calls fn with every non-zero ErrorCode field of msg:
// the top-level one and those of nested topics, partitions and resources.
// The walk of each response type is built once by reflection and cached;
// it allocates nothing per response.
func forEachErrorCode(msg kmsg.Response, fn func(int16)) {
	v := reflect.ValueOf(msg)
	if v.Kind() != reflect.Pointer || v.IsNil() {
		return
	}
	v = v.Elem()
	w := walkerFor(v.Type())
	w.walk(v, fn)
}

// errWalker finds the ErrorCode fields of one struct type.
type errWalker struct {
	codes  []int        // indexes of int16 ErrorCode fields
	slices []sliceField // slices of structs that hold error codes
	nested []sliceField // struct fields (not slices) that hold error codes
}

type sliceField struct {
	index int
	elem  *errWalker
}

func (w *errWalker) empty() bool {
	return len(w.codes) == 0 && len(w.slices) == 0 && len(w.nested) == 0
}

func (w *errWalker) walk(v reflect.Value, fn func(int16)) {
	for _, i := range w.codes {
		if c := int16(v.Field(i).Int()); c != 0 {
			fn(c)
		}
	}
	for _, s := range w.nested {
		s.elem.walk(v.Field(s.index), fn)
	}
	for _, s := range w.slices {
		f := v.Field(s.index)
		for j := range f.Len() {
			s.elem.walk(f.Index(j), fn)
		}
	}
}

var walkers sync.Map // reflect.Type → *errWalker

func walkerFor(t reflect.Type) *errWalker {
	if w, ok := walkers.Load(t); ok {
		return w.(*errWalker)
	}
	w := buildWalker(t, 0)
	walkers.Store(t, w)
	return w
}

func buildWalker(t reflect.Type, depth int) *errWalker {
	w := &errWalker{}
	if depth > 6 {
		return w
	}
	for i := range t.NumField() {
		f := t.Field(i)
		switch {
		case f.Name == "ErrorCode" && f.Type.Kind() == reflect.Int16:
			w.codes = append(w.codes, i)
		case f.Type.Kind() == reflect.Slice && f.Type.Elem().Kind() == reflect.Struct:
			if e := buildWalker(f.Type.Elem(), depth+1); !e.empty() {
				w.slices = append(w.slices, sliceField{i, e})
			}
		case f.Type.Kind() == reflect.Struct:
			if e := buildWalker(f.Type, depth+1); !e.empty() {
				w.nested = append(w.nested, sliceField{i, e})
			}
		}
	}
	return w
}

// Listener is the name of the listener the server serves.
func (s *Server) Listener() string { return s.cfg.Listener }
