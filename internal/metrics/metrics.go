// Package metrics sets up a node's Prometheus registry and holds the naming
// helpers the subsystems share. It owns no metric itself: each subsystem
// defines its own (server, storage, partition, raft, controller, node) and
// registers them on the registry it is given. Metrics are per node, never
// global, so that several nodes in one process (tests) each report their
// own.
//
// Conventions:
//   - names are strata_<subsystem>_<what>_<unit>, counters end in _total,
//     durations are in seconds and sizes in bytes (Prometheus base units);
//   - the kafka_* series of the kafka_exporter-compatible collector
//     (internal/node) keep kafka_exporter's names and labels exactly;
//   - hot paths hold pre-resolved children (a prometheus.Counter or
//     Observer, or an atomic), never a *Vec lookup per request;
//   - a nil *Metrics of any subsystem is valid and records nothing, which
//     is what a node with the HTTP listener off runs with.
//
// This package starts no goroutine.
package metrics

import (
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/twmb/franz-go/pkg/kerr"
)

// Namespace prefixes every Strata-specific metric.
const Namespace = "strata"

// NewRegistry returns a registry holding the Go runtime and process
// collectors (go_*, process_*).
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return reg
}

// Name joins a subsystem and a metric name under Namespace:
// Name("storage", "fsync_seconds") is "strata_storage_fsync_seconds".
func Name(subsystem, name string) string {
	return prometheus.BuildFQName(Namespace, subsystem, name)
}

// LatencyBuckets are histogram buckets for request and I/O latencies, in
// seconds: 100µs to 10s in 1-2.5-5 steps (16 buckets, so that a scrape
// stays cheap; see test/bench/metrics-overhead.sh).
var LatencyBuckets = []float64{100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3, 50e-3, 100e-3, 250e-3, 500e-3, 1, 2.5, 5, 10}

// SizeBuckets are histogram buckets for request, response and batch sizes
// in bytes: 64 B to 64 MiB, by factors of four.
var SizeBuckets = prometheus.ExponentialBuckets(64, 4, 11)

// CountBuckets are histogram buckets for small counts (waiters sharing an
// fsync, partitions in a request): 1 to 1024, doubling.
var CountBuckets = prometheus.ExponentialBuckets(1, 2, 11)

// Since returns the seconds elapsed from start, for Observe.
func Since(start time.Time) float64 { return time.Since(start).Seconds() }

// ErrorName is the label value of a Kafka error code: Kafka's name
// (NOT_LEADER_OR_FOLLOWER), or the number for a code kerr does not know.
func ErrorName(code int16) string {
	if code == 0 {
		return "NONE"
	}
	if err := kerr.ErrorForCode(code); err != nil {
		if ke, ok := err.(*kerr.Error); ok && ke.Code == code {
			return ke.Message
		}
	}
	return strconv.Itoa(int(code))
}

// Handler serves g's metrics as /metrics does: the Prometheus text format,
// or OpenMetrics when the scraper asks for it (Accept negotiation), gzipped
// when asked. At most four scrapes run at once; more get 503. A collector
// that fails is logged and its metrics left out, the rest still served.
func Handler(g prometheus.Gatherer, logger *slog.Logger) http.Handler {
	return gzipped(promhttp.HandlerFor(g, promhttp.HandlerOpts{
		ErrorLog:            slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		ErrorHandling:       promhttp.ContinueOnError,
		MaxRequestsInFlight: 4,
		// Compression is gzipped's: promhttp's standard-library gzip at
		// the default level was a third of a scrape's CPU.
		DisableCompression: true,
		// No Timeout: promhttp would run every scrape through
		// http.TimeoutHandler, which buffers and copies the response; the
		// scraper's own timeout ends a slow scrape, and the collectors
		// bound their waits themselves.
		EnableOpenMetrics: true,
	}))
}

// gzipWriters holds reusable gzip writers: a scrape then allocates no
// compressor state.
var gzipWriters = sync.Pool{New: func() any {
	w, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed)
	return w
}}

// gzipped compresses h's responses with gzip at its fastest level when the
// client accepts gzip, as every Prometheus server does: a text exposition
// still shrinks about tenfold, for a fraction of the default level's cost.
func gzipped(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Add("Vary", "Accept-Encoding")
		if !acceptsGzip(r.Header.Values("Accept-Encoding")) {
			h.ServeHTTP(w, r)
			return
		}
		gz := gzipWriters.Get().(*gzip.Writer)
		defer gzipWriters.Put(gz)
		gz.Reset(w)
		w.Header().Set("Content-Encoding", "gzip")
		h.ServeHTTP(gzipResponseWriter{ResponseWriter: w, gz: gz}, r)
		gz.Close() // the error is the connection's; the scraper sees it
	})
}

type gzipResponseWriter struct {
	http.ResponseWriter
	gz *gzip.Writer
}

func (w gzipResponseWriter) Write(b []byte) (int, error) { return w.gz.Write(b) }

// WriteHeader drops a Content-Length set for the uncompressed body.
func (w gzipResponseWriter) WriteHeader(code int) {
	w.Header().Del("Content-Length")
	w.ResponseWriter.WriteHeader(code)
}

// acceptsGzip reports whether Accept-Encoding values name gzip with a
// non-zero quality.
func acceptsGzip(values []string) bool {
	for _, v := range values {
		for part := range strings.SplitSeq(v, ",") {
			coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
			if !strings.EqualFold(strings.TrimSpace(coding), "gzip") {
				continue
			}
			q, ok := strings.CutPrefix(strings.ReplaceAll(params, " ", ""), "q=")
			if !ok {
				return true
			}
			if f, err := strconv.ParseFloat(q, 64); err == nil && f > 0 {
				return true
			}
		}
	}
	return false
}
