package node

import (
	"context"
	"errors"
	"fmt"
	"strconv"

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
	cfg.PartitionExists = func(topic string, p int32) bool {
		t, ok := n.ctrl.Image().TopicByName(topic)
		return ok && p >= 0 && int(p) < len(t.Partitions)
	}
	return cfg
}

// ensureOffsetsTopic creates __consumer_offsets on first start. Its
// partition count is fixed from then on: the group-to-partition mapping
// depends on it.
func (n *Node) ensureOffsetsTopic(ctx context.Context) error {
	if _, ok := n.ctrl.Image().TopicByName(offsetsTopic); ok {
		return nil
	}
	res := n.ctrl.CreateTopics(ctx, []controller.CreateTopic{{
		Name:              offsetsTopic,
		NumPartitions:     n.cfg.Static.OffsetsTopicPartitions,
		ReplicationFactor: -1,
		Configs: map[string]string{
			"cleanup.policy":   "compact",
			"segment.bytes":    strconv.Itoa(100 << 20), // offsets.topic.segment.bytes
			"compression.type": "producer",
		},
	}}, false)
	if err := res[0].Err; err != nil && !errors.Is(err, controller.ErrTopicExists) {
		return fmt.Errorf("create %s: %w", offsetsTopic, err)
	}
	return nil
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
