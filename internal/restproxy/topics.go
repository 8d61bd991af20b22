package restproxy

import (
	"context"
	"net/http"
	"slices"
	"strconv"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// topicMeta is what a metadata response says about one topic.
type topicMeta struct {
	name       string
	internal   bool
	partitions []partitionMeta // sorted by id
}

type partitionMeta struct {
	id       int32
	leader   int32
	replicas []int32
	isr      []int32
}

// clusterMeta is one metadata response: the cluster and the topics asked
// for (all when none were named).
type clusterMeta struct {
	clusterID  string
	controller int32
	brokers    []int32 // sorted
	topics     map[string]topicMeta
}

// validTopicName reports whether name can be a Kafka topic: 1-249 of
// [a-zA-Z0-9._-], not "." or "..".
func validTopicName(name string) bool {
	if name == "" || len(name) > 249 || name == "." || name == ".." {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// metadata asks the cluster about topics (every topic when none are
// given) without creating any. An unknown topic is left out of the
// result; other topic errors fail the call.
func (p *Proxy) metadata(ctx context.Context, topics ...string) (clusterMeta, error) {
	req := kmsg.NewPtrMetadataRequest()
	req.AllowAutoTopicCreation = false
	if len(topics) > 0 {
		req.Topics = []kmsg.MetadataRequestTopic{}
		for _, t := range topics {
			rt := kmsg.NewMetadataRequestTopic()
			rt.Topic = kmsg.StringPtr(t)
			req.Topics = append(req.Topics, rt)
		}
	}
	resp, err := req.RequestWith(ctx, p.client)
	if err != nil {
		return clusterMeta{}, err
	}
	m := clusterMeta{controller: resp.ControllerID, topics: map[string]topicMeta{}}
	if resp.ClusterID != nil {
		m.clusterID = *resp.ClusterID
	}
	for _, b := range resp.Brokers {
		m.brokers = append(m.brokers, b.NodeID)
	}
	slices.Sort(m.brokers)
	for _, t := range resp.Topics {
		if t.Topic == nil {
			continue
		}
		if err := kerr.ErrorForCode(t.ErrorCode); err != nil {
			if err == kerr.UnknownTopicOrPartition || err == kerr.InvalidTopicException {
				continue
			}
			return clusterMeta{}, err
		}
		tm := topicMeta{name: *t.Topic, internal: t.IsInternal}
		for _, pt := range t.Partitions {
			tm.partitions = append(tm.partitions, partitionMeta{id: pt.Partition, leader: pt.Leader, replicas: pt.Replicas, isr: pt.ISR})
		}
		slices.SortFunc(tm.partitions, func(a, b partitionMeta) int { return int(a.id - b.id) })
		m.topics[tm.name] = tm
	}
	return m, nil
}

// topic returns the metadata of one topic, or 404 40401.
func (p *Proxy) topic(ctx context.Context, name string) (topicMeta, *restError) {
	if !validTopicName(name) {
		return topicMeta{}, topicNotFound(name)
	}
	m, err := p.metadata(ctx, name)
	if err != nil {
		return topicMeta{}, kafkaError("describe topic "+name, err)
	}
	t, ok := m.topics[name]
	if !ok {
		return topicMeta{}, topicNotFound(name)
	}
	return t, nil
}

// partition parses a {partition} path value of topic t and returns that
// partition, or 404 40402.
func (t topicMeta) partition(s string) (partitionMeta, *restError) {
	n, err := strconv.ParseInt(s, 10, 32)
	if err == nil {
		if pm, ok := t.lookup(int32(n)); ok {
			return pm, nil
		}
	}
	return partitionMeta{}, &restError{status: http.StatusNotFound, code: codePartitionNotFound,
		msg: "Partition not found: " + strconv.Quote(t.name) + " partition " + strconv.Quote(s)}
}

// lookup finds partition id of t.
func (t topicMeta) lookup(id int32) (partitionMeta, bool) {
	i, ok := slices.BinarySearchFunc(t.partitions, id, func(pm partitionMeta, id int32) int { return int(pm.id - id) })
	if !ok {
		return partitionMeta{}, false
	}
	return t.partitions[i], true
}

// v2 response shapes.
type v2Replica struct {
	Broker int32 `json:"broker"`
	Leader bool  `json:"leader"`
	InSync bool  `json:"in_sync"`
}

type v2Partition struct {
	Partition int32       `json:"partition"`
	Leader    int32       `json:"leader"`
	Replicas  []v2Replica `json:"replicas"`
}

type v2Topic struct {
	Name       string             `json:"name"`
	Configs    map[string]*string `json:"configs"`
	Partitions []v2Partition      `json:"partitions"`
}

func v2PartitionOf(pm partitionMeta) v2Partition {
	out := v2Partition{Partition: pm.id, Leader: pm.leader, Replicas: []v2Replica{}}
	for _, b := range pm.replicas {
		out.Replicas = append(out.Replicas, v2Replica{Broker: b, Leader: b == pm.leader, InSync: slices.Contains(pm.isr, b)})
	}
	return out
}

// listTopics: GET /topics, the names of the topics that are not internal.
func (p *Proxy) listTopics(w http.ResponseWriter, r *http.Request) *restError {
	ctx, cancel := p.requestContext(r)
	defer cancel()
	m, err := p.metadata(ctx)
	if err != nil {
		return kafkaError("list topics", err)
	}
	names := []string{}
	for name, t := range m.topics {
		if !t.internal {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	writeJSON(w, http.StatusOK, contentTypeV2, names)
	return nil
}

// getTopic: GET /topics/{topic}, its partitions and config overrides.
func (p *Proxy) getTopic(w http.ResponseWriter, r *http.Request) *restError {
	ctx, cancel := p.requestContext(r)
	defer cancel()
	name := r.PathValue("topic")
	t, e := p.topic(ctx, name)
	if e != nil {
		return e
	}
	rcs, err := p.admin.DescribeTopicConfigs(ctx, name)
	if err != nil {
		return kafkaError("describe configs of "+name, err)
	}
	configs := map[string]*string{}
	for _, rc := range rcs {
		if rc.Err != nil {
			return kafkaError("describe configs of "+name, rc.Err)
		}
		for _, c := range rc.Configs {
			if c.Source == kmsg.ConfigSourceDynamicTopicConfig {
				configs[c.Key] = c.Value
			}
		}
	}
	out := v2Topic{Name: name, Configs: configs, Partitions: []v2Partition{}}
	for _, pm := range t.partitions {
		out.Partitions = append(out.Partitions, v2PartitionOf(pm))
	}
	writeJSON(w, http.StatusOK, contentTypeV2, out)
	return nil
}

// listPartitions: GET /topics/{topic}/partitions.
func (p *Proxy) listPartitions(w http.ResponseWriter, r *http.Request) *restError {
	ctx, cancel := p.requestContext(r)
	defer cancel()
	t, e := p.topic(ctx, r.PathValue("topic"))
	if e != nil {
		return e
	}
	out := []v2Partition{}
	for _, pm := range t.partitions {
		out = append(out, v2PartitionOf(pm))
	}
	writeJSON(w, http.StatusOK, contentTypeV2, out)
	return nil
}

// getPartition: GET /topics/{topic}/partitions/{partition}.
func (p *Proxy) getPartition(w http.ResponseWriter, r *http.Request) *restError {
	ctx, cancel := p.requestContext(r)
	defer cancel()
	t, e := p.topic(ctx, r.PathValue("topic"))
	if e != nil {
		return e
	}
	pm, e := t.partition(r.PathValue("partition"))
	if e != nil {
		return e
	}
	writeJSON(w, http.StatusOK, contentTypeV2, v2PartitionOf(pm))
	return nil
}

// listBrokers: GET /brokers.
func (p *Proxy) listBrokers(w http.ResponseWriter, r *http.Request) *restError {
	ctx, cancel := p.requestContext(r)
	defer cancel()
	m, err := p.metadata(ctx)
	if err != nil {
		return kafkaError("list brokers", err)
	}
	ids := m.brokers
	if ids == nil {
		ids = []int32{}
	}
	writeJSON(w, http.StatusOK, contentTypeV2, map[string][]int32{"brokers": ids})
	return nil
}
