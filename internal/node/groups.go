package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/strata-io/strata/internal/controller"
	"github.com/strata-io/strata/internal/group"
)

func (n *Node) groupConfig() group.Config {
	st := n.cfg.Static
	cfg := group.DefaultConfig()
	cfg.NodeID = st.NodeID
	cfg.Logger = n.log
	cfg.NumPartitions = st.OffsetsTopicPartitions
	if t, ok := n.ctrl.Image().TopicByName(offsetsTopic); ok {
		// The group-to-partition mapping depends on the count the topic
		// was created with; a changed flag cannot change it.
		if got := int32(len(t.Partitions)); got != cfg.NumPartitions {
			n.log.Warn("offsets-topic-partitions differs from the existing __consumer_offsets; keeping the existing count",
				"configured", cfg.NumPartitions, "existing", got)
			cfg.NumPartitions = got
		}
	}
	cfg.OffsetsRetention = st.OffsetsRetention
	cfg.GroupMaxSize = int(st.GroupMaxSize)
	cfg.GroupMinSessionTimeout = st.GroupMinSessionTimeout
	cfg.GroupMaxSessionTimeout = st.GroupMaxSessionTimeout
	cfg.GroupInitialRebalanceDelay = st.GroupInitialRebalanceDelay
	cfg.ConsumerGroupSessionTimeout = st.ConsumerSessionTimeout
	cfg.ConsumerGroupHeartbeatInterval = st.ConsumerHeartbeatInterval
	cfg.Topics = n.topicInfos
	cfg.GroupConfigs = func(groupID string) map[string]string { return n.ctrl.Image().GroupConfigs(groupID) }
	cfg.PartitionExists = func(topic string, p int32) bool {
		t, ok := n.ctrl.Image().TopicByName(topic)
		return ok && p >= 0 && int(p) < len(t.Partitions)
	}
	return cfg
}

// ensureOffsetsTopic creates __consumer_offsets once enough brokers are
// registered for its replication factor (min(3, voters), as Kafka's
// offsets.topic.replication.factor with a small cluster). Its partition
// count is fixed from then on: the group-to-partition mapping depends on it.
// Any node may ask; the active controller creates it once.
func (n *Node) ensureOffsetsTopic(ctx context.Context, channel *controllerChannel) error {
	return n.ensureInternalTopic(ctx, channel, offsetsTopic, n.cfg.Static.OffsetsTopicPartitions, func(rf int16) map[string]string {
		return map[string]string{
			"cleanup.policy":   "compact",
			"segment.bytes":    strconv.Itoa(100 << 20), // offsets.topic.segment.bytes
			"compression.type": "producer",
		}
	})
}

// ensureInternalTopic creates a coordinator's internal topic with
// partitions and the configs for its replication factor, min(3, voters),
// once that many brokers are registered; it returns once the topic exists
// or ctx ends.
func (n *Node) ensureInternalTopic(ctx context.Context, channel *controllerChannel, name string, partitions int32, configs func(rf int16) map[string]string) error {
	voters, _ := n.cfg.Static.Voters()
	rf := int16(min(3, max(1, len(voters))))
	return retryUntil(ctx, n.log, "create "+name, func() error {
		img := n.ctrl.Image()
		if _, ok := img.TopicByName(name); ok {
			return nil
		}
		live := 0
		for _, b := range img.Brokers() {
			if !b.Fenced {
				live++
			}
		}
		if live < int(rf) {
			return fmt.Errorf("%d of %d brokers registered", live, rf)
		}
		res := channel.CreateTopics(ctx, []controller.CreateTopic{{
			Name: name, NumPartitions: partitions, ReplicationFactor: rf, Configs: configs(rf),
		}})
		if err := res[0].Err; err != nil && !errors.Is(err, controller.ErrTopicExists) {
			return err
		}
		return nil
	})
}

// ensureClusterID has the active controller create the cluster id on first
// start; other nodes wait until the metadata log carries it.
func (n *Node) ensureClusterID(ctx context.Context, rn interface{ IsLeader() bool }) error {
	return retryUntil(ctx, n.log, "cluster id", func() error {
		if n.ctrl.Image().ClusterID() != "" {
			return nil
		}
		if !rn.IsLeader() {
			return errNoActiveController
		}
		return n.ctrl.EnsureClusterID(ctx)
	})
}

// retryUntil calls fn until it succeeds or ctx ends, backing off and
// logging the first failure and then every tenth.
func retryUntil(ctx context.Context, log *slog.Logger, what string, fn func() error) error {
	backoff := 50 * time.Millisecond
	for attempt := 0; ; attempt++ {
		err := fn()
		if err == nil {
			return nil
		}
		if attempt%10 == 1 {
			log.Info("waiting", "for", what, "err", err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %w (last error: %v)", what, ctx.Err(), err)
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, time.Second)
	}
}

// topicView caches the KIP-848 coordinator's view of topics per metadata
// image: heartbeats read it constantly, topics change rarely.
type topicView struct {
	index  uint64
	topics map[string]group.TopicInfo
}

// topicInfos returns the topics of the latest image; safe for concurrent
// use, rebuilt only when the image changes.
func (n *Node) topicInfos() map[string]group.TopicInfo {
	img := n.ctrl.Image()
	if v := n.topicCache.Load(); v != nil && v.index == img.Index() {
		return v.topics
	}
	m := make(map[string]group.TopicInfo, img.NumTopics())
	for _, t := range img.Topics() {
		m[t.Name] = group.TopicInfo{ID: t.ID, Partitions: int32(len(t.Partitions))}
	}
	n.topicCache.Store(&topicView{index: img.Index(), topics: m})
	return m
}
