package storage

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/strata-io/strata/internal/metrics"
	"github.com/strata-io/strata/internal/storage/vfs"
)

// Metrics are the fsync metrics of a broker's log directories (all of
// them share one). A nil *Metrics records nothing. Log sizes and segment
// counts are read at scrape time (LogDirs.Collector), not counted here.
type Metrics struct {
	fsync       prometheus.Histogram
	groupCommit prometheus.Histogram
}

// NewMetrics registers the storage metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		fsync: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    metrics.Name("storage", "fsync_seconds"),
			Help:    "Time of one fdatasync of a segment file (acks, interval flushes and rolls).",
			Buckets: metrics.LatencyBuckets,
		}),
		groupCommit: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    metrics.Name("storage", "group_commit_waiters"),
			Help:    "Sync waiters (produce requests or replica appends) released by one fsync round of a log: the group-commit size.",
			Buckets: metrics.CountBuckets,
		}),
	}
	reg.MustRegister(m.fsync, m.groupCommit)
	return m
}

// timedFsync runs fsyncFile on f and records how long it took. It is the
// one place segment fsyncs are timed.
func (s *groupSyncer) timedFsync(l *Log, f vfs.File) error {
	if s.metrics == nil {
		return s.fsyncFile(l, f)
	}
	start := time.Now()
	err := s.fsyncFile(l, f)
	s.metrics.fsync.Observe(metrics.Since(start))
	return err
}

// groupCommitted records an fsync round that released n waiters.
func (m *Metrics) groupCommitted(n int) {
	if m != nil && n > 0 {
		m.groupCommit.Observe(float64(n))
	}
}

var (
	logSizeDesc = prometheus.NewDesc(metrics.Name("log", "size_bytes"),
		"Bytes in the segments of a partition's log on this broker (every replica, leader or follower).", []string{"topic", "partition"}, nil)
	logSegmentsDesc = prometheus.NewDesc(metrics.Name("log", "segments"),
		"Segments of a partition's log on this broker.", []string{"topic", "partition"}, nil)
	dirOnlineDesc = prometheus.NewDesc(metrics.Name("log_dir", "online"),
		"1 if the log directory serves, 0 once it failed (offline until restart).", []string{"dir"}, nil)
	dirLogsDesc = prometheus.NewDesc(metrics.Name("log_dir", "partitions"),
		"Partition logs in the log directory.", []string{"dir"}, nil)
	dirSizeDesc = prometheus.NewDesc(metrics.Name("log_dir", "size_bytes"),
		"Bytes in the segments of every partition log in the log directory.", []string{"dir"}, nil)
	dirSegmentsDesc = prometheus.NewDesc(metrics.Name("log_dir", "segments"),
		"Segments of every partition log in the log directory.", []string{"dir"}, nil)
	volumeTotalDesc = prometheus.NewDesc(metrics.Name("log_dir", "volume_total_bytes"),
		"Size of the file system holding the log directory.", []string{"dir"}, nil)
	volumeFreeDesc = prometheus.NewDesc(metrics.Name("log_dir", "volume_free_bytes"),
		"Bytes of the file system holding the log directory still usable by the broker.", []string{"dir"}, nil)
)

// logDirsCollector reads the log directories at scrape time.
type logDirsCollector struct {
	ds           *LogDirs
	perPartition bool
}

// Collector reports the log directories (online, partitions, bytes,
// segments, volume size and free space) and, with perPartition, each
// partition log's size and segment count, read at scrape time.
func (ds *LogDirs) Collector(perPartition bool) prometheus.Collector {
	return &logDirsCollector{ds: ds, perPartition: perPartition}
}

func (c *logDirsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{logSizeDesc, logSegmentsDesc, dirOnlineDesc, dirLogsDesc, dirSizeDesc, dirSegmentsDesc, volumeTotalDesc, volumeFreeDesc} {
		ch <- d
	}
}

func (c *logDirsCollector) Collect(ch chan<- prometheus.Metric) {
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	for _, d := range c.ds.Dirs() {
		online := 0.0
		if d.Err() == nil {
			online = 1
		}
		path := d.Path()
		gauge(dirOnlineDesc, online, path)
		var size, segs int64
		logs := d.Logs()
		for _, l := range logs {
			n, s := l.Size(), l.NumSegments()
			size += n
			segs += int64(s)
			if c.perPartition {
				tp := l.TopicPartition()
				p := itoa32(tp.Partition)
				gauge(logSizeDesc, float64(n), tp.Topic, p)
				gauge(logSegmentsDesc, float64(s), tp.Topic, p)
			}
		}
		gauge(dirLogsDesc, float64(len(logs)), path)
		gauge(dirSizeDesc, float64(size), path)
		gauge(dirSegmentsDesc, float64(segs), path)
		if total, free, ok := volumeBytes(path); ok {
			gauge(volumeTotalDesc, float64(total), path)
			gauge(volumeFreeDesc, float64(free), path)
		}
	}
}

func itoa32(v int32) string { return strconv.FormatInt(int64(v), 10) }
