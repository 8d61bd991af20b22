package partition

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/strata-io/strata/internal/metrics"
	"github.com/strata-io/strata/internal/storage"
)

// Metrics are the partition metrics of a broker, shared by its
// partitions. A nil *Metrics records nothing. Each Partition resolves its
// topic's counters once, in New, so the produce and fetch paths add to a
// counter without a lookup.
type Metrics struct {
	bytesIn, recordsIn, bytesOut *prometheus.CounterVec // by topic
	replicationBytesOut          prometheus.Counter
	isrShrinks, isrExpands       prometheus.Counter
	leaderElections              prometheus.Counter
}

// NewMetrics registers the partition metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		bytesIn: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: metrics.Name("topic", "bytes_in_total"),
			Help: "Record batch bytes produced to partitions this broker leads, by topic (retried duplicates and replication excluded).",
		}, []string{"topic"}),
		recordsIn: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: metrics.Name("topic", "records_in_total"),
			Help: "Records produced to partitions this broker leads, by topic (retried duplicates and replication excluded).",
		}, []string{"topic"}),
		bytesOut: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: metrics.Name("topic", "bytes_out_total"),
			Help: "Record batch bytes this broker returned to consumers' fetches, by topic (follower fetches excluded).",
		}, []string{"topic"}),
		replicationBytesOut: prometheus.NewCounter(prometheus.CounterOpts{
			Name: metrics.Name("", "replication_bytes_out_total"),
			Help: "Record batch bytes this broker returned to followers' fetches.",
		}),
		isrShrinks: prometheus.NewCounter(prometheus.CounterOpts{
			Name: metrics.Name("", "isr_shrinks_total"),
			Help: "ISR changes that removed replicas, on partitions this broker leads.",
		}),
		isrExpands: prometheus.NewCounter(prometheus.CounterOpts{
			Name: metrics.Name("", "isr_expands_total"),
			Help: "ISR changes that added replicas, on partitions this broker leads.",
		}),
		leaderElections: prometheus.NewCounter(prometheus.CounterOpts{
			Name: metrics.Name("", "leader_elections_total"),
			Help: "Times this broker became leader of a partition in a new leader epoch (startup included); summed over brokers, the cluster's leader elections.",
		}),
	}
	reg.MustRegister(m.bytesIn, m.recordsIn, m.bytesOut, m.replicationBytesOut, m.isrShrinks, m.isrExpands, m.leaderElections)
	return m
}

// DeleteTopic drops the per-topic series of a topic this broker no longer
// hosts.
func (m *Metrics) DeleteTopic(topic string) {
	if m == nil {
		return
	}
	m.bytesIn.DeleteLabelValues(topic)
	m.recordsIn.DeleteLabelValues(topic)
	m.bytesOut.DeleteLabelValues(topic)
}

// topicCounters are one topic's resolved counters; nil when metrics are
// off.
type topicCounters struct {
	m                            *Metrics
	bytesIn, recordsIn, bytesOut prometheus.Counter
}

func (m *Metrics) topic(name string) *topicCounters {
	if m == nil {
		return nil
	}
	return &topicCounters{m: m, bytesIn: m.bytesIn.WithLabelValues(name), recordsIn: m.recordsIn.WithLabelValues(name),
		bytesOut: m.bytesOut.WithLabelValues(name)}
}

// CountProduced records a successful leader append of batches of size
// bytes (a retried duplicate counts nothing).
func (p *Partition) CountProduced(size int, info storage.AppendInfo) {
	if t := p.counters; t != nil && !info.Duplicate {
		t.bytesIn.Add(float64(size))
		t.recordsIn.Add(float64(info.LastOffset - info.FirstOffset + 1))
	}
}

// CountFetched records size bytes of batches read for a fetch, by a
// follower (replication) or a consumer.
func (p *Partition) CountFetched(size int64, follower bool) {
	t := p.counters
	switch {
	case t == nil || size <= 0:
	case follower:
		t.m.replicationBytesOut.Add(float64(size))
	default:
		t.bytesOut.Add(float64(size))
	}
}

// countLeaderChange records an applied leader state: a new leader epoch is
// a leader election; otherwise a changed ISR is a shrink or an expansion.
func (p *Partition) countLeaderChange(newEpoch bool, prevISR, isr []int32) {
	t := p.counters
	switch {
	case t == nil:
	case newEpoch:
		t.m.leaderElections.Inc()
	case len(isr) < len(prevISR):
		t.m.isrShrinks.Inc()
	case len(isr) > len(prevISR):
		t.m.isrExpands.Inc()
	}
}

// MinInsyncReplicas is the partition's min.insync.replicas (at least 1).
func (p *Partition) MinInsyncReplicas() int { return p.minInsyncReplicas() }
