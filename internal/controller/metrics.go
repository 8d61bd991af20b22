package controller

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/strata-io/strata/internal/metrics"
)

// Metrics time the controller's event loop. A nil *Metrics records
// nothing.
type Metrics struct {
	queue   prometheus.Histogram
	process prometheus.Histogram
}

// NewMetrics registers the controller metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		queue: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    metrics.Name("controller", "event_queue_seconds"),
			Help:    "Time a controller operation (admin request, heartbeat, registration, ISR change) waited for the controller's event loop.",
			Buckets: metrics.LatencyBuckets,
		}),
		process: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    metrics.Name("controller", "event_processing_seconds"),
			Help:    "Time a controller operation ran on the controller's event loop (proposing its records and waiting for their commit included).",
			Buckets: metrics.LatencyBuckets,
		}),
	}
	reg.MustRegister(m.queue, m.process)
	return m
}

// eventStart records the wait of an operation queued at queued (the zero
// time when metrics are off) and returns when it starts.
func (m *Metrics) eventStart(queued time.Time) time.Time {
	if m == nil {
		return time.Time{}
	}
	now := time.Now()
	m.queue.Observe(now.Sub(queued).Seconds())
	return now
}

// eventDone records the run time of an operation started at start.
func (m *Metrics) eventDone(start time.Time) {
	if m != nil {
		m.process.Observe(metrics.Since(start))
	}
}

func (m *Metrics) now() time.Time {
	if m == nil {
		return time.Time{}
	}
	return time.Now()
}
