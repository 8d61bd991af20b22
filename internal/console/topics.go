package console

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/strata-io/strata/internal/kafkaerr"
)

// topicSummary is one row of GET /console/api/topics.
type topicSummary struct {
	Name              string `json:"name"`
	ID                string `json:"id"`
	Internal          bool   `json:"internal"`
	Partitions        int    `json:"partitions"`
	ReplicationFactor int    `json:"replication_factor"`
	// StartOffsets and EndOffsets sum the partitions' log start offsets
	// and high watermarks; their difference is about the number of
	// records held (transaction markers and compaction make it inexact).
	StartOffsets int64 `json:"start_offsets"`
	EndOffsets   int64 `json:"end_offsets"`
	// SizeBytes is the size on disk of all replicas (DescribeLogDirs), -1
	// if unknown.
	SizeBytes       int64  `json:"size_bytes"`
	UnderReplicated int    `json:"under_replicated_partitions"`
	Offline         int    `json:"offline_partitions"`
	Error           string `json:"error,omitempty"`
}

func topicIDString(id kadm.TopicID) string {
	return base64.RawURLEncoding.EncodeToString(id[:])
}

func (c *Console) listTopics(ctx context.Context, r *request) (any, error) {
	internal := r.URL.Query().Get("internal") == "true"
	md, err := c.adm.Metadata(ctx)
	if err != nil {
		return nil, fmt.Errorf("metadata: %w", err)
	}
	var names []string
	for _, t := range md.Topics {
		if !t.IsInternal || internal {
			names = append(names, t.Topic)
		}
	}
	sort.Strings(names)
	out := []topicSummary{}
	if len(names) == 0 {
		return out, nil
	}
	starts, err := c.adm.ListStartOffsets(ctx, names...)
	if err != nil {
		return nil, fmt.Errorf("list log start offsets: %w", err)
	}
	ends, err := c.adm.ListEndOffsets(ctx, names...)
	if err != nil {
		return nil, fmt.Errorf("list high watermarks: %w", err)
	}
	listed := make(kadm.TopicDetails, len(names))
	for _, name := range names {
		listed[name] = md.Topics[name]
	}
	sizes := c.replicaSizes(ctx, listed)
	for _, name := range names {
		t := md.Topics[name]
		s := topicSummary{Name: name, ID: topicIDString(t.ID), Internal: t.IsInternal, Partitions: len(t.Partitions), SizeBytes: -1}
		if t.Err != nil {
			s.Error = t.Err.Error()
		}
		for _, p := range t.Partitions {
			s.ReplicationFactor = max(s.ReplicationFactor, len(p.Replicas))
			if p.Leader < 0 {
				s.Offline++
			}
			if len(p.ISR) < len(p.Replicas) {
				s.UnderReplicated++
			}
			if o, ok := starts.Lookup(name, p.Partition); ok && o.Err == nil {
				s.StartOffsets += o.Offset
			}
			if o, ok := ends.Lookup(name, p.Partition); ok && o.Err == nil {
				s.EndOffsets += o.Offset
			}
		}
		if sizes != nil {
			s.SizeBytes = 0
			for _, byBroker := range sizes[name] {
				for _, n := range byBroker {
					s.SizeBytes += n
				}
			}
		}
		out = append(out, s)
	}
	return out, nil
}

// replicaSizes returns the size of each replica (topic → partition →
// broker → bytes) from DescribeLogDirs, or nil when no broker answered.
func (c *Console) replicaSizes(ctx context.Context, topics kadm.TopicDetails) map[string]map[int32]map[int32]int64 {
	// NB: a topic with an empty partition list asks for no partitions.
	set := make(kadm.TopicsSet)
	for _, t := range topics {
		set.Add(t.Topic, t.Partitions.Numbers()...)
	}
	all, err := c.adm.DescribeAllLogDirs(ctx, set)
	if err != nil && len(all) == 0 {
		return nil
	}
	out := make(map[string]map[int32]map[int32]int64)
	all.Each(func(d kadm.DescribedLogDir) {
		if d.Err != nil {
			return
		}
		d.Topics.Each(func(p kadm.DescribedLogDirPartition) {
			byPart := out[p.Topic]
			if byPart == nil {
				byPart = make(map[int32]map[int32]int64)
				out[p.Topic] = byPart
			}
			byBroker := byPart[p.Partition]
			if byBroker == nil {
				byBroker = make(map[int32]int64)
				byPart[p.Partition] = byBroker
			}
			byBroker[p.Broker] += p.Size
		})
	})
	return out
}

// topicDetail is GET /console/api/topics/{topic}.
type topicDetail struct {
	Name       string          `json:"name"`
	ID         string          `json:"id"`
	Internal   bool            `json:"internal"`
	Partitions []partitionView `json:"partitions"`
	Configs    []configView    `json:"configs"`
	ConfigsErr string          `json:"configs_error,omitempty"`
	TimeMs     int64           `json:"time_ms"`
}

type partitionView struct {
	Partition       int32   `json:"partition"`
	Leader          int32   `json:"leader"`
	LeaderEpoch     int32   `json:"leader_epoch"`
	Replicas        []int32 `json:"replicas"`
	ISR             []int32 `json:"isr"`
	OfflineReplicas []int32 `json:"offline_replicas"`
	LogStartOffset  int64   `json:"log_start_offset"` // -1 if unknown
	HighWatermark   int64   `json:"high_watermark"`   // -1 if unknown
	// SizeBytes is the leader replica's size on disk, -1 if unknown.
	SizeBytes int64  `json:"size_bytes"`
	Error     string `json:"error,omitempty"`
}

type configView struct {
	Name      string  `json:"name"`
	Value     *string `json:"value"` // null when sensitive or unset
	Source    string  `json:"source"`
	Sensitive bool    `json:"sensitive"`
}

// lookupTopic returns the topic's metadata, or a 404 when it does not
// exist.
func (c *Console) lookupTopic(ctx context.Context, topic string) (kadm.TopicDetail, error) {
	md, err := c.adm.Metadata(ctx, topic)
	if err != nil {
		return kadm.TopicDetail{}, fmt.Errorf("metadata: %w", err)
	}
	t, ok := md.Topics[topic]
	switch {
	case !ok, errors.Is(t.Err, kerr.UnknownTopicOrPartition):
		return t, notFound("topic %q does not exist", topic)
	case t.Err != nil:
		return t, fmt.Errorf("topic %q: %w", topic, t.Err)
	}
	return t, nil
}

func (c *Console) getTopic(ctx context.Context, r *request) (any, error) {
	name := r.param("topic")
	t, err := c.lookupTopic(ctx, name)
	if err != nil {
		return nil, err
	}
	d := topicDetail{Name: name, ID: topicIDString(t.ID), Internal: t.IsInternal, Partitions: []partitionView{}, Configs: []configView{}, TimeMs: time.Now().UnixMilli()}
	starts, err := c.adm.ListStartOffsets(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("list log start offsets: %w", err)
	}
	ends, err := c.adm.ListEndOffsets(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("list high watermarks: %w", err)
	}
	sizes := c.replicaSizes(ctx, kadm.TopicDetails{name: t})
	for _, p := range t.Partitions.Sorted() {
		pv := partitionView{
			Partition: p.Partition, Leader: p.Leader, LeaderEpoch: p.LeaderEpoch,
			Replicas: nonNil(p.Replicas), ISR: nonNil(p.ISR), OfflineReplicas: nonNil(p.OfflineReplicas),
			LogStartOffset: -1, HighWatermark: -1, SizeBytes: -1,
		}
		if p.Err != nil {
			pv.Error = p.Err.Error()
		}
		if o, ok := starts.Lookup(name, p.Partition); ok && o.Err == nil {
			pv.LogStartOffset = o.Offset
		}
		if o, ok := ends.Lookup(name, p.Partition); ok && o.Err == nil {
			pv.HighWatermark = o.Offset
		}
		if n, ok := sizes[name][p.Partition][p.Leader]; ok {
			pv.SizeBytes = n
		}
		d.Partitions = append(d.Partitions, pv)
	}
	configs, err := c.topicConfigs(ctx, name)
	if err != nil {
		d.ConfigsErr = err.Error()
	}
	d.Configs = configs
	return d, nil
}

// topicConfigs describes a topic's configs, sorted by name.
func (c *Console) topicConfigs(ctx context.Context, topic string) ([]configView, error) {
	out := []configView{}
	rcs, err := c.adm.DescribeTopicConfigs(ctx, topic)
	if err != nil {
		return out, fmt.Errorf("describe configs: %w", err)
	}
	rc, err := rcs.On(topic, nil)
	if err != nil {
		return out, fmt.Errorf("describe configs: %w", err)
	}
	if rc.Err != nil {
		return out, fmt.Errorf("describe configs: %w", kafkaerr.WithMessage(rc.Err, rc.ErrMessage))
	}
	for _, cfg := range rc.Configs {
		out = append(out, configView{Name: cfg.Key, Value: cfg.Value, Source: cfg.Source.String(), Sensitive: cfg.Sensitive})
	}
	slices.SortFunc(out, func(a, b configView) int { return cmpString(a.Name, b.Name) })
	return out, nil
}

func nonNil(s []int32) []int32 {
	if s == nil {
		return []int32{}
	}
	return s
}

// validTopicName applies Kafka's rules for topic names (Topic.validate).
func validTopicName(name string) error {
	switch {
	case name == "":
		return badRequest("the topic name is empty")
	case name == "." || name == "..":
		return badRequest("the topic name %q is not allowed", name)
	case len(name) > 249:
		return badRequest("the topic name is %d characters long; at most 249 are allowed", len(name))
	}
	for _, ch := range name {
		if !(ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' || ch == '.' || ch == '_' || ch == '-') {
			return badRequest("the topic name %q has %q; only ASCII letters, digits, '.', '_' and '-' are allowed", name, ch)
		}
	}
	return nil
}

// createTopicBody is POST /console/api/topics. Zero partitions or
// replication factor take the cluster's defaults.
type createTopicBody struct {
	Name              string            `json:"name"`
	Partitions        int32             `json:"partitions"`
	ReplicationFactor int16             `json:"replication_factor"`
	Configs           map[string]string `json:"configs"`
}

func (c *Console) createTopic(ctx context.Context, r *request) (any, error) {
	var b createTopicBody
	if err := r.decodeBody(&b); err != nil {
		return nil, err
	}
	if err := validTopicName(b.Name); err != nil {
		return nil, err
	}
	if b.Partitions < 0 || b.Partitions > 100000 {
		return nil, badRequest("partitions must be between 1 and 100000 (or 0 for the cluster's default), got %d", b.Partitions)
	}
	if b.ReplicationFactor < 0 {
		return nil, badRequest("replication_factor must be positive (or 0 for the cluster's default), got %d", b.ReplicationFactor)
	}
	partitions, rf := b.Partitions, b.ReplicationFactor
	if partitions == 0 {
		partitions = -1
	}
	if rf == 0 {
		rf = -1
	}
	var configs map[string]*string
	if len(b.Configs) > 0 {
		configs = make(map[string]*string, len(b.Configs))
		for k, v := range b.Configs {
			if k == "" {
				return nil, badRequest("a config has an empty name")
			}
			configs[k] = &v
		}
	}
	resp, err := c.adm.CreateTopic(ctx, partitions, rf, configs, b.Name)
	if err != nil {
		return nil, fmt.Errorf("create topic %q: %w", b.Name, err)
	}
	if resp.Err != nil {
		return nil, fmt.Errorf("create topic %q: %w", b.Name, kafkaerr.WithMessage(resp.Err, resp.ErrMessage))
	}
	return created{map[string]any{
		"name": b.Name, "id": topicIDString(resp.ID),
		"partitions": resp.NumPartitions, "replication_factor": resp.ReplicationFactor,
	}}, nil
}

func (c *Console) deleteTopic(ctx context.Context, r *request) (any, error) {
	name := r.param("topic")
	if _, err := c.lookupTopic(ctx, name); err != nil {
		return nil, err
	}
	resp, err := c.adm.DeleteTopic(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("delete topic %q: %w", name, err)
	}
	if resp.Err != nil {
		return nil, fmt.Errorf("delete topic %q: %w", name, kafkaerr.WithMessage(resp.Err, resp.ErrMessage))
	}
	return map[string]any{"deleted": name}, nil
}

// addPartitionsBody is POST /console/api/topics/{topic}/partitions: Count
// is the new total.
type addPartitionsBody struct {
	Count int `json:"count"`
}

func (c *Console) addPartitions(ctx context.Context, r *request) (any, error) {
	name := r.param("topic")
	var b addPartitionsBody
	if err := r.decodeBody(&b); err != nil {
		return nil, err
	}
	t, err := c.lookupTopic(ctx, name)
	if err != nil {
		return nil, err
	}
	if b.Count <= len(t.Partitions) || b.Count > 100000 {
		return nil, badRequest("count is the new number of partitions: more than the current %d and at most 100000, got %d", len(t.Partitions), b.Count)
	}
	resps, err := c.adm.UpdatePartitions(ctx, b.Count, name)
	if err != nil {
		return nil, fmt.Errorf("create partitions for %q: %w", name, err)
	}
	resp, err := resps.On(name, nil)
	if err != nil {
		return nil, fmt.Errorf("create partitions for %q: %w", name, err)
	}
	if resp.Err != nil {
		return nil, fmt.Errorf("create partitions for %q: %w", name, kafkaerr.WithMessage(resp.Err, resp.ErrMessage))
	}
	return map[string]any{"name": name, "partitions": b.Count}, nil
}

// alterConfigsBody is PATCH /console/api/topics/{topic}/configs: configs
// to set and configs to delete (back to their default).
type alterConfigsBody struct {
	Set    map[string]string `json:"set"`
	Delete []string          `json:"delete"`
}

func (c *Console) alterTopicConfigs(ctx context.Context, r *request) (any, error) {
	name := r.param("topic")
	var b alterConfigsBody
	if err := r.decodeBody(&b); err != nil {
		return nil, err
	}
	if len(b.Set)+len(b.Delete) == 0 {
		return nil, badRequest("nothing to change: give set and/or delete")
	}
	var alters []kadm.AlterConfig
	keys := make([]string, 0, len(b.Set))
	for k := range b.Set {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if k == "" {
			return nil, badRequest("a config has an empty name")
		}
		v := b.Set[k]
		alters = append(alters, kadm.AlterConfig{Op: kadm.SetConfig, Name: k, Value: &v})
	}
	for _, k := range b.Delete {
		if k == "" {
			return nil, badRequest("a config to delete has an empty name")
		}
		if _, both := b.Set[k]; both {
			return nil, badRequest("config %q is both set and deleted", k)
		}
		alters = append(alters, kadm.AlterConfig{Op: kadm.DeleteConfig, Name: k})
	}
	if _, err := c.lookupTopic(ctx, name); err != nil {
		return nil, err
	}
	resps, err := c.adm.AlterTopicConfigs(ctx, alters, name)
	if err != nil {
		return nil, fmt.Errorf("alter configs of %q: %w", name, err)
	}
	resp, err := resps.On(name, nil)
	if err != nil {
		return nil, fmt.Errorf("alter configs of %q: %w", name, err)
	}
	if resp.Err != nil {
		return nil, fmt.Errorf("alter configs of %q: %w", name, kafkaerr.WithMessage(resp.Err, resp.ErrMessage))
	}
	configs, err := c.topicConfigs(ctx, name)
	if err != nil {
		return nil, err
	}
	return map[string]any{"name": name, "configs": configs}, nil
}

// offsetsView is GET /console/api/offsets: the browser polls it and
// turns differences between answers into throughput.
type offsetsView struct {
	TimeMs int64            `json:"time_ms"`
	Topics []topicEndOffset `json:"topics"`
}

type topicEndOffset struct {
	Topic      string `json:"topic"`
	Internal   bool   `json:"internal"`
	EndOffsets int64  `json:"end_offsets"` // summed high watermarks
	// Partitions counts the partitions whose high watermark is included.
	Partitions int `json:"partitions"`
}

func (c *Console) getOffsets(ctx context.Context, _ *request) (any, error) {
	md, err := c.adm.Metadata(ctx)
	if err != nil {
		return nil, fmt.Errorf("metadata: %w", err)
	}
	v := offsetsView{Topics: []topicEndOffset{}}
	names := md.Topics.Names()
	sort.Strings(names)
	if len(names) > 0 {
		ends, err := c.adm.ListEndOffsets(ctx, names...)
		if err != nil {
			return nil, fmt.Errorf("list high watermarks: %w", err)
		}
		for _, name := range names {
			te := topicEndOffset{Topic: name, Internal: md.Topics[name].IsInternal}
			for _, o := range ends[name] {
				if o.Err == nil && o.Offset >= 0 {
					te.EndOffsets += o.Offset
					te.Partitions++
				}
			}
			v.Topics = append(v.Topics, te)
		}
	}
	v.TimeMs = time.Now().UnixMilli()
	return v, nil
}
