package node

// The node's metrics: it builds the per-node registry and each
// subsystem's Metrics (New), serves them on the HTTP listener with
// /healthz and /readyz (http.go), and reports at scrape time what only
// the node can see whole: the kafka_exporter-compatible kafka_* series and
// the broker's partition state counts.
//
// kafka_* series and Prometheus scraping every broker. kafka_exporter is
// one process that reports the whole cluster; here every broker serves
// /metrics, so each series is reported by exactly one node, and a query
// summing over instances (as the "Kafka Exporter Overview" dashboard and
// typical alerts do: sum by (topic), sum by (consumergroup, topic)) gets
// the cluster's value:
//   - a partition's series (kafka_topic_partition_*) come from its leader;
//     a partition without a leader is reported (without offsets) by the
//     active controller. kafka_topic_partitions{topic} counts the
//     partitions a node reports, so its sum over nodes is the topic's
//     partition count.
//   - a consumer group's series come from its group coordinator (the
//     leader of its __consumer_offsets partition); its lag is the high
//     watermark minus the committed offset, the high watermark read
//     locally when this broker leads the partition, else asked of the
//     leader with one ListOffsets per broker per scrape (cached for a
//     second, bounded by a 5 s timeout).
//   - kafka_brokers and kafka_broker_info are cluster-wide and identical
//     on every node (from its metadata image): use max, not sum.
// A dashboard that selects a single instance sees only that broker's
// share; select all of them.

import (
	"context"
	"maps"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strata-io/strata/internal/controller"
	"github.com/strata-io/strata/internal/metadata"
	"github.com/strata-io/strata/internal/metrics"
	"github.com/strata-io/strata/internal/partition"
	"github.com/strata-io/strata/internal/server"
	"github.com/strata-io/strata/internal/storage"
)

// nodeMetrics are the registry and the subsystems' metrics of a node with
// the HTTP listener on; a nil *nodeMetrics (listener off) records nothing.
type nodeMetrics struct {
	reg        *prometheus.Registry
	server     *server.Metrics
	storage    *storage.Metrics
	partitions *partition.Metrics
	controller *controller.Metrics
}

func newNodeMetrics() *nodeMetrics {
	reg := metrics.NewRegistry()
	return &nodeMetrics{
		reg:        reg,
		server:     server.NewMetrics(reg),
		storage:    storage.NewMetrics(reg),
		partitions: partition.NewMetrics(reg),
		controller: controller.NewMetrics(reg),
	}
}

// The accessors give nil when metrics are off.
func (m *nodeMetrics) serverMetrics() *server.Metrics {
	if m == nil {
		return nil
	}
	return m.server
}

func (m *nodeMetrics) storageMetrics() *storage.Metrics {
	if m == nil {
		return nil
	}
	return m.storage
}

func (m *nodeMetrics) partitionMetrics() *partition.Metrics {
	if m == nil {
		return nil
	}
	return m.partitions
}

func (m *nodeMetrics) controllerMetrics() *controller.Metrics {
	if m == nil {
		return nil
	}
	return m.controller
}

var (
	// kafka_exporter's names and labels.
	kBrokersDesc = prometheus.NewDesc("kafka_brokers",
		"Number of brokers in the Kafka cluster (registered and unfenced, as Metadata lists them); the same on every node.", nil, nil)
	kBrokerInfoDesc = prometheus.NewDesc("kafka_broker_info",
		"Information about a broker of the cluster; the same on every node.", []string{"address", "id"}, nil)
	kTopicPartitionsDesc = prometheus.NewDesc("kafka_topic_partitions",
		"Number of partitions for this topic that this node reports (those it leads; leaderless ones on the active controller): sum over nodes for the topic's count.", []string{"topic"}, nil)
	kCurrentOffsetDesc = prometheus.NewDesc("kafka_topic_partition_current_offset",
		"Current offset (high watermark) of a partition, reported by its leader.", []string{"topic", "partition"}, nil)
	kOldestOffsetDesc = prometheus.NewDesc("kafka_topic_partition_oldest_offset",
		"Oldest offset (log start offset) of a partition, reported by its leader.", []string{"topic", "partition"}, nil)
	kInSyncDesc = prometheus.NewDesc("kafka_topic_partition_in_sync_replica",
		"Number of in-sync replicas of a partition.", []string{"topic", "partition"}, nil)
	kLeaderDesc = prometheus.NewDesc("kafka_topic_partition_leader",
		"Leader broker id of a partition (-1 when it has none).", []string{"topic", "partition"}, nil)
	kLeaderPreferredDesc = prometheus.NewDesc("kafka_topic_partition_leader_is_preferred",
		"1 if a partition's leader is its preferred (first) replica.", []string{"topic", "partition"}, nil)
	kReplicasDesc = prometheus.NewDesc("kafka_topic_partition_replicas",
		"Number of replicas of a partition.", []string{"topic", "partition"}, nil)
	kUnderReplicatedDesc = prometheus.NewDesc("kafka_topic_partition_under_replicated_partition",
		"1 if a partition has fewer in-sync replicas than replicas.", []string{"topic", "partition"}, nil)
	kGroupOffsetDesc = prometheus.NewDesc("kafka_consumergroup_current_offset",
		"Committed offset of a consumer group in a partition, reported by the group's coordinator.", []string{"consumergroup", "topic", "partition"}, nil)
	kGroupOffsetSumDesc = prometheus.NewDesc("kafka_consumergroup_current_offset_sum",
		"Sum of a consumer group's committed offsets over a topic's partitions.", []string{"consumergroup", "topic"}, nil)
	kGroupLagDesc = prometheus.NewDesc("kafka_consumergroup_lag",
		"Lag of a consumer group in a partition: the high watermark minus the committed offset.", []string{"consumergroup", "topic", "partition"}, nil)
	kGroupLagSumDesc = prometheus.NewDesc("kafka_consumergroup_lag_sum",
		"Sum of a consumer group's lag over a topic's partitions.", []string{"consumergroup", "topic"}, nil)
	kGroupMembersDesc = prometheus.NewDesc("kafka_consumergroup_members",
		"Number of members of a consumer group.", []string{"consumergroup"}, nil)

	// Strata's own broker-wide partition state.
	sPartitionsDesc = prometheus.NewDesc(metrics.Name("", "partitions"),
		"Partition replicas hosted by this broker.", nil, nil)
	sLeaderDesc = prometheus.NewDesc(metrics.Name("", "leader_partitions"),
		"Partitions this broker leads.", nil, nil)
	sUnderReplicatedDesc = prometheus.NewDesc(metrics.Name("", "under_replicated_partitions"),
		"Partitions this broker leads whose ISR is smaller than their replica set.", nil, nil)
	sUnderMinISRDesc = prometheus.NewDesc(metrics.Name("", "under_min_isr_partitions"),
		"Partitions this broker leads whose ISR is smaller than min.insync.replicas (acks=all produce is refused).", nil, nil)
	sAtMinISRDesc = prometheus.NewDesc(metrics.Name("", "at_min_isr_partitions"),
		"Partitions this broker leads whose ISR is exactly min.insync.replicas.", nil, nil)
	sOfflineDesc = prometheus.NewDesc(metrics.Name("", "offline_partitions"),
		"Partitions without a leader, reported by the active controller (0 on other nodes).", nil, nil)
	sActiveControllerDesc = prometheus.NewDesc(metrics.Name("", "active_controller"),
		"1 on the active controller (the metadata quorum leader), else 0: the sum over nodes should be 1.", nil, nil)
	sFencedDesc = prometheus.NewDesc(metrics.Name("", "broker_fenced"),
		"1 while this broker is fenced or not registered in the metadata image.", nil, nil)
	sReadyDesc = prometheus.NewDesc(metrics.Name("", "ready"),
		"1 when /readyz answers ready.", nil, nil)
	sQueuedBytesDesc = prometheus.NewDesc(metrics.Name("", "queued_request_bytes"),
		"Bytes of requests read and not yet answered, by listener (bounded by queued.max.request.bytes).", []string{"listener"}, nil)
	sSendfileDesc = prometheus.NewDesc(metrics.Name("", "sendfile_bytes_total"),
		"Fetch response bytes sent from segment files with sendfile, by listener.", []string{"listener"}, nil)
	sCopiedDesc = prometheus.NewDesc(metrics.Name("", "copied_file_bytes_total"),
		"Fetch response bytes read from segment files into memory and written from there, by listener.", []string{"listener"}, nil)
	sScrapeErrorsDesc = prometheus.NewDesc(metrics.Name("", "metrics_offset_lookup_errors"),
		"Brokers whose high watermarks this scrape could not learn (their groups' lag series are missing).", nil, nil)
)

// clusterCollector computes the node's scrape-time series. It reads only
// state that is safe to read from any goroutine (the metadata image, the
// partition table, atomics) and, for consumer group lag, asks the group
// coordinator and the partitions' leaders.
type clusterCollector struct {
	n            *Node
	perPartition bool
	servers      []*server.Server
	hw           *remoteHighWatermarks
}

func (c *clusterCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{kBrokersDesc, kBrokerInfoDesc, kTopicPartitionsDesc, kCurrentOffsetDesc, kOldestOffsetDesc,
		kInSyncDesc, kLeaderDesc, kLeaderPreferredDesc, kReplicasDesc, kUnderReplicatedDesc, kGroupOffsetDesc, kGroupOffsetSumDesc,
		kGroupLagDesc, kGroupLagSumDesc, kGroupMembersDesc, sPartitionsDesc, sLeaderDesc, sUnderReplicatedDesc, sUnderMinISRDesc,
		sAtMinISRDesc, sOfflineDesc, sActiveControllerDesc, sFencedDesc, sReadyDesc, sQueuedBytesDesc, sSendfileDesc, sCopiedDesc,
		sScrapeErrorsDesc} {
		ch <- d
	}
}

func (c *clusterCollector) Collect(ch chan<- prometheus.Metric) {
	n := c.n
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}
	ready := 0.0
	if n.readiness() == nil {
		ready = 1
	}
	gauge(sReadyDesc, ready)
	for _, srv := range c.servers {
		st := srv.Stats()
		l := srv.Listener()
		gauge(sQueuedBytesDesc, float64(st.QueuedRequestBytes), l)
		counter(sSendfileDesc, float64(st.SendfileBytes), l)
		counter(sCopiedDesc, float64(st.CopiedFileBytes), l)
	}
	img := n.ctrl.Image()
	self := n.cfg.Static.NodeID
	active := n.ctrl.IsActive()
	activeV := 0.0
	if active {
		activeV = 1
	}
	gauge(sActiveControllerDesc, activeV)

	live := 0
	for _, b := range img.Brokers() {
		if b.Fenced {
			continue
		}
		live++
		gauge(kBrokerInfoDesc, 1, b.Host+":"+strconv.Itoa(int(b.Port)), strconv.Itoa(int(b.NodeID)))
	}
	gauge(kBrokersDesc, float64(live))
	fenced := 1.0
	if b, ok := img.Broker(self); ok && !b.Fenced {
		fenced = 0
	}
	if isBroker, _, _ := n.cfg.Static.ParseRoles(); isBroker {
		gauge(sFencedDesc, fenced)
	}

	// Partitions: by the image's leader (leaderless ones by the active
	// controller); offsets from the local replica.
	offline := 0
	for _, t := range img.Topics() {
		owned := 0
		for _, pi := range t.Partitions {
			if pi.Leader < 0 {
				offline++
			}
			if pi.Leader != self && (pi.Leader >= 0 || !active) {
				continue
			}
			owned++
			if !c.perPartition {
				continue
			}
			ps := strconv.Itoa(int(pi.Partition))
			if pi.Leader == self {
				if p, ok := n.parts.Get(t.Name, pi.Partition); ok && p.TopicID == t.ID && !p.Log().Offline() {
					gauge(kCurrentOffsetDesc, float64(p.HighWatermark()), t.Name, ps)
					gauge(kOldestOffsetDesc, float64(p.Log().LogStartOffset()), t.Name, ps)
				}
			}
			gauge(kInSyncDesc, float64(len(pi.ISR)), t.Name, ps)
			gauge(kLeaderDesc, float64(pi.Leader), t.Name, ps)
			gauge(kReplicasDesc, float64(len(pi.Replicas)), t.Name, ps)
			gauge(kLeaderPreferredDesc, boolGauge(len(pi.Replicas) > 0 && pi.Leader == pi.Replicas[0]), t.Name, ps)
			gauge(kUnderReplicatedDesc, boolGauge(len(pi.ISR) < len(pi.Replicas)), t.Name, ps)
		}
		if owned > 0 {
			gauge(kTopicPartitionsDesc, float64(owned), t.Name)
		}
	}
	offlineV := 0.0
	if active {
		offlineV = float64(offline)
	}
	gauge(sOfflineDesc, offlineV)

	// This broker's partition replicas.
	var hosted, leading, under, underMin, atMin int
	for _, p := range n.parts.All() {
		hosted++
		if !p.IsLeader() {
			continue
		}
		leading++
		st := p.State()
		minISR := p.MinInsyncReplicas()
		switch {
		case len(st.ISR) < minISR:
			underMin++
		case len(st.ISR) == minISR:
			atMin++
		}
		if len(st.ISR) < len(st.Replicas) {
			under++
		}
	}
	gauge(sPartitionsDesc, float64(hosted))
	gauge(sLeaderDesc, float64(leading))
	gauge(sUnderReplicatedDesc, float64(under))
	gauge(sUnderMinISRDesc, float64(underMin))
	gauge(sAtMinISRDesc, float64(atMin))

	c.collectGroups(img, gauge)
}

// collectGroups reports the consumer groups this node coordinates.
func (c *clusterCollector) collectGroups(img *metadata.Image, gauge func(*prometheus.Desc, float64, ...string)) {
	n := c.n
	if n.groups == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	groups, err := n.groups.GroupOffsets(ctx)
	if err != nil {
		n.log.Debug("metrics: listing consumer groups", "err", err)
		return
	}
	// The high watermark of every partition a group committed to: local
	// when this broker leads it, else from its leader.
	self := n.cfg.Static.NodeID
	hws := map[tp]int64{}
	remote := map[int32][]tp{}
	for _, g := range groups {
		for topic, parts := range g.Offsets {
			t, ok := img.TopicByName(topic)
			if !ok {
				continue
			}
			for part := range parts {
				key := tp{topic, part}
				if _, seen := hws[key]; seen || slices.Contains(remote[imageLeader(t, part)], key) {
					continue
				}
				pi, ok := t.Partition(part)
				if !ok || pi.Leader < 0 {
					continue
				}
				if pi.Leader == self {
					if p, ok := n.parts.Get(topic, part); ok && p.TopicID == t.ID && p.IsLeader() {
						hws[key] = p.HighWatermark()
					}
					continue
				}
				remote[pi.Leader] = append(remote[pi.Leader], key)
			}
		}
	}
	failed := c.hw.lookup(ctx, remote, hws)
	gauge(sScrapeErrorsDesc, float64(failed))

	for _, g := range groups {
		gauge(kGroupMembersDesc, float64(g.Members), g.Group)
		for _, topic := range slices.Sorted(maps.Keys(g.Offsets)) {
			parts := g.Offsets[topic]
			var offSum, lagSum int64
			lagKnown := false
			for part, off := range parts {
				offSum += off
				ps := strconv.Itoa(int(part))
				if c.perPartition {
					gauge(kGroupOffsetDesc, float64(off), g.Group, topic, ps)
				}
				hw, ok := hws[tp{topic, part}]
				if !ok || off < 0 {
					continue
				}
				lagKnown = true
				lagSum += hw - off
				if c.perPartition {
					gauge(kGroupLagDesc, float64(hw-off), g.Group, topic, ps)
				}
			}
			gauge(kGroupOffsetSumDesc, float64(offSum), g.Group, topic)
			if lagKnown {
				gauge(kGroupLagSumDesc, float64(lagSum), g.Group, topic)
			}
		}
	}
}

func imageLeader(t *metadata.Topic, p int32) int32 {
	pi, ok := t.Partition(p)
	if !ok {
		return -1
	}
	return pi.Leader
}

func boolGauge(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// tp names a partition.
type tp struct {
	topic     string
	partition int32
}

// remoteHighWatermarks asks other brokers for the high watermarks of
// partitions they lead, for consumer group lag: one ListOffsets per broker
// per scrape, concurrently, and an answer is reused for a second so that
// several scrapers at once ask once.
type remoteHighWatermarks struct {
	request func(ctx context.Context, brokerID int32, req kmsg.Request) (kmsg.Response, error)

	mu struct {
		sync.Mutex
		at  map[int32]time.Time // when each broker last answered
		hws map[tp]int64
	}
}

// remoteCacheFor is how long a broker's answer is reused.
const remoteCacheFor = time.Second

func newRemoteHighWatermarks(request func(ctx context.Context, brokerID int32, req kmsg.Request) (kmsg.Response, error)) *remoteHighWatermarks {
	r := &remoteHighWatermarks{request: request}
	r.mu.at = map[int32]time.Time{}
	r.mu.hws = map[tp]int64{}
	return r
}

// lookup fills hws with the high watermarks of want (partitions by
// leader) and returns how many brokers could not be asked.
func (r *remoteHighWatermarks) lookup(ctx context.Context, want map[int32][]tp, hws map[tp]int64) (failed int) {
	now := time.Now()
	ask := map[int32][]tp{}
	r.mu.Lock()
	for broker, parts := range want {
		fresh := now.Sub(r.mu.at[broker]) < remoteCacheFor
		for _, p := range parts {
			if hw, ok := r.mu.hws[p]; ok && fresh {
				hws[p] = hw
				continue
			}
			ask[broker] = append(ask[broker], p)
		}
	}
	r.mu.Unlock()
	if len(ask) == 0 {
		return 0
	}
	type answer struct {
		broker int32
		hws    map[tp]int64
		err    error
	}
	answers := make(chan answer, len(ask))
	for broker, parts := range ask {
		go func() {
			got, err := r.listEndOffsets(ctx, broker, parts)
			answers <- answer{broker, got, err}
		}()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for range ask {
		a := <-answers
		if a.err != nil {
			failed++
			continue
		}
		r.mu.at[a.broker] = now
		for p, hw := range a.hws {
			r.mu.hws[p] = hw
			hws[p] = hw
		}
	}
	// Forget partitions nobody asked about this time (deleted topics,
	// moved leaders, expired groups) so the cache stays bounded.
	for p := range r.mu.hws {
		if _, ok := hws[p]; !ok {
			delete(r.mu.hws, p)
		}
	}
	return failed
}

// listEndOffsets asks broker for the high watermarks (latest offsets,
// read_uncommitted) of parts.
func (r *remoteHighWatermarks) listEndOffsets(ctx context.Context, broker int32, parts []tp) (map[tp]int64, error) {
	req := kmsg.NewPtrListOffsetsRequest()
	req.ReplicaID = -1
	byTopic := map[string]int{}
	for _, p := range parts {
		i, ok := byTopic[p.topic]
		if !ok {
			i = len(req.Topics)
			byTopic[p.topic] = i
			rt := kmsg.NewListOffsetsRequestTopic()
			rt.Topic = p.topic
			req.Topics = append(req.Topics, rt)
		}
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Partition, rp.Timestamp, rp.CurrentLeaderEpoch = p.partition, -1, -1
		req.Topics[i].Partitions = append(req.Topics[i].Partitions, rp)
	}
	resp, err := r.request(ctx, broker, req)
	if err != nil {
		return nil, err
	}
	out := map[tp]int64{}
	for _, t := range resp.(*kmsg.ListOffsetsResponse).Topics {
		for _, p := range t.Partitions {
			if kerr.ErrorForCode(p.ErrorCode) == nil {
				out[tp{t.Topic, p.Partition}] = p.Offset
			}
		}
	}
	return out, nil
}
